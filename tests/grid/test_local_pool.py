"""The local worker pool (``bench run --jobs N``): the in-process results, failures, reruns."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from threadpoolctl import threadpool_limits

from bench.grid.launchers.local_pool import _start_worker, run_grid_in_pool
from bench.grid.plan import RunConfig, load_run_config
from bench.grid.results import load_predictions, load_results
from bench.grid.runner import GridSummary, plan_grid, run_grid, workspace_for
from tests.doubles import grid as doubles
from tests.doubles.grid import FAST

pytestmark = pytest.mark.usefixtures("grid_doubles")


def config(**fields: Any) -> RunConfig:
    values: dict[str, Any] = {
        "methods": ["toy_masked", "random_init", "supervised"],
        "tasks": ["synthetic-small"],
        "fractions": [0.5],
        "seeds": 1,
        "protocols": ["linear", "finetune"],
        "profile_overrides": FAST,
    }
    return load_run_config(None, {**values, **fields})


def pooled(cfg: RunConfig, jobs: int = 2, setup: str = doubles.WORKER_SETUP) -> GridSummary:
    workspace = workspace_for(cfg, progress=False)
    cells = plan_grid(cfg, workspace)
    return run_grid_in_pool(cells, cfg, workspace, jobs, worker_setup=setup)


def in_process(cfg: RunConfig) -> GridSummary:
    workspace = workspace_for(cfg, progress=False)
    return run_grid(plan_grid(cfg, workspace), workspace)


@pytest.mark.numeric
def test_pool_gives_the_in_process_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sides compute on one torch thread and one BLAS thread. With the pool's own cap
    (cores // jobs threads per worker) a machine of 4 or more cores gives the workers other
    kernels than the one-thread test process, and the cells' training carries that rounding up
    to 3e-3 in the scores (measured with 8 cores); with equal threads both sides run the same
    kernels and agree to float rounding on any CPU."""
    cfg = config()
    results = {}
    runners = {
        "serial": in_process,
        "pool": partial(pooled, setup=doubles.ONE_THREAD_WORKER_SETUP),
    }
    for name, runner in runners.items():
        monkeypatch.setenv("BENCH_RESULTS", str(tmp_path / name))
        with threadpool_limits(1):
            summary = runner(cfg)
        assert (summary.ran, summary.skipped, summary.failed) == (4, 0, [])
        assert summary.seconds > 0
        results[name] = {r.eval_key: r for r in load_results(tmp_path / name)}
    assert set(results["pool"]) == set(results["serial"])
    for key, expected in results["serial"].items():
        got = results["pool"][key]
        assert got.metrics["macro_auroc"] == pytest.approx(
            expected.metrics["macro_auroc"], abs=1e-6
        )
        assert got.ci["macro_auroc"] == pytest.approx(expected.ci["macro_auroc"], abs=1e-6)
        serial = load_predictions(tmp_path / "serial", key).y_score
        pool = load_predictions(tmp_path / "pool", key).y_score
        assert pool == pytest.approx(serial, abs=1e-5)


def test_a_failing_unit_fails_only_its_cells_and_a_rerun_skips_the_rest() -> None:
    cfg = config(methods=["toy_broken", "random_init"], protocols=["linear"], seeds=2)
    summary = pooled(cfg)
    assert summary.ran == 2 and len(summary.failed) == 2
    assert all("disk on fire" in error for _, error in summary.failed)
    again = pooled(cfg)
    assert (again.ran, again.skipped, len(again.failed)) == (0, 2, 2)  # failures are retried


def test_jobs_must_be_positive() -> None:
    from bench.errors import ConfigError

    cfg = config()
    workspace = workspace_for(cfg, progress=False)
    with pytest.raises(ConfigError, match="--jobs"):
        run_grid_in_pool(plan_grid(cfg, workspace), cfg, workspace, 0)


def _thread_counts() -> tuple[int, set[int]]:
    import torch
    from threadpoolctl import threadpool_info

    return torch.get_num_threads(), {pool["num_threads"] for pool in threadpool_info()}


def test_workers_cap_torch_and_every_blas_pool() -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, context, initializer=_start_worker, initargs=(1, None)) as pool:
        torch_threads, blas_threads = pool.submit(_thread_counts).result()
    assert torch_threads == 1 and blas_threads == {1}

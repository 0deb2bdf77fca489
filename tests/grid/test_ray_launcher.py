"""The Ray launcher on a local CPU instance: same results as in-process, skips, failures, Ctrl-C.

One Ray instance serves the module (start-up is slow); its workers get this module's test
doubles (toy methods, a small synthetic dataset and task) through Ray's worker setup hook,
with the repository on their PYTHONPATH, and one torch thread each.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.grid.launchers import check_launcher, launch_grid
from bench.grid.launchers.ray_launcher import run_grid_on_ray
from bench.grid.launchers.worker_tasks import unit_jobs
from bench.grid.plan import RunConfig, load_run_config
from bench.grid.results import load_predictions, load_results
from bench.grid.runner import GridSummary, plan_grid, workspace_for
from bench.reporting.leaderboard import leaderboard_frame
from tests.doubles import grid as doubles
from tests.doubles.grid import BROKEN_CALLS, FAST

pytestmark = pytest.mark.usefixtures("grid_doubles")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[ModuleType]:
    """A local 2-CPU Ray instance for the module; the launcher reuses it."""
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        runtime_env={
            "env_vars": {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
            "worker_process_setup_hook": f"{doubles.__name__}.register_doubles",
        },
    )
    yield ray
    ray.shutdown()


def config(**fields: Any) -> RunConfig:
    values: dict[str, Any] = {
        "methods": ["toy_masked"],
        "tasks": ["synthetic-small"],
        "fractions": [0.5],
        "seeds": 1,
        "protocols": ["linear"],
        "profile_overrides": FAST,
    }
    values.update(fields)
    return load_run_config(None, values)


def run(cfg: RunConfig, launcher: str = "ray", **options: Any) -> GridSummary:
    if launcher == "local":
        options.setdefault("jobs", 1)  # in this process, the reference
    workspace = workspace_for(cfg, progress=False)
    return launch_grid(launcher, plan_grid(cfg, workspace), cfg, workspace, **options)


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as {"a.b.0": leaf}, for one tolerant comparison."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return {prefix: value}
    return {k: v for key, item in items for k, v in flat(item, f"{prefix}.{key}").items()}


def runs_dir() -> Path:
    return Path(os.environ["BENCH_RESULTS"]) / "runs"


def test_ray_grid_gives_the_in_process_results_and_leaderboard(
    ray_cluster: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(
        methods=["toy_masked", "random_init", "supervised"], protocols=["linear", "finetune"]
    )
    outcomes, frames, results = {}, {}, {}
    for launcher in ("local", "ray"):
        monkeypatch.setenv("BENCH_RESULTS", str(tmp_path / launcher))
        outcomes[launcher] = run(cfg, launcher)
        results[launcher] = {r.eval_key: r for r in load_results(tmp_path / launcher)}
        frames[launcher] = leaderboard_frame(tmp_path / launcher)
    for summary in outcomes.values():  # toy linear + finetune, random_init, supervised
        assert (summary.ran, summary.skipped, summary.failed) == (4, 0, [])
    local, remote = results["local"], results["ray"]
    assert set(remote) == set(local) and len(local) == 4
    assert (tmp_path / "ray" / "pretrain").is_dir() and (tmp_path / "ray" / "cache").is_dir()
    for key, expected in local.items():
        got = remote[key]
        assert got.status == "ok" and got.pretrain_key == expected.pretrain_key
        assert flat(got.metrics) == pytest.approx(flat(expected.metrics), rel=1e-6, abs=1e-9)
        assert flat(got.ci) == pytest.approx(flat(expected.ci), rel=1e-6, abs=1e-9)
        assert got.config["selection"] == expected.config["selection"]
        scores = [load_predictions(tmp_path / k, key).y_score for k in ("local", "ray")]
        np.testing.assert_allclose(scores[1], scores[0], rtol=1e-5, atol=1e-6)
    assert len(frames["local"]) > 0
    pd.testing.assert_frame_equal(frames["ray"], frames["local"], rtol=1e-6)


def test_rerun_through_ray_skips_exactly_the_finished_cells(
    ray_cluster: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run(config(seeds=1))
    assert (first.ran, first.skipped, first.failed) == (1, 0, [])
    grown = run(config(seeds=2))  # seed 0 is done: only seed 1 runs
    assert (grown.ran, grown.skipped, grown.failed) == (1, 1, [])
    stamps = {path: path.stat().st_mtime_ns for path in runs_dir().iterdir()}

    def no_tasks(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a finished grid must not start Ray tasks")

    monkeypatch.setattr(ray_cluster, "remote", no_tasks)
    again = run(config(seeds=2))
    assert (again.ran, again.skipped, again.failed) == (0, 2, [])
    assert {path: path.stat().st_mtime_ns for path in runs_dir().iterdir()} == stamps


def test_failing_pretraining_fails_its_cells_only_and_runs_once(ray_cluster: ModuleType) -> None:
    summary = run(config(methods=["toy_broken", "toy_masked"], seeds=2))
    assert summary.ran == 2  # the other unit's cells
    assert len(summary.failed) == 2
    assert all("disk on fire" in error for _, error in summary.failed)
    assert {cell.unit.method for cell, _ in summary.failed} == {"toy_broken"}
    failed = load_results(runs_dir().parent, status="failed")
    assert {r.method for r in failed} == {"toy_broken"} and len(failed) == 2
    assert all("RuntimeError: disk on fire" in (r.traceback or "") for r in failed)
    calls = (runs_dir().parent / BROKEN_CALLS).read_text().splitlines()
    assert len(calls) == 1  # one unit task, not one pretraining per cell


def test_worker_that_plans_another_cell_fails_it_clearly(ray_cluster: ModuleType) -> None:
    cfg = config()
    workspace = workspace_for(cfg, progress=False)
    [cell] = plan_grid(cfg, workspace)
    forged = dataclasses.replace(cell, eval_key="0" * 16)  # as if the driver's code differed
    summary = run_grid_on_ray([forged], cfg, workspace)
    [(failed_cell, error)] = summary.failed
    assert failed_cell is forged and "WorkerMismatchError" in error
    assert cell.eval_key in error and "0" * 16 in error
    [result] = load_results(runs_dir().parent, status="failed")
    assert result.eval_key == forged.eval_key


def test_ctrl_c_cancels_outstanding_cells_and_keeps_finished_ones(
    ray_cluster: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = config(seeds=3)
    seen = []

    def interrupt_after_first(cell: Any, result: Any) -> None:
        seen.append(cell.eval_key)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(cfg, on_result=interrupt_after_first)
    assert "cancelled" in caplog.text  # the outstanding tasks, if any were left
    finished = {r.eval_key for r in load_results(runs_dir().parent, status="ok")}
    assert seen[0] in finished
    resumed = run(cfg)
    assert resumed.failed == [] and resumed.skipped == len(finished)
    assert resumed.ran + resumed.skipped == 3
    assert sorted(r.seed for r in load_results(runs_dir().parent)) == [0, 1, 2]


def test_unit_tasks_pretrain_once_and_embed_only_for_linear_cells() -> None:
    cfg_fields: dict[str, Any] = {
        "methods": ["toy_masked", "random_init", "supervised"],
        "protocols": ["linear", "finetune"],
        "fractions": [0.1, 1.0],
        "seeds": 2,
    }
    cfg = config(**cfg_fields)
    cells = plan_grid(cfg, workspace_for(cfg, progress=False))
    jobs = unit_jobs(cells)
    by_method: dict[str, list[Any]] = {}
    for job in jobs.values():
        by_method.setdefault(job.method, []).append(job)
    assert len(by_method["toy_masked"]) == 1 and by_method["toy_masked"][0].embed
    # one seeded init per pretraining seed (1 here), shared by both fraction seeds
    assert [(j.seed, j.pretrain_seed) for j in by_method["random_init"]] == [(0, 0)]
    two = plan_grid(config(**{**cfg_fields, "pretrain_seeds": 2}), workspace_for(cfg))
    inits = [(j.method, j.seed) for j in unit_jobs(two).values() if j.method == "random_init"]
    assert sorted(inits) == [("random_init", 0), ("random_init", 1)]
    assert "supervised" not in by_method  # fine-tuned from scratch: nothing to prepare
    finetune_only = unit_jobs([c for c in cells if c.protocol == "finetune"])
    assert [(j.method, j.embed) for j in finetune_only.values()] == [("toy_masked", False)]


def test_missing_ray_and_misused_address_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(BenchError, match=r"pip install 'ecg-ssl-bench\[ray\]'"):
        check_launcher("ray", None)
    argv = ["run", "--methods", "toy_masked", "--tasks", "synthetic-small", "--no-tracking"]
    assert main([*argv, "--launcher", "ray"]) == 2
    assert "the ray launcher needs Ray" in capsys.readouterr().err
    assert main([*argv, "--address", "10.0.0.1:6379"]) == 2
    assert "--address names a Ray cluster" in capsys.readouterr().err
    assert not runs_dir().exists()  # nothing ran

"""Two `bench run` on one results folder at once: every cell computed exactly once, one MLflow
run per cell, and the leaderboard of a single runner; on a new and on a half-done folder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.doubles.grid import FAST_SETS

ROOT = Path(__file__).resolve().parents[2]

RUNNER = """
import os, sys
from tests.doubles.grid import register_doubles
register_doubles()
import bench.grid.cells as cells
real = cells.run_cell
def counted(cell, workspace):
    with open(os.environ["COMPUTED_LOG"], "a") as log:
        log.write(cell.eval_key + "\\n")
    return real(cell, workspace)
cells.run_cell = counted
from bench import cli
sys.exit(cli.main(sys.argv[1:]))
"""


def grid(seeds: int = 3) -> list[str]:
    args = ["run", "--methods", "toy_masked", "random_init", "--tasks", "synthetic-small"]
    args += ["--fractions", "0.25", "0.5", "1.0", "--seeds", str(seeds)]
    args += ["--protocols", "linear", "--no-progress", "--jobs", "1"]
    return args + [arg for item in FAST_SETS for arg in ("--set", item)]


def start(results: Path, args: list[str]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BENCH_RESULTS": str(results),
        "COMPUTED_LOG": str(results.parent / f"{results.name}.computed"),
    }
    env.update(OMP_NUM_THREADS="1", MLFLOW_DISABLE_TELEMETRY="true", PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, *args], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def finish(*runners: subprocess.Popen[bytes]) -> list[str]:
    outputs = [runner.communicate(timeout=900)[0].decode() for runner in runners]
    for runner, output in zip(runners, outputs, strict=True):
        assert runner.returncode == 0, output[-3000:]
    return outputs


def computed(results: Path) -> Counter[str]:
    log = results.parent / f"{results.name}.computed"
    return Counter(log.read_text().split()) if log.is_file() else Counter()


def mlflow_cell_runs(results: Path) -> Counter[str]:
    client = MlflowClient(tracking_uri=f"sqlite:///{results / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, "tags.run_kind = 'cell'", max_results=10000)
    return Counter(run.data.tags["eval_key"] for run in runs)


def leaderboard(results: Path) -> str:
    tables = sorted((results / "leaderboards").glob("*.csv"))
    assert tables
    return "".join(f"{table.name}\n{table.read_text()}" for table in tables)


@pytest.mark.slow
def test_two_runners_share_a_new_and_a_half_done_folder(tmp_path: Path) -> None:
    began = time.perf_counter()
    (single_out,) = finish(start(tmp_path / "single", grid()))
    single_s = time.perf_counter() - began
    cells = computed(tmp_path / "single")
    assert len(cells) == 18 and set(cells.values()) == {1}

    shared = tmp_path / "shared"
    began = time.perf_counter()
    outputs = finish(start(shared, grid()), start(shared, grid()))
    shared_s = time.perf_counter() - began
    assert computed(shared) == cells  # every cell exactly once, none twice
    assert mlflow_cell_runs(shared) == cells  # one MLflow run per cell
    assert leaderboard(shared) == leaderboard(tmp_path / "single")

    half = tmp_path / "half"
    finish(start(half, grid(seeds=1)))
    first = computed(half)
    began = time.perf_counter()
    half_outputs = finish(start(half, grid()), start(half, grid()))
    half_s = time.perf_counter() - began
    again = computed(half) - first
    assert set(again) == set(cells) - set(first) and set(again.values()) == {1}
    assert mlflow_cell_runs(half) == cells
    assert leaderboard(half) == leaderboard(tmp_path / "single")
    print(
        f"\none runner {single_s:.1f} s; two runners, new folder {shared_s:.1f} s; "
        f"two runners, {len(first)} of {len(cells)} cells done: {half_s:.1f} s\n"
        + "\n".join(
            line
            for out in (single_out, *outputs, *half_outputs)
            for line in out.splitlines()
            if "grid finished" in line
        )
    )

"""``bench run --no-tracking`` on synthetic data needs neither MLflow, nor Optuna, nor wfdb: a
GPU machine without them runs the quickstart grid (benchmarks/gpu_check.sh)."""

from __future__ import annotations

from pathlib import Path

from tests.doubles.fresh_process import run_fresh

TINY_GRID = """
import sys
from bench.cli import main
from tests.doubles.grid import bench_run, register_doubles
register_doubles()
sys.exit(main(bench_run("--no-tracking")))
"""


def test_an_untracked_synthetic_run_imports_no_optional_package(
    tmp_path: Path, isolated_results: Path
) -> None:
    run = run_fresh(TINY_GRID, tmp_path)
    assert run.returncode == 0, run.output
    assert "4 cells run, 0 skipped (already done), 0 failed" in run.output
    assert (isolated_results / "leaderboards" / "leaderboard.md").is_file()
    assert run.heavy & {"mlflow", "optuna", "wfdb"} == set()

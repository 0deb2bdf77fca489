"""The commands that read a finished grid import only what their own work needs: tables need
no torch or MLflow, figures no torch; an untracked results folder never loads MLflow."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doubles.fresh_process import cli, run_fresh
from tests.doubles.result_grid import ResultGrid

NOT_FOR_RESULTS = frozenset({"torch", "timm", "mlflow", "optuna", "wfdb"})

UNNEEDED: dict[tuple[str, ...], frozenset[str]] = {
    ("leaderboard", "--n-boot", "20"): NOT_FOR_RESULTS | {"matplotlib"},
    ("plot",): NOT_FOR_RESULTS,
    ("report", "--n-boot", "20"): NOT_FOR_RESULTS,
    ("check",): NOT_FOR_RESULTS | {"matplotlib", "sklearn", "scipy"},
}


@pytest.mark.parametrize("argv", list(UNNEEDED), ids=lambda argv: argv[0])
def test_a_results_command_imports_only_what_it_uses(
    argv: tuple[str, ...], result_grid: ResultGrid, tmp_path: Path
) -> None:
    run = run_fresh(cli(argv), tmp_path)
    assert run.returncode == 0, run.output
    assert str(result_grid.results) in run.output  # it read (and wrote under) the grid
    assert run.heavy & UNNEEDED[argv] == set()

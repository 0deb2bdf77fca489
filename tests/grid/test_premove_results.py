"""Result files written by earlier code stay valid: a finished grid is skipped, not redone.

tests/grid/fixtures/premove_grid holds the result files (JSON + predictions) and run config
of a six-cell grid (toy_masked and random_init on synthetic-small, linear + fine-tune, two
fractions, one seed) written by the code before bench/ moved into stage packages (commit
97b82e9). Planning the same grid today must give exactly those keys, find every cell done,
run nothing, and rebuild the leaderboard from the old files. A change that alters what these
cells compute changes their keys on purpose; it must say so and rewrite this fixture.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from bench.grid.plan import load_run_config
from bench.grid.results import load_results
from bench.grid.runner import cell_status, plan_grid, run_grid, workspace_for
from bench.reporting.leaderboard import write_leaderboards

FIXTURE = Path(__file__).with_name("fixtures") / "premove_grid"


def fixture_keys() -> set[str]:
    return {path.stem for path in (FIXTURE / "runs").glob("*.json")}


def test_a_grid_finished_before_the_move_is_skipped_and_reported(
    toys: Any, small_synthetic: str, isolated_results: Path
) -> None:
    shutil.copytree(FIXTURE / "runs", isolated_results / "runs")
    config = load_run_config(None, json.loads((FIXTURE / "run_config.json").read_text()))
    workspace = workspace_for(config, progress=False)
    cells = plan_grid(config, workspace)

    assert {cell.eval_key for cell in cells} == fixture_keys()
    assert [cell_status(cell) for cell in cells] == ["done"] * 6
    summary = run_grid(cells, workspace)
    assert (summary.ran, summary.skipped, summary.failed) == (0, 6, [])

    results = load_results(isolated_results, status="ok")
    assert {r.eval_key for r in results} == fixture_keys()
    assert {(r.method, r.protocol) for r in results} == {
        ("toy_masked", "linear"),
        ("toy_masked", "finetune"),
        ("random_init", "linear"),
    }
    table = write_leaderboards(isolated_results)["csv"].read_text()
    assert "toy_masked" in table and "random_init" in table

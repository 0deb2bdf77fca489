"""``bench run``'s end-of-run outputs: the same bytes as each writer on its own, kept when their
inputs are unchanged, rebuilt when a result changes or an output file is edited or removed."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import bench.reporting.leaderboard as leaderboard_module
from bench.commands.run_outputs import write_outputs
from bench.grid.manifest import write_grid_manifest
from bench.grid.results import Predictions, load_predictions, read_result, write_result
from bench.reporting.figures import write_figures
from bench.reporting.freshness import OUTPUT_DIRS, STAMP_NAME
from bench.reporting.leaderboard import LeaderboardOptions, write_leaderboards
from bench.reporting.outputs import write_paper_tables
from bench.reporting.page import write_report
from bench.reporting.robustness import write_robustness
from bench.reporting.scaling import write_scaling_figures

_PAGE_STAMP = re.compile(rb"\(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)")


@pytest.fixture(autouse=True)
def fixed_pdf_date(monkeypatch: pytest.MonkeyPatch) -> None:
    """PDFs carry their creation time unless SOURCE_DATE_EPOCH fixes it (then bytes compare)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


def _grid(results: Path) -> tuple[frozenset[str], Path]:
    keys = frozenset(path.stem for path in (results / "runs").glob("*.json"))
    return keys, write_grid_manifest(results, {"tasks": ["toys"]}, sorted(keys))


def _outputs(results: Path) -> dict[str, bytes]:
    """Every output file's bytes (the page's build minute blanked)."""
    found = {}
    for folder in OUTPUT_DIRS:
        for path in sorted((results / folder).rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                found[path.relative_to(results).as_posix()] = _PAGE_STAMP.sub(b"()", data)
    return found


def test_outputs_are_the_bytes_each_writer_writes_alone(result_grid: Any, tmp_path: Path) -> None:
    alone = tmp_path / "alone"
    shutil.copytree(result_grid.results, alone)
    keys, manifest = _grid(result_grid.results)
    write_outputs(result_grid.results, keys, manifest, None, 0)

    options = LeaderboardOptions(eval_keys=keys)  # each writer computing everything itself
    write_leaderboards(alone, options=options)
    write_paper_tables(alone, options=options)
    write_figures(alone, eval_keys=keys)
    write_robustness(alone, keys)
    write_scaling_figures(alone, eval_keys=keys)
    write_report(alone, options=options)

    built = _outputs(result_grid.results)
    assert any(name.endswith(".pdf") for name in built) and "report/index.html" in built
    assert built == _outputs(alone)


def test_a_rerun_with_unchanged_inputs_builds_nothing(
    result_grid: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    keys, manifest = _grid(result_grid.results)
    write_outputs(result_grid.results, keys, manifest, None, 0)
    before = _outputs(result_grid.results)
    first = capsys.readouterr().out

    def no_rebuild(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("outputs rebuilt although their inputs are unchanged")

    monkeypatch.setattr(leaderboard_module, "leaderboard_frame", no_rebuild)
    write_outputs(result_grid.results, keys, manifest, None, 0)
    again = capsys.readouterr().out
    assert "outputs up to date" in again
    assert again.replace("outputs up to date (inputs unchanged since they were built)\n", "") == (
        first
    )  # the same paths printed
    assert _outputs(result_grid.results) == before


def test_a_changed_result_rebuilds_the_outputs(result_grid: Any) -> None:
    results = result_grid.results
    keys, manifest = _grid(results)
    write_outputs(results, keys, manifest, None, 0)
    board = (results / "leaderboards" / "leaderboard.md").read_text()
    key = sorted(keys)[0]
    cell = read_result(results / "runs" / f"{key}.json")
    stored = load_predictions(results, key)
    flipped = Predictions(stored.record_ids, stored.y_true, -stored.y_score)
    auroc = 1.0 - cell.metrics["macro_auroc"]
    write_result(results, replace(cell, metrics={"macro_auroc": auroc}), flipped)

    write_outputs(results, keys, manifest, None, 0)
    assert (results / "leaderboards" / "leaderboard.md").read_text() != board
    rebuilt = _outputs(results)
    (results / STAMP_NAME).unlink()  # a build from scratch gives the same files
    write_outputs(results, keys, manifest, None, 0)
    assert _outputs(results) == rebuilt


@pytest.mark.parametrize("change", ["delete", "edit", "add"])
def test_an_edited_removed_or_added_output_file_rebuilds(result_grid: Any, change: str) -> None:
    results = result_grid.results
    keys, manifest = _grid(results)
    write_outputs(results, keys, manifest, None, 0)
    before = _outputs(results)
    figure = next((results / "figures").glob("*.png"))
    if change == "delete":
        figure.unlink()
    elif change == "edit":
        (results / "leaderboards" / "paper.md").write_text("edited by hand\n")
    else:
        (results / "report" / "notes.txt").write_text("a file the build did not write\n")

    write_outputs(results, keys, manifest, None, 0)
    after = _outputs(results)
    if change == "add":  # kept, but the build ran again: the stamp now lists it
        assert after.pop("report/notes.txt") == b"a file the build did not write\n"
        assert "report/notes.txt" in (results / STAMP_NAME).read_text()
    assert after == before

"""The CinC scoring tables ship with the package: a fresh checkout scores the Challenge metric
with no setting, and an override without tables leaves only that score out, with a note."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

import bench
from bench.cli import main
from bench.grid.results import CellResult, load_results
from tasks.cinc import SCORING_ENV, packaged_tables_root
from tests.doubles.cinc_tasks import write_labelled_tree
from tests.doubles.grid import FAST_SETS

TABLES = tuple(
    f"cinc{year}_{name}.csv" for year in (2020, 2021) for name in ("dx_mapping_scored", "weights")
)


def run_cinc_cell(tree: Path, results: Path) -> CellResult:
    """One random_init linear-probe cell of cinc2021 on ``tree``; its result."""
    args = ["run", "--methods", "random_init", "--tasks", "cinc2021"]
    args += ["--data-root", f"cinc2021={tree}", "--fractions", "1.0", "--seeds", "1"]
    args += ["--protocols", "linear", "--no-progress", "--jobs", "1", "--no-tracking"]
    for item in FAST_SETS:
        args += ["--set", item]
    assert main(args) == 0
    (cell,) = load_results(results, status="ok")
    return cell


@pytest.fixture(scope="module")
def cinc_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated CinC tree in the official layout."""
    tree = tmp_path_factory.mktemp("cinc") / "tree"
    write_labelled_tree(tree, per_prefix=20, seconds=3.0)
    return tree


def test_the_package_ships_the_tables_and_declares_them_as_package_data() -> None:
    root = packaged_tables_root()
    assert root == Path(bench.__file__).parent / "data" / "cinc_scoring"
    assert all((root / name).is_file() for name in TABLES)
    tomllib = pytest.importorskip("tomllib")
    pyproject = Path(bench.__file__).parents[1] / "pyproject.toml"
    patterns = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]
    shipped = [f"cinc_scoring/{p.name}" for p in root.iterdir()]
    assert all(
        any(fnmatch.fnmatch(name, pattern) for pattern in patterns["bench.data"])
        for name in shipped
    )


def test_a_cinc_cell_scores_the_challenge_metric_with_no_setting(
    cinc_tree: Path, isolated_results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SCORING_ENV, raising=False)
    cell = run_cinc_cell(cinc_tree, isolated_results)
    assert -1.0 <= cell.metrics["challenge_score"] <= 1.0
    assert "challenge_score" in cell.ci and "challenge_note" not in cell.metrics


def test_an_override_without_tables_keeps_the_cell_and_leaves_out_only_the_score(
    cinc_tree: Path, isolated_results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = tmp_path / "no-tables"
    monkeypatch.setenv(SCORING_ENV, str(nowhere))
    cell = run_cinc_cell(cinc_tree, isolated_results)
    assert 0.0 <= cell.metrics["macro_auroc"] <= 1.0 and "macro_auroc" in cell.ci
    assert cell.metrics["challenge_score"] is None and "challenge_score" not in cell.ci
    assert SCORING_ENV in cell.metrics["challenge_note"]
    assert str(nowhere) in cell.metrics["challenge_note"]

"""cinc2021's JS records in a folder that does not say their source: Chapman-Shaoxing and Ningbo
are told apart by the 2021 id ranges, and a task left without records says what it expected."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.loading import DATASETS
from bench.grid.fold_check import empty_fold_problem
from bench.task import TASKS
from tests.data.cinc_fixtures import random_mv, write_cinc_record

CINC = DATASETS.get("cinc2021")
FLAT = {  # record -> its source by the 2021 id ranges
    "JS00001": "chapman", "JS10646": "chapman", "JS10647": "ningbo", "JS45551": "ningbo",
    "JS45552": "chapman-ningbo",
}  # fmt: skip


def write_flat(root: Path, names: list[str]) -> None:
    """JS records in one folder named after neither source (a user's copy)."""
    rng = np.random.default_rng(0)
    for name in names:
        write_cinc_record(root / "WFDB", name, random_mv(rng, 12, 500))


def test_flat_js_records_split_by_the_2021_id_ranges(tmp_path: Path, cache_root: Path) -> None:
    write_flat(tmp_path / "cinc", list(FLAT))
    data = CINC.prepare(tmp_path / "cinc", 500, cache_root, jobs=1).data
    assert dict(zip(data.meta["record"], data.meta["source"], strict=True)) == FLAT
    notes = dict(zip(data.meta["record"], data.meta["note"], strict=True))
    assert notes["JS45552"].startswith("source unknown: a JS id outside the 2021 ranges")
    assert notes["JS00001"] == ""
    ningbo = CINC.prepare(tmp_path / "cinc", 500, cache_root, options={"sources": "ningbo"}).data
    assert list(ningbo.meta["record"]) == ["JS10647", "JS45551", "JS45552"]  # unknown: kept


def test_a_folder_naming_the_source_wins(tmp_path: Path, cache_root: Path) -> None:
    folder = tmp_path / "cinc" / "training" / "ningbo" / "g1"
    write_cinc_record(folder, "JS00002", random_mv(np.random.default_rng(1), 12, 500))
    data = CINC.prepare(tmp_path / "cinc", 500, cache_root, jobs=1).data
    assert list(data.meta["source"]) == ["ningbo"]


def test_a_task_without_records_names_the_source_it_expected(
    tmp_path: Path, cache_root: Path
) -> None:
    write_flat(tmp_path / "cinc", [f"JS{i:05d}" for i in range(1, 13)])
    data = CINC.prepare(tmp_path / "cinc", 500, cache_root, jobs=1).data
    problem = empty_fold_problem(TASKS.get("ningbo"), data)
    assert problem is not None
    assert problem.startswith(
        "task ningbo: no records in its training and validation and test folds (records with "
        "a label of the task: training 0, validation 0, test 0; 12 records in cinc2021)"
    )
    assert "it expects records of source ningbo; cinc2021 holds: chapman 12" in problem

"""The six PTB-XL label sets: rules on a hand-made table, and counts on the real subset derived
independently from the two CSVs (csv + ast only, no project code)."""

from __future__ import annotations

import ast
import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data.loading import DATASETS
from bench.data.signals import CANONICAL_LEADS, SignalSet
from bench.errors import DataError
from bench.task import TASKS, expand_tasks, task_groups

LABEL_SETS = ("all", "diagnostic", "subdiagnostic", "superdiagnostic", "form", "rhythm")
FULL_DATASET_CLASSES = {
    "all": 71, "diagnostic": 44, "subdiagnostic": 23,
    "superdiagnostic": 5, "form": 19, "rhythm": 12,
}  # fmt: skip

STATEMENTS = pd.DataFrame(
    {
        "diagnostic": [1.0, 1.0, 1.0, 1.0, None, None, None],
        "form": [None, None, 1.0, None, 1.0, None, None],
        "rhythm": [None, None, None, None, None, 1.0, 1.0],
        "diagnostic_class": ["NORM", "MI", "STTC", None, None, None, None],
        "diagnostic_subclass": ["NORM", "IMI", "STTC", None, None, None, None],
    },
    index=pd.Index(["NORM", "IMI", "NDT", "ODD", "LVOLT", "SR", "AFIB"], name="code"),
)


def signal_set(codes: list[dict[str, float]]) -> SignalSet:
    n = len(codes)
    meta = pd.DataFrame(
        {"record_id": range(1, n + 1), "patient_id": range(n), "fold": [1] * n, "scp_codes": codes}
    )
    return SignalSet(
        name="ptbxl",
        signals=np.zeros((n, 12, 10), dtype=np.float32),
        meta=meta,
        sampling_rate=100,
        lead_names=CANONICAL_LEADS,
        fingerprint="test",
        tables={"scp_statements": STATEMENTS},
    )


def label_sets(labels) -> list[set[str]]:
    return [{labels.names[j] for j in np.flatnonzero(row)} for row in labels.values]


def class_counts(labels) -> dict[str, int]:
    return dict(zip(labels.names, labels.values.sum(axis=0).astype(int).tolist(), strict=True))


def test_six_tasks_registered_in_the_ptbxl_group() -> None:
    names = [f"ptbxl-{label_set}" for label_set in LABEL_SETS]
    assert sorted(task_groups()["ptbxl"]) == sorted(names)
    assert sorted(expand_tasks(["ptbxl"])) == sorted(names)
    for name in names:
        task = TASKS.get(name)
        assert (task.name, task.group, task.dataset) == (name, "ptbxl", "ptbxl")


@pytest.mark.parametrize(
    ("label_set", "names", "expected", "keep"),
    [
        ("all", ("AFIB", "IMI", "LVOLT", "NDT", "NORM", "ODD", "SR", "XYZ"),
         [{"NORM", "SR"}, {"IMI", "NDT", "AFIB", "LVOLT"}, {"XYZ"}, {"ODD"}], [True] * 4),
        ("diagnostic", ("IMI", "NDT", "NORM", "ODD"),
         [{"NORM"}, {"IMI", "NDT"}, set(), {"ODD"}], [True, True, False, True]),
        ("subdiagnostic", ("IMI", "NORM", "STTC"),
         [{"NORM"}, {"IMI", "STTC"}, set(), set()], [True, True, False, False]),
        ("superdiagnostic", ("MI", "NORM", "STTC"),
         [{"NORM"}, {"MI", "STTC"}, set(), set()], [True, True, False, False]),
        ("form", ("LVOLT", "NDT"),
         [set(), {"NDT", "LVOLT"}, set(), set()], [False, True, False, False]),
        ("rhythm", ("AFIB", "SR"),
         [{"SR"}, {"AFIB"}, set(), set()], [True, True, False, False]),
    ],
)  # fmt: skip
def test_label_rules(label_set, names, expected, keep) -> None:
    codes = [
        {"NORM": 100.0, "SR": 0.0},  # likelihood 0 still counts
        {"IMI": 50.0, "NDT": 100.0, "AFIB": 0.0, "LVOLT": 0.0},
        {"XYZ": 100.0},  # not in the statement table: only 'all' knows it
        {"ODD": 100.0},  # diagnostic without class or subclass
    ]
    labels = TASKS.get(f"ptbxl-{label_set}").labels(signal_set(codes))
    assert labels.names == names
    assert label_sets(labels) == expected
    assert labels.keep.tolist() == keep
    assert labels.values.dtype == np.float32


def test_records_without_labels_are_dropped_by_attach() -> None:
    data = signal_set([{"SR": 0.0}, {"IMI": 100.0}, {"NORM": 80.0, "IMI": 20.0}])
    task_data = TASKS.get("ptbxl-superdiagnostic").attach(data)
    assert task_data.record_ids.tolist() == [2, 3]
    assert task_data.label_names == ("MI", "NORM")
    assert task_data.labels.tolist() == [[1.0, 0.0], [1.0, 1.0]]


def test_a_dataset_without_statements_is_refused() -> None:
    data = signal_set([{"SR": 0.0}])
    bare = SignalSet(
        name="other", signals=data.signals, meta=data.meta, sampling_rate=100,
        lead_names=CANONICAL_LEADS, fingerprint="x",
    )  # fmt: skip
    with pytest.raises(DataError, match="scp_statements"):
        TASKS.get("ptbxl-form").labels(bare)


def independent_labels(root: Path) -> tuple[dict[str, list[set[str]]], list[int]]:
    """Per label set, each record's labels, and each record's fold, from the CSVs alone."""
    with (root / "scp_statements.csv").open(newline="") as handle:
        statements = {row[""]: row for row in csv.DictReader(handle)}
    with (root / "ptbxl_database.csv").open(newline="") as handle:
        records = list(csv.DictReader(handle))

    def flag(code: str, column: str) -> bool:
        return code in statements and statements[code][column] not in ("", "0", "0.0")

    result: dict[str, list[set[str]]] = {name: [] for name in LABEL_SETS}
    for record in records:
        codes = ast.literal_eval(record["scp_codes"])
        diagnostic = [c for c in codes if flag(c, "diagnostic")]
        result["all"].append(set(codes))
        result["diagnostic"].append(set(diagnostic))
        result["subdiagnostic"].append(
            {statements[c]["diagnostic_subclass"] for c in diagnostic} - {""}
        )
        result["superdiagnostic"].append(
            {statements[c]["diagnostic_class"] for c in diagnostic} - {""}
        )
        result["form"].append({c for c in codes if flag(c, "form")})
        result["rhythm"].append({c for c in codes if flag(c, "rhythm")})
    return result, [int(record["strat_fold"]) for record in records]


@pytest.fixture(scope="module")
def real_data(ptbxl_root: Path, tmp_path_factory: pytest.TempPathFactory) -> SignalSet:
    cache = tmp_path_factory.mktemp("ptbxl-cache")
    return DATASETS.get("ptbxl").load(ptbxl_root, 100, cache)


@pytest.mark.data
def test_real_subset_matches_an_independent_derivation(ptbxl_root, real_data) -> None:
    expected, folds = independent_labels(ptbxl_root)
    assert real_data.meta["fold"].tolist() == folds
    for label_set in LABEL_SETS:
        labels = TASKS.get(f"ptbxl-{label_set}").labels(real_data)
        per_record = expected[label_set]
        counts = Counter(label for record in per_record for label in record)
        assert labels.names == tuple(sorted(counts)), label_set
        ours = class_counts(labels)
        assert ours == dict(counts), label_set
        assert labels.keep.tolist() == [bool(record) for record in per_record], label_set
        if len(real_data.meta) == 21837:  # the full dataset: the benchmark's class counts
            assert len(labels.names) == FULL_DATASET_CLASSES[label_set]


@pytest.mark.data
def test_real_subset_folds_and_superdiagnostic_counts(ptbxl_root, real_data) -> None:
    if len(real_data.meta) != 1819:
        pytest.skip("these counts are those of the 1,819-record development subset")
    folds = Counter(real_data.meta["fold"])
    assert sum(folds[f] for f in range(1, 9)) == 1442
    assert (folds[9], folds[10]) == (183, 194)
    labels = TASKS.get("ptbxl-superdiagnostic").labels(real_data)
    counts = class_counts(labels)
    assert counts == {"NORM": 964, "STTC": 527, "CD": 462, "MI": 262, "HYP": 193}

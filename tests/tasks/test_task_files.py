"""Tasks in YAML for your own data (bench.task.spec / files / view): a strict schema, labels of
every kind from metadata columns, registration when named (a file, $BENCH_TASKS_PATH, groups,
'all'), seeded folds by patient that pretraining also follows, and keys that follow the file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from bench.data.loading import DATASETS, load_dataset
from bench.errors import ConfigError, DataError, UnknownNameError
from bench.task import TASKS, expand_tasks
from bench.task.files import TASKS_PATH_ENV, register_task_file
from tests.doubles.own_data import write_own_data

TASK = """\
name: own-rhythm
dataset:
  name: wfdb
  root: ecgs
  options: {labels: labels.csv}
kind: multilabel
label_columns: [labels]
"""


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of WFDB records and its labels CSV (the tutorial's starting point)."""
    root = tmp_path_factory.mktemp("own")
    write_own_data(root, n_records=40)
    return root


@pytest.fixture(autouse=True)
def registries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Task files registered by a test are forgotten after it; caches go under tmp_path."""
    TASKS.names(), DATASETS.names()
    monkeypatch.setattr(TASKS, "_items", dict(TASKS._items))
    monkeypatch.setattr(DATASETS, "_items", dict(DATASETS._items))
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(TASKS_PATH_ENV, raising=False)


def task_file(own: Path, text: str = TASK, name: str = "task.yaml", **replace: str) -> Path:
    for old, new in replace.items():
        text = text.replace(old, new)
    path = own / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind: multilabel": "kind: multilabel\nlables: [x]"}, r"unknown field task\.lables"),
        ({"  root: ecgs": "  rot: ecgs"}, r"unknown field task\.dataset\.rot \(did you mean"),
        ({"kind: multilabel": "kind: multilabel\nmain_metric: mae"}, "not one of a multilabel"),
        ({"multilabel": "multiclass", "[labels]": "[a, b]"}, "reads one column"),
        ({"kind: multilabel": "kind: ordinal"}, r"task\.kind = 'ordinal' is not one of"),
        ({"{labels: labels.csv}": "{labls: labels.csv}"}, r"wfdb has no option \['labls'\]"),
        ({"root: ecgs": "root: nowhere"}, r"dataset\.root .*nowhere is not a folder"),
    ],
)
def test_the_schema_is_strict_and_names_file_and_key(
    own: Path, change: dict[str, str], message: str
) -> None:
    text = TASK
    for old, new in change.items():
        text = text.replace(old, new, 1)
    path = task_file(own, text, "bad.yaml")
    with pytest.raises(ConfigError, match=message) as raised:
        register_task_file(path)
    assert str(raised.value).startswith(f"task file {path}: ")


def test_a_task_file_labels_the_records_of_its_csv(own: Path) -> None:
    (name,) = expand_tasks([str(task_file(own))])
    task = TASKS.get(name)
    assert name == "own-rhythm" and task.kind == "multilabel" and task.group == "own-rhythm"
    data = task.attach(load_dataset(task.dataset, preprocessing=None))
    assert data.label_names == ("AF", "NORM") and len(data.labels) == 40
    assert (data.labels.sum(axis=1) == 1).all()
    assert task.main_metric == "macro_auroc" and task.data_sources() == ("wfdb",)


def test_multiclass_and_regression_from_columns(own: Path) -> None:
    base = load_dataset(TASKS.get(expand_tasks([str(task_file(own))])[0]).dataset)
    meta = base.meta.assign(qt_ms=[380.0 + i for i in range(40)], site=["a", "b"] * 20)
    data = dataclasses.replace(base, meta=meta)
    multiclass = register_task_file(task_file(own, TASK.replace("own-rhythm", "own-site"),
        "site.yaml", **{"multilabel": "multiclass", "[labels]": "[site]"}))  # fmt: skip
    sites = multiclass.attach(data)
    assert sites.label_names == ("a", "b") and (sites.labels.sum(axis=1) == 1).all()
    assert multiclass.main_metric == "accuracy"
    regression = register_task_file(task_file(own, TASK.replace("own-rhythm", "own-qt"),
        "qt.yaml", **{"multilabel": "regression", "[labels]": "[qt_ms]"}))  # fmt: skip
    qt = regression.attach(data)
    assert qt.label_names == ("qt_ms",) and qt.labels[:3, 0].tolist() == [380.0, 381.0, 382.0]
    assert regression.main_metric == "mae"
    wrong = register_task_file(task_file(own, TASK.replace("own-rhythm", "own-bad"),
        "bad_qt.yaml", **{"multilabel": "regression"}))  # fmt: skip
    with pytest.raises(
        DataError, match=r"must be numbers; column\(s\) .*labels \(e\.g\. \('AF',\)"
    ):
        wrong.attach(data)
    missing = register_task_file(task_file(own, TASK.replace("own-rhythm", "own-none"),
        "none.yaml", **{"[labels]": "[dx]"}))  # fmt: skip
    with pytest.raises(DataError, match=r"no metadata column\(s\) \['dx'\]; its columns"):
        missing.attach(data)


def test_registration_is_idempotent_and_refuses_clashes(own: Path) -> None:
    path = task_file(own)
    assert register_task_file(path) is register_task_file(path)
    other = task_file(own, name="copy.yaml")
    with pytest.raises(ConfigError, match=f"'own-rhythm' is taken by task file {path}"):
        register_task_file(other)
    clash = task_file(own, TASK.replace("own-rhythm", "ptbxl-rhythm"), "clash.yaml")
    with pytest.raises(ConfigError, match="'ptbxl-rhythm' is taken by a built-in task"):
        register_task_file(clash)


def test_task_folders_on_the_path_by_name_group_and_all(
    own: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "my_tasks"
    (folder / "more").mkdir(parents=True)
    grouped = TASK.replace("kind:", "group: mine\nkind:").replace("root: ecgs", f"root: {own}/ecgs")
    grouped = grouped.replace("labels.csv", f"{own}/labels.csv")
    (folder / "a.yaml").write_text(grouped)
    (folder / "more" / "b.yml").write_text(grouped.replace("own-rhythm", "own-rhythm-2"))
    with pytest.raises(UnknownNameError):
        expand_tasks(["own-rhythm"])
    monkeypatch.setenv(TASKS_PATH_ENV, str(folder))
    assert expand_tasks(["own-rhythm-2"]) == ["own-rhythm-2"]
    assert expand_tasks(["mine"]) == ["own-rhythm", "own-rhythm-2"]
    assert {"own-rhythm", "ptbxl-rhythm"} <= set(expand_tasks(["all"]))


def test_seeded_folds_group_patients_and_pretraining_follows_them(own: Path) -> None:
    plain = TASKS.get(expand_tasks([str(task_file(own))])[0])
    seeded = register_task_file(task_file(own, TASK.replace("own-rhythm", "own-seeded") +
                                          "folds: {seed: 3}\n", "seeded.yaml"))  # fmt: skip
    view = load_dataset(seeded.dataset)
    base = load_dataset(plain.dataset)
    assert view.name == seeded.dataset != base.name
    assert view.fingerprint != base.fingerprint and view.fold_spec["seed"] == 3
    assert not np.array_equal(view.meta["fold"], base.meta["fold"])
    for patient, folds in view.meta.groupby("patient_id")["fold"]:
        assert folds.nunique() == 1, patient
    task_data = seeded.attach(view)
    np.testing.assert_array_equal(task_data.folds, view.meta["fold"])  # what pretraining reads
    assert dict(task_data.fold_spec)["by"] == "patient"


def test_versions_follow_what_defines_the_labels(own: Path) -> None:
    """The version is in every cell key (bench.grid.plan.eval_key): a file whose labels change
    gets new keys, one whose description or fractions change keeps its finished cells."""
    first = register_task_file(task_file(own))
    more = "description: notes\nfractions: [0.5]\n"
    same = register_task_file(task_file(own, TASK.replace("own-rhythm", "own-2") + more, "b.yaml"))
    other = register_task_file(task_file(own, TASK.replace("own-rhythm", "own-3") +
                                         "classes: [AF]\n", "c.yaml"))  # fmt: skip
    assert first.version == same.version != other.version
    assert same.fractions == (0.5,) and first.fractions is None
    assert first.dataset == same.dataset == other.dataset  # one view: one pretraining

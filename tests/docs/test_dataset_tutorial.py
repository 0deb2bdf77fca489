"""The add-a-dataset tutorial (docs/tutorials/add-a-dataset.md) end to end: its two plugins
run as the modules it saves them as, then its commands in order, as a user would, on a
generated 100-record export with one broken record, down to a result with a finite AUROC."""

from __future__ import annotations

import math
import re
import shlex
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.data.loading import DATASETS, load_dataset
from bench.data.preprocess import Preprocessing
from bench.grid.results import load_results
from bench.task import TASKS
from tests.docs.test_tutorials import DOCS, blocks
from tests.doubles.clinic_export import write_clinic_export

PAGE = "tutorials/add-a-dataset.md"
EXPORT = "clinic-export"  # the folder the page's commands name, relative to where they run


@pytest.fixture
def fresh_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tutorial's dataset and task are registered for this test only."""
    DATASETS.names(), TASKS.names()  # discover the real plugins first
    monkeypatch.setattr(DATASETS, "_items", dict(DATASETS._items))
    monkeypatch.setattr(TASKS, "_items", dict(TASKS._items))


def load_plugin(code: str, module_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run a plugin block as the module the page saves it as (for this test only)."""
    module = types.ModuleType(module_name)
    monkeypatch.setitem(sys.modules, module_name, module)
    exec(compile(code, module_name.replace(".", "/") + ".py", "exec"), module.__dict__)


def bench(line: str) -> int:
    """Run one of the page's commands in this process (where the plugins are registered)."""
    words = shlex.split(line)
    assert words[0] == "bench", line
    extra = ["--jobs", "1"] if words[1:3] == ["data", "prepare"] else []
    if words[1] == "run":
        extra = ["--jobs", "1", "--no-progress", "--no-tracking"]
    return main(words[1:] + extra)


def test_the_dataset_tutorial_runs_end_to_end(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    isolated_results: Path,
    fresh_registries: None,
) -> None:
    write_clinic_export(tmp_path / EXPORT)
    monkeypatch.chdir(tmp_path)
    source, task = blocks(PAGE, "python")
    failing, preparing, running = (block.splitlines() for block in blocks(PAGE, "bash"))
    load_plugin(source, "bench.data.sources.clinic", monkeypatch)

    (first_prepare,) = failing
    assert bench(first_prepare) == 2  # the broken record stops the build
    error = capsys.readouterr().err
    reason = "ecg/E0007.csv: 21 row(s) hold a cell that is not a number (the first on line 102)"
    assert reason in error and reason in (DOCS / PAGE).read_text()
    assert "1 of 100 clinic records" in error and "--skip-bad-records" in error
    assert not list((isolated_results / "cache").glob("clinic/*"))  # nothing cached

    for line in preparing:
        assert bench(line) == 0, line
    printed = capsys.readouterr().out
    assert printed.count("99 records, 12 leads at 100 Hz") == 2  # prepare, then info
    assert "native rates: 250 Hz: 50, 500 Hz: 49" in printed  # records.csv's rate column
    data = load_dataset("clinic", EXPORT, Preprocessing(rate=100))  # bench run's load
    meta = data.meta.set_index("record")
    assert "E0007" not in meta.index and len(meta) == 99
    rbbb = np.asarray(data.signals[meta.index.get_loc("E0003")])  # the export's third column
    assert np.argmax(rbbb.mean(axis=1)) == data.lead_names.index("V1")  # holds its shifted V1
    patients = pd.read_csv(tmp_path / EXPORT / "records.csv", index_col="record")["patient"]
    assert meta.join(patients).groupby("patient")["fold"].nunique().max() == 1  # one fold each

    load_plugin(task, "tasks.clinic", monkeypatch)
    assert running[0] == "bench list tasks"
    for line in running:
        assert bench(line) == 0, line
    listed = capsys.readouterr().out
    assert re.search(r"^clinic-dx +multilabel main=macro_auroc .* dataset=clinic", listed, re.M)
    (cell,) = load_results(isolated_results, status="ok")
    assert (cell.task, cell.method, cell.protocol) == ("clinic-dx", "random_init", "linear")
    assert math.isfinite(cell.metrics["macro_auroc"]) and 0 <= cell.metrics["macro_auroc"] <= 1

"""What ``bench run`` does with data that is not ready: bad records name the command that drops
them, a dry run builds no cache, and a task with an empty fold is refused at planning."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.data.loading import DATASETS, DatasetSource
from bench.data.signals import SignalSet
from bench.task import TASKS
from tests.data.cinc_fixtures import random_mv, write_cinc_record
from tests.doubles.grid import SmallSource, SmallTask

RUN = ["run", "--methods", "random_init", "--protocols", "linear", "--fractions", "1.0"]
RUN += ["--seeds", "1", "--no-progress", "--no-tracking", "--jobs", "1"]


def georgia_tree(root: Path, records: int = 20) -> Path:
    """A CinC 2021 tree of Georgia records (500 Hz, 6 s) with scored codes."""
    rng = np.random.default_rng(0)
    folder = root / "training" / "georgia" / "g1"
    for index in range(records):
        dx = ("Dx: 164889003", "Dx: 426783006")[index % 2]
        write_cinc_record(folder, f"E{index + 1:05d}", random_mv(rng, 12, 3000), comments=(dx,))
    return root


def cinc_run(root: Path, task: str, *extra: str) -> list[str]:
    return [*RUN, "--tasks", task, "--data-root", f"cinc2021={root}", *extra]


def test_bad_records_name_the_prepare_command_bench_run_then_uses(
    tmp_path: Path, isolated_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = georgia_tree(tmp_path / "cinc")
    (root / "training" / "georgia" / "g1" / "E00003.mat").unlink()
    assert main(cinc_run(root, "georgia")) == 2
    error = capsys.readouterr().err
    assert "E00003: missing on disk: E00003.mat not found" in error
    command = f"bench data prepare cinc2021 --root {root} --rate 100 --skip-bad-records"
    assert command in error
    assert main(shlex.split(command)[1:]) == 0
    capsys.readouterr()
    assert main(cinc_run(root, "georgia", "--dry-run")) == 0
    assert "1 cells: 0 done, 0 failed, 1 pending" in capsys.readouterr().out


def test_a_dry_run_builds_no_cache_and_says_what_it_would_build(
    tmp_path: Path, isolated_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = georgia_tree(tmp_path / "cinc")
    assert main(cinc_run(root, "georgia", "--dry-run")) == 0
    out = capsys.readouterr().out
    assert not (isolated_results / "cache").exists()
    cache = isolated_results / "cache" / "cinc2021"
    assert f"  cinc2021 at 100 Hz from {root}: would build {cache}/100hz-" in out
    assert f"  bench data prepare cinc2021 --root {root} --rate 100\n" in out
    assert "pending" not in out


def test_a_task_without_records_is_refused_at_planning(
    tmp_path: Path, isolated_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = georgia_tree(tmp_path / "cinc")
    assert main(["data", "prepare", "cinc2021", "--root", str(root), "--rate", "100"]) == 0
    capsys.readouterr()
    assert main(cinc_run(root, "chapman", "--dry-run")) == 2
    error = capsys.readouterr().err
    assert "task chapman: no records in its training and validation and test folds" in error
    assert "it expects records of source chapman; cinc2021 holds: georgia 20" in error


class NoTestFold(SmallSource):
    """The small synthetic dataset with its test fold moved into validation, as a small
    prepared sample can leave it."""

    name = "synthetic-no-test"

    def load(self, root: Path | None, rate: int | None, cache: Path) -> SignalSet:
        data = super().load(root, rate, cache)
        meta = data.meta.assign(fold=data.meta["fold"].replace(10, 9))
        return dataclasses.replace(data, meta=meta)


class NoTestFoldTask(SmallTask):
    name = "synthetic-no-test"
    dataset = "synthetic-no-test"
    group = "synthetic-no-test"


def test_an_empty_test_fold_is_refused_at_planning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    DATASETS.names(), TASKS.names()
    source: DatasetSource = NoTestFold()
    monkeypatch.setitem(DATASETS._items, NoTestFold.name, source)
    monkeypatch.setitem(TASKS._items, NoTestFoldTask.name, NoTestFoldTask())
    assert main([*RUN, "--tasks", "synthetic-no-test"]) == 2
    error = capsys.readouterr().err
    assert "task synthetic-no-test: no records in its test fold (records with a label" in error
    assert "test 0; 300 records in synthetic)" in error
    assert "Every task needs records in all three folds" in error

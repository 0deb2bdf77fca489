"""The own-data tutorial (docs/tutorials/own-data.md) end to end: its task files written and its
commands run in order, as a user would, on 40 generated WFDB records and their labels CSV (with
the grid shortened by profile overrides), down to the leaderboard."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from bench.cli import main
from bench.data.loading import DATASETS
from bench.grid.results import load_results
from bench.task import TASKS
from bench.task.files import TASKS_PATH_ENV
from tests.doubles.grid import FAST_SETS
from tests.doubles.own_data import write_own_data

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorials" / "own-data.md"
FAST_RUN = [  # the profile's batch of 64 stays: the tutorial shows it capped to 32 records
    *(item for item in FAST_SETS if ".batch_size=" not in item),
    "profile_overrides.evaluation.finetune.min_steps=4",
    "profile_overrides.evaluation.finetune.batch_size=16",
]
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)


def tutorial_steps() -> list[tuple[str, str]]:
    """('file', YAML text) for a YAML block opening with '# NAME', ('command', line) for every
    line of a bash block, in the tutorial's order."""
    steps = []
    for language, body in BLOCK.findall(TUTORIAL.read_text()):
        if language == "yaml":
            steps.append(("file", body))
        elif language == "bash":
            steps += [("command", line) for line in body.splitlines() if line.strip()]
    return steps


@pytest.fixture
def fresh_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tutorial's task files are registered for this test only."""
    TASKS.names(), DATASETS.names()
    monkeypatch.setattr(TASKS, "_items", dict(TASKS._items))
    monkeypatch.setattr(DATASETS, "_items", dict(DATASETS._items))
    monkeypatch.delenv(TASKS_PATH_ENV, raising=False)


def run_step(kind: str, text: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if kind == "file":
        path = folder / text.splitlines()[0].removeprefix("#").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    words = shlex.split(text)
    if words[0] == "export":
        variable, _, value = words[1].partition("=")
        monkeypatch.setenv(variable, str((folder / value).resolve()))
        return
    assert words[0] == "bench", text
    extra = ["--jobs", "1"] if words[1:3] == ["data", "prepare"] else []
    if words[1] == "run":
        extra = ["--no-progress", "--jobs", "1", "--no-tracking"]
        for item in FAST_RUN:
            extra += ["--set", item]
    assert main(words[1:] + extra) == 0, text


def test_the_tutorial_runs_end_to_end(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    isolated_results: Path,
    fresh_registries: None,
) -> None:
    write_own_data(tmp_path, n_records=40)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path / "results"))
    steps = tutorial_steps()
    assert [kind for kind, _ in steps].count("file") == 2
    outputs = []
    for kind, text in steps:
        run_step(kind, text, tmp_path, monkeypatch)
        outputs.append(capsys.readouterr().out)
    printed = "\n".join(outputs)
    assert "classes: 2" in printed and "train 32, val 4, test 4" in printed  # data prepare
    assert re.search(r"my-rhythm +multilabel", printed) and re.search(r"my-qt +regression", printed)
    assert "2 cells run, 2 skipped (already done)" in printed  # by name: the file's cells reused
    board = (tmp_path / "results" / "leaderboards" / "leaderboard.md").read_text()
    assert "| *test set* | | 4 records · 2/2 classes ◦ |" in board
    assert "†" not in board.split("The task's main metric")[0]
    assert "my-qt · linear probe · 100 % labels (profile smoke) · mae (lower is better)" in board
    cells = load_results(tmp_path / "results", status="ok")
    rhythm = [c for c in cells if c.task == "my-rhythm"]
    assert {c.method for c in rhythm} == {"cpc", "random_init"} and len(rhythm) == 6
    notes = [n for c in rhythm for n in c.pretraining.get("notes", [])]
    assert notes and all("capped to 32" in n for n in notes)
    qt = [c for c in cells if c.task == "my-qt"]
    assert qt and all(c.metrics["main_metric"] == "mae" for c in qt)

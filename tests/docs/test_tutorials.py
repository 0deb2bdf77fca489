"""The tutorials' code runs as printed: their Python blocks and the commands that need no data."""

from __future__ import annotations

import re
import shlex
import sys
import types
from pathlib import Path

import pytest

from bench.cli import main
from bench.method import METHODS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def blocks(page: str, language: str) -> list[str]:
    """The fenced ``language`` blocks of a docs page, in order."""
    text = (DOCS / page).read_text()
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.M | re.S)


def test_the_method_plugin_registers_trains_and_is_listed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    METHODS.names()  # discover the real plugins first
    monkeypatch.setattr(METHODS, "_items", dict(METHODS._items))  # the plugin leaves no trace
    plugin, check = blocks("tutorials/add-a-method.md", "python")
    module = types.ModuleType("noise_contrast")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(plugin, "noise_contrast.py", "exec"), module.__dict__)
    exec(compile(check, "check.py", "exec"), {"__name__": "check"})
    assert capsys.readouterr().out.startswith("loss ")
    commands = blocks("tutorials/add-a-method.md", "bash")[0].splitlines()
    assert commands[0] == "bench list methods"
    assert main(shlex.split(commands[0])[1:]) == 0
    rows = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()}
    assert rows["noise-contrast"] == "SSL"
    assert rows["random_init[noise-contrast]"] == rows["supervised[noise-contrast]"] == "matched"


def test_the_checkpoint_catalogue_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    (command,) = blocks("tutorials/published-checkpoint.md", "bash")[0].splitlines()
    assert main(shlex.split(command)[1:]) == 0
    out = capsys.readouterr().out
    published = [m for m in METHODS.names() if METHODS.get(m).pretrained]
    assert published and all(name in out for name in published)


def test_every_bench_command_in_the_tutorials_parses() -> None:
    from bench.cli import build_parser

    for page in sorted((DOCS / "tutorials").glob("*.md")):
        for block in blocks(str(page.relative_to(DOCS)), "bash"):
            for line in block.splitlines():
                words = shlex.split(line)
                if words and words[0] == "torchrun":
                    words = words[words.index("bench") :]
                if words and words[0] == "bench":
                    build_parser().parse_args(words[1:])  # exits (fails) on a bad option

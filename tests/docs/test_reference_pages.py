"""The Methods and Datasets sections of the docs: one page per method and dataset the package
ships, each method page rendering (or linking) its config class, each dataset page naming the
addresses its source downloads from, and every ``bench`` command on them naming real methods,
tasks and datasets."""

from __future__ import annotations

import argparse
import shlex

import pytest

from bench.cli import build_parser
from bench.data.corpus.presets import PRESETS
from bench.data.loading import DATASETS
from bench.grid.method_groups import expand_methods
from bench.method import METHODS
from bench.task import expand_tasks
from tests.docs.test_tutorials import DOCS, blocks

SECTIONS = ("methods", "datasets")


def shipped_methods() -> list[str]:
    """Methods of the ``methods`` package that pretrain or are baselines (no checkpoints)."""
    return [
        name
        for name in METHODS.names()
        if METHODS.get(name).__module__.startswith("methods.") and not METHODS.get(name).pretrained
    ]


def shipped_datasets() -> list[str]:
    """Datasets of ``bench.data.sources`` (plugins registered elsewhere left out)."""
    return [n for n in DATASETS.names() if type(DATASETS.get(n)).__module__.startswith("bench.")]


def pages(section: str) -> set[str]:
    """The page names of a section, its overview left out."""
    return {page.stem for page in (DOCS / section).glob("*.md")} - {"index"}


def test_every_shipped_method_has_a_page_with_its_config_reference() -> None:
    assert pages("methods") == set(shipped_methods())
    overview = (DOCS / "methods" / "index.md").read_text()
    for name in shipped_methods():
        config = METHODS.get(name).config_class
        qualified = f"{config.__module__}.{config.__qualname__}"
        text = (DOCS / "methods" / f"{name}.md").read_text()
        assert f"::: {qualified}\n" in text or f"#{qualified})" in text, name
        assert f"]({name}.md)" in overview, name


def test_every_shipped_dataset_has_a_page_naming_its_download_addresses() -> None:
    assert pages("datasets") == set(shipped_datasets())
    overview = (DOCS / "datasets" / "index.md").read_text()
    for name in shipped_datasets():
        source = DATASETS.get(name)
        text = (DOCS / "datasets" / f"{name}.md").read_text()
        for url in (source.download_page, source.archive_url):
            assert url in text, (name, url)
        assert f"]({name}.md)" in overview, name


def section_commands() -> list[tuple[str, list[str]]]:
    """(page, words) of every ``bench`` line in the bash blocks of both sections."""
    found = []
    for section in SECTIONS:
        for page in sorted((DOCS / section).glob("*.md")):
            name = str(page.relative_to(DOCS))
            for block in blocks(name, "bash"):
                for line in block.splitlines():
                    words = shlex.split(line.split(" #")[0])
                    if words and words[0] == "bench":
                        found.append((name, words[1:]))
    return found


def check_names(args: argparse.Namespace) -> None:
    """Raise if a command names a method, task, dataset or corpus the package does not know."""
    if args.command == "run":
        expand_methods(tuple(args.methods))
        expand_tasks([t for t in args.tasks if not t.endswith((".yaml", ".yml"))])
    elif args.command == "data":
        DATASETS.get(args.dataset)
    elif args.command == "pretrain":
        METHODS.get(args.method)
        parts = [] if args.data in PRESETS else args.data.split("+")
        for part in parts:
            DATASETS.get(part)
    elif args.command == "fractions":
        expand_tasks([args.task])


@pytest.mark.parametrize(("page", "words"), section_commands(), ids=lambda v: str(v)[:60])
def test_every_bench_command_on_the_pages_parses_and_names_known_things(
    page: str, words: list[str]
) -> None:
    check_names(build_parser().parse_args(words))  # exits (fails) on a bad option

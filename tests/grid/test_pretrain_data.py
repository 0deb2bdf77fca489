"""``--pretrain-data``: SSL methods pretrain on a corpus without the run's val/test ECGs;
``--pretrain-records`` adds nested subset sizes; the default keeps every key."""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import pytest

from bench.cli import main
from bench.data.loading import DATASETS, DatasetSource
from bench.data.signals import SignalSet
from bench.errors import ConfigError
from bench.grid.plan import RunConfig
from bench.grid.results import load_results
from bench.grid.runner import plan_grid, workspace_for
from bench.tracking.records import read_pretraining
from bench.training.planning import CORPUS_MANIFEST
from tests.data.corpus_fixtures import planted, task_dataset
from tests.doubles.grid import FAST, bench_run


class PlantedSource(DatasetSource):
    """corpus-a or corpus-b of ``tests.data.corpus_fixtures.planted``."""

    needs_root = False

    def __init__(self, name: str, part: int):
        self.name, self.part = name, part

    def load(self, root: Path | None, rate: int | None, cache: Path) -> SignalSet:
        return planted_once()[self.part]


@functools.cache
def planted_once() -> tuple[SignalSet, SignalSet]:
    return planted(task_dataset())


@pytest.fixture
def corpora(monkeypatch: pytest.MonkeyPatch, small_synthetic: str) -> str:
    DATASETS.names()
    for part, name in enumerate(("corpus-a", "corpus-b")):
        monkeypatch.setitem(DATASETS._items, name, PlantedSource(name, part))
    return "corpus-a+corpus-b"


def grid(**fields: Any) -> RunConfig:
    return RunConfig(
        methods=("toy_masked", "random_init"), tasks=("synthetic-small",), fractions=(0.5,),
        seeds=1, protocols=("linear",), profile_overrides=FAST, **fields,
    )  # fmt: skip


def test_a_corpus_changes_the_pretraining_keys_only(toys: Any, corpora: str) -> None:
    config = grid()
    default = {c.unit.method: c.unit for c in plan_grid(config, workspace_for(config))}
    with_corpus = grid(pretrain_data=corpora)
    units = {c.unit.method: c.unit for c in plan_grid(with_corpus, workspace_for(with_corpus))}
    document = default["toy_masked"].plan.spec.document()
    assert (document["split"], "corpus" in document["data"]) == ("train", False)
    corpus_document = units["toy_masked"].plan.spec.document()
    assert corpus_document["split"] == "corpus"
    assert corpus_document["data"]["dataset"] == corpora
    assert corpus_document["data"]["corpus"]["exclude"]["against"][0]["dataset"] == "synthetic"
    assert units["toy_masked"].key != default["toy_masked"].key
    assert units["random_init"].key == default["random_init"].key
    assert units["toy_masked"].corpus == corpora


def test_pretrain_records_need_a_corpus() -> None:
    with pytest.raises(ConfigError, match="--pretrain-data"):
        RunConfig(pretrain_records=(100,))
    with pytest.raises(ConfigError, match="pretrain_records"):
        RunConfig(pretrain_data="ptbxl", pretrain_records=(0,))


@pytest.mark.slow
def test_a_grid_on_a_corpus_with_two_sizes(
    toys: Any, corpora: str, isolated_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = bench_run("--pretrain-data", corpora, "--pretrain-records", "50", "all")
    assert main([*args, "--no-tracking"]) == 0
    runs = sorted((isolated_results / "pretrain").glob("toy_masked-*"))
    assert len(runs) == 2
    manifests = [json.loads((run / CORPUS_MANIFEST).read_text()) for run in runs]
    assert sorted(m["report"]["records"] for m in manifests) == [50, 192]
    for manifest in manifests:
        assert manifest["report"]["excluded"] == {"id": 1, "fingerprint": 5, "duplicate": 2}
    record = read_pretraining(runs[0])
    assert record is not None and record.tags["corpus"] == corpora
    assert record.summary["corpus.corpus-a.excluded.fingerprint"] == 5.0
    assert record.summary["corpus.corpus-b.excluded.duplicate"] == 2.0
    results = load_results(isolated_results, status="ok")
    labels = {r.pretraining["corpus"]["label"] for r in results if r.method == "toy_masked"}
    assert labels == {corpora, f"{corpora} (50 records)"}
    board = (isolated_results / "leaderboards").rglob("*.csv")
    text = "\n".join(path.read_text() for path in board)
    assert f"toy_masked@{corpora} (50 records)" in text and "random_init" in text
    assert list((isolated_results / "figures").glob("scaling_synthetic-small_linear_0.5_*.png"))


def test_bench_pretrain_on_a_corpus_is_the_runs_pretraining(
    toys: Any, corpora: str, isolated_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = {"epochs": 1, "max_steps": 2, "batch_size": 32, "warmup_epochs": 0}
    sets = [f"train.{name}={value}" for name, value in train.items()]
    args = ["pretrain", "--method", "toy_masked", "--data", corpora, "--no-progress"]
    args += ["--exclude-for", "synthetic-small"]
    for item in sets:
        args += ["--set", item]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "excluded: 1 by id, 5 by fingerprint, 2 duplicates" in out
    config = RunConfig(
        methods=("toy_masked",), tasks=("synthetic-small",), fractions=(0.5,), seeds=1,
        protocols=("linear",), profile_overrides={"train": train}, pretrain_data=corpora,
    )  # fmt: skip
    (cell,) = plan_grid(config, workspace_for(config))
    assert f"key {cell.unit.key}" in out
    assert (
        isolated_results / "pretrain" / f"toy_masked-{cell.unit.key}" / CORPUS_MANIFEST
    ).is_file()


def test_copies_are_found_whatever_the_normalisation(toys: Any, corpora: str) -> None:
    overrides = {**FAST, "preprocessing": {"normalize": "train"}}  # per-dataset statistics
    config = dataclasses.replace(grid(pretrain_data=corpora), profile_overrides=overrides)
    workspace = workspace_for(config)
    (unit,) = {c.unit.key: c.unit for c in plan_grid(config, workspace) if c.unit.plan}.values()
    corpus = workspace.corpus(unit.setup.preprocessing)
    assert corpus.report()["excluded"] == {"id": 1, "fingerprint": 5, "duplicate": 2}

"""Corpus specs: datasets joined by '+', presets, YAML files with filters and caps, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.data.corpus.naming import parse_corpus
from bench.data.corpus.presets import PRESETS
from bench.data.corpus.spec import CorpusPart
from bench.errors import ConfigError


def test_plus_joins_datasets() -> None:
    spec = parse_corpus("cinc2021+code15")
    assert spec.name == "cinc2021+code15"
    assert spec.parts == (CorpusPart("cinc2021"), CorpusPart("code15"))


def test_preset_names_its_sources() -> None:
    spec = parse_corpus("jepa-paper")
    assert spec.datasets == ("cinc2021", "code15")
    assert spec.parts[0].sources == ("chapman", "ningbo")


def test_yaml_file_with_filters_caps_and_seed(tmp_path: Path) -> None:
    path = tmp_path / "pool.yaml"
    path.write_text(
        "seed: 3\ndatasets:\n"
        "  - {dataset: cinc2021, sources: [chapman, ningbo], max_records: 50000}\n"
        "  - ptbxl\n"
    )
    spec = parse_corpus(str(path))
    assert (spec.name, spec.seed) == ("pool", 3)
    assert spec.parts == (
        CorpusPart("cinc2021", ("chapman", "ningbo"), 50000),
        CorpusPart("ptbxl"),
    )
    assert spec.parts[0].document() == {
        "dataset": "cinc2021", "sources": ["chapman", "ningbo"], "max_records": 50000,
    }  # fmt: skip


def test_a_bare_list_is_a_corpus(tmp_path: Path) -> None:
    path = tmp_path / "two.yml"
    path.write_text("- ptbxl\n- {dataset: wfdb}\n")
    assert parse_corpus(str(path)).datasets == ("ptbxl", "wfdb")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- {dataset: ptbxl, cap: 3}\n", "unknown field"),
        ("- {dataset: ptbxl, max_records: 0}\n", "max_records"),
        ("- {dataset: ptbxl, max_records: many}\n", "max_records must be an integer"),
        ("- ptbxl\n- ptbxl\n", "more than once"),
        ("datasets: []\n", "non-empty list"),
        ("- [ptbxl]\n", "expected a dataset name"),
        ("{datasets: [ptbxl], seeds: 2}\n", "unknown field"),
    ],
)
def test_bad_corpus_files_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        parse_corpus(str(path))
    assert "bad.yaml" in str(error.value) or "ptbxl" in str(error.value)


def test_missing_file_and_empty_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        parse_corpus(str(tmp_path / "absent.yaml"))
    with pytest.raises(ConfigError, match="joined by"):
        parse_corpus("ptbxl+")


def test_bench_list_corpora_shows_every_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "corpora"]) == 0
    out = capsys.readouterr().out
    for name in PRESETS:
        assert name in out
    assert "cinc2021[chapman,ningbo] + code15" in out
    assert "subset of CODE-15" in out

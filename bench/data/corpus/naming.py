"""Pretraining corpora: a union of prepared datasets, each with optional source filters and a cap.

A corpus is named on the command line as ``--pretrain-data cinc2021+code15`` (datasets joined
by ``+``), as a preset (``bench list corpora``, e.g. ``jepa-paper``) or as a YAML file::

    name: chapman-ningbo-ptbxl          # optional (default: the file's stem)
    seed: 0                             # optional: seed of the caps and nested subsets
    datasets:
      - {dataset: cinc2021, sources: [chapman, ningbo], max_records: 50000}
      - ptbxl

(a bare list of entries works too). Every dataset is loaded at the method's preprocessing (one
rate, lead set and window for the whole corpus); ``sources`` keeps only the records whose
``source`` column (CinC's tranches) is listed; ``max_records`` keeps a seeded random subset of
the records left after leakage exclusion (``bench.data.corpus.select``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from bench.data.corpus.presets import PRESETS
from bench.data.corpus.spec import CorpusPart, CorpusSpec
from bench.errors import ConfigError

ENTRY_FIELDS = ("dataset", "sources", "max_records")
FILE_FIELDS = ("name", "seed", "datasets")


def parse_corpus(text: str) -> CorpusSpec:
    """The corpus ``text`` names: a preset, a YAML file, or datasets joined by ``+``."""
    text = text.strip()
    if text in PRESETS:
        return PRESETS[text]
    path = Path(text).expanduser()
    if path.suffix in (".yaml", ".yml"):
        return load_corpus_file(path)
    names = [name.strip() for name in text.split("+")]
    if not text or any(not name for name in names):
        raise ConfigError(
            f"--pretrain-data {text!r}: name datasets joined by '+' (e.g. cinc2021+code15), a "
            "preset (bench list corpora) or a YAML file"
        )
    return CorpusSpec(text, tuple(CorpusPart(name) for name in names))


def load_corpus_file(path: Path) -> CorpusSpec:
    """A corpus from a YAML file (see the module docstring); ConfigError naming the file."""
    if not path.is_file():
        raise ConfigError(f"corpus file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"corpus file {path} is not valid YAML: {error}") from error
    if isinstance(data, list):
        data = {"datasets": data}
    if not isinstance(data, dict):
        raise ConfigError(f"corpus file {path} must hold a list of datasets or a mapping")
    unknown = sorted(set(data) - set(FILE_FIELDS))
    if unknown:
        raise ConfigError(f"corpus file {path}: unknown field(s) {unknown}; use {FILE_FIELDS}")
    entries = data.get("datasets")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"corpus file {path}: 'datasets' must be a non-empty list")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"corpus file {path}: seed must be an integer, got {seed!r}")
    parts = tuple(
        _entry(entry, f"corpus file {path}, entry {i + 1}") for i, entry in enumerate(entries)
    )
    return CorpusSpec(str(data.get("name") or path.stem), parts, seed)


def _entry(entry: Any, where: str) -> CorpusPart:
    """One ``datasets`` entry: a dataset name or a mapping of ENTRY_FIELDS."""
    if isinstance(entry, str):
        return CorpusPart(entry.strip())
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a dataset name or a mapping, got {entry!r}")
    unknown = sorted(set(entry) - set(ENTRY_FIELDS))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; use {ENTRY_FIELDS}")
    dataset = entry.get("dataset")
    if not isinstance(dataset, str):
        raise ConfigError(f"{where}: 'dataset' must name a dataset")
    sources = entry.get("sources") or ()
    if isinstance(sources, str):
        sources = [s.strip() for s in sources.split(",") if s.strip()]
    if not isinstance(sources, (list, tuple)) or not all(isinstance(s, str) for s in sources):
        raise ConfigError(f"{where}: 'sources' must be a list of source names")
    cap = entry.get("max_records")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool)):
        raise ConfigError(f"{where}: max_records must be an integer, got {cap!r}")
    return CorpusPart(dataset, tuple(dict.fromkeys(sources)), cap)

"""``bench data prepare CORPUS``: prepare every dataset of a corpus and print what a
pretraining on it would use: records per dataset, the excluded records per reason, hours."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bench.errors import ConfigError

if TYPE_CHECKING:
    from bench.data.corpus.resolve import ResolvedCorpus
    from bench.data.preprocess import Preprocessing
    from bench.data.signals import SignalSet


def is_corpus(name: str) -> bool:
    """Whether ``name`` names a corpus (a preset, a YAML file, datasets joined by '+'); a
    dataset's own name (e.g. mimic-iv-ecg, also a preset) prepares that dataset."""
    from bench.data.corpus.presets import PRESETS
    from bench.data.loading import DATASETS

    if name in DATASETS.names():
        return False
    return name in PRESETS or "+" in name or name.endswith((".yaml", ".yml"))


def run_corpus_prepare(args: argparse.Namespace) -> int:
    """Load (building caches where needed) each dataset at ``--rate``, resolve the corpus with
    the val/test folds of ``--exclude-for`` tasks protected, print the report."""
    from bench.data.corpus.resolve import report_lines
    from bench.data.preprocess import Preprocessing

    corpus = load_corpus(
        args.dataset,
        Preprocessing(rate=args.rate),
        args.exclude_for or [],
        corpus_roots(args.root),
        args.cache,
        _size(args.records),
    )
    for line in report_lines(corpus.report()):
        print(line)
    return 0


def load_corpus(
    text: str,
    preprocessing: Preprocessing,
    exclude_for: list[str],
    roots: dict[str, str],
    cache: str | None = None,
    size: int | str = "all",
) -> ResolvedCorpus:
    """The corpus ``text`` at ``preprocessing`` without the val/test records of the datasets of
    ``exclude_for`` (task names or groups), as ``bench run`` resolves it for those tasks."""
    from bench.data.corpus.naming import parse_corpus
    from bench.data.corpus.resolve import resolve_corpus
    from bench.data.corpus.select import (
        identity_preprocessing,
        protected_records,
        stores_fingerprints,
    )
    from bench.data.loading import load_dataset
    from bench.task import TASKS, expand_tasks

    spec = parse_corpus(text)
    loaded: dict[tuple[str, Preprocessing], SignalSet] = {}

    def dataset(name: str, raw: bool = False) -> SignalSet:
        options = identity_preprocessing(preprocessing) if raw else preprocessing
        if (name, options) not in loaded:
            loaded[name, options] = load_dataset(name, roots.get(name), options, cache)
        return loaded[name, options]

    def identity(name: str) -> SignalSet:
        data = dataset(name)
        return data if stores_fingerprints(data) else dataset(name, raw=True)

    parts = [dataset(name) for name in spec.datasets]
    tasks = [TASKS.get(name) for name in expand_tasks(list(exclude_for))]
    datasets = list(dict.fromkeys(task.dataset for task in tasks))
    protected = protected_records([identity(name) for name in datasets])
    identities = [identity(name) for name in spec.datasets]
    return resolve_corpus(spec, parts, protected, size, identities)


def corpus_roots(items: list[str] | str | None) -> dict[str, str]:
    """``--root NAME=PATH`` entries (else each dataset's $BENCH_<NAME>_ROOT)."""
    roots: dict[str, str] = {}
    for item in [items] if isinstance(items, str) else items or []:
        name, sep, path = item.partition("=")
        if not sep:
            raise ConfigError(
                f"--root {item}: a corpus needs --root DATASET=PATH per dataset (or each "
                "dataset's $BENCH_<NAME>_ROOT)"
            )
        roots[name] = path
    return roots


def _size(value: str | None) -> int | str:
    if value is None or value == "all":
        return "all"
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"--records {value!r}: a positive count or 'all'")
    return int(value)

"""The dataset caches a grid would build first, for ``bench run --dry-run``.

Cell keys hash the prepared data's content, so a dry run cannot list the cells of a dataset
whose cache is not built yet; building it (an 84 MB cache for a small CinC sample, hours for a
full corpus) is not a dry run's job. Instead it names each cache a real run would build, from
which root into which folder, and the ``bench data prepare`` command that builds it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from bench.data.corpus.naming import parse_corpus
from bench.data.loading import DATASETS, resolve_root
from bench.grid.method_groups import expand_methods
from bench.grid.plan import RunConfig, task_list
from bench.grid.profiles import Profile
from bench.paths import cache_dir


@dataclass(frozen=True)
class PendingCache:
    """A cache of ``dataset`` at ``rate`` Hz (None: native) that a run would build."""

    dataset: str
    rate: int | None
    root: Path | None
    folder: Path

    def command(self) -> str:
        """The ``bench data prepare`` command that builds it."""
        parts = ["bench", "data", "prepare", self.dataset]
        parts += ["--root", str(self.root)] if self.root is not None else []
        parts += ["--rate", str(self.rate)] if self.rate is not None else []
        return shlex.join(parts)


def caches_to_build(
    config: RunConfig, profile: Profile, data_roots: dict[str, str]
) -> list[PendingCache]:
    """Every cache the grid of ``config`` loads (each task's dataset at each method's rate, a
    corpus's datasets at the pretraining methods' rates) that is not built yet."""
    setups = [profile.resolve(method) for method in expand_methods(config.methods)]
    wanted = {
        (task.dataset, setup.preprocessing.rate) for task in task_list(config) for setup in setups
    }
    if config.pretrain_data is not None:
        corpus = parse_corpus(config.pretrain_data).datasets
        rates = {s.preprocessing.rate for s in setups if s.method.needs_pretraining}
        wanted |= {(dataset, rate) for dataset in corpus for rate in rates}
    pending = []
    for dataset, rate in sorted(wanted, key=lambda item: (item[0], item[1] or 0)):
        root = resolve_root(dataset, data_roots.get(dataset))
        folder = DATASETS.get(dataset).cache_to_build(root, rate, cache_dir())
        if folder is not None:
            pending.append(PendingCache(dataset, rate, root, folder))
    return pending


def pending_lines(pending: list[PendingCache]) -> list[str]:
    """What a dry run prints instead of the cells while caches are missing."""
    lines = ["dry run: cell keys hash the prepared data, and these dataset caches are not built:"]
    for cache in pending:
        at = f"{cache.rate} Hz" if cache.rate is not None else "its native rate"
        lines.append(f"  {cache.dataset} at {at} from {cache.root}: would build {cache.folder}")
    lines.append(
        "bench run builds them first; to list the cells and their status now, build them with"
    )
    lines += [f"  {cache.command()}" for cache in pending]
    lines.append("then run the dry run again.")
    return lines

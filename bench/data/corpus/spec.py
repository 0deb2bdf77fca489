"""What a pretraining corpus is: a named union of prepared datasets, each with optional source
filters and a cap (``CorpusPart``), and a seed for the caps and nested subsets (``CorpusSpec``).

How a corpus is named (``bench.data.corpus.naming``), the presets (``bench.data.corpus.presets``),
which records it keeps (``bench.data.corpus.select``) and its records as one sequence
(``bench.data.corpus.records``) build on these two types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.config import check_range
from bench.errors import ConfigError


@dataclass(frozen=True)
class CorpusPart:
    """One dataset of a corpus: its name, the sources kept (all when empty) and a cap."""

    dataset: str
    sources: tuple[str, ...] = ()
    max_records: int | None = None

    def __post_init__(self) -> None:
        if not self.dataset:
            raise ConfigError("a corpus entry needs a dataset name")
        if self.max_records is not None:
            check_range(f"corpus {self.dataset}: max_records", self.max_records, 1)

    def document(self) -> dict[str, Any]:
        """The entry as keyed: dataset, sorted sources, cap (None = every record)."""
        return {
            "dataset": self.dataset,
            "sources": sorted(self.sources),
            "max_records": self.max_records,
        }


@dataclass(frozen=True)
class CorpusSpec:
    """A named union of datasets; ``seed`` draws the caps' subsets and the nested subsets."""

    name: str
    parts: tuple[CorpusPart, ...]
    seed: int = 0
    description: str = ""

    def __post_init__(self) -> None:
        if not self.parts:
            raise ConfigError(f"corpus {self.name!r} lists no datasets")
        names = [part.dataset for part in self.parts]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ConfigError(
                f"corpus {self.name!r} lists {', '.join(repeated)} more than once; merge the "
                "entries (one entry per dataset, its sources as a list)"
            )
        check_range(f"corpus {self.name}: seed", self.seed, 0)

    @property
    def datasets(self) -> tuple[str, ...]:
        """The datasets, in order."""
        return tuple(part.dataset for part in self.parts)

"""Dataset sources (one plugin per dataset in bench/data/sources) and the one way to load them."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from bench.data.preprocess import Preprocessing, apply_preprocessing
from bench.data.signals import SignalSet
from bench.errors import DataError
from bench.paths import cache_dir, dataset_root_env
from bench.registry import Registry


class DatasetSource(ABC):
    """A dataset reader: turns an official download (or a generator) into a cached SignalSet.

    ``needs_root`` is False for generated data; ``download_page`` is where users get the data;
    ``archive_url`` is the official archive ``bench data download`` fetches ("" = none);
    ``roots_as`` names the dataset whose root this one reads (a task file's view of it).
    """

    name: ClassVar[str]
    needs_root: ClassVar[bool] = True
    roots_as: ClassVar[str | None] = None
    download_page: ClassVar[str] = ""
    archive_url: ClassVar[str] = ""

    @abstractmethod
    def load(self, root: Path | None, rate: int | None, cache: Path) -> SignalSet:
        """Load (preparing the cache under ``cache`` first if needed) at a native rate.

        ``rate`` is the rate the caller will end up with; a source with several native rates
        picks the best one for it. The result has canonical lead order.
        """

    def cache_to_build(self, root: Path | None, rate: int | None, cache: Path) -> Path | None:
        """The cache folder ``load`` at ``rate`` would build first (``bench run --dry-run``
        reports it instead); None when it is built, or for a source that keeps no cache."""
        return None


DATASETS: Registry[DatasetSource] = Registry(
    "dataset", package="bench.data.sources", entry_point_group="bench.datasets"
)


def register_dataset(source: type[DatasetSource]) -> type[DatasetSource]:
    """Class decorator registering one instance of a DatasetSource under its ``name``."""
    DATASETS.add(source.name, source())
    return source


def resolve_root(dataset: str, root: str | Path | None) -> Path | None:
    """The dataset's root: ``root`` (--data-root), else $BENCH_<NAME>_ROOT; checked to exist."""
    source = DATASETS.get(dataset)
    if not source.needs_root:
        return None
    named = source.roots_as or dataset
    env = dataset_root_env(named)
    chosen = root or os.environ.get(env)
    if not chosen:
        raise DataError(
            f"no data root for {named!r}: pass --data-root {named}=PATH or set {env}"
            + (f" (download from {source.download_page})" if source.download_page else "")
        )
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DataError(f"data root for {dataset!r} does not exist or is not a folder: {path}")
    return path


def load_dataset(
    dataset: str,
    root: str | Path | None = None,
    preprocessing: Preprocessing | None = None,
    cache: str | Path | None = None,
) -> SignalSet:
    """Load ``dataset`` from its cache (built on first use) with ``preprocessing`` applied."""
    options = preprocessing or Preprocessing()
    source = DATASETS.get(dataset)
    raw = source.load(resolve_root(dataset, root), options.rate, cache_dir(cache))
    return apply_preprocessing(raw, options)

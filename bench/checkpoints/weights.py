"""Finding a published model's weights file (flag, folder, hub cache) and its SHA-256."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from bench.checkpoints.card import ModelCard
from bench.errors import DataError

WEIGHTS_DIR_ENV = "BENCH_WEIGHTS_DIR"
WEIGHTS_ENV = "BENCH_WEIGHTS"  # NAME=PATH[,NAME=PATH...], as --weights sets it


class WeightsNotFoundError(DataError):
    """No weights file for a published model: the message says where to get and put it."""


def weights_dir() -> Path | None:
    """``$BENCH_WEIGHTS_DIR`` when set."""
    value = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(value).expanduser() if value else None


def explicit_weights() -> dict[str, str]:
    """``NAME=PATH`` pairs given with ``--weights`` (carried to workers in ``$BENCH_WEIGHTS``)."""
    pairs: dict[str, str] = {}
    for item in filter(None, os.environ.get(WEIGHTS_ENV, "").split(",")):
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise DataError(f"${WEIGHTS_ENV}: {item!r} is not NAME=PATH")
        pairs[name.strip()] = path.strip()
    return pairs


def parse_weights_options(options: list[str]) -> dict[str, str]:
    """``--weights NAME=PATH`` options as a mapping (DataError naming a bad one)."""
    pairs: dict[str, str] = {}
    for option in options:
        name, sep, path = option.partition("=")
        if not sep or not name or not path or "," in option:
            raise DataError(f"--weights {option!r}: use NAME=PATH (e.g. hubert-ecg-small=~/w.pt)")
        pairs[name] = str(Path(path).expanduser().resolve())
    return pairs


def hub_cached_file(card: ModelCard) -> Path | None:
    """The file from the local hub cache when an earlier fetch put it there (no network)."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id=card.hf_repo, filename=card.hf_filename)
    return Path(found) if isinstance(found, str) else None


def candidate_paths(name: str, card: ModelCard, configured: str | None) -> list[Path]:
    """Where the weights of ``name`` are looked for, in order: the config's ``weights``,
    ``--weights NAME=PATH``, ``$BENCH_WEIGHTS_DIR/<file name>``, the hub download cache."""
    paths = [Path(p).expanduser() for p in (configured, explicit_weights().get(name)) if p]
    folder = weights_dir()
    if folder is not None:
        paths.append(folder / card.file_name)
    if card.hf_repo and card.hf_filename:
        cached = hub_cached_file(card)
        if cached is not None:
            paths.append(cached)
    return paths


def resolve_weights(name: str, card: ModelCard, configured: str | None = None) -> Path:
    """The weights file of ``name``; WeightsNotFoundError says where to download and put it."""
    paths = candidate_paths(name, card, configured)
    for path in paths:
        if path.is_file():
            return path
    explicit = [str(p) for p in paths[:2] if p is not None]
    tried = f" (no file at {', '.join(explicit)})" if explicit else ""
    fetch = f", or run `bench checkpoints fetch {name}`" if card.hf_repo else ""
    raise WeightsNotFoundError(
        f"{name}: weights file {card.file_name!r} not found{tried}. Download it from "
        f"{card.url} and pass --weights {name}=PATH, or put it in ${WEIGHTS_DIR_ENV}/"
        f"{card.file_name}{fetch}."
    )


@lru_cache(maxsize=32)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def sha256(path: Path) -> str:
    """SHA-256 of a weights file (computed once per file version and process)."""
    stat = path.stat()
    return _digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)

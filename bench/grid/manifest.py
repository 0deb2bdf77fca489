"""Grid manifests: which cells one ``bench run`` covers, so its tables show only its cells."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write
from bench.errors import DataError
from bench.hashing import stable_hash

GRIDS_DIR = "grids"
LATEST = "latest"
# Run config fields added later, at the value that means what grids before them did: left out
# of the manifest there, so an older grid keeps its key.
_LATER_FIELDS = {
    "pretrain_seeds": None, "pretrain_data": None, "pretrain_records": ["all"], "shots": None,
}  # fmt: skip


def write_grid_manifest(results: Path, config: dict[str, Any], eval_keys: Sequence[str]) -> Path:
    """Store the run config and cell keys under <results>/grids/<key>.json and as latest.json."""
    config = {k: v for k, v in config.items() if k not in _LATER_FIELDS or v != _LATER_FIELDS[k]}
    document = {"config": config, "eval_keys": sorted(eval_keys)}
    blob = json.dumps(document, indent=1, sort_keys=True).encode()
    folder = results / GRIDS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stable_hash(document)}.json"
    for target in (path, folder / f"{LATEST}.json"):
        atomic_write(target, lambda handle: handle.write(blob))
    return path


def read_grid_keys(results: Path, grid: str) -> frozenset[str]:
    """Cell keys of a manifest: a path, a manifest key, or "latest" (the last ``bench run``)."""
    path = Path(grid)
    if not path.is_file():
        path = results / GRIDS_DIR / f"{grid}.json"
    if not path.is_file():
        raise DataError(f"no grid manifest {grid!r} (looked for {path}); run `bench run` first")
    try:
        keys = json.loads(path.read_text())["eval_keys"]
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"grid manifest {path} is unreadable: {error}") from error
    return frozenset(keys)

"""Whether a grid's end-of-run outputs (tables, figures, results page) are already up to date.

After building them, ``bench run`` stores ``<results>/outputs.json``: a digest of everything
they are built from (the grid's result files and manifest, the pretraining histories, the page
links, the source of ``bench`` and the versions of the plotting and table libraries) and the
SHA-256 of every file under the output folders. A rerun with the same digest whose output files
are all still there and unedited (no file added, removed or changed) reuses them; anything else
rebuilds them. The stamp is written atomically, after the outputs, and removed before a rebuild.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, is_dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import bench
from bench.atomic import atomic_write
from bench.grid.results import result_paths
from bench.training.run_files import HISTORY_NAME

STAMP_NAME = "outputs.json"
OUTPUT_DIRS = ("leaderboards", "figures", "report")
LIBRARIES = ("matplotlib", "numpy", "pandas", "scipy")
_CHUNK = 1 << 20


def inputs_digest(
    results: Path,
    eval_keys: Collection[str],
    manifest: Path,
    links: Any = None,
    extras: Mapping[str, Any] | None = None,
) -> str:
    """SHA-256 of what the outputs of the grid ``eval_keys`` are built from: its result files
    (JSON and predictions), ``manifest``, every pretraining's history, ``links`` (a dataclass
    of URL mappings, or None), ``extras`` (plain data), the ``bench`` source and LIBRARIES."""
    digest = hashlib.sha256()
    files = [manifest]
    for key in sorted(eval_keys):
        files += result_paths(results, key)
    files += sorted((results / "pretrain").glob(f"*/{HISTORY_NAME}"))
    for path in files:
        digest.update(f"{_relative(path, results)}\0{_file_digest(path)}\0".encode())
    document = {
        "links": asdict(links) if is_dataclass(links) else links,
        "extras": dict(extras or {}),
        "source": _source_digest(),
        "libraries": {name: _version(name) for name in LIBRARIES},
    }
    digest.update(json.dumps(document, sort_keys=True, default=sorted).encode())
    return digest.hexdigest()


def fresh_artifacts(results: Path, digest: str) -> dict[str, list[Path]] | None:
    """The stored artifact folders (name -> files) when the stamp holds ``digest`` and every
    output file is as it was written; None when the outputs must be rebuilt."""
    try:
        stamp = json.loads((results / STAMP_NAME).read_text())
        if stamp["inputs"] != digest or stamp["outputs"] != _output_digests(results):
            return None
        return {name: [results / p for p in paths] for name, paths in stamp["artifacts"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def forget_outputs(results: Path) -> None:
    """Remove the stamp: the outputs are about to be rebuilt (a crash leaves none)."""
    (results / STAMP_NAME).unlink(missing_ok=True)


def write_stamp(results: Path, digest: str, artifacts: Mapping[str, Sequence[Path]]) -> Path:
    """Store ``digest``, the output files' digests and ``artifacts`` (folder -> files)."""
    document = {
        "inputs": digest,
        "outputs": _output_digests(results),
        "artifacts": {
            name: [_relative(p, results) for p in paths] for name, paths in artifacts.items()
        },
    }
    blob = json.dumps(document, indent=1, sort_keys=True).encode()
    path = results / STAMP_NAME
    atomic_write(path, lambda handle: handle.write(blob))
    return path


def _output_digests(results: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under the output folders."""
    found: Iterable[Path] = (
        path for name in OUTPUT_DIRS for path in (results / name).rglob("*") if path.is_file()
    )
    return {_relative(path, results): _file_digest(path) for path in sorted(found)}


def _file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes; "absent" when there is no such file."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return "absent"
    return digest.hexdigest()


def _source_digest() -> str:
    """SHA-256 over the ``bench`` package's Python sources (an edit anywhere rebuilds)."""
    root = Path(bench.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(f"{path.relative_to(root).as_posix()}\0".encode() + path.read_bytes())
    return digest.hexdigest()


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _relative(path: Path, results: Path) -> str:
    """``path`` relative to the results folder when under it (POSIX), else as given."""
    try:
        return path.relative_to(results).as_posix()
    except ValueError:
        return path.as_posix()

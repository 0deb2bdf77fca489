"""Checksums of a landed dataset cache: ``checksums.json`` lists the size and SHA-256 of every
file the build wrote; ``read_manifest`` checks them, so a truncated or half-copied cache is
moved aside (``.corrupt-<time>-<name>``, never deleted) and rebuilt instead of being read.

Caches built before checksums existed have no ``checksums.json`` and are read as before.
A folder that passed is not hashed again while its files keep the sizes and modification times
they had then: the state is kept in memory and in ``verified.json`` beside the list, so a warm
load in a new process costs a ``stat`` per file, not a read of the whole cache. ``bench check``
(``thorough=True``) always hashes every file.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.atomic import atomic_write, file_sha256, quarantine
from bench.errors import DiskFullError

CHECKSUMS = "checksums.json"
VERIFIED = "verified.json"

STAMPS = (CHECKSUMS, VERIFIED)

_verified: dict[Path, tuple[tuple[str, int, int], ...]] = {}


def write_checksums(folder: Path) -> None:
    """List every file under ``folder`` (a cache being built) with its size and SHA-256."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in STAMPS)
    listing = {
        str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": file_sha256(p)}
        for p in files
    }
    (folder / CHECKSUMS).write_text(json.dumps(listing, indent=1, sort_keys=True) + "\n")


def checksums_hold(folder: Path) -> bool:
    """True when every listed file of the landed cache ``folder`` matches (or it has no list);
    otherwise the folder is moved aside, the bad file named in the log, and False returned."""
    problem = cache_problem(folder)
    if problem is not None:
        quarantine(folder, f"{problem}; the cache will be rebuilt")
    return problem is None


def cache_problem(folder: Path, thorough: bool = False) -> str | None:
    """What is wrong with the landed cache ``folder`` (a file missing, truncated or altered,
    or an unreadable list), or None when it matches its checksums or has none. ``thorough``
    hashes every file even when its size and modification time match the last verification."""
    listing_path = folder / CHECKSUMS
    if not listing_path.is_file():
        return None
    try:
        listing = json.loads(listing_path.read_text())
        state = tuple((name, *_stat(folder / name)) for name in sorted(listing))
        if not thorough and state in (_verified.get(folder), _stamped_state(folder)):
            return None
        for name, entry in sorted(listing.items()):
            problem = _problem(folder / name, entry)
            if problem:
                return f"{name} {problem}"
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        return f"{CHECKSUMS} is unreadable ({error})"
    _verified[folder] = state
    _stamp(folder, state)
    return None


def _stamped_state(folder: Path) -> tuple[tuple[str, int, int], ...] | None:
    """The file state recorded by the last full verification, if a readable stamp exists."""
    try:
        rows = json.loads((folder / VERIFIED).read_text())
        return tuple((str(name), int(size), int(mtime)) for name, size, mtime in rows)
    except (OSError, ValueError, TypeError):
        return None


def _stamp(folder: Path, state: tuple[tuple[str, int, int], ...]) -> None:
    """Record ``state`` as verified; a read-only cache simply keeps hashing on each load."""
    try:
        atomic_write(folder / VERIFIED, lambda f: f.write(json.dumps(state).encode()))
    except (OSError, DiskFullError):
        return


def _stat(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return -1, -1
    return stat.st_size, stat.st_mtime_ns


def _problem(path: Path, entry: dict[str, object]) -> str | None:
    """Why ``path`` does not match its entry, or None."""
    if not path.is_file():
        return "is missing"
    size = path.stat().st_size
    if size != entry["size"]:
        return f"is truncated or altered ({size} bytes, {entry['size']} when built)"
    if file_sha256(path) != entry["sha256"]:
        return "does not match its checksum"
    return None

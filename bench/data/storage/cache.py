"""Generic prepared-dataset cache: fingerprints, atomic builds, manifests and pruning.

A cache folder is built under a hidden temporary name beside its final name and renamed into
place only when complete, so a folder with the final name is always whole. Any failure or
interrupt removes the temporary folder, and the folders made for it (``cache/<dataset>/``)
when they are left empty.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from bench.data.signals import SignalSet
from bench.data.storage.checksums import checksums_hold, write_checksums
from bench.errors import DataError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
BUILDING_PREFIX = ".building-"
BadRecordPolicy = Literal["error", "skip"]


@dataclass(frozen=True)
class BadRecord:
    """One record that cannot be used, and why."""

    record_id: int
    file: str
    reason: str


class BadRecordsError(DataError):
    """Bad records stopped a build under the "error" policy; the message lists them."""


def skip_advice(dataset: str, root: Path, rate: int | None, options: Mapping[str, str]) -> str:
    """How to go on past bad records: fix them, or build this very cache (the one ``bench run``
    loads) with the ``bench data prepare`` command that drops them."""
    command = ["bench", "data", "prepare", dataset, "--root", str(root)]
    if rate is not None:
        command += ["--rate", str(rate)]
    for name, value in sorted(options.items()):
        command += [f"--{name.replace('_', '-')}", value]
    return (
        "Fix these records, or drop them (each is listed with its reason in the cache's "
        f"manifest.json) by building the cache with:\n  {shlex.join(command)} "
        "--skip-bad-records\nLater loads, bench run's included, reuse that cache."
    )


@dataclass(frozen=True)
class Prepared:
    """A loaded dataset cache: the data, where it lives, whether this call built it, how long
    the call took, and the records dropped when it was built."""

    data: SignalSet
    path: Path
    built: bool
    seconds: float
    skipped: tuple[BadRecord, ...]


@runtime_checkable
class PreparableSource(Protocol):
    """A dataset source whose cache ``bench data prepare`` can build explicitly."""

    def prepare(
        self,
        root: Path | None,
        rate: int | None,
        cache: Path,
        jobs: int | None = None,
        on_bad_record: BadRecordPolicy = "error",
    ) -> Prepared:
        """Reuse or build the cache with ``jobs`` reader processes."""
        ...


def source_fingerprint(
    files: Iterable[Path], folders: Iterable[Path], extra: Mapping[str, Any]
) -> str:
    """Hash of the bytes of ``files``, the (path, size, mtime) of every file under ``folders``
    and the JSON of ``extra``. Folders are only stat'ed, so this stays fast on many records."""
    digest = hashlib.sha256(json.dumps(extra, sort_keys=True).encode())
    for path in files:
        digest.update(f"\0file {path.name} {file_sha256(path)}".encode())
    for folder in folders:
        entries = sorted(_walk_stats(str(folder), ""))
        digest.update(f"\0folder {folder.name}\0".encode())
        digest.update("\n".join(f"{p}\t{s}\t{m}" for p, s, m in entries).encode())
    return digest.hexdigest()


def _walk_stats(folder: str, prefix: str) -> Iterator[tuple[str, int, int]]:
    """(path relative to the walk's start, size, mtime_ns) of every file below ``folder``."""
    with os.scandir(folder) as entries:
        for entry in entries:
            relative = prefix + entry.name
            if entry.is_dir(follow_symlinks=True):
                yield from _walk_stats(entry.path, relative + "/")
            else:
                stat = entry.stat()
                yield relative, stat.st_size, stat.st_mtime_ns


@contextmanager
def building(final: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final``; rename it to ``final`` on success.

    On any exception (KeyboardInterrupt included) the temporary folder is removed. If another
    process landed ``final`` first, this build is discarded and the existing folder kept.
    """
    made = make_folder(final.parent)
    temp = Path(tempfile.mkdtemp(prefix=f"{BUILDING_PREFIX}{final.name}-", dir=final.parent))
    temp.chmod(0o755)  # mkdtemp makes it private; the landed cache is an ordinary folder
    try:
        yield temp
        write_checksums(temp)
        try:
            os.replace(temp, final)
        except OSError:
            if not (final / MANIFEST).is_file():
                raise
            log.info("%s was built concurrently by another process; keeping that one", final)
            shutil.rmtree(temp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        remove_empty(made)
        raise


def make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` with its parents; returns the folders this made, deepest first."""
    made = []
    missing = folder
    while not missing.exists() and missing != missing.parent:
        made.append(missing)
        missing = missing.parent
    folder.mkdir(parents=True, exist_ok=True)
    return made


def remove_empty(folders: Iterable[Path]) -> None:
    """Remove each of ``folders`` (deepest first) that is empty; stop at the first that is not."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented JSON through a temporary file and a rename."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temp, path)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a landed cache folder, or None if it is absent or unreadable (or the
    folder fails its checksums: then it is moved aside, see ``bench.data.storage.checksums``)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if checksums_hold(folder) else None


def is_built(folder: Path, fingerprint: str) -> bool:
    """Whether the landed cache in ``folder`` was built from source ``fingerprint``."""
    manifest = read_manifest(folder)
    return manifest is not None and manifest.get("source_fingerprint") == fingerprint


def prune_siblings(keep: Path, prefix: str) -> list[Path]:
    """Remove folders beside ``keep`` whose name starts with ``prefix`` (older builds of the
    same kind); returns what was removed."""
    removed = []
    for sibling in keep.parent.iterdir():
        if sibling != keep and sibling.is_dir() and sibling.name.startswith(prefix):
            shutil.rmtree(sibling, ignore_errors=True)
            removed.append(sibling)
    return removed


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed version of each package name ('not installed' where absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()

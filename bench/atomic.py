"""Atomic, checksummed file writes: a reader sees the old file or the whole new one, never a part.

Every write goes to a temporary file in the target's folder, is flushed to disk and renamed
over the target (the filesystem must rename atomically: local disks, NFS v4 or better).
``write_checked`` also lands a sidecar manifest ``<name>.sha256.json`` with the file's size and
SHA-256, which ``verify_checked`` compares; ``quarantine`` moves a corrupt file or folder aside
(never deletes it). A disk that fills up during a write raises DiskFullError naming the folder,
and no temporary file is left behind.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from bench.errors import CorruptFileError, DiskFullError

log = logging.getLogger(__name__)

CHECKSUM_SUFFIX = ".sha256.json"
CORRUPT_MARK = "corrupt-"
KEPT_DIGESTS = 3  # a sidecar accepts the last few versions: it lands just before its file
_FULL = (errno.ENOSPC, errno.EDQUOT)


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> str:
    """Write through a temporary file in the same folder, then rename it over ``path``.

    Returns the SHA-256 (hex) of the bytes written. On any failure the temporary file is
    removed and ``path`` is left as it was; a full disk raises DiskFullError.
    """
    temp, digest = _write_temp(path, write)
    with _cleanup(temp, path):
        os.replace(temp, path)
    return digest


def write_checked(path: Path, write: Callable[[IO[bytes]], object]) -> str:
    """``atomic_write`` plus the sidecar manifest that ``verify_checked`` reads; returns the
    SHA-256. The sidecar lands first and still accepts the previous version, so a crash
    between the two renames leaves a pair that verifies."""
    temp, digest = _write_temp(path, write)
    with _cleanup(temp, path):
        sidecar = checksum_path(path)
        previous = _read_sidecar(sidecar).get("accepts", []) if sidecar.is_file() else []
        manifest = {
            "file": path.name,
            "size": temp.stat().st_size,
            "sha256": digest,
            "accepts": [digest, *[d for d in previous if d != digest]][:KEPT_DIGESTS],
        }
        blob = json.dumps(manifest, indent=1).encode()
        atomic_write(sidecar, lambda handle: handle.write(blob))
        os.replace(temp, path)
    return digest


def verify_checked(path: Path) -> bool:
    """True when ``path`` matches its sidecar, False when it has none (written before
    checksums: accepted unverified); CorruptFileError naming the file when it does not match."""
    sidecar = checksum_path(path)
    if not sidecar.is_file():
        return False
    manifest = _read_sidecar(sidecar)
    accepts = manifest.get("accepts") or [manifest.get("sha256")]
    check_digest(path, accepts, manifest.get("size") if len(accepts) == 1 else None)
    return True


def check_digest(path: Path, accepts: list[str] | str, size: int | None = None) -> None:
    """CorruptFileError naming ``path`` unless its SHA-256 is (one of) ``accepts``."""
    expected = [accepts] if isinstance(accepts, str) else list(accepts)
    try:
        actual_size = path.stat().st_size
        if size is not None and actual_size != size:
            raise CorruptFileError(
                f"{path} is truncated or altered: {actual_size} bytes, its checksum record "
                f"says {size}"
            )
        digest = file_sha256(path)
    except OSError as error:
        raise CorruptFileError(f"cannot read {path} to verify its checksum: {error}") from error
    if digest not in expected:
        raise CorruptFileError(
            f"{path} does not match its checksum (sha256 {digest[:12]}..., recorded "
            f"{expected[0][:12]}...): truncated or altered"
        )


def checksum_path(path: Path) -> Path:
    """The sidecar manifest of ``path``."""
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def quarantine(path: Path, reason: str) -> Path | None:
    """Move a corrupt file (with its sidecar) or folder aside, never deleting it; returns
    where it went (None when it is already gone). A file becomes ``<name>.corrupt-<time>``,
    a folder ``.corrupt-<time>-<name>`` (hidden, so cache lookups and pruning skip it)."""
    stamp = f"{CORRUPT_MARK}{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(2)}"
    folder = path.is_dir()
    target = path.with_name(f".{stamp}-{path.name}" if folder else f"{path.name}.{stamp}")
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    sidecar = checksum_path(path)
    if not folder and sidecar.is_file():
        os.replace(sidecar, checksum_path(target))
    log.warning("%s is corrupt (%s); moved aside to %s", path, reason, target.name)
    return target


def is_quarantined(path: Path) -> bool:
    """Whether ``path`` is a file or folder that ``quarantine`` moved aside."""
    return f".{CORRUPT_MARK}" in path.name or path.name.startswith(f".{CORRUPT_MARK}")


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is the disk or quota running out."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _FULL:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _write_temp(path: Path, write: Callable[[IO[bytes]], object]) -> tuple[Path, str]:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    with _cleanup(temp, path):
        with open(temp, "xb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        return temp, file_sha256(temp)


@contextmanager
def _cleanup(temp: Path, path: Path) -> Iterator[None]:
    """Remove ``temp`` on any failure; a full disk becomes DiskFullError naming the folder."""
    try:
        yield
    except BaseException as error:
        temp.unlink(missing_ok=True)
        if is_disk_full(error) and not isinstance(error, DiskFullError):
            raise DiskFullError(
                f"no space left on the device of {path.parent} while writing {path.name} "
                "(nothing was left half-written): free space there, or point BENCH_RESULTS / "
                "BENCH_CACHE_DIR at another disk, then rerun to continue"
            ) from error
        raise


def _read_sidecar(sidecar: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(sidecar.read_text())
        if not isinstance(manifest, dict) or not manifest.get("sha256"):
            raise ValueError("no sha256 field")
        return manifest
    except (OSError, ValueError) as error:
        raise CorruptFileError(f"checksum manifest {sidecar} is unreadable: {error}") from error

"""Dataset-cache checksums: a warm load in a new process stats the files instead of hashing
them, a file changed since the last verification is hashed again, ``bench check`` always is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.data.storage import checksums
from bench.data.storage.cache import building, read_manifest


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    final = tmp_path / "cache" / "ds" / "100hz-abc"
    with building(final) as temp:
        (temp / "signals.npy").write_bytes(bytes(range(256)) * 64)
        (temp / "manifest.json").write_text("{}")
    return final


def hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every file hashed from now on, in a fresh process's state (no memo)."""
    monkeypatch.setattr(checksums, "_verified", {})
    seen: list[Path] = []
    real = checksums.file_sha256
    monkeypatch.setattr(checksums, "file_sha256", lambda p: seen.append(p) or real(p))
    return seen


def test_a_verified_cache_is_not_hashed_again_on_a_warm_load(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = hashes(monkeypatch)
    assert read_manifest(cache) == {} and len(first) == 2  # full check, then the stamp
    assert (cache / checksums.VERIFIED).is_file()
    later = hashes(monkeypatch)
    assert read_manifest(cache) == {} and later == []


def test_a_file_changed_since_verification_is_hashed_and_caught(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert read_manifest(cache) == {}
    signals = cache / "signals.npy"
    data = bytearray(signals.read_bytes())
    data[100] ^= 0xFF  # same size: only the hash can tell
    signals.write_bytes(bytes(data))
    stat = signals.stat()
    os.utime(signals, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    seen = hashes(monkeypatch)
    assert read_manifest(cache) is None and seen and not cache.exists()


def test_bench_check_hashes_every_file_even_when_stamped(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert read_manifest(cache) == {}
    seen = hashes(monkeypatch)
    assert checksums.cache_problem(cache, thorough=True) is None and len(seen) == 2

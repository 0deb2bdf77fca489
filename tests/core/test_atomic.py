"""Atomic and checksummed writes, quarantine, a full disk, and the SQL schema race."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import sqlalchemy.exc

from bench import atomic, schema_race
from bench.atomic import (
    atomic_write,
    checksum_path,
    quarantine,
    verify_checked,
    write_checked,
)
from bench.errors import CorruptFileError, DiskFullError


def test_checked_write_verifies_and_a_truncated_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    digest = write_checked(path, lambda handle: handle.write(b"x" * 1000))
    assert len(digest) == 64 and verify_checked(path) is True
    path.write_bytes(b"x" * 400)
    with pytest.raises(CorruptFileError, match=r"data\.bin .*truncated"):
        verify_checked(path)
    legacy = tmp_path / "legacy.bin"
    legacy.write_bytes(b"old")
    assert verify_checked(legacy) is False  # no sidecar: accepted unverified


def test_sidecar_accepts_the_previous_version_while_the_new_one_lands(tmp_path: Path) -> None:
    path = tmp_path / "ckpt"
    write_checked(path, lambda handle: handle.write(b"first"))
    write_checked(path, lambda handle: handle.write(b"second"))
    path.write_bytes(b"first")  # as after a crash between the sidecar's and the file's rename
    assert verify_checked(path) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "ckpt.sha256.json"]


def test_quarantine_moves_aside_never_deletes(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    write_checked(path, lambda handle: handle.write(b"payload"))
    moved = quarantine(path, "test")
    assert moved is not None and moved.read_bytes() == b"payload" and not path.exists()
    assert moved.name.startswith("bad.npz.corrupt-") and checksum_path(moved).is_file()
    folder = tmp_path / "100hz-abc"
    folder.mkdir()
    moved_folder = quarantine(folder, "test")
    assert moved_folder is not None and moved_folder.name.startswith(".corrupt-")
    assert quarantine(tmp_path / "gone", "test") is None


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_leaves_no_partial_file_and_names_the_folder(tmp_path: Path, code: int) -> None:
    path = tmp_path / "out" / "result.json"
    path.parent.mkdir()
    atomic_write(path, lambda handle: handle.write(b"old"))

    def half_then_full(handle: object) -> None:
        handle.write(b"new-")  # type: ignore[attr-defined]
        raise OSError(code, "No space left on device")

    for write in (atomic_write, write_checked):
        with pytest.raises(DiskFullError, match=rf"{path.parent}.*result\.json"):
            write(path, half_then_full)
        assert path.read_bytes() == b"old"
        assert sorted(p.name for p in path.parent.iterdir()) == ["result.json"]


def test_schema_race_is_retried_and_other_errors_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_race.time, "sleep", lambda seconds: None)
    command_error = type("CommandError", (RuntimeError,), {})  # alembic's, by name
    alembic = command_error("Online migration expected to match one row when updating ... 0 found")
    races = [
        sqlalchemy.exc.OperationalError("ALTER", {}, Exception("duplicate column name: step")),
        alembic,
    ]
    calls = []

    def opening() -> str:
        calls.append(1)
        if races:
            raise races.pop(0)
        return "store"

    assert schema_race.retry_schema_race(opening, "sqlite:///:memory:") == "store"
    assert len(calls) == 3
    with pytest.raises(ValueError):
        schema_race.retry_schema_race(_raise(ValueError("bad url")), "x")
    locked = sqlalchemy.exc.OperationalError("X", {}, Exception("database is locked"))
    with pytest.raises(sqlalchemy.exc.OperationalError):
        schema_race.retry_schema_race(_raise(locked), "x", attempts=3)


def _raise(error: Exception):  # type: ignore[no-untyped-def]
    def opening() -> None:
        raise error

    return opening


def test_sqlite_lock_serialises_openers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with schema_race.sqlite_lock(url):
        assert (tmp_path / "store.db.lock").is_file()
    with schema_race.sqlite_lock("postgresql://host/db"):
        pass
    assert atomic.is_quarantined(tmp_path / "x.json.corrupt-20260101T000000-ab")

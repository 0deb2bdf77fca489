"""`bench data download`: fails fast offline, and unpacks + verifies an archive served locally."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.data.download import download, verify_checksums
from bench.data.loading import DATASETS
from bench.errors import DataError

PTBXL = type(DATASETS.get("ptbxl"))
UNREACHABLE = "http://127.0.0.1:9/ptb-xl-1.0.3.zip"


def test_unreachable_server_fails_at_once_with_instructions(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(PTBXL, "archive_url", UNREACHABLE)
    start = time.perf_counter()
    with pytest.raises(DataError) as caught:
        download("ptbxl", tmp_path / "dest")
    assert time.perf_counter() - start < 3
    message = str(caught.value)
    assert UNREACHABLE in message
    assert "https://physionet.org/content/ptb-xl/1.0.3/" in message
    assert "--data-root" in message and "BENCH_PTBXL_ROOT" in message
    assert not (tmp_path / "dest").exists()
    assert list(tmp_path.iterdir()) == []


def write_archive(fake_root: Path, archive: Path, corrupt: bool = False) -> None:
    """Zip ``fake_root`` under a top folder, with a SHA256SUMS.txt of its files."""
    files = sorted(p for p in fake_root.rglob("*") if p.is_file())
    sums = []
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if corrupt and path.suffix == ".dat":
            digest = "0" * 64
        sums.append(f"{digest} {path.relative_to(fake_root).as_posix()}")
    with zipfile.ZipFile(archive, "w") as handle:
        for path in files:
            handle.write(path, f"ptb-xl-1.0.3/{path.relative_to(fake_root).as_posix()}")
        handle.writestr("ptb-xl-1.0.3/SHA256SUMS.txt", "\n".join(sums) + "\n")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1, and its base URL."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


def test_download_unpacks_verifies_and_gives_a_usable_root(
    fake_ptbxl, served, tmp_path, monkeypatch
) -> None:
    folder, base = served
    fake = fake_ptbxl(n_records=3)
    write_archive(fake.root, folder / "ptbxl.zip")
    monkeypatch.setattr(PTBXL, "archive_url", f"{base}/ptbxl.zip")
    dest = download("ptbxl", tmp_path / "downloaded")
    assert (dest / "ptbxl_database.csv").is_file()
    data = DATASETS.get("ptbxl").load(dest, 100, tmp_path / "cache")
    assert len(data.signals) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".download")] == []


def test_checksum_mismatch_leaves_nothing(fake_ptbxl, served, tmp_path, monkeypatch) -> None:
    folder, base = served
    fake = fake_ptbxl(n_records=2)
    write_archive(fake.root, folder / "ptbxl.zip", corrupt=True)
    monkeypatch.setattr(PTBXL, "archive_url", f"{base}/ptbxl.zip")
    with pytest.raises(DataError, match=r"2 downloaded files fail SHA256SUMS.txt: .*00001_lr.dat"):
        download("ptbxl", tmp_path / "downloaded")
    assert not (tmp_path / "downloaded").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".download")] == []


def test_missing_file_fails_verification(tmp_path) -> None:
    (tmp_path / "a.txt").write_text("a")
    digest = hashlib.sha256(b"a").hexdigest()
    (tmp_path / "SHA256SUMS.txt").write_text(f"{digest} a.txt\n{digest} b.txt\n")
    with pytest.raises(DataError, match=r"1 downloaded files fail .*b.txt \(missing\)"):
        verify_checksums(tmp_path)
    (tmp_path / "SHA256SUMS.txt").write_text(f"{digest} a.txt\n")
    verify_checksums(tmp_path)


def test_non_empty_destination_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(PTBXL, "archive_url", UNREACHABLE)
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="exists and is not empty"):
        download("ptbxl", tmp_path / "dest")
    assert (tmp_path / "dest" / "keep.txt").read_text() == "mine"

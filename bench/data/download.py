"""Download a dataset's official archive where the internet is reachable.

The archive is streamed to a temporary file, unpacked into a temporary folder beside the
destination, checked against the dataset's SHA256SUMS.txt when it has one, and only then renamed
into place. Offline, the first connection attempt fails within CONNECT_TIMEOUT seconds with a
DataError explaining how to download by hand and point the suite at the copy.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlsplit

from tqdm import tqdm

from bench.data.loading import DATASETS
from bench.data.storage.cache import file_sha256
from bench.errors import DataError
from bench.paths import dataset_root_env

CONNECT_TIMEOUT = 5.0  # seconds to open the connection
READ_TIMEOUT = 60.0  # seconds without data before a running download gives up
CHECKSUMS = "SHA256SUMS.txt"
BLOCK = 1 << 20


def default_destination(dataset: str) -> Path:
    """Where downloads go without --dest: $XDG_CACHE_HOME (or ~/.cache)/ecg-ssl-bench/<name>."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ecg-ssl-bench" / dataset


def download(dataset: str, dest: Path | None = None) -> Path:
    """Download and unpack ``dataset``'s official archive into ``dest``; returns ``dest``."""
    source = DATASETS.get(dataset)
    dest = (dest or default_destination(dataset)).expanduser()
    url = source.archive_url
    manual = (
        f"Download it by hand from {source.download_page or 'its official page'}, unpack it, "
        f"and pass --data-root PATH or set {dataset_root_env(dataset)}=PATH"
    )
    if not url:
        raise DataError(f"{dataset} has no automatic download. {manual}")
    if dest.exists() and any(dest.iterdir()):
        raise DataError(f"download destination {dest} exists and is not empty; choose --dest")
    try:
        _check_reachable(url)
    except OSError as error:
        raise DataError(f"cannot reach {url} ({error}). {manual}") from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".download-{dest.name}-", dir=dest.parent))
    try:
        archive = work / "archive.zip"
        try:
            _fetch(url, archive)
        except (OSError, URLError) as error:
            raise DataError(f"download of {url} failed ({error}). {manual}") from None
        unpacked = _unpack(archive, work / "unpacked")
        verify_checksums(unpacked)
        if dest.exists():
            dest.rmdir()
        os.replace(unpacked, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest


def _check_reachable(url: str) -> None:
    """Open (and close) a TCP connection to the server, or to the proxy that would be used."""
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urlsplit(proxy)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT).close()


def _fetch(url: str, target: Path) -> None:
    with urllib.request.urlopen(url, timeout=READ_TIMEOUT) as response, target.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {url}") as bar:
            while block := response.read(BLOCK):
                out.write(block)
                bar.update(len(block))


def _unpack(archive: Path, target: Path) -> Path:
    """Extract ``archive``; returns the dataset folder (its single top folder, if it has one)."""
    try:
        with zipfile.ZipFile(archive) as handle:
            handle.extractall(target)
    except zipfile.BadZipFile as error:
        raise DataError(f"downloaded archive is not a valid zip file: {error}") from None
    entries = list(target.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else target


def verify_checksums(folder: Path) -> None:
    """Check every file listed in ``folder``/SHA256SUMS.txt (if present) against its hash."""
    sums = folder / CHECKSUMS
    if not sums.is_file():
        return
    bad = []
    for line in sums.read_text(encoding="utf-8").splitlines():
        expected, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*")
        if not name:
            continue
        path = folder / name
        if not path.is_file():
            bad.append(f"{name} (missing)")
        elif file_sha256(path) != expected.lower():
            bad.append(f"{name} (checksum mismatch)")
    if bad:
        shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise DataError(f"{len(bad)} downloaded files fail {CHECKSUMS}: {shown}")

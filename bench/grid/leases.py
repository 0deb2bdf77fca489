"""Leases: which runner holds a cell or a pretraining, on a folder every runner shares.

A lease is a small JSON file ``<results>/leases/<name>.lease`` (holder id, host, pid, time)
created exclusively: written under a temporary name, then hard-linked to its final name, which
fails when the name exists, so a lease is whole the moment it appears. Its holder's heartbeat
thread touches it every ``heartbeat_s``. A lease untouched for ``timeout_s``, or whose holder
process is gone (same host), is stale: a taker renames it to a name of its own (only one rename
succeeds), checks it took the stale lease and not a fresh one, and creates its own. Leases are
released (deleted) when the work ends, whether it finished or failed.

Needs a filesystem with atomic rename and exclusive create (hard links): local disks, NFS v4
or better; hosts' clocks in sync (NTP), since staleness compares a lease's mtime with now.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from bench.grid.results import check_key

log = logging.getLogger(__name__)

LEASES_DIR = "leases"
SUFFIX = ".lease"
HEARTBEAT_S = 10.0
TIMEOUT_S = 60.0
POLL_S = 1.0


@dataclass(frozen=True)
class LeaseInfo:
    """What a lease file says, and how long ago it was last touched."""

    path: Path
    holder: str
    host: str
    pid: int
    age_s: float


def lease_folder(results: Path) -> Path:
    """Where the leases of a results folder live."""
    return results / LEASES_DIR


def read_lease(path: Path) -> LeaseInfo | None:
    """The lease at ``path``; None when it is gone. An unreadable one has holder "?"."""
    try:
        age = time.time() - path.stat().st_mtime
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return LeaseInfo(path, "?", "?", -1, 0.0)
    try:
        data = json.loads(text)
        return LeaseInfo(path, str(data["holder"]), str(data["host"]), int(data["pid"]), age)
    except (ValueError, KeyError, TypeError):
        return LeaseInfo(path, "?", "?", -1, age)


def stale_reason(info: LeaseInfo, timeout_s: float = TIMEOUT_S) -> str | None:
    """Why ``info``'s holder is gone (no heartbeat for ``timeout_s``, or its process ended on
    this host), or None while it may be alive."""
    if info.age_s > timeout_s:
        return f"no heartbeat for {info.age_s:.0f} s"
    if info.host == socket.gethostname() and info.pid > 0 and not _alive(info.pid):
        return f"process {info.pid} on {info.host} has ended"
    return None


def list_leases(results: Path) -> list[LeaseInfo]:
    """Every lease under ``results``."""
    folder = lease_folder(results)
    paths = sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []
    return [info for info in map(read_lease, paths) if info is not None]


class Holder:
    """One runner's leases in a results folder, kept alive by a heartbeat thread."""

    def __init__(
        self, results: Path, timeout_s: float = TIMEOUT_S, heartbeat_s: float = HEARTBEAT_S
    ):
        self.folder = lease_folder(results)
        self.timeout_s = timeout_s
        self.heartbeat_s = heartbeat_s
        self.host = socket.gethostname()
        self.id = f"{self.host}:{os.getpid()}:{secrets.token_hex(4)}"
        self._held: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def try_acquire(self, name: str) -> bool:
        """Take lease ``name`` unless a live holder has it (a stale one is taken over)."""
        path = self.folder / f"{check_key(name)}{SUFFIX}"
        for _ in range(4):
            if self._create(path):
                with self._lock:
                    self._held[name] = path
                self._start_heartbeat()
                return True
            info = read_lease(path)
            if info is None:
                continue  # released meanwhile: try again
            if info.holder == self.id:
                return True
            reason = stale_reason(info, self.timeout_s)
            if reason is None or not self._take_over(path, info):
                return False
            log.warning("took over lease %s from %s (%s)", name, info.holder, reason)
        return False

    def acquire(self, name: str, poll_s: float = POLL_S) -> None:
        """Take lease ``name``, waiting while a live holder has it."""
        waited = False
        while not self.try_acquire(name):
            if not waited:
                log.info("waiting for %s, held by another runner", name)
                waited = True
            time.sleep(poll_s)

    @contextmanager
    def hold(self, name: str, poll_s: float = POLL_S) -> Iterator[None]:
        """Hold lease ``name`` (waiting for it) for the block, released however it ends."""
        self.acquire(name, poll_s)
        try:
            yield
        finally:
            self.release(name)

    def held_elsewhere(self, name: str) -> LeaseInfo | None:
        """The lease ``name`` when another live holder has it, else None."""
        info = read_lease(self.folder / f"{check_key(name)}{SUFFIX}")
        if info is None or info.holder == self.id or stale_reason(info, self.timeout_s):
            return None
        return info

    def release(self, name: str) -> None:
        """Give lease ``name`` back (deleted only while it is still this holder's)."""
        with self._lock:
            path = self._held.pop(name, None)
        if path is None:
            return
        info = read_lease(path)
        if info is not None and info.holder == self.id:
            path.unlink(missing_ok=True)
        elif info is not None:
            log.warning("lease %s was taken over by %s meanwhile", path.name, info.holder)

    def close(self) -> None:
        """Release every lease and stop the heartbeat."""
        for name in list(self._held):
            self.release(name)
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=self.heartbeat_s + 1)
            self._beat = None
        self._stop.clear()

    def beat(self) -> None:
        """Touch every held lease now (the heartbeat thread calls this)."""
        with self._lock:
            held = list(self._held.items())
        for name, path in held:
            info = read_lease(path)
            if info is None or info.holder != self.id:
                with self._lock:
                    lost = self._held.pop(name, None) is not None  # not just released
                if lost:
                    log.warning("lost lease %s (taken over as stale); another may redo it", name)
                continue
            with suppress(FileNotFoundError):
                os.utime(path)

    def _create(self, path: Path) -> bool:
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        record = {"holder": self.id, "host": self.host, "pid": os.getpid(), "since": time.time()}
        temp.write_text(json.dumps(record))
        try:
            os.link(temp, path)
            return True
        except FileExistsError:
            return False
        finally:
            temp.unlink(missing_ok=True)

    def _take_over(self, path: Path, stale: LeaseInfo) -> bool:
        """Rename the stale lease out of the way; False if what moved was a fresh one (put
        back) or another taker was first."""
        grave = path.with_name(f".{path.name}.taken-{secrets.token_hex(4)}")
        try:
            os.rename(path, grave)
        except FileNotFoundError:
            return True  # another taker was first: compete for the free name
        moved = read_lease(grave)
        if moved is not None and moved.holder != stale.holder:
            with suppress(FileExistsError):
                os.link(grave, path)
            grave.unlink(missing_ok=True)
            return False
        grave.unlink(missing_ok=True)
        return True

    def _start_heartbeat(self) -> None:
        if self._beat is None:
            self._beat = threading.Thread(target=self._run_heartbeat, daemon=True)
            self._beat.start()

    def _run_heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            self.beat()

    def __enter__(self) -> Holder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that ended but was not reaped yet (Linux /proc; False elsewhere)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False

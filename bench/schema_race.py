"""Opening a new SQL database from several processes at once: the schema race, retried.

Processes that open a new database at the same moment (Optuna workers, two ``bench run`` on one
MLflow SQLite store) race to create its tables; the losers see "table ... already exists",
"duplicate column name", a duplicate alembic row, "database is locked" or alembic's "Online
migration expected to match one row". Retried after a short wait, by which time the winner has
finished, the open succeeds. A loser can also leave a half-done migration behind (alembic's
``_alembic_tmp_*`` tables on SQLite) that no retry repairs, so a SQLite file is opened under
an exclusive lock (``<file>.lock``, POSIX record locks: local disks and NFS v4) as well.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

SCHEMA_RACE_ATTEMPTS = 8
SCHEMA_RACE_WAIT_S = 0.25  # times the attempt number: 7 s over all attempts
RACE_ERRORS = ("OperationalError", "CommandError", "MlflowException")
RACE_MESSAGES = (
    "already exists",
    "database is locked",
    "duplicate column name",
    "expected to match one row",
    "unique constraint failed",
)


def lost_schema_race(error: BaseException) -> bool:
    """Whether ``error`` (or its cause) is what a process sees while another creates the schema."""
    seen: BaseException | None = error
    while seen is not None:
        if type(seen).__name__ == "IntegrityError":
            return True
        racing = any(message in str(seen).lower() for message in RACE_MESSAGES)
        if racing and type(seen).__name__ in RACE_ERRORS:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_schema_race(
    open_store: Callable[[], T],
    url: str,
    attempts: int = SCHEMA_RACE_ATTEMPTS,
    wait_s: float = SCHEMA_RACE_WAIT_S,
) -> T:
    """``open_store()`` under ``sqlite_lock(url)``, called again (after ``wait_s`` times the
    attempt) while it fails with a lost schema race, at most ``attempts`` times; any other
    error is raised at once."""
    attempt = 1
    while True:
        try:
            with sqlite_lock(url):
                return open_store()
        except Exception as error:
            if attempt >= attempts or not lost_schema_race(error):
                raise
        time.sleep(wait_s * attempt)
        attempt += 1


@contextmanager
def sqlite_lock(url: str) -> Iterator[None]:
    """An exclusive lock on ``<file>.lock`` beside the SQLite file of ``url`` (released when the
    block ends or the process dies); nothing for other databases."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or ":memory:" in url:
        yield
        return
    path = Path(url[len(prefix) :].split("?")[0])
    if not path.parent.is_dir():  # the open itself reports the missing folder
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(handle, fcntl.LOCK_UN)

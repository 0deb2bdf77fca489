"""Provenance of a cell: the code version (git), package versions, data, time and machine."""

from __future__ import annotations

import functools
import platform
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Provenance:
    """Where a result came from: code version, packages, data, time and machine."""

    git_sha: str | None
    git_dirty: bool | None  # uncommitted changes to tracked files when the cell ran
    package_versions: dict[str, str]
    data_fingerprint: str
    created: str  # ISO 8601, UTC
    host: str
    python: str
    folds: dict[str, Any] = field(default_factory=dict)  # how folds were made; {} = official


PROVENANCE_PACKAGES = (
    "ecg-ssl-bench",
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "torch",
    "timm",
    "wfdb",
)


def collect_provenance(
    data_fingerprint: str,
    packages: Sequence[str] = PROVENANCE_PACKAGES,
    folds: Mapping[str, Any] | None = None,
) -> Provenance:
    """Provenance of a cell run now, from this process and the suite's git checkout;
    ``folds`` is the dataset's fold spec (empty for official folds)."""
    sha, dirty = _git_state()
    return Provenance(
        git_sha=sha,
        git_dirty=dirty,
        package_versions=_package_versions(tuple(packages)),
        data_fingerprint=data_fingerprint,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        host=socket.gethostname(),
        python=platform.python_version(),
        folds=dict(folds or {}),
    )


@functools.lru_cache(maxsize=4)
def _package_versions(packages: tuple[str, ...]) -> dict[str, str]:
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _git_state() -> tuple[str | None, bool | None]:
    """(HEAD commit, dirty) of the checkout holding this package; (None, None) outside git."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    try:
        sha = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None, None
    return sha, dirty

"""Stable hashes of plain data: the run keys that name a unit of work, so nothing is computed twice.

A key is the first 12 hex digits of the SHA-256 of a canonical JSON document (sorted keys, no
whitespace, plain data only), so the same inputs give the same key in every process, on every
machine and across Python versions. Every stage that keys something (pretrainings, grid cells,
embedding caches, grid manifests) hashes through here.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bench import __version__

KEY_LENGTH = 12
MAJOR_VERSION = __version__.split(".")[0]
"""Bumping the package's major version invalidates every stored key on purpose."""


def stable_hash(document: Any) -> str:
    """First ``KEY_LENGTH`` hex digits of the SHA-256 of ``document`` as canonical JSON."""
    blob = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:KEY_LENGTH]

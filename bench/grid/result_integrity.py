"""Checksums inside result records: a cell's JSON carries the SHA-256 of its own content and of
its predictions file, so a truncated or altered file is found, not taken as finished.

Records written before checksums existed have no ``integrity`` field; they are read as before
(valid unless they fail to parse), so a finished grid from older code is still skipped.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from bench.atomic import check_digest
from bench.errors import CorruptFileError

INTEGRITY_FIELD = "integrity"


def content_sha256(document: dict[str, Any]) -> str:
    """SHA-256 of a record's fields (the integrity field left out) as canonical JSON."""
    plain = {k: v for k, v in document.items() if k != INTEGRITY_FIELD}
    blob = json.dumps(plain, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def seal(document: dict[str, Any], predictions_sha256: str | None) -> dict[str, Any]:
    """``document`` with its integrity field: its content checksum and its predictions'."""
    integrity = {"content_sha256": content_sha256(document)}
    if predictions_sha256 is not None:
        integrity["predictions_sha256"] = predictions_sha256
    return {**document, INTEGRITY_FIELD: integrity}


def unseal(document: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """Pop and check the integrity field of a parsed record (CorruptFileError naming ``path``
    when the content does not match); returns it, or None for a record without one."""
    integrity = document.pop(INTEGRITY_FIELD, None)
    if integrity is None:
        return None
    if not isinstance(integrity, dict) or "content_sha256" not in integrity:
        raise CorruptFileError(f"result file {path} has a malformed integrity field")
    if content_sha256(document) != integrity["content_sha256"]:
        raise CorruptFileError(f"result file {path} does not match its checksum: altered")
    return integrity


def check_predictions(path: Path, integrity: dict[str, Any] | None) -> None:
    """CorruptFileError unless the predictions file matches its record's checksum (a record
    without one is not checked here: the file is parsed when it is read)."""
    if integrity is not None and integrity.get("predictions_sha256"):
        check_digest(path, integrity["predictions_sha256"])


def parse_sealed(text: str, path: Path) -> dict[str, Any]:
    """A result JSON's fields with its checksum checked and removed (CorruptFileError naming
    ``path`` when it is truncated or altered; a record without a checksum is taken as parsed)."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise CorruptFileError(f"result file {path} is truncated or corrupt: {error}") from error
    if not isinstance(data, dict):
        raise CorruptFileError(f"result file {path} does not hold a JSON object")
    unseal(data, path)
    return data


def stored_integrity(path: Path) -> dict[str, Any] | None:
    """The integrity field of the result JSON at ``path`` (None when it has none)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CorruptFileError(f"result file {path} is unreadable: {error}") from error
    integrity = data.get(INTEGRITY_FIELD) if isinstance(data, dict) else None
    return integrity if isinstance(integrity, dict) else None

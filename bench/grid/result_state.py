"""What a cell's result files say: ok, failed, corrupt or absent; corrupt ones moved aside.

Readers verify before they trust: the record's own checksum, then its predictions (their
checksum, or for records written before checksums, that they load). A corrupt pair is moved
aside (``<name>.corrupt-<time>``, never deleted) so the cell is pending again and the next run
redoes it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from bench.atomic import quarantine
from bench.errors import CorruptFileError
from bench.grid.result_integrity import parse_sealed
from bench.grid.results import ResultFileError, load_predictions, result_paths

log = logging.getLogger(__name__)

State = Literal["ok", "failed", "corrupt", "absent"]


def result_state(results_dir: str | Path, eval_key: str) -> tuple[State, str]:
    """(state, why) of a cell's result files; ``why`` names the bad file when corrupt."""
    json_path, _ = result_paths(results_dir, eval_key)
    try:
        text = json_path.read_text()
    except FileNotFoundError:
        return "absent", ""
    except (OSError, UnicodeDecodeError) as error:
        return "corrupt", f"cannot read {json_path}: {error}"
    try:
        status = parse_sealed(text, json_path).get("status")
        if status == "ok":
            load_predictions(results_dir, eval_key)
    except (CorruptFileError, ResultFileError) as error:
        return "corrupt", str(error)
    return ("ok", "") if status == "ok" else ("failed", "")


def settle_corrupt(results_dir: str | Path, eval_key: str) -> State:
    """The cell's state after moving a corrupt result aside (then "absent": redo it).

    A result being rewritten at this moment (its JSON changed since it was checked) is left
    alone and reported "absent", so a concurrent writer is never disturbed.
    """
    json_path, npz_path = result_paths(results_dir, eval_key)
    state, why = result_state(results_dir, eval_key)
    if state != "corrupt":
        return state
    seen = _read(json_path)
    state, why = result_state(results_dir, eval_key)
    if state != "corrupt" or _read(json_path) != seen:
        return "absent" if state == "corrupt" else state
    reason = why.replace(str(json_path), json_path.name).replace(str(npz_path), npz_path.name)
    if seen is not None:
        quarantine(json_path, reason)
    if npz_path.is_file():
        quarantine(npz_path, reason)
    log.warning("cell %s: its result will be redone (%s)", eval_key, reason)
    return "absent"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None

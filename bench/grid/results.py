"""Result files of evaluation cells: schema, atomic writes, loading and a tidy table.

Layout: ``<results>/runs/<eval_key>.json`` (the ``CellResult``) and, for finished cells,
``<results>/runs/<eval_key>.npz`` (test predictions: record_ids, y_true, y_score). Both are
written to a temporary file and renamed; the JSON is renamed LAST, so a JSON's presence means
the cell is complete. Failed cells get a JSON with ``status="failed"`` (error and traceback
summary) and no predictions; ``result_exists`` ignores them by default so a rerun retries them.

Reading: ``load_results`` raises ``ResultFileError`` naming the first unreadable file; with
``skip_invalid=True`` such files are skipped with a logged warning instead.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import traceback
import zipfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pandas as pd

from bench.atomic import atomic_write
from bench.config import from_dict, to_dict
from bench.errors import BenchError, CorruptFileError, DataError
from bench.grid.provenance import Provenance
from bench.grid.result_integrity import check_predictions, parse_sealed, seal, stored_integrity

SCHEMA_VERSION = 1
RUNS_DIR = "runs"
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
log = logging.getLogger(__name__)

Status = Literal["ok", "failed"]
EvalProtocol = Literal["linear", "finetune", "attentive", "knn"]


class ResultFileError(DataError):
    """A result or prediction file is missing, unreadable or does not match the schema."""


class CorruptResultError(ResultFileError, CorruptFileError):
    """A result or prediction file is truncated or altered (moved aside, its cell redone)."""


@dataclass(frozen=True)
class CellResult:
    """One evaluation cell: what was run, on what, with which outcome."""

    eval_key: str
    pretrain_key: str | None  # None for methods without pretraining (e.g. supervised)
    method: str
    task: str
    task_group: str
    protocol: EvalProtocol
    fraction: float  # the label fraction; 0.0 in a few-shot cell (``shots``)
    seed: int
    profile: str
    label_names: tuple[str, ...]
    n_train: int
    n_val: int
    n_test: int
    realised_fraction: float  # labelled training records used / training records available
    config: dict[str, Any]
    provenance: Provenance
    status: Status = "ok"
    # the encoder's seed: its pretraining's train.seed, or a baseline's initialisation seed
    # (None in files written before pretraining seeds existed: read as 0)
    pretrain_seed: int | None = None
    metrics: dict[str, Any] = field(
        default_factory=dict
    )  # see bench.evaluation.metrics.evaluate_cell
    ci: dict[str, Any] = field(
        default_factory=dict
    )  # {"level", "n_boot", "seed", metric: [lo, hi]}
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    pretraining: dict[str, Any] = field(
        default_factory=dict
    )  # {"collapse": collapse_summary, "notes": [...] (e.g. a capped batch)}; empty without one
    # the test records and classes scored, and those left out with why (empty in files written
    # before it existed): bench.evaluation.sample.ScoredSample.as_dict
    test_sample: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # failed cells: "ExceptionType: message"
    traceback: str | None = None  # failed cells: the last frames of the traceback
    schema_version: int = SCHEMA_VERSION
    shots: int | None = None  # a few-shot cell: K labelled training records per class

    def __post_init__(self) -> None:
        check_key(self.eval_key)
        main = self.metrics.get("main_metric", "macro_auroc")  # named by non-multilabel kinds
        if self.status == "ok" and main not in self.metrics:
            raise ValueError(f"cell {self.eval_key}: an 'ok' result needs metrics[{main!r}]")
        if self.status == "failed" and not self.error:
            raise ValueError(f"cell {self.eval_key}: a failed result needs its error message")


@dataclass(frozen=True)
class Predictions:
    """Test-set predictions of one cell, rows aligned: record_ids [N], y_true / y_score [N, C]."""

    record_ids: np.ndarray
    y_true: np.ndarray
    y_score: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.record_ids)
        if self.y_true.ndim != 2 or self.y_true.shape != self.y_score.shape:
            raise ValueError(
                f"y_true and y_score must both be [N, C]; got {self.y_true.shape} "
                f"and {self.y_score.shape}"
            )
        if self.y_true.shape[0] != n or len(np.unique(self.record_ids)) != n:
            raise ValueError(f"record_ids must be {self.y_true.shape[0]} distinct ids, got {n}")

    def sorted_by_record(self) -> Predictions:
        """The same predictions with rows in increasing record-id order."""
        order = np.argsort(self.record_ids, kind="stable")
        return Predictions(self.record_ids[order], self.y_true[order], self.y_score[order])


def describe_failure(error: BaseException, frames: int = 6) -> tuple[str, str]:
    """(``"Type: message"``, the last ``frames`` frames of its traceback) for a failed cell."""
    summary = "".join(traceback.format_exception(error, limit=-frames))
    return f"{type(error).__name__}: {error}", summary


def check_key(eval_key: str) -> str:
    """``eval_key`` if it is usable as a file name, else ValueError."""
    if not _KEY_PATTERN.match(eval_key):
        raise ValueError(f"eval_key {eval_key!r} must be letters, digits, '.', '_' or '-'")
    return eval_key


def result_paths(results_dir: str | Path, eval_key: str) -> tuple[Path, Path]:
    """(JSON, NPZ) paths of a cell's result under ``results_dir``/runs."""
    runs = Path(results_dir) / RUNS_DIR
    return runs / f"{check_key(eval_key)}.json", runs / f"{eval_key}.npz"


def write_result(
    results_dir: str | Path, result: CellResult, predictions: Predictions | None = None
) -> Path:
    """Write a cell's predictions, then its JSON, each atomically; returns the JSON path.

    An 'ok' result needs ``predictions`` matching its label names (a segmentation cell: its
    flattened masks, ``config["segmentation"]``) and ``n_test``; a failed one
    takes none. An older result of the same cell is removed first, so no stale JSON can stand
    beside new predictions.
    """
    json_path, npz_path = result_paths(results_dir, result.eval_key)
    if result.status == "ok":
        if predictions is None:
            raise ValueError(f"cell {result.eval_key}: an 'ok' result needs its predictions")
        dense = result.config.get("segmentation")  # masks [n_test, leads * samples]
        columns = dense["n_leads"] * dense["n_samples"] if dense else len(result.label_names)
        expected = (result.n_test, columns)
        if predictions.y_true.shape != expected:
            raise ValueError(
                f"cell {result.eval_key}: predictions are {predictions.y_true.shape}, "
                f"expected [n_test, classes] = {expected}"
            )
    elif predictions is not None:
        raise ValueError(f"cell {result.eval_key}: a failed result takes no predictions")
    document = _json_safe(to_dict(result))
    try:
        json.dumps(document, allow_nan=False)
    except (TypeError, ValueError) as error:
        message = f"cell {result.eval_key}: the result is not plain JSON data: {error}"
        raise ValueError(message) from error
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.unlink(missing_ok=True)
    npz_path.unlink(missing_ok=True)
    digest = None
    if predictions is not None:
        digest = atomic_write(npz_path, lambda f: _save_predictions(f, predictions))
    text = json.dumps(seal(document, digest), indent=2, allow_nan=False) + "\n"
    atomic_write(json_path, lambda f: f.write(text.encode()))
    return json_path


def result_exists(results_dir: str | Path, eval_key: str, include_failed: bool = False) -> bool:
    """True when the cell has a complete result ('ok', or any status with ``include_failed``)."""
    json_path, _ = result_paths(results_dir, eval_key)
    if not json_path.is_file():
        return False
    if include_failed:
        return True
    try:
        return json.loads(json_path.read_text()).get("status") == "ok"
    except (OSError, ValueError, AttributeError):
        return False


def read_result(path: str | Path) -> CellResult:
    """Parse one result JSON; ResultFileError naming the file when it is unreadable or invalid."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ResultFileError(f"cannot read result file {path}: {error}") from error
    try:
        data = parse_sealed(text, path)
    except CorruptFileError as error:
        raise CorruptResultError(str(error)) from error
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultFileError(
            f"result file {path} has schema version {version!r}; this suite reads "
            f"{SCHEMA_VERSION} (rerun the cell with --overwrite)"
        )
    try:
        return from_dict(CellResult, data, where=str(path))
    except (BenchError, ValueError, TypeError) as error:
        raise ResultFileError(f"invalid result file {path}: {error}") from error


def load_results(
    results_dir: str | Path,
    status: Status | None = None,
    skip_invalid: bool = False,
    eval_keys: Collection[str] | None = None,
) -> list[CellResult]:
    """Every cell result under ``results_dir``/runs, sorted by file name.

    ``status`` keeps only 'ok' or 'failed' cells; ``eval_keys`` keeps only those cells (e.g.
    one grid's). Invalid files raise ResultFileError unless ``skip_invalid``, which logs a
    warning per skipped file.
    """
    results = []
    for path in sorted((Path(results_dir) / RUNS_DIR).glob("*.json")):
        if eval_keys is not None and path.stem not in eval_keys:
            continue
        try:
            result = read_result(path)
        except ResultFileError as error:
            if not skip_invalid:
                raise
            log.warning("skipping %s", error)
            continue
        if status is None or result.status == status:
            results.append(result)
    return results


def load_predictions(results_dir: str | Path, eval_key: str) -> Predictions:
    """The stored test predictions of a cell; ResultFileError naming the file on failure."""
    json_path, path = result_paths(results_dir, eval_key)
    if not path.is_file():
        raise ResultFileError(f"prediction file {path} is missing")
    try:
        check_predictions(path, stored_integrity(json_path) if json_path.is_file() else None)
        with np.load(path, allow_pickle=False) as data:
            return Predictions(data["record_ids"], data["y_true"], data["y_score"])
    except CorruptFileError as error:
        raise CorruptResultError(str(error)) from error
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        message = f"prediction file {path} is truncated or corrupt: {error}"
        raise CorruptResultError(message) from error


_CELL_COLUMNS = (
    "eval_key pretrain_key method task task_group protocol fraction shots seed profile status"
)
_SIZE_COLUMNS = "n_classes_evaluated n_train n_val n_test realised_fraction"
_ORIGIN_COLUMNS = "git_sha data_fingerprint created error"
_MAIN_METRICS = ("macro_auroc", "macro_auprc", "macro_f1")
RESULT_COLUMNS: tuple[str, ...] = (
    *_CELL_COLUMNS.split(),
    *(f"{metric}{part}" for metric in _MAIN_METRICS for part in ("", "_low", "_high")),
    "ci_level",
    *_SIZE_COLUMNS.split(),
    *_ORIGIN_COLUMNS.split(),
)


def results_frame(results: Iterable[CellResult] | str | Path) -> pd.DataFrame:
    """Tidy table, one row per cell (columns RESULT_COLUMNS), from results or a results dir."""
    if isinstance(results, (str, Path)):
        results = load_results(results)
    rows = [_row(result) for result in results]
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def _row(result: CellResult) -> dict[str, Any]:
    row: dict[str, Any] = {
        name.name: getattr(result, name.name)
        for name in dataclasses.fields(result)
        if name.name in RESULT_COLUMNS
    }
    row["shots"] = result.shots or 0  # 0: a label-fraction cell
    for metric in _MAIN_METRICS:
        value = result.metrics.get(metric)
        row[metric] = math.nan if value is None else float(value)
        low, high = result.ci.get(metric) or (None, None)
        row[f"{metric}_low"] = math.nan if low is None else float(low)
        row[f"{metric}_high"] = math.nan if high is None else float(high)
    row["ci_level"] = result.ci.get("level", math.nan)
    row["n_classes_evaluated"] = result.metrics.get("n_classes_evaluated")
    row["git_sha"] = result.provenance.git_sha
    row["data_fingerprint"] = result.provenance.data_fingerprint
    row["created"] = result.provenance.created
    return row


def _save_predictions(handle: IO[bytes], predictions: Predictions) -> None:
    np.savez(
        handle,
        record_ids=np.asarray(predictions.record_ids, dtype=np.int64),
        y_true=_stored_labels(predictions.y_true),
        y_score=np.asarray(predictions.y_score, dtype=np.result_type(predictions.y_score, "f4")),
    )


def _stored_labels(y_true: np.ndarray) -> np.ndarray:
    """0/1 labels as uint8 (as always); continuous (regression) targets as float32."""
    values = np.asarray(y_true)
    return values.astype(np.uint8) if np.isin(values, (0, 1)).all() else values.astype(np.float32)


def _json_safe(value: Any) -> Any:
    """Plain JSON data: NaN/inf become null, numpy scalars and arrays become Python values."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

"""What the MLflow mirror holds: tags, params and metrics of runs, read from the results alone.

A cell's child run mirrors its result file (``CellResult``); a pretraining's parent run mirrors
its run folder (``checkpoint.pt`` header and ``history.csv``). Names are the same in every run,
so the MLflow UI's compare view lines runs up: tags ``method``, ``task``, ``protocol`` ...;
params from the configs flattened to dotted keys (``method.size``, ``train.lr``); metrics
``macro_auroc``, ``macro_auroc_ci_low`` / ``_ci_high``, ``auroc.<class>``, ``auprc.<class>``,
``n_train``, ``realised_fraction``, ``time.<stage>``; the loss curve as ``pretrain.<column>``
per step. The test sample (``bench.evaluation.sample``): metrics ``n_test``,
``n_classes_scored``, ``n_classes_left_out``, ``positives.<class>`` (the class's test
positives); tags ``test_sample`` ('4 records · 6/26 classes'), ``classes_left_out`` (with why)
and ``too_small_to_test`` (why the leaderboard's default test, at the cell's resamples and alpha
0.05, is not run; absent when it is).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from bench.evaluation.sample import ScoredSample, too_small_to_test
from bench.grid.results import CellResult, ResultFileError, result_paths
from bench.tracking.naming import cell_run_name
from bench.training.checkpoint import CHECKPOINT_FORMAT, CheckpointError
from bench.training.run_files import CHECKPOINT_NAME, HISTORY_NAME

PARAM_VALUE_LIMIT = 6000  # MLflow's longest param value, in characters
TAG_VALUE_LIMIT = 8000  # MLflow's longest tag value
TRUNCATED = "...[truncated]"
RUN_KIND_TAG = "run_kind"  # "parent" (a pretraining or baseline initialisation) or "cell"
DIGEST_TAG = "result_digest"  # which version of the result file a child run mirrors
PRETRAINING_LOGGED_TAG = "pretraining_logged"  # "true" once curve and artifacts are logged
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_CELL_NUMBERS = ("n_train", "n_val", "n_test", "realised_fraction")
DEFAULT_ALPHA = 0.05  # the leaderboard's default significance level (bench leaderboard --alpha)


def safe_name(name: str) -> str:
    """``name`` usable as an MLflow key: characters other than letters, digits, '_', '.', '-'
    become '_' (class names such as "1st degree AV block" -> "1st_degree_AV_block")."""
    return _UNSAFE.sub("_", str(name))


def flatten_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested ``config`` as MLflow params: dotted keys, JSON values, long values truncated."""
    params: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            params.update(flatten_params(value, f"{name}."))
        else:
            params[safe_name(name)] = _clip(_param_text(value), PARAM_VALUE_LIMIT)
    return params


def parent_key(result: CellResult) -> str:
    """Key of the parent run of a cell: its pretrain_key, or for a baseline stored without one
    a key naming its method and profile."""
    return result.pretrain_key or safe_name(f"{result.method}-{result.profile}-no-pretraining")


def result_digest(results_dir: str | Path, eval_key: str) -> str:
    """Short SHA-256 of a cell's result JSON: a child run mirrors one version of the file."""
    path, _ = result_paths(results_dir, eval_key)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError as error:
        raise ResultFileError(f"cannot read result file {path}: {error}") from error


def cell_tags(result: CellResult, digest: str) -> dict[str, str]:
    """Tags of a cell's child run: what ran, on which data and code, and how it ended."""
    provenance = result.provenance
    tags = {
        RUN_KIND_TAG: "cell",
        "mlflow.runName": cell_run_name(result),
        "method": result.method,
        "task": result.task,
        "task_group": result.task_group,
        "protocol": result.protocol,
        "fraction": str(result.fraction),
        "seed": str(result.seed),
        "profile": result.profile,
        "pretrain_key": parent_key(result),
        **({"shots": str(result.shots)} if result.shots is not None else {}),
        "eval_key": result.eval_key,
        "status": result.status,
        "data_fingerprint": provenance.data_fingerprint,
        "created": provenance.created,
        "host": provenance.host,
        DIGEST_TAG: digest,
    }
    if provenance.git_sha:
        tags["git_sha"] = provenance.git_sha
    if provenance.git_dirty is not None:
        tags["git_dirty"] = str(provenance.git_dirty).lower()
    version = provenance.package_versions.get("ecg-ssl-bench")
    if version:
        tags["bench_version"] = version
    if result.error:
        tags["error"] = _clip(result.error, TAG_VALUE_LIMIT)
    weights = result.config.get("weights") or {}
    if weights:
        tags["weights_sha256"] = str(weights.get("weights_sha256"))
    if result.config.get("leakage"):
        tags["leakage"] = _clip(str(result.config["leakage"]), TAG_VALUE_LIMIT)
    return {**tags, **_sample_tags(result)}


def _sample_tags(result: CellResult) -> dict[str, str]:
    """The cell's test sample, its left-out classes and why it is too small to test."""
    if not result.test_sample:
        return {}
    sample = ScoredSample.from_dict(result.test_sample)
    tags = {"test_sample": sample.label()}
    if sample.left_out:
        tags["classes_left_out"] = _clip(sample.left_out_text(), TAG_VALUE_LIMIT)
    n_boot = int(result.ci.get("n_boot") or 0)
    if n_boot:
        partial = int(result.ci.get("n_partial") or 0)
        reason = too_small_to_test(sample, n_boot, DEFAULT_ALPHA, partial)
        if reason:
            tags["too_small_to_test"] = _clip(reason, TAG_VALUE_LIMIT)
    return tags


def cell_params(result: CellResult) -> dict[str, str]:
    """Params of a cell's child run: the cell's coordinates, its flattened config, CI settings."""
    cell = {
        "method": result.method,
        "task": result.task,
        "protocol": result.protocol,
        "fraction": result.fraction,
        "seed": result.seed,
        "profile": result.profile,
        **({"shots": result.shots} if result.shots is not None else {}),
    }
    ci = {key: value for key, value in result.ci.items() if key in ("level", "n_boot", "seed")}
    return {**flatten_params({"cell": cell, "ci": ci}), **flatten_params(result.config)}


def cell_metrics(result: CellResult) -> dict[str, float]:
    """Finite metrics of a cell: scalar scores, CI bounds, per-class AUROC, AUPRC and test
    positives, sizes, timings."""
    values: dict[str, Any] = {
        name: value for name, value in result.metrics.items() if _is_number(value)
    }
    for name, bounds in result.ci.items():
        if isinstance(bounds, (list, tuple)) and len(bounds) == 2:
            values[f"{name}_ci_low"], values[f"{name}_ci_high"] = bounds
    for prefix, entry in (("auroc", "per_class_auroc"), ("auprc", "per_class_auprc")):
        for label, value in (result.metrics.get(entry) or {}).items():
            values[f"{prefix}.{label}"] = value
    for label, count in (result.metrics.get("test_positives") or {}).items():
        values[f"positives.{label}"] = count
    values.update({name: getattr(result, name) for name in _CELL_NUMBERS})
    if result.test_sample:
        sample = ScoredSample.from_dict(result.test_sample)
        values["n_classes_scored"] = len(sample.scored)
        values["n_classes_left_out"] = len(sample.left_out)
        for name, count in sample.positives.items():  # also where no per-class metrics exist
            values.setdefault(f"positives.{name}", count)
    values.update({f"time.{stage}": seconds for stage, seconds in result.timings.items()})
    return {safe_name(k): float(v) for k, v in values.items() if _is_number(v) and math.isfinite(v)}


def cell_span_ms(result: CellResult) -> tuple[int, int]:
    """(start, end) of the cell's run in milliseconds since the epoch: the result is created
    when the cell ends, ``timings["total_s"]`` before that it started (the sum of the stage
    timings when there is no total, as in failed cells)."""
    try:
        created = datetime.fromisoformat(result.provenance.created)
    except ValueError:
        created = datetime.now(timezone.utc)
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    end = int(created.timestamp() * 1000)
    timings = result.timings
    seconds = timings.get("total_s", sum(v for k, v in timings.items() if k != "total_s"))
    return end - int(1000 * seconds), end


@dataclass(frozen=True)
class PretrainingRecord:
    """A finished pretraining as its parent run logs it."""

    params: dict[str, str]
    tags: dict[str, str]
    summary: dict[str, float]  # pretrain.steps, pretrain.wall_time_s, pretrain.samples_per_s
    curve: list[tuple[str, float, int]]  # (metric, value, step), one per history.csv cell
    checkpoint: Path
    history: Path | None
    start_ms: int  # when the pretraining started (epoch ms)
    end_ms: int  # when its final checkpoint was written: stable, so re-logging is idempotent

    def step_time_ms(self, step: int) -> int:
        """Timestamp of ``step`` on the loss curve: spread evenly over the run's span."""
        last = max((s for _, _, s in self.curve), default=0)
        return self.start_ms + (self.end_ms - self.start_ms) * step // max(last, 1)


def read_pretraining(run_dir: str | Path) -> PretrainingRecord | None:
    """The record of the finished pretraining in ``run_dir``; None when there is none (yet).

    Reads the checkpoint's header memory-mapped (weights are not loaded) and every row of
    ``history.csv``. CheckpointError naming the file when the checkpoint is unreadable.
    """
    run_dir = Path(run_dir)
    checkpoint = run_dir / CHECKPOINT_NAME
    if not checkpoint.is_file():
        return None
    header = _checkpoint_header(checkpoint)
    if not header.get("finished"):
        return None
    info = header.get("info") or {}
    document: dict[str, Any] = {
        "method": header["method_config"],
        "train": header.get("train_config") or {},
        "input": info.get("input") or header["input_spec"],
    }
    document.update({key: info[key] for key in ("preprocessing", "data") if key in info})
    data = info.get("data") or {}
    tags = {"dataset": data.get("dataset"), "data_fingerprint": data.get("fingerprint")}
    tags["bench_version"] = (header.get("versions") or {}).get("bench")
    elapsed = float(header.get("elapsed_s", 0.0))
    summary = {
        "pretrain.steps": float(header.get("step", 0)),
        "pretrain.wall_time_s": elapsed,
        "pretrain.samples_per_s": float(header.get("samples_seen", 0)) / elapsed
        if elapsed > 0
        else 0.0,
    }
    corpus = info.get("corpus_report")
    if isinstance(corpus, dict):
        tags["corpus"] = corpus.get("corpus")
        summary.update(corpus_metrics(corpus))
    history = run_dir / HISTORY_NAME
    start_ms, end_ms = _pretraining_span_ms(header, checkpoint)
    return PretrainingRecord(
        params=flatten_params(document),
        tags={key: str(value) for key, value in tags.items() if value},
        summary=summary,
        curve=history_curve(history) if history.is_file() else [],
        checkpoint=checkpoint,
        history=history if history.is_file() else None,
        start_ms=start_ms,
        end_ms=end_ms,
    )


def corpus_metrics(report: dict[str, Any]) -> dict[str, float]:
    """A corpus pretraining's counts as metrics: ``corpus.records``, ``corpus.hours``,
    ``corpus.excluded.<reason>`` and ``corpus.<dataset>.{used,excluded.<reason>}``."""
    metrics = {
        "corpus.records": float(report.get("records", 0)),
        "corpus.hours": float(report.get("hours", 0.0)),
    }
    for reason, count in (report.get("excluded") or {}).items():
        metrics[f"corpus.excluded.{safe_name(reason)}"] = float(count)
    for part in report.get("datasets") or []:
        name = safe_name(str(part.get("dataset")))
        metrics[f"corpus.{name}.used"] = float(part.get("used", part.get("kept", 0)))
        for reason, count in (part.get("excluded") or {}).items():
            metrics[f"corpus.{name}.excluded.{safe_name(reason)}"] = float(count)
    return metrics


def _pretraining_span_ms(header: dict[str, Any], checkpoint: Path) -> tuple[int, int]:
    """The checkpoint's recorded wall-clock span (``started_at`` .. ``saved_at``); for
    checkpoints without it, the file's modification time minus the training time."""
    end = header.get("saved_at") or checkpoint.stat().st_mtime
    start = header.get("started_at") or end - float(header.get("elapsed_s", 0.0))
    return int(start * 1000), int(end * 1000)


def history_curve(path: Path) -> list[tuple[str, float, int]]:
    """Every finite value of ``history.csv`` as (``pretrain.<column>``, value, step)."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"cannot read training history {path}: {error}") from error
    if "step" not in frame.columns:
        raise CheckpointError(f"training history {path} has no 'step' column")
    steps = frame["step"].astype(int).tolist()
    curve = []
    for column in frame.columns.drop("step"):
        values = pd.to_numeric(frame[column], errors="coerce").tolist()
        name = f"pretrain.{safe_name(column)}"
        curve += [(name, v, s) for v, s in zip(values, steps, strict=True) if math.isfinite(v)]
    return curve


def _checkpoint_header(path: Path) -> dict[str, Any]:
    """The checkpoint's plain-data entries, mapped rather than read (no weights in memory)."""
    try:
        document = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        raise CheckpointError(f"checkpoint {path} is unreadable or corrupt: {error}") from error
    if not isinstance(document, dict) or document.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an ecg-ssl-bench pretraining checkpoint")
    if "method_config" not in document or "input_spec" not in document:
        raise CheckpointError(f"checkpoint {path} lacks method_config or input_spec")
    return {key: value for key, value in document.items() if key not in ("model", "optimizer")}


def _param_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)

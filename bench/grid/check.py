"""``bench check``: what in a results folder is sound, corrupt, orphaned or stale, and repair.

- result files (``runs/<key>.json`` + ``.npz``): their checksums (or, written before checksums,
  that they parse); a predictions file without its record is orphaned (unless its cell's
  lease is live: it is being written);
- pretraining checkpoints, embedding caches: their sidecar checksums (older files: that they
  load); dataset caches: their ``checksums.json``;
- leases whose holder is gone are stale.

Repairing moves corrupt and orphaned files aside (never deletes them), so the next
``bench run`` redoes their cells, units or caches, and removes stale leases.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from bench.atomic import CHECKSUM_SUFFIX, is_quarantined, quarantine, verify_checked
from bench.data.storage.cache import MANIFEST
from bench.data.storage.checksums import cache_problem
from bench.errors import CorruptFileError, DataError
from bench.grid.claims import key_lease
from bench.grid.leases import SUFFIX, lease_folder, list_leases, read_lease, stale_reason
from bench.grid.result_state import result_state, settle_corrupt
from bench.grid.results import RUNS_DIR
from bench.training.run_files import CHECKPOINT_NAME

State = Literal["sound", "corrupt", "orphaned", "stale", "moved aside"]
STATES: tuple[State, ...] = ("sound", "corrupt", "orphaned", "stale", "moved aside")


@dataclass(frozen=True)
class Finding:
    """One file (or folder) and its state; ``detail`` says what is wrong."""

    state: State
    kind: str  # "result", "predictions", "checkpoint", "embeddings", "dataset cache", "lease"
    path: Path
    detail: str = ""


def scan(results: Path, cache: Path) -> list[Finding]:
    """Every result file, checkpoint, cache and lease under ``results`` and ``cache``."""
    findings = _results(results) + _checkpoints(results) + _embeddings(cache)
    return findings + _dataset_caches(cache) + _leases(results)


def repair(findings: list[Finding], results: Path) -> list[str]:
    """Move corrupt and orphaned files aside and remove stale leases; what was done."""
    done = []
    for finding in findings:
        path = finding.path
        if finding.state == "stale":
            path.unlink(missing_ok=True)
            done.append(f"removed stale lease {path.name}")
        elif finding.kind == "result" and finding.state == "corrupt":
            settle_corrupt(results, path.stem)
            done.append(f"moved aside {path.name} (+ predictions); its cell will be redone")
        elif finding.state in ("corrupt", "orphaned"):
            target = quarantine(path, finding.detail)
            if target is not None:
                done.append(f"moved aside {path.name} -> {target.name}")
    return done


def counts(findings: list[Finding]) -> dict[State, int]:
    """How many findings are in each state."""
    counter = Counter(f.state for f in findings)
    return {state: counter.get(state, 0) for state in STATES}


def _results(results: Path) -> list[Finding]:
    runs = results / RUNS_DIR
    findings = []
    for path in sorted(runs.glob("*")) if runs.is_dir() else []:
        if is_quarantined(path):
            findings.append(Finding("moved aside", "result", path))
        elif path.suffix == ".json":
            state, why = result_state(results, path.stem)
            verdict: State = "corrupt" if state == "corrupt" else "sound"
            findings.append(Finding(verdict, "result", path, why))
        elif path.suffix == ".npz" and not path.with_suffix(".json").is_file():
            lease = lease_folder(results) / f"{key_lease(path.stem)}{SUFFIX}"
            info = read_lease(lease)
            if info is None or stale_reason(info):
                findings.append(Finding("orphaned", "predictions", path, "no result record"))
    return findings


def _checkpoints(results: Path) -> list[Finding]:
    findings = []
    for path in sorted((results / "pretrain").glob(f"*/{CHECKPOINT_NAME}*")):
        if path.name.endswith(CHECKSUM_SUFFIX):
            continue
        if is_quarantined(path):
            findings.append(Finding("moved aside", "checkpoint", path))
            continue
        try:
            if not verify_checked(path):
                _load_unsealed(path)
            findings.append(Finding("sound", "checkpoint", path))
        except DataError as error:
            findings.append(Finding("corrupt", "checkpoint", path, str(error)))
    return findings


def _load_unsealed(path: Path) -> None:
    """Load a checkpoint that has no checksum file (DataError if unusable); torch is imported
    here, so a check of sealed checkpoints does without it."""
    from bench.training.checkpoint import read_checkpoint

    read_checkpoint(path)


def _embeddings(cache: Path) -> list[Finding]:
    findings = []
    for path in sorted((cache / "embeddings").glob("*.npz*")):
        if path.name.endswith(CHECKSUM_SUFFIX):
            continue
        if is_quarantined(path):
            findings.append(Finding("moved aside", "embeddings", path))
            continue
        try:
            if not verify_checked(path):
                with np.load(path, allow_pickle=False) as stored:
                    stored["features"]
            findings.append(Finding("sound", "embeddings", path))
        except (CorruptFileError, OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
            findings.append(Finding("corrupt", "embeddings", path, str(error)))
    return findings


def _dataset_caches(cache: Path) -> list[Finding]:
    findings = []
    for manifest in sorted(cache.glob(f"*/*/{MANIFEST}")):
        folder = manifest.parent
        if is_quarantined(folder):
            findings.append(Finding("moved aside", "dataset cache", folder))
        elif not folder.name.startswith("."):
            problem = cache_problem(folder, thorough=True)
            state: State = "corrupt" if problem else "sound"
            findings.append(Finding(state, "dataset cache", folder, problem or ""))
    return findings


def _leases(results: Path) -> list[Finding]:
    findings = []
    for info in list_leases(results):
        reason = stale_reason(info)
        state: State = "stale" if reason else "sound"
        findings.append(Finding(state, "lease", info.path, reason or f"held by {info.holder}"))
    return findings

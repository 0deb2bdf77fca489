"""The PhysioNet/CinC Challenge 2020/2021 metric: the normalised, weighted Challenge score.

Definitions (Perez Alday et al. 2020; Reyna et al. 2021; the organisers' evaluation code,
github.com/physionetchallenges/evaluation-2020 and evaluation-2021):
- outputs are binary per record and class; record r adds ``1 / max(|labels_r ∪ outputs_r|, 1)``
  to ``A[i, j]`` for every true class i and output class j; ``score = sum(W * A)``;
- normalised = ``(score - inactive) / (correct - inactive)``, where "correct" outputs the true
  labels and "inactive" outputs sinus rhythm only; 0.0 when correct equals inactive (as the
  organisers' evaluation code does).
Because every term is a sum over records, a bootstrap resample is a count-weighted sum of
per-record terms (``record_terms``), which gives exact resampled scores cheaply.

Classes, equivalences and W come from the organisers' tables (``ScoredClasses.from_tables``):
a weights column ``a|b`` (2021) or a mapping note "We score a and b as the same diagnosis"
(2020) makes one class whose canonical code is the first of the pair.
Per-class thresholds are chosen on VALIDATION only (``challenge_thresholds``): start from the
per-class F1-optimal thresholds, then coordinate ascent on the validation Challenge score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import DataError
from bench.evaluation.bootstrap import percentile_ci, resample_counts
from bench.evaluation.metrics import MetricError, f1_thresholds

SINUS_RHYTHM = "426783006"
NOTE_PATTERN = re.compile(r"score (\d+) and (\d+) as the same")
THRESHOLD_CANDIDATES = 64  # validation-score quantiles tried per class and pass
THRESHOLD_PASSES = 2


@dataclass(frozen=True)
class ScoredClasses:
    """The scored classes of one Challenge year: canonical codes, names, aliases and W."""

    codes: tuple[str, ...]  # canonical SNOMED code per class
    names: tuple[str, ...]  # abbreviations, "CRBBB|RBBB" for an equivalence class
    aliases: dict[str, str]  # every scored code -> its canonical code
    weights: np.ndarray  # float64 [C, C], rows/columns in ``codes`` order

    @property
    def sinus_index(self) -> int:
        """Column of sinus rhythm (the "inactive" output)."""
        return self.codes.index(SINUS_RHYTHM)

    @classmethod
    def from_tables(cls, mapping_csv: Path, weights_csv: Path) -> ScoredClasses:
        """Read an organisers' scored mapping and weight matrix (DataError naming the file)."""
        mapping = _read(mapping_csv, dtype=str)
        code_column = next(
            (c for c in mapping.columns if c.replace(" ", "").lower() == "snomedctcode"), None
        )
        if code_column is None or "Abbreviation" not in mapping.columns:
            raise DataError(f"{mapping_csv} lacks the SNOMED code or Abbreviation column")
        abbreviation = dict(
            zip(mapping[code_column].str.strip(), mapping["Abbreviation"], strict=True)
        )
        equivalent: dict[str, str] = {}
        for note in mapping.get("Notes", pd.Series(dtype=str)).dropna():
            if match := NOTE_PATTERN.search(note):
                equivalent[match[2]] = match[1]
        weights = _read(weights_csv, index_col=0)
        columns = [str(c).strip() for c in weights.columns]
        rows = [str(r).strip() for r in weights.index]
        if columns != rows or not np.allclose(weights.to_numpy(float), weights.to_numpy(float).T):
            raise DataError(f"{weights_csv}: W must be square and symmetric, rows as columns")
        groups = [c.split("|") for c in columns]
        keep = [i for i, group in enumerate(groups) if group[0] not in equivalent]
        codes = tuple(groups[i][0] for i in keep)
        aliases = {code: group[0] for group in groups for code in group}
        aliases.update({b: a for b, a in equivalent.items() if a in codes})
        missing = sorted(set(aliases) - set(abbreviation))
        if missing or SINUS_RHYTHM not in codes:
            raise DataError(f"{weights_csv} and {mapping_csv} disagree (codes {missing})")
        names = tuple(
            "|".join([abbreviation[code]] + [abbreviation[c] for c in aliases
                                             if aliases[c] == code and c != code])
            for code in codes
        )  # fmt: skip
        matrix = weights.to_numpy(np.float64)[np.ix_(keep, keep)]
        return cls(codes=codes, names=names, aliases=aliases, weights=matrix)


def record_terms(labels: np.ndarray, outputs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each record's contribution [N] to ``sum(W * A)``: ``l_r^T W o_r / max(|l_r ∪ o_r|, 1)``."""
    labels, outputs = _binary(labels, "labels"), _binary(outputs, "outputs")
    if labels.shape != outputs.shape or weights.shape != (labels.shape[1],) * 2:
        raise MetricError(
            f"labels {labels.shape}, outputs {outputs.shape} and W {weights.shape} disagree"
        )
    union = np.maximum(np.logical_or(labels, outputs).sum(axis=1), 1)
    return np.einsum("ri,ij,rj->r", labels, weights, outputs) / union


def challenge_score(
    labels: np.ndarray, outputs: np.ndarray, weights: np.ndarray, sinus_index: int
) -> float:
    """The normalised Challenge score of binary ``outputs`` [N, C] against ``labels`` [N, C]."""
    observed, correct, inactive = (
        t.sum() for t in _all_terms(labels, outputs, weights, sinus_index)
    )
    return float((observed - inactive) / (correct - inactive)) if correct != inactive else 0.0


def challenge_thresholds(
    val_true: np.ndarray, val_score: np.ndarray, weights: np.ndarray, sinus_index: int
) -> np.ndarray:
    """Per-class thresholds [C] maximising the VALIDATION Challenge score (positive: >=)."""
    val_true = _binary(val_true, "validation labels")
    val_score = np.asarray(val_score, dtype=np.float64)
    thresholds = f1_thresholds(val_true, val_score)
    best = challenge_score(val_true, val_score >= thresholds, weights, sinus_index)
    quantiles = np.linspace(0.0, 1.0, THRESHOLD_CANDIDATES)
    for _ in range(THRESHOLD_PASSES):
        improved = False
        for c in range(val_true.shape[1]):
            top = np.nextafter(val_score[:, c].max(), np.inf)
            for candidate in np.unique(np.r_[np.quantile(val_score[:, c], quantiles), top]):
                trial = thresholds.copy()
                trial[c] = candidate
                score = challenge_score(val_true, val_score >= trial, weights, sinus_index)
                if score > best + 1e-12:
                    best, thresholds, improved = score, trial, True
        if not improved:
            break
    return thresholds


def challenge_metrics(
    val: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    scored: ScoredClasses,
    class_codes: Sequence[str],
    bootstrap: tuple[np.ndarray, float] | None = None,
) -> tuple[dict[str, object], dict[str, list[float]]]:
    """Challenge score on test at thresholds chosen on val, for a task's ``class_codes``
    (canonical codes, a subset of ``scored.codes`` holding sinus rhythm); with ``bootstrap``
    = (resample indices [B, N_test], level), also its percentile CI."""
    index = [scored.codes.index(code) for code in class_codes]
    if SINUS_RHYTHM not in class_codes:
        raise MetricError("the Challenge score needs sinus rhythm among the task's classes")
    weights, sinus = scored.weights[np.ix_(index, index)], list(class_codes).index(SINUS_RHYTHM)
    thresholds = challenge_thresholds(val[0], val[1], weights, sinus)
    outputs = np.asarray(test[1]) >= thresholds
    metrics: dict[str, object] = {
        "challenge_score": challenge_score(test[0], outputs, weights, sinus),
        "challenge_thresholds": dict(zip(class_codes, thresholds.tolist(), strict=True)),
    }
    ci: dict[str, list[float]] = {}
    if bootstrap is not None:
        indices, level = bootstrap
        counts = resample_counts(indices, len(outputs)).astype(np.float64)
        observed, correct, inactive = (
            counts @ t for t in _all_terms(test[0], outputs, weights, sinus)
        )
        span = correct - inactive
        samples = np.divide(observed - inactive, span, out=np.zeros_like(span), where=span != 0)
        ci["challenge_score"] = list(percentile_ci(samples, level))
    return metrics, ci


def _all_terms(
    labels: np.ndarray, outputs: np.ndarray, weights: np.ndarray, sinus_index: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-record terms of the observed, correct and inactive (sinus-only) outputs."""
    labels = _binary(labels, "labels")
    inactive = np.zeros_like(labels)
    inactive[:, sinus_index] = 1
    return (
        record_terms(labels, outputs, weights),
        record_terms(labels, labels, weights),
        record_terms(labels, inactive, weights),
    )


def _binary(values: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 2 or not np.isin(array, (0, 1)).all():
        raise MetricError(f"Challenge {what} must be a binary [N, C] array, got {array.shape}")
    return array.astype(np.float64)


def _read(path: Path, **options: object) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **options)
    except (OSError, ValueError) as error:
        raise DataError(f"{path} cannot be read: {error}") from None

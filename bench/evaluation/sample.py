"""The test sample of a cell, and whether it is large enough for a significance test.

Every result stores its ``ScoredSample``: how many test records were scored, which classes (or
regression targets) were scored and which were left out with why (no positive, or no negative,
in the test fold; a target constant there), and each class's positives and negatives. The
leaderboards, paper tables, results page and MLflow show it.

``too_small_to_test`` says why a test sample is below the minimums of the paired bootstrap
test of ``bench.evaluation.significance`` (no † / ‡ is drawn then; "" when it is not). Both
minimums come from how that bootstrap behaves:

- **Test records** (``min_test_records``): a resample of n records repeats the test set itself
  (every record drawn once, in any order) with probability n!/nⁿ, the most likely single
  resample. The p-value's resolution is 1/(B+1); while that one resample is likelier than
  1/(B+1) (n ≤ 8 at B = 1000: 8!/8⁸ = 0.0024), the resampling distribution is too lumpy for
  the tail the p-value measures, and a p-value at the floor says nothing. Hence the smallest n
  with n!/nⁿ ≤ 1/(B+1): 9 records at B = 1000 (8 at B = 200, 5 at B = 20).
- **Positives and negatives per scored class** (``min_class_count``): a resample holds none of
  a class's k positives among n records with probability (1 − k/n)ⁿ < e^(−k); such resamples are
  redrawn (``bench.evaluation.bootstrap.valid_resamples``), so the bootstrap is conditioned on
  the class being present. While e^(−k) exceeds alpha, the draws that condition removes are as
  many as the whole tail that decides significance at level alpha, and the p-value measures the
  conditioning as much as the difference. Hence k ≥ ln(1/alpha): 3 at alpha = 0.05 (e^(−3) =
  0.0498), 5 at alpha = 0.01; the same for negatives. A label set with a class of one or two
  test positives (PTB-XL's 71-class ``all`` set has some even on the full test fold) is
  therefore not tested.
- **Resamples keeping every class**: where under 1 in 20 draws keeps every class, the bootstrap
  scores plain resamples on the classes each holds (``n_partial`` > 0): replicates then average
  different classes, and the cell is not tested either.

Regression and segmentation cells resample plain records (no class can go missing): only the
records minimum applies to them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

SampleKind = Literal["classes", "targets", "masks"]
NO_POSITIVE = "no positive in the test fold"
NO_NEGATIVE = "no negative in the test fold (every test record has it)"
CONSTANT = "constant in the test fold (R² and r undefined)"
NOT_ANNOTATED = "in no test record's annotations"
SHOWN_NAMES = 8  # class names listed in a left-out summary before "..."


@dataclass(frozen=True)
class ScoredSample:
    """What a cell's test fold scored: records, classes (or targets) scored and left out."""

    n_records: int
    kind: SampleKind
    names: tuple[str, ...]  # every class (target) of the task, in label order
    scored: tuple[str, ...]
    left_out: dict[str, str] = field(default_factory=dict)  # name -> why
    positives: dict[str, int] = field(default_factory=dict)  # classes and masks only
    negatives: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the result file."""
        return {
            "n_records": self.n_records,
            "kind": self.kind,
            "names": list(self.names),
            "scored": list(self.scored),
            "left_out": dict(self.left_out),
            "positives": dict(self.positives),
            "negatives": dict(self.negatives),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoredSample:
        """The sample ``as_dict`` wrote."""
        return cls(
            n_records=int(data["n_records"]),
            kind=data["kind"],
            names=tuple(data["names"]),
            scored=tuple(data["scored"]),
            left_out={str(k): str(v) for k, v in data.get("left_out", {}).items()},
            positives={str(k): int(v) for k, v in data.get("positives", {}).items()},
            negatives={str(k): int(v) for k, v in data.get("negatives", {}).items()},
        )

    def min_class_count(self) -> int | None:
        """The fewest positives or negatives of any scored class (None for targets)."""
        if self.kind != "classes" or not self.scored:
            return None
        return min(min(self.positives[n], self.negatives[n]) for n in self.scored)

    def label(self) -> str:
        """Short form for a table cell: '4 records · 6/26 classes'."""
        unit = {"classes": "classes", "targets": "targets", "masks": "waves"}[self.kind]
        return f"{self.n_records} records · {len(self.scored)}/{len(self.names)} {unit}"

    def left_out_text(self) -> str:
        """The classes left out grouped by why, e.g. 'no positive in the test fold (20): AF,
        AFL, ...'; '' when none was."""
        reasons: dict[str, list[str]] = {}
        for name, why in self.left_out.items():
            reasons.setdefault(why, []).append(name)
        return "; ".join(f"{why} ({len(names)}): {_shown(names)}" for why, names in reasons.items())


def describe_test_sample(
    y_true: np.ndarray, names: Sequence[str], kind: SampleKind
) -> ScoredSample:
    """The ScoredSample of test labels ``y_true``: [N, C] 0/1 classes (multilabel, one-hot
    multiclass), [N, K] regression targets, or [N, ...] segmentation masks (class indices,
    -1 unscored)."""
    y_true = np.asarray(y_true)
    names = tuple(str(n) for n in names)
    n = len(y_true)
    if kind == "targets":
        constant = np.ptp(y_true, axis=0) <= 1e-12 if n else np.ones(len(names), dtype=bool)
        left_out = {name: CONSTANT for name, flat in zip(names, constant, strict=True) if flat}
        scored = tuple(name for name in names if name not in left_out)
        return ScoredSample(n, kind, names, scored, left_out)
    if kind == "masks":
        flat = y_true.reshape(n, -1)
        positives = [int((flat == c).any(axis=1).sum()) for c in range(len(names))]
        negatives = [n - p for p in positives]
        why = {name: NOT_ANNOTATED for name, p in zip(names, positives, strict=True) if p == 0}
    else:
        positives = [int(p) for p in (y_true > 0.5).sum(axis=0)]
        negatives = [n - p for p in positives]
        why = {}
        for name, p, q in zip(names, positives, negatives, strict=True):
            if p == 0:
                why[name] = NO_POSITIVE
            elif q == 0:
                why[name] = NO_NEGATIVE
    scored = tuple(name for name in names if name not in why)
    return ScoredSample(
        n, kind, names, scored, why,
        dict(zip(names, positives, strict=True)), dict(zip(names, negatives, strict=True)),
    )  # fmt: skip


def min_test_records(n_boot: int) -> int:
    """Fewest test records whose likeliest resample (n!/nⁿ) is no likelier than the p-value's
    resolution 1/(n_boot + 1): 9 at 1,000 resamples."""
    n = 1
    while math.lgamma(n + 1) - n * math.log(n) > -math.log(n_boot + 1):
        n += 1
    return n


def min_class_count(alpha: float) -> int:
    """Fewest positives (and negatives) per scored class: the smallest k with e^(−k) ≤ alpha
    (3 at alpha = 0.05)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return math.ceil(math.log(1 / alpha) - 1e-12)


def too_small_to_test(sample: ScoredSample, n_boot: int, alpha: float, n_partial: int = 0) -> str:
    """Why ``sample`` is below the minimums for the paired test at ``n_boot`` resamples and
    level ``alpha`` ('' when it is not); ``n_partial``: resamples scored without a class."""
    reasons = []
    records = min_test_records(n_boot)
    if sample.n_records < records:
        reasons.append(f"{sample.n_records} test records (minimum {records} at {n_boot} resamples)")
    if not sample.scored:
        reasons.append("no class scored")
    if sample.kind == "classes":
        least = min_class_count(alpha)
        few = []
        for name in sample.scored:
            counts = [(sample.positives[name], "positive"), (sample.negatives[name], "negative")]
            low = [f"{n} {side}{'s' if n != 1 else ''}" for n, side in counts if n < least]
            if low:
                few.append(f"{name} ({', '.join(low)})")
        if few:
            reasons.append(f"classes under {least} positives or negatives: {_shown(few)}")
        if n_partial:
            reasons.append(
                f"{n_partial} of {n_boot} resamples scored without a class (under 1 in 20 "
                "draws keeps every class)"
            )
    return "; ".join(reasons)


def _shown(names: Sequence[str]) -> str:
    return ", ".join(names[:SHOWN_NAMES]) + (", ..." if len(names) > SHOWN_NAMES else "")


def p_value_text(p_value: float | None, n_boot: int) -> str:
    """A p-value as printed: '< 0.001' at the bootstrap's resolution 1/(n_boot + 1) (1/1001
    shown as its bound rounded up to two significant figures), else three significant figures;
    '' for none."""
    if p_value is None or not math.isfinite(p_value):
        return ""
    floor = 1 / (n_boot + 1)
    if p_value <= floor * (1 + 1e-9):
        digits = 1 - math.floor(math.log10(floor))
        bound = math.ceil(floor * 10**digits) / 10**digits
        return f"< {bound:g}"
    return f"{p_value:.3g}"

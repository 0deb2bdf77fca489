"""The test sample in the leaderboards, paper tables and results page.

The leaderboard frame carries, per entry, its task's test sample (``bench.evaluation.sample``):
``test_sample`` ('4 records · 6/26 classes'), ``classes_left_out`` (why each was) and
``too_small`` (why no significance test was run; '' when it was). Tables print the sample under
their header, mark every entry of a too-small sample with ``TOO_SMALL_MARK`` (no † / ‡ is drawn
there) and list the left-out classes and reasons below.
"""

from __future__ import annotations

import pandas as pd

from bench.evaluation.sample import min_class_count, min_test_records

TOO_SMALL_MARK = "◦"
TEST_SET_LABEL = "test set"


def too_small(entry: pd.Series) -> bool:
    """Whether the entry's test sample is below the minimums (an older CSV: never)."""
    reason = entry.get("too_small", "")
    return isinstance(reason, str) and reason != ""


def sample_cell(entry: pd.Series) -> str:
    """'4 records · 6/26 classes ◦' for an entry's task ('' for an older CSV)."""
    label = entry.get("test_sample", "")
    if not isinstance(label, str) or not label:
        return ""
    return f"{label} {TOO_SMALL_MARK}" if too_small(entry) else label


def with_mark(text: str, entry: pd.Series) -> str:
    """``text`` followed by the too-small mark where the entry's sample is too small."""
    return f"{text} {TOO_SMALL_MARK}" if too_small(entry) else text


def sample_line(entry: pd.Series) -> str:
    """One task's test sample in full: records and classes, the left-out classes with why,
    and why it is too small to test."""
    parts = [str(entry.get("test_sample", ""))]
    left_out = entry.get("classes_left_out", "")
    if isinstance(left_out, str) and left_out:
        parts.append(f"left out: {left_out}")
    if too_small(entry):
        parts.append(f"too small to test ({TOO_SMALL_MARK}): {entry['too_small']}")
    return "; ".join(parts)


def sample_lines(frame: pd.DataFrame) -> list[str]:
    """'task (profile p): <sample_line>' for every task of ``frame``, sorted."""
    if frame.empty or "test_sample" not in frame:
        return []
    first = frame.drop_duplicates(["profile", "task"]).sort_values(["profile", "task"])
    return [
        f"{row['task']} (profile {row['profile']}): {sample_line(row)}"
        for _, row in first.iterrows()
    ]


def minimums_note(n_boot: int, alpha: float) -> str:
    """What the test-set row and the mark mean, with the minimums at these settings."""
    return (
        f"Test set: each task's test records and the classes (or targets) scored of all its "
        f"classes; left-out classes with why under Test sets. {TOO_SMALL_MARK}: too small to "
        f"test: fewer than {min_test_records(n_boot)} test records (the smallest test set "
        f"whose likeliest resample, the test set itself, is no likelier than the p-value's "
        f"resolution 1/{n_boot + 1}), or a scored class with fewer than "
        f"{min_class_count(alpha)} positives or negatives (the smallest k with exp(-k) at most "
        f"alpha = {alpha:g}: a resample that loses a class is redrawn, and with fewer that "
        f"happens more often than alpha), or "
        f"resamples scored without a class: no paired test is run and no † / ‡ is drawn. "
        f"p-values at the resolution 1/(B + 1) read '< ...' in the CSV."
    )

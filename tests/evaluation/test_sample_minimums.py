"""The test sample of a cell and the minimums below which the paired bootstrap test is not run
(bench.evaluation.sample): each minimum checked against the bootstrap behaviour it comes from."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.evaluation.bootstrap import valid_resamples
from bench.evaluation.sample import (
    CONSTANT,
    NO_NEGATIVE,
    NO_POSITIVE,
    NOT_ANNOTATED,
    ScoredSample,
    describe_test_sample,
    min_class_count,
    min_test_records,
    p_value_text,
    too_small_to_test,
)


def _likeliest_resample(n: int) -> float:
    """Probability that a bootstrap resample of n records draws each exactly once: n!/nⁿ."""
    return math.exp(math.lgamma(n + 1) - n * math.log(n))


@pytest.mark.parametrize("n_boot", [20, 200, 1000, 10_000])
def test_records_minimum_is_where_the_likeliest_resample_drops_below_the_resolution(
    n_boot: int,
) -> None:
    least = min_test_records(n_boot)
    assert _likeliest_resample(least) <= 1 / (n_boot + 1) < _likeliest_resample(least - 1)


def test_records_minimum_at_the_default_resamples() -> None:
    assert min_test_records(1000) == 9


def test_class_minimum_bounds_the_share_of_redrawn_resamples_by_alpha() -> None:
    for alpha in (0.05, 0.01):
        least = min_class_count(alpha)
        assert math.exp(-least) <= alpha < math.exp(-(least - 1))
    assert min_class_count(0.05) == 3
    # measured: with one fewer positive, the bootstrap redraws more than alpha of its draws
    y = np.zeros((400, 1))
    y[[3, 200], 0] = 1
    drawn = valid_resamples(y, 1000, 0)
    assert drawn.n_redrawn / (1000 + drawn.n_redrawn) > 0.05


def test_classes_are_scored_or_left_out_with_why() -> None:
    y = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 1]])
    sample = describe_test_sample(y, ["A", "B", "C"], "classes")
    assert sample.scored == ("A",)
    assert sample.left_out == {"B": NO_POSITIVE, "C": NO_NEGATIVE}
    assert sample.positives == {"A": 2, "B": 0, "C": 3} and sample.min_class_count() == 1
    assert sample.label() == "3 records · 1/3 classes"
    assert sample.left_out_text() == f"{NO_POSITIVE} (1): B; {NO_NEGATIVE} (1): C"
    assert ScoredSample.from_dict(sample.as_dict()) == sample


def test_targets_and_masks() -> None:
    targets = describe_test_sample(np.array([[1.0, 5.0], [2.0, 5.0]]), ["hr", "qt"], "targets")
    assert targets.scored == ("hr",) and targets.left_out == {"qt": CONSTANT}
    masks = np.full((3, 2, 10), -1)
    masks[0, 0, :4], masks[1, 1, 2:] = 2, 0
    waves = describe_test_sample(masks, ["background", "P", "QRS", "T"], "masks")
    assert waves.positives == {"background": 1, "P": 0, "QRS": 1, "T": 0}
    assert waves.left_out == {"P": NOT_ANNOTATED, "T": NOT_ANNOTATED}


def test_too_small_names_each_reason() -> None:
    y = np.zeros((30, 2))
    y[:15, 0], y[:2, 1] = 1, 1
    sample = describe_test_sample(y, ["A", "B"], "classes")
    assert too_small_to_test(sample, 1000, 0.05) == (
        "classes under 3 positives or negatives: B (2 positives)"
    )
    assert "scored without a class" in too_small_to_test(sample, 1000, 0.05, n_partial=4)
    small = describe_test_sample(y[:8], ["A", "B"], "classes")
    assert too_small_to_test(small, 1000, 0.05).startswith("8 test records (minimum 9 at 1000")
    regression = describe_test_sample(np.arange(12.0)[:, None], ["hr"], "targets")
    assert too_small_to_test(regression, 1000, 0.05) == ""  # no class can go missing
    assert too_small_to_test(sample, 1000, 0.2) == ""  # 2 suffice where alpha >= exp(-2)


def test_p_values_at_the_resolution_print_as_a_bound() -> None:
    assert p_value_text(1 / 1001, 1000) == "< 0.001"
    assert p_value_text(2 / 1001, 1000) == "0.002"
    assert p_value_text(1 / 201, 200) == "< 0.005"
    assert p_value_text(float("nan"), 1000) == ""

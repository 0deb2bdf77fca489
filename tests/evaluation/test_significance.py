"""Hierarchical bootstrap over seeds and test records, the paired test, p-value adjustment."""

from __future__ import annotations

import numpy as np
import pytest

from bench.evaluation.bootstrap import percentile_ci
from bench.evaluation.significance import (
    adjust_p_values,
    hierarchical_ci,
    hierarchical_means,
    paired_hierarchical_test,
    seed_draws,
)

B = 2000


def test_seed_draws_are_fixed_and_count_every_draw() -> None:
    pretrain, fraction = seed_draws(3, 4, 50, seed=1)
    assert pretrain.shape == (50, 3) and fraction.shape == (50, 4)
    assert (pretrain.sum(axis=1) == 3).all() and (fraction.sum(axis=1) == 4).all()
    again = seed_draws(3, 4, 50, seed=1)
    assert np.array_equal(pretrain, again[0]) and np.array_equal(fraction, again[1])
    assert not np.array_equal(pretrain, seed_draws(3, 4, 50, seed=2)[0])


def test_one_run_is_the_plain_test_record_bootstrap() -> None:
    scores = np.random.default_rng(0).random((1, 1, 100))
    assert np.allclose(hierarchical_means(scores), scores[0, 0])


def test_replicate_mean_is_the_weighted_mean_of_the_drawn_runs() -> None:
    scores = np.random.default_rng(1).random((2, 3, 5))
    means = hierarchical_means(scores, seed=4)
    pretrain, fraction = seed_draws(2, 3, 5, seed=4)
    for b in range(5):
        weights = np.outer(pretrain[b], fraction[b])
        assert means[b] == pytest.approx((weights * scores[:, :, b]).sum() / weights.sum())


def test_the_ci_holds_the_pretraining_variance() -> None:
    rng = np.random.default_rng(2)
    offsets = np.array([-0.05, 0.0, 0.05])  # three pretraining seeds far apart
    scores = 0.8 + offsets[:, None, None] + 0.002 * rng.normal(size=(3, 3, B))
    records_only = percentile_ci(scores.mean(axis=(0, 1)))
    low, high = hierarchical_ci(scores)
    assert records_only[1] - records_only[0] < 0.005
    assert high - low > 0.04  # the bootstrap of the mean of three spread seeds
    assert low < 0.8 < high


def test_missing_runs_are_left_out() -> None:
    scores = np.full((2, 2, 10), 0.7)
    scores[1, 1] = np.nan
    means = hierarchical_means(scores)
    assert np.allclose(means[np.isfinite(means)], 0.7)
    # NaN only where a replicate drew nothing but the missing run (P = 1/4 * 1/4)
    pretrain, fraction = seed_draws(2, 2, 10)
    only_missing = (pretrain[:, 1] == 2) & (fraction[:, 1] == 2)
    assert np.array_equal(np.isnan(means), only_missing)


def test_paired_test_of_a_clearly_better_method() -> None:
    rng = np.random.default_rng(3)
    baseline = 0.7 + 0.01 * rng.normal(size=(3, 3, B))
    test = paired_hierarchical_test(0.1, baseline + 0.1, baseline)
    assert test.p_value == pytest.approx(1 / (B + 1))  # no replicate at or below zero
    assert test.low == pytest.approx(0.1) and test.high == pytest.approx(0.1)
    same = paired_hierarchical_test(0.0, baseline, baseline)
    assert same.p_value == 1.0


def test_seed_variance_that_a_test_record_bootstrap_ignores_is_not_significant() -> None:
    rng = np.random.default_rng(4)
    baseline = 0.7 + 0.01 * rng.normal(size=(1, 3, 1)) + 0.01 * rng.normal(size=(1, 1, B))
    baseline = np.broadcast_to(baseline, (3, 3, B))
    gains = np.array([0.05, -0.04, 0.05])  # one pretraining seed is worse than the baseline
    method = baseline + gains[:, None, None]
    fixed_seeds = method.mean(axis=(0, 1)) - baseline.mean(axis=(0, 1))
    assert (fixed_seeds > 0).all()  # resampling test records alone: p = 1 / B
    test = paired_hierarchical_test(float(gains.mean()), method, baseline)
    # P(mean of 3 draws <= 0) = P(at least two of the 3 draws are the -0.04 seed) = 7 / 27
    assert test.p_value == pytest.approx(7 / 27, abs=0.03)
    assert test.low < 0 < test.high


def test_one_sided_p_of_a_worse_method_is_large() -> None:
    baseline = np.full((1, 2, 100), 0.8)
    assert paired_hierarchical_test(-0.1, baseline - 0.1, baseline).p_value == 1.0


def test_benjamini_hochberg_and_holm() -> None:
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.2])
    bh = adjust_p_values(p, "bh")
    # BH: sorted 0.01, 0.03, 0.04, 0.2 -> min over k >= i of p_(k) m / k, m = 4
    assert np.allclose(bh[[0, 1, 3, 4]], [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])
    assert np.isnan(bh[2])
    holm = adjust_p_values(p, "holm")
    assert np.allclose(holm[[0, 3, 1, 4]], [0.04, 0.09, 0.09, 0.2])
    assert np.isnan(adjust_p_values(np.array([np.nan]))).all()
    with pytest.raises(ValueError, match="unknown correction"):
        adjust_p_values(p, "bonferroni")  # type: ignore[arg-type]


def test_bad_shapes_fail_clearly() -> None:
    with pytest.raises(ValueError, match="pretrain seeds, fraction seeds, resamples"):
        hierarchical_means(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="paired runs must match"):
        paired_hierarchical_test(0.0, np.zeros((1, 2, 5)), np.zeros((2, 2, 5)))

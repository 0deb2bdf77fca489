"""Delineation metrics on hand-made masks (500 Hz: one sample is 2 ms; 150 ms = 75 samples)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.evaluation.bootstrap import bootstrap_indices
from bench.evaluation.delineation import (
    SIDES,
    WAVES,
    delineation_bootstrap,
    delineation_metrics,
    match_boundaries,
    wave_boundaries,
)
from bench.evaluation.metrics import MetricError

RATE = 500
LENGTH = 1200
# (class, first sample, last sample): two beats of P, QRS, T inside the scored range 100..1099
BEATS = ((1, 150, 199), (2, 250, 299), (3, 400, 499), (1, 600, 649), (2, 700, 749), (3, 850, 949))
KEYS = [f"{wave}_{side}" for wave in WAVES for side in SIDES]


def paint(waves: tuple[tuple[int, int, int], ...], scored: tuple[int, int] | None) -> np.ndarray:
    mask = np.zeros(LENGTH, dtype=np.int64)
    for label, first, last in waves:
        mask[first : last + 1] = label
    if scored is not None:
        mask[: scored[0]] = -1
        mask[scored[1] + 1 :] = -1
    return mask


TRUE = paint(BEATS, (100, 1099))


def clean(waves: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    return paint(waves, None)


def shifted(samples: int) -> np.ndarray:
    return clean(tuple((c, a + samples, b + samples) for c, a, b in BEATS))


def test_boundaries_are_first_and_last_samples_of_runs() -> None:
    onsets, offsets = wave_boundaries(TRUE, 2)
    assert onsets.tolist() == [250, 700] and offsets.tolist() == [299, 749]
    onsets, offsets = wave_boundaries(np.array([2, 2, 0, 2]), 2)
    assert onsets.tolist() == [0, 3] and offsets.tolist() == [1, 3]


def test_exact_match() -> None:
    metrics = delineation_metrics([TRUE], [clean(BEATS)], RATE)
    for key in KEYS:
        for tol in (150, 40):
            assert metrics[f"sens_{key}@{tol}"] == metrics[f"ppv_{key}@{tol}"] == 1.0
            assert metrics[f"f1_{key}@{tol}"] == 1.0
            assert metrics[f"error_mean_ms_{key}@{tol}"] == 0.0
            assert metrics[f"error_sd_ms_{key}@{tol}"] == 0.0
    assert metrics["mean_boundary_f1@150"] == metrics["mean_boundary_f1@40"] == 1.0
    assert len(metrics) == 2 * (6 * 5 + 1)


def test_shift_by_20_ms_matches_at_both_tolerances() -> None:
    metrics = delineation_metrics([TRUE], [shifted(10)], RATE)
    for key in KEYS:
        for tol in (150, 40):
            assert metrics[f"f1_{key}@{tol}"] == 1.0
            assert metrics[f"error_mean_ms_{key}@{tol}"] == pytest.approx(20.0)
            assert metrics[f"error_sd_ms_{key}@{tol}"] == pytest.approx(0.0)


def test_shift_by_50_ms_matches_at_150_only() -> None:
    metrics = delineation_metrics([TRUE], [shifted(-25)], RATE)
    assert metrics["mean_boundary_f1@150"] == 1.0
    assert metrics["error_mean_ms_qrs_offset@150"] == pytest.approx(-50.0)
    assert metrics["mean_boundary_f1@40"] == 0.0
    assert metrics["sens_t_onset@40"] == metrics["ppv_t_onset@40"] == 0.0
    assert np.isnan(metrics["error_mean_ms_t_onset@40"])


def test_one_wave_shifted_by_200_ms() -> None:
    late_t = tuple((c, a + 100, b + 100) if a == 850 else (c, a, b) for c, a, b in BEATS)
    metrics = delineation_metrics([TRUE], [clean(late_t)], RATE, tolerances_ms=(150, 250))
    # the first T matches exactly; the second is 100 samples (200 ms) late: a miss and a
    # false positive at 150 ms, a match with error +200 ms at 250 ms
    for side in SIDES:
        assert metrics[f"sens_t_{side}@150"] == metrics[f"ppv_t_{side}@150"] == 0.5
        assert metrics[f"f1_t_{side}@150"] == 0.5
        assert metrics[f"error_mean_ms_t_{side}@150"] == 0.0
        assert np.isnan(metrics[f"error_sd_ms_t_{side}@150"])  # one match only
        assert metrics[f"f1_t_{side}@250"] == 1.0
        assert metrics[f"error_mean_ms_t_{side}@250"] == pytest.approx(100.0)  # (0 + 200) / 2
        assert metrics[f"error_sd_ms_t_{side}@250"] == pytest.approx(np.sqrt(2) * 100)
    assert metrics["mean_boundary_f1@150"] == pytest.approx((4 + 2 * 0.5) / 6)


def test_missed_wave() -> None:
    metrics = delineation_metrics([TRUE], [clean(BEATS[:4] + BEATS[5:])], RATE)
    for side in SIDES:
        assert metrics[f"sens_qrs_{side}@150"] == 0.5
        assert metrics[f"ppv_qrs_{side}@150"] == 1.0
        assert metrics[f"f1_qrs_{side}@150"] == pytest.approx(2 / 3)
        assert metrics[f"f1_p_{side}@150"] == metrics[f"f1_t_{side}@150"] == 1.0
    assert metrics["mean_boundary_f1@150"] == pytest.approx((4 + 2 * 2 / 3) / 6)


def test_spurious_wave() -> None:
    metrics = delineation_metrics([TRUE], [clean((*BEATS, (1, 520, 549)))], RATE)
    # 520 is 80 samples (160 ms) from the P onset at 600: no match, one false positive
    for side in SIDES:
        assert metrics[f"sens_p_{side}@150"] == 1.0
        assert metrics[f"ppv_p_{side}@150"] == pytest.approx(2 / 3)
        assert metrics[f"f1_p_{side}@150"] == pytest.approx(0.8)  # 2 * 2 / (2 + 3)
    assert metrics["mean_boundary_f1@150"] == pytest.approx((4 + 2 * 0.8) / 6)


def test_predictions_in_the_unscored_region_are_ignored() -> None:
    noise = clean((*BEATS, (2, 20, 60), (3, 1120, 1180), (1, 1150, 1199)))
    assert delineation_metrics([TRUE], [noise], RATE)["mean_boundary_f1@40"] == 1.0


def test_an_early_prediction_at_the_scored_edge_still_matches() -> None:
    true = paint(BEATS, (150, 1099))  # the lead's first annotation is the P onset at 150
    early = clean(((1, 145, 199), *BEATS[1:]))
    metrics = delineation_metrics([true], [early], RATE)
    assert metrics["sens_p_onset@40"] == 1.0 and metrics["ppv_p_onset@40"] == 1.0
    assert metrics["error_mean_ms_p_onset@40"] == pytest.approx(-5.0)  # (-10 + 0) / 2


def test_matching_is_one_to_one_nearest_first() -> None:
    matched, error = match_boundaries(np.array([100, 130]), np.array([120]), 25)
    assert matched.tolist() == [True] and error.tolist() == [-10]
    matched, error = match_boundaries(np.array([100, 140]), np.array([120]), 25)
    assert error.tolist() == [20]  # a tie goes to the earlier true boundary
    matched, error = match_boundaries(np.array([250]), np.array([240, 255]), 75)
    assert matched.tolist() == [False, True] and error.tolist() == [5]
    split = clean(((2, 240, 244), (2, 255, 299), *BEATS[:1], *BEATS[2:]))
    metrics = delineation_metrics([TRUE], [split], RATE)
    assert metrics["sens_qrs_onset@150"] == 1.0 and metrics["ppv_qrs_onset@150"] == 2 / 3
    assert metrics["error_mean_ms_qrs_onset@150"] == pytest.approx(5.0)  # (10 + 0) / 2


def test_surplus_predictions_near_one_true_boundary_match_it_once() -> None:
    # three predictions for two true boundaries, two of them near the first: the nearer one
    # matches it, the other is a false positive, and the far true boundary takes the third
    matched, error = match_boundaries(np.array([100, 400]), np.array([98, 103, 390]), 25)
    assert matched.tolist() == [True, False, True] and error.tolist() == [-2, -10]
    # the first QRS split in two runs (onsets 245 and 255 around the true 250), the second QRS
    # not predicted: one match, one false positive, one miss for the QRS onset
    split = clean(((2, 245, 249), (2, 255, 299), *BEATS[:1], *BEATS[2:4], *BEATS[5:]))
    metrics = delineation_metrics([TRUE], [split], RATE)
    for side in SIDES:
        assert metrics[f"sens_qrs_{side}@150"] == 0.5 and metrics[f"ppv_qrs_{side}@150"] == 0.5


def test_counts_are_pooled_over_pairs() -> None:
    metrics = delineation_metrics([TRUE, TRUE], [clean(BEATS), clean(BEATS[:4])], RATE)
    # QRS onset: 4 true, 3 predicted and matched (pooled), not the mean of 1.0 and 0.5
    assert metrics["sens_qrs_onset@150"] == 0.75
    assert metrics["f1_qrs_onset@150"] == pytest.approx(6 / 7)


PAIRS = [clean(BEATS), clean(BEATS[:4]), clean((*BEATS, (1, 520, 549))), shifted(10)]


def test_bootstrap_resamples_records() -> None:
    truth = [TRUE] * len(PAIRS)
    point = delineation_metrics(truth, PAIRS, RATE)
    by_pair = delineation_bootstrap(truth, PAIRS, np.arange(4), RATE, 200, 0, 0.9)
    low, high = by_pair["mean_boundary_f1@150"]
    assert low < point["mean_boundary_f1@150"] < high
    one_record = delineation_bootstrap(truth, PAIRS, np.zeros(4), RATE, 200, 0, 0.9)
    assert one_record["mean_boundary_f1@150"] == [pytest.approx(point["mean_boundary_f1@150"])] * 2
    assert set(by_pair) == set(point)
    assert delineation_bootstrap(truth, PAIRS, np.arange(4), RATE, 0, 0, 0.9) == {}


def test_a_resample_is_the_metric_on_the_resampled_records() -> None:
    truth, records = [TRUE] * len(PAIRS), np.array([7, 7, 3, 5])  # record 7 has two leads
    ci = delineation_bootstrap(truth, PAIRS, records, RATE, 1, 11, 0.9)
    drawn = bootstrap_indices(3, 1, 11)[0]  # records sorted: 3, 5, 7
    rows = [i for r in drawn for i in np.flatnonzero(records == (3, 5, 7)[r])]
    again = delineation_metrics([truth[i] for i in rows], [PAIRS[i] for i in rows], RATE)
    for key in ("mean_boundary_f1@150", "ppv_p_onset@150", "error_mean_ms_p_onset@40"):
        assert ci[key] == [pytest.approx(again[key])] * 2


def test_bad_masks_are_refused() -> None:
    with pytest.raises(MetricError, match="pair 0"):
        delineation_metrics([TRUE], [clean(BEATS)[:-1]], RATE)
    with pytest.raises(MetricError, match=r"predicted 0\.\.3"):
        delineation_metrics([TRUE], [TRUE], RATE)
    with pytest.raises(MetricError, match="1 true masks for 2"):
        delineation_metrics([TRUE], [TRUE, TRUE], RATE)
    with pytest.raises(MetricError, match="record_index"):
        delineation_bootstrap([TRUE], [clean(BEATS)], np.arange(2), RATE, 10, 0, 0.9)

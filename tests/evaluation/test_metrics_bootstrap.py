"""Bootstrap: fixed indices, vectorised metrics equal to sklearn, CIs, redrawn resamples."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from bench.evaluation.bootstrap import (
    bootstrap_indices,
    class_auroc_auprc,
    class_f1,
    macro_auroc_samples,
    percentile_ci,
    resample_counts,
    resampled_macro_scores,
    valid_resamples,
)


def _cell(
    rng: np.random.Generator, n: int, classes: int, signal: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random((n, classes)) < 0.25).astype(int)
    return y, signal * y + rng.normal(size=y.shape)


def test_indices_are_fixed_for_the_same_arguments() -> None:
    first = bootstrap_indices(50, n_boot=30, seed=0)
    assert first.shape == (30, 50)
    assert np.array_equal(first, bootstrap_indices(50, n_boot=30, seed=0))
    assert not np.array_equal(first, bootstrap_indices(50, n_boot=30, seed=1))
    assert first.min() >= 0 and first.max() < 50


def test_counts_match_the_indices() -> None:
    indices = bootstrap_indices(20, n_boot=5, seed=3)
    counts = resample_counts(indices, 20)
    for row, count in zip(indices, counts, strict=True):
        assert np.array_equal(np.bincount(row, minlength=20), count)


@pytest.mark.parametrize("decimals", [None, 1])  # 1 decimal: many tied scores
def test_vectorised_metrics_equal_sklearn_on_resampled_arrays(decimals: int | None) -> None:
    rng = np.random.default_rng(0)
    y, s = _cell(rng, 150, 5)
    if decimals is not None:
        s = np.round(s, decimals)
    thresholds = np.array([0.0, 0.5, 1.0, -0.5, 0.2])
    indices = bootstrap_indices(150, n_boot=25, seed=7)
    counts = resample_counts(indices, 150)
    auroc, auprc = class_auroc_auprc(y, s, counts)
    f1 = class_f1(y, s, thresholds, counts)
    for b, rows in enumerate(indices):
        for c in range(5):
            yb, sb = y[rows, c], s[rows, c]
            assert auroc[b, c] == pytest.approx(roc_auc_score(yb, sb), abs=1e-12)
            assert auprc[b, c] == pytest.approx(average_precision_score(yb, sb), abs=1e-12)
            assert f1[b, c] == pytest.approx(f1_score(yb, sb >= thresholds[c]), abs=1e-12)


def test_unit_weights_give_sklearn_macro_auroc() -> None:
    y, s = _cell(np.random.default_rng(1), 300, 6)
    auroc, _ = class_auroc_auprc(y, s, np.ones((1, 300), dtype=np.int64))
    assert auroc[0] == pytest.approx(roc_auc_score(y, s, average=None), abs=1e-12)


def test_resample_macro_uses_the_classes_valid_in_that_resample() -> None:
    rng = np.random.default_rng(2)
    y, s = _cell(rng, 40, 3)
    y[:, 2] = 0
    y[5, 2] = 1  # a single positive: absent from many resamples
    indices = bootstrap_indices(40, n_boot=60, seed=4)
    samples = macro_auroc_samples(y, s, indices)
    missing = 0
    for b, rows in enumerate(indices):
        valid = [c for c in range(3) if 0 < y[rows, c].sum() < len(rows)]
        missing += 2 not in valid
        expected = np.mean([roc_auc_score(y[rows, c], s[rows, c]) for c in valid])
        assert samples[b] == pytest.approx(expected, abs=1e-12)
    assert missing > 0  # the rare class really dropped out of some resamples


def test_percentile_ci_takes_the_two_tails() -> None:
    assert percentile_ci(np.arange(101.0), 0.9) == pytest.approx((5.0, 95.0))
    assert percentile_ci(np.r_[np.arange(101.0), np.nan], 0.8) == pytest.approx((10.0, 90.0))
    with pytest.raises(ValueError, match="level"):
        percentile_ci(np.arange(3.0), 1.5)


def test_ci_contains_the_estimate_and_narrows_with_more_records() -> None:
    rng = np.random.default_rng(3)
    widths = []
    for n in (200, 2000):
        y, s = _cell(rng, n, 4)
        estimate = roc_auc_score(y, s, average="macro")
        low, high = percentile_ci(macro_auroc_samples(y, s, bootstrap_indices(n, 300)))
        assert low < estimate < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2


def test_resamples_missing_a_class_are_redrawn_as_the_reference_does() -> None:
    y = np.zeros((40, 3), dtype=int)
    y[:20, 0] = 1  # common
    y[0, 1] = 1  # a single positive: missed by about 36 % of plain resamples
    y[:, 2] = 1
    y[1, 2] = 0  # a single negative (another record): as undefined for AUROC when missed
    plain = bootstrap_indices(40, n_boot=300, seed=2)
    counts = resample_counts(plain, 40) @ y
    invalid = ((counts == 0) | (counts == 40)).any(axis=1)
    assert 150 < invalid.sum() < 250  # both rare classes are often missed

    resamples = valid_resamples(y, n_boot=300, seed=2)
    kept = resample_counts(resamples.indices, 40) @ y
    assert resamples.indices.shape == (300, 40)
    assert ((kept > 0) & (kept < 40)).all()
    assert resamples.n_redrawn > invalid.sum()  # redraws can fail too
    # the valid plain resamples come first, in order, so a set needing no redraw keeps them
    assert np.array_equal(resamples.indices[: (~invalid).sum()], plain[~invalid])
    scores = macro_auroc_samples(y, y + np.random.default_rng(0).normal(size=y.shape), plain)
    assert np.isfinite(scores).all()  # plain resamples: the missing class is left out instead


def test_a_set_needing_no_redraw_keeps_the_plain_resamples() -> None:
    y = (np.random.default_rng(1).random((300, 4)) < 0.4).astype(int)
    resamples = valid_resamples(y, n_boot=50, seed=5)
    assert resamples.n_redrawn == 0
    assert np.array_equal(resamples.indices, bootstrap_indices(300, n_boot=50, seed=5))


def test_a_class_absent_from_the_whole_set_does_not_force_redraws() -> None:
    y = np.zeros((30, 2), dtype=int)
    y[::2, 0] = 1  # class 1 has no positive at all: excluded, as from the point estimate
    assert valid_resamples(y, n_boot=20).n_redrawn == 0


def test_where_nearly_every_resample_misses_a_class_plain_resamples_are_counted() -> None:
    y = np.zeros((200, 30), dtype=int)
    y[np.arange(30), np.arange(30)] = 1  # 30 classes of one positive each: ~1e-6 resamples fit
    resamples = valid_resamples(y, n_boot=50, seed=3)
    assert np.array_equal(resamples.indices, bootstrap_indices(200, n_boot=50, seed=3))
    assert resamples.n_redrawn == 0 and resamples.n_partial == 50
    assert valid_resamples(y[:, :1], n_boot=50, seed=3).n_partial == 0  # one rare class: redraw


def test_resampled_scores_include_f1_only_with_thresholds() -> None:
    y, s = _cell(np.random.default_rng(6), 100, 3)
    indices = bootstrap_indices(100, n_boot=10)
    assert set(resampled_macro_scores(y, s, indices)) == {"macro_auroc", "macro_auprc"}
    with_f1 = resampled_macro_scores(y, s, indices, thresholds=np.zeros(3))
    assert with_f1["macro_f1"].shape == (10,)


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="n >= 1"):
        bootstrap_indices(0)
    with pytest.raises(ValueError, match="lie in"):
        resample_counts(np.array([[0, 5]]), 3)
    with pytest.raises(ValueError, match="counts must be"):
        class_auroc_auprc(np.zeros((4, 2)), np.zeros((4, 2)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        macro_auroc_samples(np.eye(3), np.full((3, 3), np.nan), bootstrap_indices(3, 2))


@pytest.mark.slow
def test_full_size_bootstrap_takes_seconds() -> None:
    """1,000 resamples x 71 classes x 2,000 records (PTB-XL 'all' test fold size)."""
    y, s = _cell(np.random.default_rng(7), 2000, 71)
    indices = bootstrap_indices(2000)
    start = time.perf_counter()
    macro_auroc_samples(y, s, indices)
    assert time.perf_counter() - start < 10


def test_resamples_are_drawn_once_per_test_set_and_read_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bench.evaluation.bootstrap as bootstrap

    draws: list[int] = []
    draw = bootstrap._draw_valid

    def counting(*args: object) -> bootstrap.Resamples:
        draws.append(1)
        return draw(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(bootstrap, "_RESAMPLES", bootstrap.OrderedDict())
    monkeypatch.setattr(bootstrap, "_draw_valid", counting)
    y = (np.random.default_rng(8).random((40, 3)) < 0.2).astype(int)
    first = valid_resamples(y, n_boot=30, seed=1)
    assert valid_resamples(y.astype(np.float32), n_boot=30, seed=1) is first  # same labels
    assert len(draws) == 1
    assert np.array_equal(first.indices, draw(y > 0.5, 30, 1).indices)  # what a fresh draw gives
    with pytest.raises(ValueError, match="read-only"):
        first.indices[0, 0] = 0
    flipped = y.copy()
    flipped[0, 0] = 1 - flipped[0, 0]
    for other in (
        valid_resamples(flipped, 30, 1),
        valid_resamples(y, 31, 1),
        valid_resamples(y, 30, 2),
    ):
        assert other is not first
    assert valid_resamples(y[:, :2], n_boot=30, seed=1) is not first  # another label set
    assert len(draws) == 5

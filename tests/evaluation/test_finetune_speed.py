"""Fine-tuning made cheaper without changing what it computes.

Validation is windowed once per fine-tune (``prepare_windows``) instead of at every
evaluation; the scores must be exactly what ``apply_windowed`` gives. The pinned numbers below
were produced by the fine-tuning code before this change (commit 0a96acd) on the same small
runs; the new code must reproduce them (to 1e-6, float tolerance across CPUs).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bench.evaluation.windows as windows_module
from bench.data.ragged import Ragged
from bench.evaluation.windows import apply_windowed, pool_windows, prepare_windows
from tests.doubles.finetune_runs import config, run
from tests.doubles.toys import toy_signals

CPU = torch.device("cpu")

# scenario -> (validation curve, best step, steps, sum and index-weighted sum of the test
# scores, the same of the selected state's validation scores), from the code before the change
PINNED = {
    "cosine": (
        [(3, 0.4428571429), (6, 0.5285714286), (9, 0.5285714286), (12, 0.5)], 6, 12,
        (11.912987, 149.272216), (12.0139829, 150.768556),
    ),
    "one_cycle": (
        [(3, 0.3428571429), (6, 0.4714285714), (9, 0.4714285714), (12, 0.4857142857)], 12, 12,
        (11.8963327, 149.093589), (12.1018324, 152.162442),
    ),
    "linear_patience": (
        [(3, 0.4428571429), (6, 0.5), (9, 0.5)], 6, 9,
        (12.1929928, 154.115644), (12.2252285, 153.126175),
    ),
}  # fmt: skip
CONFIGS = {
    "cosine": {},
    "one_cycle": {"schedule": "one_cycle", "warmup_fraction": 0.3},
    "linear_patience": {"head": "linear", "patience": 1, "evaluations": 6, "min_steps": 18},
}


def _sums(scores: np.ndarray) -> tuple[float, float]:
    weights = np.arange(1, scores.size + 1).reshape(scores.shape)
    values = scores.astype(np.float64)
    return float(values.sum()), float((values * weights).sum())


@pytest.mark.parametrize("scenario", sorted(PINNED))
def test_finetune_reproduces_the_previous_code(scenario: str) -> None:
    """Same curve, selected step, early stop and scores as before (test fold Ragged with a
    record shorter than the window; best state before the last in two of the runs)."""
    curve, best, steps, test_sums, val_sums = PINNED[scenario]
    result = run(config(**CONFIGS[scenario]))
    assert [step for step, _ in result.val_curve] == [step for step, _ in curve]
    np.testing.assert_allclose([s for _, s in result.val_curve], [s for _, s in curve], atol=1e-9)
    assert (result.best_step, result.steps) == (best, steps)
    np.testing.assert_allclose(_sums(result.test_scores), test_sums, rtol=1e-6)
    np.testing.assert_allclose(_sums(result.val_scores), val_sums, rtol=1e-6)
    assert result.stage_steps == ()  # one stage: nothing new in the cell's details


def _function(x: torch.Tensor) -> torch.Tensor:
    """A window function whose output depends on every sample and the window's position."""
    weights = torch.linspace(-1, 1, x.shape[-1])
    return torch.stack([(x * weights).sum((1, 2)), x.amax((1, 2)), x[:, 0, 0]], dim=1)


@pytest.mark.parametrize("aggregate", ["mean", "max"])
def test_prepared_windows_score_exactly_as_apply_windowed(aggregate: str) -> None:
    """Bit for bit, on an array (overlapping windows, batches that split records evenly and
    not) and on Ragged records (a short one padded)."""
    signals = toy_signals(n_records=11, length=70, seed=2)
    for batch in (4, 9, 256):
        expected = apply_windowed(signals, _function, 32, 12, aggregate, CPU, batch)
        prepared = prepare_windows(signals, 32, 12, CPU, batch)
        assert prepared.chunks is not None
        got = pool_windows(prepared, _function, aggregate, len(prepared))
        assert got.dtype == np.float32 and np.array_equal(got, expected)
        again = pool_windows(prepared, _function, aggregate, len(prepared))  # reusable
        assert np.array_equal(again, expected)
    ragged = Ragged.from_records([signals[i, :, : 20 + 7 * i] for i in range(8)], n_leads=3)
    expected = apply_windowed(ragged, _function, 32, 16, aggregate, CPU, 8)
    got = pool_windows(prepare_windows(ragged, 32, 16, CPU, 8), _function, aggregate, 8)
    assert np.array_equal(got, expected)


def test_folds_over_the_memory_budget_are_windowed_at_each_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above ``PREPARED_BYTES`` nothing is kept, and the scores stay the same."""
    signals = toy_signals(n_records=6, length=64, seed=4)
    expected = apply_windowed(signals, _function, 32, 16, "mean", CPU, 8)
    monkeypatch.setattr(windows_module, "PREPARED_BYTES", 100)
    prepared = prepare_windows(signals, 32, 16, CPU, 8)
    assert prepared.chunks is None
    assert np.array_equal(pool_windows(prepared, _function, "mean", 6), expected)

"""Fine-tuning made cheaper without changing what it computes.

Validation is windowed once per fine-tune (``prepare_windows``) instead of at every
evaluation; the scores must be exactly what ``apply_windowed`` gives. Every comparison here is
between two code paths run in the same process (the fine-tune as it is, and the same fine-tune
with validation windowed afresh at each evaluation, as the code before the change did), so it
holds on any CPU: both paths run the same kernels on the same batches, and CPU kernels are
deterministic for a given shape and thread count.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bench.evaluation.finetune as finetune_module
import bench.evaluation.windows as windows_module
from bench.data.formats.ragged import Ragged
from bench.evaluation.finetune import Classifier, _Scoring
from bench.evaluation.windows import (
    PreparedWindows,
    apply_windowed,
    pool_windows,
    prepare_windows,
)
from tests.doubles.finetune_runs import config, run
from tests.doubles.toys import toy_signals

pytestmark = pytest.mark.numeric

CPU = torch.device("cpu")
CONFIGS = {
    "cosine": {},
    "one_cycle": {"schedule": "one_cycle", "warmup_fraction": 0.3},
    "linear_patience": {"head": "linear", "patience": 1, "evaluations": 6, "min_steps": 18},
}


def _windowed_at_each_evaluation(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make ``finetune`` score as the code before the change did: every pass over a fold
    windows it afresh with ``apply_windowed`` (the prepared windows are not used). Returns the
    list that counts the passes."""
    passes: list[int] = []

    def score(
        self: _Scoring, model: Classifier, signals: np.ndarray | Ragged | PreparedWindows
    ) -> np.ndarray:
        assert self.dtype is None  # fp32 on the CPU, as the fine-tunes below run
        raw = signals.signals if isinstance(signals, PreparedWindows) else signals
        passes.append(len(raw))
        model.eval()
        windows = self.windows

        def outputs(x: torch.Tensor) -> torch.Tensor:
            return self.objective.output(model(x).float())

        return apply_windowed(
            raw, outputs, windows.window, windows.stride, windows.aggregate, self.device,
            windows.batch_size,
        )  # fmt: skip

    monkeypatch.setattr(finetune_module._Scoring, "__call__", score)
    return passes


@pytest.mark.parametrize("scenario", sorted(CONFIGS))
def test_finetune_windowing_validation_once_equals_windowing_it_at_each_evaluation(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same curve, selected step, early stop and scores, bit for bit, as the same fine-tune
    scoring validation through ``apply_windowed`` at every evaluation (test fold Ragged with a
    record shorter than the window; one run on patience 1, so its early stop, wherever the
    CPU's kernels put it, is compared too)."""
    settings = config(**CONFIGS[scenario])
    once = run(settings)
    passes = _windowed_at_each_evaluation(monkeypatch)
    reference = run(settings)
    assert len(passes) == len(reference.val_curve) + 1  # every evaluation, then the test fold
    assert once.val_curve == reference.val_curve
    assert (once.best_step, once.steps) == (reference.best_step, reference.steps)
    np.testing.assert_array_equal(once.val_scores, reference.val_scores)
    np.testing.assert_array_equal(once.test_scores, reference.test_scores)
    # properties of any trajectory: the kept state is the first best evaluation, the run
    # ends with an evaluation, and nothing is reported for stages of a one-stage fine-tune
    steps, scores = zip(*once.val_curve, strict=True)
    assert once.best_step == steps[int(np.argmax(scores))] and once.steps == steps[-1]
    assert once.stage_steps == ()


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

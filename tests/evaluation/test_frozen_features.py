"""Frozen-encoder features of validation windows: computed once, the same scores as the model.

A head-only fine-tune stage (CPC's first) scores validation with an encoder that does not
change; ``frozen_features`` runs it once per (weights, windows) and the head is applied to its
features. The scores must be exactly those of scoring the whole model, and the memo must never
serve another encoder's or another fold's features.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import bench.evaluation.finetune as finetune_module
import bench.evaluation.frozen_features as frozen_module
from bench.evaluation.finetune import Classifier, _Scoring
from bench.evaluation.finetune_stages import Stage
from bench.evaluation.objectives import MULTILABEL
from bench.evaluation.windows import prepare_windows
from bench.method import HeadSpec, StagedFinetune
from tests.doubles.finetune_runs import WINDOWS, config, encoder, folds, run

pytestmark = pytest.mark.numeric

CPU = torch.device("cpu")
STAGES = StagedFinetune(head_epochs=50, head_lr=1e-3, full_epochs=20, full_lr=1e-4)


@pytest.fixture(autouse=True)
def empty_memo() -> None:
    frozen_module.clear_memo()


def _embed_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the batches ``frozen_features`` runs through an encoder."""
    calls: list[int] = []
    embed = type(encoder()).embed

    def counting(self: Any, x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return embed(self, x)

    monkeypatch.setattr(type(encoder()), "embed", counting)
    return calls


def test_frozen_scores_are_exactly_the_models() -> None:
    (_, _), (val, _), _ = folds()
    windows = prepare_windows(val, WINDOWS.window, WINDOWS.stride, CPU, WINDOWS.batch_size)
    model = Classifier(encoder(), 2, HeadSpec(16, 0.2, 0.3)).train()
    scoring = _Scoring(WINDOWS, CPU, None, MULTILABEL)
    frozen = scoring.frozen(model, windows)
    assert len(windows.chunks or ()) > 1  # several batches
    np.testing.assert_array_equal(frozen, scoring(model, windows))
    assert not model.training  # scored in eval mode, as the model is


def test_the_memo_is_keyed_by_weights_buffers_and_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _embed_calls(monkeypatch)
    (_, _), (val, _), _ = folds()
    windows = prepare_windows(val, WINDOWS.window, WINDOWS.stride, CPU, WINDOWS.batch_size)
    first = encoder()
    features = frozen_module.frozen_features(first, windows, None)
    n_batches = len(calls)
    again = frozen_module.frozen_features(encoder(), windows, None)  # same weights: a hit
    assert len(calls) == n_batches and again is features
    changed = encoder()
    with torch.no_grad():
        changed.conv.weight[0, 0, 0] += 1e-4
    other = frozen_module.frozen_features(changed, windows, None)
    assert len(calls) == 2 * n_batches
    assert not torch.equal(other[0].windows, features[0].windows)
    stats = encoder()
    stats.norm.running_mean += 0.5  # a buffer, not a weight
    frozen_module.frozen_features(stats, windows, None)
    assert len(calls) == 3 * n_batches
    shifted = prepare_windows(val + 1e-3, WINDOWS.window, WINDOWS.stride, CPU, WINDOWS.batch_size)
    frozen_module.frozen_features(first, shifted, None)
    assert len(calls) == 4 * n_batches


def test_a_two_stage_fine_tune_is_unchanged_by_the_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every result of a head-then-everything fine-tune (stage one evaluates more than once)
    equals the one scoring the whole model at every evaluation, and a second fine-tune of the
    same encoder reuses stage one's features."""
    settings = config(evaluations=6, patience=5)
    calls = _embed_calls(monkeypatch)
    memoised = run(settings, named_stages=STAGES)
    first_run = len(calls)
    run(settings, named_stages=STAGES)
    skipped = first_run - (len(calls) - first_run)  # stage one's validation batches

    def whole_model(self: Any, model: Classifier, windows: Any) -> np.ndarray:
        return self(model, windows)

    monkeypatch.setattr(finetune_module._Scoring, "frozen", whole_model)
    reference = run(settings, named_stages=STAGES)
    head_evaluations = sum(1 for step, _ in reference.val_curve if step <= memoised.stage_steps[0])
    assert head_evaluations >= 2
    assert skipped > 0
    assert memoised.val_curve == reference.val_curve
    assert (memoised.best_step, memoised.steps) == (reference.best_step, reference.steps)
    np.testing.assert_array_equal(memoised.val_scores, reference.val_scores)
    np.testing.assert_array_equal(memoised.test_scores, reference.test_scores)


def test_stages_that_train_the_encoder_score_the_whole_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used: list[Stage] = []
    evaluate = finetune_module._Run._evaluate

    def spied(self: Any, stage: Stage) -> bool:
        used.append(stage)
        return evaluate(self, stage)

    monkeypatch.setattr(finetune_module._Run, "_evaluate", spied)
    monkeypatch.setattr(frozen_module, "_MEMO", None)  # any use would fail
    run(config())
    assert used and all(stage.train_encoder for stage in used)

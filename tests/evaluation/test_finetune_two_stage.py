"""CPC's two-stage fine-tune (the head alone on the frozen encoder, then everything with
discriminative learning rates), selected on validation only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

import bench.evaluation.finetune as finetune_module
from bench.errors import ConfigError
from bench.evaluation.finetune_stages import Stage, plan_stages
from bench.grid.plan import finetune_document, load_run_config
from bench.grid.runner import plan_grid, workspace_for
from bench.method import StagedFinetune
from methods.cpc import CPC
from tests.doubles.finetune_runs import config, encoder, folds, run
from tests.doubles.grid import FAST

pytestmark = pytest.mark.numeric

PAPER = StagedFinetune(head_epochs=50, head_lr=1e-3, full_epochs=20, full_lr=1e-4)


def _state(module: torch.nn.Module) -> dict[str, Tensor]:
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def _same(a: dict[str, Tensor], b: dict[str, Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)


def test_stages_split_the_profile_budget_in_the_papers_ratio() -> None:
    smoke = config(lr=3e-3, encoder_lr_scale=0.1)
    assert CPC.finetune_stages == PAPER
    head, full = plan_stages(40, smoke, 0.1, PAPER)
    assert (head.trains, head.steps, head.lr) == ("head", 29, 3e-3)  # round(40 * 5 / 7)
    assert (full.trains, full.steps, full.encoder_lr_scale) == ("all", 11, 0.1)
    assert full.lr == pytest.approx(3e-4)  # the paper's 1e-4 / 1e-3 of the profile's lr
    assert [s.steps for s in plan_stages(46, smoke, 0.1, PAPER)] == [33, 13]
    assert [s.steps for s in plan_stages(2, smoke, 0.1, PAPER)] == [1, 1]
    one = (Stage("all", 40, 3e-3, 0.1),)
    assert plan_stages(40, smoke, 0.1, None) == one
    assert plan_stages(40, config(lr=3e-3, stages="single"), 0.1, PAPER) == one
    with pytest.raises(ConfigError, match="stages: single"):
        plan_stages(1, smoke, 0.1, PAPER)


def _spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Record the model's states around every stage and every optimiser built."""
    seen: dict[str, list[Any]] = {"before": [], "after": [], "optimizers": []}
    train_stage, optimizer = finetune_module._Run.train_stage, finetune_module.finetune_optimizer

    def spied_stage(self: Any, stage: Stage) -> None:
        seen["before"].append((stage, _state(self.model), self.best))
        train_stage(self, stage)
        seen["after"].append(_state(self.model))

    def spied_optimizer(*args: Any, **kwargs: Any) -> torch.optim.AdamW:
        built = optimizer(*args, **kwargs)
        seen["optimizers"].append(built)
        return built

    monkeypatch.setattr(finetune_module._Run, "train_stage", spied_stage)
    monkeypatch.setattr(finetune_module, "finetune_optimizer", spied_optimizer)
    return seen


def _encoder_part(state: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v for k, v in state.items() if k.startswith("encoder.")}


def test_stage_one_leaves_the_encoder_untouched_and_stage_two_moves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _spy(monkeypatch)
    start = encoder()
    pretrained = {f"encoder.{k}": v for k, v in _state(start).items()}
    result = run(config(patience=100), start=start, named_stages=PAPER)
    assert result.stage_steps == (9, 3) and result.steps == 12  # round(12 * 5 / 7)
    (head_stage, before_one, _), (full_stage, before_two, best_then) = seen["before"]
    assert (head_stage.trains, full_stage.trains) == ("head", "all")
    after_one, after_two = seen["after"]
    # stage one: weights and batch-norm statistics exactly as pretrained; the head learned
    assert _same(_encoder_part(after_one), pretrained)
    assert _same(_encoder_part(before_one), pretrained)
    head_keys = [k for k in after_one if k.startswith("head.") and "weight" in k]
    assert any(not torch.equal(after_one[k], before_one[k]) for k in head_keys)
    # stage two starts from the best validation state of stage one and moves the encoder
    assert best_then is not None and best_then.step <= head_stage.steps
    assert _same(before_two, best_then.state)
    assert not _same(_encoder_part(after_two), pretrained)
    # optimisers: stage one holds the head only; stage two the encoder at the lower rate
    first, second = seen["optimizers"]
    assert len(first.param_groups) == 2 and {g["lr_scale"] for g in first.param_groups} == {1.0}
    head_params = sum(p.numel() for g in first.param_groups for p in g["params"])
    all_params = sum(p.numel() for g in second.param_groups for p in g["params"])
    assert all_params - head_params == sum(p.numel() for p in start.parameters())
    assert first.defaults["lr"] == pytest.approx(1e-2)  # the profile's lr
    assert second.defaults["lr"] == pytest.approx(1e-3)  # x 1e-4 / 1e-3
    assert sorted({g["lr_scale"] for g in second.param_groups}) == [0.5, 1.0]


def test_stage_two_trains_the_encoder_at_its_scaled_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``encoder_lr_scale`` 0 stage two leaves the encoder as pretrained; with 0.5 it
    moves it: the encoder learns at the stage's rate times the scale."""
    seen = _spy(monkeypatch)
    start = encoder()
    weights = {f"encoder.{k}": v.detach().clone() for k, v in start.named_parameters()}
    for scale, moves in ((0.0, False), (0.5, True)):
        run(config(patience=100), start=start, encoder_lr_scale=scale, named_stages=PAPER)
        after = {k: v for k, v in seen["after"][-1].items() if k in weights}
        assert _same(after, weights) is not moves  # (batch-norm statistics follow the data)


def test_selection_is_on_validation_across_both_stages() -> None:
    """The validation signals scored as the test fold, their labels inverted so validation
    falls as training learns: the kept state is the best validation evaluation (of either
    stage), and the test scores are exactly that state's validation scores."""
    train, val, _ = folds()
    inverted = (val[0], 1.0 - val[1])
    result = finetune_module.finetune(
        encoder(), train, inverted, val[0], config(lr=3e-2, patience=100, evaluations=6),
        finetune_module.WindowedEval(32, 16, "mean", 8), torch.device("cpu"), seed=3,
        progress=False, named_stages=PAPER,
    )  # fmt: skip
    steps, scores = zip(*result.val_curve, strict=True)
    assert 9 in steps and 12 in steps  # both stages end with an evaluation
    assert result.best_step == steps[int(np.argmax(scores))]
    np.testing.assert_allclose(result.test_scores, result.val_scores, rtol=1e-5, atol=1e-6)


def test_only_pretrained_cpc_cells_get_two_stages_in_their_key(small_synthetic: str) -> None:
    """CPC's fine-tune key names its stages; its matched baseline (trained from scratch) and
    every other method keep the key of before; ``stages: single`` gives CPC its old key."""

    def documents(**finetune: Any) -> dict[str, dict[str, Any]]:
        overrides = {**FAST, "evaluation": {**FAST.get("evaluation", {}), "finetune": finetune}}
        cfg = load_run_config(
            None,
            {
                "methods": ["cpc", "supervised[cpc]", "hybrid", "supervised"],
                "tasks": ["synthetic-small"], "fractions": [1.0], "seeds": 1,
                "protocols": ["finetune"], "profile_overrides": overrides,
            },
        )  # fmt: skip
        cells = plan_grid(cfg, workspace_for(cfg, progress=False))
        return {cell.unit.method: finetune_document(cell.unit) for cell in cells}

    default, single = documents(), documents(stages="single")
    assert default["cpc"]["stages"] == {
        "head_epochs": 50, "head_lr": 1e-3, "full_epochs": 20, "full_lr": 1e-4
    }  # fmt: skip
    assert {k: v for k, v in default["cpc"].items() if k != "stages"} == single["cpc"]
    for method in ("supervised[cpc]", "hybrid", "supervised"):
        assert "stages" not in default[method] and default[method] == single[method]

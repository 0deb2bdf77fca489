"""CPC: InfoNCE against a hand computation, negatives, causality, learning, shapes, config."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

from bench.config import from_dict
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.method import METHODS
from bench.training.checkpoint import load_encoder
from bench.training.config import TrainConfig
from bench.training.loop import pretrain
from methods.cpc import (
    CPC,
    CPCConfig,
    candidate_logits,
    draw_negatives,
    info_nce,
    steps_ahead_for,
)

pytestmark = pytest.mark.numeric

SPEC = InputSpec(n_leads=3, n_samples=64, sampling_rate=100)  # 12 steps ahead
TINY = CPCConfig(width=32, hidden=32, n_negatives=16)


def build(seed: int = 0, config: CPCConfig = TINY, spec: InputSpec = SPEC) -> CPC:
    torch.manual_seed(seed)
    return CPC(config, spec)


def predictable_signals(batch: int, length: int = 64, seed: int = 0) -> Tensor:
    """A ramp of random slope and a sine/cosine pair of random frequency and phase: the
    future is a function of the present, and every time step of a recording is distinct."""
    generator = torch.Generator().manual_seed(seed)
    time = torch.arange(length) / length
    slope = torch.rand(batch, 1, generator=generator) * 2 + 0.5
    angle = 2 * math.pi * (torch.rand(batch, 1, generator=generator) * 3 + 1) * time
    angle = angle + torch.rand(batch, 1, generator=generator) * 2 * math.pi
    return torch.stack([2 * slope * time - 1, torch.sin(angle), torch.cos(angle)], dim=1)


def test_registered_as_ssl_method() -> None:
    assert METHODS.get("cpc") is CPC
    assert CPC.needs_pretraining and CPC.protocols == ("linear", "finetune", "attentive", "knn")


def test_info_nce_matches_a_float64_hand_computation() -> None:
    generator = torch.Generator().manual_seed(0)
    batch, length, dim, steps_ahead = 2, 5, 3, 2
    predictions = torch.randn(batch, length - steps_ahead, dim, dtype=torch.float64,
                              generator=generator)  # fmt: skip
    encodings = torch.randn(batch, length, dim, dtype=torch.float64, generator=generator)
    negatives = torch.tensor(
        [[[0, 1, 4], [4, 4, 0], [1, 2, 3]], [[3, 4, 4], [0, 2, 1], [0, 0, 2]]]
    )  # never the target p + 2
    terms = []
    for b in range(batch):
        for p in range(length - steps_ahead):

            def score(t: int, b: int = b, p: int = p) -> float:
                return sum(predictions[b, p, d].item() * encodings[b, t, d].item()
                           for d in range(dim))  # fmt: skip

            positive = score(p + steps_ahead)
            candidates = [positive] + [score(int(t)) for t in negatives[b, p]]
            terms.append(math.log(sum(math.exp(s) for s in candidates)) - positive)
    logits = candidate_logits(predictions, encodings, steps_ahead, negatives)
    assert logits.dtype == torch.float64 and logits.shape == (2, 3, 4)
    assert info_nce(logits).item() == pytest.approx(sum(terms) / len(terms), rel=1e-12)


def test_negatives_exclude_the_positive_and_cover_every_other_step() -> None:
    torch.manual_seed(0)
    length, steps_ahead = 9, 3
    negatives = draw_negatives(
        4, length - steps_ahead, length, steps_ahead, 500, torch.device("cpu")
    )
    assert negatives.shape == (4, 6, 500) and negatives.dtype == torch.long
    for position in range(length - steps_ahead):
        drawn = set(negatives[:, position].unique().tolist())
        assert drawn == set(range(length)) - {position + steps_ahead}


def test_candidates_come_from_the_same_recording() -> None:
    # Recording b has the constant encoding e_b (orthogonal across recordings) and predicts e_b:
    # every candidate of its own recording scores 1, any candidate from another scores 0.
    batch, length, steps_ahead = 3, 8, 2
    encodings = torch.eye(batch)[:, None, :].expand(batch, length, batch).contiguous()
    predictions = encodings[:, : length - steps_ahead]
    torch.manual_seed(1)
    negatives = draw_negatives(
        batch, length - steps_ahead, length, steps_ahead, 32, torch.device("cpu")
    )
    logits = candidate_logits(predictions, encodings, steps_ahead, negatives)
    assert torch.equal(logits, torch.ones_like(logits))


def test_context_before_t_ignores_the_input_from_t_on() -> None:
    method = build().eval()
    x = torch.randn(2, 3, 64)
    changed = x.clone()
    changed[..., 40:] += torch.randn(2, 3, 24)
    with torch.no_grad():
        before = method.encoder.contexts(method.encoder.encode(x))
        after = method.encoder.contexts(method.encoder.encode(changed))
    assert torch.equal(before[:, :40], after[:, :40])
    assert not torch.allclose(before[:, 40], after[:, 40])


def test_loss_is_finite_and_near_chance_at_initialisation() -> None:
    method = build()
    torch.manual_seed(0)
    output = method.loss(predictable_signals(4))
    assert set(output) == {"loss", "accuracy"} and output["loss"].dtype == torch.float32
    assert math.isfinite(output["loss"].item()) and 0 <= output["accuracy"].item() <= 1
    per_prediction = output["loss"].item() / (64 - method.steps_ahead)  # summed over steps
    assert per_prediction == pytest.approx(math.log(TINY.n_negatives + 1), rel=0.2)


def test_loss_under_bf16_autocast_is_float32() -> None:
    method = build()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = method.loss(predictable_signals(4))["loss"]
    assert loss.dtype == torch.float32 and math.isfinite(loss.item())


def test_training_on_a_fixed_batch_drops_loss_well_below_chance() -> None:
    method = build()
    optimizer = torch.optim.AdamW(method.parameters(), lr=1e-2)
    batch = predictable_signals(8)
    losses = []
    for _ in range(30):
        loss = method.loss(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    chance = math.log(TINY.n_negatives + 1) * (64 - method.steps_ahead)  # summed over steps
    assert losses[-1] < 0.4 * chance and losses[-1] < 0.4 * losses[0]


def test_gradients_reach_every_parameter() -> None:
    method = build()
    method.loss(predictable_signals(4))["loss"].backward()
    for name, parameter in method.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_embed_is_concat_pooling_of_the_contexts() -> None:
    method = build().eval()
    x = torch.randn(5, 3, 64)
    with torch.no_grad():
        embedding = method.encoder.embed(x)
        contexts = method.encoder.contexts(method.encoder.encode(x))
    assert embedding.shape == (5, 3 * TINY.hidden) == (5, method.encoder.embed_dim)
    expected = torch.cat([contexts.mean(1), contexts.max(1).values, contexts[:, -1]], dim=1)
    torch.testing.assert_close(embedding, expected)


def test_deterministic_under_a_seed() -> None:
    a, b, c = build(seed=3), build(seed=3), build(seed=4)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert not torch.equal(a.projection.weight, c.projection.weight)
    batch = predictable_signals(4)
    losses = []
    for method in (a, b):
        torch.manual_seed(7)
        losses.append(method.loss(batch)["loss"])
    assert torch.equal(losses[0], losses[1])


def test_steps_ahead_is_0_12_s_at_any_rate() -> None:
    assert steps_ahead_for(CPCConfig(), InputSpec(12, 250, 100)) == 12
    assert steps_ahead_for(CPCConfig(), InputSpec(8, 2500, 250)) == 30
    assert build().steps_ahead == 12
    with pytest.raises(ConfigError, match="predict_ahead_s"):
        CPC(CPCConfig(), InputSpec(12, 12, 100))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"widht": 8}, "unknown field"),
        ({"hidden": "big"}, "hidden must be int"),
        ({"n_negatives": 0}, "n_negatives"),
        ({"predict_ahead_s": -0.1}, "predict_ahead_s"),
        ({"encoder_layers": 0}, "encoder_layers"),
    ],
)
def test_bad_config_is_a_clear_error(data: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        from_dict(CPCConfig, data, where="cpc")


def test_shared_loop_trains_and_the_encoder_reloads(tmp_path: Path) -> None:
    signals = predictable_signals(16, length=96).numpy().astype(np.float32)
    config = TrainConfig(epochs=2, batch_size=8, lr=1e-2, warmup_epochs=0, device="cpu", seed=0)
    method = build()
    result = pretrain(method, signals, config, tmp_path, progress=False)
    assert result.finished and result.steps == 4
    assert all(math.isfinite(row["loss"]) and "accuracy" in row for row in result.history)
    encoder = load_encoder(result.checkpoint)
    x = torch.from_numpy(signals[:4, :, :64])
    with torch.no_grad():
        torch.testing.assert_close(encoder.embed(x), method.encoder.eval().embed(x), rtol=0, atol=0)

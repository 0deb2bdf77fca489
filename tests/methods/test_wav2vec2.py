"""``wav2vec2``: the encoder's shapes, what the context sees, the objective, RLM, the loop."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import Tensor

from bench.config import from_dict
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.grid.method_groups import expand_methods
from bench.training.checkpoint import load_encoder
from bench.training.config import TrainConfig
from bench.training.loop import pretrain
from methods import wav2vec2 as module
from methods.wav2vec2 import Wav2Vec2, Wav2Vec2Config, scale_gradient

SPEC = InputSpec(n_leads=3, n_samples=250, sampling_rate=100)  # 62 frames of 4 samples
SMALL = {"num_negatives": 10, "codebook_entries": 8}


def build(seed: int = 0, **fields: object) -> Wav2Vec2:
    torch.manual_seed(seed)
    return Wav2Vec2(from_dict(Wav2Vec2Config, {**SMALL, **fields}), SPEC)


def signals(n: int = 8, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(250) / 100
    freq = torch.tensor([1.0, 2.0, 3.0]).reshape(1, 3, 1)
    phase = 2 * math.pi * torch.rand(n, 1, 1, generator=g)
    return torch.sin(2 * math.pi * freq * t + phase) + 0.1 * torch.randn(n, 3, 250, generator=g)


def test_encoder_shapes_and_features_cover_every_stride() -> None:
    encoder = build().encoder
    x = signals(2)
    assert encoder.feature_stride == 4
    assert encoder.conv_features(x).shape == (2, 64, 62)
    assert encoder.embed(x).shape == (2, 64)
    features = encoder.features(x)
    assert features.shape == (2, 63, 64)  # ceil(250 / 4): the tail repeats the last frame
    torch.testing.assert_close(features[:, -1], features[:, -2])


def test_the_context_never_sees_the_masked_frames() -> None:
    """(The input samples behind a masked frame still reach the others through the first
    convolution's GroupNorm, which normalises each channel over the whole crop, as in
    fairseq-signals.)"""
    method = build().eval()
    encoder = method.encoder
    with torch.no_grad():
        frames = encoder.frames(encoder.conv_features(signals(2)))
    masked = torch.zeros(2, 62, dtype=torch.bool)
    masked[:, 20:35] = True
    changed = frames.clone()
    changed[masked] = 30.0 * torch.randn_like(changed[masked])
    with torch.no_grad():
        outputs = [encoder.context(f, masked, method.mask_embedding) for f in (frames, changed)]
        plain = [encoder.context(f) for f in (frames, changed)]
    torch.testing.assert_close(outputs[0], outputs[1])
    assert (plain[0] - plain[1]).abs().max() > 1e-2  # unmasked, the change is seen


def test_objective_terms_combine_with_their_weights() -> None:
    method = build(diversity_weight=0.3, feature_penalty=2.0).eval()
    masked = torch.zeros(4, 62, dtype=torch.bool)
    masked[:, 10:30] = True
    out = method.objective(signals(4), masked)
    expected = out["contrastive"] + 0.3 * out["diversity"] + 2.0 * out["feature_penalty"]
    torch.testing.assert_close(out["loss"].detach(), expected)
    assert 0 <= out["diversity"] < 1 and 0 <= out["accuracy"] <= 1
    assert 2.0 <= out["code_perplexity"] <= 16.0  # between 1 entry per group and all 2 x 8


def test_training_reaches_every_parameter_and_the_feature_encoder_gets_a_tenth() -> None:
    method = build().train()
    method.loss(signals(6))["loss"].backward()
    for name, parameter in method.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    x = torch.ones(3, requires_grad=True)
    scaled = scale_gradient(x * 2.0, 0.1)
    torch.testing.assert_close(scaled, torch.full((3,), 2.0))
    scaled.sum().backward()
    torch.testing.assert_close(x.grad, torch.full((3,), 0.2))


def test_random_lead_masking_applies_at_its_rate_only(monkeypatch: pytest.MonkeyPatch) -> None:
    rates: list[float] = []
    original = module.random_lead_mask

    def recording(x: Tensor, prob: float) -> Tensor:
        rates.append(prob)
        return original(x, prob)

    monkeypatch.setattr(module, "random_lead_mask", recording)
    build(lead_mask_prob=0.5).loss(signals(4))
    build(lead_mask_prob=0.0).loss(signals(4))
    assert rates == [0.5]


def test_temperature_follows_the_step_and_the_collapse_metric_is_logged() -> None:
    method = build(gumbel_temperature=(2.0, 0.5, 0.5))
    method.on_step_end(1, 10)
    out = method.loss(signals(4))
    assert out["temperature"].item() == pytest.approx(1.0)
    rule = method.collapse_rule()
    assert rule.metric == "code_perplexity" and rule.metric in out


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mask_length": 61}, "62 frames, too few for up to 2 spans of mask_length = 61"),
        ({"final_dim": 33}, "final_dim = 33 must be divisible by codebook_groups = 2"),
        ({"size": "huge"}, "size = 'huge' is not one of tiny, base"),
        ({"gumbel_temperature": (0.1, 0.5, 0.9)}, r"gumbel_temperature\[0\]"),
    ],
)
def test_bad_config_is_a_clear_error(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(**fields)


def test_listed_with_the_comparators_not_in_all() -> None:
    assert "wav2vec2" not in expand_methods(("all",))
    comparators = expand_methods(("comparators",))
    assert {"wav2vec2", "random_init[wav2vec2]", "supervised[wav2vec2]"} <= set(comparators)


def test_shared_loop_checkpoint_reloads_the_encoder_and_the_temperature(tmp_path: Path) -> None:
    config = TrainConfig(epochs=1, batch_size=8, lr=1e-3, warmup_epochs=0, device="cpu")
    method = build()
    result = pretrain(method, signals(24).numpy(), config, tmp_path, progress=False)
    assert result.finished and result.steps == 3
    assert result.collapse["metric"] == "code_perplexity"
    assert all(math.isfinite(row["contrastive"]) for row in result.history)
    assert method.quantizer.updates.item() == 3
    encoder = load_encoder(result.checkpoint)
    x = signals(4, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(encoder.embed(x), method.encoder.eval().embed(x))

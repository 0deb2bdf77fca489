"""Config fields that pick between the reference code's behaviour and the suite's alternative:
both values run and differ in the way each field's docstring says."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from bench.config import from_dict
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from methods.augmentations import AugmentationConfig, random_resized_crop, vcg_rotate_scale
from methods.byol import BYOL, BYOLConfig
from methods.cpc import CPC, CPCConfig
from methods.simclr import SimCLR, SimCLRConfig
from methods.vcg import to_vcg
from methods.wav2vec2 import Wav2Vec2, Wav2Vec2Config

SPEC = InputSpec(n_leads=12, n_samples=128, sampling_rate=100)
SMALL = {"projection_hidden": 32, "projection_dim": 8}


def crops(n: int = 8, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 12, 128, generator=g).cumsum(dim=-1) / 10


def test_cpc_summed_loss_is_the_mean_times_the_predicted_steps() -> None:
    losses = {}
    for reduction in ("sum", "mean"):
        torch.manual_seed(0)
        method = CPC(from_dict(CPCConfig, {"width": 16, "hidden": 16,
                                           "loss_reduction": reduction}), SPEC)  # fmt: skip
        torch.manual_seed(1)
        losses[reduction] = method.loss(crops())["loss"]
    steps = SPEC.n_samples - method.steps_ahead  # the predicted time steps
    torch.testing.assert_close(losses["sum"], losses["mean"] * steps)
    assert CPCConfig().loss_reduction == "sum"  # the paper's code
    with pytest.raises(ConfigError, match="loss_reduction"):
        CPCConfig(loss_reduction="max")  # type: ignore[arg-type]


@pytest.mark.parametrize("choice", ["all", "weight_named"])
def test_byol_ema_moves_only_the_parameters_the_choice_names(choice: str) -> None:
    torch.manual_seed(0)
    method = BYOL(from_dict(BYOLConfig, {**SMALL, "ema_parameters": choice}), SPEC)
    before = {n: p.detach().clone() for n, p in method.target_encoder.named_parameters()}
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(1.0)
    method.on_step_end(1, 100)
    moved = {
        name for name, p in method.target_encoder.named_parameters()
        if not torch.equal(p, before[name])
    }  # fmt: skip
    named = {name for name in before if "weight" in name}
    assert moved == (set(before) if choice == "all" else named)
    assert named and set(before) - named  # the encoder has both kinds (biases, norm shifts)


def test_simclr_separate_view_batches_normalise_each_view_by_itself() -> None:
    first, second = crops(seed=0), crops(seed=1)
    changed = 3 * second + 1
    for choice, independent in (("separate", True), ("joint", False)):
        torch.manual_seed(0)
        method = SimCLR(from_dict(SimCLRConfig, {**SMALL, "view_batches": choice}), SPEC)
        with torch.no_grad():
            a = method.embed_views(torch.cat([first, second]))[:8]
            b = method.embed_views(torch.cat([first, changed]))[:8]
        # train-mode batch norm: view 1's embedding depends on view 2 only through shared stats
        assert torch.allclose(a, b) == independent, choice
    assert SimCLRConfig().view_batches == "separate"  # the reference: two passes


def test_random_positions_crop_keeps_every_crop_sample_linear_stretch_does_not() -> None:
    ramp = torch.arange(100.0).expand(4, 2, 100).clone()  # sample value = its index
    for choice in ("random_positions", "linear"):
        config = AugmentationConfig(crop_ratio=(0.5, 0.5), crop_resize=choice)  # type: ignore[arg-type]
        torch.manual_seed(0)
        out = random_resized_crop(ramp, config, 100)
        assert (out.diff(dim=-1) >= 0).all()  # the crop stays in order
        whole = {v for v in out[0, 0].tolist() if v == round(v)}
        low = min(whole)
        if choice == "random_positions":  # the 50 crop samples all appear unchanged
            assert whole == {low + i for i in range(50)}
        else:  # evenly spaced: only the two ends are samples of the crop
            assert len(whole) == 2
            torch.testing.assert_close(out.diff(dim=-1), torch.full_like(out[..., 1:], 49 / 99))
    assert AugmentationConfig().crop_resize == "random_positions"


def test_vcg_back_through_the_pseudo_inverse_returns_the_same_heart_vector() -> None:
    x = crops(4).double()
    identity = {"vcg_max_angle_deg": 0.0, "vcg_max_scale": 1.0}  # no rotation, no scaling
    drift = {}
    for choice in ("pinv", "dower"):
        config = AugmentationConfig(**identity, vcg_back=choice)  # type: ignore[arg-type]
        drift[choice] = (to_vcg(vcg_rotate_scale(x, config, 100)) - to_vcg(x)).abs().max()
    assert drift["pinv"] < 1e-10  # inverse Dower x its pseudo-inverse = identity on X, Y, Z
    assert drift["dower"] > 1e-4  # the published matrices are inverse only to 3 decimals
    assert AugmentationConfig().vcg_back == "pinv"


@pytest.mark.parametrize("train_features", [False, True])
def test_wav2vec2_finetuning_trains_the_feature_encoder_only_when_asked(
    train_features: bool,
) -> None:
    torch.manual_seed(0)
    config = from_dict(Wav2Vec2Config, {"num_negatives": 10, "codebook_entries": 8,
                                        "finetune_features": train_features})  # fmt: skip
    method = Wav2Vec2(config, InputSpec(n_leads=3, n_samples=250, sampling_rate=100))
    x = torch.randn(4, 3, 250)
    method.encoder.embed(x).square().sum().backward()  # what a fine-tune's head reads
    conv = [p.grad for p in method.encoder.conv.parameters()]
    assert all(g is not None for g in conv) == train_features
    assert all(g is None for g in conv) == (not train_features)
    assert all(p.grad is not None for p in method.encoder.layers.parameters())
    method.zero_grad(set_to_none=True)
    method.loss(x)["loss"].backward()  # pretraining always trains it
    assert all(p.grad is not None for p in method.encoder.conv.parameters())


def test_wav2vec2_from_scratch_baseline_trains_its_feature_encoder() -> None:
    """fairseq-signals freezes a pretrained feature encoder; a random one must learn."""
    torch.manual_seed(0)
    config = from_dict(Wav2Vec2Config, {"num_negatives": 10, "codebook_entries": 8})
    encoder = Wav2Vec2.untrained_encoder(
        config, InputSpec(n_leads=3, n_samples=250, sampling_rate=100)
    )
    encoder.embed(torch.randn(4, 3, 250)).square().sum().backward()
    assert all(p.grad is not None for p in encoder.conv.parameters())

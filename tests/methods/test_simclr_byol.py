"""``simclr``, ``byol`` and ``3kg``: losses on hand-made cases, EMA target, shapes, configs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import Tensor

from bench.config import from_dict
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.grid.profiles import load_profile
from bench.method import METHODS
from bench.training.checkpoint import load_encoder
from bench.training.config import TrainConfig
from bench.training.loop import pretrain
from methods.byol import BYOL, BYOLConfig, byol_loss, projection_spread
from methods.contrastive import nt_xent
from methods.simclr import SimCLR, SimCLRConfig
from methods.threekg import ThreeKG, ThreeKGConfig

SPEC = InputSpec(n_leads=12, n_samples=128, sampling_rate=100)
SMALL = {"projection_hidden": 32, "projection_dim": 8}


def crops(n: int = 8, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 12, 128, generator=g).cumsum(dim=-1) / 10


def test_byol_loss_on_hand_made_vectors() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert byol_loss(a, 3 * a).item() == pytest.approx(0.0)  # aligned: scale does not matter
    assert byol_loss(a, -a).item() == pytest.approx(4.0)  # opposite
    assert byol_loss(a, a.flip(1)).item() == pytest.approx(2.0)  # orthogonal


def test_projection_spread_is_zero_for_one_point_and_positive_otherwise() -> None:
    assert projection_spread(torch.ones(6, 4) * torch.tensor([1.0, 2, 3, 4])).item() == 0.0
    spread = projection_spread(3 * torch.eye(4))  # four orthogonal vectors, normalised
    assert spread.item() == pytest.approx(math.sqrt(3) / 4)


def test_simclr_loss_is_nt_xent_of_the_two_views_projections() -> None:
    torch.manual_seed(0)
    method = SimCLR(from_dict(SimCLRConfig, {**SMALL, "augmentations": []}), SPEC)
    x = crops()
    out = method.loss(x)
    projected = method.projector(method.encoder.embed(torch.cat([x, x])))
    expected = nt_xent(projected[:8], projected[8:], 0.5)
    torch.testing.assert_close(out["loss"], expected)
    # without augmentations both views are the same crop: NT-Xent only has to find it
    assert out["loss"].item() < math.log(2 * 8 - 1)


def test_byol_target_is_an_ema_of_the_online_network() -> None:
    torch.manual_seed(0)
    method = BYOL(from_dict(BYOLConfig, SMALL), SPEC)
    assert method.momentum(1, 100) == pytest.approx(0.996)
    assert method.momentum(26, 100) == pytest.approx(1 - 0.004 * (1 + math.cos(math.pi / 4)) / 2)
    assert method.momentum(101, 100) == pytest.approx(1.0)
    online = [p.detach().clone() for p in method.encoder.parameters()]
    target = [p.detach().clone() for p in method.target_encoder.parameters()]
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(1.0)
    method.on_step_end(1, 100)
    for new, old_target, old_online in zip(
        method.target_encoder.parameters(), target, online, strict=True
    ):
        torch.testing.assert_close(new, 0.996 * old_target + 0.004 * (old_online + 1.0))
    assert not any(p.requires_grad for p in method.target_projector.parameters())


def test_byol_predicts_the_target_networks_projection_of_the_other_view() -> None:
    torch.manual_seed(0)
    method = BYOL(from_dict(BYOLConfig, {**SMALL, "augmentations": []}), SPEC)
    with torch.no_grad():  # a target that differs from the online network
        for p in method.target_projector.parameters():
            p.add_(0.5 * torch.randn_like(p))
    x = crops()
    out = method.loss(x)
    views = torch.cat([x, x])
    predictions = method.predictor(method.projector(method.encoder.embed(views)))
    targets = method.target_projector(method.target_encoder.embed(views))
    expected = byol_loss(predictions[:8], targets[8:]) + byol_loss(predictions[8:], targets[:8])
    torch.testing.assert_close(out["loss"], expected)
    out["loss"].backward()
    assert 0 <= out["loss"].item() <= 8 and out["projection_std"].item() > 0
    assert method.predictor[0].weight.grad is not None
    assert all(p.grad is None for p in method.target_encoder.parameters())
    rule = method.collapse_rule()
    assert (rule.metric, rule.ratio) == ("projection_std", 0.5)


@pytest.mark.parametrize("name", ["simclr", "byol", "3kg"])
def test_embedding_shapes_and_every_profile_builds_it(name: str) -> None:
    method_class = METHODS.get(name)
    assert method_class.group == "comparators"
    torch.manual_seed(0)
    method = method_class(from_dict(method_class.config_class, SMALL), SPEC)
    assert method.encoder.embed(crops(3)).shape == (3, method.encoder.embed_dim)
    for profile in ("smoke", "paper"):
        setup = load_profile(profile).resolve(name)
        expected = "tiny" if profile == "smoke" else "xresnet1d50"
        assert setup.method_config.size == expected


def test_3kg_views_rotate_the_heart_vector_and_need_twelve_or_eight_leads() -> None:
    config = ThreeKGConfig()
    assert config.augmentations == ("vcg_rotate_scale", "lead_time_mask")
    assert config.temperature == 0.1
    torch.manual_seed(0)
    ThreeKG(from_dict(ThreeKGConfig, SMALL), InputSpec(8, 128, 100))
    with pytest.raises(ConfigError, match=r"3kg: the VCG transform needs the 12 standard leads"):
        ThreeKG(config, InputSpec(3, 128, 100))
    ThreeKG(
        from_dict(ThreeKGConfig, {**SMALL, "augmentations": ["time_out"]}), InputSpec(3, 128, 100)
    )


def test_configs_refuse_unknown_sizes_and_augmentations() -> None:
    with pytest.raises(ConfigError, match=r"simclr.size = 'base' is not an xresnet1d size"):
        SimCLRConfig(size="base")
    with pytest.raises(ConfigError, match=r"byol.augmentations: unknown augmentation 'flip'"):
        BYOLConfig(augmentations=("flip",))
    with pytest.raises(ConfigError, match=r"byol.ema_start"):
        BYOLConfig(ema_start=1.5)


@pytest.mark.parametrize(
    ("name", "fields"),
    [("simclr", SMALL), ("byol", SMALL), ("3kg", SMALL),
     ("clocs", {"stride": 1, "kernel_size": 5, "embedding_dim": 8})],
)  # fmt: skip
def test_shared_loop_trains_and_its_checkpoint_reloads_the_same_encoder(
    name: str, fields: dict[str, object], tmp_path: Path
) -> None:
    method_class = METHODS.get(name)
    torch.manual_seed(0)
    method = method_class(from_dict(method_class.config_class, fields), SPEC)
    records = crops(24, seed=1).repeat(1, 1, 2).numpy()  # longer than the 128-sample crops
    config = TrainConfig(epochs=1, batch_size=8, lr=1e-3, warmup_epochs=0, device="cpu")
    result = pretrain(method, records, config, tmp_path, progress=False)
    assert result.finished and result.steps == 3
    assert all(math.isfinite(row["loss"]) for row in result.history)
    encoder = load_encoder(result.checkpoint)
    x = crops(4, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(encoder.embed(x), method.encoder.eval().embed(x))

"""xresnet1d: shapes for any length, concat pooling, the bag-of-tricks details, sizes, errors."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from bench.encoders.base import ENCODERS, InputSpec
from bench.encoders.xresnet1d import Bottleneck, XResNet1d
from bench.errors import ConfigError

pytestmark = pytest.mark.numeric

SPEC = InputSpec(n_leads=12, n_samples=250, sampling_rate=100)


def tiny(seed: int = 0, **overrides: object) -> XResNet1d:
    torch.manual_seed(seed)
    return XResNet1d.from_size("tiny", SPEC, **overrides)


def signal(batch: int = 2, samples: int = 250, leads: int = 12) -> Tensor:
    return torch.randn(batch, leads, samples, generator=torch.Generator().manual_seed(0))


def test_registered_and_built_by_name() -> None:
    net = ENCODERS.get("xresnet1d").from_size("tiny", SPEC)
    assert isinstance(net, XResNet1d)
    assert net.embed_dim == 2 * net.channels == 256


@pytest.mark.parametrize("samples", [1, 7, 250, 1001, 2500])
def test_embed_shape_for_any_length_and_batch(samples: int) -> None:
    net = tiny().eval()
    with torch.no_grad():
        assert net.embed(signal(batch=3, samples=samples)).shape == (3, 256)
        assert net(signal(batch=1, samples=samples)).shape == (1, 256)


def test_embed_is_average_then_max_over_time_and_batch_independent() -> None:
    net = tiny().eval()
    x = signal(batch=3)
    with torch.no_grad():
        feature_map = net.feature_map(x)
        assert feature_map.shape == (3, 128, 8)  # 250 samples / 32, rounded up
        expected = torch.cat([feature_map.mean(-1), feature_map.amax(-1)], dim=1)
        torch.testing.assert_close(net.embed(x), expected)
        torch.testing.assert_close(net.embed(x[1:2]), expected[1:2], atol=1e-5, rtol=1e-5)


def test_stem_and_stage_layout_follow_the_benchmark() -> None:
    with torch.device("meta"):
        net = XResNet1d.from_size("xresnet1d101", SPEC)
    convs = [m for m in net.stem.modules() if isinstance(m, nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (12, 32, 5, 2),
        (32, 32, 5, 1),
        (32, 64, 5, 1),
    ]
    blocks = list(net.stages)
    assert len(blocks) == 3 + 4 + 23 + 3 and all(isinstance(b, Bottleneck) for b in blocks)
    strided = [i for i, b in enumerate(blocks) if b.path[1][0].stride[0] == 2]
    assert strided == [3, 7, 30]
    assert net.embed_dim == 512


def test_blocks_start_as_identity_with_an_average_pool_shortcut() -> None:
    net = tiny(blocks=(1, 2), widths=(8, 8))
    x = torch.randn(2, 32, 40)
    first, downsampling, plain = net.stages
    assert downsampling.path[1][0].stride[0] == 2
    for block, inputs in ((first, x), (downsampling, first(x)), (plain, downsampling(first(x)))):
        assert block.path(inputs).abs().max().item() == 0.0  # last BN starts at zero
    h = first(x)
    expected = torch.relu(nn.functional.avg_pool1d(h, 2, ceil_mode=True))
    torch.testing.assert_close(downsampling(h), expected)
    odd = torch.randn(2, 32, 41)
    assert downsampling(first(odd)).shape == (2, 32, 21)


def test_wrong_lead_count_raises() -> None:
    with pytest.raises(ConfigError, match="12 leads"):
        tiny().embed(signal(leads=8))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"blocks": (1, 1), "widths": (8, 8, 8)}, "same length"),
        ({"kernel_size": 4}, "odd"),
        ({"widths": (8, 0, 8, 8)}, r"widths\[1\]"),
        ({"expansion": 0}, "expansion"),
        ({"kernal_size": 5}, "did you mean 'kernel_size'"),
    ],
)
def test_bad_config_raises(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        XResNet1d.from_size("tiny", SPEC, **overrides)
    with pytest.raises(ConfigError, match="unknown XResNet1d size 'resnet'"):
        XResNet1d.from_size("resnet", SPEC)


def test_same_seed_same_weights() -> None:
    first, second, other = tiny(seed=4), tiny(seed=4), tiny(seed=5)
    for (name, a), (_, b) in zip(
        first.state_dict().items(), second.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    with torch.no_grad():
        assert torch.equal(first.eval().embed(signal()), second.eval().embed(signal()))
        assert not torch.allclose(first.embed(signal()), other.eval().embed(signal()))


@pytest.mark.parametrize(
    ("size", "low", "high"),
    [("tiny", 2e4, 3e5), ("xresnet1d50", 0.8e6, 1.0e6), ("xresnet1d101", 1.7e6, 1.9e6)],
)
def test_named_sizes_parameter_counts(size: str, low: float, high: float) -> None:
    with torch.device("meta"):  # counts and shapes without allocating or computing
        net = XResNet1d.from_size(size, SPEC)
        assert low <= sum(p.numel() for p in net.parameters()) <= high
        assert net.embed(torch.randn(3, 12, 1000)).shape == (3, net.embed_dim)

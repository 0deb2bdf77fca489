"""Patch transformer: token layout, keep sets, shapes, errors, determinism, sizes."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from bench.config import from_dict
from bench.encoders.base import ENCODERS, InputSpec
from bench.encoders.patch_transformer import PatchTransformer, PatchTransformerConfig
from bench.encoders.pos_embed import sincos_2d
from bench.errors import ConfigError

pytestmark = pytest.mark.numeric

SPEC = InputSpec(n_leads=3, n_samples=30, sampling_rate=100)
PATCH = 5


def tiny(seed: int = 0, **overrides: object) -> PatchTransformer:
    torch.manual_seed(seed)
    options = {"patch_size": PATCH, **overrides}
    return PatchTransformer.from_size("tiny", SPEC, **options).eval()


def signal(batch: int = 2, leads: int = 3, samples: int = 30, seed: int = 0) -> Tensor:
    return torch.randn(batch, leads, samples, generator=torch.Generator().manual_seed(seed))


def test_registered_and_built_by_name() -> None:
    net = ENCODERS.get("patch_transformer").from_size("tiny", SPEC, patch_size=PATCH)
    assert isinstance(net, PatchTransformer)
    assert net.embed_dim == 64 and net.config.depth == 2 and net.config.heads == 4


def test_patchify_and_token_ids_are_lead_major() -> None:
    net = tiny()
    x = torch.arange(2 * 3 * 30, dtype=torch.float32).reshape(2, 3, 30)
    patches = net.patchify(x)
    assert patches.shape == (2, 3, 6, PATCH)
    assert torch.equal(patches[1, 2, 4], x[1, 2, 20:25])
    lead_ids, time_ids = net.token_ids(3, 6)
    assert lead_ids.tolist()[:7] == [0, 0, 0, 0, 0, 0, 1]
    assert time_ids.tolist()[:7] == [0, 1, 2, 3, 4, 5, 0]
    assert net.n_patches(2500) == 500


@pytest.mark.parametrize("attention", ["full", "cropa"])
@pytest.mark.parametrize("pos_every_block", [False, True])
def test_keep_equals_running_on_only_the_kept_patches(
    attention: str, pos_every_block: bool
) -> None:
    net = tiny(attention=attention, pos_every_block=pos_every_block)
    x = signal()
    keep = torch.tensor([[4, 0, 13, 7, 17], [16, 2, 3, 9, 11]])
    with torch.no_grad():
        kept = net.tokens(x, keep)
        assert kept.shape == (2, 5, 64)
        for b in range(2):
            leads, times = (keep[b] // 6).tolist(), (keep[b] % 6).tolist()
            patches = torch.stack(
                [x[b, c, t * PATCH : (t + 1) * PATCH] for c, t in zip(leads, times, strict=True)]
            )
            pos = sincos_2d(torch.tensor(leads), torch.tensor(times), 64)
            allowed = torch.tensor(
                [
                    [
                        attention == "full" or lq == lk or tq == tk
                        for lk, tk in zip(leads, times, strict=True)
                    ]
                    for lq, tq in zip(leads, times, strict=True)
                ]
            )
            h = net.patch_embed(patches)[None]
            h = h if pos_every_block else h + pos
            for block in net.blocks:
                h = block(h + pos if pos_every_block else h, attn_mask=allowed)
            torch.testing.assert_close(kept[b], net.norm(h)[0], atol=1e-5, rtol=1e-5)


def test_dropped_tokens_have_no_influence() -> None:
    net = tiny(attention="full")
    x = signal()
    keep = torch.tensor([[0, 5, 6, 11], [12, 13, 14, 1]])
    changed = x.clone()
    changed[0, 0, 5:25] += 5.0  # lead 0, times 1-4: dropped by sample 0
    changed[1, 2, 15:30] -= 5.0  # lead 2, times 3-5: dropped by sample 1
    with torch.no_grad():
        assert torch.equal(net.tokens(x, keep), net.tokens(changed, keep))
        assert not torch.allclose(net.tokens(x), net.tokens(changed))


@pytest.mark.parametrize("attention", ["full", "cropa"])
def test_keep_order_is_the_output_order(attention: str) -> None:
    net = tiny(attention=attention)
    x = signal()
    order = torch.stack([torch.randperm(18), torch.randperm(18)])
    with torch.no_grad():
        every = net.tokens(x)
        permuted = net.tokens(x, order)
    torch.testing.assert_close(permuted, torch.stack([every[b, order[b]] for b in range(2)]))


def test_positions_follow_the_grid_not_the_signal() -> None:
    net = tiny()
    x = signal()
    swapped = x[:, [1, 0, 2]]
    with torch.no_grad():
        assert not torch.allclose(net.embed(x), net.embed(swapped), atol=1e-4)


def test_pos_every_block_changes_the_network() -> None:
    with torch.no_grad():
        once = tiny(seed=3).embed(signal())
        every = tiny(seed=3, pos_every_block=True).embed(signal())
    assert not torch.allclose(once, every, atol=1e-4)


def test_embed_is_the_mean_token_and_works_for_any_length_and_batch() -> None:
    net = tiny()
    x = signal(batch=3, leads=8, samples=50)
    with torch.no_grad():
        embedding = net.embed(x)
        assert embedding.shape == (3, 64)
        torch.testing.assert_close(embedding, net.tokens(x).mean(dim=1))
        torch.testing.assert_close(net(x[:1]), embedding[:1], atol=1e-5, rtol=1e-5)
        assert net.tokens(signal(batch=1, samples=100)).shape == (1, 3 * 20, 64)


def test_length_not_a_multiple_of_the_patch_raises() -> None:
    net = tiny()
    with pytest.raises(ConfigError, match=r"31 samples .*patch_size = 5"):
        net.embed(signal(samples=31))
    with pytest.raises(ConfigError, match="patch_size = 25"):
        PatchTransformer.from_size("tiny", InputSpec(12, 260, 100))
    with pytest.raises(ConfigError, match=r"\[batch, leads, samples\]"):
        net.embed(torch.randn(3, 30))


def test_bad_keep_raises() -> None:
    with pytest.raises(ValueError, match="keep must be a long tensor"):
        tiny().tokens(signal(), torch.tensor([0, 1, 2]))


@pytest.mark.parametrize(
    ("size", "overrides", "message"),
    [
        ("huge", {}, "unknown PatchTransformer size 'huge'"),
        ("tiny", {"dimm": 32}, "did you mean 'dim'"),
        ("tiny", {"dim": 66}, "not divisible by heads"),
        ("tiny", {"dim": 30, "heads": 3}, "divisible by 4"),
        ("tiny", {"patch_size": 0}, "patch_size"),
        ("tiny", {"drop_path": 1.0}, "drop_path"),
        ("tiny", {"depth": "2"}, "depth must be int"),
        ("tiny", {"attention": "sparse"}, "'full', 'cropa'"),
        ("tiny", {"pos_layout": "diagonal"}, "pos_layout"),
        ("tiny", {"norm_eps": 0.0}, "norm_eps"),
    ],
)
def test_bad_config_raises(size: str, overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PatchTransformer.from_size(size, SPEC, **{"patch_size": PATCH, **overrides})


def test_config_parses_from_plain_data() -> None:
    config = from_dict(PatchTransformerConfig, {"dim": 32, "heads": 2, "attention": "cropa"})
    assert config == PatchTransformerConfig(dim=32, heads=2, attention="cropa")


def test_same_seed_same_weights_and_outputs() -> None:
    first, second, other = tiny(seed=7), tiny(seed=7), tiny(seed=8)
    for (name, a), (_, b) in zip(
        first.state_dict().items(), second.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    with torch.no_grad():
        assert torch.equal(first.embed(signal()), second.embed(signal()))
        assert not torch.allclose(first.embed(signal()), other.embed(signal()))


def test_drop_path_rises_linearly_and_positions_are_not_parameters() -> None:
    net = PatchTransformer.from_size("tiny", SPEC, patch_size=PATCH, depth=3, drop_path=0.2)
    rates = [getattr(block.drop_path1, "drop_prob", 0.0) for block in net.blocks]
    assert rates == pytest.approx([0.0, 0.1, 0.2])
    assert sum(p.numel() for p in net.parameters()) == _expected_params(64, 3, PATCH)


def _expected_params(dim: int, depth: int, patch_size: int, mlp_ratio: int = 4) -> int:
    """ViT block arithmetic: qkv (no bias), proj, MLP, two LayerNorms; patch embed; final norm."""
    hidden = dim * mlp_ratio
    block = 3 * dim * dim + dim * dim + dim + 2 * dim * hidden + hidden + dim + 4 * dim
    return depth * block + patch_size * dim + dim + 2 * dim


@pytest.mark.parametrize(
    ("size", "low", "high"), [("tiny", 5e4, 2e5), ("small", 20e6, 22.5e6), ("base", 84e6, 87e6)]
)
def test_named_sizes_have_their_documented_parameter_counts_and_shapes(
    size: str, low: float, high: float
) -> None:
    config = PatchTransformer.sizes[size]
    spec = InputSpec(8, 50 * config.patch_size, 250)
    with torch.device("meta"):  # shapes and counts without allocating or computing
        net = PatchTransformer.from_size(size, spec, attention="cropa")
        count = sum(p.numel() for p in net.parameters())
        assert count == _expected_params(config.dim, config.depth, config.patch_size)
        assert low <= count <= high
        x = torch.randn(3, 8, spec.n_samples)
        assert net.embed(x).shape == (3, config.dim)
        keep = torch.zeros(3, 57, dtype=torch.long)
        assert net.tokens(x, keep).shape == (3, 57, config.dim)


@pytest.mark.slow
def test_base_builds_and_embeds_for_real() -> None:
    net = PatchTransformer.from_size("base", InputSpec(8, 2500, 250), attention="cropa")
    assert sum(p.numel() for p in net.parameters()) == _expected_params(768, 12, 50)
    with torch.no_grad():
        embedding = net.eval().embed(torch.randn(1, 8, 2500))
    assert embedding.shape == (1, 768) and torch.isfinite(embedding).all()

"""Cross-Pattern Attention: the mask relation, its effect in a model, and the SDPA path."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from bench.encoders.base import InputSpec
from bench.encoders.cropa import cropa_mask, cropa_mask_for_tokens
from bench.encoders.patch_transformer import PatchTransformer, set_attention_path
from bench.encoders.pos_embed import sincos_2d

pytestmark = pytest.mark.numeric

PATCH = 5


def relation(leads: list[int], times: list[int]) -> Tensor:
    """The CroPA relation written out pair by pair (the test's independent reference)."""
    return torch.tensor(
        [
            [lq == lk or tq == tk for lk, tk in zip(leads, times, strict=True)]
            for lq, tq in zip(leads, times, strict=True)
        ]
    )


def model(attention: str, depth: int = 1, n_patches: int = 4, seed: int = 0) -> PatchTransformer:
    torch.manual_seed(seed)
    spec = InputSpec(n_leads=3, n_samples=n_patches * PATCH, sampling_rate=100)
    net = PatchTransformer.from_size(
        "tiny", spec, patch_size=PATCH, depth=depth, attention=attention
    )
    return net.eval()


def test_each_token_sees_its_lead_and_its_time_column() -> None:
    index = torch.arange(8 * 50)
    mask = cropa_mask_for_tokens(index, n_patches=50)
    assert mask.shape == (400, 400) and mask.dtype == torch.bool
    assert (mask.sum(dim=1) == 8 + 50 - 1).all()
    lead, time = index // 50, index % 50
    allowed = mask.nonzero()
    q, k = allowed[:, 0], allowed[:, 1]
    assert ((lead[q] == lead[k]) | (time[q] == time[k])).all()
    assert torch.equal(mask, mask.T) and mask.diagonal().all()


def test_mask_of_a_keep_set_is_the_relation_restricted_to_kept_tokens() -> None:
    generator = torch.Generator().manual_seed(0)
    keep = torch.stack([torch.randperm(8 * 50, generator=generator)[:90] for _ in range(2)])
    mask = cropa_mask_for_tokens(keep, n_patches=50)
    assert mask.shape == (2, 1, 90, 90)
    for b in range(2):
        leads, times = (keep[b] // 50).tolist(), (keep[b] % 50).tolist()
        assert torch.equal(mask[b, 0], relation(leads, times))
    full = cropa_mask_for_tokens(torch.arange(400), n_patches=50)
    assert torch.equal(mask[1, 0], full[keep[1]][:, keep[1]])


def test_mask_rejects_mismatched_ids() -> None:
    with pytest.raises(ValueError, match="one shape"):
        cropa_mask(torch.zeros(4, dtype=torch.long), torch.zeros(5, dtype=torch.long))


def _output_change(net: PatchTransformer, lead: int, time: int, target: int) -> float:
    """How much token ``target``'s output moves when patch (lead, time) of the input changes."""
    x = torch.randn(2, 3, net.input_spec.n_samples, generator=torch.Generator().manual_seed(1))
    moved = x.clone()
    moved[:, lead, time * PATCH : (time + 1) * PATCH] += 3.0
    with torch.no_grad():
        return (net.tokens(moved)[:, target] - net.tokens(x)[:, target]).abs().max().item()


def test_cropa_blocks_information_across_both_lead_and_time() -> None:
    net = model("cropa")
    target = 1 * 4 + 2  # lead 1, time 2
    assert _output_change(net, lead=0, time=0, target=target) == 0.0
    assert _output_change(net, lead=2, time=3, target=target) == 0.0
    assert _output_change(net, lead=1, time=0, target=target) > 1e-3  # same lead
    assert _output_change(net, lead=2, time=2, target=target) > 1e-3  # same time


def test_full_attention_lets_every_token_influence_every_other() -> None:
    net = model("full")
    assert _output_change(net, lead=0, time=0, target=1 * 4 + 2) > 1e-3


def reference_tokens(
    net: PatchTransformer, x: Tensor, leads: list[int], times: list[int]
) -> Tensor:
    """Float64 reference of one sample's kept tokens: explicit softmax with -inf masking."""
    ref = copy.deepcopy(net).double()
    patches = torch.stack(
        [x[lead, t * PATCH : (t + 1) * PATCH] for lead, t in zip(leads, times, strict=True)]
    )
    pos = sincos_2d(torch.tensor(leads), torch.tensor(times), ref.embed_dim).double()
    allowed = relation(leads, times)
    h = ref.patch_embed(patches.double()) + pos
    for block in ref.blocks:
        attn = block.attn
        y = block.norm1(h)
        q, k, v = attn.qkv(y).reshape(len(leads), 3, attn.num_heads, attn.head_dim).unbind(1)
        scores = torch.einsum("qhd,khd->hqk", q, k) * attn.head_dim**-0.5
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
        out = torch.einsum("hqk,khd->qhd", weights, v).reshape(len(leads), -1)
        h = h + attn.proj(out)
        h = h + block.mlp(block.norm2(h))
    return ref.norm(h)


def test_sdpa_path_matches_a_float64_reference() -> None:
    net = model("cropa", depth=2, n_patches=6)
    x = torch.randn(2, 3, 30, generator=torch.Generator().manual_seed(2))
    keep = torch.tensor([[0, 3, 7, 8, 12, 15, 17], [17, 1, 6, 9, 10, 13, 4]])
    with torch.no_grad():
        kept = net.tokens(x, keep)
        every = net.tokens(x)
        for b in range(2):
            leads, times = (keep[b] // 6).tolist(), (keep[b] % 6).tolist()
            expected = reference_tokens(net, x[b], leads, times)
            torch.testing.assert_close(kept[b].double(), expected, atol=2e-5, rtol=1e-4)
        all_leads = [i // 6 for i in range(18)]
        expected = reference_tokens(net, x[0], all_leads, [i % 6 for i in range(18)])
        torch.testing.assert_close(every[0].double(), expected, atol=2e-5, rtol=1e-4)


def test_every_block_calls_sdpa_with_the_boolean_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    net = model("cropa", depth=2)
    set_attention_path(net, "dense")  # the reference path (auto may run sparse on a grid)
    seen: list[Tensor | None] = []
    sdpa = F.scaled_dot_product_attention

    def recording_sdpa(*args: Tensor, attn_mask: Tensor | None = None, **kwargs: object) -> Tensor:
        seen.append(attn_mask)
        return sdpa(*args, attn_mask=attn_mask, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(F, "scaled_dot_product_attention", recording_sdpa)
    x = torch.randn(2, 3, 20)
    net.tokens(x)
    net.tokens(x, keep=torch.tensor([[0, 5, 6], [1, 2, 11]]))
    assert len(seen) == 4
    assert all(mask is not None and mask.dtype == torch.bool for mask in seen)
    assert seen[0].shape == (12, 12) and seen[2].shape == (2, 1, 3, 3)  # type: ignore[union-attr]
    seen.clear()
    model("full", depth=2).tokens(x)
    assert seen == [None, None]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_bf16_cropa_runs_on_the_memory_efficient_kernel() -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    net = model("cropa", depth=2, n_patches=50).cuda()
    x = torch.randn(4, 3, 250, device="cuda")
    keep = torch.stack([torch.randperm(150, device="cuda")[:60] for _ in range(4)])
    with torch.no_grad():
        expected = net.tokens(x, keep)
        with sdpa_kernel([SDPBackend.EFFICIENT_ATTENTION]), torch.autocast("cuda", torch.bfloat16):
            fast = net.tokens(x, keep)
    torch.testing.assert_close(fast.float(), expected, atol=5e-2, rtol=5e-2)

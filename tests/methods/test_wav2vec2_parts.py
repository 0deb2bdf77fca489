"""wav2vec 2.0's parts: span masking, random lead masking, distractors, the quantiser, logits."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from methods.wav2vec2 import contrastive_logits
from methods.wav2vec2_masking import random_lead_mask, sample_negatives, span_mask
from methods.wav2vec2_quantizer import GumbelQuantizer


def runs(row: torch.Tensor) -> list[int]:
    """Lengths of the runs of True in a bool row."""
    lengths, current = [], 0
    for value in [*row.tolist(), False]:
        if value:
            current += 1
        elif current:
            lengths.append(current)
            current = 0
    return lengths


def test_a_lone_record_masks_whole_spans_that_never_reach_the_last_frame() -> None:
    torch.manual_seed(0)
    for _ in range(50):
        mask = span_mask(1, 100, 0.65, 10, 2)[0]
        lengths = runs(mask)
        assert all(length >= 10 for length in lengths)  # overlapping spans merge
        assert len(lengths) <= 7  # int(0.65 * 100 / 10 + u) <= 7 spans
        assert not mask[-1]  # starts run to T - length - 1 only


def test_every_record_of_a_batch_masks_equally_many_frames_about_half() -> None:
    torch.manual_seed(0)
    shares = []
    for _ in range(20):
        mask = span_mask(16, 100, 0.65, 10, 2)
        counts = mask.sum(dim=1)
        assert (counts == counts[0]).all() and counts[0] >= 10
        shares.append(counts[0].item() / 100)
    assert 0.35 < sum(shares) / len(shares) < 0.6  # 6.5 spans of 10 of 90 starts, overlapping


def test_min_spans_holds_when_the_share_would_give_fewer() -> None:
    torch.manual_seed(0)
    counts = []
    for _ in range(20):
        mask = span_mask(1, 100, 0.0, 5, 3)[0]  # the share alone gives 0 spans
        assert len(runs(mask)) <= 3
        counts.append(int(mask.sum()))
    assert max(counts) <= 15 and sum(counts) / len(counts) > 12  # 3 spans of 5, rarely touching


def test_random_lead_mask_zeroes_whole_leads_at_the_rate() -> None:
    torch.manual_seed(0)
    x = torch.randn(400, 12, 30) + 5.0
    out = random_lead_mask(x, 0.5)
    zeroed = (out == 0).all(dim=2)
    kept = (out == x).all(dim=2)
    assert (zeroed | kept).all()  # a lead is gone or untouched
    assert 0.45 < zeroed.float().mean() < 0.55
    assert zeroed[:, 0].float().mean() > 0.4 and zeroed[:, 11].float().mean() > 0.4
    torch.testing.assert_close(random_lead_mask(x, 0.0), x)


def test_distractors_come_from_the_same_record_never_the_frame_itself() -> None:
    torch.manual_seed(0)
    batch, masked = 3, 6
    ids = torch.arange(batch * masked, dtype=torch.float).reshape(batch, masked, 1)
    negatives = sample_negatives(ids.expand(-1, -1, 4), 50)
    assert negatives.shape == (50, batch, masked, 4)
    drawn = negatives[..., 0].long()  # [K, B, M]: the ids drawn
    record = drawn // masked
    assert (record == torch.arange(batch).view(1, batch, 1)).all()
    assert (drawn != ids[..., 0].long().view(1, batch, masked)).all()
    seen = {(b, m): set(drawn[:, b, m].tolist()) for b in range(batch) for m in range(masked)}
    assert all(len(v) == masked - 1 for v in seen.values())  # every other frame drawn


def test_contrastive_logits_on_a_hand_made_case() -> None:
    context = torch.tensor([[[1.0, 0.0]]])  # [B=1, M=1, D=2]
    target = torch.tensor([[[2.0, 0.0]]])  # same direction: cosine 1
    negatives = torch.tensor([[[[0.0, 3.0]]], [[[-1.0, 0.0]]], [[[2.0, 0.0]]]])  # 0, -1, =target
    logits = contrastive_logits(context, target, negatives, 0.5)
    assert logits.shape == (4, 1, 1)
    assert logits[:3, 0, 0].tolist() == pytest.approx([2.0, 0.0, -2.0])
    assert logits[3, 0, 0] == float("-inf")
    loss = F.cross_entropy(logits.permute(1, 2, 0).reshape(1, 4), torch.zeros(1, dtype=torch.long))
    expected = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-2)))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def quantizer(**kwargs: object) -> GumbelQuantizer:
    torch.manual_seed(0)
    fields = {"in_dim": 8, "groups": 2, "entries": 5, "out_dim": 6,
              "temperature": (2.0, 0.5, 0.9)} | kwargs  # fmt: skip
    return GumbelQuantizer(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("training", [True, False])
def test_quantised_vectors_are_one_codebook_entry_per_group(training: bool) -> None:
    q = quantizer().train(training)
    out = q(torch.randn(40, 8))
    assert out.vectors.shape == (40, 6)
    for group in range(2):
        part = out.vectors[:, 3 * group : 3 * group + 3]
        distance = (part.unsqueeze(1) - q.codebook[group].unsqueeze(0)).abs().amax(dim=-1)
        assert (distance.amin(dim=1) < 1e-6).all()


def test_evaluation_picks_the_argmax_and_training_samples_the_softmax() -> None:
    q = quantizer()
    with torch.no_grad():
        q.logits.weight.zero_()
        q.logits.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
    x = torch.randn(2000, 8)
    chosen = q.eval()(x).vectors[:, :3]
    assert torch.allclose(chosen, q.codebook[0, 4].expand(2000, 3))  # argmax of group 0
    torch.manual_seed(1)
    sampled = q.train()(x).vectors[:, 3:]  # group 1: equal logits -> uniform over 5 entries
    picks = (sampled.unsqueeze(1) - q.codebook[1].unsqueeze(0)).abs().amax(-1).argmin(dim=1)
    frequencies = torch.bincount(picks, minlength=5).float() / 2000
    assert (frequencies - 0.2).abs().max() < 0.04


def test_gradients_reach_the_logits_only_through_the_gumbel_sample() -> None:
    q = quantizer()
    x = torch.randn(16, 8)
    q.train()(x).vectors.sum().backward()
    assert q.logits.weight.grad is not None and q.logits.weight.grad.abs().sum() > 0
    q.zero_grad()
    q.eval()(x).vectors.sum().backward()
    assert q.logits.weight.grad is None or q.logits.weight.grad.abs().sum() == 0
    assert q.codebook.grad.abs().sum() > 0


def test_temperature_decays_per_update_down_to_its_floor() -> None:
    q = quantizer()
    assert q.temperature().item() == pytest.approx(2.0)
    q.set_updates(3)
    assert q.temperature().item() == pytest.approx(2.0 * 0.9**3)
    q.set_updates(1000)
    assert q.temperature().item() == pytest.approx(0.5)
    assert q.state_dict()["updates"].item() == 1000  # saved with checkpoints


def test_perplexities_count_the_entries_in_use() -> None:
    q = quantizer().eval()
    with torch.no_grad():
        q.logits.weight.zero_()
        q.logits.bias.copy_(torch.tensor([9.0, 0, 0, 0, 0, 0, 0, 0, 0, 9.0]))
    one_each = q(torch.randn(50, 8))
    assert one_each.code_perplexity.item() == pytest.approx(2.0, abs=1e-3)  # 1 per group
    assert one_each.prob_perplexity.item() < 2.1
    with torch.no_grad():
        q.logits.bias.zero_()
        q.logits.weight.normal_(std=30.0)
    spread = q(torch.randn(4000, 8))
    assert spread.code_perplexity.item() > 8.0  # most of the 2 x 5 entries
    assert spread.prob_perplexity.item() > 8.0

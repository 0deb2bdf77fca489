"""What wav2vec 2.0 hides and contrasts: frame spans, random leads, distractors.

Facts from fairseq-signals (``data/data_utils.py:compute_mask_indices``,
``data/ecg/augmentations.py:RandomLeadsMask``, ``models/wav2vec2/wav2vec2.py:sample_negatives``):

- Span masking ("static" spans, overlap allowed): ``int(prob * T / length + u)`` spans,
  u ~ U(0, 1) drawn once per batch, at least ``min_spans``; each record draws that many
  distinct start frames from 0 .. T - length - 1 and masks ``length`` frames from each. Every
  record then keeps a random subset of its masked frames of the batch's smallest masked count,
  so that all records hide equally many frames.
- Random lead masking (RLM, "lead-agnostic" SSL): every lead of every record is zeroed with
  probability ``prob`` (0.5), independently (all twelve may go), before the feature encoder.
- Distractors: for every masked frame, ``count`` others drawn uniformly with replacement from
  the same record's masked frames, never the frame itself.

The random draws use torch's generators on the batch's device, not numpy's.
"""

from __future__ import annotations

import torch
from torch import Tensor


def span_mask(
    batch: int,
    frames: int,
    prob: float,
    length: int,
    min_spans: int,
    device: torch.device | str | None = None,
) -> Tensor:
    """Bool [batch, frames]: masked spans, the same number of masked frames in every row."""
    spans = max(min_spans, int(prob * frames / length + torch.rand(()).item()))
    starts = torch.rand(batch, frames - length, device=device).argsort(dim=1)[:, :spans]
    covered = (starts.unsqueeze(-1) + torch.arange(length, device=device)).flatten(1)
    mask = torch.zeros(batch, frames, dtype=torch.bool, device=device)
    mask.scatter_(1, covered, True)
    count = int(mask.sum(dim=1).min())
    score = torch.where(mask, torch.rand(batch, frames, device=device), -1.0)
    kept = score.topk(count, dim=1).indices
    return torch.zeros_like(mask).scatter_(1, kept, True)


def most_spans(frames: int, prob: float, length: int, min_spans: int) -> int:
    """The largest span count ``span_mask`` can draw for ``frames`` frames."""
    return max(min_spans, int(prob * frames / length + 1.0))


def random_lead_mask(x: Tensor, prob: float) -> Tensor:
    """[B, leads, samples] with each lead of each record zeroed with probability ``prob``."""
    survives = torch.rand(x.shape[0], x.shape[1], 1, device=x.device) >= prob
    return x * survives.to(x.dtype)


def sample_negatives(targets: Tensor, count: int) -> Tensor:
    """Distractors [count, B, M, D] for targets [B, M, D] (M >= 2): for each (b, m), ``count``
    targets of record b other than m, drawn uniformly with replacement."""
    batch, masked, _ = targets.shape
    drawn = torch.randint(0, masked - 1, (batch, masked, count), device=targets.device)
    own = torch.arange(masked, device=targets.device).view(1, masked, 1)
    drawn = drawn + (drawn >= own).long()  # skip the frame itself
    rows = torch.arange(batch, device=targets.device).view(batch, 1, 1)
    return targets[rows, drawn].permute(2, 0, 1, 3)

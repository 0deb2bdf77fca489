"""ECG-JEPA time masks: the same time columns hidden in every lead, drawn on the device.

A mask is a boolean ``[B, P]`` over the ``P`` time positions (patch columns) of each sample;
a hidden column is hidden in all leads. Two kinds, both batched with no loop over samples
(ECG-JEPA's reference code draws one mask for the whole batch: draw one row and repeat it):

- random: one ratio ``r ~ U[low, high]`` per batch; every sample hides ``floor(P * r)``
  columns chosen at random (the same count, different columns per sample);
- multi-block: each sample draws ``n_blocks`` blocks of ``n_j = floor(P * r_j)`` columns,
  ``r_j ~ U[low, high]``, at uniform starts; the union is hidden (blocks may overlap, so the
  count varies per sample). With ``reach_end`` False (the reference code's
  ``randperm(P - n_j)[0]``) a start lies in ``[0, P - n_j - 1]``, so no block ever covers the
  last column; with ``reach_end`` True in ``[0, P - n_j]``, so blocks may end at ``P``.

Counts are clamped to ``[1, P - 1]`` so that every sample hides and shows something.
``TimeMask`` adds the layout of the context: each sample's visible columns padded to the
batch's largest visible count (see ``TimeMask`` for why padding rather than truncation).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor

PAD_ID = -1
"""Lead and time id of a padding token: it matches no real token's lead or time."""


def random_mask(
    batch: int, n_patches: int, ratio: tuple[float, float], device: torch.device
) -> Tensor:
    """Hide ``floor(P * r)`` random columns per sample, one ``r ~ U[ratio]`` for the batch."""
    low, high = ratio
    r = low + (high - low) * torch.rand((), device=device)
    count = (n_patches * r).floor().clamp(1, n_patches - 1)
    rank = torch.rand(batch, n_patches, device=device).argsort(dim=1).argsort(dim=1)
    return rank < count


def draw_blocks(
    batch: int,
    n_patches: int,
    n_blocks: int,
    ratio: tuple[float, float],
    device: torch.device,
    reach_end: bool = False,
) -> tuple[Tensor, Tensor]:
    """(starts, lengths), long ``[B, n_blocks]``: lengths ``floor(P * r)``, starts uniform.

    Blocks never cover the last column ``P - 1`` unless ``reach_end``.
    """
    low, high = ratio
    ratios = low + (high - low) * torch.rand(batch, n_blocks, device=device)
    lengths = (n_patches * ratios).floor().long().clamp(1, n_patches - 1)
    room = n_patches - lengths + int(reach_end)  # number of allowed starts (>= 1)
    starts = (torch.rand(batch, n_blocks, device=device) * room).floor().long()
    return torch.minimum(starts, room - 1), lengths


def block_union(starts: Tensor, lengths: Tensor, n_patches: int) -> Tensor:
    """Boolean ``[B, P]``: True where a column lies in at least one block."""
    time = torch.arange(n_patches, device=starts.device)
    ends = starts + lengths
    inside = (time >= starts.unsqueeze(-1)) & (time < ends.unsqueeze(-1))
    return inside.any(dim=1)


def multiblock_mask(
    batch: int,
    n_patches: int,
    n_blocks: int,
    ratio: tuple[float, float],
    device: torch.device,
    reach_end: bool = False,
) -> Tensor:
    """The union of ``n_blocks`` random blocks per sample (``draw_blocks`` + ``block_union``)."""
    starts, lengths = draw_blocks(batch, n_patches, n_blocks, ratio, device, reach_end)
    return block_union(starts, lengths, n_patches)


def largest_block_union(n_patches: int, n_blocks: int, high: float) -> int:
    """Most columns ``n_blocks`` blocks of at most ``high`` of ``n_patches`` can hide."""
    return n_blocks * min(max(int(n_patches * high), 1), n_patches - 1)


@dataclass(frozen=True)
class TimeMask:
    """A batch's hidden columns and the padded layout of its visible (context) columns.

    ``masked``: bool ``[B, P]``, True = hidden from the context encoder and predicted.
    ``visible``: long ``[B, K]``, each sample's visible columns in ascending order, then
    filler up to ``K`` = the batch's largest visible count. ``valid``: bool ``[B, K]``, False
    at filler slots. With one mask per batch or random masks every sample shows the same
    count, so nothing is padded. Per-sample multi-block unions vary a lot (at P = 50: about
    15 to 38 hidden of 50 in a batch of 64), so instead of truncating every sample to the
    batch's extreme counts
    (which would cut the context and the targets by about half), padding slots become tokens
    with lead and time id ``PAD_ID``: under Cross-Pattern Attention they share no lead or time
    with a real token, so real tokens never see them (``context_ids``). ``padded`` is False
    when every sample shows the same count (``valid`` is then all True, and the context
    encoder takes no padding path).
    """

    masked: Tensor
    visible: Tensor
    valid: Tensor
    padded: bool = True

    @classmethod
    def from_masked(cls, masked: Tensor) -> TimeMask:
        """Layout of a boolean ``[B, P]`` mask.

        ``K`` is read back from the device (one small sync per step) and changes from batch to
        batch, so a compiled objective needs dynamic shapes.
        """
        counts = (~masked).sum(dim=1)
        fewest, width = (int(n) for n in torch.aminmax(counts))
        order = torch.argsort(masked.to(torch.uint8), dim=1, stable=True)  # visible first
        visible = order[:, :width]
        valid = torch.arange(width, device=masked.device) < counts.unsqueeze(1)
        return cls(masked=masked, visible=visible, valid=valid, padded=fewest < width)

    def rows(self, rows: Tensor, width: int, padded: bool) -> TimeMask:
        """The mask of samples ``rows`` (long), its layout cut to ``width`` visible slots."""
        return TimeMask(
            masked=self.masked[rows],
            visible=self.visible[rows, :width],
            valid=self.valid[rows, :width],
            padded=padded,
        )

    @property
    def n_patches(self) -> int:
        """Time positions ``P`` per lead."""
        return self.masked.shape[1]

    def context_ids(self, n_leads: int) -> tuple[Tensor, Tensor]:
        """(lead_ids, time_ids), long ``[B, n_leads * K]`` lead-major; ``PAD_ID`` at filler."""
        batch, width = self.visible.shape
        leads = torch.arange(n_leads, device=self.visible.device)
        lead_ids = leads.view(1, n_leads, 1).expand(batch, n_leads, width)
        time_ids = self.visible.unsqueeze(1).expand(batch, n_leads, width)
        valid = self.valid.unsqueeze(1).expand(batch, n_leads, width)
        pad = torch.full_like(lead_ids, PAD_ID)
        flat = (batch, n_leads * width)
        return (
            torch.where(valid, lead_ids, pad).reshape(flat),
            torch.where(valid, time_ids, pad).reshape(flat),
        )


def bucket_rows(counts: list[int], most: int) -> list[list[int]]:
    """Rows grouped into at most ``most`` buckets that waste the fewest padding slots.

    Rows are sorted by ``counts`` (visible columns per sample) and cut into consecutive
    groups; each group pads to its own largest count, and the cut minimises the padded
    slots ``sum(len(group) * max(group))`` (exact dynamic programme, O(most * B^2)).
    """
    order = sorted(range(len(counts)), key=lambda row: counts[row])
    size = [counts[row] for row in order]
    n = len(size)
    best = [0.0] + [float("inf")] * n  # best[j]: fewest slots for the first j rows
    cuts: list[list[int]] = [[] for _ in range(n + 1)]
    for _ in range(min(most, n)):
        new_best, new_cuts = best[:], [c[:] for c in cuts]
        for j in range(1, n + 1):
            for i in range(j):
                slots = best[i] + (j - i) * size[j - 1]
                if slots < new_best[j]:
                    new_best[j], new_cuts[j] = slots, [*cuts[i], j]
        best, cuts = new_best, new_cuts
    edges = [0, *cuts[n]]
    return [order[a:b] for a, b in itertools.pairwise(edges)]

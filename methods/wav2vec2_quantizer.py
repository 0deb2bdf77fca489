"""wav2vec 2.0's product quantiser with the straight-through Gumbel softmax.

Facts from fairseq-signals ``modules/gumbel_vector_quantizer.py`` (as in fairseq's wav2vec 2.0):
``groups`` (G) codebooks of ``entries`` (V) vectors of ``out_dim / G`` channels each, uniform
[0, 1) at init; a Linear (weights N(0, 1), zero biases) gives every input G x V logits. In
training each group picks one entry by a hard Gumbel softmax at the current temperature (the
forward pass is one-hot, the gradient that of the soft sample); in evaluation the argmax. The
picked vectors of the G groups are concatenated. The temperature after ``u`` optimiser updates
is ``max(start * decay ** u, end)`` (2 -> 0.5, decay 0.999995 per update).

Two perplexities, each summed over the groups, measure how many entries are in use:
``code_perplexity`` (of the argmax choices in the batch) and ``prob_perplexity`` (of the
softmax probabilities averaged over the batch, the one the diversity loss
``(G V - prob_perplexity) / (G V)`` raises).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Quantized(NamedTuple):
    """Quantised vectors [N, out_dim], the perplexities (float32 scalars) and the temperature."""

    vectors: Tensor
    code_perplexity: Tensor
    prob_perplexity: Tensor
    temperature: Tensor


def perplexity(probs: Tensor) -> Tensor:
    """Per-group probabilities [N, G, V] averaged over N -> sum over groups of exp(entropy)."""
    mean = probs.mean(dim=0)
    return torch.exp(-(mean * torch.log(mean + 1e-7)).sum(dim=-1)).sum()


class GumbelQuantizer(nn.Module):
    """Inputs [N, in_dim] -> one codebook entry per group, concatenated: [N, out_dim]."""

    def __init__(
        self,
        in_dim: int,
        groups: int,
        entries: int,
        out_dim: int,
        temperature: tuple[float, float, float],
    ):
        super().__init__()
        if out_dim % groups:
            raise ValueError(f"out_dim = {out_dim} is not divisible by groups = {groups}")
        self.groups, self.entries = groups, entries
        self.logits = nn.Linear(in_dim, groups * entries)
        nn.init.normal_(self.logits.weight, mean=0.0, std=1.0)
        nn.init.zeros_(self.logits.bias)
        self.codebook = nn.Parameter(torch.rand(groups, entries, out_dim // groups))
        self.start, self.end, self.decay = temperature
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @property
    def num_vars(self) -> int:
        """G x V, the most that either perplexity can reach."""
        return self.groups * self.entries

    def temperature(self) -> Tensor:
        """The Gumbel temperature at the current update count (float32 scalar)."""
        decayed = self.start * torch.pow(self.decay, self.updates.double())
        return decayed.clamp(min=self.end).float()

    def set_updates(self, updates: int) -> None:
        """Record how many optimiser updates have been made (sets the temperature)."""
        self.updates.fill_(updates)

    def forward(self, x: Tensor) -> Quantized:
        logits = self.logits(x).float().reshape(-1, self.groups, self.entries)
        hard = F.one_hot(logits.argmax(dim=-1), self.entries).float()
        code_ppl = perplexity(hard)
        prob_ppl = perplexity(logits.softmax(dim=-1))
        temperature = self.temperature()
        if self.training:
            gumbels = -torch.empty_like(logits).exponential_().log()
            soft = ((logits + gumbels) / temperature).softmax(dim=-1)
            choice = F.one_hot(soft.argmax(dim=-1), self.entries).float()
            choice = choice - soft.detach() + soft
        else:
            choice = hard
        vectors = torch.einsum("ngv,gvd->ngd", choice, self.codebook.float())
        return Quantized(vectors.flatten(1), code_ppl, prob_ppl, temperature)

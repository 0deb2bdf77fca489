"""Contrastive losses shared by the methods: NT-Xent (SimCLR, 3KG, hybrid) and CLOCS's loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def nt_xent(a: Tensor, b: Tensor, temperature: float) -> Tensor:
    """NT-Xent (SimCLR's InfoNCE) of paired embeddings ``a``, ``b`` [B, E], in float32.

    Each of the 2B embeddings has its pair as the positive and the other 2B - 2 as negatives
    (cosine similarity / ``temperature``); the loss is the mean cross-entropy over all 2B.
    """
    z = F.normalize(torch.cat([a, b]).float(), dim=1)
    logits = (z @ z.T) / temperature
    n = a.shape[0]
    self_pairs = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_pairs, float("-inf"))
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, positives)


def clocs_loss(views: Tensor, identities: Tensor, temperature: float) -> Tensor:
    """CLOCS's contrastive loss over every pair of views (Kiyasseh et al., ICML 2021), float32.

    ``views`` [V, N, E] holds V views (segments, leads, or both) of N instances;
    ``identities`` [N] says which instances count as the same (CLOCS: the patient). For each
    pair of views (i < j) the similarities S = cos(view_i[n], view_j[m]) / ``temperature``
    [N, N] are scored twice: every positive (n, m) (same identity, the diagonal included)
    against its row (n's candidates in view j) and against its column (m's candidates in view
    i); the loss is the mean over positives, the two directions and the view pairs. With
    every identity distinct it is exactly the reference code's loss (mean of the row and
    column cross-entropies of the diagonal); with shared identities the reference counts
    upper-triangle pairs by row and lower-triangle pairs by column only, and weighs them as
    separate means: here every positive pair counts in both directions.
    """
    z = F.normalize(views.float(), dim=-1)
    first, second = torch.triu_indices(z.shape[0], z.shape[0], offset=1, device=z.device)
    scores = torch.einsum("pne,pme->pnm", z[first], z[second]) / temperature  # [P, N, N]
    positive = (identities[:, None] == identities[None, :]).to(z.device)
    by_row = -torch.log_softmax(scores, dim=2)[:, positive]
    by_column = -torch.log_softmax(scores, dim=1)[:, positive]
    return (by_row.mean() + by_column.mean()) / 2

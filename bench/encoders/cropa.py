"""Cross-Pattern Attention (CroPA, ECG-JEPA): attention only within a lead or within a time step.

Token (lead c, time i) may attend to token (c', i') only if ``c == c'`` or ``i == i'``. The mask
is boolean with True = may attend, the convention of ``F.scaled_dot_product_attention``; it is
built for the tokens actually present (e.g. only the visible tokens of a masked context), so its
size is ``K x K`` for ``K`` kept tokens, never the full grid.
"""

from __future__ import annotations

from torch import Tensor


def cropa_mask(lead_ids: Tensor, time_ids: Tensor) -> Tensor:
    """Boolean CroPA mask of the tokens with these ids.

    ``lead_ids``/``time_ids`` of shape ``[K]`` (tokens shared by the batch) give ``[K, K]``;
    shape ``[B, K]`` (per-sample tokens) gives ``[B, 1, K, K]``, broadcastable over heads.
    Entry ``[q, k]`` is True when query token ``q`` may attend to key token ``k``.
    """
    if lead_ids.shape != time_ids.shape or lead_ids.dim() not in (1, 2):
        raise ValueError(
            f"lead_ids {tuple(lead_ids.shape)} and time_ids {tuple(time_ids.shape)} must share "
            "one shape, [K] or [B, K]"
        )
    same_lead = lead_ids.unsqueeze(-1) == lead_ids.unsqueeze(-2)
    same_time = time_ids.unsqueeze(-1) == time_ids.unsqueeze(-2)
    mask = same_lead | same_time
    return mask if mask.dim() == 2 else mask.unsqueeze(1)


def cropa_mask_for_tokens(token_index: Tensor, n_patches: int) -> Tensor:
    """CroPA mask of lead-major token indices (``index = lead * n_patches + time``).

    ``token_index`` is ``[K]`` or ``[B, K]`` (e.g. a ``keep`` set); see ``cropa_mask``.
    """
    return cropa_mask(token_index // n_patches, token_index % n_patches)

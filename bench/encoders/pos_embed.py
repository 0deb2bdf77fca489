"""Fixed (non-learned) sin-cos position codes for 1-D time and 2-D (lead x time) token grids.

The 1-D code of position ``p`` in ``dim`` channels is ``[sin(p * w_k), cos(p * w_k)]`` for
``k < dim / 2`` with ``w_k = temperature ** (-k / (dim / 2))`` (the Transformer / MAE layout).
The 2-D code spends the first half of the channels on the lead index and the second half on the
time (patch) index, as MAE and ECG-JEPA do. Positions may be any integer (or float) tensor, so
codes exist for any number of leads and patches and for any subset of tokens.
"""

from __future__ import annotations

import torch
from timm.layers import freq_bands
from torch import Tensor

from bench.errors import ConfigError

TEMPERATURE = 10000.0


def sincos_1d(positions: Tensor, dim: int, temperature: float = TEMPERATURE) -> Tensor:
    """Codes of ``positions`` (any shape ``S``) -> float32 ``[*S, dim]``; ``dim`` must be even."""
    if dim < 2 or dim % 2:
        raise ConfigError(f"a 1-D sin-cos position code needs an even dim >= 2, got {dim}")
    bands = freq_bands(dim // 2, temperature=temperature, step=1, device=positions.device)
    angles = positions.to(torch.float32).unsqueeze(-1) * bands
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def sincos_2d(
    lead_ids: Tensor, time_ids: Tensor, dim: int, temperature: float = TEMPERATURE
) -> Tensor:
    """Codes of (lead, time) pairs (same shape ``S``) -> float32 ``[*S, dim]``; ``dim % 4 == 0``.

    Channels ``[:dim // 2]`` encode the lead, ``[dim // 2:]`` the time index.
    """
    if dim < 4 or dim % 4:
        raise ConfigError(f"a 2-D sin-cos position code needs dim divisible by 4, got {dim}")
    if lead_ids.shape != time_ids.shape:
        raise ValueError(f"lead_ids {tuple(lead_ids.shape)} != time_ids {tuple(time_ids.shape)}")
    half = dim // 2
    return torch.cat(
        [sincos_1d(lead_ids, half, temperature), sincos_1d(time_ids, half, temperature)], dim=-1
    )


def grid_ids(
    n_leads: int, n_patches: int, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor]:
    """(lead_ids, time_ids), each long ``[n_leads * n_patches]``, in lead-major token order.

    Token ``index = lead * n_patches + time``, so ``lead_ids[index] = index // n_patches`` and
    ``time_ids[index] = index % n_patches``.
    """
    index = torch.arange(n_leads * n_patches, device=device)
    return index // n_patches, index % n_patches


def sincos_grid(
    n_leads: int, n_patches: int, dim: int, device: torch.device | str | None = None
) -> Tensor:
    """2-D codes of a whole (lead x time) grid, lead-major: ``[n_leads * n_patches, dim]``."""
    lead_ids, time_ids = grid_ids(n_leads, n_patches, device)
    return sincos_2d(lead_ids, time_ids, dim)

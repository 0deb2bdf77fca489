"""Fixed (non-learned) sin-cos position codes for 1-D time and 2-D (lead x time) token grids.

The 1-D code of position ``p`` in ``dim`` channels is ``[sin(p * w_k), cos(p * w_k)]`` for
``k < dim / 2`` with ``w_k = temperature ** (-k / (dim / 2))`` (the Transformer / MAE layout).
A 2-D code spends half of the channels on the lead index and half on the time (patch) index,
in one of two layouts (``PosLayout``):

- ``"lead_time"``: lead code in the first half, time code in the second, computed in float32;
- ``"time_lead"``: time code in the first half, lead code in the second, computed in float64
  and rounded to float32 once: ECG-JEPA's reference code (its numpy grid code), so that its
  checkpoints see the codes they were trained with.

Positions may be any integer (or float) tensor, so codes exist for any number of leads and
patches and for any subset of tokens.
"""

from __future__ import annotations

from typing import Literal

import torch
from timm.layers import freq_bands
from torch import Tensor

from bench.errors import ConfigError

TEMPERATURE = 10000.0

PosLayout = Literal["lead_time", "time_lead"]
POS_LAYOUTS: tuple[str, ...] = ("lead_time", "time_lead")


def sincos_1d(
    positions: Tensor,
    dim: int,
    temperature: float = TEMPERATURE,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Codes of ``positions`` (any shape ``S``) -> float32 ``[*S, dim]``; ``dim`` must be even.

    ``dtype`` is the precision of the computation (float32 or float64); the result is float32.
    """
    if dim < 2 or dim % 2:
        raise ConfigError(f"a 1-D sin-cos position code needs an even dim >= 2, got {dim}")
    half = dim // 2
    if dtype == torch.float32:
        bands = freq_bands(half, temperature=temperature, step=1, device=positions.device)
    else:
        exponent = torch.arange(half, dtype=dtype, device=positions.device) / half
        bands = 1.0 / temperature**exponent
    angles = positions.to(dtype).unsqueeze(-1) * bands
    return torch.cat([angles.sin(), angles.cos()], dim=-1).to(torch.float32)


def sincos_2d(
    lead_ids: Tensor,
    time_ids: Tensor,
    dim: int,
    temperature: float = TEMPERATURE,
    layout: PosLayout = "lead_time",
) -> Tensor:
    """Codes of (lead, time) pairs (same shape ``S``) -> float32 ``[*S, dim]``; ``dim % 4 == 0``.

    ``layout`` orders the halves and sets the precision (see the module docstring).
    """
    if dim < 4 or dim % 4:
        raise ConfigError(f"a 2-D sin-cos position code needs dim divisible by 4, got {dim}")
    if lead_ids.shape != time_ids.shape:
        raise ValueError(f"lead_ids {tuple(lead_ids.shape)} != time_ids {tuple(time_ids.shape)}")
    if layout not in POS_LAYOUTS:
        raise ConfigError(f"position layout {layout!r} is not one of {', '.join(POS_LAYOUTS)}")
    half = dim // 2
    if layout == "lead_time":
        first, second, dtype = lead_ids, time_ids, torch.float32
    else:
        first, second, dtype = time_ids, lead_ids, torch.float64
    return torch.cat(
        [sincos_1d(first, half, temperature, dtype), sincos_1d(second, half, temperature, dtype)],
        dim=-1,
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
    n_leads: int,
    n_patches: int,
    dim: int,
    device: torch.device | str | None = None,
    layout: PosLayout = "lead_time",
) -> Tensor:
    """2-D codes of a whole (lead x time) grid, lead-major: ``[n_leads * n_patches, dim]``."""
    lead_ids, time_ids = grid_ids(n_leads, n_patches, device)
    return sincos_2d(lead_ids, time_ids, dim, layout=layout)

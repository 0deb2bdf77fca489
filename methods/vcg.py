"""12-lead ECG <-> vectorcardiogram (VCG), and 3KG's random rotation and scaling of the VCG.

The inverse Dower matrix (Edenbrandt & Pahlm, "Vectorcardiogram synthesized from a 12-lead
ECG: superiority of the inverse Dower matrix", J Electrocardiol 21:361-367, 1988) maps the 8
independent leads to the Frank X, Y, Z leads; the Dower matrix (Dower, Machado & Osborne, "On
deriving the electrocardiogram from vectorcardiographic leads", Clin Cardiol 3:87-95, 1980)
maps X, Y, Z back to those 8 leads. The other four limb leads follow from I and II (Einthoven
and Goldberger): III = II - I, aVR = -(I + II) / 2, aVL = I - II / 2, aVF = II - I / 2.

Lead layouts (``bench.data.signals``): 12 leads in the canonical order I, II, III, aVR, aVL,
aVF, V1-V6, or the 8 independent leads I, II, V1-V6; any other lead count has no VCG here.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from bench.errors import ConfigError

INVERSE_DOWER_V1_TO_II = (
    (-0.172, -0.074, 0.122, 0.231, 0.239, 0.194, 0.156, -0.010),  # X
    (0.057, -0.019, -0.106, -0.022, 0.041, 0.048, -0.227, 0.887),  # Y
    (-0.229, -0.310, -0.246, -0.063, 0.055, 0.108, 0.022, 0.102),  # Z
)
"""Inverse Dower matrix as published (Edenbrandt & Pahlm 1988): rows X, Y, Z; columns V1, V2,
V3, V4, V5, V6, I, II."""

DOWER_I_II_V1_TO_V6 = (
    (0.632, -0.235, 0.059),  # I
    (0.235, 1.066, -0.132),  # II
    (-0.515, 0.157, -0.917),  # V1
    (0.044, 0.164, -1.387),  # V2
    (0.882, 0.098, -1.277),  # V3
    (1.213, 0.127, -0.601),  # V4
    (1.125, 0.127, -0.086),  # V5
    (0.831, 0.076, 0.230),  # V6
)
"""Dower matrix (Dower et al. 1980): rows I, II, V1-V6; columns X, Y, Z."""

INDEPENDENT_OF_12 = (0, 1, 6, 7, 8, 9, 10, 11)
"""Positions of I, II, V1-V6 among the 12 canonical leads."""


def inverse_dower() -> Tensor:
    """The inverse Dower matrix [3, 8] with columns in the order I, II, V1-V6."""
    published = torch.tensor(INVERSE_DOWER_V1_TO_II, dtype=torch.float64)
    return torch.cat([published[:, 6:], published[:, :6]], dim=1)


def dower() -> Tensor:
    """The Dower matrix [8, 3], rows I, II, V1-V6."""
    return torch.tensor(DOWER_I_II_V1_TO_V6, dtype=torch.float64)


VcgBack = Literal["pinv", "dower"]


def back_matrix(back: VcgBack) -> Tensor:
    """The map [8, 3] from X, Y, Z to I, II, V1-V6: the published Dower matrix ("dower") or
    the pseudo-inverse of the inverse Dower matrix ("pinv", as 3KG's reference code)."""
    return dower() if back == "dower" else torch.linalg.pinv(inverse_dower())


def check_vcg_leads(n_leads: int, where: str) -> None:
    """ConfigError unless ``n_leads`` is 12 (canonical order) or 8 (the independent leads)."""
    if n_leads not in (8, 12):
        raise ConfigError(
            f"{where}: the VCG transform needs the 12 standard leads or the 8 independent leads "
            f"(I, II, V1-V6), got {n_leads} leads; use preprocessing.leads '12' or '8'"
        )


def to_vcg(ecg: Tensor) -> Tensor:
    """ECG [B, 12 or 8 leads, T] -> VCG [B, 3, T] (X, Y, Z) through the inverse Dower matrix."""
    check_vcg_leads(ecg.shape[1], "to_vcg")
    independent = ecg[:, list(INDEPENDENT_OF_12)] if ecg.shape[1] == 12 else ecg
    matrix = inverse_dower().to(ecg.device, ecg.dtype)
    return torch.einsum("vl,blt->bvt", matrix, independent)


def to_ecg(vcg: Tensor, n_leads: int, back: VcgBack = "dower") -> Tensor:
    """VCG [B, 3, T] -> ECG [B, n_leads, T] (12 or 8) through ``back_matrix(back)``; with 12
    leads III, aVR, aVL and aVF are derived from I and II."""
    check_vcg_leads(n_leads, "to_ecg")
    matrix = back_matrix(back).to(vcg.device, vcg.dtype)
    independent = torch.einsum("lv,bvt->blt", matrix, vcg)
    if n_leads == 8:
        return independent
    lead_i, lead_ii = independent[:, 0], independent[:, 1]
    limb = torch.stack(
        [lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2],
        dim=1,
    )
    return torch.cat([independent[:, :2], limb, independent[:, 2:]], dim=1)


def axis_rotation(angle: Tensor, axis: int) -> Tensor:
    """Rotations [B, 3, 3] by ``angle`` [B] (radians) about coordinate ``axis`` (0 x, 1 y, 2 z)."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    first, second = [i for i in range(3) if i != axis]
    rows = [[zero, zero, zero] for _ in range(3)]
    rows[axis][axis] = one
    rows[first][first], rows[first][second] = cos, -sin
    rows[second][first], rows[second][second] = sin, cos
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def random_rotation(batch: int, max_angle_deg: float, device: torch.device) -> Tensor:
    """[B, 3, 3]: R_z(a) R_y(b) R_x(c), each angle uniform in +-``max_angle_deg`` (global RNG)."""
    angles = (2 * torch.rand(3, batch, device=device) - 1) * math.radians(max_angle_deg)
    return axis_rotation(angles[0], 2) @ axis_rotation(angles[1], 1) @ axis_rotation(angles[2], 0)


def rotate_and_scale(
    ecg: Tensor, max_angle_deg: float, max_scale: float, back: VcgBack = "pinv"
) -> Tensor:
    """3KG's spatial augmentation: ECG -> VCG, a random rotation (``random_rotation``), then a
    random scaling of each axis by a factor uniform in [1, ``max_scale``], back to the ECG's
    leads through ``back_matrix(back)``; one draw per sample. Computed in float32 at least."""
    dtype = torch.promote_types(ecg.dtype, torch.float32)
    vcg = to_vcg(ecg.to(dtype))
    batch = ecg.shape[0]
    rotation = random_rotation(batch, max_angle_deg, ecg.device).to(dtype)
    scale = 1 + (max_scale - 1) * torch.rand(batch, 3, 1, device=ecg.device, dtype=dtype)
    return to_ecg(scale * (rotation @ vcg), ecg.shape[1], back).to(ecg.dtype)

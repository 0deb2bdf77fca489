"""ECG <-> vectorcardiogram (inverse Dower / Dower) and 3KG's rotation and scaling."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from bench.errors import ConfigError
from methods.vcg import INDEPENDENT_OF_12, rotate_and_scale, to_ecg, to_vcg


def heart_vector(batch: int = 4, samples: int = 500) -> Tensor:
    """A known VCG [batch, 3, samples]: a loop in X-Y with a Z component, per-sample sizes."""
    t = torch.linspace(0, 2 * math.pi, samples, dtype=torch.float64)
    size = torch.linspace(0.5, 2.0, batch, dtype=torch.float64)[:, None, None]
    loop = torch.stack([torch.cos(t), torch.sin(t), 0.5 * torch.sin(2 * t)])
    return size * loop


def test_twelve_leads_to_three_and_back_reproduce_a_known_signal() -> None:
    vcg = heart_vector()
    ecg = to_ecg(vcg, 12)  # the 12-lead ECG of a known heart vector (Dower)
    back = to_vcg(ecg)  # 12 -> 3 (inverse Dower)
    assert (back - vcg).abs().max() < 2e-3 * vcg.abs().max()
    again = to_ecg(back, 12)  # 3 -> 12
    assert (again - ecg).abs().max() < 5e-3 * ecg.abs().max()


def test_derived_limb_leads_follow_einthoven_and_goldberger() -> None:
    ecg = to_ecg(heart_vector(), 12)
    lead_i, lead_ii, lead_iii, avr, avl, avf = ecg[:, :6].unbind(dim=1)
    torch.testing.assert_close(lead_iii, lead_ii - lead_i)
    torch.testing.assert_close(avr, -(lead_i + lead_ii) / 2)
    torch.testing.assert_close(avl, lead_i - lead_ii / 2)
    torch.testing.assert_close(avf, lead_ii - lead_i / 2)


def test_eight_independent_leads_are_the_twelve_without_the_derived_ones() -> None:
    vcg = heart_vector()
    twelve, eight = to_ecg(vcg, 12), to_ecg(vcg, 8)
    torch.testing.assert_close(eight, twelve[:, list(INDEPENDENT_OF_12)])
    torch.testing.assert_close(to_vcg(eight), to_vcg(twelve))


def test_rotation_keeps_the_heart_vector_length_and_scaling_stretches_each_axis() -> None:
    vcg = heart_vector(batch=16)
    ecg = to_ecg(vcg, 12).float()
    reference = to_vcg(ecg)
    torch.manual_seed(0)
    rotated = to_vcg(rotate_and_scale(ecg, max_angle_deg=45.0, max_scale=1.0))
    # the published matrices invert each other to within 1e-3
    torch.testing.assert_close(rotated.norm(dim=1), reference.norm(dim=1), rtol=3e-3, atol=3e-3)
    assert (rotated - reference).abs().amax(dim=(1, 2)).min() > 0.01  # every sample moved
    scaled = to_vcg(rotate_and_scale(ecg, max_angle_deg=0.0, max_scale=1.5))
    ratio = scaled[..., 10:] / reference[..., 10:]  # away from the zeros of the loop
    per_axis = ratio.median(dim=-1).values
    assert per_axis.min() >= 1 - 1e-3 and per_axis.max() <= 1.5 + 1e-3
    assert per_axis.std() > 0.05  # axes and samples drawn independently


def test_rotation_and_scaling_keep_an_eight_lead_layout() -> None:
    torch.manual_seed(0)
    ecg = to_ecg(heart_vector(), 8).float()
    out = rotate_and_scale(ecg, 45.0, 1.5)
    assert out.shape == ecg.shape and out.dtype == ecg.dtype


def test_other_lead_counts_are_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"12 standard leads or the 8 independent.*preprocessing"):
        to_vcg(torch.zeros(1, 3, 10))

"""ECG-JEPA test doubles: a tiny input spec, a seeded model builder and smooth random ECGs."""

from __future__ import annotations

import torch
from torch import Tensor

from bench.encoders.base import InputSpec
from methods.jepa import JEPA, JEPAConfig

SPEC = InputSpec(n_leads=3, n_samples=100, sampling_rate=100)
PATCH = 5
P = SPEC.n_samples // PATCH  # 20 time columns per lead
CPU = torch.device("cpu")


def build(seed: int = 0, **config: object) -> JEPA:
    """A JEPA with patch size ``PATCH`` on ``SPEC``, initialised under ``seed``."""
    torch.manual_seed(seed)
    return JEPA(JEPAConfig(patch_size=PATCH, **config), SPEC)  # type: ignore[arg-type]


def ecg(batch: int = 4, seed: int = 1) -> Tensor:
    """Random walks [batch, leads, samples]: smooth enough to be predictable."""
    noise = torch.randn(
        batch, SPEC.n_leads, SPEC.n_samples, generator=torch.Generator().manual_seed(seed)
    )
    return noise.cumsum(-1) / 5

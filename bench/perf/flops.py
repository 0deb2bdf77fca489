"""FLOPs of a training step and model FLOP utilisation (MFU) against a device's peak.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode``: matrix products,
convolutions and attention kernels (2 FLOPs per multiply-add), forward and backward alike;
element-wise work (norms, activations, the optimiser) is not counted, as usual for MFU. The
counter has no formulas for the fused recurrent kernels (cuDNN, oneDNN), so counting runs with
both back-ends off: an LSTM then runs as per-step matrix products, which are counted.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.errors import ConfigError


@dataclass(frozen=True)
class PeakFlops:
    """Dense peak TFLOP/s of one GPU model (vendor data sheets, without sparsity)."""

    name_contains: tuple[str, ...]
    bf16: float
    fp32: float


GPU_PEAKS: tuple[PeakFlops, ...] = (
    PeakFlops(("H100", "PCIE"), bf16=756.0, fp32=51.0),
    PeakFlops(("H100", "NVL"), bf16=835.0, fp32=60.0),
    PeakFlops(("H100",), bf16=989.0, fp32=67.0),  # SXM (HBM3), the usual H100
    PeakFlops(("H200",), bf16=989.0, fp32=67.0),
    PeakFlops(("A100",), bf16=312.0, fp32=19.5),
    PeakFlops(("L40S",), bf16=362.0, fp32=91.6),
    PeakFlops(("L4",), bf16=121.0, fp32=30.3),
)
"""Known GPUs, most specific first; matched on the upper-cased CUDA device name.

``fp32`` is the plain FP32 rate (no TF32), what fp32 matrix products run at under torch's
default ``float32_matmul_precision("highest")``.
"""


def peak_tflops(device_name: str, dtype: torch.dtype | None) -> float | None:
    """Dense peak TFLOP/s of ``device_name`` at ``dtype`` (None = fp32); None if not known."""
    name = device_name.upper()
    for peak in GPU_PEAKS:
        if all(part in name for part in peak.name_contains):
            return peak.bf16 if dtype in (torch.bfloat16, torch.float16) else peak.fp32
    return None


def device_peak_tflops(
    device: torch.device, dtype: torch.dtype | None, override: float | None = None
) -> float | None:
    """``override`` when given, else the table's peak for a CUDA ``device``; None on CPU."""
    if override is not None:
        if not override > 0:
            raise ConfigError(f"--peak-tflops = {override} must be positive")
        return override
    if device.type != "cuda":
        return None
    return peak_tflops(torch.cuda.get_device_name(device), dtype)


def model_flop_utilisation(flops_per_step: int, step_s: float, peak: float | None) -> float | None:
    """Achieved FLOP/s over the peak (``peak`` in TFLOP/s), as a fraction; None without a peak."""
    if peak is None or step_s <= 0:
        return None
    return flops_per_step / step_s / (peak * 1e12)


@contextmanager
def countable_kernels() -> Iterator[None]:
    """cuDNN and oneDNN off for the block, so recurrent layers run as countable matmuls."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # oneDNN's TF32 notice on flag changes
        with torch.backends.cudnn.flags(enabled=False), torch.backends.mkldnn.flags(enabled=False):
            yield


def count_flops(run: Callable[[], object]) -> int:
    """FLOPs of everything ``run()`` computes (call it with forward and backward inside)."""
    with countable_kernels(), FlopCounterMode(display=False) as counter:
        run()
    return int(counter.get_total_flops())

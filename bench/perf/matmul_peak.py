"""The machine's measured matrix-product peak: one large square matmul timed on the device.

MFU needs a vendor peak, which CPUs and unknown GPUs lack; the measured peak gives every row a
comparable figure on any device: achieved FLOP/s as a share of what this device (and, on CPU,
this many threads) reaches on one big dense matmul at the row's precision.
"""

from __future__ import annotations

import functools
import time

import torch

CPU_SIZE = 1024
CUDA_SIZE = 8192
REPEATS = 5


def matmul_flops(size: int) -> int:
    """FLOPs of one ``size x size`` by ``size x size`` product (2 per multiply-add)."""
    return 2 * size**3


def measure_matmul_tflops(
    device: torch.device, dtype: torch.dtype | None, size: int | None = None
) -> float:
    """Best of ``REPEATS`` timed products of two random square matrices, in TFLOP/s.

    ``dtype`` None means fp32; on CUDA the products are timed with events after a warm-up.
    """
    size = size or (CUDA_SIZE if device.type == "cuda" else CPU_SIZE)
    generator = torch.Generator(device=device).manual_seed(0)
    a, b = (
        torch.randn(size, size, device=device, dtype=dtype or torch.float32, generator=generator)
        for _ in range(2)
    )
    torch.matmul(a, b)  # warm-up: kernel selection, caches
    seconds = min(_timed(a, b) for _ in range(REPEATS))
    return matmul_flops(size) / seconds / 1e12


@functools.lru_cache(maxsize=8)
def cached_matmul_tflops(device: torch.device, dtype: torch.dtype | None, threads: int) -> float:
    """``measure_matmul_tflops`` once per device, precision and CPU thread count."""
    del threads  # part of the cache key only: the CPU peak depends on it
    return measure_matmul_tflops(device, dtype)


def _timed(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        torch.matmul(a, b)
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    begin = time.perf_counter()
    torch.matmul(a, b)
    return time.perf_counter() - begin

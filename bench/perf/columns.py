"""The columns of ``bench perf``'s table and CSV file and what each means (torch-free, so the
parser shows ``COLUMN_HELP`` without importing the measurement)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.perf.measure import PerfRow

Column = tuple[str, Callable[["PerfRow"], str]]

TABLE_COLUMNS: tuple[Column, ...] = (
    ("method", lambda r: r.method),
    ("size", lambda r: r.size),
    ("params_M", lambda r: f"{r.params / 1e6:.2f}"),
    ("batch", lambda r: str(r.batch_size)),
    ("samples/s", lambda r: f"{r.samples_per_s:.1f}"),
    ("step_ms", lambda r: f"{r.step_s * 1e3:.1f}"),
    ("data%", lambda r: f"{100 * r.share('data'):.1f}"),
    ("fwd%", lambda r: f"{100 * r.share('forward'):.1f}"),
    ("bwd+opt%", lambda r: f"{100 * r.share('backward'):.1f}"),
    ("peak_MB", lambda r: f"{r.peak_memory_bytes / 2**20:.0f}"),
    ("GFLOP/sample", lambda r: f"{r.flops_per_sample / 1e9:.3f}"),
    ("TFLOP/s", lambda r: f"{r.achieved_tflops:.3f}"),
    ("MFU%", lambda r: "-" if r.mfu is None else f"{100 * r.mfu:.1f}"),
    ("mm_TFLOP/s", lambda r: f"{r.matmul_tflops:.3f}"),
    ("of_mm%", lambda r: f"{100 * r.matmul_share:.1f}"),
    ("compile_s", lambda r: f"{r.compile_s:.1f}"),
    ("graphs", lambda r: "on" if r.cuda_graphs else "off"),
)
"""Printed columns; ``COLUMN_HELP`` says what each means."""

COLUMN_HELP = """\
columns:
  params_M      trainable parameters (millions; an EMA target is not trainable)
  batch         crops per step (the profile's train.batch_size unless --batch-size)
  samples/s     batch / step_ms: crops trained per second
  step_ms       wall-clock time per timed step (after the warm-up steps)
  data%         share of the step taking the crops from the records on the device
  fwd%          share in the method's loss (forward, under autocast)
  bwd+opt%      share in backward, gradient clipping, the AdamW step and on_step_end (EMA)
  peak_MB       peak memory the row added: on CUDA torch.cuda.max_memory_allocated (tensors:
                weights, gradients, optimiser state, activations; synthetic records excluded);
                on Linux CPUs the growth of the process's peak resident set (VmHWM, reset per
                row); elsewhere the growth of getrusage's ru_maxrss
  GFLOP/sample  forward + backward FLOPs of one step per crop, counted once with
                torch.utils.flop_counter (matmuls, convolutions, attention; 2 per multiply-add)
  TFLOP/s       counted FLOPs per second achieved
  MFU%          TFLOP/s over the device's dense peak for the precision (H100/H200 bf16 989,
                A100 312, ...; --peak-tflops overrides); '-' where no peak is known (CPU)
  mm_TFLOP/s    this device's measured matmul peak at the row's precision: the best of 5
                timed products of two random square matrices (1024 on CPU with the run's
                threads, 8192 on CUDA), measured once per run
  of_mm%        TFLOP/s as a share of mm_TFLOP/s: comparable on any device, CPUs included
  compile_s     with --compile, the wall time of the warm-up steps in which torch.compile ran
                (0 without; step_ms never includes it as long as --warmup is at least 1)
  graphs        on where the compiled step ran as CUDA graphs (--cuda-graphs; recorded in the
                warm-up steps, so use --warmup 3 or more)
On CUDA the parts are timed with CUDA events between them, read after one synchronisation at
the end of the timed steps (no sync inside them); on CPU with time.perf_counter."""

CSV_FIELDS: tuple[str, ...] = (
    "method", "size", "device", "precision", "batch_size", "steps", "params", "samples_per_s",
    "step_ms", "data_ms", "forward_ms", "backward_ms", "data_share", "forward_share",
    "backward_share", "peak_memory_mb", "flops_per_step", "flops_per_sample",
    "achieved_tflops", "peak_tflops", "mfu", "matmul_tflops", "matmul_share", "compile_s",
    "cuda_graphs",
)  # fmt: skip

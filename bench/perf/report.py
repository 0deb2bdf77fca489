"""Printing ``bench perf`` rows: the aligned table, the CSV file and the MFU target lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from bench.atomic import atomic_write
from bench.errors import ConfigError
from bench.perf.flops import peak_tflops
from bench.perf.measure import PerfRow, step_time_for_mfu

Column = tuple[str, Callable[[PerfRow], str]]

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


class TablePrinter:
    """Prints rows as they come, aligned to fixed column widths, under a title and a header."""

    LEFT_ALIGNED = 2  # method and size; the numbers are right-aligned

    def __init__(self, print_line: Callable[[str], None] = print, title: str | None = None):
        self.print_line = print_line
        self.title = title
        self.widths = [8, 5] + [max(len(name), 8) for name, _ in TABLE_COLUMNS[2:]]
        self.header_printed = False

    def row(self, row: PerfRow) -> None:
        """Print ``row`` (and the title and header before the first one)."""
        if not self.header_printed:
            if self.title is not None:
                self.print_line(self.title)
            self.print_line(self._line([name for name, _ in TABLE_COLUMNS]))
            self.header_printed = True
        self.print_line(self._line([cell(row) for _, cell in TABLE_COLUMNS]))

    def _line(self, cells: Sequence[str]) -> str:
        return " ".join(
            f"{cell:<{width}}" if index < self.LEFT_ALIGNED else f"{cell:>{width}}"
            for index, (cell, width) in enumerate(zip(cells, self.widths, strict=True))
        )


def format_table(rows: Sequence[PerfRow]) -> str:
    """All rows as one aligned table."""
    lines: list[str] = []
    printer = TablePrinter(lines.append)
    for row in rows:
        printer.row(row)
    return "\n".join(lines)


def csv_record(row: PerfRow) -> dict[str, object]:
    """The CSV fields of ``row`` (times in ms, shares as fractions, empty when unknown)."""
    return {
        "method": row.method, "size": row.size, "device": row.device,
        "precision": row.precision, "batch_size": row.batch_size, "steps": row.steps,
        "params": row.params, "samples_per_s": row.samples_per_s, "step_ms": row.step_s * 1e3,
        "data_ms": row.data_s * 1e3, "forward_ms": row.forward_s * 1e3,
        "backward_ms": row.backward_s * 1e3, "data_share": row.share("data"),
        "forward_share": row.share("forward"), "backward_share": row.share("backward"),
        "peak_memory_mb": row.peak_memory_bytes / 2**20, "flops_per_step": row.flops_per_step,
        "flops_per_sample": row.flops_per_sample, "achieved_tflops": row.achieved_tflops,
        "peak_tflops": "" if row.peak_tflops is None else row.peak_tflops,
        "mfu": "" if row.mfu is None else row.mfu,
        "matmul_tflops": row.matmul_tflops, "matmul_share": row.matmul_share,
        "compile_s": row.compile_s, "cuda_graphs": row.cuda_graphs,
    }  # fmt: skip


def write_csv(rows: Sequence[PerfRow], path: Path) -> None:
    """All rows into ``path`` atomically; ConfigError if its folder does not exist."""
    if not path.parent.is_dir():
        raise ConfigError(f"--csv {path}: folder {path.parent} does not exist")
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_record(row) for row in rows)
    atomic_write(path, lambda handle: handle.write(text.getvalue().encode()))


def target_lines(rows: Sequence[PerfRow], mfu: float, gpu: str) -> list[str]:
    """Per row: the step time and throughput that ``mfu`` of ``gpu``'s bf16 peak would give."""
    peak = peak_tflops(gpu, torch.bfloat16)
    if peak is None:
        raise ConfigError(f"no peak FLOP/s known for GPU {gpu!r}")
    lines = [f"at {100 * mfu:.0f} % MFU on an {gpu} ({peak:.0f} TFLOP/s bf16 dense) a step takes:"]
    for row in rows:
        step_s = step_time_for_mfu(row, mfu, peak)
        lines.append(
            f"  {row.method} {row.size}: {row.flops_per_sample / 1e9:.2f} GFLOP/sample x "
            f"{row.batch_size} -> {step_s * 1e3:.3g} ms per step, "
            f"{row.batch_size / step_s:,.0f} samples/s"
        )
    return lines

"""Printing ``bench perf`` rows: the aligned table, the CSV file and the MFU target lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from bench.atomic import atomic_write
from bench.errors import ConfigError
from bench.perf.columns import CSV_FIELDS, TABLE_COLUMNS
from bench.perf.flops import peak_tflops
from bench.perf.measure import PerfRow, step_time_for_mfu


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

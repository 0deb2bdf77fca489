"""What one thread of this machine achieves, to turn a grid's FLOPs into seconds: its fp32 matmul
peak (the best of many ``bench.perf.matmul_peak``-sized products, by process CPU time), the
FLOP/s of a representative fine-tune step (median process CPU time of full steps), and the CPU
seconds of the linear probes' L-BFGS fits, which are not matrix products (for the distinct fits
only: ``probe_cache`` fits the fraction seeds at 100 % once; timed for every task and fraction
on one untrained encoder per embedding size).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch

from bench.evaluation.embeddings import Embeddings
from bench.evaluation.probe import linear_probe
from bench.evaluation.windows import apply_windowed
from bench.grid.plan import Cell
from bench.grid.unit import Unit
from bench.perf.finetune_step import CPU
from bench.perf.flops import count_flops
from bench.perf.grid_counts import GridCount
from bench.perf.grid_flops import GridCounter
from bench.perf.matmul_peak import CPU_SIZE, matmul_flops


def measured_peak(repeats: int = 30) -> float:
    """One thread's fp32 matmul FLOP/s: the best of ``repeats`` products of two random
    ``CPU_SIZE`` square matrices (``bench.perf.matmul_peak``'s case, after a warm-up), each
    timed by process CPU time: the wall time that ``measure_matmul_tflops`` takes also counts
    the waits for a core that other jobs on a shared machine cause."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(CPU_SIZE, CPU_SIZE, generator=generator) for _ in range(2))
    torch.matmul(a, b)
    seconds = []
    for _ in range(repeats):
        started = time.process_time()
        torch.matmul(a, b)
        seconds.append(time.process_time() - started)
    return matmul_flops(CPU_SIZE) / min(seconds)


def step_rates(
    counter: GridCounter, cell: Cell, batches: Sequence[int], steps: int
) -> list[tuple[int, float, int]]:
    """(batch, median process CPU seconds per step, FLOPs per step) of ``cell``'s full training
    step at each batch (one thread; two warm-up steps first)."""
    data, subset, _, _ = counter.rows(cell)
    rates = []
    for batch in batches:
        step = counter.train_step(cell, data, subset, batch, True)
        flops = count_flops(step.forward_backward)
        for _ in range(2):
            step()
        seconds = []
        for _ in range(steps):
            started = time.process_time()
            step()
            seconds.append(time.process_time() - started)
        rates.append((batch, statistics.median(seconds), flops))
    return rates


def probe_seconds(counter: GridCounter, fits: dict[tuple[str, str, bytes], Cell]) -> float:
    """Estimated CPU seconds of the distinct probe fits: each (task, fraction) timed once on
    the untrained encoder of one unit per embedding size, applied to every fit of that size."""
    timed: dict[tuple[int, str, float], float] = {}
    samples: dict[int, Unit] = {}
    for cell in fits.values():
        samples.setdefault(counter.encoder(cell.unit).embed_dim, cell.unit)
    for dim, unit in samples.items():
        encoder = counter.encoder(unit).eval()
        data = counter.workspace.unit_data(unit)
        _, window, stride = counter.windows_shape(unit)
        features = apply_windowed(
            data.signals, encoder.embed, window, stride, "mean", CPU, unit.evaluation.batch_size
        )
        embeddings = Embeddings(data.meta["record_id"].to_numpy(np.int64), features)
        for cell in fits.values():
            key = (dim, cell.task.name, cell.fraction)
            if counter.encoder(cell.unit).embed_dim != dim or key in timed:
                continue
            task_data, subset, val, test = counter.rows(cell)
            x, y = embeddings.rows(task_data.record_ids), task_data.labels
            started = time.process_time()
            linear_probe(
                (x[subset], y[subset]), (x[val], y[val]), x[test], unit.evaluation.linear,
                cell.task.kind, cell.task.main_metric,
            )  # fmt: skip
            timed[key] = time.process_time() - started
    return sum(
        timed[(counter.encoder(c.unit).embed_dim, c.task.name, c.fraction)] for c in fits.values()
    )


def representative(cells: Sequence[Cell], counted: GridCount) -> Cell:
    """A single-stage fine-tune cell at the full batch: ``supervised``'s where it is in the
    grid, else the one of the method with the most fine-tune train FLOPs."""
    single = [
        c for c in cells if c.eval_key in counted.finetunes and c.unit.finetune_stages is None
    ]
    pool = single or [c for c in cells if c.eval_key in counted.finetunes]
    by_method: Counter[str] = Counter()
    for c in pool:
        by_method[c.unit.method] += counted.finetunes[c.eval_key].train_flops
    method = "supervised" if "supervised" in by_method else by_method.most_common(1)[0][0]
    return max(
        (c for c in pool if c.unit.method == method),
        key=lambda c: counted.finetunes[c.eval_key].batch,
    )


def achieved_rate(
    counter: GridCounter,
    cells: Sequence[Cell],
    counted: GridCount,
    n_seeds: int,
    batches: Sequence[int] | None,
    steps: int,
) -> float | None:
    """FLOP/s of the representative fine-tune step at the batch carrying most fine-tune FLOPs,
    timed over ``steps`` steps and printed with the other ``batches`` (default: the smallest
    fine-tune batch and that batch x ``n_seeds``); None without fine-tune cells."""
    if not counted.finetunes:
        return None
    by_batch: Counter[int] = Counter()
    for one in counted.finetunes.values():
        by_batch[one.batch] += one.train_flops
    usual = by_batch.most_common(1)[0][0]
    timed = set(batches or {min(by_batch), usual * n_seeds}) | {usual}
    cell = representative(cells, counted)
    print(f"fine-tune step of {cell.unit.method} / {cell.task.name}, one thread:")
    rate = 0.0
    for batch, seconds, flops in step_rates(counter, cell, sorted(timed), steps):
        print(f"  batch {batch:>4}: {seconds * 1e3:7.1f} ms CPU, {flops / 1e9:6.2f} GFLOP, "
              f"{flops / seconds / 1e9:5.1f} GFLOP/s")  # fmt: skip
        if batch == usual:
            rate = flops / seconds
    return rate

"""How fast could a ``bench run`` grid possibly run on N cores without changing its computation?

Plans the grid through ``bench run``'s own options and planner (``bench.grid.runner.plan_grid``,
so twins are left out as the planner does), counts the matrix-product FLOPs of what it
computes (``bench.perf.grid_flops``: pretrainings, fine-tune training and scoring, linear
embeddings) and turns them into seconds with what one thread of this machine achieves
(``machine_rates``). The linear probes' L-BFGS fits are not matrix products: their CPU seconds
are estimated apart (``--no-probe-timing`` skips this).

The floor is the FLOPs over ``--cores`` x one thread's fp32 matmul peak (the best of many
``bench.perf.matmul_peak``-sized products, by process CPU time; ``--peak-gflops`` to give it);
the achieved-rate column divides instead by the FLOP/s that one thread reaches on a
representative fine-tune step (median process CPU time of ``--rate-steps`` full steps), at the
batch carrying most fine-tune FLOPs. The step is also timed at each of ``--rate-batches``
(default: the grid's smallest fine-tune batch, that batch, and it x the fraction seeds: the
batch of stacking the seeds). Cores are taken to be independent (two one-thread products at
once ran as fast each as one alone, on the 2-core development machine).

    OMP_NUM_THREADS=1 python benchmarks/grid_floor.py --methods all --tasks ptbxl \
        --profile smoke --data-root ../shared/data/ptbxl-subset --cores 2 --csv floor.csv
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import torch
from machine_rates import achieved_rate, measured_peak, probe_seconds

from bench.commands.run import add_parser as add_run_parser
from bench.commands.run import flag_values
from bench.config import deep_merge, parse_overrides
from bench.errors import BenchError
from bench.grid.plan import Cell, RunConfig, load_run_config
from bench.grid.runner import plan_grid, workspace_for
from bench.grid.workspace import Workspace
from bench.perf.grid_counts import COMPONENTS, GridCount
from bench.perf.grid_flops import GridCounter


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """``bench run``'s options (its own parser; those that only steer a run, such as
    ``--dry-run`` or ``--launcher``, change nothing here) plus this benchmark's."""
    commands = argparse.ArgumentParser(prog="grid_floor.py").add_subparsers()
    add_run_parser(commands)
    parser = commands.choices["run"]
    parser.prog = "grid_floor.py"
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("--cores", type=int, default=2, help="cores of the floor (default 2)")
    parser.add_argument("--csv", type=Path, metavar="PATH", help="write the table as CSV")
    parser.add_argument(
        "--peak-gflops", type=float, help="one core's fp32 matmul GFLOP/s (default: measured)"
    )
    parser.add_argument(
        "--rate-batches", type=int, nargs="+", metavar="B", help="batches to time the step at"
    )
    parser.add_argument("--rate-steps", type=int, default=10, help="timed steps per batch")
    parser.add_argument(
        "--pretrain-draws", type=int, default=16, help="counted steps per pretraining (16)"
    )
    parser.add_argument("--no-probe-timing", action="store_true", help="skip timing the probes")
    args = parser.parse_args(argv)
    counts = ("--cores", args.cores), ("--rate-steps", args.rate_steps)
    for option, value in (*counts, ("--pretrain-draws", args.pretrain_draws)):
        if value < 1:
            parser.error(f"{option} = {value} must be at least 1")
    if args.peak_gflops is not None and not args.peak_gflops > 0:
        parser.error(f"--peak-gflops = {args.peak_gflops} must be positive")
    return args


def plan(args: argparse.Namespace) -> tuple[RunConfig, Workspace, list[Cell]]:
    """The run config, workspace and cells exactly as ``bench run --dry-run`` plans them."""
    config = load_run_config(
        args.config, deep_merge(flag_values(args), parse_overrides(args.overrides))
    )
    workspace = workspace_for(config, progress=False)
    return config, workspace, plan_grid(config, workspace)


def table(
    counted: GridCount, peak: float, rate: float, cores: int
) -> list[tuple[str, str, int, float, float, float]]:
    """(component, method, items, TFLOP, floor s at ``peak``, s at ``rate``) per component and
    method, then per component ("all" methods) and the grand total; rates in FLOP/s per core."""
    flops: Counter[tuple[str, str]] = Counter()
    items: Counter[tuple[str, str]] = Counter()
    for item in counted.items:
        flops[(item.component, item.method)] += item.flops
        items[(item.component, item.method)] += item.items
    keys = sorted(flops, key=lambda k: (COMPONENTS.index(k[0]), k[1]))
    keys += [(c, "all") for c in COMPONENTS if counted.total(c)] + [("total", "all")]
    for component in COMPONENTS:
        flops[(component, "all")] = counted.total(component)
        items[(component, "all")] = sum(v for (c, _), v in items.items() if c == component)
    flops[("total", "all")] = counted.total()
    return [
        (c, m, items[(c, m)], flops[(c, m)] / 1e12, flops[(c, m)] / (cores * peak),
         flops[(c, m)] / (cores * rate))
        for c, m in keys
    ]  # fmt: skip


def print_table(
    rows: list[tuple[str, str, int, float, float, float]], cores: int, achieved: bool
) -> None:
    """The table and the floor's summary line (``achieved`` False: no fine-tune step was
    timed, so the achieved column repeats the floor)."""
    print(f"\n{'component':<17} {'method':<22} {'items':>5} {'TFLOP':>8} "
          f"{'floor s':>8} {'achieved s':>10}   ({cores} cores)")  # fmt: skip
    for component, method, n, tflop, floor_s, achieved_s in rows:
        n_text = str(n) if component != "total" else "-"
        print(
            f"{component:<17} {method:<22} {n_text:>5} {tflop:8.2f} {floor_s:8.1f} "
            f"{achieved_s:10.1f}"
        )
    total = rows[-1]
    rate = (
        f"{total[5] / 60:.1f} min at the fine-tune step's achieved rate"
        if achieved
        else "no fine-tune step timed (no fine-tune cells)"
    )
    print(f"\nmatmul floor on {cores} cores: {total[4] / 60:.1f} min at the peak; {rate}")


def main(argv: Sequence[str] | None = None) -> int:
    """Plan, count, measure the peak and the step rate, print the table (and the CSV)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(1)
    config, workspace, cells = plan(args)
    counter = GridCounter(workspace, args.pretrain_draws)
    counted = counter.count(cells)
    print(f"{len(cells)} cells; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for pretraining in counted.pretrainings.values():
        draws = pretraining.draws
        low, high = min(draws) / 1e9, max(draws) / 1e9
        spread = f" (over {len(draws)} draws: {low:.2f}-{high:.2f})" if low != high else ""
        per_step = pretraining.flops / pretraining.steps / 1e9
        print(f"pretraining {pretraining.method}: {pretraining.steps} steps x {per_step:.2f} GFLOP"
              f"{spread}")  # fmt: skip
    if any(f.may_stop_early for f in counted.finetunes.values()):
        print("note: some fine-tunes may stop early; their planned steps are counted")
    peak = args.peak_gflops * 1e9 if args.peak_gflops else measured_peak()
    print(f"fp32 matmul peak of one core: {peak / 1e9:.1f} GFLOP/s")
    n_seeds = len(config.seed_list)
    rate = achieved_rate(counter, cells, counted, n_seeds, args.rate_batches, args.rate_steps)
    rows = table(counted, peak, rate or peak, args.cores)
    print_table(rows, args.cores, rate is not None)
    if counted.probe_fits and not args.no_probe_timing:
        seconds = probe_seconds(counter, counted.probe_fits)
        minutes = seconds / args.cores / 60
        print(f"probe fits (L-BFGS, not FLOPs): {len(counted.probe_fits)} distinct, about "
              f"{seconds:.0f} CPU-s ({minutes:.1f} min on {args.cores} cores)")  # fmt: skip
    if args.csv is not None:
        with args.csv.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["component", "method", "items", "tflop", "floor_s", "achieved_s"])
            writer.writerows(rows)
        print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BenchError as error:  # bad options or data: the message names them
        raise SystemExit(f"grid_floor.py: {error}") from None

"""What each protocol / statistics change of issue #10 did to the subset's superdiagnostic numbers.

``run`` drives the real CLI (``bench run``) on the PTB-XL subset, one results folder per budget
(every cell is skipped once done, so an interrupted run continues); ``table`` reads the result
files back and writes Markdown tables of before / after per change:

1. ``evaluation.val_fraction``: ``full`` (smoke's default) vs ``same`` (paper's): cpc (linear and
   fine-tune), random_init, supervised at 1 / 10 / 100 % (an evaluation-only change: the
   pretraining is shared).
2. Fine-tuning head: ``evaluation.finetune.head`` ``method`` (CPC's paper head) vs ``linear``.
3. CPC's two-stage fine-tune: ``evaluation.finetune.stages`` ``method`` vs ``single``.
4. Pretraining seeds: the ± of cpc, hybrid and random_init at 100 % (linear) over one
   pretraining seed x 3 fraction seeds vs 3 x 3.
5. Significance (from a finished grid, e.g. the full smoke grid): markers of the earlier test
   (two-sided paired bootstrap over test records only, p < 0.05 uncorrected, read one way;
   reimplemented here, it is gone from the code) vs the current one (one-sided hierarchical
   bootstrap, Benjamini-Hochberg per table), on the same cells.
6. Bootstrap redraw: resamples redrawn per task and fraction, and the CIs the earlier rule
   (score a resample on its remaining classes) gives on the same cells.

Budgets: ``smoke`` is the smoke profile as it is. ``long`` (the "longer CPU run") fine-tunes for
5x the steps with more validation points (``min_steps 200``, ``evaluations 4``, ``patience 4``)
and probes over a wider C grid with more iterations (5 values, 0.001-10, ``max_iter 1000``),
so that model selection has something to select; items 1-3 only (``same`` not at 100 %).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/protocol_effects.py run --budget smoke --root DIR
    .venv/bin/python benchmarks/protocol_effects.py table --root DIR --grid <smoke grid> --out t.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from grid_statistics import (
    Keys,
    bootstrap_table,
    changed_markers,
    leaderboard_csv,
    significance_table,
    significance_tests,
)

from bench.grid.results import CellResult, load_results
from bench.reporting.leaderboard import LeaderboardOptions, leaderboard_frame

TASK = "ptbxl-superdiagnostic"
BENCH = Path(sys.executable).parent / "bench"
LONG_SETS = (
    "evaluation.finetune.min_steps=200",
    "evaluation.finetune.evaluations=4",
    "evaluation.finetune.patience=4",
    "evaluation.linear.c_grid=[0.001,0.01,0.1,1.0,10.0]",
    "evaluation.linear.max_iter=1000",
)


@dataclass(frozen=True)
class Experiment:
    """One ``bench run`` call: methods x fractions x protocols with evaluation overrides."""

    methods: tuple[str, ...]
    fractions: tuple[float, ...]
    protocols: tuple[str, ...]
    sets: tuple[str, ...] = ()
    pretrain_seeds: int = 1
    budgets: tuple[str, ...] = ("smoke", "long")
    long_fractions: tuple[float, ...] | None = None  # None: the same fractions

    def argv(self, budget: str, data_root: Path) -> list[str]:
        fractions = self.fractions if budget == "smoke" else self.long_fractions or self.fractions
        sets = self.sets + (LONG_SETS if budget == "long" else ())
        argv = [str(BENCH), "run", "--methods", *self.methods, "--tasks", TASK, "--fractions"]
        argv += [str(f) for f in fractions] + ["--protocols", *self.protocols]
        argv += ["--seeds", "3", "--pretrain-seeds", str(self.pretrain_seeds)]
        argv += ["--profile", "smoke", "--data-root", str(data_root)]
        argv += ["--no-tracking", "--no-progress", "--jobs", "1"]
        for item in sets:
            argv += ["--set", f"profile_overrides.{item}"]
        return argv


BASE = ("cpc", "random_init", "supervised")
# the long budget skips ``same`` at 100 %, where it selects on the whole validation fold, i.e.
# equals ``full`` (smoke checks that)
LONG_FULL = {"long_fractions": (0.01, 0.1, 1.0)}
LONG_SAME = {"long_fractions": (0.01, 0.1)}
EXPERIMENTS = (
    *(
        Experiment(BASE, (0.01, 0.1, 1.0), ("linear", "finetune"), (f"evaluation.{s}",), **long)
        for s, long in (("val_fraction=full", LONG_FULL), ("val_fraction=same", LONG_SAME))
    ),
    *(
        Experiment(("cpc",), (0.1, 1.0), ("finetune",), (f"evaluation.finetune.{s}",))
        for s in ("head=linear", "stages=single")
    ),
    Experiment(("cpc", "hybrid", "random_init"), (1.0,), ("linear",), budgets=("smoke",)),
    Experiment(
        ("cpc", "hybrid", "random_init"), (1.0,), ("linear",), pretrain_seeds=3, budgets=("smoke",)
    ),
)


def run(budget: str, results: Path, data_root: Path) -> None:
    """Every experiment of ``budget`` through the CLI; prints the wall time of each."""
    env = dict(os.environ, BENCH_RESULTS=str(results), OMP_NUM_THREADS="1")
    for experiment in EXPERIMENTS:
        if budget not in experiment.budgets:
            continue
        argv = experiment.argv(budget, data_root)
        start = time.monotonic()
        done = subprocess.run(argv, env=env, capture_output=True, text=True)
        tail = (done.stdout + done.stderr).strip().splitlines()[-1:]
        print(f"{time.monotonic() - start:7.0f} s rc={done.returncode} {' '.join(argv[2:])}")
        print("   ", *tail)


# ---------------------------------------------------------------- reading cells back


def _eval(cell: CellResult) -> dict:
    return cell.config["evaluation"]


Selector = Callable[[CellResult], bool]


@dataclass(frozen=True)
class Variant:
    """One side of a before / after comparison: which cells it holds."""

    label: str
    keep: Selector


@dataclass(frozen=True)
class Change:
    """A before / after pair of variants on some (method, protocol) rows."""

    name: str
    rows: tuple[tuple[str, str], ...]  # (method, protocol)
    fractions: tuple[float, ...]
    before: Variant
    after: Variant


def _default_finetune(cell: CellResult) -> bool:
    finetune = _eval(cell)["finetune"]
    return finetune["head"] == "method" and finetune["stages"] == "method"


def _val(value: str) -> Selector:
    return lambda c: _eval(c)["val_fraction"] == value and _default_finetune(c)


def _finetune(field_name: str, value: str) -> Selector:
    return lambda c: (
        _eval(c)["val_fraction"] == "full" and (_eval(c)["finetune"][field_name] == value)
    )


CHANGES = (
    Change(
        "1. validation budget (`evaluation.val_fraction`)",
        (
            ("cpc", "linear"),
            ("random_init", "linear"),
            ("cpc", "finetune"),
            ("supervised", "finetune"),
        ),
        (0.01, 0.1, 1.0),
        Variant("full", _val("full")),
        Variant("same", _val("same")),
    ),
    Change(
        "2. fine-tuning head (`evaluation.finetune.head`)",
        (("cpc", "finetune"),),
        (0.1, 1.0),
        Variant("linear", _finetune("head", "linear")),
        Variant("method (CPC paper head)", lambda c: _val("full")(c)),
    ),
    Change(
        "3. CPC fine-tune stages (`evaluation.finetune.stages`)",
        (("cpc", "finetune"),),
        (0.1, 1.0),
        Variant("single", _finetune("stages", "single")),
        Variant("method (head, then all)", lambda c: _val("full")(c)),
    ),
)


def _cells(results: Path) -> list[CellResult]:
    return [c for c in load_results(results, status="ok") if c.task == TASK]


def _entries(results: Path, cells: Sequence[CellResult]) -> pd.DataFrame:
    """The leaderboard rows (mean, std, CI, tests) of exactly these cells."""
    options = LeaderboardOptions(eval_keys=frozenset(c.eval_key for c in cells))
    frame = leaderboard_frame(results, options)
    return frame[(frame["task"] == TASK) & (frame["method_protocol"] == frame["protocol"])]


def _cell_text(row: pd.Series | None) -> str:
    if row is None:
        return "-"
    std = "" if np.isnan(row["std"]) else f" ± {row['std']:.3f}"
    return f"{row['mean']:.3f}{std} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def _lookup(frame: pd.DataFrame, method: str, protocol: str, fraction: float) -> pd.Series | None:
    hit = frame[
        (frame["method"] == method)
        & (frame["protocol"] == protocol)
        & np.isclose(frame["fraction"], fraction)
    ]
    return None if hit.empty else hit.iloc[0]


def change_table(results: Path, change: Change) -> str:
    """Markdown: one line per (row, fraction), before / after / difference of the means."""
    cells = [c for c in _cells(results) if (c.method, c.protocol) in change.rows]
    cells = [c for c in cells if (c.pretrain_seed or 0) == 0]
    sides = [
        _entries(results, [c for c in cells if v.keep(c)]) for v in (change.before, change.after)
    ]
    lines = [
        f"| method | protocol | labels | {change.before.label} | {change.after.label} "
        "| Δ mean | n_val |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, protocol in change.rows:
        for fraction in change.fractions:
            before, after = (_lookup(s, method, protocol, fraction) for s in sides)
            if before is None and after is None:
                continue
            delta = (
                "-" if before is None or after is None else f"{after['mean'] - before['mean']:+.3f}"
            )
            n_val = _n_val(cells, change, method, protocol, fraction)
            lines.append(
                f"| {method} | {protocol} | {fraction:.0%} | {_cell_text(before)} | "
                f"{_cell_text(after)} | {delta} | {n_val} |"
            )
    return "\n".join(lines)


def _n_val(
    cells: Sequence[CellResult], change: Change, method: str, protocol: str, fraction: float
) -> str:
    """Validation records used by each side (fold 9 or its subset), as 'before -> after'."""
    sides = []
    for variant in (change.before, change.after):
        sizes = sorted(
            {
                c.n_val
                for c in cells
                if variant.keep(c)
                and (c.method, c.protocol) == (method, protocol)
                and np.isclose(c.fraction, fraction)
            }
        )
        sides.append("/".join(map(str, sizes)) or "-")
    return " -> ".join(sides) if sides[0] != sides[1] else sides[0]


def seeds_table(results: Path) -> str:
    """Item 4: one vs three pretraining seeds, linear probe at 100 %."""
    cells = [
        c
        for c in _cells(results)
        if c.protocol == "linear" and np.isclose(c.fraction, 1.0) and _val("full")(c)
    ]
    one = _entries(results, [c for c in cells if (c.pretrain_seed or 0) == 0])
    three = _entries(results, cells)
    lines = [
        "| method | P = 1 (x 3 fraction seeds) | P = 3 (x 3) | runs |",
        "|---|---|---|---|",
    ]
    for method in ("cpc", "hybrid", "random_init"):
        a, b = _lookup(one, method, "linear", 1.0), _lookup(three, method, "linear", 1.0)
        runs = "-" if b is None else f"{int(b['n_pretrain_seeds'])} x {int(b['n_seeds'])}"
        lines.append(f"| {method} | {_cell_text(a)} | {_cell_text(b)} | {runs} |")
    return "\n".join(lines)


def table(results: dict[str, Path], grid: Path | None, keys: Keys = None) -> str:
    """The Markdown of every item whose results exist."""
    parts = []
    for budget, folder in results.items():
        if not (folder / "runs").is_dir():
            continue
        for change in CHANGES:
            parts += [f"### {change.name}, {budget}", "", change_table(folder, change), ""]
        if budget == "smoke":
            parts += [
                "### 4. pretraining seeds, smoke (linear, 100 %)",
                "",
                seeds_table(folder),
                "",
            ]
    if grid is not None:
        where = f"{grid}" + ("" if keys is None else f" ({len(keys)} cells of its manifests)")
        tests = significance_tests(grid, (TASK,), keys)
        parts += [f"### 5. significance markers, superdiagnostic, {where}", ""]
        parts += [significance_table(tests), "", changed_markers(tests), ""]
        tasks = sorted(t for t in set(leaderboard_csv(grid, keys)["task"]) if t.startswith("ptbxl"))
        parts += [f"### 6. bootstrap redraw, {where}", "", bootstrap_table(grid, tasks, keys), ""]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "table"))
    parser.add_argument("--budget", choices=("smoke", "long"), default="smoke")
    parser.add_argument("--root", type=Path, required=True, help="one results folder per budget")
    parser.add_argument(
        "--data-root",
        type=Path,
        default=Path(os.environ.get("BENCH_PTBXL_ROOT", "../shared/data/ptbxl-subset")),
        help="the PTB-XL subset (default: $BENCH_PTBXL_ROOT, else ../shared/data/ptbxl-subset)",
    )
    parser.add_argument("--grid", type=Path, help="a finished grid's results folder (items 5-6)")
    parser.add_argument(
        "--manifests", type=Path, nargs="*", help="only these grids' cells (grids/<id>.json)"
    )
    parser.add_argument("--out", type=Path, help="write the tables here (default: stdout)")
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.budget, args.root / args.budget, args.data_root)
        return
    folders = {b: args.root / b for b in ("smoke", "long")}
    keys = None
    if args.manifests:
        keys = frozenset(k for m in args.manifests for k in json.loads(m.read_text())["eval_keys"])
    text = table(folders, args.grid, keys)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

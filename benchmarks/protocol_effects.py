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

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/protocol_effects.py run --budget smoke
    .venv/bin/python benchmarks/protocol_effects.py table --grid <full smoke grid> --out t.md
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.evaluation.bootstrap import (
    bootstrap_indices,
    macro_auroc_samples,
)
from bench.evaluation.significance import hierarchical_ci
from bench.grid.results import CellResult, load_predictions, load_results
from bench.reporting.corpus_rows import row_name
from bench.reporting.leaderboard import BASELINES, MARKERS, LeaderboardOptions, leaderboard_frame

TASK = "ptbxl-superdiagnostic"
DATA = "/work/shared/data/ptbxl-subset"
BENCH = Path(sys.executable).parent / "bench"
SSL = ("cpc", "jepa", "hybrid", "stmask")
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

    def argv(self, budget: str) -> list[str]:
        fractions = self.fractions if budget == "smoke" else self.long_fractions or self.fractions
        sets = self.sets + (LONG_SETS if budget == "long" else ())
        argv = [str(BENCH), "run", "--methods", *self.methods, "--tasks", TASK, "--fractions"]
        argv += [str(f) for f in fractions] + ["--protocols", *self.protocols]
        argv += ["--seeds", "3", "--pretrain-seeds", str(self.pretrain_seeds)]
        argv += ["--profile", "smoke", "--data-root", DATA, "--no-tracking", "--no-progress"]
        argv += ["--jobs", "1"]
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


def run(budget: str, results: Path) -> None:
    """Every experiment of ``budget`` through the CLI; prints the wall time of each."""
    env = dict(os.environ, BENCH_RESULTS=str(results), OMP_NUM_THREADS="1")
    for experiment in EXPERIMENTS:
        if budget not in experiment.budgets:
            continue
        argv = experiment.argv(budget)
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


# ---------------------------------------------------------------- items 5 and 6 on a full grid


Runs = dict[tuple[int, int], CellResult]  # (pretraining seed, fraction seed) -> cell


Keys = frozenset[str] | None  # the grid's cells (from its manifests); None: every cell


def _grid_cells(
    grid: Path, tasks: Sequence[str], keys: Keys
) -> dict[tuple[str, str, float, str], Runs]:
    """A grid's cells of ``tasks`` by (task, protocol, fraction, leaderboard row)."""
    cells: dict[tuple[str, str, float, str], Runs] = defaultdict(dict)
    for cell in load_results(grid, status="ok", skip_invalid=True, eval_keys=keys):
        if cell.task in tasks:
            key = (cell.task, cell.protocol, float(cell.fraction), row_name(cell))
            cells[key][(cell.pretrain_seed or 0, cell.seed)] = cell
    return cells


class PlainScores:
    """Each cell's macro AUROC on the grid's plain resamples (``bootstrap_indices(n, 1000, 0)``:
    the earlier rule, a resample's classes without positives left out of its macro average)."""

    def __init__(self, grid: Path):
        self._grid = grid
        self._scores: dict[str, np.ndarray] = {}

    def stack(self, runs: Runs, shared: Sequence[tuple[int, int]]) -> np.ndarray:
        """Scores [len(shared), 1000] of ``runs`` at the ``shared`` runs, in that order."""
        for run in shared:
            key = runs[run].eval_key
            if key not in self._scores:
                predictions = load_predictions(self._grid, key).sorted_by_record()
                indices = bootstrap_indices(len(predictions.y_true), 1000, 0)
                self._scores[key] = macro_auroc_samples(
                    predictions.y_true, predictions.y_score, indices
                )
        return np.stack([self._scores[runs[r].eval_key] for r in shared])


def old_p_value(method: np.ndarray, baseline: np.ndarray) -> float:
    """The earlier test: resample-wise difference of the run means [runs, B] of both sides,
    p = 2 min(P(d <= 0), P(d >= 0)) floored at 1 / B (two-sided, test records only)."""
    differences = method.mean(axis=0) - baseline.mean(axis=0)
    differences = differences[np.isfinite(differences)]
    tails = min(np.mean(differences <= 0), np.mean(differences >= 0))
    return float(np.clip(2 * tails, 1 / method.shape[1], 1.0))


@functools.cache
def leaderboard_csv(grid: Path, keys: Keys = None) -> pd.DataFrame:
    """The grid's leaderboard as ``bench run`` wrote it (markers as the README shows them);
    for a grid still running, or for the cells ``keys``, the leaderboard of its finished
    PTB-XL cells."""
    path = grid / "leaderboards" / "leaderboard.csv"
    if path.is_file() and keys is None:
        frame = pd.read_csv(path)
    else:
        cells = load_results(grid, status="ok", skip_invalid=True, eval_keys=keys)
        keys = frozenset(c.eval_key for c in cells if c.task.startswith("ptbxl"))
        frame = leaderboard_frame(grid, LeaderboardOptions(eval_keys=keys, skip_invalid=True))
    frame["markers"] = frame["markers"].fillna("")
    return frame


TEST_COLUMNS = [
    "task",
    "method",
    "ssl",
    "protocol",
    "fraction",
    "baseline",
    "diff",
    "p_old",
    "p_new",
    "p_adj",
    "old_marker",
    "new_marker",
]


def significance_tests(grid: Path, tasks: Sequence[str], keys: Keys = None) -> pd.DataFrame:
    """Item 5: every non-baseline entry vs each baseline under the earlier and current tests.

    Current: the leaderboard CSV's p / BH-adjusted p and markers (the BH family is the whole
    table, every task of the group). Earlier: recomputed here on the same runs.
    """
    frame = leaderboard_csv(grid, keys)
    frame = frame[frame["task"].isin(tasks)]
    cells, plain = _grid_cells(grid, tasks, keys), PlainScores(grid)
    records = []
    for _, row in frame[~frame["is_baseline"].astype(bool)].iterrows():
        where = (row["task"], float(row["fraction"]))
        ours = cells[(where[0], row["method_protocol"], where[1], row["method"])]
        for baseline in BASELINES:
            if not np.isfinite(row[f"p_vs_{baseline}"]):
                continue
            shown = frame[
                (frame["task"] == row["task"])
                & (frame["protocol"] == row["protocol"])
                & np.isclose(frame["fraction"], row["fraction"])
                & (frame["method"] == baseline)
            ].iloc[0]["method_protocol"]
            theirs = cells[(where[0], shown, where[1], baseline)]
            shared = sorted(set(ours) & set(theirs))
            old = old_p_value(plain.stack(ours, shared), plain.stack(theirs, shared))
            better = row[f"diff_vs_{baseline}"] > 0
            records.append(
                {
                    "task": row["task"],
                    "method": row["method"],
                    "ssl": row["method"] in SSL,
                    "protocol": row["protocol"],
                    "fraction": row["fraction"],
                    "baseline": baseline,
                    "diff": row[f"diff_vs_{baseline}"],
                    "p_old": old,
                    "p_new": row[f"p_vs_{baseline}"],
                    "p_adj": row[f"p_adj_vs_{baseline}"],
                    "old_marker": bool(better and old < 0.05),
                    "new_marker": MARKERS[baseline] in row["markers"],
                }
            )
    return pd.DataFrame(records, columns=TEST_COLUMNS)


def significance_table(tests: pd.DataFrame) -> str:
    """Marker counts under both tests, for SSL rows and for every non-baseline row."""
    lines = [
        "| rows | tests | markers, earlier test | markers, current test | lost | gained |",
        "|---|---|---|---|---|---|",
    ]
    parts = (("SSL rows (cpc, jepa, hybrid, stmask)", tests[tests["ssl"]]), ("all rows", tests))
    for label, part in parts:
        for baseline in BASELINES:
            sub = part[part["baseline"] == baseline]
            lost = int((sub["old_marker"] & ~sub["new_marker"]).sum())
            gained = int((~sub["old_marker"] & sub["new_marker"]).sum())
            lines.append(
                f"| {label}, vs {baseline} | {len(sub)} | {int(sub['old_marker'].sum())} | "
                f"{int(sub['new_marker'].sum())} | {lost} | {gained} |"
            )
    return "\n".join(lines)


def _changed_markers(tests: pd.DataFrame) -> str:
    """The tests whose marker differs between the two rules, one line each."""
    changed = tests[tests["old_marker"] != tests["new_marker"]]
    lines = ["Markers that differ (earlier p, two-sided -> current p, one-sided; BH-adjusted):", ""]
    for _, t in changed.sort_values(["protocol", "fraction", "method"]).iterrows():
        lines.append(
            f"- {t['method']} {t['protocol']} {t['fraction']:.0%} vs {t['baseline']}: "
            f"Δ {t['diff']:+.3f}, p {t['p_old']:.3f} -> {t['p_new']:.3f} (adjusted "
            f"{t['p_adj']:.3f}), marker {'lost' if t['old_marker'] else 'gained'}"
        )
    return "\n".join(lines if len(changed) else ["No marker differs."])


def bootstrap_table(grid: Path, tasks: Sequence[str], keys: Keys = None) -> str:
    """Item 6: resamples redrawn per task and fraction (the leaderboard's ``n_redrawn``) and
    the mean entry CI under the current rule (the CSV's) and the earlier one (recomputed)."""
    frame = leaderboard_csv(grid, keys)
    frame = frame[frame["task"].isin(tasks) & (frame["method_protocol"] == frame["protocol"])]
    cells, plain = _grid_cells(grid, tasks, keys), PlainScores(grid)
    lines = [
        "| task | redrawn / 1,000 by fraction | partial | entries | mean 90 % CI, redraw "
        "| mean 90 % CI, earlier rule | CIs moved > 0.001 |",
        "|---|---|---|---|---|---|---|",
    ]
    for task in tasks:
        rows = frame[frame["task"] == task]
        if rows.empty:
            continue
        redrawn = rows.groupby("fraction")["n_redrawn"].agg(lambda v: "/".join(map(str, set(v))))
        earlier = []
        for _, row in rows.iterrows():
            runs = cells[(task, row["protocol"], float(row["fraction"]), row["method"])]
            pretrain_seeds = sorted({r[0] for r in runs})
            seeds = sorted({r[1] for r in runs})
            scores = np.full((len(pretrain_seeds), len(seeds), 1000), np.nan)
            for (p, s), cell in runs.items():
                scores[pretrain_seeds.index(p), seeds.index(s)] = plain.stack(
                    {(p, s): cell}, [(p, s)]
                )[0]
            earlier.append(hierarchical_ci(scores, 0.9, 0))
        before = np.array(earlier)
        now = rows[["ci_low", "ci_high"]].to_numpy(dtype=np.float64)
        moved = int((np.abs(now - before).max(axis=1) > 0.001).sum())
        by_fraction = ", ".join(f"{f:.0%}: {n}" for f, n in redrawn.items())
        lines.append(
            f"| {task} | {by_fraction} | {'/'.join(map(str, set(rows['n_partial'])))} | "
            f"{len(rows)} | [{now[:, 0].mean():.3f}, {now[:, 1].mean():.3f}] | "
            f"[{before[:, 0].mean():.3f}, {before[:, 1].mean():.3f}] | {moved} |"
        )
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
        parts += [significance_table(tests), "", _changed_markers(tests), ""]
        tasks = sorted(t for t in set(leaderboard_csv(grid, keys)["task"]) if t.startswith("ptbxl"))
        parts += [f"### 6. bootstrap redraw, {where}", "", bootstrap_table(grid, tasks, keys), ""]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "table"))
    parser.add_argument("--budget", choices=("smoke", "long"), default="smoke")
    parser.add_argument("--root", type=Path, default=Path("/work/scratch/a2"))
    parser.add_argument("--grid", type=Path, help="a finished grid's results folder (items 5-6)")
    parser.add_argument(
        "--manifests", type=Path, nargs="*", help="only these grids' cells (grids/<id>.json)"
    )
    parser.add_argument("--out", type=Path, help="write the tables here (default: stdout)")
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.budget, args.root / args.budget)
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

"""Items 5 and 6 of ``protocol_effects.py`` on a finished grid: the significance markers of the
earlier test (two-sided paired bootstrap over test records only, p < 0.05 uncorrected, read one
way; reimplemented here, it is gone from the code) against the current one, and the resamples
the bootstrap redraws with the CIs the earlier rule (score a resample on its remaining classes)
gives on the same cells.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
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

SSL = ("cpc", "jepa", "hybrid", "stmask")


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
        for column in [c for c in frame.columns if c.startswith(("p_vs_", "p_adj_vs_"))]:
            # p-values at the bootstrap's resolution are written "< 0.001": read the bound
            text = frame[column].astype(str).str.removeprefix("< ")
            frame[column] = pd.to_numeric(text, errors="coerce")
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


def changed_markers(tests: pd.DataFrame) -> str:
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

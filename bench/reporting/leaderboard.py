"""Leaderboards from result files: mean ± std over seeds, bootstrap CIs, paired tests vs baselines.

One table per (profile, task group, protocol, label fraction): rows are methods, columns the
group's tasks, so a paper can print "linear probe, 10 % labels" as one table. Every entry is the
macro AUROC "mean ± std over seeds" (sample std; a single seed shows no ±) with the percentile CI
of the seed-averaged score, from the stored test predictions (sorted by record id) and the fixed
resample indices of ``bench.evaluation.bootstrap``.

Baselines appear in every table: ``random_init`` is evaluated with the linear probe only and
``supervised`` with fine-tuning only, so a baseline missing from a table's protocol is shown with
its cells from the other protocol, labelled e.g. "supervised (finetune)". Each method is compared
with whichever baseline cells exist at the same task and fraction (the table's protocol when the
baseline has it), over the seeds both have, by a paired bootstrap test of the seed-mean macro
AUROC; † / ‡ mark a significantly higher score than random_init / supervised (p < alpha).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.atomic import atomic_write
from bench.errors import DataError
from bench.evaluation.bootstrap import (
    DEFAULT_LEVEL,
    DEFAULT_N_BOOT,
    bootstrap_indices,
    macro_auroc_samples,
    paired_test_from_samples,
    percentile_ci,
)
from bench.grid.results import CellResult, load_predictions, load_results
from bench.reporting.formats import table_note, to_latex, to_markdown

BASELINES = ("random_init", "supervised")
MARKERS = {"random_init": "†", "supervised": "‡"}
_CELL_COLUMNS = "profile task_group protocol fraction task method method_protocol is_baseline"
_ENTRY_COLUMNS = "n_seeds seeds mean std ci_low ci_high ci_level best"
_TEST_COLUMNS = "diff_vs_random_init p_vs_random_init diff_vs_supervised p_vs_supervised markers"
LEADERBOARD_COLUMNS: tuple[str, ...] = tuple(
    f"{_CELL_COLUMNS} {_ENTRY_COLUMNS} {_TEST_COLUMNS}".split()
)
FILE_NAMES = {"markdown": "leaderboard.md", "csv": "leaderboard.csv", "latex": "leaderboard.tex"}


@dataclass(frozen=True)
class LeaderboardOptions:
    """How entries are computed and which tables are kept."""

    protocols: tuple[str, ...] | None = None  # None: every protocol present
    fractions: tuple[float, ...] | None = None  # None: every fraction present
    n_boot: int = DEFAULT_N_BOOT
    boot_seed: int = 0
    level: float = DEFAULT_LEVEL
    alpha: float = 0.05
    skip_invalid: bool = False  # skip unreadable result files with a warning instead of failing
    eval_keys: frozenset[str] | None = None  # None: every result file; else only these cells


Cells = dict[int, CellResult]  # seed -> cell
GroupKey = tuple[str, str, str, str, float, str]  # profile, group, task, protocol, fraction, method


def leaderboard_frame(
    results_dir: str | Path, options: LeaderboardOptions | None = None
) -> pd.DataFrame:
    """Tidy leaderboard, one row per (table, task, method); columns LEADERBOARD_COLUMNS."""
    options = options or LeaderboardOptions()
    results = load_results(
        results_dir, status="ok", skip_invalid=options.skip_invalid, eval_keys=options.eval_keys
    )
    cells = _group_cells(results)
    samples = _BootstrapCache(Path(results_dir), options)
    rows = []
    for profile, group, protocol, fraction in _tables(cells, options):
        for task in sorted({k[2] for k in cells if k[:2] == (profile, group)}):
            for method, shown_protocol in _rows(cells, profile, group, task, protocol, fraction):
                key = (profile, group, task, shown_protocol, fraction, method)
                row = _entry(cells[key], samples, options)
                row.update(
                    profile=profile, task_group=group, protocol=protocol, fraction=fraction,
                    task=task, method=method, method_protocol=shown_protocol,
                    is_baseline=method in BASELINES,
                )  # fmt: skip
                row.update(_comparisons(cells, key, protocol, samples, options))
                rows.append(row)
    frame = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)
    return _mark_best(frame)


def write_leaderboards(
    results_dir: str | Path,
    out_dir: str | Path | None = None,
    options: LeaderboardOptions | None = None,
) -> dict[str, Path]:
    """Write leaderboard.md/.csv/.tex (default: <results>/leaderboards); returns the paths."""
    options = options or LeaderboardOptions()
    frame = leaderboard_frame(results_dir, options)
    if frame.empty:
        raise DataError(
            f"no finished cells under {Path(results_dir) / 'runs'} match the requested "
            "protocols and fractions; run `bench run` first"
        )
    out = Path(out_dir) if out_dir is not None else Path(results_dir) / "leaderboards"
    out.mkdir(parents=True, exist_ok=True)
    note = table_note(options.n_boot, options.level, options.alpha)
    texts = {
        "markdown": to_markdown(frame, note),
        "csv": frame.to_csv(index=False),
        "latex": to_latex(frame, note),
    }
    paths = {}
    for kind, text in texts.items():
        paths[kind] = out / FILE_NAMES[kind]
        atomic_write(paths[kind], lambda f, text=text: f.write(text.encode()))
    return paths


def _group_cells(results: Sequence[CellResult]) -> dict[GroupKey, Cells]:
    cells: dict[GroupKey, Cells] = defaultdict(dict)
    for result in results:
        key = (result.profile, result.task_group, result.task, result.protocol)
        key += (float(result.fraction), result.method)
        earlier = cells[key].get(result.seed)
        if earlier is not None:
            raise DataError(
                f"two results for {result.method} / {result.task} / {result.protocol} / "
                f"fraction {result.fraction} / seed {result.seed}: runs/{earlier.eval_key}.json "
                f"and runs/{result.eval_key}.json; keep one (or use separate results folders)"
            )
        cells[key][result.seed] = result
    return dict(cells)


def _tables(
    cells: dict[GroupKey, Cells], options: LeaderboardOptions
) -> list[tuple[str, str, str, float]]:
    """(profile, group, protocol, fraction) of every table, after the options' filters."""
    tables = {(k[0], k[1], k[3], k[4]) for k in cells}
    if options.protocols is not None:
        tables = {t for t in tables if t[2] in options.protocols}
    if options.fractions is not None:
        tables = {t for t in tables if np.isclose(t[3], options.fractions).any()}
    return sorted(tables)


def _rows(
    cells: dict[GroupKey, Cells],
    profile: str,
    group: str,
    task: str,
    protocol: str,
    fraction: float,
) -> list[tuple[str, str]]:
    """(method, protocol its cells come from) for one column: methods, then baselines."""
    here = {k[5] for k in cells if k[:5] == (profile, group, task, protocol, fraction)}
    rows = [(m, protocol) for m in sorted(here - set(BASELINES))]
    for baseline in BASELINES:
        shown = _baseline_protocol(cells, (profile, group, task, protocol, fraction), baseline)
        if shown is not None:
            rows.append((baseline, shown))
    return rows


def _baseline_protocol(
    cells: dict[GroupKey, Cells], where: tuple[str, str, str, str, float], baseline: str
) -> str | None:
    """The protocol whose cells stand for ``baseline`` at ``where``: its own, else any other."""
    profile, group, task, protocol, fraction = where
    available = sorted(
        k[3] for k in cells if k[:3] == (profile, group, task) and k[4:] == (fraction, baseline)
    )
    if protocol in available:
        return protocol
    return available[0] if available else None


def _entry(seed_cells: Cells, samples: _BootstrapCache, options: LeaderboardOptions) -> dict:
    seeds = sorted(seed_cells)
    values = np.array([seed_cells[s].metrics["macro_auroc"] for s in seeds], dtype=np.float64)
    low, high = percentile_ci(samples.stack(seed_cells, seeds).mean(axis=0), options.level)
    return {
        "n_seeds": len(seeds),
        "seeds": ";".join(map(str, seeds)),
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else np.nan,
        "ci_low": low,
        "ci_high": high,
        "ci_level": options.level,
    }


def _comparisons(
    cells: dict[GroupKey, Cells],
    key: GroupKey,
    protocol: str,
    samples: _BootstrapCache,
    options: LeaderboardOptions,
) -> dict:
    """Paired test of the entry at ``key`` against each baseline; markers where significant."""
    profile, group, task, _, fraction, method = key
    row: dict = {"markers": ""}
    for baseline in BASELINES:
        row[f"diff_vs_{baseline}"] = row[f"p_vs_{baseline}"] = np.nan
        shown = _baseline_protocol(cells, (profile, group, task, protocol, fraction), baseline)
        if method == baseline or shown is None:
            continue
        ours, theirs = cells[key], cells[(profile, group, task, shown, fraction, baseline)]
        seeds = sorted(set(ours) & set(theirs))
        if not seeds:
            continue
        observed = np.mean([ours[s].metrics["macro_auroc"] for s in seeds]) - np.mean(
            [theirs[s].metrics["macro_auroc"] for s in seeds]
        )
        test = paired_test_from_samples(
            float(observed),
            samples.stack(ours, seeds),
            samples.stack(theirs, seeds),
            options.level,
        )
        row[f"diff_vs_{baseline}"], row[f"p_vs_{baseline}"] = test.difference, test.p_value
        if test.p_value < options.alpha and test.difference > 0:
            row["markers"] += MARKERS[baseline]
    return row


def _mark_best(frame: pd.DataFrame) -> pd.DataFrame:
    """Flag the best mean (at the displayed 3 decimals) of every table column."""
    column = ["profile", "task_group", "protocol", "fraction", "task"]
    rounded = frame["mean"].round(3)
    frame["best"] = rounded == rounded.groupby([frame[c] for c in column]).transform("max")
    return frame


class _BootstrapCache:
    """Per-cell macro AUROC on each fixed resample, computed once per cell and reused."""

    def __init__(self, results_dir: Path, options: LeaderboardOptions):
        self._results_dir = results_dir
        self._options = options
        self._samples: dict[str, np.ndarray] = {}
        self._reference: dict[tuple[str, str], tuple[str, np.ndarray, np.ndarray]] = {}

    def stack(self, seed_cells: Cells, seeds: Sequence[int]) -> np.ndarray:
        """Resample scores [seeds, n_boot] of the given seeds' cells."""
        return np.stack([self._cell(seed_cells[s]) for s in seeds])

    def _cell(self, cell: CellResult) -> np.ndarray:
        if cell.eval_key not in self._samples:
            predictions = load_predictions(self._results_dir, cell.eval_key).sorted_by_record()
            self._check_same_test_set(cell, predictions.record_ids, predictions.y_true)
            indices = bootstrap_indices(
                len(predictions.record_ids), self._options.n_boot, self._options.boot_seed
            )
            self._samples[cell.eval_key] = macro_auroc_samples(
                predictions.y_true, predictions.y_score, indices
            )
        return self._samples[cell.eval_key]

    def _check_same_test_set(
        self, cell: CellResult, record_ids: np.ndarray, y_true: np.ndarray
    ) -> None:
        """Paired comparisons need every cell of a task to hold the same test records."""
        first = self._reference.setdefault(
            (cell.profile, cell.task), (cell.eval_key, record_ids, y_true)
        )
        if not (np.array_equal(first[1], record_ids) and np.array_equal(first[2], y_true)):
            raise DataError(
                f"cells {first[0]} and {cell.eval_key} of task {cell.task!r} hold different test "
                "records or labels; their results cannot be compared (mixed data versions?)"
            )

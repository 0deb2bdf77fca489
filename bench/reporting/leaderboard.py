"""Leaderboards from result files: mean ± std over seeds, bootstrap CIs, paired tests vs baselines.

One table per (profile, task group, protocol, label budget): rows are methods, columns the
group's tasks, so a paper can print "linear probe, 10 % labels" (or "k-NN, 5-shot") as one
table. A label budget is a label fraction, or K shots per class for a few-shot cell. An entry's runs
are its (pretraining seed, fraction seed) cells: every fraction seed on every pretraining seed
(for a baseline without pretraining the first seed is its initialisation seed). Every entry is
the macro AUROC (the task's main metric; ``LeaderboardOptions.metric`` "macro_auprc" for the
AUPRC tables, ``min_positives`` for the macro over the classes with that many test positives:
``bench.reporting.cell_scores``) "mean ± std over runs" (sample std; a single run shows no ±)
with the percentile CI of the hierarchical bootstrap of ``bench.evaluation.significance``
(seeds of both levels and the fixed test-record resamples of ``bench.evaluation.bootstrap``
redrawn), from the stored test predictions (sorted by record id).

Baselines appear in every table: ``random_init`` is evaluated with the frozen-encoder protocols
only (linear probe, attentive probe, k-NN) and ``supervised`` with fine-tuning only, so a
baseline missing from a table's protocol is shown with its cells from another protocol,
labelled e.g. "supervised (finetune)". Each method is compared
with whichever baseline cells exist at the same task and fraction (the table's protocol when the
baseline has it), over the runs both have, by the one-sided paired hierarchical bootstrap test
of the mean macro AUROC; the p-values of each table (every method, task and baseline) are
adjusted together (Benjamini-Hochberg by default, or Holm), and † / ‡ mark a significantly
higher score than random_init / supervised (adjusted p < alpha).
An entry whose encoder's pretraining was flagged as collapsed (``bench.training.collapse``) in
any of its seeds has ``collapsed`` True, and its row is marked in the rendered tables. An entry
of a published checkpoint whose training corpus held the task's data has the overlap in
``leakage`` (``bench.checkpoints.leakage``); its row is marked and footnoted.

Every entry carries its task's test sample (``bench.evaluation.sample``): ``n_test`` records,
``n_scored`` of ``n_classes`` classes scored, the ones left out with why, the fewest positives or
negatives of a scored class. Below the documented minimums (test records for the resamples'
resolution, positives and negatives per class for alpha) ``too_small`` says why, the paired
tests are not run (no p-values, so they are not in the table's family either) and no marker is
drawn. In the CSV, p-values at the bootstrap's resolution 1/(B + 1) read "< 0.001" (B = 1000).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.atomic import atomic_write
from bench.errors import DataError
from bench.evaluation.bootstrap import DEFAULT_LEVEL, DEFAULT_N_BOOT
from bench.evaluation.sample import too_small_to_test
from bench.evaluation.significance import (
    Correction,
    adjust_p_values,
    hierarchical_ci,
    paired_hierarchical_test,
)
from bench.grid.results import CellResult, load_results
from bench.method_names import matched_name, split_matched
from bench.reporting.cell_scores import ScoreChoice, TableMetric
from bench.reporting.challenge_rows import challenge_entry
from bench.reporting.corpus_rows import base_method, row_name
from bench.reporting.formats import (
    budget_label,
    csv_text,
    metric_file_name,
    metric_note,
    protocol_rank,
    table_note,
    to_latex,
    to_markdown,
)
from bench.reporting.resample_scores import ResampleScores
from bench.task import METRIC_DIRECTIONS

BASELINES = ("random_init", "supervised")
MARKERS = {"random_init": "†", "supervised": "‡"}
_CELL_COLUMNS = "profile task_group protocol fraction shots task method method_protocol is_baseline"
_ENTRY_COLUMNS = (
    "n_pretrain_seeds pretrain_seeds n_seeds seeds mean std ci_low ci_high ci_level n_redrawn "
    "n_partial test_sample n_test n_classes n_scored classes_left_out min_class_count too_small "
    "collapsed leakage best"
)
_TEST_COLUMNS = (
    " ".join(f"diff_vs_{b} p_vs_{b} p_adj_vs_{b}" for b in ("random_init", "supervised"))
    + " markers"
)
_OWN_COLUMNS = "input gain_vs_own_random_init gain_vs_own_supervised"
_METRIC_COLUMNS = "main_metric higher_is_better challenge_score challenge_score_std"
LEADERBOARD_COLUMNS: tuple[str, ...] = tuple(
    f"{_CELL_COLUMNS} {_ENTRY_COLUMNS} {_TEST_COLUMNS} {_OWN_COLUMNS} {_METRIC_COLUMNS}".split()
)
FILE_NAMES = {"markdown": "leaderboard.md", "csv": "leaderboard.csv", "latex": "leaderboard.tex"}


@dataclass(frozen=True)
class LeaderboardOptions:
    """How entries are computed and which tables are kept."""

    protocols: tuple[str, ...] | None = None  # None: every protocol present
    fractions: tuple[float, ...] | None = None  # None: every fraction present
    shots: tuple[int, ...] | None = None  # None: every shot count present
    metric: TableMetric = "main"  # or "macro_auprc" (classification tasks only)
    min_positives: int = 0  # macro AUROC / AUPRC over classes with >= this many test positives
    n_boot: int = DEFAULT_N_BOOT
    boot_seed: int = 0
    level: float = DEFAULT_LEVEL
    alpha: float = 0.05
    correction: Correction = "bh"  # over each table's tests: Benjamini-Hochberg, or "holm"
    skip_invalid: bool = False  # skip unreadable result files with a warning instead of failing
    eval_keys: frozenset[str] | None = None  # None: every result file; else only these cells


Run = tuple[int, int]  # (pretraining or initialisation seed, fraction seed)
Cells = dict[Run, CellResult]  # run -> cell
Budget = tuple[float, int]  # (label fraction, shots): (f, 0) for a fraction, (0.0, K) K-shot
GroupKey = tuple[str, str, str, str, Budget, str]  # profile, group, task, protocol, budget, method


def leaderboard_frame(
    results_dir: str | Path, options: LeaderboardOptions | None = None
) -> pd.DataFrame:
    """Tidy leaderboard, one row per (table, task, method); columns LEADERBOARD_COLUMNS."""
    options = options or LeaderboardOptions()
    results = load_results(
        results_dir, status="ok", skip_invalid=options.skip_invalid, eval_keys=options.eval_keys
    )
    choice = ScoreChoice(options.metric, options.min_positives)
    cells = _group_cells([r for r in results if choice.applies(r)])
    samples = ResampleScores(Path(results_dir), options.n_boot, options.boot_seed, choice)
    rows = []
    for profile, group, protocol, budget in _tables(cells, options):
        for task in sorted({k[2] for k in cells if k[:2] == (profile, group)}):
            for method, shown_protocol in _rows(cells, profile, group, task, protocol, budget):
                key = (profile, group, task, shown_protocol, budget, method)
                row = _entry(cells[key], samples, options)
                row.update(
                    profile=profile, task_group=group, protocol=protocol, fraction=budget[0],
                    shots=budget[1], task=task, method=method, method_protocol=shown_protocol,
                    is_baseline=method in BASELINES or split_matched(method)[1] is not None,
                )  # fmt: skip
                row.update(_comparisons(cells, key, protocol, samples, options))
                if row["too_small"]:  # no test below the minimums (bench.evaluation.sample)
                    row.update({f"p_vs_{b}": np.nan for b in BASELINES})
                row.update(_own_baselines(cells, key, protocol, samples))
                rows.append(row)
    frame = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)
    return _mark_best(_adjust(frame, options))


def write_leaderboards(
    results_dir: str | Path,
    out_dir: str | Path | None = None,
    options: LeaderboardOptions | None = None,
    frame: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write leaderboard.md/.csv/.tex (default: <results>/leaderboards) from ``frame``
    (``leaderboard_frame(results_dir, options)`` when None); returns the paths."""
    options = options or LeaderboardOptions()
    frame = leaderboard_frame(results_dir, options) if frame is None else frame
    if frame.empty:
        raise DataError(
            f"no finished cells under {Path(results_dir) / 'runs'} match the requested "
            "protocols, label budgets and metric; run `bench run` first"
        )
    out = Path(out_dir) if out_dir is not None else Path(results_dir) / "leaderboards"
    out.mkdir(parents=True, exist_ok=True)
    note = table_note(options.n_boot, options.level, options.alpha, options.correction)
    note += metric_note(options.metric, options.min_positives)
    texts = {
        "markdown": to_markdown(frame, note),
        "csv": csv_text(frame, options.n_boot),
        "latex": to_latex(frame, note),
    }
    paths = {}
    for kind, text in texts.items():
        paths[kind] = out / metric_file_name(FILE_NAMES[kind], options.metric)
        atomic_write(paths[kind], lambda f, text=text: f.write(text.encode()))
    return paths


def _group_cells(results: Sequence[CellResult]) -> dict[GroupKey, Cells]:
    cells: dict[GroupKey, Cells] = defaultdict(dict)
    for result in results:
        key = (result.profile, result.task_group, result.task, result.protocol)
        key += (budget_of(result), row_name(result))
        run = (result.pretrain_seed or 0, result.seed)
        earlier = cells[key].get(run)
        if earlier is not None:
            raise DataError(
                f"two results for {result.method} / {result.task} / {result.protocol} / "
                f"{budget_label(*budget_of(result))} / pretraining seed {run[0]} / seed {run[1]}: "
                f"runs/{earlier.eval_key}.json and runs/{result.eval_key}.json; keep one (or "
                "use separate results folders)"
            )
        cells[key][run] = result
    return dict(cells)


def budget_of(result: CellResult) -> Budget:
    """A cell's label budget as the tables key it: (fraction, 0), or (0.0, K) for K shots."""
    return (float(result.fraction), int(result.shots or 0))


def _tables(
    cells: dict[GroupKey, Cells], options: LeaderboardOptions
) -> list[tuple[str, str, str, Budget]]:
    """(profile, group, protocol, budget) of every table, after the options' filters (with
    ``fractions`` or ``shots`` given, only the budgets of those that are given)."""
    tables = {(k[0], k[1], k[3], k[4]) for k in cells}
    if options.protocols is not None:
        tables = {t for t in tables if t[2] in options.protocols}
    if options.fractions is not None or options.shots is not None:
        tables = {t for t in tables if budget_kept(t[3], options)}
    return sorted(tables, key=lambda t: (t[0], t[1], t[2], t[3][1], t[3][0]))


def budget_kept(budget: Budget, options: LeaderboardOptions) -> bool:
    """Whether ``budget`` is among the options' ``fractions`` or ``shots`` (either given)."""
    fraction, shots = budget
    if shots:
        return options.shots is not None and shots in options.shots
    return options.fractions is not None and bool(np.isclose(fraction, options.fractions).any())


def _rows(
    cells: dict[GroupKey, Cells],
    profile: str,
    group: str,
    task: str,
    protocol: str,
    budget: Budget,
) -> list[tuple[str, str]]:
    """(method, protocol its cells come from) for one column: methods, then baselines."""
    here = {k[5] for k in cells if k[:5] == (profile, group, task, protocol, budget)}
    rows = [(m, protocol) for m in sorted(here - set(BASELINES))]
    for baseline in BASELINES:
        shown = _baseline_protocol(cells, (profile, group, task, protocol, budget), baseline)
        if shown is not None:
            rows.append((baseline, shown))
    return rows


def _baseline_protocol(
    cells: dict[GroupKey, Cells], where: tuple[str, str, str, str, Budget], baseline: str
) -> str | None:
    """The protocol whose cells stand for ``baseline`` at ``where``: its own, else any other
    (the first of PROTOCOL_NAMES' order: the linear probe before the other frozen ones)."""
    profile, group, task, protocol, budget = where
    available = sorted(
        (k[3] for k in cells if k[:3] == (profile, group, task) and k[4:] == (budget, baseline)),
        key=protocol_rank,
    )
    if protocol in available:
        return protocol
    return available[0] if available else None


def _entry(runs: Cells, samples: ResampleScores, options: LeaderboardOptions) -> dict:
    keys = sorted(runs)
    metric = samples.choice.name(runs[keys[0]])
    values = np.array([samples.value(runs[r]) for r in keys], dtype=np.float64)
    pretrain_seeds, seeds = _levels(keys)
    scores, resamples = samples.grid(runs, pretrain_seeds, seeds)
    low, high = hierarchical_ci(scores, options.level, options.boot_seed)
    sample = samples.sample(runs[keys[0]])
    return {
        "n_pretrain_seeds": len(pretrain_seeds),
        "pretrain_seeds": ";".join(map(str, pretrain_seeds)),
        "n_seeds": len(seeds),
        "seeds": ";".join(map(str, seeds)),
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else np.nan,
        "ci_low": low,
        "ci_high": high,
        "ci_level": options.level,
        "n_redrawn": resamples.n_redrawn,
        "n_partial": resamples.n_partial,
        "test_sample": sample.label(),
        "n_test": sample.n_records,
        "n_classes": len(sample.names),
        "n_scored": len(sample.scored),
        "classes_left_out": sample.left_out_text(),
        "min_class_count": sample.min_class_count(),
        "too_small": too_small_to_test(sample, options.n_boot, options.alpha, resamples.n_partial),
        "collapsed": any(_collapsed(runs[r]) for r in keys),
        "leakage": next((n for n in (runs[r].config.get("leakage") for r in keys) if n), ""),
        "main_metric": metric,
        "higher_is_better": METRIC_DIRECTIONS[metric],
        **challenge_entry(runs.values()),
    }


def _levels(runs: Sequence[Run]) -> tuple[list[int], list[int]]:
    """The pretraining seeds and the fraction seeds among ``runs``, sorted."""
    return sorted({r[0] for r in runs}), sorted({r[1] for r in runs})


def _collapsed(cell: CellResult) -> bool:
    """Whether the cell's encoder comes from a pretraining flagged as collapsed."""
    return bool(cell.pretraining.get("collapse", {}).get("collapsed", False))


def _comparisons(
    cells: dict[GroupKey, Cells],
    key: GroupKey,
    protocol: str,
    samples: ResampleScores,
    options: LeaderboardOptions,
) -> dict:
    """Paired test of the entry at ``key`` against each baseline (markers come in _adjust)."""
    profile, group, task, _, budget, method = key
    row: dict = {}
    for baseline in BASELINES:
        row[f"diff_vs_{baseline}"] = row[f"p_vs_{baseline}"] = np.nan
        shown = _baseline_protocol(cells, (profile, group, task, protocol, budget), baseline)
        if method == baseline or shown is None:
            continue
        ours, theirs = cells[key], cells[(profile, group, task, shown, budget, baseline)]
        shared = sorted(set(ours) & set(theirs))
        if not shared:
            continue
        metric = samples.choice.name(ours[shared[0]])
        sign = 1.0 if METRIC_DIRECTIONS[metric] else -1.0  # test "better", in either direction
        observed = np.mean([samples.value(ours[r]) for r in shared]) - np.mean(
            [samples.value(theirs[r]) for r in shared]
        )
        pretrain_seeds, seeds = _levels(shared)
        mine = samples.grid({r: ours[r] for r in shared}, pretrain_seeds, seeds)[0]
        other = samples.grid({r: theirs[r] for r in shared}, pretrain_seeds, seeds)[0]
        test = paired_hierarchical_test(
            float(sign * observed), sign * mine, sign * other, options.level, options.boot_seed
        )
        row[f"diff_vs_{baseline}"] = sign * test.difference  # in the metric's own units
        row[f"p_vs_{baseline}"] = test.p_value
    return row


def _own_baselines(
    cells: dict[GroupKey, Cells], key: GroupKey, protocol: str, samples: ResampleScores
) -> dict:
    """The entry's input kind and its mean gain (over the runs both have) against the matched
    baselines built on its own network, ``random_init[<method>]`` / ``supervised[<method>]``."""
    profile, group, task, _, budget, method = key
    inputs = {cell.config.get("input", "shared") for cell in cells[key].values()}
    row: dict = {"input": inputs.pop() if len(inputs) == 1 else "mixed"}
    for baseline in BASELINES:
        row[f"gain_vs_own_{baseline}"] = np.nan
        own = _own_row(cells[key].values(), baseline, base_method(method))
        shown = _baseline_protocol(cells, (profile, group, task, protocol, budget), own)
        if shown is None:
            continue
        ours, theirs = cells[key], cells[(profile, group, task, shown, budget, own)]
        shared = sorted(set(ours) & set(theirs))
        if shared:
            row[f"gain_vs_own_{baseline}"] = float(
                np.mean([samples.value(ours[r]) - samples.value(theirs[r]) for r in shared])
            )
    return row


def _own_row(records: Iterable[CellResult], baseline: str, method: str) -> str:
    """The row standing for ``baseline[method]``: itself, or the shared baseline where the
    grid found them the same network and ran it once (``matched_baselines`` in the config)."""
    named = {r.config.get("matched_baselines", {}).get(baseline) for r in records}
    named.discard(None)
    return named.pop() if len(named) == 1 else matched_name(baseline, method)


def _adjust(frame: pd.DataFrame, options: LeaderboardOptions) -> pd.DataFrame:
    """Adjusted p-values over each table's tests (all methods, tasks, baselines); markers."""
    keys = ["profile", "task_group", "protocol", "fraction", "shots"]
    tables = frame.groupby(keys).groups.values()
    for baseline in BASELINES:
        frame[f"p_adj_vs_{baseline}"] = np.nan
    for rows in tables:
        columns = [f"p_vs_{b}" for b in BASELINES]
        family = frame.loc[rows, columns].to_numpy(dtype=np.float64)
        adjusted = adjust_p_values(family.ravel(), options.correction).reshape(family.shape)
        for i, baseline in enumerate(BASELINES):
            frame.loc[rows, f"p_adj_vs_{baseline}"] = adjusted[:, i]
    frame["markers"] = ""
    for baseline in BASELINES:
        better = frame[f"diff_vs_{baseline}"] * np.where(frame["higher_is_better"], 1, -1)
        significant = (frame[f"p_adj_vs_{baseline}"] < options.alpha) & (better > 0)
        frame.loc[significant, "markers"] += MARKERS[baseline]
    return frame


def _mark_best(frame: pd.DataFrame) -> pd.DataFrame:
    """Flag the best mean (at the displayed 3 decimals) of every table column, in the
    direction of its main metric (the lowest for a lower-is-better one such as MAE)."""
    column = ["profile", "task_group", "protocol", "fraction", "shots", "task"]
    signed = frame["mean"].round(3) * np.where(frame["higher_is_better"].astype(bool), 1, -1)
    frame["best"] = signed == signed.groupby([frame[c] for c in column]).transform("max")
    return frame

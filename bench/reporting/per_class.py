"""Per-class tables of one classification task (``bench leaderboard --per-class TASK``).

A macro AUROC weighs every class alike, so a class with 3 positive test records moves it as
much as one with 300, and its own AUROC rests on those 3. Per (profile, protocol, label budget)
one table: a row per class with its positive test records (flagged below ``FEW_POSITIVES``)
and, per method, the class's test AUROC / AUPRC as the mean over runs (``±`` the sample std
where there are several). Files ``per_class_<task>.md`` and ``.csv`` (one row per class and
method) under ``<results>/leaderboards``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench.atomic import atomic_write
from bench.errors import DataError
from bench.grid.results import CellResult, load_predictions, load_results
from bench.reporting.cell_scores import has_classes
from bench.reporting.corpus_rows import row_name
from bench.reporting.formats import PROTOCOL_NAMES, budget_label, protocol_rank
from bench.reporting.leaderboard import BASELINES, LeaderboardOptions, budget_kept, budget_of

FEW_POSITIVES = 10  # classes with fewer positive test records are flagged
FEW_MARK = " ⚠"
PER_CLASS_COLUMNS = (
    "profile", "task", "protocol", "fraction", "shots", "method", "class", "test_positives",
    "few_positives", "n_runs", "auroc_mean", "auroc_std", "auprc_mean", "auprc_std",
)  # fmt: skip
TABLE_KEYS = ["profile", "protocol", "fraction", "shots"]


def per_class_frame(
    results_dir: str | Path, task: str, options: LeaderboardOptions | None = None
) -> pd.DataFrame:
    """One row per (profile, protocol, budget, method, class) of ``task``'s cells (the
    options' protocol, fraction, shot and cell filters apply); columns PER_CLASS_COLUMNS."""
    options = options or LeaderboardOptions()
    results = load_results(
        results_dir, status="ok", skip_invalid=options.skip_invalid, eval_keys=options.eval_keys
    )
    cells = [r for r in results if r.task == task and has_classes(r) and _kept(r, options)]
    if not cells:
        raise DataError(
            f"no finished multilabel or multiclass cells of task {task!r} under "
            f"{Path(results_dir) / 'runs'} (with the requested protocols and label budgets)"
        )
    groups: dict[tuple, list[CellResult]] = {}
    for cell in cells:
        key = (cell.profile, cell.protocol, *budget_of(cell), row_name(cell))
        groups.setdefault(key, []).append(cell)
    rows = []
    for (profile, protocol, fraction, shots, method), runs in groups.items():
        positives = test_positives(Path(results_dir), runs[0])
        for name in runs[0].label_names:
            auroc = _values(runs, "per_class_auroc", name)
            auprc = _values(runs, "per_class_auprc", name)
            rows.append({
                "profile": profile, "task": task, "protocol": protocol, "fraction": fraction,
                "shots": shots, "method": method, "class": name,
                "test_positives": positives[name], "few_positives": positives[name] < FEW_POSITIVES,
                "n_runs": len(runs), "auroc_mean": _mean(auroc), "auroc_std": _std(auroc),
                "auprc_mean": _mean(auprc), "auprc_std": _std(auprc),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=list(PER_CLASS_COLUMNS))


def test_positives(results_dir: Path, cell: CellResult) -> dict[str, int]:
    """Each class's positive test records: as the result stores them, else counted in its
    stored test labels (results written before they were stored)."""
    stored = cell.metrics.get("test_positives")
    if stored:
        return {name: int(count) for name, count in stored.items()}
    y_true = load_predictions(results_dir, cell.eval_key).y_true
    counts = (np.asarray(y_true) > 0.5).sum(axis=0)
    return {name: int(c) for name, c in zip(cell.label_names, counts, strict=True)}


def to_per_class_markdown(frame: pd.DataFrame, task: str) -> str:
    """A Markdown table per (profile, protocol, label budget), then the note."""
    parts = [f"# Per-class results: {task}\n"]
    tables = dict(tuple(frame.groupby(TABLE_KEYS)))
    for key in sorted(tables, key=lambda k: (k[0], protocol_rank(k[1]), k[1], k[3], k[2])):
        profile, protocol, fraction, shots = key
        table = tables[key]
        methods = _method_order(table)
        name = PROTOCOL_NAMES.get(protocol, protocol)
        title = f"## {task} · {name} · {budget_label(fraction, shots)} labels (profile {profile})"
        lines = [title, "", "| Class | Test positives | " + " | ".join(methods) + " |"]
        lines.append("|---|---|" + "---|" * len(methods))
        for label, entries in table.groupby("class", sort=False):
            by_method = entries.set_index("method")
            first = entries.iloc[0]
            count = f"{first['test_positives']}{FEW_MARK if first['few_positives'] else ''}"
            texts = [_cell_text(by_method.loc[m]) if m in by_method.index else "–" for m in methods]
            lines.append(f"| {label} | {count} | " + " | ".join(texts) + " |")
        parts.append("\n".join(lines) + "\n")
    parts.append(per_class_note() + "\n")
    return "\n".join(parts)


def per_class_note() -> str:
    """What the per-class tables show."""
    return (
        "Each entry: the class's test AUROC / AUPRC (one-vs-rest average precision), mean over "
        "runs (± the sample std where there are several; – for a class without both positive "
        f"and negative test records). {FEW_MARK.strip()}: fewer than {FEW_POSITIVES} positive "
        "test records, so the class's AUROC rests on a handful of records; `bench leaderboard "
        "--min-positives N` averages over the classes with at least N positives only."
    )


def write_per_class(
    results_dir: str | Path,
    task: str,
    out_dir: str | Path | None = None,
    options: LeaderboardOptions | None = None,
) -> dict[str, Path]:
    """Write per_class_<task>.md and .csv (default: <results>/leaderboards)."""
    frame = per_class_frame(results_dir, task, options)
    out = Path(out_dir) if out_dir is not None else Path(results_dir) / "leaderboards"
    out.mkdir(parents=True, exist_ok=True)
    texts = {"markdown": to_per_class_markdown(frame, task), "csv": frame.to_csv(index=False)}
    paths = {}
    for kind, suffix in (("markdown", "md"), ("csv", "csv")):
        paths[kind] = out / f"per_class_{task}.{suffix}"
        atomic_write(paths[kind], lambda f, text=texts[kind]: f.write(text.encode()))
    return paths


def _kept(cell: CellResult, options: LeaderboardOptions) -> bool:
    if options.protocols is not None and cell.protocol not in options.protocols:
        return False
    if options.fractions is None and options.shots is None:
        return True
    return budget_kept(budget_of(cell), options)


def _values(runs: list[CellResult], metric: str, name: str) -> list[float]:
    values = [(run.metrics.get(metric) or {}).get(name) for run in runs]
    return [float(v) for v in values if v is not None]


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _std(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def _method_order(table: pd.DataFrame) -> list[str]:
    methods = sorted(set(table["method"]))
    return [m for m in methods if m not in BASELINES] + [m for m in BASELINES if m in methods]


def _cell_text(entry: pd.Series) -> str:
    if math.isnan(entry["auroc_mean"]):
        return "–"
    text = f"{entry['auroc_mean']:.3f} / {entry['auprc_mean']:.3f}"
    if not math.isnan(entry["auroc_std"]):
        text += f" (± {entry['auroc_std']:.3f} / {entry['auprc_std']:.3f})"
    return text

"""Paper-layout tables from a leaderboard frame: per task and protocol, rows = methods,
columns = label fractions, as papers print label-efficiency results (a few-shot grid: a table
per task and protocol with a column per shot count).

Each entry is the leaderboard's "mean ± std over seeds" of the task's main metric (named in the
heading unless it is macro AUROC) with its markers († / ‡: significantly better than random_init
/ supervised; ◦: the test set is too small to test), best mean of a column in bold; rows and
markers are exactly those of ``bench.reporting.leaderboard`` (baselines last, a baseline taken
from the other protocol labelled with it). Under each heading: the task's test set (records,
classes scored and left out, why it is too small to test). Rendered as Markdown, booktabs LaTeX
and a wide CSV (``mean@10 %``, ``std@10 %``, ``markers@10 %``, ``best@10 %`` per fraction;
``mean@5-shot`` ... per shot count; the test set's ``n_test``, ``n_scored``, ``too_small``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd

from bench.reporting.formats import (
    LEAKAGE_MARK,
    PROTOCOL_NAMES,
    auroc_caption,
    budget_label,
    fraction_label,
    latex_escape,
    leakage_footnotes,
    metric_suffix,
    protocol_rank,
)
from bench.reporting.sample_rows import TOO_SMALL_MARK, sample_line, with_mark

TABLE_KEYS = ["profile", "task_group", "task", "protocol"]
SAMPLE_COLUMNS = ("n_test", "n_scored", "n_classes", "too_small")
_MISSING = "–"
_LATEX_MARKERS = {"†": r"\dagger", "‡": r"\ddagger", TOO_SMALL_MARK: r"\circ"}
LATEX_PREAMBLE = "% needs \\usepackage{booktabs}\n"


def paper_title(profile: str, group: str, task: str, protocol: str, few_shot: bool = False) -> str:
    """'superdiagnostic · linear probe (ptbxl, profile smoke)'; '... · k-NN, few-shot (...)'."""
    name = PROTOCOL_NAMES.get(protocol, protocol) + (", few-shot" if few_shot else "")
    return f"{task} · {name} ({group}, profile {profile})"


def paper_tables(frame: pd.DataFrame) -> Iterator[tuple[tuple[str, ...], str, pd.DataFrame]]:
    """(key, title, table) per task and protocol, and apart its few-shot entries (key:
    TABLE_KEYS' values): index = row labels, columns = label fractions (floats), or for a
    few-shot table shot counts as '5-shot'; values = the leaderboard rows (pd.Series) or None
    where a method lacks that column."""
    few_shot = (frame["shots"].fillna(0).astype(int) > 0).rename("few_shot")
    groups = dict(tuple(frame.groupby([*TABLE_KEYS, few_shot])))
    order = sorted(groups, key=lambda k: (k[0], k[1], k[2], protocol_rank(k[3]), k[3], k[4]))
    for key in order:
        rows = groups[key].assign(column=_columns(groups[key]))
        columns = sorted(set(rows["column"]), key=lambda c: _column_order(rows, c))
        methods = rows.drop_duplicates("method").sort_values(["is_baseline", "method"])
        table = {}
        for method in methods["method"]:
            entries = rows[rows["method"] == method].set_index("column")
            table[row_label(entries)] = [
                entries.loc[c] if c in entries.index else None for c in columns
            ]
        table = pd.DataFrame.from_dict(table, orient="index", columns=columns)
        yield key[:4], paper_title(*key[:4], bool(key[4])) + metric_suffix(rows), table


def column_label(column: float | str) -> str:
    """A paper table's column as printed: '10 %' for a fraction, '5-shot' as it is."""
    return column if isinstance(column, str) else fraction_label(column)


def _columns(rows: pd.DataFrame) -> list[float | str]:
    """Each entry's column: its fraction, or 'K-shot' for a few-shot entry."""
    return [
        budget_label(fraction, shots) if shots else float(fraction)
        for fraction, shots in zip(
            rows["fraction"], rows["shots"].fillna(0).astype(int), strict=True
        )
    ]


def _column_order(rows: pd.DataFrame, column: float | str) -> tuple[int, float]:
    entry = rows[rows["column"] == column].iloc[0]
    return int(entry["shots"] or 0), float(entry["fraction"])


def row_label(entries: pd.DataFrame) -> str:
    """The method, with the protocol its cells come from when it differs (baselines)."""
    method = str(entries["method"].iloc[0])
    other = sorted(set(entries["method_protocol"]) - set(entries["protocol"]))
    label = method + (f" ({', '.join(other)})" if other else "")
    if "collapsed" in entries and entries["collapsed"].any():
        label += " [collapsed]"
    if "leakage" in entries and (entries["leakage"].fillna("") != "").any():
        label += LEAKAGE_MARK
    return label


def paper_sample_text(table: pd.DataFrame) -> str:
    """'Test set: 4 records · 6/26 classes; left out: ...; too small to test ...' of a paper
    table (every entry of a task has the same test set; '' for an older frame)."""
    entry = next(iter(_entries(table)), None)
    if entry is None or "test_sample" not in entry:
        return ""
    return f"Test set: {sample_line(entry)}"


def _entries(table: pd.DataFrame) -> list[pd.Series]:
    """The leaderboard rows of a paper table (its present cells)."""
    return [c for _, cells in table.iterrows() for c in cells if c is not None]


def to_paper_markdown(frame: pd.DataFrame, note: str) -> str:
    """Every paper table as a Markdown section, then the note."""
    parts = ["# Paper tables\n"]
    for _, title, table in paper_tables(frame):
        header = "| Method | " + " | ".join(column_label(c) for c in table.columns) + " |"
        lines = [f"## {title}", ""]
        sample = paper_sample_text(table)
        lines += [sample, ""] if sample else []
        lines += [header, "|---|" + "---|" * len(table.columns)]
        for label, cells in table.iterrows():
            lines.append(f"| {label} | " + " | ".join(_markdown_cell(c) for c in cells) + " |")
        parts.append("\n".join(lines) + "\n")
    parts.append(f"{note}\n")
    parts += [f"{line}\n" for line in leakage_footnotes(frame)]
    return "\n".join(parts)


def to_paper_latex(frame: pd.DataFrame, note: str) -> str:
    """Every paper table as a booktabs ``table``; a rule between methods and baselines."""
    parts = [LATEX_PREAMBLE]
    for _, title, table in paper_tables(frame):
        labels = (latex_escape(column_label(c)) for c in table.columns)
        header = " & ".join(["Method", *labels])
        metric = auroc_caption(pd.DataFrame(_entries(table)))
        few_shot = any(isinstance(c, str) for c in table.columns)
        budget = "shots per class" if few_shot else "label fraction"
        sample = paper_sample_text(table)
        caption = f"{title}{metric} by {budget}." + (f" {sample}." if sample else "")
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{latex_escape(caption, True)}}}",
            r"\small",
            rf"\begin{{tabular}}{{l{'c' * len(table.columns)}}}",
            r"\toprule",
            header + r" \\",
            r"\midrule",
        ]
        seen_method = False
        for label, cells in table.iterrows():
            baseline = any(c is not None and bool(c["is_baseline"]) for c in cells)
            if baseline and seen_method:
                lines.append(r"\midrule")
                seen_method = False
            seen_method = seen_method or not baseline
            row = [latex_escape(str(label)), *(_latex_cell(c) for c in cells)]
            lines.append(" & ".join(row) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        lines += [rf"\par\smallskip{{\footnotesize\raggedright {latex_escape(note, True)}\par}}"]
        lines += [r"\end{table}", ""]
        parts.append("\n".join(lines))
    return "\n".join(parts)


def to_paper_csv(frame: pd.DataFrame) -> str:
    """One row per (task, protocol, method); per label budget its mean, std, markers and best."""
    rows = []
    for (profile, group, task, protocol), part in frame.groupby(TABLE_KEYS):
        for _, entries in part.groupby("method", sort=False):
            row = {"profile": profile, "task_group": group, "task": task, "protocol": protocol}
            row.update(method=row_label(entries), n_seeds=int(entries["n_seeds"].max()))
            first = entries.iloc[0]
            row.update({c: first[c] for c in SAMPLE_COLUMNS if c in first})
            for _, entry in entries.iterrows():
                name = budget_label(entry["fraction"], entry["shots"])
                row[f"mean@{name}"], row[f"std@{name}"] = entry["mean"], entry["std"]
                row[f"markers@{name}"], row[f"best@{name}"] = entry["markers"], entry["best"]
            rows.append(row)
    table = pd.DataFrame(rows)
    fixed = ["profile", "task_group", "task", "protocol", "method", "n_seeds", *SAMPLE_COLUMNS]
    budgets = sorted(set(zip(frame["shots"].astype(int), frame["fraction"], strict=True)))
    stats = ("mean", "std", "markers", "best")
    wide = [f"{stat}@{budget_label(f, k)}" for k, f in budgets for stat in stats]
    return table.reindex(columns=fixed + [c for c in wide if c in table]).to_csv(index=False)


def cell_text(entry: pd.Series | None) -> str:
    """'0.812 ± 0.010' (no ± for one seed), '–' for a missing entry."""
    if entry is None:
        return _MISSING
    text = f"{entry['mean']:.3f}"
    return text if math.isnan(entry["std"]) else f"{text} ± {entry['std']:.3f}"


def _markdown_cell(entry: pd.Series | None) -> str:
    text = cell_text(entry)
    if entry is None:
        return text
    text = f"**{text}**" if entry["best"] else text
    return with_mark(f"{text} {entry['markers']}" if entry["markers"] else text, entry)


def _latex_cell(entry: pd.Series | None) -> str:
    if entry is None:
        return "--"
    text = cell_text(entry).replace(" ± ", r" $\pm$ ")
    text = rf"\textbf{{{text}}}" if entry["best"] else text
    marks = with_mark(entry["markers"], entry).replace(" ", "")
    if marks:
        text += "$^{" + "".join(_LATEX_MARKERS.get(m, m) for m in marks) + "}$"
    return text


def paper_note(n_seeds: int) -> str:
    """What the paper tables' numbers mean (the markers' test is described in leaderboard.md)."""
    return (
        "The task's main metric on the test fold (macro AUROC unless the heading names another, "
        f"with its direction): mean ± std over seeds (sample std; up to {n_seeds} seeds, no ± "
        "for one). Bold: best mean in the column (label fraction or shots per class), in the "
        "metric's direction. "
        "† / ‡: significantly better than random_init / supervised at the same task and "
        "fraction (the test is described under leaderboard.md). ◦: the task's test set (under "
        "each heading) is below the minimums of that test, which is not run there. A baseline "
        "row taken from the other protocol is labelled with that protocol."
    )

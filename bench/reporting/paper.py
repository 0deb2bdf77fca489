"""Paper-layout tables from a leaderboard frame: per task and protocol, rows = methods,
columns = label fractions, as papers print label-efficiency results.

Each entry is the leaderboard's "mean ± std over seeds" of the macro AUROC with its markers
(† / ‡: significantly better than random_init / supervised), best mean of a column in bold;
rows and markers are exactly those of ``bench.reporting.leaderboard`` (baselines last, a baseline
taken from the other protocol labelled with it). Rendered as Markdown, booktabs LaTeX and a wide
CSV (``mean@10 %``, ``std@10 %``, ``markers@10 %``, ``best@10 %`` per fraction).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd

from bench.reporting.formats import (
    LEAKAGE_MARK,
    PROTOCOL_NAMES,
    fraction_label,
    latex_escape,
    leakage_footnotes,
)

TABLE_KEYS = ["profile", "task_group", "task", "protocol"]
_MISSING = "–"
_LATEX_MARKERS = {"†": r"\dagger", "‡": r"\ddagger"}
LATEX_PREAMBLE = "% needs \\usepackage{booktabs}\n"


def paper_title(profile: str, group: str, task: str, protocol: str) -> str:
    """'superdiagnostic · linear probe (ptbxl, profile smoke)'."""
    return f"{task} · {PROTOCOL_NAMES.get(protocol, protocol)} ({group}, profile {profile})"


def paper_tables(frame: pd.DataFrame) -> Iterator[tuple[tuple[str, ...], str, pd.DataFrame]]:
    """(key, title, table) per task and protocol (key: TABLE_KEYS' values): index = row labels,
    columns = fractions, values = the leaderboard rows (pd.Series) or None where a method
    lacks that fraction."""
    rank = {name: i for i, name in enumerate(PROTOCOL_NAMES)}  # linear probe first
    groups = dict(tuple(frame.groupby(TABLE_KEYS)))
    order = sorted(groups, key=lambda k: (k[0], k[1], k[2], rank.get(k[3], len(rank)), k[3]))
    for key in order:
        rows = groups[key]
        fractions = sorted(rows["fraction"].unique())
        methods = rows.drop_duplicates("method").sort_values(["is_baseline", "method"])
        table = {}
        for method in methods["method"]:
            entries = rows[rows["method"] == method].set_index("fraction")
            cells = [entries.loc[f] if f in entries.index else None for f in fractions]
            table[row_label(entries)] = cells
        table = pd.DataFrame.from_dict(table, orient="index", columns=fractions)
        yield key, paper_title(*key), table


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


def to_paper_markdown(frame: pd.DataFrame, note: str) -> str:
    """Every paper table as a Markdown section, then the note."""
    parts = ["# Paper tables\n"]
    for _, title, table in paper_tables(frame):
        header = "| Method | " + " | ".join(fraction_label(f) for f in table.columns) + " |"
        lines = [f"## {title}", "", header, "|---|" + "---|" * len(table.columns)]
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
        header = " & ".join(["Method", *(latex_escape(fraction_label(f)) for f in table.columns)])
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{latex_escape(title)}: macro AUROC by label fraction.}}",
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
    """One row per (task, protocol, method); per fraction its mean, std, markers and best."""
    rows = []
    for (profile, group, task, protocol), part in frame.groupby(TABLE_KEYS):
        for _, entries in part.groupby("method", sort=False):
            row = {"profile": profile, "task_group": group, "task": task, "protocol": protocol}
            row.update(method=row_label(entries), n_seeds=int(entries["n_seeds"].max()))
            for _, entry in entries.sort_values("fraction").iterrows():
                name = fraction_label(entry["fraction"])
                row[f"mean@{name}"], row[f"std@{name}"] = entry["mean"], entry["std"]
                row[f"markers@{name}"], row[f"best@{name}"] = entry["markers"], entry["best"]
            rows.append(row)
    table = pd.DataFrame(rows)
    fixed = ["profile", "task_group", "task", "protocol", "method", "n_seeds"]
    fractions = sorted(frame["fraction"].unique())
    stats = ("mean", "std", "markers", "best")
    wide = [f"{stat}@{fraction_label(f)}" for f in fractions for stat in stats]
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
    return f"{text} {entry['markers']}" if entry["markers"] else text


def _latex_cell(entry: pd.Series | None) -> str:
    if entry is None:
        return "--"
    text = cell_text(entry).replace(" ± ", r" $\pm$ ")
    text = rf"\textbf{{{text}}}" if entry["best"] else text
    if entry["markers"]:
        text += "$^{" + "".join(_LATEX_MARKERS.get(m, m) for m in entry["markers"]) + "}$"
    return text


def paper_note(n_seeds: int) -> str:
    """What the paper tables' numbers mean (the markers' test is described in leaderboard.md)."""
    return (
        "The task's main metric on the test fold (macro AUROC unless the heading names another, "
        f"with its direction): mean ± std over seeds (sample std; up to {n_seeds} seeds, no ± "
        "for one). Bold: best mean in the column (label fraction), in the metric's direction. "
        "† / ‡: significantly better than random_init / supervised at the same task and "
        "fraction (the test is described under leaderboard.md). A baseline row taken from the "
        "other protocol is labelled with that protocol."
    )

"""Render a leaderboard frame (bench.reporting.leaderboard) as Markdown or booktabs LaTeX tables."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator

import pandas as pd

from bench.evaluation.sample import p_value_text
from bench.reporting.challenge_rows import challenge_cell, challenge_markdown
from bench.reporting.sample_rows import (
    TEST_SET_LABEL,
    TOO_SMALL_MARK,
    minimums_note,
    sample_cell,
    sample_lines,
    with_mark,
)

METRIC_LABELS = {"macro_auroc": "macro AUROC", "mae": "MAE", "rmse": "RMSE", "r2": "R²"}
PROTOCOL_NAMES = {
    "linear": "linear probe",
    "finetune": "fine-tuning",
    "attentive": "attentive probe",
    "knn": "k-NN",
}  # their order is the tables' order
_MISSING = "–"  # a task without cells for this method
COLLAPSED_MARK = " [collapsed]"  # a row whose encoder's pretraining was flagged as collapsed
NATIVE_MARK = " [native input]"  # a row whose method saw its paper's input (input: native)
LEAKAGE_MARK = " [seen in training]"  # a checkpoint whose training corpus held the task's data
_LATEX_MARKERS = {"†": r"\dagger", "‡": r"\ddagger", TOO_SMALL_MARK: r"\circ"}
_LATEX_SPECIAL = re.compile(r"([&%$#_{}~^\\])")
_LATEX_ESCAPES = {"~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


CORRECTION_NAMES = {"bh": "Benjamini-Hochberg", "holm": "Holm"}


def table_note(n_boot: int, level: float, alpha: float, correction: str = "bh") -> str:
    """The note printed under every table: what the numbers and markers mean."""
    return (
        f"The task's main metric on the test fold (macro AUROC unless the table heading names "
        f"another, with its direction): mean ± std over runs (sample std, omitted for a single "
        f"run). A run is one pretraining seed (for random_init, supervised and other baselines "
        f"without pretraining: one initialisation seed) with one fraction seed (the labelled "
        f"subset and the probe / fine-tuning seed); every fraction seed runs on every "
        f"pretraining seed, so the ± of SSL rows and baselines holds the same sources of "
        f"variance (Seeds: P × S = pretraining × fraction seeds, or S alone when P = 1). In "
        f"brackets: the {level:.0%} percentile CI of the mean from a hierarchical bootstrap "
        f"({n_boot} replicates; each redraws pretraining seeds, fraction seeds and the test "
        f"records, with the same test resamples for every method; resamples leaving a class "
        f"without positives or negatives are redrawn, as the PTB-XL benchmark does, counted in "
        f"the CSV column n_redrawn; where under 1 in 20 draws keeps every class, plain "
        f"resamples are scored on the classes they hold, counted in n_partial). Bold: best "
        f"mean in the column, in the metric's direction. † / ‡: significantly better "
        f"than random_init / supervised at the same task and label fraction: one-sided paired "
        f"hierarchical bootstrap test of the mean main metric over the runs both have, p-values "
        f"adjusted by {CORRECTION_NAMES.get(correction, correction)} over all tests of the table "
        f"(every method, task and baseline), adjusted p < {alpha:g} (raw and adjusted p in the "
        f"CSV). random_init is evaluated with the frozen-encoder protocols only (linear probe, "
        f"attentive probe, k-NN) and supervised with fine-tuning only; each method is compared "
        f"with whichever baseline cells exist, and a baseline row taken from another protocol "
        f"is labelled with that protocol. "
        f"[collapsed]: the "
        f"method's collapse diagnostic flagged the pretrained encoder of at least one seed "
        f"(its representation barely differs between records). [native input]: the method "
        f"saw its paper's input (profile `input: native`, and always for a published checkpoint); "
        f"every other row the profile's shared input. [seen in training]: a published "
        f"checkpoint whose pretraining (or supervised training) corpus held the task's data "
        f"(footnoted below, CSV column leakage). random_init[m] / supervised[m]: the baseline "
        f"built on method m's own network (untrained and frozen / trained from scratch); Δ: an "
        f"SSL row's mean gain over its own random_init[m] (CSV: gain_vs_own_random_init, "
        f"gain_vs_own_supervised). " + minimums_note(n_boot, alpha)
    )


def csv_text(frame: pd.DataFrame, n_boot: int) -> str:
    """The leaderboard frame as CSV, p-values at the bootstrap's resolution 1/(n_boot + 1)
    written as '< 0.001' (n_boot = 1000), the others as numbers."""
    shown = frame.copy()
    for column in [c for c in shown.columns if c.startswith(("p_vs_", "p_adj_vs_"))]:
        shown[column] = [p_value_text(p, n_boot) for p in shown[column]]
    return shown.to_csv(index=False)


def metric_note(metric: str, min_positives: int) -> str:
    """What a table's numbers are beyond ``table_note``: AUPRC, a restricted macro."""
    parts = []
    if metric == "macro_auprc":
        parts.append(
            " These tables hold the macro AUPRC (average precision, one-vs-rest) of the "
            "classification tasks instead of their main metric, with the same CIs and tests."
        )
    if min_positives:
        parts.append(
            f" Macro AUROC and AUPRC average over the classes with at least {min_positives} "
            "positive test records only (see `bench leaderboard --per-class`)."
        )
    return "".join(parts)


def metric_file_name(name: str, metric: str) -> str:
    """'leaderboard.md' for the main metric, 'leaderboard_auprc.md' for the AUPRC tables."""
    if metric == "main":
        return name
    stem, dot, suffix = name.partition(".")
    return f"{stem}_{metric.removeprefix('macro_')}{dot}{suffix}"


def protocol_rank(protocol: str) -> int:
    """Where tables of ``protocol`` come (PROTOCOL_NAMES' order; others after)."""
    order = list(PROTOCOL_NAMES)
    return order.index(protocol) if protocol in order else len(order)


def fraction_label(fraction: float) -> str:
    """0.01 -> '1 %', 0.025 -> '2.5 %'."""
    return f"{fraction * 100:g} %"


def budget_label(fraction: float, shots: int | None = 0) -> str:
    """A label budget: '10 %' for a label fraction, '5-shot' for K shots per class."""
    return f"{int(shots)}-shot" if shots else fraction_label(fraction)


def table_title(profile: str, group: str, protocol: str, fraction: float, shots: int = 0) -> str:
    """Heading of one table, e.g. 'ptbxl · linear probe · 10 % labels (profile smoke)' or
    'ptbxl · k-NN · 5-shot labels (profile smoke)'."""
    name = PROTOCOL_NAMES.get(protocol, protocol)
    return f"{group} · {name} · {budget_label(fraction, shots)} labels (profile {profile})"


def to_markdown(frame: pd.DataFrame, note: str) -> str:
    """Every table of ``frame`` as a Markdown section with a heading and the note."""
    parts = ["# Leaderboard\n"]
    for title, table in _tables(frame):
        tasks = sorted(table["task"].unique())
        lines = [f"## {title}", "", "| Method | Seeds | " + " | ".join(tasks) + " |"]
        lines.append("|---|---|" + "---|" * len(tasks))
        lines.append(f"| *{TEST_SET_LABEL}* | | " + " | ".join(_samples(table, tasks)) + " |")
        for label, seeds, cells, _ in _rows(table, tasks, _markdown_cell):
            lines.append(f"| {label} | {seeds} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines) + "\n")
        challenge = challenge_markdown(title, table, lambda t, c: _rows(t, c, challenge_cell))
        parts += [challenge] if challenge else []
    parts.append(f"{note}\n")
    parts += [f"{line}\n" for line in leakage_footnotes(frame)]
    tested = sample_lines(frame)
    if tested:
        parts.append("## Test sets\n\n" + "".join(f"- {line}\n" for line in tested))
    return "\n".join(parts)


def _samples(table: pd.DataFrame, tasks: list[str]) -> list[str]:
    """The test sample of each task of ``table`` (every entry of a task has the same)."""
    first = table.drop_duplicates("task").set_index("task")
    return [sample_cell(first.loc[task]) for task in tasks]


LATEX_PREAMBLE = "% needs \\usepackage{booktabs} and \\usepackage{graphicx}\n"


def to_latex(frame: pd.DataFrame, note: str) -> str:
    """Every table of ``frame`` as a booktabs ``table`` environment with the note below.

    A table wider than the text is scaled down to the line width (graphicx's resizebox).
    """
    parts = [LATEX_PREAMBLE]
    for title, table in _tables(frame):
        tasks = sorted(table["task"].unique())
        header = " & ".join(["Method", "Seeds", *(latex_escape(t) for t in tasks)])
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{latex_escape(title)}{auroc_caption(table)}.}}",
            rf"\label{{tab:{_label(title)}}}",
            r"\small",
            r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
            rf"\begin{{tabular}}{{ll{'c' * len(tasks)}}}",
            r"\toprule",
            header + r" \\",
            r"\midrule",
            " & ".join(
                [
                    rf"\textit{{{TEST_SET_LABEL}}}",
                    "",
                    *(_latex_sample(c) for c in _samples(table, tasks)),
                ]
            )
            + r" \\",
            r"\midrule",
        ]
        methods_written = False
        for label, seeds, cells, is_baseline in _rows(table, tasks, _latex_cell):
            if is_baseline and methods_written:
                lines.append(r"\midrule")  # one rule between the methods and the baselines
                methods_written = False
            methods_written = methods_written or not is_baseline
            cells = ["--" if cell == _MISSING else cell for cell in cells]
            row = [latex_escape(label), seeds.replace("–", "--"), *cells]
            lines.append(" & ".join(row) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}}"]
        notes = " ".join([note, *leakage_footnotes(table), *sample_lines(table)])
        lines += [rf"\par\smallskip{{\footnotesize\raggedright {latex_escape(notes, True)}\par}}"]
        lines += [r"\end{table}", ""]
        parts.append("\n".join(lines))
    return "\n".join(parts)


def latex_escape(text: str, keep_markers: bool = False) -> str:
    """Escape LaTeX's special characters (and render ±, †, ‡, <, % sensibly)."""
    escaped = _LATEX_SPECIAL.sub(lambda m: _LATEX_ESCAPES.get(m.group(1), "\\" + m.group(1)), text)
    escaped = (
        escaped.replace("±", r"$\pm$").replace("<", r"$<$").replace("·", r"\textperiodcentered{}")
    )
    if keep_markers:
        for marker, command in _LATEX_MARKERS.items():
            escaped = escaped.replace(marker, f"${command}$")
    return escaped


def _tables(frame: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """(title, rows) of every table: by profile and group, linear probe first, then the label
    fractions, then the shot counts."""
    keys = ["profile", "task_group", "protocol", "fraction", "shots"]
    tables = {key: rows for key, rows in frame.groupby(keys)}
    order = sorted(tables, key=lambda k: (k[0], k[1], protocol_rank(k[2]), k[2], k[4], k[3]))
    for key in order:
        yield table_title(*key) + metric_suffix(tables[key]), tables[key]


def auroc_caption(table: pd.DataFrame) -> str:
    """': macro AUROC' for a caption whose title names no metric (``metric_suffix`` is '')."""
    return "" if metric_suffix(table) else ": macro AUROC"


def metric_suffix(table: pd.DataFrame) -> str:
    """' · mae (lower is better)' for a table whose main metric is not macro AUROC, else ''."""
    if "main_metric" not in table or set(table["main_metric"]) <= {"macro_auroc"}:
        return ""
    higher = bool(table["higher_is_better"].iloc[0])
    metrics = ", ".join(sorted(set(table["main_metric"])))
    return f" · {metrics} ({'higher' if higher else 'lower'} is better)"


def _rows(
    table: pd.DataFrame, tasks: list[str], render: Callable[[pd.Series], str]
) -> Iterator[tuple[str, str, list[str], bool]]:
    """(row label, seeds text, a rendered cell per task, is baseline); baselines come last."""
    order = table.drop_duplicates("method").sort_values(["is_baseline", "method"], kind="stable")
    for method in order["method"]:
        entries = table[table["method"] == method].set_index("task")
        protocols = set(entries["method_protocol"]) - set(entries["protocol"])
        label = method + (f" ({', '.join(sorted(protocols))})" if protocols else "")
        label += COLLAPSED_MARK if entries["collapsed"].any() else ""
        label += NATIVE_MARK if (entries["input"] == "native").any() else ""
        label += LEAKAGE_MARK if _leaked(entries).any() else ""
        seeds = sorted(set(zip(entries["n_pretrain_seeds"], entries["n_seeds"], strict=True)))
        seeds_text = "–".join(dict.fromkeys(_seeds_text(*pair) for pair in (seeds[0], seeds[-1])))
        cells = [render(entries.loc[t]) if t in entries.index else _MISSING for t in tasks]
        yield label, seeds_text, cells, bool(entries["is_baseline"].iloc[0])


def _leaked(entries: pd.DataFrame) -> pd.Series:
    """Which entries carry a leakage note (an older CSV without the column: none)."""
    if "leakage" not in entries:
        return pd.Series(False, index=entries.index)
    return entries["leakage"].fillna("").astype(str) != ""


def leakage_footnotes(frame: pd.DataFrame) -> list[str]:
    """One line per method and task whose data its training corpus held, naming the overlap."""
    if frame.empty:
        return []
    rows = frame[_leaked(frame)].drop_duplicates(["method", "task"])
    return [
        f"{LEAKAGE_MARK.strip()} {r.method} on {r.task}: {r.leakage}."
        for r in rows.sort_values(["method", "task"]).itertuples()
    ]


def _seeds_text(n_pretrain_seeds: int, n_seeds: int) -> str:
    """'3' for one pretraining seed and 3 fraction seeds, '3×3' for three of each."""
    return str(n_seeds) if n_pretrain_seeds == 1 else f"{n_pretrain_seeds}×{n_seeds}"


def _numbers(entry: pd.Series) -> tuple[str, str]:
    """('mean ± std', '[low, high]') at 3 decimals."""
    value = f"{entry['mean']:.3f}"
    if not math.isnan(entry["std"]):
        value += f" ± {entry['std']:.3f}"
    ci = (
        f"[{entry['ci_low']:.3f}, {entry['ci_high']:.3f}]"
        if not math.isnan(entry["ci_low"])
        else ""
    )
    return value, ci


def _markdown_cell(entry: pd.Series) -> str:
    value, ci = _numbers(entry)
    if entry["best"]:
        value = f"**{value}**"
    gain = entry["gain_vs_own_random_init"]
    own = f"Δ{gain:+.3f}" if not pd.isna(gain) else ""
    return with_mark(" ".join(part for part in (value, ci, entry["markers"], own) if part), entry)


def _latex_cell(entry: pd.Series) -> str:
    """Value, markers and, on a second line in small type, the CI (a nested tabular)."""
    value, ci = _numbers(entry)
    value = value.replace(" ± ", r" $\pm$ ")
    if entry["best"]:
        value = rf"\textbf{{{value}}}"
    marks = with_mark(entry["markers"], entry).replace(" ", "")
    if marks:
        value += "$^{" + "".join(_LATEX_MARKERS[m] for m in marks) + "}$"
    if not ci:
        return value
    return rf"\begin{{tabular}}[t]{{@{{}}c@{{}}}}{value} \\ {{\scriptsize {ci}}}\end{{tabular}}"


def _latex_sample(text: str) -> str:
    """A test-sample cell in LaTeX (the mark as a raised circle)."""
    escaped = latex_escape(text.replace(f" {TOO_SMALL_MARK}", ""))
    return escaped + (r"$^{\circ}$" if text.endswith(TOO_SMALL_MARK) else "")


def _label(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")

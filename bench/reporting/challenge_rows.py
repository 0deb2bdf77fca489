"""The normalised CinC Challenge score in the leaderboards, beside macro AUROC.

CinC tasks store it in each cell (``metrics["challenge_score"]``, thresholds chosen on
validation, its bootstrap CI in ``ci["challenge_score"]``; ``bench.evaluation.challenge``).
A leaderboard entry gets its mean and sample std over runs (CSV ``challenge_score``,
``challenge_score_std``; NaN for tasks without it), and the Markdown leaderboard prints, under
each table holding such tasks, a second table of those entries. No bootstrap CI over runs is
formed for it (the score needs each cell's validation thresholds; the cells' own CIs are in
their result files).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from bench.grid.results import CellResult

COLUMNS = ("challenge_score", "challenge_score_std")


def challenge_entry(cells: Iterable[CellResult]) -> dict[str, float]:
    """Mean and sample std (NaN for one run) of the cells' Challenge scores; NaN without any."""
    values = [c.metrics.get("challenge_score") for c in cells]
    finite = np.array([v for v in values if isinstance(v, (int, float)) and math.isfinite(v)])
    if not len(finite):
        return dict.fromkeys(COLUMNS, math.nan)
    std = float(finite.std(ddof=1)) if len(finite) > 1 else math.nan
    return {"challenge_score": float(finite.mean()), "challenge_score_std": std}


def challenge_markdown(
    title: str,
    table: pd.DataFrame,
    rows: Callable[[pd.DataFrame, list[str]], Iterator[tuple[str, str, list[str], bool]]],
) -> str:
    """The Markdown table of ``table``'s Challenge scores ('' when none of its tasks has one);
    ``rows`` renders (label, seeds, cells, baseline) as the leaderboard's own rows do."""
    if "challenge_score" not in table or table["challenge_score"].isna().all():
        return ""
    scored = table[table["challenge_score"].notna()]
    tasks = sorted(scored["task"].unique())
    lines = [f"## {title} · normalised Challenge score", ""]
    lines += ["| Method | Seeds | " + " | ".join(tasks) + " |", "|---|---|" + "---|" * len(tasks)]
    for label, seeds, cells, _ in rows(scored, tasks):
        lines.append(f"| {label} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def challenge_cell(entry: pd.Series) -> str:
    """'0.512 ± 0.030' (mean ± std over runs; no ± for one run)."""
    value = f"{entry['challenge_score']:.3f}"
    if not math.isnan(entry["challenge_score_std"]):
        value += f" ± {entry['challenge_score_std']:.3f}"
    return value

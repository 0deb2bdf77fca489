"""What ``bench run`` writes after its cells: leaderboards (both layouts), figures, the results
page, and the grid-level MLflow run holding them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.reporting.delineation_examples import SignalOf


def write_outputs(
    results: Path,
    eval_keys: frozenset[str],
    manifest: Path,
    mirror: Any,
    started_ms: int,
    signal_of: SignalOf | None = None,
) -> None:
    """Tables, figures and page of this grid's cells; then its grid run (when tracking).
    ``signal_of`` fetches the records that delineation example figures draw (none without)."""
    from bench.commands.report_page import page_links
    from bench.errors import DataError
    from bench.reporting.delineation_examples import write_delineation_examples
    from bench.reporting.figures import write_figures
    from bench.reporting.leaderboard import (
        LeaderboardOptions,
        leaderboard_frame,
        write_leaderboards,
    )
    from bench.reporting.outputs import write_paper_tables
    from bench.reporting.page import write_report
    from bench.reporting.robustness import write_robustness
    from bench.reporting.scaling import write_scaling_figures

    options = LeaderboardOptions(eval_keys=eval_keys)
    artifacts: dict[str, list[Path]] = {"grid": [manifest]}
    tracker = mirror.tracker if mirror is not None else None
    try:
        frame = leaderboard_frame(results, options)
        tables = write_leaderboards(results, options=options, frame=frame)
        tables.update(write_paper_tables(results, options=options, frame=frame))
        figures = write_figures(results, eval_keys=eval_keys)
        robust = write_robustness(results, eval_keys)  # tables and figures, if noise levels ran
        figures += [path for path in robust if path.suffix == ".png"]
        tables.update({path.name: path for path in robust if path.parent.name == "leaderboards"})
        figures += write_scaling_figures(results, eval_keys=eval_keys)
        if signal_of is not None:
            figures += write_delineation_examples(results, signal_of, eval_keys)
        links = page_links(results, None, tracker=tracker) if tracker is not None else None
        page = write_report(results, options=options, links=links, frame=frame)
    except DataError as error:
        print(f"no leaderboard written: {error}")
    else:
        print(f"leaderboards: {', '.join(str(p) for p in tables.values())}")
        print(f"figures: {len(figures)} in {figures[0].parent}" if figures else "figures: none")
        print(f"results page: {page}")
        artifacts["leaderboards"] = list(tables.values())
        artifacts["figures"] = [p for f in figures for p in (f, f.with_suffix(".pdf"))]
        for path in sorted(page.parent.rglob("*")):
            if path.is_file():
                folder = path.parent.relative_to(page.parent.parent).as_posix()
                artifacts.setdefault(folder, []).append(path)
    if mirror is not None:
        runs = mirror.log_grid(manifest.stem, eval_keys, artifacts, (started_ms, _now_ms()))
        for run in runs.values():
            print(f"MLflow grid run: {run}")


def _now_ms() -> int:
    return int(time.time() * 1000)

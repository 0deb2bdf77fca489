"""What ``bench run`` writes after its cells: leaderboards (both layouts, main metric and
AUPRC), figures, the results page, and the grid-level MLflow run holding them. Outputs already
built from the same inputs (``bench.reporting.freshness``) are kept, and so is a grid run that
holds them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.reporting.delineation_examples import SignalOf
    from bench.reporting.leaderboard import LeaderboardOptions

OUTPUTS_LEASE = "outputs"  # held while one runner checks, builds and logs the outputs


def write_outputs(
    results: Path,
    eval_keys: frozenset[str],
    manifest: Path,
    mirror: Any,
    started_ms: int,
    signal_of: SignalOf | None = None,
) -> None:
    """Tables, figures and page of this grid's cells (unless up to date); then its grid run
    (when tracking and not already logged from these outputs). ``signal_of`` fetches the
    records that delineation example figures draw (none without)."""
    from bench.commands.report_page import page_links
    from bench.grid.leases import Holder
    from bench.reporting.freshness import forget_outputs, fresh_artifacts, inputs_digest

    with Holder(results) as holder, holder.hold(OUTPUTS_LEASE, poll_s=0.2):  # one build at once
        tracker = mirror.tracker if mirror is not None else None
        links = page_links(results, None, tracker=tracker) if tracker is not None else None
        extras = {"delineation_examples": signal_of is not None}
        digest = inputs_digest(results, eval_keys, manifest, links, extras)
        artifacts = fresh_artifacts(results, digest)
        fresh = artifacts is not None
        if artifacts is None:
            forget_outputs(results)
            artifacts = _build(results, eval_keys, manifest, links, signal_of, digest)
        else:
            _report(artifacts, "up to date (inputs unchanged since they were built)")
        if mirror is None or (fresh and mirror.holds_grid(manifest.stem, eval_keys, digest)):
            return
        runs = mirror.log_grid(manifest.stem, eval_keys, artifacts, (started_ms, _now_ms()), digest)
        for run in runs.values():
            print(f"MLflow grid run: {run}")


def _build(
    results: Path,
    eval_keys: frozenset[str],
    manifest: Path,
    links: Any,
    signal_of: SignalOf | None,
    digest: str,
) -> dict[str, list[Path]]:
    """Write every output and the freshness stamp; returns the grid run's artifact folders
    (only the manifest when there is nothing to tabulate)."""
    from bench.errors import DataError
    from bench.reporting.delineation_examples import write_delineation_examples
    from bench.reporting.figures import write_figures
    from bench.reporting.freshness import write_stamp
    from bench.reporting.leaderboard import (
        LeaderboardOptions,
        leaderboard_frame,
        write_leaderboards,
    )
    from bench.reporting.outputs import write_paper_tables
    from bench.reporting.page import write_report
    from bench.reporting.robustness import write_robustness
    from bench.reporting.scaling import write_scaling_figures
    from bench.reporting.summary import summary_frame

    options = LeaderboardOptions(eval_keys=eval_keys)
    artifacts: dict[str, list[Path]] = {"grid": [manifest]}
    try:
        frame = leaderboard_frame(results, options)
        tables = write_leaderboards(results, options=options, frame=frame)
        summary = None
        if not frame.empty:
            summary = summary_frame(
                frame, results, options.n_boot, options.boot_seed, options.level, eval_keys
            )
        tables.update(write_paper_tables(results, options=options, frame=frame, summary=summary))
        tables.update(_auprc_tables(results, options))
        efficiency = write_figures(results, eval_keys=eval_keys)
        figures = list(efficiency)
        robust = write_robustness(results, eval_keys)  # tables and figures, if noise levels ran
        figures += [path for path in robust if path.suffix == ".png"]
        tables.update({path.name: path for path in robust if path.parent.name == "leaderboards"})
        figures += write_scaling_figures(results, eval_keys=eval_keys)
        if signal_of is not None:
            figures += write_delineation_examples(results, signal_of, eval_keys)
        page = write_report(
            results, options=options, links=links, frame=frame, summary=summary,
            figures=efficiency,
        )  # fmt: skip
    except DataError as error:
        print(f"no leaderboard written: {error}")
        return artifacts
    artifacts["leaderboards"] = list(tables.values())
    artifacts["figures"] = [p for f in figures for p in (f, f.with_suffix(".pdf"))]
    for path in sorted(page.parent.rglob("*")):
        if path.is_file():
            folder = path.parent.relative_to(page.parent.parent).as_posix()
            artifacts.setdefault(folder, []).append(path)
    _report(artifacts)
    write_stamp(results, digest, artifacts)
    return artifacts


def _auprc_tables(results: Path, options: LeaderboardOptions) -> dict[str, Path]:
    """The AUPRC leaderboards and paper tables beside the main ones (leaderboard_auprc.*,
    paper_auprc.*, summary_auprc.*), where the grid has classification cells."""
    import dataclasses

    from bench.reporting.leaderboard import leaderboard_frame, write_leaderboards
    from bench.reporting.outputs import write_paper_tables

    auprc = dataclasses.replace(options, metric="macro_auprc")
    frame = leaderboard_frame(results, auprc)
    if frame.empty:
        return {}
    written = write_leaderboards(results, options=auprc, frame=frame)
    paths = {path.name: path for path in written.values()}
    paths.update(write_paper_tables(results, options=auprc, frame=frame))
    return paths


def _report(artifacts: dict[str, list[Path]], note: str = "") -> None:
    """Print where the tables, figures and page are (from the grid run's artifact folders)."""
    tables = artifacts.get("leaderboards", [])
    figures = [p for p in artifacts.get("figures", []) if p.suffix == ".png"]
    pages = [p for p in artifacts.get("report", []) if p.suffix == ".html"]
    print(f"leaderboards: {', '.join(str(p) for p in tables)}")
    print(f"figures: {len(figures)} in {figures[0].parent}" if figures else "figures: none")
    print(f"results page: {pages[0] if pages else 'none'}")
    if note:
        print(f"outputs {note}")


def _now_ms() -> int:
    return int(time.time() * 1000)

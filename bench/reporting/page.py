"""The results page: ``<results>/report/index.html``, one static file (plus its images) with
the summary over tasks, each task's paper tables and label-efficiency figures, robustness figures
where a grid wrote them (``<results>/figures/*robustness*.png``), each pretraining's loss curve,
and links to the MLflow runs behind them (when given: tracking is not this stage's business).

Everything the page shows lies in the report folder (``figures/``, ``curves/``), so the folder
can be copied or zipped and opened anywhere without a server.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from bench.atomic import atomic_write
from bench.errors import DataError
from bench.grid.results import CellResult, load_results
from bench.reporting import page_html as markup
from bench.reporting.corpus_rows import row_name
from bench.reporting.curves import write_loss_curve
from bench.reporting.figures import write_figures
from bench.reporting.formats import PROTOCOL_NAMES, budget_label, protocol_rank
from bench.reporting.leaderboard import LeaderboardOptions, leaderboard_frame
from bench.reporting.links import PageLinks
from bench.reporting.paper import paper_tables, row_label
from bench.reporting.summary import summary_frame, summary_note, summary_tables
from bench.training.run_files import HISTORY_NAME

REPORT_DIR = "report"
PAGE_NAME = "index.html"
ROBUSTNESS_GLOB = "*robustness*.png"


def write_report(
    results_dir: str | Path,
    out_dir: str | Path | None = None,
    options: LeaderboardOptions | None = None,
    links: PageLinks | None = None,
    frame: pd.DataFrame | None = None,
    summary: pd.DataFrame | None = None,
    figures: Sequence[Path] | None = None,
) -> Path:
    """Write the page and its images (default folder ``<results>/report``); returns the page.

    ``frame`` and ``summary`` (the leaderboard and summary frames of ``options``) and
    ``figures`` (the PNGs ``write_figures`` wrote for them, copied with their PDF and CSV rather
    than drawn again) spare the work when the caller has them already.
    """
    results = Path(results_dir)
    options = options or LeaderboardOptions()
    links = links or PageLinks()
    frame = leaderboard_frame(results, options) if frame is None else frame
    if frame.empty:
        raise DataError(f"no finished cells under {results / 'runs'}; run `bench run` first")
    out = Path(out_dir) if out_dir is not None else results / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    if summary is None:
        summary = summary_frame(
            frame, results, options.n_boot, options.boot_seed, options.level, options.eval_keys
        )
    if figures is None:
        efficiency = write_figures(
            results, out / "figures", options.skip_invalid, options.eval_keys
        )
    else:
        efficiency = _copy_figures(figures, out / "figures")
    cells = load_results(results, status="ok", skip_invalid=True, eval_keys=options.eval_keys)
    seeds = _seed_links(frame, cells, links.cells)
    sections = [_summary_section(summary, options)]
    for task, task_frame in frame.groupby("task"):
        images = [p for p in efficiency if p.name.startswith(f"{task}_")]
        images.sort(key=lambda p: (figure_rank(p.name), p.name))  # linear probe first
        sections.append(_task_section(str(task), task_frame, images, out, seeds))
    robustness = _copy_robustness(results, out)
    if robustness:
        figures = markup.figures((_relative(p, out), p.stem) for p in robustness)
        sections.append(markup.section("robustness", "Robustness", figures))
    sections.append(_pretraining_section(results, cells, out, links.parents))
    nav = {"summary": "#summary", **{str(t): f"#task-{t}" for t in sorted(frame["task"].unique())}}
    nav.update({"pretrainings": "#pretrainings"})
    nav.update({f"MLflow: {group}": url for group, url in sorted(links.experiments.items())})
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    document = markup.page(f"ECG SSL benchmark results ({stamp})", sections, nav)
    page = out / PAGE_NAME
    atomic_write(page, lambda f: f.write(document.encode()))
    return page


def figure_rank(name: str) -> int:
    """Where a task's figure file ``<task>_<protocol>_...`` comes: in PROTOCOL_NAMES' order."""
    ranks = [protocol_rank(p) for p in PROTOCOL_NAMES if f"_{p}_" in name]
    return min(ranks, default=len(PROTOCOL_NAMES))


def _summary_section(summary: pd.DataFrame, options: LeaderboardOptions) -> str:
    tables = [markup.summary_table(title, rows) for title, rows in summary_tables(summary)]
    body = "".join(tables) + markup.paragraph(summary_note(options.level, options.n_boot))
    return markup.section("summary", "Summary over tasks", body)


def _task_section(
    task: str,
    frame: pd.DataFrame,
    images: list[Path],
    out: Path,
    seeds: Mapping[tuple[str, str, str, str], list[tuple[str, str]]],
) -> str:
    parts = []
    for (_, _, _, protocol), title, table in paper_tables(frame):
        here = {
            (label, f): v for (t, p, label, f), v in seeds.items() if (t, p) == (task, protocol)
        }
        parts.append(markup.paper_table(title, table, here))
    parts.append(markup.figures((_relative(p, out), p.stem) for p in images))
    return markup.section(f"task-{task}", task, "".join(parts))


def _seed_links(
    frame: pd.DataFrame, cells: list[CellResult], urls: Mapping[str, str]
) -> dict[tuple[str, str, str, str], list[tuple[str, str]]]:
    """(task, protocol, row label, budget label) -> [(seed label, run URL)] of each entry."""
    by_cell = {
        (c.profile, c.task, c.protocol, budget_label(c.fraction, c.shots), row_name(c), c.seed):
        c.eval_key
        for c in cells
    }  # fmt: skip
    found: dict[tuple[str, str, str, str], list[tuple[str, str]]] = defaultdict(list)
    for _, entries in frame.groupby(["profile", "task", "protocol", "method"]):
        label = row_label(entries)
        for _, entry in entries.iterrows():
            budget = budget_label(entry["fraction"], entry["shots"])
            where = (str(entry["task"]), str(entry["protocol"]), label, budget)
            cell = (entry["profile"], entry["task"], entry["method_protocol"], budget)
            cell += (entry["method"],)
            for seed in str(entry["seeds"]).split(";"):
                key = by_cell.get((*cell, int(seed)))
                if key in urls:
                    found[where].append((f"s{seed}", urls[key]))
    return found


def _pretraining_section(
    results: Path, cells: list[CellResult], out: Path, parents: Mapping[str, str]
) -> str:
    """Loss curves of the pretrainings behind the shown cells, each linked to its run."""
    used = sorted({(c.method, c.pretrain_key) for c in cells if c.pretrain_key})
    items, names = [], []
    for method, key in used:
        run_dir = results / "pretrain" / f"{method}-{key}"
        if not (run_dir / HISTORY_NAME).is_file():
            continue
        image = write_loss_curve(run_dir, out / "curves" / f"{run_dir.name}.png")
        items.append((_relative(image, out), run_dir.name))
        names.append(markup.link(f"{method} · {key}", parents.get(key)))
    if not items:
        return markup.section("pretrainings", "Pretrainings", markup.paragraph("none"))
    listing = f"<p>Runs: {' · '.join(names)}</p>"
    return markup.section("pretrainings", "Pretrainings", markup.figures(items) + listing)


def _copy_figures(figures: Sequence[Path], target: Path) -> list[Path]:
    """Copy each figure's PNG, PDF and CSV into ``target``; returns the copied PNGs."""
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for png in figures:
        for source in (png, png.with_suffix(".pdf"), png.with_suffix(".csv")):
            if source.resolve() != (target / source.name).resolve():
                atomic_write(target / source.name, lambda f, s=source: f.write(s.read_bytes()))
        copied.append(target / png.name)
    return copied


def _copy_robustness(results: Path, out: Path) -> list[Path]:
    copied = []
    for source in sorted((results / "figures").glob(ROBUSTNESS_GLOB)):
        target = out / "figures" / source.name
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        copied.append(target)
    return copied


def _relative(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()

"""``bench report``: the static results page ``<results>/report/index.html``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

from bench.evaluation.bootstrap import DEFAULT_LEVEL, DEFAULT_N_BOOT

log = logging.getLogger(__name__)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench report``."""
    parser = commands.add_parser(
        "report",
        help="write the results page (static HTML): summary, paper tables, figures, loss curves",
        description="Writes <results>/report/index.html and its images from the result files; "
        "entries link to their MLflow runs when the tracking store has them.",
    )
    parser.add_argument(
        "--results", metavar="DIR", help="results folder (default: $BENCH_RESULTS or ./results)"
    )
    parser.add_argument("--out", metavar="DIR", help="output folder (default: <results>/report)")
    parser.add_argument(
        "--grid", metavar="MANIFEST", help="only the cells of one `bench run` ('latest', a key)"
    )
    parser.add_argument(
        "--n-boot", type=int, default=DEFAULT_N_BOOT, help="bootstrap resamples (default 1000)"
    )
    parser.add_argument(
        "--level", type=float, default=DEFAULT_LEVEL, help="CI level (default 0.9: 5-95 %%)"
    )
    parser.add_argument("--tracking-uri", metavar="URI", help="MLflow store (default as bench run)")
    parser.add_argument("--no-tracking", action="store_true", help="no links to MLflow runs")
    parser.add_argument(
        "--mlflow-url",
        metavar="URL",
        help="where the MLflow UI is served (default: the tracking server, else the address "
        "of `bench mlflow-ui`, http://127.0.0.1:5000)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write the page; print its path."""
    from bench.config import check_range
    from bench.grid.manifest import read_grid_keys
    from bench.paths import results_dir
    from bench.reporting.leaderboard import LeaderboardOptions
    from bench.reporting.page import write_report
    from bench.reporting.robustness import write_robustness

    check_range("--n-boot", args.n_boot, 1)
    check_range("--level", args.level, 0.01, 0.999)
    results = results_dir(args.results)
    keys = read_grid_keys(results, args.grid) if args.grid else None
    options = LeaderboardOptions(n_boot=args.n_boot, level=args.level, eval_keys=keys)
    links = None if args.no_tracking else page_links(results, args.tracking_uri, args.mlflow_url)
    for path in write_robustness(results, keys):  # noise robustness tables and figures, if any
        print(path)
    print(write_report(results, args.out, options, links))
    return 0


def page_links(
    results: Path,
    uri: str | None,
    ui_url: str | None = None,
    groups: Collection[str] | None = None,
    tracker: Any = None,
) -> Any:
    """The MLflow UI links of the runs behind the page; None when the store is unreachable.
    MLflow is imported only once there is a store to read."""
    from bench.tracking.uri import DB_NAME, tracking_uri

    default = tracking_uri(uri, results) == _default_store(results, DB_NAME)
    if tracker is None and default and not (results / DB_NAME).is_file():
        return None  # nothing was tracked: do not create an empty store
    from bench.grid.results import load_results
    from bench.reporting.links import PageLinks
    from bench.tracking.grid_run import run_links, ui_url_for
    from bench.tracking.sync import Tracker, TrackingError

    try:
        tracker = tracker or Tracker(uri, results)
        if groups is None:
            groups = {r.task_group for r in load_results(results, skip_invalid=True)}
        found = run_links(tracker, ui_url or ui_url_for(tracker.uri), groups)
    except TrackingError as error:
        log.warning("results page without MLflow links: %s", error)
        return None
    return PageLinks(found.cells, found.parents, found.experiments)


def _default_store(results: Path, db_name: str) -> str:
    return f"sqlite:///{(results / db_name).resolve()}"

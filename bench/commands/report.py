"""``bench leaderboard`` and ``bench plot``: tables and figures rebuilt from result files alone."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bench.evaluation.bootstrap import DEFAULT_LEVEL, DEFAULT_N_BOOT
from bench.paths import results_dir

if TYPE_CHECKING:
    from bench.reporting.leaderboard import LeaderboardOptions


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench leaderboard`` and ``bench plot``."""
    board = commands.add_parser(
        "leaderboard",
        help="write Markdown, CSV and LaTeX leaderboards from the result files",
        description="Rows = methods, columns = tasks, one table per protocol and label fraction"
        " (or shots per class); macro AUROC mean ± std over seeds, bootstrap CI, best in bold,"
        " † / ‡ = significantly better than random_init / supervised (paired bootstrap); the"
        " same tables of macro AUPRC beside them (*_auprc.*).",
    )
    _add_folders(board, "leaderboards")
    board.add_argument(
        "--protocol",
        nargs="+",
        choices=["linear", "finetune", "attentive", "knn"],
        help="only these protocols",
    )
    board.add_argument(
        "--fraction", nargs="+", type=float, metavar="F", help="only these label fractions"
    )
    board.add_argument(
        "--shots", nargs="+", type=int, metavar="K", help="only these few-shot counts"
    )
    board.add_argument(
        "--metric",
        choices=["main", "auprc", "both"],
        default="both",
        help="main: each task's main metric (leaderboard.*, paper.*); auprc: macro AUPRC of "
        "the classification tasks (leaderboard_auprc.*, paper_auprc.*); both (default)",
    )
    board.add_argument(
        "--min-positives",
        type=int,
        default=0,
        metavar="N",
        help="macro AUROC / AUPRC over the classes with at least N positive test records "
        "(default 0: every class with positives and negatives)",
    )
    board.add_argument(
        "--per-class",
        metavar="TASK",
        help="write per_class_<TASK>.md/.csv instead: each class's AUROC / AUPRC per method "
        "with its test positives, classes with fewer than 10 flagged",
    )
    board.add_argument(
        "--n-boot", type=int, default=DEFAULT_N_BOOT, help="bootstrap resamples (default 1000)"
    )
    board.add_argument(
        "--level", type=float, default=DEFAULT_LEVEL, help="CI level (default 0.9: 5-95 %%)"
    )
    board.add_argument(
        "--alpha", type=float, default=0.05, help="significance level of the markers"
    )
    board.add_argument(
        "--correction",
        choices=["bh", "holm"],
        default="bh",
        help="multiple-testing adjustment over each table's tests: bh (Benjamini-Hochberg, "
        "false discovery rate; default) or holm (family-wise error rate)",
    )
    board.add_argument(
        "--skip-invalid", action="store_true", help="skip unreadable result files with a warning"
    )
    board.add_argument(
        "--layout",
        choices=["tasks", "paper"],
        default="tasks",
        help="tasks: leaderboard.* (a table per protocol and fraction, a column per task); "
        "paper: paper.* (per task and protocol, a column per label fraction) and summary.* "
        "(mean macro AUROC and mean rank over tasks)",
    )
    board.set_defaults(handler=run_leaderboard)

    plot = commands.add_parser(
        "plot",
        help="write label-efficiency figures (PNG, PDF and the CSV behind each)",
        description="One figure per task and protocol: macro AUROC against the label fraction.",
    )
    _add_folders(plot, "figures")
    plot.add_argument(
        "--skip-invalid", action="store_true", help="skip unreadable result files with a warning"
    )
    plot.set_defaults(handler=run_plot)


def run_leaderboard(args: argparse.Namespace) -> int:
    """Build and write the leaderboards; print where they went."""
    import dataclasses

    from bench.config import check_range
    from bench.reporting.leaderboard import LeaderboardOptions

    check_range("--n-boot", args.n_boot, 1)
    check_range("--level", args.level, 0.01, 0.999)
    check_range("--alpha", args.alpha, 1e-6, 0.5)
    check_range("--min-positives", args.min_positives, 0)
    for fraction in args.fraction or ():
        check_range("--fraction", fraction, 1e-9, 1.0)
    for shots in args.shots or ():
        check_range("--shots", shots, 1)
    options = LeaderboardOptions(
        protocols=tuple(args.protocol) if args.protocol else None,
        fractions=tuple(args.fraction) if args.fraction else None,
        shots=tuple(args.shots) if args.shots else None,
        n_boot=args.n_boot,
        level=args.level,
        alpha=args.alpha,
        correction=args.correction,
        skip_invalid=args.skip_invalid,
        eval_keys=_grid_keys(args),
        min_positives=args.min_positives,
    )
    results = results_dir(args.results)
    if args.per_class:
        from bench.reporting.per_class import write_per_class

        paths = list(write_per_class(results, args.per_class, args.out, options).values())
    else:
        metrics = {"main": ["main"], "auprc": ["macro_auprc"], "both": ["main", "macro_auprc"]}
        paths = []
        for metric in metrics[args.metric]:
            chosen = dataclasses.replace(options, metric=metric)
            paths += _write_tables(results, args, chosen, required=args.metric != "both")
    for path in paths:
        print(path)
    return 0


def _write_tables(
    results: Path, args: argparse.Namespace, options: LeaderboardOptions, required: bool
) -> list[Path]:
    """The ``--layout`` files of ``options`` (its metric); none when an AUPRC table has no
    classification cells and is not ``required``."""
    from bench.errors import DataError
    from bench.reporting.leaderboard import leaderboard_frame, write_leaderboards
    from bench.reporting.outputs import write_paper_tables

    frame = leaderboard_frame(results, options)
    if frame.empty and options.metric != "main" and not required:
        return []
    if frame.empty:
        raise DataError(
            f"no finished cells under {results / 'runs'} match the requested protocols, label "
            "budgets and metric; run `bench run` first"
        )
    if args.layout == "paper":
        return list(write_paper_tables(results, args.out, options, frame).values())
    return list(write_leaderboards(results, args.out, options, frame).values())


def run_plot(args: argparse.Namespace) -> int:
    """Draw and write every label-efficiency figure; print the PNG paths."""
    from bench.reporting.figures import write_figures

    results = results_dir(args.results)
    for path in write_figures(results, args.out, args.skip_invalid, _grid_keys(args)):
        print(path)
    return 0


def _grid_keys(args: argparse.Namespace) -> frozenset[str] | None:
    from bench.grid.manifest import read_grid_keys

    return read_grid_keys(results_dir(args.results), args.grid) if args.grid else None


def _add_folders(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument(
        "--results", metavar="DIR", help="results folder (default: $BENCH_RESULTS or ./results)"
    )
    parser.add_argument(
        "--out", metavar="DIR", help=f"output folder (default: <results>/{default_out})"
    )
    parser.add_argument(
        "--grid",
        metavar="MANIFEST",
        help="only the cells of one `bench run`: 'latest', a manifest key or path "
        "(<results>/grids/); default: every result file",
    )

"""``bench leaderboard`` and ``bench plot``: tables and figures rebuilt from result files alone."""

from __future__ import annotations

import argparse

from bench.evaluation.bootstrap import DEFAULT_LEVEL, DEFAULT_N_BOOT
from bench.paths import results_dir


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench leaderboard`` and ``bench plot``."""
    board = commands.add_parser(
        "leaderboard",
        help="write Markdown, CSV and LaTeX leaderboards from the result files",
        description="Rows = methods, columns = tasks, one table per protocol and label fraction;"
        " macro AUROC mean ± std over seeds, bootstrap CI, best in bold, † / ‡ = significantly"
        " better than random_init / supervised (paired bootstrap).",
    )
    _add_folders(board, "leaderboards")
    board.add_argument(
        "--protocol", nargs="+", choices=["linear", "finetune"], help="only these protocols"
    )
    board.add_argument(
        "--fraction", nargs="+", type=float, metavar="F", help="only these label fractions"
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
    from bench.config import check_range
    from bench.reporting.leaderboard import LeaderboardOptions, write_leaderboards

    check_range("--n-boot", args.n_boot, 1)
    check_range("--level", args.level, 0.01, 0.999)
    check_range("--alpha", args.alpha, 1e-6, 0.5)
    for fraction in args.fraction or ():
        check_range("--fraction", fraction, 1e-9, 1.0)
    options = LeaderboardOptions(
        protocols=tuple(args.protocol) if args.protocol else None,
        fractions=tuple(args.fraction) if args.fraction else None,
        n_boot=args.n_boot,
        level=args.level,
        alpha=args.alpha,
        correction=args.correction,
        skip_invalid=args.skip_invalid,
        eval_keys=_grid_keys(args),
    )
    if args.layout == "paper":
        from bench.reporting.outputs import write_paper_tables

        paths = write_paper_tables(results_dir(args.results), args.out, options)
    else:
        paths = write_leaderboards(results_dir(args.results), args.out, options)
    for path in paths.values():
        print(path)
    return 0


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

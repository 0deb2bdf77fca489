"""``bench check [--repair]``: scan a results folder for corrupt, orphaned and stale files."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench check``."""
    parser = commands.add_parser(
        "check",
        help="verify result files, checkpoints, caches and leases; --repair moves bad ones aside",
        description="Checks every result file (JSON + predictions), pretraining checkpoint, "
        "embedding and dataset cache against its checksum and lists leases whose runner is "
        "gone. --repair moves corrupt and orphaned files aside (never deletes them), so the "
        "next `bench run` redoes them, and removes stale leases.",
    )
    parser.add_argument("--results", metavar="DIR", help="results folder (default $BENCH_RESULTS)")
    parser.add_argument("--repair", action="store_true", help="move bad files aside")
    parser.add_argument("--all", action="store_true", help="list sound files too")
    parser.set_defaults(handler=check)


def check(args: argparse.Namespace) -> int:
    """Print one line per file that is not sound, then the counts; 1 when problems remain."""
    from bench.grid.check import counts, repair, scan
    from bench.paths import cache_dir, results_dir

    results = results_dir(args.results)
    cache = cache_dir() if args.results is None else cache_dir(results / "cache")
    findings = scan(results, cache)
    for finding in findings:
        if finding.state != "sound" or args.all:
            detail = f": {finding.detail}" if finding.detail else ""
            print(f"{finding.state:<11} {finding.kind:<13} {finding.path}{detail}")
    tally = counts(findings)
    print(f"{results}: " + ", ".join(f"{n} {state}" for state, n in tally.items()))
    problems = tally["corrupt"] + tally["orphaned"] + tally["stale"]
    if args.repair and problems:
        for line in repair(findings, results):
            print(f"repaired: {line}")
        return 0
    return 1 if problems else 0

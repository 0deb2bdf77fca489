"""``bench plan``: what a ``bench run`` grid costs before it runs (``bench.perf.grid_cost``).

Takes every option of ``bench run`` and plans the grid as it would; then counts the FLOPs of
the planned work per pretraining and per protocol and projects the hours on this machine (its
measured matmul peak) and on a named device class at a share of its peak.
"""

from __future__ import annotations

import argparse

from bench.commands.run import add_parser as add_run_parser
from bench.errors import ConfigError


def _run_options() -> argparse.ArgumentParser:
    """``bench run``'s parser (its options, read from its own definition)."""
    holder = argparse.ArgumentParser(add_help=False).add_subparsers()
    add_run_parser(holder)
    return holder.choices["run"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench plan``."""
    parser = commands.add_parser(
        "plan",
        parents=[_run_options()],
        conflict_handler="resolve",
        help="the counted FLOPs and projected hours of a `bench run` grid, before running it",
        description="Plan a `bench run` grid (same options) and print its counted FLOPs per "
        "pretraining and per protocol, with projected hours on this machine and on a device "
        "class. --dry-run, --launcher and the tracking options change nothing here.",
    )
    parser.add_argument(
        "--device-class",
        default="h100",
        help="the device class to project on (h100, h100-pcie, h100-nvl, h200, a100, l40s, l4; "
        "default h100)",
    )
    parser.add_argument(
        "--device-share",
        type=float,
        default=0.4,
        metavar="FRACTION",
        help="the share of the device class's peak the work sustains (default 0.4)",
    )
    parser.add_argument(
        "--device-precision",
        choices=["bf16", "fp32"],
        default="bf16",
        help="the peak the share applies to (default bf16)",
    )
    parser.add_argument(
        "--train-records",
        action="append",
        default=[],
        metavar="DATASET=N",
        help="count DATASET as if it held N training records, every split scaled alike (e.g. "
        "ptbxl=17441, the full PTB-XL, from a subset: the counts need only the sizes)",
    )
    parser.add_argument(
        "--pretrain-draws",
        type=int,
        default=4,
        metavar="N",
        help="counted steps per pretraining (the mean over the method's random masks; 4)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Plan the grid, count it, print the cost table."""
    from bench.commands.run import flag_values
    from bench.config import deep_merge, parse_overrides
    from bench.grid.plan import load_run_config
    from bench.grid.runner import plan_grid, workspace_for
    from bench.perf.grid_cost import cost_rows, device_class_rate, format_cost, machine_rate
    from bench.perf.grid_flops import GridCounter

    if args.pretrain_draws < 1:
        raise ConfigError(f"--pretrain-draws {args.pretrain_draws} must be at least 1")
    device_rate = device_class_rate(args.device_class, args.device_share, args.device_precision)
    config = load_run_config(
        args.config, deep_merge(flag_values(args), parse_overrides(args.overrides))
    )
    workspace = workspace_for(config, progress=not args.no_progress)
    cells = plan_grid(config, workspace)
    records = parse_train_records(args.train_records)
    counted = GridCounter(workspace, args.pretrain_draws, records).count(cells)
    print(f"{len(cells)} cells" + "".join(f"; {d} counted at {n} training records"
                                          for d, n in records.items()))  # fmt: skip
    for line in format_cost(cost_rows(counted), [machine_rate(), device_rate]):
        print(line)
    return 0


def parse_train_records(items: list[str]) -> dict[str, int]:
    """``--train-records ptbxl=17441`` entries as {dataset: count}."""
    records: dict[str, int] = {}
    for item in items:
        name, _, count = item.partition("=")
        if not name or not count.isdigit() or int(count) < 1:
            raise ConfigError(f"--train-records {item!r}: give DATASET=N, e.g. ptbxl=17441")
        records[name] = int(count)
    return records

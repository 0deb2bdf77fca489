"""``bench checkpoints [list|fetch NAME|overlap TASK...]``: the published models."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench checkpoints``."""
    parser = commands.add_parser(
        "checkpoints",
        help="published ECG foundation models: list, fetch weights, leakage against tasks",
        description="List the published checkpoints (architecture, parameters, official input, "
        "licence, where the weights live, pretraining corpus, whether the file is here), fetch "
        "one hosted on the Hugging Face hub, or show which tasks' data each model saw.",
    )
    parser.add_argument("action", nargs="?", default="list", choices=["list", "fetch", "overlap"])
    parser.add_argument("names", nargs="*", help="fetch: checkpoint names; overlap: tasks/groups")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the catalogue, fetch files, or print the overlap table."""
    from bench.checkpoints import catalogue

    if args.action == "fetch":
        return _fetch(args.names)
    if args.action == "overlap":
        from bench.task import TASKS, expand_tasks

        tasks = {name: TASKS.get(name).data_sources() for name in expand_tasks(args.names)}
        for model, task, note in catalogue.overlap_table(tasks):
            print(f"{model:<22} {task:<22} {note}")
        return 0
    for method in catalogue.checkpoint_methods():
        row = catalogue.catalogue_row(method)
        print(f"{row.name}  ({row.title}; {row.licence})")
        print(f"  architecture  {row.architecture}, {row.parameters / 1e6:.1f} M parameters")
        print(f"  input         {row.official_input}")
        print(f"  corpus        {row.corpus}")
        print(f"  weights       {row.file_name} from {row.url}")
        print(f"  here          {row.local}")
    return 0


def _fetch(names: list[str]) -> int:
    """Download each named checkpoint hosted on the hub (DataError when unreachable)."""
    from bench.checkpoints.catalogue import checkpoint_method
    from bench.checkpoints.hub import fetch
    from bench.errors import ConfigError

    if not names:
        raise ConfigError("bench checkpoints fetch needs one or more checkpoint names")
    for name in names:
        method = checkpoint_method(name)
        print(f"{name}: {fetch(name, method.card)}")
    return 0

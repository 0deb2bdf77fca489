"""``bench list methods|tasks|encoders``: what is registered."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench list``."""
    parser = commands.add_parser("list", help="list registered methods, tasks or encoders")
    parser.add_argument("what", choices=["methods", "tasks", "encoders"])
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print one registered name per line with a short description."""
    if args.what == "methods":
        from bench.method import METHODS

        for name, method in METHODS.items():
            kind = "SSL" if method.needs_pretraining else "baseline"
            print(f"{name:<22} {kind:<9} {_summary(method)}")
    elif args.what == "tasks":
        from bench.task import TASKS

        for name, task in TASKS.items():
            print(f"{name:<26} group={task.group:<10} dataset={task.dataset}")
    else:
        from bench.encoders.base import ENCODERS

        for name, encoder in ENCODERS.items():
            print(f"{name:<20} {_summary(encoder)}")
    return 0


def _summary(obj: object) -> str:
    doc = (obj.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""

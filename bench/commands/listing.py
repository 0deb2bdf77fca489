"""``bench list methods|tasks|encoders|corpora``: what is registered (corpora: the presets;
methods: with their matched baselines, ``bench.commands.method_listing``)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench list``."""
    parser = commands.add_parser("list", help="list registered methods, tasks or encoders")
    parser.add_argument("what", choices=["methods", "tasks", "encoders", "corpora"])
    parser.add_argument(
        "--records",
        action="store_true",
        help="tasks: also load each task's data (its cache, built from $BENCH_<NAME>_ROOT on "
        "first use) and print its classes / targets and records; unloadable ones say why",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print one registered name per line with a short description."""
    if args.what == "methods":
        from bench.commands.method_listing import format_rows, method_rows

        for line in format_rows(method_rows()):
            print(line)
    elif args.what == "tasks":
        from bench.task import TASKS
        from bench.task.files import register_path_tasks

        register_path_tasks()  # the task files on $BENCH_TASKS_PATH
        for name, task in TASKS.items():
            direction = "higher" if task.higher_is_better else "lower"
            line = f"{name:<22} {task.kind:<10} main={task.main_metric} ({direction} is better)"
            line = f"{line:<58} group={task.group:<16} dataset={task.dataset}"
            if task.fractions is not None:  # the task's own label fractions
                line += " fractions=" + ",".join(f"{f:g}" for f in task.fractions)
            print(line + (f"  {_task_size(task)}" if args.records else ""))
    elif args.what == "corpora":
        for line in _corpus_lines():
            print(line)
    else:
        from bench.encoders.base import ENCODERS

        for name, encoder in ENCODERS.items():
            print(f"{name:<20} {_summary(encoder)}")
    return 0


def _corpus_lines() -> list[str]:
    """Each preset corpus: name, datasets (sources, caps), missing sources, description."""
    from bench.data.corpus.presets import PRESETS
    from bench.data.loading import DATASETS

    lines = []
    for name, spec in PRESETS.items():
        parts = []
        for part in spec.parts:
            text = part.dataset + (f"[{','.join(part.sources)}]" if part.sources else "")
            parts.append(text + (f" (max {part.max_records})" if part.max_records else ""))
        missing = [d for d in spec.datasets if d not in DATASETS]
        note = f"  (no source for {', '.join(missing)} installed)" if missing else ""
        lines.append(f"{name:<20} {' + '.join(parts)}{note}")
        lines.append(f"{'':<20} {spec.description}")
    return lines


def _task_size(task: Any) -> str:
    """'N classes|targets: a, b, ...; M records' of a task's loaded data, or why it failed."""
    from bench.errors import BenchError

    try:
        data = task.load()
    except (BenchError, OSError) as error:
        return f"(not loaded: {str(error).splitlines()[0]})"
    noun = "targets" if task.kind == "regression" else "classes"
    names = ", ".join(data.label_names[:8]) + (", ..." if len(data.label_names) > 8 else "")
    return f"{len(data.label_names)} {noun}: {names}; {len(data.labels)} records"


def _summary(obj: object) -> str:
    doc = (obj.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""

"""``bench fractions``: the nested, stratified label-fraction subsets of a task's training folds."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.evaluation.fractions import DEFAULT_FRACTIONS

if TYPE_CHECKING:
    import pandas as pd


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench fractions``."""
    parser = commands.add_parser(
        "fractions",
        help="show the label-fraction subsets of a task's training folds",
        description=(
            "Print, per label fraction, the records, patients and positives per class of the "
            "subset drawn from the training folds (1-8): nested across fractions, stratified, "
            "by patient, with a positive of every class wherever the training folds have one."
        ),
    )
    parser.add_argument("--task", required=True, help="task name, e.g. synthetic or ptbxl_all")
    parser.add_argument(
        "--data-root",
        metavar="PATH",
        help="the dataset's folder (default: $BENCH_<DATASET>_ROOT; not needed for synthetic)",
    )
    parser.add_argument("--seed", type=int, default=0, help="subset seed (default: 0)")
    parser.add_argument(
        "--fractions",
        type=float,
        nargs="+",
        default=list(DEFAULT_FRACTIONS),
        metavar="F",
        help="fractions in (0, 1] (default: %(default)s)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load the task and print its fraction report, one column per fraction."""
    from bench.evaluation.fractions import check_fraction, fraction_report
    from bench.task import TASKS

    fractions = [check_fraction(value, "--fractions") for value in args.fractions]
    task = TASKS.get(args.task)
    data = task.load(Path(args.data_root) if args.data_root else None)
    train = data.split_indices("train")
    report = fraction_report(
        data.labels[train],
        data.patient_ids[train],
        fractions,
        seed=args.seed,
        label_names=data.label_names,
    )
    print(
        f"task {task.name}: {len(train)} training records (folds 1-8) of "
        f"{len(np.unique(data.patient_ids[train]))} patients, {len(data.label_names)} classes, "
        f"seed {args.seed}"
    )
    print(format_report(report).to_string())
    return 0


def format_report(report: pd.DataFrame) -> pd.DataFrame:
    """The report transposed for reading: one column per fraction, one row per quantity."""
    import pandas as pd

    columns = {}
    for _, row in report.iterrows():
        values = [f"{row['realised']:.4f}"] + [f"{int(v)}" for v in row.iloc[2:]]
        columns[f"{row['fraction']:g}"] = values
    index = ["realised fraction", *report.columns[2:]]
    return pd.DataFrame(columns, index=index)

"""``bench data prepare|download``: build a dataset's cache, or fetch its official archive."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.data.signals import SignalSet

PREPARE_HELP = """\
Read the official layout under the data root once into a memory-mapped cache (reused while the
source files are unchanged), then print records per fold and, for every task of the dataset,
its classes and records.

Bad records (listed but missing, truncated, NaNs, fewer than 12 or unknown leads, wrong
sampling rate or length): by default every record is checked, then one error lists them all
and nothing is cached. With --skip-bad-records they are dropped; their ids and reasons are
printed and stored in the cache's manifest.json, and later loads reuse that cache."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench data prepare`` and ``bench data download``."""
    parser = commands.add_parser("data", help="prepare or download datasets")
    actions = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    prepare = actions.add_parser(
        "prepare",
        help="build (or reuse) a dataset's cache and summarise it",
        description=PREPARE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prepare.add_argument("dataset", help="dataset name, e.g. ptbxl")
    prepare.add_argument(
        "--root",
        "--data-root",
        dest="root",
        metavar="PATH",
        help="the dataset's folder (default: $BENCH_<DATASET>_ROOT, e.g. BENCH_PTBXL_ROOT)",
    )
    prepare.add_argument(
        "--rate", type=int, default=100, help="wanted sampling rate in Hz (default: 100)"
    )
    prepare.add_argument(
        "--jobs", type=int, default=None, help="reader processes (default: every CPU core)"
    )
    prepare.add_argument(
        "--skip-bad-records",
        action="store_true",
        help="drop bad records (reported and stored in the manifest) instead of failing",
    )
    prepare.add_argument(
        "--cache", metavar="PATH", help="cache folder (default: $BENCH_CACHE_DIR or results/cache)"
    )
    prepare.set_defaults(handler=run_prepare)

    download = actions.add_parser(
        "download", help="download a dataset's official archive (needs the internet)"
    )
    download.add_argument("dataset", help="dataset name, e.g. ptbxl")
    download.add_argument(
        "--dest", metavar="PATH", help="where to unpack it (default: ~/.cache/ecg-ssl-bench/NAME)"
    )
    download.set_defaults(handler=run_download)


def run_prepare(args: argparse.Namespace) -> int:
    """Build or reuse the cache and print what it holds."""
    from bench.config import check_range
    from bench.data.cache import PreparableSource
    from bench.data.loading import DATASETS, resolve_root
    from bench.errors import DataError
    from bench.paths import cache_dir

    check_range("--rate", args.rate, 1)
    if args.jobs is not None:
        check_range("--jobs", args.jobs, 1)
    source = DATASETS.get(args.dataset)
    if not isinstance(source, PreparableSource):
        raise DataError(f"dataset {args.dataset!r} has no cache to prepare")
    prepared = source.prepare(
        resolve_root(args.dataset, args.root),
        args.rate,
        cache_dir(args.cache),
        jobs=args.jobs,
        on_bad_record="skip" if args.skip_bad_records else "error",
    )
    data = prepared.data
    verb = "built" if prepared.built else "reused"
    print(f"{args.dataset}: cache {verb} in {prepared.seconds:.2f} s at {prepared.path}")
    print(
        f"  {len(data.signals)} records, {len(data.lead_names)} leads x "
        f"{data.signals.shape[-1]} samples at {data.sampling_rate} Hz, "
        f"fingerprint {data.fingerprint}"
    )
    if data.sampling_rate != args.rate:
        print(f"  (the native rate used for --rate {args.rate}; preprocessing resamples)")
    if prepared.skipped:
        print(f"  {len(prepared.skipped)} bad records were skipped (listed in manifest.json):")
        for bad in prepared.skipped:
            print(f"    {bad.record_id} ({bad.file}): {bad.reason}")
    _print_folds(data)
    _print_tasks(args.dataset, data)
    return 0


def _print_folds(data: SignalSet) -> None:
    from bench.data.signals import SPLIT_FOLDS

    counts = Counter(data.meta["fold"].astype(int))
    print("records per fold:")
    print("  " + "  ".join(f"{fold}: {counts[fold]}" for fold in sorted(counts)))
    splits = {split: sum(counts[f] for f in folds) for split, folds in SPLIT_FOLDS.items()}
    print("  " + ", ".join(f"{split} {count}" for split, count in splits.items()))


def _print_tasks(dataset: str, data: SignalSet) -> None:
    import numpy as np

    from bench.data.signals import SPLIT_FOLDS
    from bench.task import TASKS

    tasks = [(name, task) for name, task in TASKS.items() if task.dataset == dataset]
    if not tasks:
        return
    print(f"tasks on {dataset}:")
    width = max(len(name) for name, _ in tasks)
    for name, task in tasks:
        labels = task.labels(data)
        folds = data.meta["fold"].to_numpy()[labels.keep]
        splits = " / ".join(
            f"{split} {int(np.isin(folds, members).sum())}"
            for split, members in SPLIT_FOLDS.items()
        )
        print(
            f"  {name:<{width}}  {len(labels.names):>3} classes  "
            f"{int(labels.keep.sum()):>6} records ({splits})"
        )


def run_download(args: argparse.Namespace) -> int:
    """Download and unpack the archive, then say how to use it."""
    from pathlib import Path

    from bench.data.download import download
    from bench.paths import dataset_root_env

    dest = download(args.dataset, Path(args.dest) if args.dest else None)
    print(f"{args.dataset} downloaded to {dest}")
    print(f"use it with --data-root {dest} or: export {dataset_root_env(args.dataset)}={dest}")
    return 0

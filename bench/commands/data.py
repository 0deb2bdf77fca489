"""``bench data prepare|info|overlap|download``: build a dataset's cache, describe it, count
the records two caches share, or fetch a dataset's official archive."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from bench.data.signals import SignalSet
    from bench.data.storage.cache import BadRecord

PREPARE_HELP = """\
Read the official layout under the data root once into a memory-mapped cache (reused while the
source files are unchanged), then print records per fold and, for every task of the dataset,
its classes and records.

Bad records (listed but missing, truncated, NaNs, a missing standard lead, wrong sampling
rate or length, a unit other than mV / uV / V, an uncalibrated gain of 0): by default every
record is checked, then one error lists them all and nothing is cached. With --skip-bad-records
they are dropped; their ids and reasons are printed and stored in the cache's manifest.json,
and later loads (bench run's too) reuse that cache. Signals besides the 12 standard leads
(PTB's vx, vy, vz) are dropped and units converted to mV, each with a note in the manifest.

Datasets of differing rates and lengths (cinc2021, cpsc2018, ludb, wfdb) are resampled to
--rate and stored at their true lengths; the summary gives records per source, native rates,
a length histogram, classes with counts, notes and skipped records."""

SOURCE_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("--sources", "sources", "cinc2021: comma-separated sources, e.g. cpsc,georgia,chapman,ningbo"),
    ("--dx-tables", "dx_tables", "cinc2021: folder of the Challenge dx mapping CSVs"),
    ("--labels", "labels", "wfdb: a labels CSV (one row per record)"),
    (
        "--uncalibrated",
        "uncalibrated",
        "wfdb, cinc2021: 'accept' reads records with a gain of 0 (uncalibrated) at WFDB's "
        "default gain 200, with a note (default 'refuse': they are bad records)",
    ),
    ("--storage", "storage", "mimic-iv-ecg, code15: int16 (default) or float16 samples"),
    ("--shard-mb", "shard_mb", "mimic-iv-ecg, code15: stored MB per shard (default 128)"),
    (
        "--label-columns",
        "label_columns",
        "wfdb: its record and labels columns (default record,labels)",
    ),
)


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
    for flag, dest, text in SOURCE_OPTIONS:
        prepare.add_argument(flag, dest=dest, metavar="VALUE", help=text)
    prepare.add_argument(
        "--dataset-root",
        action="append",
        default=[],
        metavar="DATASET=PATH",
        help="a corpus (DATASET is a preset, a corpus YAML or datasets joined by '+'): the "
        "folder of one of its datasets (repeatable; else $BENCH_<NAME>_ROOT)",
    )
    prepare.add_argument(
        "--exclude-for",
        nargs="+",
        metavar="TASK",
        help="a corpus: exclude the records in these tasks' val/test folds (as bench run does)",
    )
    prepare.add_argument(
        "--records", metavar="N", help="a corpus: report a nested subset of N records"
    )
    prepare.set_defaults(handler=run_prepare)

    info = actions.add_parser("info", help="describe a prepared cache (no source needed)")
    info.add_argument("dataset", help="dataset name, e.g. ludb")
    info.add_argument("--rate", type=int, help="the cache at this rate (default: the newest)")
    info.add_argument("--cache", metavar="PATH", help="cache folder (default: results/cache)")
    info.set_defaults(handler=run_info)

    overlap = actions.add_parser(
        "overlap", help="records two prepared datasets share, by id mapping and by fingerprint"
    )
    overlap.add_argument("first", help="a prepared dataset, e.g. ptbxl")
    overlap.add_argument("second", help="another one, e.g. cinc2021")
    overlap.add_argument("--rate", type=int, help="use the caches at this rate (default newest)")
    overlap.add_argument("--cache", metavar="PATH", help="cache folder (default: results/cache)")
    overlap.set_defaults(handler=run_overlap)

    download = actions.add_parser(
        "download", help="download a dataset's official archive (needs the internet)"
    )
    download.add_argument("dataset", help="dataset name, e.g. ptbxl")
    download.add_argument(
        "--dest", metavar="PATH", help="where to unpack it (default: ~/.cache/ecg-ssl-bench/NAME)"
    )
    download.set_defaults(handler=run_download)


def run_prepare(args: argparse.Namespace) -> int:
    """Build or reuse the cache and print what it holds (a corpus: bench.commands.data_corpus)."""
    from bench.commands.data_corpus import is_corpus, run_corpus_prepare
    from bench.config import check_range
    from bench.data.loading import DATASETS, resolve_root
    from bench.data.storage.cache import PreparableSource, read_manifest
    from bench.data.storage.ragged_source import RaggedSource
    from bench.errors import DataError
    from bench.paths import cache_dir

    check_range("--rate", args.rate, 1)
    if is_corpus(args.dataset):
        args.root = args.dataset_root + ([args.root] if args.root else [])
        return run_corpus_prepare(args)
    if args.jobs is not None:
        check_range("--jobs", args.jobs, 1)
    source = DATASETS.get(args.dataset)
    if not isinstance(source, PreparableSource):
        raise DataError(f"dataset {args.dataset!r} has no cache to prepare")
    options = {dest: getattr(args, dest) for _, dest, _ in SOURCE_OPTIONS if getattr(args, dest)}
    policy = "skip" if args.skip_bad_records else "error"
    root = resolve_root(args.dataset, args.root)
    if isinstance(source, RaggedSource):
        prepared = source.prepare(
            root, args.rate, cache_dir(args.cache), args.jobs, policy, options
        )
    elif options:
        raise DataError(f"dataset {args.dataset!r} takes none of {', '.join(sorted(options))}")
    else:
        prepared = source.prepare(root, args.rate, cache_dir(args.cache), args.jobs, policy)
    data = prepared.data
    verb = "built" if prepared.built else "reused"
    print(f"{args.dataset}: cache {verb} in {prepared.seconds:.2f} s at {prepared.path}")
    if isinstance(source, RaggedSource):
        manifest = read_manifest(prepared.path) or {}
        _print_ragged(data, manifest, prepared.skipped)
        _print_scale(data, manifest, prepared.path)
        _print_tasks(args.dataset, data)
        return 0
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


def run_info(args: argparse.Namespace) -> int:
    """Print what ``prepare`` printed, from the newest landed cache alone."""
    from bench.data.formats.shards import LAYOUT as SHARDED
    from bench.data.prepared import find_cache, open_cache
    from bench.data.storage.ragged_cache import LAYOUT
    from bench.paths import cache_dir

    folder = find_cache(cache_dir(args.cache), args.dataset, args.rate)
    data, manifest, skipped = open_cache(folder)
    print(f"{args.dataset}: cache at {folder} (built {manifest['built_at']})")
    if manifest.get("layout") in (LAYOUT, SHARDED):
        _print_ragged(data, manifest, skipped)
        _print_scale(data, manifest, folder)
    else:
        print(f"  {len(data.signals)} records at {data.sampling_rate} Hz, {data.fingerprint}")
        _print_folds(data)
    _print_tasks(args.dataset, data)
    return 0


def run_overlap(args: argparse.Namespace) -> int:
    """Count the records of FIRST that are also in SECOND, by id mapping and fingerprint."""
    from bench.data.identity import overlap
    from bench.data.prepared import find_cache, identities, open_cache
    from bench.errors import DataError
    from bench.paths import cache_dir

    opened = [
        open_cache(find_cache(cache_dir(args.cache), name, args.rate))[0]
        for name in (args.first, args.second)
    ]
    first, second = opened
    if first.sampling_rate != second.sampling_rate:
        raise DataError(
            f"{args.first} is cached at {first.sampling_rate} Hz, {args.second} at "
            f"{second.sampling_rate} Hz; fingerprints compare caches of one rate (use --rate)"
        )
    result = overlap(*identities(first), *identities(second))
    print(
        f"overlap of {args.first} ({result.records_a} records) with {args.second} "
        f"({result.records_b} records) at {first.sampling_rate} Hz:"
    )
    print(f"  by id mapping:   {result.by_id}")
    print(f"  by fingerprint:  {result.by_fingerprint}")
    print(f"  by both (same record): {result.both}")
    for a, b in result.examples:
        print(f"  e.g. {a} = {b}")
    return 0


def _print_ragged(
    data: SignalSet, manifest: dict[str, Any], skipped: tuple[BadRecord, ...]
) -> None:
    from bench.data.storage.ragged_summary import summary_lines

    for line in summary_lines(data, manifest, skipped):
        print(line)


def _print_scale(data: SignalSet, manifest: dict[str, Any], folder: Path) -> None:
    """Records, hours, size on disk and at full scale of a sharded cache (nothing otherwise)."""
    from bench.data.formats.shards import LAYOUT
    from bench.data.storage.shards_summary import scale_lines

    if manifest.get("layout") == LAYOUT:
        for line in scale_lines(data, manifest, folder):
            print(line)


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
            f"  {name:<{width}}  {len(labels.names):>3} {_label_noun(task.kind):<7}  "
            f"{int(labels.keep.sum()):>6} records ({splits})"
        )


def _label_noun(kind: str) -> str:
    """What a task's label columns are: regression targets, or classes."""
    return "targets" if kind == "regression" else "classes"


def run_download(args: argparse.Namespace) -> int:
    """Download and unpack the archive, then say how to use it."""
    from pathlib import Path

    from bench.data.download import download
    from bench.paths import dataset_root_env

    dest = download(args.dataset, Path(args.dest) if args.dest else None)
    print(f"{args.dataset} downloaded to {dest}")
    print(f"use it with --data-root {dest} or: export {dataset_root_env(args.dataset)}={dest}")
    return 0

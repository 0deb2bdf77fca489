"""Benchmark the PTB-XL data layer: cold prepare, warm load, and a plain wfdb loop.

Usage: python benchmarks/data_prepare.py [ROOT] [--jobs N] [--repeats R]
ROOT defaults to $BENCH_PTBXL_ROOT, else ../shared/data/ptbxl-subset. Targets: warm load at
least 100x faster than reading every record with wfdb.rdsamp; cold prepare of the full
21,837-record dataset projected under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import wfdb

from bench.data.sources.ptbxl import PTBXLSource
from bench.data.wfdb.parallel_read import default_jobs

FULL_PTBXL_RECORDS = 21_837
DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "ptbxl-subset"


def main() -> None:
    """Print the three timings, their ratio and the projection to the full dataset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=os.environ.get("BENCH_PTBXL_ROOT"))
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--repeats", type=int, default=5, help="warm loads to take the median of")
    args = parser.parse_args()
    root = Path(args.root or DEFAULT_ROOT)
    source = PTBXLSource()
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as cache:
        cold = source.prepare(root, 100, Path(cache), jobs=args.jobs)
        warm_times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            warm = source.prepare(root, 100, Path(cache), jobs=args.jobs)
            warm_times.append(time.perf_counter() - start)
            assert not warm.built
    records = len(cold.data.signals)
    warm_time = statistics.median(warm_times)
    start = time.perf_counter()
    for file in cold.data.meta["file"]:
        wfdb.rdsamp(str(root / file))
    loop_time = time.perf_counter() - start

    print(f"PTB-XL root: {root} ({records} records at {cold.data.sampling_rate} Hz)")
    print(f"cold prepare ({args.jobs} jobs, fresh cache): {cold.seconds:8.3f} s")
    print(f"  = {records / cold.seconds:,.0f} records/s")
    print(f"warm load (median of {args.repeats}):          {warm_time:8.3f} s")
    print(f"wfdb.rdsamp loop over every record:     {loop_time:8.3f} s")
    print(
        f"ratio wfdb loop / warm load:            {loop_time / warm_time:8.0f} x  (target >= 100)"
    )
    projected = cold.seconds * FULL_PTBXL_RECORDS / records
    print(
        f"cold prepare projected to {FULL_PTBXL_RECORDS:,} records: {projected:6.1f} s  "
        f"(target < 60 s on 2 cores)"
    )


if __name__ == "__main__":
    main()

"""Benchmark the variable-length prepare on a generated CinC 2021 tree of 500 Hz records.

Usage: python benchmarks/cinc_prepare.py [--records N] [--seconds S] [--rate HZ] [--jobs J]
Writes N records of S seconds at 500 Hz in the official layout (WFDB header + MATLAB v4 ``val``,
``training/<source>/g1``; the test fixtures' writer) into a temporary folder, prepares them cold,
loads them warm, and projects the cold time to the 88,253 records of the full tree (as if all
were 10-s 500 Hz records: the 74 INCART and 516 PTB records are longer). The CPU time of the
prepare (this process and its workers) is printed too: on a shared machine it gives the time on
two idle cores, CPU seconds / 2. Targets: projected cold prepare under 10 minutes on 2 cores,
warm load under 2 s.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' fixture writer

from bench.data.sources.cinc import Cinc2021Source
from bench.data.storage.pool import default_jobs
from tests.data.cinc_fixtures import random_mv, write_cinc_record

FULL_CINC_RECORDS = 88_253
SOURCES = (("E", "georgia", 5), ("JS", "chapman_shaoxing", 5), ("HR", "ptb-xl", 5))


def write_tree(root: Path, records: int, seconds: float) -> None:
    """``records`` 500-Hz records spread over three sources, with Dx codes, age and sex."""
    rng = np.random.default_rng(0)
    signals = random_mv(rng, 12, int(seconds * 500))
    for index in range(records):
        prefix, folder, digits = SOURCES[index % len(SOURCES)]
        name = f"{prefix}{index + 1:0{digits}d}"
        comments = (f"Age: {20 + index % 70}", "Sex: Male", "Dx: 426783006,164889003")
        shifted = np.roll(signals, index, axis=1)
        write_cinc_record(root / "training" / folder / "g1", name, shifted, comments=comments)


def main() -> None:
    """Print the write time, cold prepare, records/s, projection and warm load."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=100, help="cache rate (default 100 Hz)")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--repeats", type=int, default=5, help="warm loads to take the median of")
    args = parser.parse_args()
    source = Cinc2021Source()
    with tempfile.TemporaryDirectory(prefix="bench-cinc-") as work:
        root, cache = Path(work) / "cinc", Path(work) / "cache"
        start = time.perf_counter()
        write_tree(root, args.records, args.seconds)
        written = time.perf_counter() - start
        cpu_before = _cpu_seconds()
        cold = source.prepare(root, args.rate, cache, jobs=args.jobs)
        cpu = _cpu_seconds() - cpu_before
        warm_times = [warm_load(root, args.rate, cache) for _ in range(args.repeats)]
        same_process = source.prepare(root, args.rate, cache).seconds
    records = len(cold.data.meta)
    rate = records / cold.seconds
    projected = FULL_CINC_RECORDS / rate
    print(f"generated {records} CinC records ({args.seconds:g} s, 500 Hz) in {written:.1f} s")
    print(f"cold prepare to {args.rate} Hz ({args.jobs} jobs): {cold.seconds:8.2f} s")
    print(f"  = {rate:,.0f} records/s")
    print(
        f"projected to {FULL_CINC_RECORDS:,} records: {projected / 60:6.1f} min "
        "(target < 10 min on 2 cores)"
    )
    idle_minutes = FULL_CINC_RECORDS * cpu / records / args.jobs / 60
    print(
        f"CPU time {cpu:.1f} s = {cpu / records * 1e3:.1f} ms per record; on {args.jobs} idle "
        f"cores: {records * args.jobs / cpu:,.0f} records/s, {idle_minutes:.1f} min projected"
    )
    print(
        f"warm load in a fresh process (median of {args.repeats}): "
        f"{statistics.median(warm_times):8.3f} s (target < 2 s; {records} records); "
        f"again in the same process: {same_process:.3f} s"
    )


def warm_load(root: Path, rate: int, cache: Path) -> float:
    """Seconds a new Python process takes to open the built cache (as a training run does)."""
    code = (
        "import sys; from pathlib import Path; from bench.data.sources.cinc import Cinc2021Source;"
        "p = Cinc2021Source().prepare(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]));"
        "assert not p.built; print(p.seconds)"
    )
    command = [sys.executable, "-c", code, str(root), str(rate), str(cache)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished worker processes."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()

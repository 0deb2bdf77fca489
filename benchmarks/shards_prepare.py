"""Benchmark the sharded prepare on generated MIMIC-IV-ECG (WFDB) and CODE-15% (HDF5) folders.

Usage: python benchmarks/shards_prepare.py [--mimic N] [--code15 N] [--rate HZ] [--jobs J]
Writes N 10-s 500 Hz MIMIC-layout records (record_list.csv + WFDB tree, MIMIC's lead order; the
test fixtures' writer) and N CODE-15% exams (HDF5 parts of 400 Hz tracings zero-padded to 4096
samples, 7-10 s), prepares each cold into a sharded int16 cache at --rate Hz with J jobs, and
prints records/s, CPU ms per record, the cache size per record and the projections to the full
datasets (800,000 MIMIC-IV-ECG records, 345,779 CODE-15% exams). The CPU time (this process and
its workers) gives the rate on J idle cores on a shared machine: records x J / CPU seconds.
Shards are kept small (--shard-mb, default 4) so that a few thousand records make enough shards
to keep every job busy, as the full datasets do with the default 128 MB.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' fixture writers

import numpy as np
import pandas as pd

from bench.data.sources.code15 import Code15Source
from bench.data.sources.mimic import MimicSource
from bench.data.storage.shards_source import ShardedSource
from bench.data.storage.shards_summary import disk_bytes
from tests.data.shard_fixtures import write_code15, write_mimic

GB = 1e9


def measure(source: ShardedSource, root: Path, cache: Path, args: argparse.Namespace) -> None:
    """Prepare ``root`` cold and print the figures and projections."""
    options = {"shard_mb": str(args.shard_mb)}
    cpu_before = _cpu_seconds()
    prepared = source.prepare(root, args.rate, cache, jobs=args.jobs, options=options)
    cpu = _cpu_seconds() - cpu_before
    records = len(prepared.data.meta)
    size = disk_bytes(prepared.path)
    full = source.full_records
    wall_rate = records / prepared.seconds
    idle_rate = records * args.jobs / cpu
    print(f"{source.name}: {records} records -> {args.rate} Hz, {args.jobs} jobs")
    print(f"  cold prepare {prepared.seconds:.2f} s = {wall_rate:,.0f} records/s (wall)")
    print(
        f"  CPU {cpu:.1f} s = {cpu / records * 1e3:.2f} ms per record; on {args.jobs} idle "
        f"cores {idle_rate:,.0f} records/s"
    )
    print(
        f"  cache {size / 1e6:.1f} MB = {size / records / 1e3:.2f} kB per record "
        f"({prepared.data.signals.stored_nbytes / records / 1e3:.2f} kB of samples)"
    )
    print(
        f"  projected to {full:,} records: {full / wall_rate / 60:.1f} min at the measured rate, "
        f"{full / idle_rate / 60:.1f} min on {args.jobs} idle cores; "
        f"{size / records * full / GB:.1f} GB on disk"
    )


def write_many_mimic(root: Path, records: int) -> None:
    """``records`` MIMIC-layout records: two written by wfdb (the header template), the rest
    as the same header text with their own name, checksums and random format-16 samples."""
    write_mimic(root, 2)
    table = pd.read_csv(root / "record_list.csv")
    template = (root / f"{table['path'][0]}.hea").read_text()
    name = str(table["study_id"][0])
    rng = np.random.default_rng(0)
    rows = []
    for i in range(records):
        subject, study = 10000000 + i // 2, 40000000 + i
        relative = f"files/p{str(subject)[:4]}/p{subject}/s{study}/{study}"
        folder = root / Path(relative).parent
        folder.mkdir(parents=True, exist_ok=True)
        digital = rng.integers(-600, 600, size=(5000, 12), dtype=np.int16)
        digital.tofile(folder / f"{study}.dat")
        sums = [int(v) for v in digital.astype(np.int64).sum(0) % 65536]
        lines = template.replace(name, str(study)).splitlines()
        for lead, line in enumerate(lines[1:13]):
            fields = line.split(" ")
            fields[5] = str(int(digital[0, lead]))
            fields[6] = str(sums[lead] - 65536 if sums[lead] > 32767 else sums[lead])
            lines[lead + 1] = " ".join(fields)
        (folder / f"{study}.hea").write_text("\n".join(lines) + "\n")
        rows.append({"subject_id": subject, "study_id": study, "path": relative})
    pd.DataFrame(rows).to_csv(root / "record_list.csv", index=False)


def main() -> None:
    """Generate both layouts, then measure each prepare."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mimic", type=int, default=2000, help="MIMIC records to generate")
    parser.add_argument("--code15", type=int, default=4000, help="CODE-15% exams to generate")
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--shard-mb", type=float, default=4.0)
    parser.add_argument("--work", help="folder for the generated data (default: $TMPDIR)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-shards-", dir=args.work) as work:
        work_path = Path(work)
        start = time.perf_counter()
        write_many_mimic(work_path / "mimic", args.mimic)
        print(f"generated {args.mimic} MIMIC records in {time.perf_counter() - start:.1f} s")
        measure(MimicSource(), work_path / "mimic", work_path / "cache", args)
        start = time.perf_counter()
        per_part = 500  # 100 MB of float32 tracings written at once
        lengths = [2800 + (i * 37) % 1201 for i in range(args.code15)]
        parts = [lengths[i : i + per_part] for i in range(0, len(lengths), per_part)]
        write_code15(work_path / "code15", parts)
        print(f"generated {args.code15} CODE-15% exams in {time.perf_counter() - start:.1f} s")
        measure(Code15Source(), work_path / "code15", work_path / "cache", args)


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished worker processes."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()

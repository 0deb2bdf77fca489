"""Benchmark the streaming pretraining reader on memory-mapped int16 corpora of growing size.

Usage: python benchmarks/streaming_read.py --folder DIR [--sizes-gb 1 5] [--workers 1] [--steps 300]
[--keep] [--reader-only] Writes corpora of 10-s 12-lead records at 100 Hz (12 x 1000 int16 samples,
24 kB each) of each size under DIR (bench.data.formats.shards.write_records, 128 MB shards), evicts
them from the page cache (posix_fadvise DONTNEED on these files only), then in a fresh process per
size streams ``--steps`` batches of random crops through ``StreamingSampler`` with ``--workers``
background readers, and prints samples/s and the peak RSS of the training process and of the
readers. Then, per method of the smoke profile on CPU (one thread), it times the pretraining step
with the records in memory (bench.perf) and the step of the same loop streaming from the largest
corpus (evicted first; one reader), and prints the share of the streamed step the loop spends
waiting for its batch (the target: under 5 %). The corpora are deleted at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.data.formats.shards import INDEX, ShardedRecords, write_records
from bench.training.streaming import StreamingSampler

RECORD_BYTES = 12 * 1000 * 2
SHARD_RECORDS = 128_000_000 // RECORD_BYTES


def write_corpus(folder: Path, gigabytes: float) -> ShardedRecords:
    """A corpus of ``gigabytes`` GB of stored samples (records cycle through a seeded pool)."""
    records = int(gigabytes * 1e9 / RECORD_BYTES)
    rng = np.random.default_rng(0)
    pool = (rng.normal(0, 0.5, (256, 12, 1000))).astype(np.float32)
    return write_records(folder, (pool[i % 256] for i in range(records)), "int16", SHARD_RECORDS)


def evict(folder: Path) -> None:
    """Drop this corpus's pages from the page cache, so the first reads come from the disk."""
    for path in folder.glob("shard-*.npy"):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


def measure(folder: Path, crop: int, batch: int, steps: int, workers: int) -> dict[str, float]:
    """Stream ``steps`` batches from the corpus in ``folder``: rates, and the peak private
    (anonymous) and file-backed (mapped page cache) RSS in MB of this process and its readers,
    sampled every few steps."""
    index = np.load(folder / INDEX)
    view = ShardedRecords(folder, index, 12, "int16")
    sampler = StreamingSampler(view, crop, batch, 0, torch.device("cpu"), 0, 1, workers)
    sampler.batch(0)  # starts the readers
    peaks = {"anon": 0.0, "file": 0.0, "reader_anon": 0.0, "reader_file": 0.0}
    start = time.perf_counter()
    for step in range(1, steps + 1):
        sampler.batch(step)
        if step % 5 == 0:
            sample_rss(peaks, "", "self")
            for worker in getattr(sampler._batches, "_workers", []):
                sample_rss(peaks, "reader_", str(worker.pid))
    seconds = time.perf_counter() - start
    return {
        "records": len(view),
        "corpus_gb": view.stored_nbytes / 1e9,
        "samples_per_s": steps * batch / seconds,
        "ms_per_batch": seconds / steps * 1e3,
        **peaks,
    }


def sample_rss(peaks: dict[str, float], prefix: str, pid: str) -> None:
    """Raise ``peaks`` to the RssAnon / RssFile (MB) of process ``pid`` now."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    for key, name in (("anon", "RssAnon"), ("file", "RssFile")):
        value = int(fields[name].split()[0]) / 1024
        peaks[prefix + key] = max(peaks[prefix + key], value)


def measure_in_process(folder: Path, crop: int, batch: int, steps: int, workers: int) -> dict:
    """``measure`` in a fresh Python process (its peak RSS is its own)."""
    command = [sys.executable, __file__, "--measure", str(folder), "--crop", str(crop)]
    command += ["--batch", str(batch), "--steps", str(steps), "--workers", str(workers)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def smoke_steps(corpus: Path, steps: int) -> list[tuple[str, int, int, float, float, float]]:
    """Per method of the smoke profile on CPU (one thread): (method, batch, crop, resident step
    seconds (bench perf, records in memory), streamed step seconds, share of the streamed step
    the loop waits for data), the streamed steps reading ``corpus`` with one reader."""
    from bench.perf.measure import PARTS, PerfOptions, plan_cases, run_step
    from bench.perf.measure import measure as perf_measure
    from bench.perf.timing import PartClock
    from bench.training.loop import TrainingLoop
    from bench.training.run_files import CHECKPOINT_NAME
    from bench.training.state import seed_everything

    torch.set_num_threads(1)
    os.environ.update({"BENCH_STREAM": "always", "BENCH_STREAM_WORKERS": "1"})
    options = PerfOptions(methods=("all",), profile="smoke", steps=5, warmup=2, device="cpu")
    cases, _ = plan_cases(options)
    view = ShardedRecords(corpus, np.load(corpus / INDEX), 12, "int16")
    rows = []
    for case in cases:
        resident = perf_measure(case, options).step_s
        evict(corpus)
        seed_everything(case.train.seed)
        method = case.setup.method(case.setup.method_config, case.input_spec)
        with tempfile.TemporaryDirectory(prefix="bench-stream-") as folder:
            loop = TrainingLoop(method, view, case.train, Path(folder) / CHECKPOINT_NAME, {})
            for _ in range(2):
                run_step(loop)
            clock = PartClock(loop.device, len(PARTS))
            clock.start()
            for _ in range(steps):
                run_step(loop, clock)
            clock.finish()
            loop.sampler._batches = None
        streamed = clock.wall_s / steps
        share = clock.part_seconds()[0] / clock.wall_s
        batch, crop = case.train.batch_size, case.input_spec.n_samples
        rows.append((case.method, batch, crop, resident, streamed, share))
    return rows


def main() -> None:
    """Write the corpora, measure the reader at each size, compare with the smoke steps."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--sizes-gb", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--crop", type=int, default=250)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reader-only", action="store_true", help="skip the smoke steps")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.crop, args.batch, args.steps, args.workers)))
        return
    if args.folder is None:
        parser.error("--folder is required")
    try:
        for size in args.sizes_gb:
            folder = args.folder / f"corpus-{size:g}gb"
            start = time.perf_counter()
            view = write_corpus(folder, size)
            print(f"wrote {len(view):,} records ({view.stored_nbytes / 1e9:.2f} GB) in "
                  f"{time.perf_counter() - start:.0f} s")  # fmt: skip
            evict(folder)
            result = measure_in_process(folder, args.crop, args.batch, args.steps, args.workers)
            print(
                f"  {result['corpus_gb']:.2f} GB, cold page cache, {args.workers} reader(s): "
                f"{result['samples_per_s']:,.0f} crops/s of {args.crop} samples "
                f"({result['ms_per_batch']:.1f} ms per batch of {args.batch}); peak RSS private / "
                f"mapped file pages: training process {result['anon']:.0f} / "
                f"{result['file']:.0f} MB, reader {result['reader_anon']:.0f} / "
                f"{result['reader_file']:.0f} MB"
            )
        largest = args.folder / f"corpus-{max(args.sizes_gb):g}gb"
        if args.reader_only:
            return
        print(f"smoke pretraining on CPU (1 thread), streamed from {largest.name}, 1 reader:")
        for method, batch, crop, resident, streamed, share in smoke_steps(largest, 8):
            print(f"  {method}: batch {batch} x {crop} samples; step {resident * 1e3:.0f} ms "
                  f"with records in memory, {streamed * 1e3:.0f} ms streamed, of which "
                  f"{share:.1%} waiting for data")  # fmt: skip
    finally:
        if not args.keep:
            for size in args.sizes_gb:
                shutil.rmtree(args.folder / f"corpus-{size:g}gb", ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark the synthetic 12-lead generator: records per second (one process).

Usage: python benchmarks/synthetic_speed.py [--records N] [--rate HZ] [--repeats R]
Defaults: 3,000 records (the "synthetic" dataset's size) of 10 s at 100 Hz, the best of 5
runs after one warm-up. Target: thousands of records per second. CPU time is printed too, as
wall-clock figures on a shared machine are inflated by other processes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from bench.data.synthetic.config import GeneratorConfig
from bench.data.synthetic.generator import generate


def main() -> None:
    """Time ``generate`` and print records/s (wall clock and CPU time) and megabytes/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=100, help="sampling rate in Hz")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = GeneratorConfig(n_records=args.records, sampling_rate=args.rate)
    generate(GeneratorConfig(n_records=min(args.records, 256), sampling_rate=args.rate))
    times, cpu_times = [], []
    for repeat in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        data = generate(replace(config, seed=repeat))
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    best, median, cpu = min(times), statistics.median(times), statistics.median(cpu_times)
    megabytes = data.signals.nbytes / 1e6
    print(
        f"synthetic generator: {args.records} records x 12 leads x {config.n_samples} samples "
        f"({config.duration_s:g} s at {args.rate} Hz), {args.repeats} runs"
    )
    print(f"  best   {best:.3f} s  -> {args.records / best:,.0f} records/s")
    print(f"  median {median:.3f} s  -> {args.records / median:,.0f} records/s")
    print(f"  cpu    {cpu:.3f} s  -> {args.records / cpu:,.0f} records per CPU second")
    print(f"  output {megabytes:.0f} MB float32 -> {megabytes / median:,.0f} MB/s")


if __name__ == "__main__":
    main()

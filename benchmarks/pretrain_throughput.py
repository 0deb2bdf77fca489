"""Pretraining throughput, step-time split, peak memory and MFU per method and size.

A thin front to ``bench perf`` (same options, same code: ``bench.perf.measure``); see
``bench perf --help`` for what each column means.

    python benchmarks/pretrain_throughput.py --threads 1 --sizes tiny small --steps 5
    python benchmarks/pretrain_throughput.py --profile paper --device cuda --precision bf16 \\
        --csv paper_bf16.csv                           # on a GPU: bf16 at paper size, MFU
"""

from __future__ import annotations

import sys

from bench.cli import main

if __name__ == "__main__":
    sys.exit(main(["perf", *sys.argv[1:]]))

"""Embedding throughput of every published checkpoint's full-size architecture on this machine.

Random weights (no file needed), forward only under ``torch.no_grad``, fp32, in eval mode, on
the official input shape: prints parameters and the median records/s over a few batches after
one warm-up batch. The figure bounds a grid's embedding stage (linear probe, k-NN) per model.

    python benchmarks/checkpoint_speed.py                      # every checkpoint, batch 32
    python benchmarks/checkpoint_speed.py --models ecg-jepa-multiblock --batch 8 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.checkpoints.catalogue import checkpoint_method, checkpoint_methods
from bench.checkpoints.method import CheckpointConfig, CheckpointMethod


def records_per_second(method: type[CheckpointMethod], batch: int, repeats: int) -> float:
    """Median records/s of ``embed`` on random official-shape input, random weights."""
    spec = method.official_input_spec()
    encoder = method.untrained_encoder(CheckpointConfig(), spec).eval()
    x = torch.randn(batch, spec.n_leads, spec.n_samples)
    times = []
    with torch.no_grad():
        for step in range(repeats + 1):
            start = time.perf_counter()
            encoder.embed(x)
            if step:  # the first batch warms up
                times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", help="checkpoint names (default: every one)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    methods = [checkpoint_method(n) for n in args.models] if args.models else checkpoint_methods()
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, fp32, no_grad")
    print(f"{'model':<22} {'parameters':>11} {'input':>14} {'records/s':>10}")
    for method in methods:
        spec = method.official_input_spec()
        encoder = method.untrained_encoder(CheckpointConfig(), spec)
        parameters = sum(p.numel() for p in encoder.parameters())
        rate = records_per_second(method, args.batch, args.repeats)
        shape = f"{spec.n_leads}x{spec.n_samples}"
        print(f"{method.name:<22} {parameters / 1e6:>10.1f}M {shape:>14} {rate:>10.1f}")


if __name__ == "__main__":
    main()

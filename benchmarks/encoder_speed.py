"""Parameter counts and forward+backward time per batch of the shared encoders on this machine.

Prints one row per (encoder, size, attention, input): parameters, tokens, and the median time of
``embed(x).square().mean().backward()`` (wall and process CPU seconds) over a few repeats after
one warm-up step.

    python benchmarks/encoder_speed.py                       # tiny + small, both inputs
    python benchmarks/encoder_speed.py --sizes tiny --xresnet tiny --repeats 5 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from bench.encoders.base import ENCODERS, Encoder, InputSpec


@dataclass(frozen=True)
class Case:
    """One input shape to time: leads x samples at a rate, cut into patches of patch_size."""

    spec: InputSpec
    patch_size: int

    @property
    def label(self) -> str:
        return f"{self.spec.n_leads}x{self.spec.n_samples} p{self.patch_size}"


CASES = (Case(InputSpec(12, 250, 100), 25), Case(InputSpec(8, 2500, 250), 50))


def time_step(encoder: Encoder, spec: InputSpec, batch: int, repeats: int) -> tuple[float, float]:
    """Median (wall, process CPU) seconds of one forward+backward pass (train mode).

    CPU time is the sum over threads; on a machine shared with other jobs it is the steadier
    figure, while wall time also counts the waits for a free core.
    """
    encoder.train()
    x = torch.randn(batch, spec.n_leads, spec.n_samples)
    walls, cpus = [], []
    for step in range(repeats + 1):
        encoder.zero_grad(set_to_none=True)
        wall, cpu = time.perf_counter(), time.process_time()
        encoder.embed(x).square().mean().backward()
        if step:  # the first pass is a warm-up
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def encoders(
    case: Case, transformer_sizes: list[str], attentions: list[str], xresnet_sizes: list[str]
) -> Iterator[tuple[str, Encoder, int]]:
    """(name, encoder, tokens) for every configuration to time on ``case``; seeded builds."""
    for size in transformer_sizes:
        for attention in attentions:
            torch.manual_seed(0)
            encoder = ENCODERS.get("patch_transformer").from_size(
                size, case.spec, patch_size=case.patch_size, attention=attention
            )
            tokens = case.spec.n_leads * (case.spec.n_samples // case.patch_size)
            yield f"patch_transformer/{size}/{attention}", encoder, tokens
    for size in xresnet_sizes:
        torch.manual_seed(0)
        yield f"xresnet1d/{size}", ENCODERS.get("xresnet1d").from_size(size, case.spec), 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    parser.add_argument("--attention", nargs="+", default=["full", "cropa"])
    parser.add_argument("--xresnet", nargs="*", default=["tiny", "xresnet1d101"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, CPU")
    header = ("encoder", "input", "params_M", "tokens", "wall_s", "cpu_s")
    print("{:34s} {:14s} {:>8s} {:>6s} {:>9s} {:>9s}".format(*header))
    for case in CASES:
        for name, encoder, tokens in encoders(case, args.sizes, args.attention, args.xresnet):
            params = sum(p.numel() for p in encoder.parameters()) / 1e6
            wall, cpu = time_step(encoder, case.spec, args.batch, args.repeats)
            print(
                f"{name:34s} {case.label:14s} {params:8.3f} {tokens or '-':>6} "
                f"{wall:9.3f} {cpu:9.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()

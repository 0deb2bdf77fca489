"""CroPA encoder forward+backward and full ECG-JEPA step time at the issue-11 size, one thread.

Size: patch transformer dim 192, depth 4, 6 heads, 8 leads x 2500 samples at 250 Hz cut into
50-sample patches (8 x 50 tokens), CroPA + positions before every block; ECG-JEPA with a
96-wide, 2-deep predictor; batch 8. Prints the median milliseconds (wall and process CPU) of
``--repeats`` timed steps after ``--warmup`` untimed ones, and the first call's seconds (the
compile time with ``--compile``); ``--vs`` (a second attention path) and ``--vs-linear`` (a
second linear back-end, ``bench.encoders.onednn_linear``) run two variants in turn in one
process.
Options that this checkout does not know (``--attention`` on an older tree) are refused, so an
A/B against an older copy runs it with ``PYTHONPATH=<copy>``:

    OMP_NUM_THREADS=1 python benchmarks/jepa_speed.py --attention dense --vs sparse
    OMP_NUM_THREADS=1 python benchmarks/jepa_speed.py --attention dense --vs auto \
        --linear aten --vs-linear onednn
    OMP_NUM_THREADS=1 PYTHONPATH=/path/to/old/tree python benchmarks/jepa_speed.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch

import bench
import bench.encoders.patch_transformer as patch_transformer
from bench.encoders.base import InputSpec
from bench.encoders.patch_transformer import (
    PATCH_TRANSFORMER_SIZES,
    PatchTransformer,
    PatchTransformerConfig,
)
from methods.jepa import JEPA, JEPAConfig

SPEC = InputSpec(8, 2500, 250)
SIZE = "issue11"
BATCH = 8


def timed_ms(step: Callable[[], None]) -> tuple[float, float]:
    """(wall ms, process CPU ms) of one call: on a loaded machine CPU time is the steadier."""
    wall, cpu = time.perf_counter(), time.process_time()
    step()
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def median_ms(step: Callable[[], None], warmup: int, repeats: int) -> tuple[float, float, float]:
    """(first call's seconds, median wall ms and median CPU ms of the timed calls)."""
    first = timed_ms(step)[0] / 1e3
    for _ in range(max(warmup - 1, 0)):
        step()
    times = [timed_ms(step) for _ in range(repeats)]
    return first, statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def paired_ms(
    a: Callable[[], None], b: Callable[[], None], warmup: int, repeats: int
) -> tuple[float, float, float]:
    """Steps of ``a`` and ``b`` in turn: median CPU ms of a, of b, median of the pairs' b / a."""
    for _ in range(warmup):
        a()
        b()
    pairs = [(timed_ms(a)[1], timed_ms(b)[1]) for _ in range(repeats)]
    ratios = [tb / ta for ta, tb in pairs]
    return (
        statistics.median(p[0] for p in pairs),
        statistics.median(p[1] for p in pairs),
        statistics.median(ratios),
    )


Variant = tuple[str | None, str | None]
"""(CroPA path, linear back-end); None leaves the tree's default."""


def use_variant(module: torch.nn.Module, variant: Variant) -> None:
    """Set the CroPA path and the linear back-end (trees that have them)."""
    path, linear = variant
    if path is not None:
        patch_transformer.set_attention_path(module, path)  # type: ignore[attr-defined]
    if linear is not None:
        from bench.encoders.onednn_linear import set_linear_backend

        set_linear_backend(module, linear)  # type: ignore[arg-type]


def encoder_step(variant: Variant, compile_: bool) -> Callable[[], None]:
    config = PatchTransformerConfig(
        dim=192, depth=4, heads=6, patch_size=50, attention="cropa", pos_every_block=True
    )
    encoder = PatchTransformer(config, SPEC).train()
    use_variant(encoder, variant)
    x = torch.randn(BATCH, SPEC.n_leads, SPEC.n_samples)
    forward = torch.compile(encoder.embed) if compile_ else encoder.embed

    def step() -> None:
        forward(x).square().mean().backward()

    return step


def jepa_step(variant: Variant, extra: dict[str, object], compile_: bool) -> Callable[[], None]:
    method = JEPA(JEPAConfig(size=SIZE, predictor_dim=96, predictor_depth=2, **extra), SPEC)
    method.train()
    use_variant(method, variant)
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    x = torch.randn(BATCH, SPEC.n_leads, SPEC.n_samples)
    loss = torch.compile(method.loss) if compile_ else method.loss
    count = [0]

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss(x)["loss"].backward()
        optimizer.step()
        count[0] += 1
        method.on_step_end(count[0], 1000)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=("encoder", "jepa", "both"), default="both")
    parser.add_argument("--attention", default=None, help="attention path (newer trees only)")
    parser.add_argument("--mask-per", default=None, choices=("batch", "sample"))
    parser.add_argument(
        "--vs", default=None, help="a second attention path, run in turn with --attention"
    )
    parser.add_argument("--linear", default=None, help="linear back-end: aten or onednn")
    parser.add_argument(
        "--vs-linear", default=None, help="a second linear back-end, run in turn with --linear"
    )
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (also on CPU)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    PATCH_TRANSFORMER_SIZES[SIZE] = PatchTransformerConfig(dim=192, depth=4, heads=6, patch_size=50)
    if args.attention is not None and not hasattr(patch_transformer, "set_attention_path"):
        parser.error("this checkout has no attention path option")
    if args.linear is not None or args.vs_linear is not None:
        try:
            import bench.encoders.onednn_linear  # noqa: F401
        except ImportError:
            parser.error("this checkout has no linear back-end option")
    jepa_extra: dict[str, object] = {}
    if args.mask_per is not None:
        jepa_extra["mask_per"] = args.mask_per
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
        run(args, jepa_extra)


def run(args: argparse.Namespace, jepa_extra: dict[str, object]) -> None:
    """Build, time and print what ``args`` ask for."""
    tree = os.path.dirname(os.path.dirname(bench.__file__))
    load = os.getloadavg()[0]
    print(f"tree {tree}  threads {torch.get_num_threads()}  load {load:.2f}  {vars(args)}")
    first: Variant = (args.attention, args.linear)
    if args.vs is not None or args.vs_linear is not None:
        second: Variant = (args.vs or args.attention, args.vs_linear or args.linear)
        name_a, name_b = "+".join(map(str, first)), "+".join(map(str, second))
        for what, build in (
            ("encoder", lambda variant: encoder_step(variant, args.compile)),
            ("jepa", lambda variant: jepa_step(variant, jepa_extra, args.compile)),
        ):
            if args.what in (what, "both"):
                a, b, ratio = paired_ms(build(first), build(second), args.warmup, args.repeats)
                print(
                    f"{what} CPU  {name_a}: {a:.1f} ms  {name_b}: {b:.1f} ms  "
                    f"median pair ratio {name_b}/{name_a} {ratio:.3f}  "
                    f"load {os.getloadavg()[0]:.2f}"
                )
        return
    if args.what in ("encoder", "both"):
        first_s, ms, cpu = median_ms(encoder_step(first, args.compile), args.warmup, args.repeats)
        print(f"encoder_fwd_bwd_ms wall {ms:.1f} cpu {cpu:.1f}  first_call_s {first_s:.2f}")
    if args.what in ("jepa", "both"):
        first_s, ms, cpu = median_ms(
            jepa_step(first, jepa_extra, args.compile), args.warmup, args.repeats
        )
        print(f"jepa_step_ms wall {ms:.1f} cpu {cpu:.1f}  first_call_s {first_s:.2f}")


if __name__ == "__main__":
    main()

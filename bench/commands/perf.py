"""``bench perf``: pretraining throughput, step-time split, peak memory and MFU per row."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
Time pretraining steps of each method x size through the shared loop's own parts (crops taken
on the device from synthetic records of the profile's shape, the method's loss, backward,
AdamW, on_step_end), after warm-up steps, and print one row each. Methods are built exactly
as a pretraining under --profile builds them (smoke: tiny encoders; paper: the papers' sizes),
or with the config field `size` set from --sizes (a method without that field runs once, at
its profile config, size '-'); baselines have nothing to pretrain and are left out. A
benchmark, not a test: run it on an otherwise idle machine.

examples:
  bench perf --threads 1                                   # every method, smoke (tiny), CPU
  bench perf --sizes tiny small --steps 5 --csv perf.csv
  bench perf --profile paper --device cuda --csv paper.csv # paper sizes, bf16 on a GPU, MFU
  bench perf --profile paper --device cuda --compile --cuda-graphs never  # graphs off, A/B
"""


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench perf``."""
    from bench.perf.columns import COLUMN_HELP
    from bench.training.choices import CUDA_GRAPHS, DEVICES, PRECISIONS

    parser = commands.add_parser(
        "perf",
        help="benchmark pretraining speed, memory and MFU per method and size",
        description=DESCRIPTION,
        epilog=COLUMN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["all"],
        metavar="NAME",
        help="registered methods, or all (default: every method that pretrains)",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        metavar="SIZE",
        help="values of the methods' config field `size`, e.g. tiny small base "
        "(default: each method's size under the profile)",
    )
    parser.add_argument(
        "--profile", default="smoke", help="built-in profile (smoke, paper) or a YAML file"
    )
    parser.add_argument("--batch-size", type=int, help="crops per step (default: the profile's)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="autocast: auto = bf16 on CUDA, fp32 on CPU",
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the objective")
    parser.add_argument(
        "--cuda-graphs",
        choices=CUDA_GRAPHS,
        default="auto",
        help="CUDA graphs for the compiled step (train.cuda_graphs): auto = on CUDA with "
        "--compile for methods of static shapes; always = also dynamic ones (default auto)",
    )
    parser.add_argument(
        "--peak-tflops", type=float, help="device peak TFLOP/s for MFU (default: known GPUs)"
    )
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override as in bench pretrain, for every selected method, e.g. "
        "method.predictor_dim=384 or window_s=5",
    )
    parser.add_argument(
        "--target-mfu",
        type=float,
        default=0.4,
        help="also print the step time this MFU would give on --target-gpu (default 0.4)",
    )
    parser.add_argument("--target-gpu", default="H100", help="GPU of that line (default H100)")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="also write the rows as CSV")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Measure, print the table as rows come, then the skipped rows, targets and CSV path."""
    import torch

    from bench.config import check_range, parse_overrides
    from bench.errors import ConfigError
    from bench.perf.flops import GPU_PEAKS, peak_tflops
    from bench.perf.measure import PerfOptions, PerfRow, Skipped, run_perf
    from bench.perf.report import TablePrinter, target_lines, write_csv
    from bench.perf.timing import MEMORY_SOURCES, PeakMemory
    from bench.training.config import autocast_dtype, resolve_device

    check_range("--target-mfu", args.target_mfu, 0.01, 1.0)
    if peak_tflops(args.target_gpu, torch.bfloat16) is None:
        known = ", ".join(dict.fromkeys(peak.name_contains[0] for peak in GPU_PEAKS))
        raise ConfigError(f"--target-gpu {args.target_gpu!r} is not a known GPU ({known})")
    if args.csv is not None and not args.csv.parent.is_dir():
        raise ConfigError(f"--csv {args.csv}: folder {args.csv.parent} does not exist")
    if args.threads is not None:
        check_range("--threads", args.threads, 1)
        torch.set_num_threads(args.threads)
    options = PerfOptions(
        methods=tuple(args.methods),
        sizes=None if args.sizes is None else tuple(args.sizes),
        profile=args.profile,
        batch_size=args.batch_size,
        steps=args.steps,
        warmup=args.warmup,
        device=args.device,
        precision=args.precision,
        compile=args.compile,
        cuda_graphs=args.cuda_graphs,
        peak_tflops=args.peak_tflops,
        overrides=parse_overrides(args.set),
    )
    device = resolve_device(options.device)
    precision = "bf16" if autocast_dtype(options.precision, device) else "fp32"
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    title = (
        f"bench perf: profile {options.profile}, {where}, {precision}, "
        f"{options.warmup} warm-up + {options.steps} timed steps, torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU thread(s)"
        + (f", compiled (CUDA graphs {options.cuda_graphs})" if options.compile else "")
    )
    printer = TablePrinter(lambda line: print(line, flush=True), title)
    skipped: list[Skipped] = []

    def show(result: PerfRow | Skipped) -> None:
        if isinstance(result, PerfRow):
            printer.row(result)
        else:
            skipped.append(result)

    rows, _ = run_perf(options, on_row=show)
    for item in skipped:
        print(f"skipped {item.method} {item.size}: {item.reason}")
    print(f"peak_MB: {MEMORY_SOURCES[PeakMemory(device).source]}")
    for line in target_lines(rows, args.target_mfu, args.target_gpu):
        print(line)
    if args.csv is not None:
        write_csv(rows, args.csv)
        print(f"csv: {args.csv}")
    return 0

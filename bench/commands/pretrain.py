"""``bench pretrain``: pretrain one method on the training folds of a dataset."""

from __future__ import annotations

import argparse
from statistics import fmean


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench pretrain``."""
    parser = commands.add_parser(
        "pretrain",
        help="pretrain one method on a dataset's training folds (1-8)",
        description="Pretrain METHOD on the training folds of DATASET under a profile; reruns "
        "resume an interrupted run and skip a finished one.",
    )
    parser.add_argument("--method", required=True, help="registered method (bench list methods)")
    parser.add_argument("--data", required=True, metavar="DATASET", help="dataset name")
    parser.add_argument(
        "--profile", default="smoke", help="built-in profile (smoke, paper) or a YAML file"
    )
    parser.add_argument("--data-root", help="dataset folder (else $BENCH_<DATASET>_ROOT)")
    parser.add_argument("--seed", type=int, help="training seed (overrides train.seed)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override, e.g. train.lr=1e-4, train.epochs=2, method.<field>=..., window_s=5",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the profile, load the data, pretrain (or reuse), print a summary."""
    from bench.config import deep_merge, parse_overrides
    from bench.data.loading import load_dataset
    from bench.pretraining import plan_pretraining, run_pretraining
    from bench.profiles import load_profile

    overrides = parse_overrides(args.set)
    if args.seed is not None:
        overrides = deep_merge(overrides, {"train": {"seed": args.seed}})
    profile = load_profile(args.profile)
    setup = profile.resolve(args.method, overrides)
    data = load_dataset(args.data, args.data_root, setup.preprocessing)
    plan = plan_pretraining(setup, args.data, data)
    spec = plan.spec.input_spec
    print(
        f"pretrain {args.method} on {args.data}: {len(data.split_indices('train'))} training "
        f"records, crops {spec.n_leads} leads x {spec.n_samples} samples at "
        f"{spec.sampling_rate} Hz; profile {profile.name}; key {plan.key}"
    )
    result = run_pretraining(plan, data, progress=not args.no_progress)
    if result.steps_this_call == 0 and result.finished:
        print(f"already pretrained: {plan.run_dir}")
    losses = [row["loss"] for row in result.history]
    window = max(1, min(10, len(losses) // 10))
    print(
        f"loss: start {fmean(losses[:window]):.4f} -> end {fmean(losses[-window:]):.4f} "
        f"(mean of the first/last {window} steps)"
    )
    print(
        f"steps: {result.steps}/{result.total_steps} in {result.wall_time_s:.1f} s, "
        f"{result.samples_per_s:.0f} samples/s"
    )
    print(f"checkpoint: {result.checkpoint}")
    return 0

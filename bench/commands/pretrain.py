"""``bench pretrain``: pretrain one method on the training folds of a dataset."""

from __future__ import annotations

import argparse
from statistics import fmean
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.training.planning import PretrainPlan
    from bench.training.result import PretrainResult
    from bench.training.spec import PretrainSetup


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench pretrain``."""
    parser = commands.add_parser(
        "pretrain",
        help="pretrain one method on a dataset's training folds (1-8)",
        description="Pretrain METHOD on the training folds of DATASET under a profile; reruns "
        "resume an interrupted run and skip a finished one. Data-parallel on N processes with "
        "--nproc N, or by starting it as `torchrun --nproc-per-node N -m bench pretrain ...`; "
        "train.batch_size is the global batch either way.",
    )
    parser.add_argument("--method", required=True, help="registered method (bench list methods)")
    parser.add_argument("--data", required=True, metavar="DATASET", help="dataset name")
    parser.add_argument(
        "--profile", default="smoke", help="built-in profile (smoke, paper) or a YAML file"
    )
    parser.add_argument("--data-root", help="dataset folder (else $BENCH_<DATASET>_ROOT)")
    parser.add_argument(
        "--corpus",
        action="store_true",
        help="--data names a pretraining corpus (implied by '+', presets and YAML files): all "
        "its records, less those in the val/test folds of --exclude-for tasks and duplicates; "
        "dataset roots from $BENCH_<NAME>_ROOT",
    )
    parser.add_argument(
        "--exclude-for",
        nargs="+",
        default=[],
        metavar="TASK",
        help="a corpus: the tasks whose val/test ECGs are excluded (as `bench run --tasks` "
        "does, so that run reuses this pretraining)",
    )
    parser.add_argument("--seed", type=int, help="training seed (overrides train.seed)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override, e.g. train.lr=1e-4, train.epochs=2, method.<field>=..., window_s=5",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train on N processes of this machine (one GPU each on CUDA), relaunched "
        "through torchrun (default 1: this process)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Resolve the profile, load the data, pretrain (or reuse), print a summary.

    Under torchrun every process trains; process 0 alone prints. With ``--nproc N`` (N != 1)
    the options are checked here, then the command reruns itself on N processes.
    """
    from bench.config import deep_merge, parse_overrides
    from bench.training.distributed import process_group, relaunch_under_torchrun

    overrides = parse_overrides(args.set)
    if args.seed is not None:
        overrides = deep_merge(overrides, {"train": {"seed": args.seed}})
    if args.nproc != 1:
        _resolve_setup(args, overrides)  # bad options fail here, before any process starts
        return relaunch_under_torchrun(args.nproc, _arguments_without_nproc(args))
    with process_group():
        return _pretrain_here(args, overrides)


def _resolve_setup(
    args: argparse.Namespace, overrides: dict[str, Any]
) -> tuple[str, PretrainSetup]:
    from bench.grid.profiles import load_profile

    profile = load_profile(args.profile)
    return profile.name, profile.resolve(args.method, overrides)


def _pretrain_here(args: argparse.Namespace, overrides: dict[str, Any]) -> int:
    from bench.commands.data_corpus import is_corpus
    from bench.data.loading import load_dataset
    from bench.training.distributed import current_processes, main_process_first
    from bench.training.planning import plan_pretraining, run_pretraining

    processes = current_processes()
    profile_name, setup = _resolve_setup(args, overrides)
    if args.corpus or is_corpus(args.data):
        return _pretrain_corpus(args, setup, profile_name)
    with main_process_first(processes):  # a missing cache is built once, by process 0
        data = load_dataset(args.data, args.data_root, setup.preprocessing)
    plan = plan_pretraining(setup, args.data, data)
    spec = plan.spec.input_spec
    if processes.is_main:
        print(
            f"pretrain {args.method} on {args.data}: {len(data.split_indices('train'))} "
            f"training records, crops {spec.n_leads} leads x {spec.n_samples} samples at "
            f"{spec.sampling_rate} Hz; profile {profile_name}; key {plan.key}"
            + (f"; {processes.world_size} processes" if processes.world_size > 1 else "")
        )
    result = run_pretraining(plan, data, progress=not args.no_progress)
    if processes.is_main:
        _print_summary(plan, result)
    return 0


def _pretrain_corpus(args: argparse.Namespace, setup: PretrainSetup, profile_name: str) -> int:
    """``bench pretrain --data CORPUS``: resolve the corpus, report it, pretrain on it."""
    from bench.commands.data_corpus import load_corpus
    from bench.data.corpus.resolve import report_lines
    from bench.training.distributed import current_processes, main_process_first
    from bench.training.planning import plan_pretraining, run_pretraining

    processes = current_processes()
    with main_process_first(processes):
        corpus = load_corpus(args.data, setup.preprocessing, args.exclude_for, {})
    plan = plan_pretraining(setup, corpus.spec.name, None, corpus)
    spec = plan.spec.input_spec
    if processes.is_main:
        for line in report_lines(corpus.report()):
            print(line)
        print(
            f"pretrain {args.method} on corpus {corpus.label}: crops {spec.n_leads} leads x "
            f"{spec.n_samples} samples at {spec.sampling_rate} Hz; profile {profile_name}; "
            f"key {plan.key}"
        )
    result = run_pretraining(plan, None, not args.no_progress, corpus)
    if processes.is_main:
        _print_summary(plan, result)
    return 0


def _print_summary(plan: PretrainPlan, result: PretrainResult) -> None:
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
    collapse = result.collapse
    if collapse.get("end") is not None and collapse.get("start") is not None:
        verdict = "COLLAPSED" if collapse["collapsed"] else "not collapsed"
        print(
            f"collapse diagnostic {collapse['metric']}: first step {collapse['start']:.4g} -> "
            f"last epoch {collapse['end']:.4g} (collapsed below {collapse['ratio']:g}x the "
            f"first step): "
            f"{verdict}"
        )
    for note in result.notes:
        print(f"note: {note}")
    print(f"checkpoint: {result.checkpoint}")


def _arguments_without_nproc(args: argparse.Namespace) -> list[str]:
    """The ``bench`` arguments that repeat this command in every process."""
    arguments = ["--verbose"] if args.verbose else []
    arguments += ["pretrain", "--method", args.method, "--data", args.data]
    arguments += ["--profile", args.profile]
    if args.data_root:
        arguments += ["--data-root", args.data_root]
    if args.seed is not None:
        arguments += ["--seed", str(args.seed)]
    for item in args.set:
        arguments += ["--set", item]
    if args.no_progress:
        arguments.append("--no-progress")
    return arguments

"""``bench tune``: tune one method's hyperparameters on the validation fold with Optuna."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench tune``."""
    parser = commands.add_parser(
        "tune",
        help="tune pretraining and probe hyperparameters on the validation fold (Optuna)",
        description="Run an Optuna study (TPE, seeded) of METHOD on TASK: each trial pretrains "
        "through the keyed pretraining path and scores the validation fold (9) macro AUROC of "
        "the protocol; the test fold is never used. Rerunning continues the study until it "
        "holds --trials finished trials; several processes may share one --storage. The best "
        "configuration is written after every trial as a `bench run --config` YAML.",
    )
    parser.add_argument("--method", required=True, help="registered method (bench list methods)")
    parser.add_argument("--task", required=True, help="one task (bench list tasks)")
    parser.add_argument(
        "--trials", required=True, type=int, metavar="N", help="finished trials the study holds"
    )
    parser.add_argument("--protocol", default="linear", choices=["linear", "finetune"])
    parser.add_argument(
        "--fraction", type=float, default=1.0, help="label fraction of the training folds (1.0)"
    )
    parser.add_argument("--profile", default="smoke", help="smoke, paper, or a profile YAML")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fixed value for every trial: train.<field>, method.<field>, evaluation.<...>, "
        "preprocessing.<field> or window_s (e.g. train.epochs=2)",
    )
    parser.add_argument(
        "--space", metavar="YAML", help="search-space changes: name -> {low, high[, log]} or "
        "{choices: [...]}, null drops a default (see bench/tuning/space.py)",
    )  # fmt: skip
    parser.add_argument(
        "--params", nargs="+", default=[], metavar="NAME", help="tune only these parameters"
    )
    parser.add_argument(
        "--storage", metavar="URL", help="Optuna RDB URL (default sqlite:///<results>/optuna.db)"
    )
    parser.add_argument(
        "--study", help="study name (default <method>-<task>-<protocol>-f<fraction>-<profile>)"
    )
    parser.add_argument(
        "--sampler-seed", type=int, default=0, help="TPE seed (give each parallel worker its own)"
    )
    parser.add_argument(
        "--out", metavar="YAML", help="best config file (default <results>/tune/<study>.best.yaml)"
    )
    parser.add_argument("--data-root", metavar="PATH", help="dataset folder of the task")
    parser.add_argument("--tracking-uri", metavar="URI", help="MLflow tracking URI")
    parser.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Check the options, run the study's missing trials, print where it stands."""
    import optuna

    from bench.config import parse_overrides
    from bench.task import TASKS
    from bench.tuning.space import flatten
    from bench.tuning.study import safe_url
    from bench.tuning.tuner import TuneOptions, Tuner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    roots = {TASKS.get(args.task).dataset: args.data_root} if args.data_root else {}
    options = TuneOptions(
        method=args.method,
        task=args.task,
        trials=args.trials,
        protocol=args.protocol,
        fraction=args.fraction,
        profile=args.profile,
        overrides=flatten(parse_overrides(args.overrides)),
        space_file=args.space,
        params=tuple(args.params),
        storage=args.storage,
        study=args.study,
        sampler_seed=args.sampler_seed,
        out=args.out,
        data_roots=roots,
        tracking=not args.no_tracking,
        tracking_uri=args.tracking_uri,
        progress=not args.no_progress,
    )
    tuner = Tuner(options)
    storage = safe_url(tuner.storage_url)
    print(f"study {tuner.study_name} in {storage}; tuning {', '.join(tuner.space.names())}")
    summary = tuner.run()
    print(
        f"study {summary.study}: {summary.ran} trials run now, {summary.finished} of "
        f"{options.trials} finished"
    )
    if summary.best_trial is None:
        print("no trial has finished yet; rerun to continue")
        return 1
    best = summary.best_trial
    print(f"best: trial {best.number}, validation macro AUROC {best.value:.4f}")
    for name, value in best.params.items():
        print(f"  {name} = {value}")
    print(f"best config: {summary.config_path}  (bench run --config {summary.config_path})")
    return 0

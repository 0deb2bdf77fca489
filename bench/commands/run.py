"""``bench run``: the methods x tasks x fractions x seeds x protocols grid, end to end."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from bench.commands.run_outputs import write_outputs
from bench.config import deep_merge, parse_overrides, to_dict
from bench.errors import ConfigError


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``bench run``."""
    parser = commands.add_parser(
        "run",
        help="pretrain and evaluate the grid; write results, leaderboards and figures",
        description="Every pretraining happens once and serves every task, fraction and seed; "
        "finished cells are skipped, so an interrupted run continues where it stopped.",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        metavar="M",
        help="method names or groups: 'all' (the brief's methods and baselines), "
        "'comparators' (SimCLR, BYOL, CLOCS, 3KG, ST-MEM, wav2vec 2.0), 'checkpoints'",
    )
    parser.add_argument("--tasks", nargs="+", metavar="T", help="task names or groups (ptbxl)")
    parser.add_argument("--fractions", nargs="+", type=float, metavar="F", help="label fractions")
    parser.add_argument(
        "--shots",
        nargs="+",
        type=int,
        metavar="K",
        help="few-shot instead of --fractions: K labelled training records per class (drawn "
        "by patient, nested in K, seeded; validation drawn the same way), e.g. 1 5 10",
    )
    parser.add_argument(
        "--seeds", type=int, metavar="N", help="number of fraction seeds (0 .. N-1)"
    )
    parser.add_argument(
        "--pretrain-seeds",
        type=int,
        metavar="N",
        help="pretraining (baseline initialisation) seeds per method, each evaluated with every "
        "fraction seed: train.seed .. train.seed+N-1 (default: the profile's, 1 smoke, 3 paper)",
    )
    parser.add_argument(
        "--pretrain-data",
        metavar="CORPUS",
        help="what SSL methods pretrain on: datasets joined by '+' (cinc2021+code15), a preset "
        "(bench list corpora) or a corpus YAML; records in any task's val/test folds (by id "
        "or signal fingerprint) and duplicates are excluded (default: each task's own "
        "training folds)",
    )
    parser.add_argument(
        "--pretrain-records",
        nargs="+",
        metavar="N",
        help="corpus subset sizes (nested seeded subsets; 'all' = the whole corpus), one "
        "pretraining per size, e.g. 10000 50000 all",
    )
    parser.add_argument(
        "--protocols",
        nargs="+",
        choices=["linear", "finetune", "attentive", "knn"],
        help="linear probe, fine-tuning, attentive probe (learnable queries over the frozen "
        "encoder's tokens), k-NN (cosine, temperature-weighted votes); default linear finetune",
    )
    parser.add_argument("--profile", help="smoke, paper, or a profile YAML (default smoke)")
    parser.add_argument(
        "--config", metavar="YAML", help="run config file (bench.grid.plan.RunConfig)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a run config field, e.g. profile_overrides.train.epochs=2",
    )
    parser.add_argument(
        "--data-root",
        action="append",
        default=[],
        metavar="[DATASET=]PATH",
        help="dataset folder (PATH alone applies to every dataset of the run)",
    )
    parser.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a published checkpoint's weights file (default: $BENCH_WEIGHTS_DIR/<official "
        "file name>; `bench checkpoints` lists the names and files)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list the cells and their status (builds no dataset cache: names any still "
        "missing, and the command that builds it)",
    )
    parser.add_argument("--overwrite", action="store_true", help="redo finished cells")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking URI (default: $BENCH_MLFLOW_URI, $MLFLOW_TRACKING_URI, "
        "else sqlite:///<results>/mlflow.db)",
    )
    parser.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    parser.add_argument(
        "--launcher",
        choices=["local", "ray"],
        default="local",
        help="run cells on this machine (local, default) or as tasks on a Ray cluster (ray)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="local worker processes (default: one per CPU core without a GPU, 1 with one; "
        "1 runs everything in this process)",
    )
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster to join (from `ray start --head`; results folder, cache and data on "
        "a filesystem all nodes share); default: a local Ray instance",
    )
    parser.set_defaults(handler=run)


def _export_weights(options: list[str]) -> None:
    """``--weights NAME=PATH`` into ``$BENCH_WEIGHTS``, where every worker process finds it."""
    if options:
        from bench.checkpoints.weights import WEIGHTS_ENV, explicit_weights, parse_weights_options

        pairs = {**explicit_weights(), **parse_weights_options(options)}
        os.environ[WEIGHTS_ENV] = ",".join(f"{name}={path}" for name, path in pairs.items())


def _show_licences(cells: list[Any]) -> None:
    """One line per published checkpoint in the grid: its weights' licence and source."""
    shown = set()
    for cell in cells:
        card = getattr(cell.unit.setup.method, "card", None)
        if card is not None and cell.unit.method not in shown:
            shown.add(cell.unit.method)
            print(
                f"{cell.unit.method}: weights under {card.licence} ({card.code}); cite {card.paper}"
            )


def run(args: argparse.Namespace) -> int:
    """Plan, (dry-)run, then write leaderboards and figures of this grid's cells."""
    from bench.grid.launchers import check_launcher, launch_grid
    from bench.grid.manifest import write_grid_manifest
    from bench.grid.pending_caches import caches_to_build, pending_lines
    from bench.grid.plan import load_run_config
    from bench.grid.runner import cell_status, describe_cell, plan_grid, workspace_for
    from bench.paths import results_dir

    _refuse_torchrun()
    _export_weights(args.weights)
    started_ms = int(time.time() * 1000)
    config = load_run_config(
        args.config, deep_merge(flag_values(args), parse_overrides(args.overrides))
    )
    if not args.dry_run:
        check_launcher(args.launcher, args.address)
    workspace = workspace_for(config, progress=not args.no_progress)
    if args.dry_run:
        pending = caches_to_build(config, workspace.profile, workspace.data_roots)
        if pending:
            print("\n".join(pending_lines(pending)))
            return 0
    notes: set[str] = set()
    cells = plan_grid(config, workspace, notes)
    for note in sorted(notes):
        print(f"not planned: {note}")
    _show_licences(cells)
    if args.dry_run:
        statuses = [cell_status(cell) for cell in cells]
        for cell, status in zip(cells, statuses, strict=True):
            print(f"{status:<8} {describe_cell(cell)}  [{cell.eval_key}]")
        counts = {s: statuses.count(s) for s in ("done", "failed", "pending")}
        print(f"{len(cells)} cells: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        return 0
    mirror = None if args.no_tracking else _mirror(args.tracking_uri, args.overwrite)
    summary = launch_grid(
        args.launcher,
        cells,
        config,
        workspace,
        overwrite=args.overwrite,
        on_result=mirror.log if mirror else None,
        address=args.address,
        jobs=args.jobs,
    )
    if mirror is not None:
        mirror.sync()
    for line in summary.lines():
        print(line)
    results = results_dir()
    manifest = write_grid_manifest(results, to_dict(config), [c.eval_key for c in cells])
    keys = frozenset(c.eval_key for c in cells)
    write_outputs(results, keys, manifest, mirror, started_ms, workspace.record_signal)
    print(f"grid manifest: {manifest}")
    return 1 if summary.failed else 0


def _mirror(uri: str | None, overwrite: bool) -> Any:
    """The MLflow mirror (imported here: MLflow takes seconds to import, --no-tracking skips it)."""
    from bench.tracking.mirror import MlflowMirror

    return MlflowMirror.connect(uri, overwrite)


def _refuse_torchrun() -> None:
    """A grid is spread with --launcher ray, not torchrun: DDP belongs to one pretraining."""
    from bench.training.distributed import launched_by_torchrun

    if launched_by_torchrun() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(
            "bench run does not run under torchrun: pretrain each method with "
            "`torchrun --nproc-per-node N -m bench pretrain ...` (or `bench pretrain --nproc N`) "
            "first; `bench run` then reuses those checkpoints. To spread the grid itself, use "
            "--launcher ray."
        )


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """Run config fields given as flags (absent flags leave the config file's values)."""
    values: dict[str, Any] = {}
    flags = (
        "methods", "tasks", "fractions", "shots", "seeds", "pretrain_seeds", "protocols", "profile"
    )  # fmt: skip
    for flag in flags:
        if getattr(args, flag) is not None:
            values[flag] = getattr(args, flag)
    if args.pretrain_data is not None:
        values["pretrain_data"] = args.pretrain_data
    if args.pretrain_records is not None:
        values["pretrain_records"] = [_size(item) for item in args.pretrain_records]
    roots = _data_roots(args.data_root)
    if roots:
        values["data_roots"] = roots
    return values


def _size(item: str) -> int | str:
    """A ``--pretrain-records`` item: a positive count or ``all``."""
    if item == "all":
        return item
    if not item.isdigit() or int(item) < 1:
        raise ConfigError(f"--pretrain-records {item!r}: give positive record counts or 'all'")
    return int(item)


def _data_roots(items: list[str]) -> dict[str, str]:
    """``--data-root ptbxl=PATH`` entries; a bare PATH applies to every dataset named later."""
    from bench.data.loading import DATASETS

    roots: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if sep and name in DATASETS:
            roots[name] = path
        elif sep:
            raise ConfigError(
                f"--data-root {item}: {name!r} is not a dataset ({', '.join(DATASETS.names())})"
            )
        else:
            roots.update({dataset: item for dataset in DATASETS.names()})
    return roots

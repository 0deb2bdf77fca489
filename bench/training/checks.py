"""Checks a pretraining makes before it trains: the records fit the method, the run folder's
checkpoint is the same on every process and belongs to this run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.atomic import quarantine
from bench.data.formats.ragged import Ragged
from bench.data.formats.shards import ShardedRecords
from bench.errors import ConfigError
from bench.method import Method
from bench.training.checkpoint import CorruptCheckpointError, read_checkpoint
from bench.training.config import TrainConfig
from bench.training.distributed import Processes, all_gather_values


def check_records(method: Method, signals: np.ndarray | Ragged | ShardedRecords) -> None:
    """ConfigError unless ``method`` pretrains and ``signals`` [N, leads, T] fits its input
    (for Ragged records: the longest; shorter ones are left out of the crops)."""
    if not method.needs_pretraining:
        raise ConfigError(f"method {method.name!r} is a baseline without pretraining")
    spec = method.input_spec
    if len(signals.shape) != 3 or signals.shape[1] != spec.n_leads:
        raise ConfigError(
            f"method {method.name!r} expects records [N, {spec.n_leads}, T], "
            f"got {tuple(signals.shape)}"
        )
    if signals.shape[2] < spec.n_samples:
        raise ConfigError(
            f"method {method.name!r} crops {spec.n_samples} samples but the records have only "
            f"{signals.shape[2]}; shorten the input window"
        )


def read_shared_checkpoint(path: Path, processes: Processes) -> dict[str, Any] | None:
    """The checkpoint at ``path`` (None if absent), checked to be the same on every process.

    A corrupt checkpoint (failing its checksum, truncated) is moved aside and reported by
    name; the run then starts over (None)."""
    try:
        state = read_checkpoint(path) if path.exists() else None
    except CorruptCheckpointError as error:
        if processes.is_main:
            quarantine(path, str(error).replace(str(path), path.name))
        state = None
    steps = all_gather_values(None if state is None else int(state["step"]), processes)
    if len(set(steps)) > 1:
        raise ConfigError(
            f"the processes see different checkpoints at {path} (steps {steps}); the run folder "
            "must be on a file system that every process shares"
        )
    return state


def check_same_run(state: dict[str, Any], identity: dict[str, Any], run_dir: Path) -> None:
    """ConfigError unless checkpoint ``state`` is of the run ``identity`` describes (execution
    fields of the train config, such as the device, may differ)."""
    learning = {
        k: v for k, v in state["train_config"].items() if k not in TrainConfig.EXECUTION_FIELDS
    }
    stored = {**state, "train_config": learning, "records": list(state["records"])}
    differing = [key for key in identity if stored[key] != identity[key]]
    if differing:
        raise ConfigError(
            f"{run_dir} holds a pretraining with a different {', '.join(differing)}; "
            "use another run folder or delete this one"
        )

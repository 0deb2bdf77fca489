"""The grid a ``bench run`` covers: its config, the units of pretraining and the cells."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.config import check_range, deep_merge, from_dict, replace, to_dict
from bench.data.signals import SignalSet
from bench.errors import ConfigError
from bench.evaluation.fractions import DEFAULT_FRACTIONS, check_fraction
from bench.grid.profiles import Profile, load_profile
from bench.hashing import MAJOR_VERSION, stable_hash
from bench.method import METHODS, Protocol
from bench.task import TASKS, Task, expand_tasks
from bench.training.planning import PretrainPlan, input_spec_for, plan_pretraining
from bench.training.spec import PretrainSetup

PROTOCOLS: tuple[Protocol, ...] = ("linear", "finetune")


@dataclass(frozen=True)
class RunConfig:
    """What ``bench run`` covers (flags, a YAML ``--config`` and ``--set key=value``).

    ``methods``/``tasks`` take names or groups ("all", "ptbxl"); ``seeds`` is a count (3 ->
    seeds 0, 1, 2) or a list; ``profile`` is a built-in profile or a YAML path and
    ``profile_overrides`` is merged into it (e.g. {"train": {"epochs": 2}}); ``data_roots``
    maps dataset names to folders.
    """

    methods: tuple[str, ...] = ("all",)
    tasks: tuple[str, ...] = ("synthetic",)
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS
    seeds: int | tuple[int, ...] = 3
    protocols: tuple[Protocol, ...] = PROTOCOLS
    profile: str = "smoke"
    profile_overrides: dict[str, Any] = field(default_factory=dict)
    data_roots: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for fraction in self.fractions:
            check_fraction(fraction, "fractions")
        if not self.fractions:
            raise ConfigError("fractions must list at least one label fraction")
        if isinstance(self.seeds, int):
            check_range("seeds", self.seeds, 1)
        else:
            for seed in self.seeds:
                check_range("seeds", seed, 0)
        for protocol in self.protocols:
            if protocol not in PROTOCOLS:
                raise ConfigError(f"unknown protocol {protocol!r}; use {', '.join(PROTOCOLS)}")

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The evaluation seeds."""
        return tuple(range(self.seeds)) if isinstance(self.seeds, int) else self.seeds


def load_run_config(path: str | Path | None, overrides: dict[str, Any]) -> RunConfig:
    """A RunConfig from an optional YAML file with ``overrides`` (nested dicts) merged in."""
    data: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"run config file not found: {file}")
        try:
            data = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"run config {file} is not valid YAML: {error}") from error
        if not isinstance(data, dict):
            raise ConfigError(f"run config {file} must be a mapping of fields")
    return from_dict(RunConfig, deep_merge(data, overrides), where="run")


def resolved_profile(config: RunConfig) -> Profile:
    """The run's profile with its overrides applied."""
    profile = load_profile(config.profile)
    return replace(profile, config.profile_overrides, where=f"profile {profile.name}")


def expand_methods(names: tuple[str, ...]) -> list[str]:
    """Method names with 'all' expanded to every registered method, order kept."""
    expanded: list[str] = []
    for name in names:
        members = METHODS.names() if name == "all" else [METHODS.get(name).name]
        expanded.extend(m for m in members if m not in expanded)
    return expanded


@dataclass(frozen=True)
class Unit:
    """One encoder the grid evaluates: a pretraining (plan set) or a baseline initialisation."""

    method: str
    dataset: str
    setup: PretrainSetup
    key: str
    plan: PretrainPlan | None

    @property
    def needs_pretraining(self) -> bool:
        return self.plan is not None


@dataclass(frozen=True)
class Cell:
    """One evaluation: a unit's encoder on a task, protocol, label fraction and seed."""

    unit: Unit
    task: Task
    protocol: Protocol
    fraction: float
    seed: int
    eval_key: str

    def identity(self) -> dict[str, Any]:
        """The fields that name this cell in its result record."""
        return {
            "eval_key": self.eval_key,
            "pretrain_key": self.unit.key if self.unit.needs_pretraining else None,
            "method": self.unit.method,
            "task": self.task.name,
            "task_group": self.task.group,
            "protocol": self.protocol,
            "fraction": self.fraction,
            "seed": self.seed,
        }


def plan_unit(method: str, dataset: str, profile: Profile, data: SignalSet) -> Unit:
    """The unit of ``method`` on ``dataset`` under ``profile`` (``data`` already loaded)."""
    setup = profile.resolve(method)
    if setup.method.needs_pretraining:
        plan = plan_pretraining(setup, dataset, data)
        return Unit(method, dataset, setup, plan.key, plan)
    document = {
        "kind": "baseline",
        "major_version": MAJOR_VERSION,
        "method": method,
        "method_config": to_dict(setup.method_config),
        "dataset": dataset,
        "preprocessing": to_dict(setup.preprocessing),
        "input": to_dict(input_spec_for(data, setup.window_s)),
    }
    return Unit(method, dataset, setup, stable_hash(document), None)


def eval_key(
    unit: Unit,
    task: Task,
    protocol: Protocol,
    fraction: float,
    seed: int,
    profile: Profile,
    data: SignalSet,
) -> str:
    """Key of a cell: unit, task (version, data), protocol and its config, fraction, seed."""
    evaluation = profile.evaluation
    protocol_config = (
        to_dict(evaluation.linear)
        if protocol == "linear"
        else {**to_dict(evaluation.finetune), "aggregate": evaluation.aggregate}
    )
    document = {
        "kind": "eval",
        "major_version": MAJOR_VERSION,
        "unit": unit.key,
        "task": task.name,
        "task_version": task.version,
        "data_fingerprint": data.fingerprint,
        "protocol": protocol,
        "protocol_config": protocol_config,
        "stride_s": evaluation.stride_s,
        "fraction": fraction,
        "seed": seed,
        "bootstrap": [evaluation.n_boot, evaluation.boot_seed, evaluation.ci_level],
    }
    return stable_hash(document)


def task_list(config: RunConfig) -> list[Task]:
    """The run's tasks, groups expanded."""
    return [TASKS.get(name) for name in expand_tasks(list(config.tasks))]

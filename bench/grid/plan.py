"""The grid a ``bench run`` covers: its config, the units of pretraining and the cells."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from bench.config import check_range, deep_merge, from_dict, replace, to_dict
from bench.data.corpus.naming import parse_corpus
from bench.data.corpus.resolve import ResolvedCorpus
from bench.data.signals import SignalSet
from bench.errors import ConfigError
from bench.evaluation.fractions import DEFAULT_FRACTIONS, check_fraction
from bench.grid.profiles import Profile, load_profile
from bench.grid.protocols import DEFAULT_PROTOCOLS, PROTOCOLS, protocol_document
from bench.grid.unit import Unit
from bench.hashing import MAJOR_VERSION, stable_hash
from bench.method import Protocol
from bench.task import TASKS, Task, expand_tasks
from bench.training.planning import input_spec_for, plan_pretraining

Budget = tuple[float, "int | None"]  # (label fraction, shots): one of the two labels a cell


@dataclass(frozen=True)
class RunConfig:
    """What ``bench run`` covers (flags, a YAML ``--config`` and ``--set key=value``).

    ``methods``/``tasks`` take names or groups ("all", "ptbxl"); ``seeds`` (the fraction seeds:
    labelled subset, probe and fine-tuning) is a count (3 -> seeds 0, 1, 2) or a list;
    ``pretrain_seeds`` is a count (N -> the profile's ``train.seed`` and the N - 1 after it) or a
    list, None for the profile's ``pretrain_seeds`` count: every method gets one encoder per
    pretraining seed (a baseline without pretraining: one initialisation seed), and every
    fraction seed is evaluated on every one of them; ``profile`` is a built-in profile or a
    YAML path and ``profile_overrides`` is merged into it (e.g. {"train": {"epochs": 2}});
    ``data_roots`` maps dataset names to folders. ``pretrain_data`` names the corpus every
    SSL method pretrains on (``bench.data.corpus.spec``: datasets joined by '+', a preset or a YAML
    file; None: each task's own training folds), with the records that are the same ECG as a
    val/test record of any task of the run excluded; ``pretrain_records`` lists corpus subset
    sizes (nested seeded subsets, "all" = the whole corpus), one pretraining per size.
    ``shots`` (few-shot, instead of ``fractions``): K labelled training records per class
    (``bench.evaluation.shots``), one cell per K; such a cell's ``fraction`` is 0.0.
    ``protocols``: any of PROTOCOLS (default DEFAULT_PROTOCOLS).
    """

    methods: tuple[str, ...] = ("all",)
    tasks: tuple[str, ...] = ("synthetic",)
    fractions: tuple[float, ...] | None = None  # None: each task's own, else DEFAULT_FRACTIONS
    seeds: int | tuple[int, ...] = 3
    pretrain_seeds: int | tuple[int, ...] | None = None
    protocols: tuple[Protocol, ...] = DEFAULT_PROTOCOLS
    profile: str = "smoke"
    profile_overrides: dict[str, Any] = field(default_factory=dict)
    data_roots: dict[str, str] = field(default_factory=dict)
    pretrain_data: str | None = None
    pretrain_records: tuple[int | Literal["all"], ...] = ("all",)
    shots: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for fraction in self.fractions or ():
            check_fraction(fraction, "fractions")
        if self.fractions is not None and not self.fractions:
            raise ConfigError("fractions must list at least one label fraction")
        if self.shots is not None:
            if self.fractions is not None:
                raise ConfigError("--shots replaces --fractions: give one of them")
            if not self.shots or len(set(self.shots)) != len(self.shots):
                raise ConfigError(f"shots must list distinct counts, got {list(self.shots)}")
            for count in self.shots:
                check_range("shots", count, 1)
        if isinstance(self.seeds, int):
            check_range("seeds", self.seeds, 1)
        else:
            for seed in self.seeds:
                check_range("seeds", seed, 0)
        if isinstance(self.pretrain_seeds, int):
            check_range("pretrain_seeds", self.pretrain_seeds, 1)
        elif self.pretrain_seeds is not None:
            if not self.pretrain_seeds:
                raise ConfigError("pretrain_seeds must list at least one seed")
            for seed in self.pretrain_seeds:
                check_range("pretrain_seeds", seed, 0)
        for protocol in self.protocols:
            if protocol not in PROTOCOLS:
                raise ConfigError(f"unknown protocol {protocol!r}; use {', '.join(PROTOCOLS)}")
        if self.pretrain_data is not None:
            parse_corpus(self.pretrain_data)  # a bad spec fails here, naming the option
        if not self.pretrain_records:
            raise ConfigError("pretrain_records must list at least one size (or 'all')")
        for size in self.pretrain_records:
            if size != "all":
                check_range("pretrain_records", size, 1)
        if self.pretrain_data is None and self.pretrain_records != ("all",):
            raise ConfigError("--pretrain-records subsets a corpus: name it with --pretrain-data")

    def fractions_for(self, task: Task) -> tuple[float, ...]:
        """The label fractions of ``task``'s cells: the run's where given (``--fractions``),
        else the task's own list (``Task.fractions``), else ``DEFAULT_FRACTIONS``."""
        if self.fractions is not None:
            return self.fractions
        return task.fractions if task.fractions is not None else DEFAULT_FRACTIONS

    def budgets_for(self, task: Task) -> list[Budget]:
        """The label budgets of ``task``'s cells: (fraction, None) per label fraction, or
        (0.0, K) per shot count of a few-shot run."""
        if self.shots is not None:
            return [(0.0, count) for count in self.shots]
        return [(fraction, None) for fraction in self.fractions_for(task)]

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The evaluation seeds."""
        return tuple(range(self.seeds)) if isinstance(self.seeds, int) else self.seeds

    def pretrain_seed_list(self, profile: Profile) -> tuple[int, ...]:
        """The pretraining (or baseline initialisation) seeds under ``profile``."""
        seeds = profile.pretrain_seeds if self.pretrain_seeds is None else self.pretrain_seeds
        if isinstance(seeds, int):
            return tuple(profile.train.seed + i for i in range(seeds))
        return tuple(seeds)


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


@dataclass(frozen=True)
class Cell:
    """One evaluation: a unit's encoder on a task, protocol, label fraction and seed; a
    few-shot cell has ``shots`` (K labelled records per class) and ``fraction`` 0.0."""

    unit: Unit
    task: Task
    protocol: Protocol
    fraction: float
    seed: int
    eval_key: str
    shots: int | None = None

    @property
    def budget_text(self) -> str:
        """'0.1' for a label fraction, '5-shot' for a few-shot cell."""
        return f"{self.fraction:g}" if self.shots is None else f"{self.shots}-shot"

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
            "shots": self.shots,
            "seed": self.seed,
            "pretrain_seed": self.unit.seed if self.unit.seed is not None else self.seed,
        }


def plan_unit(
    method: str,
    dataset: str,
    profile: Profile,
    data: SignalSet,
    seed: int | None = None,
    corpus: ResolvedCorpus | None = None,
) -> Unit:
    """The unit of ``method`` on ``dataset`` under ``profile``; ``data`` is the dataset loaded
    with the unit's preprocessing (``profile.resolve(method).preprocessing``; under ``input:
    native`` a method's own, see ``Workspace.plan_unit``).

    ``seed`` replaces the pretraining's ``train.seed`` or fixes a baseline's initialisation
    seed; None keeps the profile's ``train.seed`` and initialises a baseline per cell seed.
    ``corpus`` (at the same preprocessing) is what an SSL method pretrains on instead of the
    training folds of ``dataset``; baselines ignore it.
    """
    setup = profile.resolve(method)
    if setup.method.needs_pretraining:
        if seed is not None:
            setup = dataclasses.replace(setup, train=dataclasses.replace(setup.train, seed=seed))
        plan = plan_pretraining(setup, dataset, data, corpus)
        evaluation = profile.evaluation_for(method)
        size = None if corpus is None or corpus.selection.size == "all" else corpus.selection.size
        label = None if corpus is None else corpus.label
        return Unit(
            method, dataset, setup, plan.key, plan, setup.train.seed, evaluation,
            corpus=label, corpus_records=size,
        )  # fmt: skip
    document = {
        "kind": "baseline",
        "major_version": MAJOR_VERSION,
        "method": method,
        "method_config": to_dict(setup.method_config),
        "dataset": dataset,
        "preprocessing": to_dict(setup.preprocessing),
        "input": to_dict(input_spec_for(data, setup.window_s)),
        **setup.method.unit_identity(setup.method_config),
    }
    evaluation = profile.evaluation_for(method)
    return Unit(method, dataset, setup, stable_hash(document), None, seed, evaluation)


def eval_key(
    unit: Unit,
    task: Task,
    protocol: Protocol,
    fraction: float,
    seed: int,
    profile: Profile,
    data: SignalSet,
    shots: int | None = None,
) -> str:
    """Key of a cell: unit, task (version, data), protocol and its config, fraction (or
    ``shots``), seed.

    Entries appear only where they change what older keys meant: a baseline's
    initialisation seed where it differs from the cell seed (it used to be the cell seed),
    ``val_fraction`` where validation is not the whole fold (``same``), the noise robustness
    options where levels are scored, a regression task's Huber loss where it is chosen,
    fine-tuning's layer decay where it is set, and ``shots`` in place of the fraction.
    """
    evaluation = unit.evaluation
    protocol_config = protocol_document(unit, task, protocol)
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
    if not unit.needs_pretraining and unit.seed is not None and unit.seed != seed:
        document["init_seed"] = unit.seed
    if evaluation.val_fraction != "full":
        document["val_fraction"] = evaluation.val_fraction
    if evaluation.noise.enabled and task.kind != "segmentation":  # masks are not noise-scored
        document["noise"] = to_dict(evaluation.noise)
    if shots is not None:
        del document["fraction"]
        document["shots"] = shots
    return stable_hash(document)


def task_list(config: RunConfig) -> list[Task]:
    """The run's tasks, groups expanded."""
    return [TASKS.get(name) for name in expand_tasks(list(config.tasks))]

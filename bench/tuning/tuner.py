"""``bench tune``: an Optuna study of one method's pretraining and probe hyperparameters, scored
on the validation fold (9) only.

Each trial samples the search space (``bench.tuning.space``), turns the values into the
``profile_overrides`` of a RunConfig, pretrains through the keyed pretraining path
(``results/pretrain/<method>-<key>``: a repeated configuration reuses its checkpoint, an
interrupted one resumes) and returns ``bench.grid.cells.validation_score``: the validation
macro AUROC of the linear probe or fine-tune on the labelled fraction. The test fold is never
indexed, embedded or scored.

The study lives in an Optuna RDB storage (``sqlite:///<results>/optuna.db`` by default; any
SQLAlchemy URL such as ``postgresql://...`` for many workers, all running the same command).
``trials`` is the study's total: a rerun adds trials until that many have finished, so an
interrupted study continues, a finished one runs nothing, and a larger N extends it. A trial
interrupted with Ctrl-C is queued again with the same values on the next run; one whose worker
died is retried once after its heartbeat goes stale. After every trial the best configuration
so far is written as a RunConfig YAML that ``bench run --config FILE`` runs unchanged.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from bench.config import deep_merge, to_dict
from bench.errors import BenchError, ConfigError
from bench.evaluation.fractions import check_fraction
from bench.grid.cells import validation_score
from bench.grid.plan import Cell, RunConfig, eval_key, load_run_config
from bench.grid.plan import resolved_profile as resolve_run_profile
from bench.grid.workspace import Workspace
from bench.method import METHODS, Protocol
from bench.paths import results_dir
from bench.task import TASKS
from bench.training.config import TrainConfig
from bench.tuning.space import PROTOCOL_DEFAULTS, SearchSpace, build_space, profile_overrides
from bench.tuning.study import (
    FINISHED,
    count,
    default_storage,
    open_study,
    requeue_interrupted,
    safe_url,
    short,
    write_best_config,
)
from bench.tuning.tracking import StudyTracker, trial_params

log = logging.getLogger(__name__)

EVAL_SEED = 0  # the fraction subset, probe and fine-tune seed of every trial
TUNED_PROTOCOLS = tuple(PROTOCOL_DEFAULTS)  # the protocols with a search space
_STUDY_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class TuneOptions:
    """What ``bench tune`` does; ``overrides`` are fixed dotted values (``--set``) applied to
    every trial, ``space_file``/``params`` change and cut the default search space."""

    method: str
    task: str
    trials: int
    protocol: Protocol = "linear"
    fraction: float = 1.0
    profile: str = "smoke"
    overrides: dict[str, Any] = field(default_factory=dict)
    space_file: str | None = None
    params: tuple[str, ...] = ()
    storage: str | None = None
    study: str | None = None
    sampler_seed: int = 0
    out: str | None = None
    data_roots: dict[str, str] = field(default_factory=dict)
    tracking: bool = True
    tracking_uri: str | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"--trials = {self.trials} must be at least 1")
        check_fraction(self.fraction, "--fraction")
        if self.protocol not in TUNED_PROTOCOLS:
            raise ConfigError(
                f"--protocol {self.protocol!r}: use {' or '.join(TUNED_PROTOCOLS)} (the attentive "
                "probe and k-NN choose their settings on validation in every cell)"
            )
        if self.study is not None and not _STUDY_NAME.fullmatch(self.study):
            raise ConfigError(f"--study {self.study!r}: use letters, digits, '_', '.' and '-'")


@dataclass(frozen=True)
class TuneSummary:
    """Where a study stands after a run."""

    study: str
    storage: str
    ran: int
    finished: int
    best_trial: FrozenTrial | None
    config_path: Path | None


class Tuner:
    """One process's part of a study: checks the options, then runs trials until the study
    has ``options.trials`` finished ones (other processes may add trials meanwhile)."""

    def __init__(self, options: TuneOptions):
        self.options = options
        self.method = METHODS.get(options.method)
        self.task = TASKS.get(options.task)
        if options.protocol not in self.method.protocols:
            raise ConfigError(
                f"method {self.method.name!r} is evaluated by "
                f"{', '.join(self.method.protocols)} only, not --protocol {options.protocol}"
            )
        space_file, only = options.space_file, list(options.params)
        self.space: SearchSpace = build_space(self.method, options.protocol, space_file, only)
        both = sorted(set(options.overrides) & set(self.space.names()))
        if both:
            raise ConfigError(
                f"{both[0]} is both fixed by --set and tuned; drop one (--params lists the "
                "tuned names)"
            )
        self.fixed = profile_overrides(self.method, options.overrides)
        base = self.run_config({})
        for end, corner in zip(("low", "high"), self.space.corners(), strict=True):
            try:
                resolve_run_profile(self.run_config(corner)).resolve(self.method.name)
            except ConfigError as error:
                raise ConfigError(
                    f"the search space at its {end} end is invalid ({error}); "
                    "narrow it with --space FILE or change the fixed values with --set"
                ) from error
        self.profile_name = resolve_run_profile(base).name
        self.workspace = Workspace(
            resolve_run_profile(base), dict(options.data_roots), options.progress
        )
        self.workspace.task_data(self.task)  # load the data once; bad data fails here
        self.study_name = options.study or default_study_name(options, self.profile_name)
        self.storage_url = options.storage or default_storage()
        self.out = Path(options.out) if options.out else default_output(self.study_name)
        self.tracker: StudyTracker | None = None
        self.ran = 0

    def run_config(self, values: dict[str, Any]) -> RunConfig:
        """The RunConfig of one trial: the fixed overrides plus the sampled ``values``."""
        tuned = profile_overrides(self.method, self.space.field_values(values))
        return load_run_config(
            None,
            {
                "methods": [self.method.name],
                "tasks": [self.task.name],
                "fractions": [self.options.fraction],
                "protocols": [self.options.protocol],
                "profile": self.options.profile,
                "profile_overrides": deep_merge(self.fixed, tuned),
                "data_roots": dict(self.options.data_roots),
            },
        )

    def run(self) -> TuneSummary:
        """Create or continue the study, run the missing trials, write the best config."""
        study = open_study(
            self.study_name, self.storage_url, self._identity(), self.options.sampler_seed
        )
        remaining = self.options.trials - count(study)
        self.ran = 0
        if remaining > 0:
            self.tracker = self._connect_tracking()
            requeue_interrupted(study)
            try:
                study.optimize(
                    self._objective,
                    n_trials=remaining,
                    catch=(BenchError,),
                    callbacks=[
                        optuna.study.MaxTrialsCallback(self.options.trials, states=FINISHED),
                        self._after_trial,
                    ],
                )
            finally:
                self._tracked(lambda t: t.close())
        path = write_best_config(study, self.out, self.storage_url)
        best = study.best_trial if path is not None else None
        return TuneSummary(
            self.study_name, safe_url(self.storage_url), self.ran, count(study), best, path
        )

    def _identity(self) -> dict[str, Any]:
        """What a study's trials must share (execution options such as the device aside)."""
        execution = {f"train.{name}" for name in TrainConfig.EXECUTION_FIELDS}
        execution |= {"evaluation.device", "evaluation.batch_size"}
        fixed = {k: v for k, v in self.options.overrides.items() if k not in execution}
        return {
            "method": self.method.name,
            "task": self.task.name,
            "protocol": self.options.protocol,
            "fraction": self.options.fraction,
            "profile": self.profile_name,
            "fixed": fixed,
            "space": self.space.as_dict(),
        }

    def _objective(self, trial: optuna.Trial) -> float:
        """Validation macro AUROC of the trial's configuration (pretraining included)."""
        started = time.perf_counter()
        config = self.run_config(self.space.suggest(trial))
        trial.set_user_attr("run_config", to_dict(config))
        cell, workspace = self._trial_cell(config)
        pretrain_key = cell.unit.key if cell.unit.needs_pretraining else None
        trial.set_user_attr("pretrain_key", pretrain_key)
        params = trial_params(cell, workspace.profile)
        run_id = self._tracked(lambda t: t.start_trial(trial.number, params, cell))
        try:
            score = validation_score(cell, workspace)
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            self._tracked(lambda t: t.end_trial(run_id, None, "KILLED", {}))
            raise
        except Exception as error:
            failure = {"error": f"{type(error).__name__}: {error}"}
            self._tracked(lambda t: t.end_trial(run_id, None, "FAILED", failure))
            raise
        seconds = time.perf_counter() - started
        selection = {k: v for k, v in score.details.items() if k in ("best_c", "best_step")}
        trial.set_user_attr("selection", selection)
        trial.set_user_attr("seconds", round(seconds, 2))
        metrics = {"val_macro_auroc": score.macro_auroc, "time.trial_s": seconds}
        tags = {f"selection.{k}": str(v) for k, v in selection.items()}
        self._tracked(lambda t: t.end_trial(run_id, metrics, "FINISHED", tags))
        return score.macro_auroc

    def _trial_cell(self, config: RunConfig) -> tuple[Cell, Workspace]:
        """The one evaluation cell of a trial and a workspace on its profile (sharing the
        loaded data: every trial has the same preprocessing)."""
        profile = resolve_run_profile(config)
        workspace = Workspace(
            profile,
            dict(self.options.data_roots),
            self.options.progress,
            _datasets=self.workspace._datasets,
            _tasks=self.workspace._tasks,
        )
        unit = workspace.plan_unit(self.method.name, self.task.dataset)
        data = workspace.unit_data(unit)
        protocol, fraction = self.options.protocol, self.options.fraction
        key = eval_key(unit, self.task, protocol, fraction, EVAL_SEED, profile, data)
        return Cell(unit, self.task, protocol, fraction, EVAL_SEED, key), workspace

    def _after_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        """Print the trial, write the best configuration so far, log it on the study run."""
        self.ran += 1
        values = ", ".join(f"{k}={short(v)}" for k, v in trial.params.items())
        value = f"val macro AUROC {trial.value:.4f}" if trial.value is not None else "no value"
        print(f"trial {trial.number} {trial.state.name.lower()}: {value}  [{values}]", flush=True)
        path = write_best_config(study, self.out, self.storage_url)
        if path is not None:
            best = study.best_trial
            print(f"  best so far: trial {best.number}, {best.value:.4f} -> {path}", flush=True)
            self._tracked(lambda t: t.log_best(best, count(study), path))

    def _connect_tracking(self) -> StudyTracker | None:
        if not self.options.tracking:
            return None
        tags = {
            "method": self.method.name,
            "task": self.task.name,
            "protocol": self.options.protocol,
            "fraction": str(self.options.fraction),
            "profile": self.profile_name,
            "study_storage": safe_url(self.storage_url),
        }
        try:
            return StudyTracker(self.options.tracking_uri, self.task.group, self.study_name, tags)
        except BenchError as error:
            log.warning("MLflow tracking off for this study: %s", error)
            return None

    def _tracked(self, action: Callable[[StudyTracker], Any]) -> Any:
        """``action(tracker)``; on a store error warn once and stop tracking (trials go on)."""
        if self.tracker is None:
            return None
        try:
            return action(self.tracker)
        except BenchError as error:
            log.warning("MLflow logging stopped (the study is safe in its storage): %s", error)
            self.tracker = None
            return None


def default_study_name(options: TuneOptions, profile: str) -> str:
    """``<method>-<task>-<protocol>-f<fraction>-<profile>``."""
    name = f"{options.method}-{options.task}-{options.protocol}-f{options.fraction:g}-{profile}"
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def default_output(study: str) -> Path:
    """``<results>/tune/<study>.best.yaml``."""
    return results_dir() / "tune" / f"{study}.best.yaml"

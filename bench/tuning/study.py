"""The Optuna side of ``bench tune``: the storage, the study and what its trials must share,
retries of interrupted trials, and the best trial as a RunConfig YAML."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
import yaml
from optuna.exceptions import ExperimentalWarning
from optuna.trial import TrialState
from sqlalchemy.engine import make_url

from bench.atomic import atomic_write
from bench.errors import ConfigError
from bench.paths import results_dir
from bench.schema_race import retry_schema_race

DB_NAME = "optuna.db"
IDENTITY_ATTR = "bench_tune"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
HEARTBEAT_S, GRACE_S = 60, 180
SCHEMA_RACE_ATTEMPTS = 5


def default_storage() -> str:
    """SQLite file ``optuna.db`` under the results folder."""
    results = results_dir()
    results.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(results / DB_NAME).resolve()}"


def open_study(name: str, url: str, identity: dict[str, Any], sampler_seed: int) -> optuna.Study:
    """Create study ``name`` in ``url`` or load it; ConfigError when it exists with another
    ``identity`` (what every trial of a study must share). The TPE sampler is seeded with
    ``sampler_seed`` plus the trials already there, so a fresh study is reproducible and a
    continued one does not replay its first draws."""
    storage = open_storage(url)
    try:
        study = optuna.create_study(
            study_name=name, storage=storage, direction="maximize", load_if_exists=True
        )
    except sqlalchemy.exc.SQLAlchemyError as error:
        raise ConfigError(f"optuna storage {safe_url(url)}: {error}") from error
    plain = json.loads(json.dumps(identity))  # as the storage gives it back
    stored = study.user_attrs.get(IDENTITY_ATTR)
    if stored is None:
        study.set_user_attr(IDENTITY_ATTR, plain)
    elif stored != plain:
        differing = sorted(k for k in plain if stored.get(k) != plain[k])
        raise ConfigError(
            f"study {name!r} in {safe_url(url)} was created with a different "
            f"{', '.join(differing)}; rerun with the same options or choose another --study"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        study.sampler = optuna.samplers.TPESampler(
            seed=sampler_seed + len(study.trials), multivariate=True
        )
    return study


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats: a trial whose worker died is retried once.

    Workers that open a new database at the same moment race to create its schema; the
    loser's error is retried after a short wait (``bench.schema_race``).
    """

    def open_rdb() -> optuna.storages.RDBStorage:
        make_url(url)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S, **_retry_stale()
            )

    try:
        return retry_schema_race(open_rdb, url, SCHEMA_RACE_ATTEMPTS)
    except (sqlalchemy.exc.SQLAlchemyError, ValueError, ImportError) as error:
        raise ConfigError(
            f"--storage {safe_url(url)} cannot be opened ({error}); give a database URL "
            "such as sqlite:///path/optuna.db or postgresql://user@host/db"
        ) from error


def safe_url(url: str) -> str:
    """``url`` with any password hidden (for messages, YAML headers and MLflow tags)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        return url


def requeue_interrupted(study: optuna.Study) -> None:
    """Queue each trial stopped by Ctrl-C again (same values, so its pretraining resumes)."""
    retried = {t.user_attrs.get("retry_of") for t in study.trials}
    for trial in study.trials:
        interrupted = trial.state == TrialState.FAIL and trial.user_attrs.get("interrupted")
        if interrupted and trial.number not in retried:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def count(study: optuna.Study, states: tuple[TrialState, ...] = FINISHED) -> int:
    """Trials of ``study`` in ``states`` (finished ones by default)."""
    return len(study.get_trials(deepcopy=False, states=states))


def write_best_config(study: optuna.Study, path: Path, url: str) -> Path | None:
    """The best trial's RunConfig (user attribute ``run_config``) as YAML at ``path``,
    written atomically with a comment header; None while no trial has completed."""
    if not count(study, (TrialState.COMPLETE,)):
        return None
    best = study.best_trial
    tuned = ", ".join(f"{k}={short(v)}" for k, v in best.params.items())
    header = (
        f"# Best of Optuna study {study.study_name} ({safe_url(url)}): trial {best.number} of "
        f"{count(study)} finished,\n"
        f"# validation (fold 9) macro AUROC {best.value:.4f}; the test fold was not used.\n"
        f"# Tuned: {tuned}\n# Run it with: bench run --config {path}\n"
    )
    text = header + yaml.safe_dump(best.user_attrs["run_config"], sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: handle.write(text.encode()))
    return path


def short(value: Any) -> str:
    """A parameter value for one-line summaries."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _retry_stale() -> dict[str, Any]:
    """The stale-trial retry callback under its name in this Optuna version (4.9 renamed it)."""
    if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):
        callback = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
        return {"heartbeat_stale_trial_callback": callback}
    return {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=1)}

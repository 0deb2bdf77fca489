"""``bench tune``: the study in SQLite, resuming, the best config as a RunConfig, test-fold
isolation, nested MLflow runs, interrupted trials, and errors for bad options."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import sqlalchemy.exc
import torch
from mlflow import MlflowClient
from optuna.trial import TrialState

from bench import cli, schema_race
from bench.config import replace
from bench.errors import ConfigError
from bench.grid.cells import run_cell, validation_score
from bench.grid.plan import load_run_config, resolved_profile
from bench.grid.profiles import load_profile
from bench.grid.runner import plan_grid, workspace_for
from bench.method import METHODS
from bench.paths import cache_dir
from bench.training.checkpoint import read_checkpoint
from bench.tuning import study as tune_study
from bench.tuning.space import build_space, profile_overrides
from bench.tuning.tuner import TUNED_PROTOCOLS, TuneOptions, Tuner

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.store")

FAST = {
    "train.epochs": 1,
    "train.max_steps": 3,
    "train.batch_size": 32,
    "train.warmup_epochs": 0,
    "evaluation.linear.max_iter": 200,
    "evaluation.finetune.epochs": 1,
    "evaluation.finetune.min_steps": 4,
    "evaluation.finetune.evaluations": 2,
    "evaluation.finetune.batch_size": 16,
}


def options(task: str, **fields: Any) -> TuneOptions:
    values: dict[str, Any] = {
        "method": "toy_masked",
        "task": task,
        "trials": 2,
        "fraction": 0.5,
        "overrides": FAST,
        "tracking": False,
        "progress": False,
    }
    return TuneOptions(**{**values, **fields})


def load(results: Path, study: str) -> optuna.Study:
    return optuna.load_study(study_name=study, storage=f"sqlite:///{results / 'optuna.db'}")


def history(study: optuna.Study) -> list[tuple[int, str, dict[str, Any], float | None]]:
    return [(t.number, t.state.name, t.params, t.value) for t in study.trials]


def test_study_lives_in_sqlite_under_results_and_resumes_to_n_trials(
    toys: Any, small_synthetic: str, isolated_results: Path
) -> None:
    first = Tuner(options(small_synthetic)).run()
    assert first.study == "toy_masked-synthetic-small-linear-f0.5-smoke"
    assert (isolated_results / "optuna.db").is_file()
    assert (first.ran, first.finished) == (2, 2)
    before = history(load(isolated_results, first.study))
    assert [state for _, state, _, _ in before] == ["COMPLETE", "COMPLETE"]
    assert before[0][2] != before[1][2]  # the sampler drew two configurations

    second = Tuner(options(small_synthetic, trials=3)).run()
    assert (second.ran, second.finished) == (1, 3)
    after = history(load(isolated_results, first.study))
    assert after[:2] == before and len(after) == 3

    third = Tuner(options(small_synthetic, trials=3)).run()
    assert (third.ran, third.finished) == (0, 3)
    assert history(load(isolated_results, first.study)) == after


def test_best_config_is_a_run_config_with_the_tuned_values(
    toys: Any, small_synthetic: str, tmp_path: Path
) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("method.mask_ratio: {low: 0.2, high: 0.8}\ntrain.weight_decay: null\n")
    out = tmp_path / "best.yaml"
    summary = Tuner(options(small_synthetic, space_file=str(space), out=str(out))).run()
    assert summary.config_path == out and summary.best_trial is not None
    best = summary.best_trial
    assert set(best.params) == {"train.lr", "method.mask_ratio", "evaluation.linear.c_grid"}
    values = [t.value for t in load(Path(os.environ["BENCH_RESULTS"]), summary.study).trials]
    assert best.value == max(values)

    config = load_run_config(out, {})
    assert (config.methods, config.tasks) == (("toy_masked",), (small_synthetic,))
    assert (config.protocols, config.fractions, config.profile) == (("linear",), (0.5,), "smoke")
    profile = resolved_profile(config)
    setup = profile.resolve("toy_masked")
    assert setup.train.lr == best.params["train.lr"]
    assert setup.method_config.mask_ratio == best.params["method.mask_ratio"]
    assert profile.evaluation.linear.c_grid == (best.params["evaluation.linear.c_grid"],)
    assert (setup.train.max_steps, profile.evaluation.linear.max_iter) == (3, 200)  # --set kept
    cells = plan_grid(config, workspace_for(config, progress=False))
    assert len(cells) == 3  # seeds 0, 1, 2 of the one tuned cell
    assert {c.unit.key for c in cells} == {best.user_attrs["pretrain_key"]}  # reuses the ckpt


def _poisoned_task(monkeypatch: pytest.MonkeyPatch, clean_task: str) -> str:
    """The clean task's records with every test-fold (10) signal NaN and every test label
    flipped, registered as dataset and task "synthetic-poisoned"."""
    from bench.data.loading import DATASETS, DatasetSource
    from bench.data.synthetic.generator import LABEL_NAMES
    from bench.task import TASKS
    from tasks.synthetic import SyntheticTask

    clean = DATASETS.get(clean_task).load(None, None, cache_dir())
    test = clean.meta["fold"].to_numpy() == 10
    assert test.sum() > 10
    signals = np.array(clean.signals)
    signals[test] = np.nan
    meta = clean.meta.copy()
    meta.loc[test, list(LABEL_NAMES)] = 1 - meta.loc[test, list(LABEL_NAMES)]
    poisoned = dataclasses.replace(
        clean, signals=signals, meta=meta, fingerprint=f"{clean.fingerprint}-poisoned"
    )

    class PoisonedSource(DatasetSource):
        name = "synthetic-poisoned"
        needs_root = False

        def load(self, root: Path | None, rate: int | None, cache: Path) -> Any:
            return poisoned

    class PoisonedTask(SyntheticTask):
        name = "synthetic-poisoned"
        dataset = "synthetic-poisoned"
        group = "synthetic-poisoned"

    monkeypatch.setitem(DATASETS._items, PoisonedSource.name, PoisonedSource())
    monkeypatch.setitem(TASKS._items, PoisonedTask.name, PoisonedTask())
    return PoisonedTask.name


@pytest.mark.parametrize("protocol", ["linear", "finetune"])
def test_test_fold_is_never_read(
    toys: Any, small_synthetic: str, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    poisoned = _poisoned_task(monkeypatch, small_synthetic)
    encoder_class = type(toys.build().encoder)
    features = encoder_class.features

    def finite_only(self: Any, x: torch.Tensor) -> torch.Tensor:
        assert torch.isfinite(x).all(), "a test-fold record reached the encoder"
        return features(self, x)

    monkeypatch.setattr(encoder_class, "features", finite_only)
    values = {}
    for task in (small_synthetic, poisoned):
        summary = Tuner(options(task, protocol=protocol)).run()
        study = load(Path(os.environ["BENCH_RESULTS"]), summary.study)
        values[task] = [(t.params, t.value) for t in study.trials]
        assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert values[poisoned] == values[small_synthetic]  # test labels/signals changed nothing
    assert not (cache_dir() / "embeddings").exists()  # no embeddings of every record stored


@pytest.mark.parametrize("protocol", ["linear", "finetune"])
def test_validation_score_selects_exactly_as_the_grid_cell(
    toys: Any, small_synthetic: str, protocol: str
) -> None:
    overrides = profile_overrides(METHODS.get("toy_masked"), FAST)
    config = load_run_config(
        None,
        {"methods": ["toy_masked"], "tasks": [small_synthetic], "fractions": [0.5],
         "seeds": 1, "protocols": [protocol], "profile_overrides": overrides},
    )  # fmt: skip
    workspace = workspace_for(config, progress=False)
    [cell] = plan_grid(config, workspace)
    score = validation_score(cell, workspace)
    result, _ = run_cell(cell, workspace)
    selection = result.config["selection"]
    if protocol == "linear":
        assert score.details["best_c"] == selection["best_c"]
        assert score.macro_auroc == pytest.approx(selection["val_auroc_by_c"][selection["best_c"]])
    else:
        assert score.details["best_step"] == selection["best_step"]
        assert score.details["val_curve"] == selection["val_curve"]
        assert score.macro_auroc == pytest.approx(max(v for _, v in selection["val_curve"]))
    assert (score.n_train, score.n_val) == (result.n_train, result.n_val)


def test_trials_are_nested_mlflow_runs_under_the_study_run(
    toys: Any, small_synthetic: str, isolated_results: Path
) -> None:
    summary = Tuner(options(small_synthetic, tracking=True)).run()
    client = MlflowClient(tracking_uri=f"sqlite:///{isolated_results / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(f"ecg-ssl-bench/{small_synthetic}")
    runs = client.search_runs([experiment.experiment_id])
    [parent] = [r for r in runs if r.data.tags.get("run_kind") == "study"]
    children = sorted(
        (r for r in runs if r.data.tags.get("run_kind") == "trial"),
        key=lambda r: int(r.data.tags["trial"]),
    )
    assert parent.data.tags["study"] == summary.study and len(children) == 2
    for run, trial in zip(children, load(isolated_results, summary.study).trials, strict=True):
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.status == "FINISHED"
        assert run.data.tags["pretrain_key"] == trial.user_attrs["pretrain_key"]
        assert float(run.data.params["train.lr"]) == pytest.approx(trial.params["train.lr"])
        c_grid = run.data.params["evaluation.linear.c_grid"]
        assert c_grid == f"[{trial.params['evaluation.linear.c_grid']}]"
        assert run.data.metrics["val_macro_auroc"] == pytest.approx(trial.value)
    assert summary.best_trial is not None
    assert parent.data.metrics["best_val_macro_auroc"] == pytest.approx(summary.best_trial.value)
    assert [a.path for a in client.list_artifacts(parent.info.run_id, "best")] == [
        f"best/{summary.config_path.name}"
    ]


def test_interrupted_trial_is_retried_and_its_pretraining_resumes(
    toys: Any, small_synthetic: str, monkeypatch: pytest.MonkeyPatch, isolated_results: Path
) -> None:
    from bench.training import planning

    real = planning.pretrain
    calls: list[tuple[str, int]] = []

    def interrupted_once(method: Any, signals: Any, config: Any, run_dir: Any, **kw: Any) -> Any:
        path = Path(run_dir) / "checkpoint.pt"
        calls.append((Path(run_dir).name, read_checkpoint(path)["step"] if path.exists() else 0))
        if len(calls) == 1:
            real(method, signals, config, run_dir, stop_at_step=1, **kw)
            raise KeyboardInterrupt
        return real(method, signals, config, run_dir, **kw)

    monkeypatch.setattr(planning, "pretrain", interrupted_once)
    with pytest.raises(KeyboardInterrupt):
        Tuner(options(small_synthetic)).run()
    summary = Tuner(options(small_synthetic)).run()
    trials = load(isolated_results, summary.study).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert trials[1].params == trials[0].params and trials[1].user_attrs["retry_of"] == 0
    assert calls[0] == (calls[1][0], 0) and calls[1][1] == 1  # same run folder, from step 1


def test_a_repeated_configuration_reuses_its_pretraining(
    toys: Any, small_synthetic: str, isolated_results: Path
) -> None:
    summary = Tuner(options(small_synthetic, trials=3, params=("evaluation.linear.c_grid",))).run()
    trials = load(isolated_results, summary.study).trials
    assert len({t.user_attrs["pretrain_key"] for t in trials}) == 1
    assert len(list((isolated_results / "pretrain").iterdir())) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--method", "toy_makSed"], "did you mean 'toy_masked'"),
        (["--task", "synthetic-smal"], "did you mean 'synthetic-small'"),
        (["--trials", "0"], "--trials = 0 must be at least 1"),
        (["--fraction", "1.5"], "--fraction = 1.5 is outside (0, 1]"),
        (["--space", "SPACE"], "unknown search-space field method.mask_ration"),
        (["--params", "train.lrr"], "did you mean 'train.lr'"),
        (["--set", "train.lr=0.01"], "train.lr is both fixed by --set and tuned"),
        (["--method", "supervised"], "not --protocol linear"),
        (["--storage", "no-url"], "--storage no-url cannot be opened"),
        (["--study", "a b"], "--study 'a b'"),
    ],
)
def test_bad_options_fail_with_one_clear_line(
    toys: Any,
    small_synthetic: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("method.mask_ration: {low: 0.1, high: 0.9}\n")
    defaults = {"--method": "toy_masked", "--task": small_synthetic, "--trials": "1"}
    values = [a.replace("SPACE", str(space)) for a in arguments[1::2]]
    given = dict(zip(arguments[::2], values, strict=True))
    argv = ["tune", *[x for k, v in {**defaults, **given}.items() for x in (k, v)]]
    assert cli.main([*argv, "--no-tracking", "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("bench: error:") and "\n" not in error
    assert message.lower() in error.lower()


def test_rerun_with_other_fixed_values_is_refused(
    toys: Any, small_synthetic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["tune", "--method", "toy_masked", "--task", small_synthetic, "--trials", "1",
            "--fraction", "0.5", "--no-tracking", "--no-progress"]  # fmt: skip
    fast = [x for k, v in FAST.items() for x in ("--set", f"{k}={v}")]
    assert cli.main([*argv, *fast]) == 0
    out = capsys.readouterr().out
    assert "best: trial 0" in out and "bench run --config" in out
    assert cli.main([*argv, *fast, "--set", "train.batch_size=16"]) == 2
    assert "was created with a different fixed" in capsys.readouterr().err


@pytest.mark.parametrize("method", METHODS.names())
def test_default_spaces_fit_every_registered_method(method: str) -> None:
    method_class = METHODS.get(method)
    smoke = load_profile("smoke")
    for protocol in set(method_class.protocols) & set(TUNED_PROTOCOLS):
        space = build_space(method_class, protocol)
        for corner in space.corners():
            overrides = profile_overrides(method_class, space.field_values(corner))
            profile = replace(smoke, overrides)
            profile.resolve(method)  # ConfigError if a default range is invalid


@pytest.mark.parametrize(
    "race",
    [
        sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("UNIQUE alembic_version")),
        sqlalchemy.exc.OperationalError("CREATE", {}, Exception("alembic_version already exists")),
    ],
)
def test_storage_open_retries_a_lost_schema_race_and_nothing_else(
    isolated_results: Path, monkeypatch: pytest.MonkeyPatch, race: Exception
) -> None:
    real = optuna.storages.RDBStorage
    calls: list[str] = []
    races = [True]  # the first open loses the race: another worker is stamping the schema

    def racing(url: str, **kwargs: Any) -> optuna.storages.RDBStorage:
        calls.append(url)
        if races and races.pop():
            raise race
        return real(url, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    monkeypatch.setattr(schema_race.time, "sleep", lambda seconds: None)
    isolated_results.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{isolated_results / 'race.db'}"
    assert isinstance(tune_study.open_storage(url), real) and len(calls) == 2

    calls.clear()
    with pytest.raises(ConfigError, match="cannot be opened"):
        tune_study.open_storage("sqlite:////no/such/folder/optuna.db")
    assert len(calls) == 1  # an unopenable file is not a race: no retry


@pytest.mark.slow
def test_two_processes_share_one_study(isolated_results: Path) -> None:
    storage = f"sqlite:///{isolated_results / 'shared.db'}"
    command = [sys.executable, "-m", "bench", "tune", "--method", "random_init", "--task",
               "synthetic", "--trials", "4", "--fraction", "0.1", "--storage", storage,
               "--study", "shared", "--no-tracking", "--no-progress"]  # fmt: skip
    isolated_results.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen([*command, "--sampler-seed", str(seed)], env=env) for seed in (0, 1)
    ]
    assert [w.wait(timeout=600) for w in workers] == [0, 0]
    study = optuna.load_study(study_name="shared", storage=storage)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert 4 <= len(complete) <= 5  # a worker may finish one running trial past N
    assert len({t.number for t in study.trials}) == len(study.trials)

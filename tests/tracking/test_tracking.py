"""MLflow mirror of result files on the embedded SQLite store: layout, contents, idempotency."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Run

from bench.grid.results import read_result, result_paths
from bench.tracking.records import PARAM_VALUE_LIMIT, TRUNCATED
from bench.tracking.sync import Tracker, TrackingError, experiment_name, sync, tracking_uri

KEY = "a1b2c3d4e5f6"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.store")


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite store built once: creating one costs seconds, copying it not."""
    results = tmp_path_factory.mktemp("template")
    Tracker(uri=f"sqlite:///{results / 'mlflow.db'}", results=results)
    return results / "mlflow.db"


@pytest.fixture
def tracker_for(empty_db: Path) -> Any:
    """``tracker_for(results)``: a Tracker on a fresh default store under ``results``."""

    def make(results: Path, **options: Any) -> Tracker:
        results.mkdir(parents=True, exist_ok=True)
        shutil.copy(empty_db, results / "mlflow.db")
        return Tracker(results=results, **options)

    return make


def runs(tracker: Tracker, group: str, kind: str) -> list[Run]:
    client = MlflowClient(tracker.uri)
    experiment = client.get_experiment_by_name(experiment_name(group))
    return client.search_runs([experiment.experiment_id], f"tags.run_kind = '{kind}'")


def test_tracking_uri_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert tracking_uri(results=tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow-env:5000")
    assert tracking_uri() == "http://mlflow-env:5000"
    monkeypatch.setenv("BENCH_MLFLOW_URI", "sqlite:////tmp/bench.db")
    assert tracking_uri() == "sqlite:////tmp/bench.db"
    assert tracking_uri("http://flag:1") == "http://flag:1"


def test_one_experiment_per_group_and_one_parent_per_pretraining(
    tracking_files: Any, tracker_for: Any
) -> None:
    tracking_files.pretraining()
    for key, group in (("c1", "ptbxl"), ("c2", "ptbxl"), ("c3", "synthetic")):
        tracking_files.cell(key, task_group=group)
    tracker = tracker_for(tracking_files.results)
    assert tracker.sync().logged == 3
    client = MlflowClient(tracker.uri)
    for group, cells in (("ptbxl", {"c1", "c2"}), ("synthetic", {"c3"})):
        experiment = client.get_experiment_by_name(f"ecg-ssl-bench/{group}")
        root = (tracking_files.results / "mlartifacts" / group).resolve()
        assert experiment.artifact_location == root.as_uri()
        (parent,) = runs(tracker, group, "parent")
        children = runs(tracker, group, "cell")
        assert parent.data.tags["pretrain_key"] == KEY
        assert {run.data.tags["eval_key"] for run in children} == cells
        assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parent.info.run_id}
        assert all(run.info.artifact_uri.startswith(root.as_uri()) for run in children)


def test_child_run_mirrors_the_result_file(tracking_files: Any, tracker_for: Any) -> None:
    tracking_files.cell("cell-a", fraction=0.05, seed=2, protocol="finetune")
    tracker = tracker_for(tracking_files.results)
    tracker.sync()
    (run,) = runs(tracker, "ptbxl", "cell")
    result = read_result(result_paths(tracking_files.results, "cell-a")[0])
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    provenance = result.provenance
    assert tags["method"] == result.method and tags["task"] == result.task
    assert (tags["fraction"], tags["seed"], tags["protocol"]) == ("0.05", "2", "finetune")
    assert tags["eval_key"] == "cell-a" and tags["pretrain_key"] == KEY
    assert tags["data_fingerprint"] == provenance.data_fingerprint == "fingerprint-1"
    assert tags.get("git_sha") == provenance.git_sha
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "toy_masked · superdiagnostic · finetune ·   5% · s2"
    assert params["method.mask_ratio"] == "0.5" and params["train.lr"] == "0.001"
    assert params["evaluation.linear.c_grid"] == "[0.01, 0.1, 1.0]"
    assert params["cell.fraction"] == "0.05" and params["ci.n_boot"] == "200"
    note = params["evaluation.note"]
    assert len(note) == PARAM_VALUE_LIMIT and note.endswith(TRUNCATED)
    assert metrics["macro_auroc"] == result.metrics["macro_auroc"]
    assert metrics["macro_f1"] == result.metrics["macro_f1"]
    assert (metrics["macro_auroc_ci_low"], metrics["macro_auroc_ci_high"]) == (0.7, 0.9)
    assert metrics["auroc.1st_degree_AV_block"] == 0.72 and "auroc.MI" not in metrics
    assert metrics["n_train"] == 40 and metrics["realised_fraction"] == 0.098
    assert metrics["time.fit_s"] == 0.25


def test_child_artifacts_are_the_result_files(tracking_files: Any, tracker_for: Any) -> None:
    tracking_files.cell("cell-a")
    tracker = tracker_for(tracking_files.results)
    tracker.sync()
    (run,) = runs(tracker, "ptbxl", "cell")
    folder = Path(MlflowClient(tracker.uri).download_artifacts(run.info.run_id, "result"))
    for path in result_paths(tracking_files.results, "cell-a"):
        assert (folder / path.name).read_bytes() == path.read_bytes()


def test_parent_logs_loss_curve_params_and_artifacts(tracking_files: Any, tracker_for: Any) -> None:
    run_dir = tracking_files.pretraining()
    tracker = tracker_for(tracking_files.results)
    parent_id = tracker.log_pretraining("ptbxl", "toy_masked", KEY, "smoke", run_dir=run_dir)
    client = MlflowClient(tracker.uri)
    history = pd.read_csv(run_dir / "history.csv")
    curve = client.get_metric_history(parent_id, "pretrain.loss")
    assert [point.step for point in curve] == history["step"].tolist()
    assert [point.value for point in curve] == pytest.approx(history["loss"].tolist())
    grad_steps = [
        point.step for point in client.get_metric_history(parent_id, "pretrain.grad_norm")
    ]
    assert grad_steps == [step for step in range(1, 21) if step != 3]  # the NaN is left out
    parent = client.get_run(parent_id)
    assert parent.data.params["train.lr"] == "0.001" and parent.data.params["method.hidden"] == "16"
    assert parent.data.params["data.fingerprint"] == "fp-1"
    assert parent.data.metrics["pretrain.steps"] == 20
    assert parent.data.tags["pretraining_logged"] == "true"
    names = {item.path for item in client.list_artifacts(parent_id, "pretraining")}
    assert names == {"pretraining/checkpoint.pt", "pretraining/history.csv"}
    again = tracker.log_pretraining("ptbxl", "toy_masked", KEY, "smoke", run_dir=run_dir)
    assert again == parent_id
    assert len(client.get_metric_history(parent_id, "pretrain.loss")) == len(history)


def test_real_pretraining_folder_is_logged(tmp_path: Path, toys: Any, tracker_for: Any) -> None:
    from bench.training.config import TrainConfig
    from bench.training.loop import pretrain

    config = TrainConfig(epochs=1, batch_size=8, lr=1e-2, warmup_epochs=1, device="cpu")
    run_dir = tmp_path / "results" / "pretrain" / f"toy_masked-{KEY}"
    trained = pretrain(toys.build(), toys.signals(), config, run_dir, progress=False)
    tracker = tracker_for(tmp_path / "results")
    parent_id = tracker.log_pretraining("ptbxl", "toy_masked", KEY, "smoke", run_dir=run_dir)
    curve = MlflowClient(tracker.uri).get_metric_history(parent_id, "pretrain.loss")
    assert [p.step for p in curve] == [int(row["step"]) for row in trained.history]
    assert [p.value for p in curve] == pytest.approx([row["loss"] for row in trained.history])


def test_failed_cell_is_logged_failed_with_its_error(tracking_files: Any, tracker_for: Any) -> None:
    tracking_files.cell("broken", status="failed")
    tracker = tracker_for(tracking_files.results)
    tracker.sync()
    (run,) = runs(tracker, "ptbxl", "cell")
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == "RuntimeError: probe diverged"
    assert "macro_auroc" not in run.data.metrics


def test_sync_twice_adds_nothing(tracking_files: Any, tracker_for: Any) -> None:
    tracking_files.pretraining()
    for key in ("c1", "c2"):
        tracking_files.cell(key)
    tracking_files.cell("c3", status="failed")
    first = tracker_for(tracking_files.results).sync()
    second = sync(tracking_files.results)  # a new process would do this
    assert (first.logged, second.logged, second.replaced, second.skipped) == (3, 0, 0, 3)
    tracker = Tracker(results=tracking_files.results)
    assert len(runs(tracker, "ptbxl", "cell")) == 3
    assert len(runs(tracker, "ptbxl", "parent")) == 1


def test_log_cell_then_skip_then_overwrite_replaces(tracking_files: Any, tracker_for: Any) -> None:
    result = tracking_files.cell("cell-a")
    tracker = tracker_for(tracking_files.results)
    first = tracker.log_cell(result)
    assert first.action == "logged"
    assert tracker.log_cell(result).action == "skipped"
    replaced = tracker.log_cell(result, overwrite=True)
    assert replaced.action == "replaced" and replaced.run_id != first.run_id
    (run,) = runs(tracker, "ptbxl", "cell")
    assert run.info.run_id == replaced.run_id
    deleted = MlflowClient(tracker.uri).get_run(first.run_id)
    assert deleted.info.lifecycle_stage == "deleted"


def test_a_rewritten_result_file_replaces_its_stale_run(
    tracking_files: Any, tracker_for: Any
) -> None:
    tracking_files.cell("cell-a")
    tracker = tracker_for(tracking_files.results)
    tracker.sync()
    tracking_files.cell("cell-a", n_train=41)  # e.g. rerun with --overwrite, tracking off
    summary = tracker.sync()
    assert (summary.replaced, summary.logged, summary.skipped) == (1, 0, 0)
    (run,) = runs(tracker, "ptbxl", "cell")
    assert run.data.metrics["n_train"] == 41


def test_an_interrupted_child_run_is_logged_again(tracking_files: Any, tracker_for: Any) -> None:
    tracking_files.cell("cell-a")
    tracker = tracker_for(tracking_files.results)
    client = MlflowClient(tracker.uri)
    experiment = tracker.experiment_id("ptbxl")
    half = client.create_run(experiment, tags={"run_kind": "cell", "eval_key": "cell-a"})
    assert tracker.sync().replaced == 1
    (run,) = runs(tracker, "ptbxl", "cell")
    assert run.info.run_id != half.info.run_id and run.info.status == "FINISHED"


def test_baseline_parent_without_pretraining(tracking_files: Any, tracker_for: Any) -> None:
    tracker = tracker_for(tracking_files.results)
    parent_id = tracker.log_pretraining(
        "ptbxl", "random_init", "random_init-seed0", "smoke", params={"method": {"size": "tiny"}}
    )
    result = tracking_files.cell("base-1", method="random_init", pretrain_key="random_init-seed0")
    tracking_files.cell("base-2", method="supervised", pretrain_key=None)
    tracker.log_cell(result)
    tracker.sync()
    parents = {run.data.tags["pretrain_key"]: run for run in runs(tracker, "ptbxl", "parent")}
    assert set(parents) == {"random_init-seed0", "supervised-smoke-no-pretraining"}
    assert parents["random_init-seed0"].info.run_id == parent_id
    assert parents["random_init-seed0"].data.params == {"method.size": "tiny"}
    children = {run.data.tags["eval_key"]: run for run in runs(tracker, "ptbxl", "cell")}
    supervised_parent = parents["supervised-smoke-no-pretraining"].info.run_id
    assert children["base-2"].data.tags["mlflow.parentRunId"] == supervised_parent


def test_only_rank_zero_logs(
    tracking_files: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = tracking_files.cell("cell-a")
    monkeypatch.setenv("RANK", "1")
    tracker = Tracker(results=tracking_files.results)
    assert not tracker.active
    assert tracker.log_cell(result).action == "inactive"
    assert tracker.sync().logged == 0
    assert not (tracking_files.results / "mlflow.db").exists()


def test_unreachable_store_names_its_uri(tmp_path: Path) -> None:
    with pytest.raises(TrackingError, match=r"http://127\.0\.0\.1:9 is unreachable"):
        Tracker(uri="http://127.0.0.1:9", results=tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    uri = f"sqlite:///{blocker}/mlflow.db"
    with pytest.raises(TrackingError, match=r"MLflow tracking store sqlite:///.*/file/mlflow\.db"):
        Tracker(uri=uri, results=tmp_path)

"""Tracking against a real ``mlflow server`` over HTTP, checked through MLflow's client."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from mlflow import MlflowClient

from bench.tracking.sync import Tracker

KEY = "a1b2c3d4e5f6"


@pytest.mark.slow
def test_log_and_sync_against_a_real_server(
    mlflow_server: Any, tracking_files: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RANK", raising=False)
    prefix = f"http-test-{uuid.uuid4().hex[:8]}"  # the server is shared by the session
    run_dir = tracking_files.pretraining()
    logged_now = tracking_files.cell("c1")
    tracking_files.cell("c2", fraction=1.0)
    tracking_files.cell("c3", status="failed")
    tracker = Tracker(
        uri=mlflow_server.uri, results=tracking_files.results, experiment_prefix=prefix
    )
    assert tracker.log_cell(logged_now).action == "logged"  # the runner's path
    summary = tracker.sync()  # the rest, as after an interrupted or untracked grid
    assert (summary.logged, summary.skipped) == (2, 1)

    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(f"{prefix}/ptbxl")
    assert experiment.artifact_location.startswith("mlflow-artifacts:")  # the server's choice
    (parent,) = client.search_runs([experiment.experiment_id], "tags.run_kind = 'parent'")
    children = client.search_runs([experiment.experiment_id], "tags.run_kind = 'cell'")
    assert {run.data.tags["eval_key"] for run in children} == {"c1", "c2", "c3"}
    assert {run.data.tags["mlflow.parentRunId"] for run in children} == {parent.info.run_id}
    by_key = {run.data.tags["eval_key"]: run for run in children}
    assert (
        by_key["c2"].data.tags["fraction"] == "1.0"
        and by_key["c2"].data.params["cell.fraction"] == "1.0"
    )
    assert by_key["c1"].data.metrics["macro_auroc"] == 0.81
    assert by_key["c3"].info.status == "FAILED"
    curve = client.get_metric_history(parent.info.run_id, "pretrain.loss")
    assert [point.step for point in curve] == list(range(1, 21))

    stored = mlflow_server.artifacts / experiment.experiment_id
    checkpoint = stored / parent.info.run_id / "artifacts" / "pretraining" / "checkpoint.pt"
    assert checkpoint.read_bytes() == (run_dir / "checkpoint.pt").read_bytes()
    result_file = stored / by_key["c1"].info.run_id / "artifacts" / "result" / "c1.json"
    assert result_file.read_bytes() == (tracking_files.results / "runs" / "c1.json").read_bytes()

    again = Tracker(uri=mlflow_server.uri, results=tracking_files.results, experiment_prefix=prefix)
    assert again.sync().skipped == 3
    assert len(client.search_runs([experiment.experiment_id])) == 4

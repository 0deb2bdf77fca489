"""A tiny grid run by ``bench run`` against a real ``mlflow server``, checked via the client."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from bench.cli import main
from tests.doubles.grid import bench_run


def test_bench_run_logs_parents_and_cells_to_a_real_server(
    toys: Any,
    small_synthetic: str,
    mlflow_server: Any,
    isolated_results: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = f"grid-{uuid.uuid4().hex[:8]}"  # the server is shared by the session
    monkeypatch.setenv("BENCH_MLFLOW_EXPERIMENT_PREFIX", prefix)
    assert main(bench_run("--tracking-uri", mlflow_server.uri)) == 0

    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(f"{prefix}/synthetic-small")
    parents = client.search_runs([experiment.experiment_id], "tags.run_kind = 'parent'")
    cells = client.search_runs([experiment.experiment_id], "tags.run_kind = 'cell'")
    assert sorted(run.data.tags["method"] for run in parents) == ["random_init", "toy_masked"]
    assert len(cells) == 4  # 2 methods x 1 fraction x 2 seeds x linear
    parent_of = {run.info.run_id: run.data.tags["method"] for run in parents}
    for run in cells:
        tags = run.data.tags
        assert parent_of[tags["mlflow.parentRunId"]] == tags["method"]
        assert (tags["task"], tags["protocol"], tags["fraction"]) == (
            "synthetic-small", "linear", "0.5",
        )  # fmt: skip
        stored = json.loads((isolated_results / "runs" / f"{tags['eval_key']}.json").read_text())
        assert run.data.metrics["macro_auroc"] == pytest.approx(stored["metrics"]["macro_auroc"])
        assert tags["seed"] == str(stored["seed"]) and run.info.status == "FINISHED"
    toy_parent = next(run for run in parents if run.data.tags["method"] == "toy_masked")
    curve = client.get_metric_history(toy_parent.info.run_id, "pretrain.loss")
    assert [point.step for point in curve] == [1, 2]  # FAST_SETS: max_steps=2

    assert main(bench_run("--tracking-uri", mlflow_server.uri)) == 0  # a rerun adds nothing
    assert len(client.search_runs([experiment.experiment_id])) == 7  # + the grid run, replaced

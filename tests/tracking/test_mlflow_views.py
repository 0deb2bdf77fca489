"""What the MLflow UI shows: training-runs experiments, real run times, names that sort, the
grid-level run and its links; checked on a real ``mlflow server`` through MLflow's client."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from mlflow import MlflowClient

from bench.cli import main
from bench.tracking.grid_run import GRID_RUN_TAG, log_grid_run
from bench.tracking.naming import EXPERIMENT_KIND_TAG, TRAINING_KIND, fraction_text
from bench.tracking.sync import Tracker
from bench.training.checkpoint import save_checkpoint

STARTED, SAVED = 1_700_000_000.25, 1_700_000_600.5  # the pretraining's recorded span (epoch s)


def _timed_pretraining(tracking_files: Any) -> Path:
    """The tracking double's pretraining, its checkpoint carrying a wall-clock span."""
    run_dir = tracking_files.pretraining()
    path = run_dir / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    save_checkpoint(path, {**state, "started_at": STARTED, "saved_at": SAVED})
    return run_dir


def test_fraction_text_sorts_numerically() -> None:
    fractions = [0.01, 0.025, 0.05, 0.1, 0.5, 1.0]
    texts = [fraction_text(f) for f in fractions]
    assert texts == ["  1%", "  2.5%", "  5%", " 10%", " 50%", "100%"]
    assert sorted(texts) == texts


def test_runs_carry_kind_names_times_and_the_grid_link(
    mlflow_server: Any, tracking_files: Any
) -> None:
    prefix = f"views-{uuid.uuid4().hex[:8]}"  # the server is shared by the session
    client = MlflowClient(mlflow_server.uri)
    client.create_experiment(f"{prefix}/ptbxl")  # made by an older version: no kind tag
    _timed_pretraining(tracking_files)
    cells = {
        "c1": tracking_files.cell("c1", fraction=0.1, seed=0),
        "c2": tracking_files.cell("c2", fraction=1.0, seed=1),
        "c3": tracking_files.cell("c3", fraction=0.05, seed=0, timings={"total_s": 7.5}),
    }
    tracker = Tracker(mlflow_server.uri, tracking_files.results, experiment_prefix=prefix)
    assert tracker.sync().logged == 3

    experiment = client.get_experiment_by_name(f"{prefix}/ptbxl")
    assert experiment.tags[EXPERIMENT_KIND_TAG] == TRAINING_KIND
    (parent,) = client.search_runs([experiment.experiment_id], "tags.run_kind = 'parent'")
    assert parent.info.run_name == "toy_masked · pretraining · a1b2c3d4e5f6"
    assert (parent.info.start_time, parent.info.end_time) == (
        int(STARTED * 1000), int(SAVED * 1000),
    )  # fmt: skip
    curve = client.get_metric_history(parent.info.run_id, "pretrain.loss")
    stamps = [point.timestamp for point in sorted(curve, key=lambda p: p.step)]
    assert stamps == sorted(stamps) and stamps[-1] == int(SAVED * 1000)
    assert stamps[0] > int(STARTED * 1000)

    runs = client.search_runs(
        [experiment.experiment_id], "tags.run_kind = 'cell'", order_by=["attributes.run_name"]
    )
    assert [run.info.run_name for run in runs] == [
        "toy_masked · superdiagnostic · linear ·   5% · s0",
        "toy_masked · superdiagnostic · linear ·  10% · s0",
        "toy_masked · superdiagnostic · linear · 100% · s1",
    ]
    for run in runs:
        result = cells[run.data.tags["eval_key"]]
        created = int(datetime.fromisoformat(result.provenance.created).timestamp() * 1000)
        seconds = result.timings.get("total_s", 1.75)  # c1, c2: embed_s + fit_s, no total
        assert (run.info.start_time, run.info.end_time) == (created - int(seconds * 1000), created)

    table = tracking_files.results / "leaderboards" / "paper.md"
    table.parent.mkdir(parents=True)
    table.write_text("# Paper tables\n")
    span = (int(STARTED * 1000), int(SAVED * 1000))
    for _ in range(2):  # a rerun of the same grid replaces its grid run
        (grid_run,) = log_grid_run(
            tracker, "grid0001", {"c1", "c2"}, {"leaderboards": [table]}, span
        ).values()
    (grid,) = client.search_runs([experiment.experiment_id], "tags.run_kind = 'grid'")
    assert grid.info.run_id == grid_run and grid.info.run_name.startswith("grid · 2023-11-14")
    assert (grid.info.start_time, grid.info.end_time) == span
    assert grid.data.metrics == {"cells": 2.0, "cells_failed": 0.0}
    listed = [a.path for a in client.list_artifacts(grid_run, "leaderboards")]
    assert listed == ["leaderboards/paper.md"]
    now = {r.data.tags["eval_key"]: client.get_run(r.info.run_id).data.tags for r in runs}
    linked = {key: tags.get(GRID_RUN_TAG) for key, tags in now.items()}
    assert linked == {"c3": None, "c1": grid_run, "c2": grid_run}
    note = now["c1"]["mlflow.note.content"]
    assert f"#/experiments/{experiment.experiment_id}/runs/{grid_run}" in note


def test_bench_mlflow_ui_serves_the_results_store(isolated_results: Path, capsys: Any) -> None:
    assert main(["mlflow-ui", "--print-command", "--port", "5123"]) == 0
    printed = capsys.readouterr().out
    store = f"sqlite:///{(isolated_results / 'mlflow.db').resolve()}"
    assert f"-m mlflow ui --backend-store-uri {store}" in printed
    assert "--port 5123" in printed and str(isolated_results / "mlartifacts") in printed


def test_bench_mlflow_ui_leaves_a_server_alone(capsys: Any) -> None:
    uri = "http://tracking.example:5000"
    assert main(["mlflow-ui", "--print-command", "--tracking-uri", uri]) == 0
    assert "serves its own UI" in capsys.readouterr().out


def test_bench_run_logs_its_grid_run_tables_and_page(
    toys: Any, small_synthetic: str, mlflow_server: Any, isolated_results: Path,
    monkeypatch: Any, capsys: Any,
) -> None:  # fmt: skip
    from tests.doubles.grid import bench_run

    prefix = f"grid-views-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("BENCH_MLFLOW_EXPERIMENT_PREFIX", prefix)
    assert main(bench_run("--tracking-uri", mlflow_server.uri)) == 0
    assert "results page: " in capsys.readouterr().out
    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(f"{prefix}/synthetic-small").experiment_id
    (grid,) = client.search_runs([experiment], "tags.run_kind = 'grid'")
    folders = {a.path for a in client.list_artifacts(grid.info.run_id)}
    assert folders == {"figures", "grid", "leaderboards", "report"}
    tables = {a.path for a in client.list_artifacts(grid.info.run_id, "leaderboards")}
    assert {f"leaderboards/{n}" for n in ("paper.md", "paper.tex", "summary.csv")} <= tables
    assert "leaderboards/leaderboard.md" in tables
    cells = client.search_runs([experiment], "tags.run_kind = 'cell'")
    assert {run.data.tags[GRID_RUN_TAG] for run in cells} == {grid.info.run_id}
    page = (isolated_results / "report" / "index.html").read_text()
    for run in cells:  # the page links each entry's seeds to their runs on the server
        assert f"{mlflow_server.uri}/#/experiments/{experiment}/runs/{run.info.run_id}" in page

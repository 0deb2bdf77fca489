"""A rerun whose outputs are unchanged keeps the grid run that holds them; a changed result (or a
grid run that did not finish) logs it again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities import Run

from bench.commands.run_outputs import write_outputs
from bench.grid.manifest import write_grid_manifest
from bench.grid.results import load_predictions, read_result, write_result
from bench.tracking.grid_run import OUTPUTS_TAG
from bench.tracking.mirror import MlflowMirror
from bench.tracking.sync import Tracker, experiment_name

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow.store")


def _grid_runs(tracker: Tracker) -> list[Run]:
    client = MlflowClient(tracker.uri)
    experiment = client.get_experiment_by_name(experiment_name("toys"))
    return client.search_runs([experiment.experiment_id], "tags.run_kind = 'grid'")


def _run(results: Path, mirror: MlflowMirror, keys: frozenset[str], manifest: Path) -> None:
    mirror.sync()
    write_outputs(results, keys, manifest, mirror, 1_700_000_000_000)


def test_unchanged_outputs_keep_their_grid_run(result_grid: Any) -> None:
    results = result_grid.results
    keys = frozenset(path.stem for path in (results / "runs").glob("*.json"))
    manifest = write_grid_manifest(results, {"tasks": ["toys"]}, sorted(keys))
    mirror = MlflowMirror(Tracker(results=results))
    _run(results, mirror, keys, manifest)
    (first,) = _grid_runs(mirror.tracker)
    assert first.info.status == "FINISHED" and first.data.tags[OUTPUTS_TAG]

    _run(results, mirror, keys, manifest)  # nothing changed: the same run stays
    assert [run.info.run_id for run in _grid_runs(mirror.tracker)] == [first.info.run_id]

    MlflowClient(mirror.tracker.uri).set_terminated(first.info.run_id, "KILLED")
    _run(results, mirror, keys, manifest)  # outputs up to date, but their run did not finish
    (relogged,) = _grid_runs(mirror.tracker)
    assert relogged.info.run_id != first.info.run_id
    assert relogged.data.tags[OUTPUTS_TAG] == first.data.tags[OUTPUTS_TAG]

    key = sorted(keys)[0]
    cell = read_result(results / "runs" / f"{key}.json")
    stored = load_predictions(results, key)
    changed = replace(cell, metrics={"macro_auroc": 1.0 - cell.metrics["macro_auroc"]})
    write_result(results, changed, replace(stored, y_score=-stored.y_score))
    _run(results, mirror, keys, manifest)  # a changed result: rebuilt and logged again
    (latest,) = _grid_runs(mirror.tracker)
    assert latest.info.run_id != relogged.info.run_id
    assert latest.data.tags[OUTPUTS_TAG] != relogged.data.tags[OUTPUTS_TAG]

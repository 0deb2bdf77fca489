"""A grid-level MLflow run per ``bench run`` and the links from results into the MLflow UI.

The grid run (tag ``run_kind`` = "grid") sits in the experiment of every task group the grid
touches, spans the latest ``bench run`` of that grid that rebuilt its outputs (a rerun of the
same grid, same manifest key, replaces it), and holds its outputs as artifacts (leaderboards,
paper tables, figures, the results page, the grid manifest). Its ``outputs_digest`` tag names
the inputs those outputs were built from (``bench.reporting.freshness``): a rerun that finds
them unchanged, and this run finished with that tag, keeps it. Each of the grid's cell runs
gets the tags ``grid_run_id`` / ``grid_key`` and a description (rendered by the UI) linking to
it; a cell run by a later grid points to the latest one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.entities import Metric

from bench.grid.results import load_results
from bench.tracking.naming import NOTE_TAG, experiment_link, grid_run_name, run_link
from bench.tracking.records import RUN_KIND_TAG
from bench.tracking.sync import Tracker

GRID_RUN_TAG = "grid_run_id"
GRID_KEY_TAG = "grid_key"
OUTPUTS_TAG = "outputs_digest"
LOCAL_UI_URL = "http://127.0.0.1:5000"  # where `bench mlflow-ui` (and `mlflow ui`) serve


def log_grid_run(
    tracker: Tracker,
    grid_key: str,
    eval_keys: Collection[str],
    artifacts: Mapping[str, Sequence[Path]],
    span_ms: tuple[int, int],
    outputs_digest: str | None = None,
) -> dict[str, str]:
    """Log the grid run of ``grid_key`` in each touched group's experiment, its ``artifacts``
    (artifact folder -> files) and the tags linking its cells to it; returns experiment id ->
    grid run id. ``outputs_digest`` (tag OUTPUTS_TAG) names the inputs of the artifacts."""
    if not tracker.active:
        return {}
    by_group: dict[str, list[str]] = defaultdict(list)
    failed: dict[str, int] = defaultdict(int)
    for result in load_results(tracker.results, skip_invalid=True, eval_keys=set(eval_keys)):
        by_group[result.task_group].append(result.eval_key)
        failed[result.task_group] += result.status != "ok"
    store = tracker.store
    runs: dict[str, str] = {}
    for group, keys in sorted(by_group.items()):
        experiment = tracker.experiment_id(group)
        with store.errors():
            for earlier in store.search(experiment, _grid_filter(grid_key)):  # run before
                store.client.delete_run(earlier.info.run_id)
            tags = {RUN_KIND_TAG: "grid", GRID_KEY_TAG: grid_key, "task_group": group}
            if outputs_digest is not None:
                tags[OUTPUTS_TAG] = outputs_digest
            tags["mlflow.runName"] = grid_run_name(grid_key, span_ms[0])
            run = store.client.create_run(experiment, start_time=span_ms[0], tags=tags)
            run_id = run.info.run_id
            counts = {"cells": len(keys), "cells_failed": failed[group]}
            metrics = [Metric(k, float(v), span_ms[1], 0) for k, v in counts.items()]
            store.log_batch(run_id, {}, metrics, {})
            for folder, paths in artifacts.items():
                for path in paths:
                    store.client.log_artifact(run_id, str(path), folder)
            _link_cells(tracker, experiment, set(keys), run_id, grid_key)
            store.terminate(run_id, "FINISHED", span_ms[1])
        runs[experiment] = run_id
    return runs


def grid_run_holds(
    tracker: Tracker, grid_key: str, eval_keys: Collection[str], outputs_digest: str
) -> bool:
    """Whether each task group the grid touches holds one finished grid run of ``grid_key``
    tagged with ``outputs_digest`` (logging it again would change nothing but its span)."""
    if not tracker.active:
        return False
    groups = {
        result.task_group
        for result in load_results(tracker.results, skip_invalid=True, eval_keys=set(eval_keys))
    }
    for group in sorted(groups):
        experiment = tracker.experiment_id(group)
        with tracker.store.errors():
            found = tracker.store.search(experiment, _grid_filter(grid_key))
        if len(found) != 1 or found[0].info.status != "FINISHED":
            return False
        if found[0].data.tags.get(OUTPUTS_TAG) != outputs_digest:
            return False
    return bool(groups)


def _grid_filter(grid_key: str) -> str:
    return f"tags.{RUN_KIND_TAG} = 'grid' and tags.{GRID_KEY_TAG} = '{grid_key}'"


def _link_cells(
    tracker: Tracker, experiment: str, keys: set[str], grid_run: str, grid_key: str
) -> None:
    """Tag the grid's cell runs with the grid run and describe the link (Markdown)."""
    note = f"Part of grid [{grid_key}](#/experiments/{experiment}/runs/{grid_run})."
    for run in tracker.store.search(experiment, f"tags.{RUN_KIND_TAG} = 'cell'"):
        if run.data.tags.get("eval_key") in keys:
            tags = {GRID_RUN_TAG: grid_run, GRID_KEY_TAG: grid_key, NOTE_TAG: note}
            tracker.store.log_batch(run.info.run_id, {}, [], tags)


@dataclass(frozen=True)
class RunLinks:
    """UI links of what a results page shows: cells by eval_key, parents by pretrain_key,
    experiments by task group."""

    cells: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)
    experiments: dict[str, str] = field(default_factory=dict)


def run_links(tracker: Tracker, ui_url: str, task_groups: Collection[str]) -> RunLinks:
    """Links to the cell and parent runs of ``task_groups`` in the UI served at ``ui_url``."""
    links = RunLinks()
    if not tracker.active:
        return links
    for group in sorted(task_groups):
        experiment = tracker.experiment_id(group)
        links.experiments[group] = experiment_link(ui_url, experiment)
        with tracker.store.errors():
            for run in tracker.store.search(experiment, ""):
                tags, url = run.data.tags, run_link(ui_url, experiment, run.info.run_id)
                if tags.get(RUN_KIND_TAG) == "cell":
                    links.cells[tags.get("eval_key", "")] = url
                elif tags.get(RUN_KIND_TAG) == "parent":
                    links.parents.setdefault(tags.get("pretrain_key", ""), url)
    return links


def ui_url_for(tracking_uri: str) -> str:
    """Where the UI of ``tracking_uri`` is served: a server serves its own, a local store is
    served by ``bench mlflow-ui`` at LOCAL_UI_URL."""
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/")
    return LOCAL_UI_URL

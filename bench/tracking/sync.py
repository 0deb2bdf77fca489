"""MLflow mirror of the results: an experiment per task group, a parent run per pretraining
(or baseline initialisation), a nested child run per evaluation cell.

The result files are the source of truth; MLflow mirrors them, so logging is idempotent and
safe to interrupt: a child run is found by its ``eval_key`` tag and skipped when it already
mirrors the current result file (its ``result_digest`` tag), else replaced; a parent run is
found by its ``pretrain_key`` tag and reused. ``sync`` logs every result file not yet mirrored,
so a grid tracked with tracking off, or interrupted, can be mirrored later.

The store is ``sqlite:///<results>/mlflow.db`` with artifacts under ``<results>/mlartifacts``
unless a URI is given (argument, $BENCH_MLFLOW_URI, $MLFLOW_TRACKING_URI). Under DDP only
rank 0 logs; on other ranks every method does nothing. Typical use::

    tracker = Tracker()  # TrackingError naming the URI when the store is unreachable
    tracker.log_pretraining("ptbxl", "jepa", plan.key, "smoke", run_dir=plan.run_dir)
    tracker.log_cell(result)  # right after bench.grid.results.write_result(...)
    tracker.sync()  # everything under <results>/runs not yet in the store

Open the UI with ``mlflow ui --backend-store-uri sqlite:///results/mlflow.db``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlflow.entities import Metric, Run

from bench.grid.results import CellResult, ResultFileError, check_key, load_results, result_paths
from bench.paths import results_dir
from bench.tracking.records import (
    DIGEST_TAG,
    PRETRAINING_LOGGED_TAG,
    RUN_KIND_TAG,
    cell_metrics,
    cell_params,
    cell_tags,
    created_ms,
    flatten_params,
    parent_key,
    read_pretraining,
    result_digest,
    safe_name,
)
from bench.tracking.store import (
    ARTIFACTS_DIR,
    Store,
    TrackingError,
    experiment_name,
    is_logging_rank,
    tracking_uri,
)

__all__ = [
    "CellLog",
    "SyncSummary",
    "Tracker",
    "TrackingError",
    "experiment_name",
    "is_logging_rank",
    "sync",
    "tracking_uri",
]

_DONE = ("FINISHED", "FAILED")

Action = Literal["logged", "replaced", "skipped", "inactive"]


@dataclass(frozen=True)
class CellLog:
    """What ``log_cell`` did with one cell; ``run_id`` is its child run (None when inactive)."""

    eval_key: str
    action: Action
    run_id: str | None


@dataclass(frozen=True)
class SyncSummary:
    """Cells a ``sync`` logged for the first time, replaced (stale or overwritten), skipped."""

    logged: int = 0
    replaced: int = 0
    skipped: int = 0


class Tracker:
    """Logs pretrainings and cells of one results folder into one MLflow store."""

    def __init__(
        self,
        uri: str | None = None,
        results: str | Path | None = None,
        *,
        experiment_prefix: str | None = None,
        log_checkpoints: bool = True,
    ):
        self.results = results_dir(results)
        self.uri = tracking_uri(uri, self.results)
        self.prefix = experiment_prefix
        self.log_checkpoints = log_checkpoints
        self.active = is_logging_rank()
        self._experiments: dict[str, str] = {}
        if self.active:
            self._store = Store(self.uri)

    def experiment_id(self, task_group: str) -> str:
        """Id of the task group's experiment, created (or restored) when needed (logging rank
        only: on other ranks there is no store)."""
        name = experiment_name(task_group, self.prefix)
        if name not in self._experiments:
            root = self.results / ARTIFACTS_DIR / safe_name(task_group)
            with self._store.errors():
                tags = {"task_group": task_group}
                self._experiments[name] = self._store.experiment(name, tags, root)
        return self._experiments[name]

    def log_pretraining(
        self,
        task_group: str,
        method: str,
        pretrain_key: str,
        profile: str,
        *,
        run_dir: str | Path | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Find or create the parent run of ``pretrain_key`` in the group's experiment; returns
        its id (None on a non-logging rank).

        With ``run_dir`` holding a finished pretraining, the run gets its params, loss curve,
        history.csv and checkpoint (once). ``params`` (nested, flattened to dotted keys)
        describe a baseline's initialisation, which has no pretraining folder.
        """
        if not self.active:
            return None
        experiment = self.experiment_id(task_group)
        with self._store.errors():
            found = self._store.search(experiment, _parent_filter(pretrain_key))
            return self._ensure_parent(
                experiment,
                found[0] if found else None,
                _identity(method, check_key(pretrain_key), profile, task_group),
                Path(run_dir) if run_dir is not None else None,
                flatten_params(params or {}),
            )

    def log_cell(
        self, result: CellResult, *, overwrite: bool = False, pretrain_dir: str | Path | None = None
    ) -> CellLog:
        """Mirror one cell whose result file is already written: skipped when its child run
        mirrors the current file, else logged (an older child is deleted first); ``overwrite``
        replaces it in any case. The parent run is found or created; its pretraining folder
        is ``pretrain_dir`` or ``<results>/pretrain/<method>-<pretrain_key>``."""
        if not self.active:
            return CellLog(result.eval_key, "inactive", None)
        experiment = self.experiment_id(result.task_group)
        with self._store.errors():
            found = self._store.search(experiment, _parent_filter(parent_key(result)))
            parent = self._ensure_parent(
                experiment, found[0] if found else None, _parent_tags(result),
                self._pretrain_dir(result, pretrain_dir), {},
            )  # fmt: skip
            existing = self._store.search(experiment, f"tags.eval_key = '{result.eval_key}'")
            return self._mirror_cell(experiment, result, parent, existing, overwrite)

    def sync(self, *, overwrite: bool = False) -> SyncSummary:
        """Mirror every readable result file under ``<results>/runs`` (unreadable ones are
        skipped with a warning); ``overwrite`` re-logs cells already mirrored."""
        if not self.active:
            return SyncSummary()
        by_group: dict[str, list[CellResult]] = defaultdict(list)
        for result in load_results(self.results, skip_invalid=True):
            by_group[result.task_group].append(result)
        counts = {"logged": 0, "replaced": 0, "skipped": 0}
        for group, results in sorted(by_group.items()):
            experiment = self.experiment_id(group)
            with self._store.errors():
                found_parents, cells = self._index(experiment)
                parents: dict[str, str] = {}
                for result in results:
                    key = parent_key(result)
                    if key not in parents:
                        parents[key] = self._ensure_parent(
                            experiment, found_parents.get(key), _parent_tags(result),
                            self._pretrain_dir(result, None), {},
                        )  # fmt: skip
                    existing = cells.get(result.eval_key, [])
                    outcome = self._mirror_cell(
                        experiment, result, parents[key], existing, overwrite
                    )
                    counts[outcome.action] += 1
        return SyncSummary(**counts)

    def _index(self, experiment: str) -> tuple[dict[str, Run], dict[str, list[Run]]]:
        """Parent runs by pretrain_key (the oldest) and child runs by eval_key."""
        parents: dict[str, Run] = {}
        cells: dict[str, list[Run]] = defaultdict(list)
        for run in self._store.search(experiment, ""):
            tags = run.data.tags
            if tags.get(RUN_KIND_TAG) == "parent":
                parents.setdefault(tags.get("pretrain_key", ""), run)
            elif tags.get(RUN_KIND_TAG) == "cell":
                cells[tags.get("eval_key", "")].append(run)
        return parents, cells

    def _ensure_parent(
        self,
        experiment: str,
        run: Run | None,
        identity: dict[str, str],
        run_dir: Path | None,
        params: dict[str, str],
    ) -> str:
        """Id of the parent run, created if missing and completed with what is now known."""
        if run is None:
            name = f"{identity['method']} {identity['pretrain_key']}"
            tags = {RUN_KIND_TAG: "parent", "mlflow.runName": name, **identity}
            run = self._store.client.create_run(experiment, tags=tags)
        run_id = run.info.run_id
        record_tags: dict[str, str] = {}
        metrics: list[Metric] = []
        artifacts: list[Path] = []
        record = None
        if run.data.tags.get(PRETRAINING_LOGGED_TAG) != "true" and run_dir is not None:
            record = read_pretraining(run_dir)
        if record is not None:
            params = {**record.params, **params}
            record_tags = {**record.tags, PRETRAINING_LOGGED_TAG: "true"}
            metrics = [Metric(k, v, record.timestamp_ms, 0) for k, v in record.summary.items()]
            metrics += [Metric(k, v, record.timestamp_ms, s) for k, v, s in record.curve]
            artifacts = [record.history] if record.history else []
            artifacts += [record.checkpoint] if self.log_checkpoints else []
        new_params = {k: v for k, v in params.items() if k not in run.data.params}
        for path in artifacts:
            self._store.client.log_artifact(run_id, str(path), "pretraining")
        self._store.log_batch(run_id, new_params, metrics, record_tags)  # tags last: complete
        if run.info.status != "FINISHED":
            self._store.terminate(run_id, "FINISHED", None)
        return run_id

    def _mirror_cell(
        self, experiment: str, result: CellResult, parent: str, existing: list[Run], overwrite: bool
    ) -> CellLog:
        json_path, npz_path = result_paths(self.results, result.eval_key)
        if not json_path.is_file():
            raise ResultFileError(f"result file {json_path} is missing: write the result first")
        digest = result_digest(self.results, result.eval_key)
        current = [r for r in existing if _mirrors(r, digest)]
        if not overwrite and len(existing) == 1 and current:
            return CellLog(result.eval_key, "skipped", current[0].info.run_id)
        for run in existing:
            self._store.client.delete_run(run.info.run_id)
        start = created_ms(result)
        tags = {**cell_tags(result, digest), "mlflow.parentRunId": parent}
        run_id = self._store.client.create_run(experiment, start_time=start, tags=tags).info.run_id
        metrics = [Metric(k, v, start, 0) for k, v in cell_metrics(result).items()]
        self._store.log_batch(run_id, cell_params(result), metrics, {})
        for path in (json_path, npz_path):
            if path.is_file():
                self._store.client.log_artifact(run_id, str(path), "result")
        end = start + int(1000 * sum(result.timings.values()))
        self._store.terminate(run_id, "FINISHED" if result.status == "ok" else "FAILED", end)
        return CellLog(result.eval_key, "replaced" if existing else "logged", run_id)

    def _pretrain_dir(self, result: CellResult, given: str | Path | None) -> Path | None:
        if given is not None:
            return Path(given)
        if result.pretrain_key is None:
            return None
        folder = self.results / "pretrain" / f"{result.method}-{result.pretrain_key}"
        return folder if folder.is_dir() else None


def sync(
    results: str | Path | None = None,
    uri: str | None = None,
    *,
    overwrite: bool = False,
    experiment_prefix: str | None = None,
) -> SyncSummary:
    """Mirror every result file under ``results`` into the store at ``uri`` (see Tracker)."""
    return Tracker(uri, results, experiment_prefix=experiment_prefix).sync(overwrite=overwrite)


def _parent_filter(key: str) -> str:
    return f"tags.run_kind = 'parent' and tags.pretrain_key = '{key}'"


def _parent_tags(result: CellResult) -> dict[str, str]:
    return _identity(result.method, parent_key(result), result.profile, result.task_group)


def _identity(method: str, key: str, profile: str, task_group: str) -> dict[str, str]:
    """Tags naming a parent run."""
    return {"method": method, "pretrain_key": key, "profile": profile, "task_group": task_group}


def _mirrors(run: Run, digest: str) -> bool:
    return run.info.status in _DONE and run.data.tags.get(DIGEST_TAG) == digest

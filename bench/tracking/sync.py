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

Open the UI with ``bench mlflow-ui`` (``mlflow ui`` on that store).
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
from bench.tracking.locks import StoreLocks
from bench.tracking.naming import (
    EXPERIMENT_KIND_TAG,
    TRAINING_KIND,
    parent_run_name,
)
from bench.tracking.records import (
    DIGEST_TAG,
    PRETRAINING_LOGGED_TAG,
    RUN_KIND_TAG,
    cell_metrics,
    cell_params,
    cell_span_ms,
    cell_tags,
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
)
from bench.tracking.uri import tracking_uri

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
            self.results.mkdir(parents=True, exist_ok=True)  # the store's lock lives here
            self._store = Store(self.uri)
            self._locks = StoreLocks(self.results)

    @property
    def store(self) -> Store:
        """The store client (logging rank only: on other ranks there is none)."""
        return self._store

    def experiment_id(self, task_group: str) -> str:
        """Id of the task group's experiment, created (or restored) when needed (logging rank
        only: on other ranks there is no store)."""
        name = experiment_name(task_group, self.prefix)
        if name not in self._experiments:
            root = self.results / ARTIFACTS_DIR / safe_name(task_group)
            with self._store.errors():
                tags = {"task_group": task_group, EXPERIMENT_KIND_TAG: TRAINING_KIND}
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
                None,
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
            with self._locks.hold("parent", parent_key(result)):
                found = self._store.search(experiment, _parent_filter(parent_key(result)))
                parent = self._ensure_parent(
                    experiment, found[0] if found else None, _parent_tags(result),
                    self._pretrain_dir(result, pretrain_dir), {}, cell_span_ms(result),
                )  # fmt: skip
            with self._locks.hold("cell", result.eval_key):
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
        spans = _parent_spans([r for group in by_group.values() for r in group])
        for group, results in sorted(by_group.items()):
            experiment = self.experiment_id(group)
            with self._store.errors():
                found_parents, cells = self._index(experiment)
                parents: dict[str, str] = {}
                for result in results:
                    key = parent_key(result)
                    if key not in parents:
                        with self._locks.hold("parent", key):
                            found = found_parents.get(key) or self._search_one(
                                experiment, _parent_filter(key)
                            )
                            parents[key] = self._ensure_parent(
                                experiment, found, _parent_tags(result),
                                self._pretrain_dir(result, None), {}, spans[key],
                            )  # fmt: skip
                    with self._locks.hold("cell", result.eval_key):
                        existing = cells.get(result.eval_key, [])
                        if not overwrite and not self._mirrored(result, existing):
                            cell_filter = f"tags.eval_key = '{result.eval_key}'"
                            existing = self._store.search(experiment, cell_filter)  # current
                        outcome = self._mirror_cell(
                            experiment, result, parents[key], existing, overwrite
                        )
                    counts[outcome.action] += 1
        return SyncSummary(**counts)

    def _search_one(self, experiment: str, filter_string: str) -> Run | None:
        """The oldest run matching ``filter_string``, searched now (another runner may have
        created it since the index was read)."""
        found = self._store.search(experiment, filter_string)
        return found[0] if found else None

    def _mirrored(self, result: CellResult, existing: list[Run]) -> bool:
        """Whether ``existing`` is exactly one run mirroring the current result file."""
        digest = result_digest(self.results, result.eval_key)
        return len(existing) == 1 and _mirrors(existing[0], digest)

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
        span: tuple[int, int] | None,
    ) -> str:
        """Id of the parent run, created if missing and completed with what is now known.

        A pretraining's run spans the pretraining (from its checkpoint); a parent without one
        (a baseline's initialisation) spans the cells logged under it (``span``: this cell's).
        """
        record = None
        logged = run is not None and run.data.tags.get(PRETRAINING_LOGGED_TAG) == "true"
        if not logged and run_dir is not None:
            record = read_pretraining(run_dir)
        if run is None:
            pretrained = run_dir is not None
            name = parent_run_name(identity["method"], identity["pretrain_key"], pretrained)
            tags = {RUN_KIND_TAG: "parent", "mlflow.runName": name, **identity}
            start = record.start_ms if record is not None else span[0] if span else None
            run = self._store.client.create_run(experiment, start_time=start, tags=tags)
        run_id = run.info.run_id
        record_tags: dict[str, str] = {}
        metrics: list[Metric] = []
        artifacts: list[Path] = []
        end = run.info.end_time
        if record is not None:
            params = {**record.params, **params}
            record_tags = {**record.tags, PRETRAINING_LOGGED_TAG: "true"}
            metrics = [Metric(k, v, record.end_ms, 0) for k, v in record.summary.items()]
            metrics += [Metric(k, v, record.step_time_ms(s), s) for k, v, s in record.curve]
            artifacts = [record.history] if record.history else []
            artifacts += [record.checkpoint] if self.log_checkpoints else []
            end = record.end_ms
        elif span is not None and not logged and run_dir is None:
            end = max(end or 0, span[1])
        new_params = {k: v for k, v in params.items() if k not in run.data.params}
        for path in artifacts:
            self._store.client.log_artifact(run_id, str(path), "pretraining")
        self._store.log_batch(run_id, new_params, metrics, record_tags)  # tags last: complete
        if run.info.status != "FINISHED" or end != run.info.end_time:
            self._store.terminate(run_id, "FINISHED", end)
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
        start, end = cell_span_ms(result)
        tags = {**cell_tags(result, digest), "mlflow.parentRunId": parent}
        run_id = self._store.client.create_run(experiment, start_time=start, tags=tags).info.run_id
        metrics = [Metric(k, v, end, 0) for k, v in cell_metrics(result).items()]
        self._store.log_batch(run_id, cell_params(result), metrics, {})
        for path in (json_path, npz_path):
            if path.is_file():
                self._store.client.log_artifact(run_id, str(path), "result")
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


def _parent_spans(results: list[CellResult]) -> dict[str, tuple[int, int]]:
    """The first start and last end of each parent's cells."""
    spans: dict[str, tuple[int, int]] = {}
    for result in results:
        start, end = cell_span_ms(result)
        earlier = spans.get(parent_key(result), (start, end))
        spans[parent_key(result)] = (min(start, earlier[0]), max(end, earlier[1]))
    return spans


def _parent_filter(key: str) -> str:
    return f"tags.run_kind = 'parent' and tags.pretrain_key = '{key}'"


def _parent_tags(result: CellResult) -> dict[str, str]:
    return _identity(result.method, parent_key(result), result.profile, result.task_group)


def _identity(method: str, key: str, profile: str, task_group: str) -> dict[str, str]:
    """Tags naming a parent run."""
    return {"method": method, "pretrain_key": key, "profile": profile, "task_group": task_group}


def _mirrors(run: Run, digest: str) -> bool:
    return run.info.status in _DONE and run.data.tags.get(DIGEST_TAG) == digest

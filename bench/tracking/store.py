"""The MLflow store behind tracking: which URI, which rank logs, and a thin client wrapper
that turns store failures into one TrackingError naming the URI."""

from __future__ import annotations

import contextlib
import io
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import requests
import sqlalchemy.exc
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

from bench.errors import BenchError
from bench.schema_race import retry_schema_race
from bench.tracking.uri import URI_ENV

PREFIX_ENV = "BENCH_MLFLOW_EXPERIMENT_PREFIX"
EXPERIMENT_PREFIX = "ecg-ssl-bench"
ARTIFACTS_DIR = "mlartifacts"
REMOTE_SCHEMES = ("http", "https", "databricks")  # the server decides where artifacts go
_MAX_PARAMS, _MAX_TAGS, _MAX_ENTITIES = 100, 100, 1000  # MLflow's limits per log_batch


class TrackingError(BenchError):
    """The MLflow tracking store is unreachable or refused a request."""


def experiment_name(task_group: str, prefix: str | None = None) -> str:
    """Experiment of a task group: ``<prefix>/<group>``, the prefix from the argument,
    $BENCH_MLFLOW_EXPERIMENT_PREFIX or "ecg-ssl-bench"."""
    return f"{prefix or os.environ.get(PREFIX_ENV) or EXPERIMENT_PREFIX}/{task_group}"


def is_logging_rank() -> bool:
    """True in the process that logs: rank 0 of torch.distributed, else $RANK (default 0)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


class Store:
    """An MlflowClient on ``uri``, checked reachable on construction (TrackingError if not)."""

    def __init__(self, uri: str):
        self.uri = uri
        self.remote = urllib.parse.urlparse(uri).scheme in REMOTE_SCHEMES
        if urllib.parse.urlparse(uri).scheme in ("http", "https"):
            try:
                requests.get(f"{uri.rstrip('/')}/health", timeout=10).raise_for_status()
            except requests.RequestException as error:
                raise TrackingError(
                    f"MLflow tracking server {uri} is unreachable ({error}); start it or "
                    f"choose another store with ${URI_ENV}"
                ) from error
        with self.errors():
            self.client = retry_schema_race(self._open, uri)

    def _open(self) -> MlflowClient:
        """A client whose store answers (a new SQLite store gets its schema on this call)."""
        client = MlflowClient(tracking_uri=self.uri)
        client.search_experiments(max_results=1)
        return client

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Store failures as one TrackingError naming the URI; the suite's errors pass through."""
        try:
            yield
        except BenchError:
            raise
        except (
            MlflowException,
            requests.RequestException,
            sqlalchemy.exc.SQLAlchemyError,
            OSError,
        ) as error:
            raise TrackingError(f"MLflow tracking store {self.uri} failed: {error}") from error

    def experiment(self, name: str, tags: dict[str, str], artifact_root: Path) -> str:
        """Id of experiment ``name``, created (artifacts under ``artifact_root`` unless the
        store is a server) or restored when needed; an existing one gets ``tags`` it lacks."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            for key, value in tags.items():
                if found.tags.get(key) != value:
                    self.client.set_experiment_tag(found.experiment_id, key, value)
            return found.experiment_id
        location = None if self.remote else artifact_root.resolve().as_uri()
        try:
            return self.client.create_experiment(name, artifact_location=location, tags=tags)
        except MlflowException as error:  # created meanwhile by another process
            if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
            return self.client.get_experiment_by_name(name).experiment_id

    def search(self, experiment: str, filter_string: str = "") -> list[Run]:
        """Active runs matching ``filter_string``, oldest first, every page."""
        runs: list[Run] = []
        token = None
        while True:
            page = self.client.search_runs(
                [experiment], filter_string, max_results=1000,
                order_by=["attributes.start_time ASC"], page_token=token,
            )  # fmt: skip
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def log_batch(
        self,
        run_id: str,
        params: dict[str, str] | None = None,
        metrics: list[Metric] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Params, metrics and tags in as few requests as MLflow's limits allow; tags are sent
        only once every param and metric is stored (a tag can mark the run complete)."""
        param_list = [Param(k, v) for k, v in (params or {}).items()]
        metric_list = list(metrics or [])
        tag_list = [RunTag(k, v) for k, v in (tags or {}).items()]
        while param_list or metric_list or tag_list:
            batch_params, param_list = param_list[:_MAX_PARAMS], param_list[_MAX_PARAMS:]
            room = _MAX_ENTITIES - len(batch_params)
            batch_metrics, metric_list = metric_list[:room], metric_list[room:]
            room -= len(batch_metrics)
            batch_tags: list[RunTag] = []
            if not param_list and not metric_list:
                count = min(room, _MAX_TAGS)
                batch_tags, tag_list = tag_list[:count], tag_list[count:]
            self.client.log_batch(run_id, batch_metrics, batch_params, batch_tags)

    def terminate(self, run_id: str, status: str, end_time: int | None = None) -> None:
        """End a run with ``status`` ("FINISHED", "FAILED") without printing its URL."""
        with contextlib.redirect_stdout(io.StringIO()):  # a REST client prints the run's URL
            self.client.set_terminated(run_id, status, end_time)

"""MLflow view of an Optuna study: a parent run per study in the task group's experiment (the
runner's experiment), a nested child run per trial with its configuration and validation score.

Runs are told apart from the runner's by the tag ``run_kind`` ("study" / "trial"); params use
the runner's names (``train.lr``, ``method.<field>``, ``evaluation.linear.c_grid``), so the
MLflow compare view lines trials up with grid cells. The store is the runner's (see
``bench.tracking.uri.tracking_uri``).
"""

from __future__ import annotations

import time
from typing import Any

from mlflow.entities import Metric
from optuna.trial import FrozenTrial

from bench.config import to_dict
from bench.grid.plan import Cell
from bench.grid.profiles import Profile
from bench.paths import results_dir
from bench.tracking.records import RUN_KIND_TAG, flatten_params, safe_name
from bench.tracking.store import ARTIFACTS_DIR, Store, experiment_name
from bench.tracking.uri import tracking_uri

VALUE_METRIC = "val_macro_auroc"
BEST_METRIC = "best_val_macro_auroc"


def trial_params(cell: Cell, profile: Profile) -> dict[str, str]:
    """A trial's configuration as MLflow params: method config, pretraining schedule (when
    the method pretrains) and the protocol's evaluation options."""
    setup, protocol = cell.unit.setup, cell.protocol
    evaluation = profile.evaluation.linear if protocol == "linear" else profile.evaluation.finetune
    config: dict[str, Any] = {"method": to_dict(setup.method_config)}
    if cell.unit.needs_pretraining:
        config["train"] = setup.train.learning_dict()
    config["evaluation"] = {protocol: to_dict(evaluation)}
    return flatten_params(config)


class StudyTracker:
    """Logs one study's trials into one MLflow store (TrackingError when it fails)."""

    def __init__(self, uri: str | None, task_group: str, study: str, tags: dict[str, str]):
        results = results_dir()
        self.store = Store(tracking_uri(uri, results))
        self.study = study
        with self.store.errors():
            root = results / ARTIFACTS_DIR / safe_name(task_group)
            self.experiment = self.store.experiment(
                experiment_name(task_group), {"task_group": task_group}, root
            )
            self.parent = self._parent_run({"task_group": task_group, **tags})

    def _parent_run(self, tags: dict[str, str]) -> str:
        """The study's parent run, created once (the oldest wins if workers raced)."""
        query = (
            f"tags.{RUN_KIND_TAG} = 'study' and tags.study = '{self.study}' "
            f"and tags.study_storage = '{tags['study_storage']}'"
        )
        found = self.store.search(self.experiment, query)
        if found:
            self.store.client.update_run(found[0].info.run_id, status="RUNNING")
            return found[0].info.run_id
        run_tags = {RUN_KIND_TAG: "study", "study": self.study, "mlflow.runName":
                    f"study {self.study}", **tags}  # fmt: skip
        created = self.store.client.create_run(self.experiment, tags=run_tags).info.run_id
        oldest = self.store.search(self.experiment, query)[0].info.run_id
        if oldest != created:
            self.store.client.delete_run(created)
        return oldest

    def start_trial(self, number: int, params: dict[str, str], cell: Cell) -> str:
        """Create the nested run of trial ``number``; returns its id."""
        tags = {
            RUN_KIND_TAG: "trial",
            "mlflow.parentRunId": self.parent,
            "mlflow.runName": f"trial {number}",
            "study": self.study,
            "trial": str(number),
            "method": cell.unit.method,
            "task": cell.task.name,
            "task_group": cell.task.group,
            "protocol": cell.protocol,
            "fraction": f"{cell.fraction:g}",
            "seed": str(cell.seed),
            "pretrain_key": cell.unit.key if cell.unit.needs_pretraining else "",
        }
        with self.store.errors():
            run_id = self.store.client.create_run(self.experiment, tags=tags).info.run_id
            self.store.log_batch(run_id, params)
        return run_id

    def end_trial(
        self, run_id: str | None, metrics: dict[str, float] | None, status: str, tags: dict
    ) -> None:
        """Log the trial's metrics and tags, then end its run with ``status``."""
        if run_id is None:
            return
        now = int(time.time() * 1000)
        values = [Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()]
        with self.store.errors():
            self.store.log_batch(run_id, None, values, {k: v[:5000] for k, v in tags.items()})
            self.store.terminate(run_id, status)

    def log_best(self, best: FrozenTrial, finished: int, config_path: Any) -> None:
        """The best value so far (a curve over finished trials) and the best config YAML."""
        assert best.value is not None
        metric = Metric(BEST_METRIC, float(best.value), int(time.time() * 1000), finished)
        with self.store.errors():
            self.store.log_batch(self.parent, None, [metric], {"best_trial": str(best.number)})
            self.store.client.log_artifact(self.parent, str(config_path), "best")

    def close(self) -> None:
        """Mark the study's run finished (a later run of the same study reopens it)."""
        with self.store.errors():
            self.store.terminate(self.parent, "FINISHED")

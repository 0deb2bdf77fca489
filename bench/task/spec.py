"""The schema of a task file: a task on your own labelled data, in YAML (as lm-evaluation-harness
defines tasks), validated strictly (an unknown key is refused, naming the file and the key).

    name: my-rhythm                  # the task's name (bench run --tasks my-rhythm)
    group: my-tasks                  # optional, default the name: --tasks my-tasks runs them all
    dataset: wfdb                    # a registered dataset (bench data prepare <name> ...), or:
    #   name: wfdb                   #   the dataset,
    #   root: ecgs                   #   its folder (else --data-root wfdb=PATH / $BENCH_WFDB_ROOT)
    #   options: {labels: labels.csv}  # its source options, as bench data prepare takes them
    kind: multilabel                 # multilabel | multiclass | regression
    label_columns: [labels]          # metadata columns holding the labels / targets
    classes: [AF, SR]                # optional (classification): keep and order these classes
    main_metric: macro_auroc         # optional; default macro_auroc / accuracy / mae by kind
    folds: dataset                   # the dataset's folds, or {seed: 0}: seeded, by patient
    fractions: [0.1, 1.0]            # optional: the task's label fractions
    description: ...                 # optional free text

Relative paths (``root``, the ``labels`` and ``dx_tables`` options) are read from the task
file's folder. What a label column holds, by kind:

- multilabel: a column of label lists (e.g. the ``labels`` of a ``wfdb`` labels CSV, or text
  separated by commas) gives its items as classes; a column of 0/1 numbers is one class named
  after the column. Records without any class are dropped.
- multiclass: one column; each record's single value is its class (records with none, or with
  several, are dropped).
- regression: one target per column, numbers (a list holding one number counts as it);
  records missing a target are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from bench.config import from_dict
from bench.errors import ConfigError

KINDS = ("multilabel", "multiclass", "regression")
METRICS: dict[str, tuple[str, ...]] = {  # kind -> main metrics it can select and report on
    "multilabel": ("macro_auroc",),
    "multiclass": ("accuracy", "macro_f1", "macro_auroc"),
    "regression": ("mae", "rmse", "r2", "pearson_r"),
}
PATH_OPTIONS = ("labels", "dx_tables")  # source options naming files, read from the file's folder
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class DatasetSpec:
    """The prepared dataset a task file names: its name, and optionally root and options."""

    name: str
    root: str | None = None
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SeededFolds:
    """Folds drawn for the task: seeded, stratified on its labels, records of a patient together
    (``bench.data.folds``)."""

    seed: int = 0
    by: Literal["patient"] = "patient"


@dataclass(frozen=True)
class TaskSpec:
    """A validated task file (``folds`` None: the dataset's own folds)."""

    name: str
    dataset: DatasetSpec
    kind: Literal["multilabel", "multiclass", "regression"]
    label_columns: tuple[str, ...]
    classes: tuple[str, ...] | None = None
    main_metric: str | None = None
    folds: SeededFolds | None = None
    fractions: tuple[float, ...] | None = None
    group: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        for what, value in (("name", self.name), ("group", self.group or self.name)):
            if not _NAME.match(value):
                raise ConfigError(f"task.{what} {value!r}: use letters, digits, '-' and '_'")
        if not self.label_columns:
            raise ConfigError("task.label_columns must name at least one metadata column")
        if self.kind == "multiclass" and len(self.label_columns) != 1:
            raise ConfigError("task.label_columns: a multiclass task reads one column")
        if self.kind == "regression" and self.classes is not None:
            raise ConfigError("task.classes: a regression task has targets, not classes")
        if self.main_metric is not None and self.main_metric not in METRICS[self.kind]:
            raise ConfigError(
                f"task.main_metric {self.main_metric!r} is not one of a {self.kind} task's "
                f"{', '.join(METRICS[self.kind])}"
            )
        for fraction in self.fractions or ():
            if not 0 < fraction <= 1:
                raise ConfigError(f"task.fractions: {fraction} must lie in (0, 1]")

    @property
    def metric(self) -> str:
        """The main metric (the kind's default when the file names none)."""
        return self.main_metric or METRICS[self.kind][0]


def read_task_file(path: Path) -> TaskSpec:
    """The TaskSpec of the YAML file ``path``; ConfigError naming the file and the bad key."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"task file {path} cannot be read: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"task file {path} must hold a mapping of keys (name, dataset, ...)")
    try:
        return from_dict(TaskSpec, _normalised(document, path.parent), where="task")
    except ConfigError as error:
        raise ConfigError(f"task file {path}: {error}") from None


def _normalised(document: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The file's short forms spelled out (dataset: NAME, folds: dataset), paths absolute."""
    document = dict(document)
    dataset = document.get("dataset")
    if isinstance(dataset, str):
        document["dataset"] = {"name": dataset}
    elif isinstance(dataset, dict):
        dataset = dict(dataset)
        if isinstance(dataset.get("root"), str):
            dataset["root"] = str((folder / dataset["root"]).expanduser().resolve())
        options = dataset.get("options")
        if isinstance(options, dict):
            dataset["options"] = {
                str(k): str((folder / str(v)).expanduser().resolve())
                if k in PATH_OPTIONS
                else ",".join(map(str, v))
                if isinstance(v, list)
                else str(v)
                for k, v in options.items()
            }
        document["dataset"] = dataset
    if document.get("folds", "dataset") == "dataset":
        document.pop("folds", None)
    elif not isinstance(document["folds"], dict):
        raise ConfigError(f"task.folds = {document['folds']!r}: use 'dataset' or {{seed: N}}")
    for key in ("label_columns", "classes"):
        if isinstance(document.get(key), str):
            document[key] = [document[key]]
    return document

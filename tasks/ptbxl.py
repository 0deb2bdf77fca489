"""The six PTB-XL label sets of the PTB-XL benchmark (Strodthoff et al., IEEE JBHI 2021).

Every label comes from a record's ``scp_codes`` keys (any likelihood, 0 included) and
``scp_statements.csv``, as the benchmark aggregates them:

- all: every statement code;
- diagnostic: codes whose ``diagnostic`` is 1;
- subdiagnostic / superdiagnostic: ``diagnostic_subclass`` / ``diagnostic_class`` of the
  diagnostic codes (missing values ignored);
- form / rhythm: codes whose ``form`` / ``rhythm`` is 1.

Classes are the labels present in at least one loaded record, sorted alphabetically; records with
no label of the set are dropped. The full dataset gives 71 / 44 / 23 / 5 / 19 / 12 classes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from bench.data.signals import SignalSet
from bench.errors import DataError
from bench.task import Labels, Task, register_task

# statement table -> function giving a statement code's label (None: no label of the set)
LabelRule = Callable[[pd.DataFrame], Callable[[str], str | None]]


def _every_code(statements: pd.DataFrame) -> Callable[[str], str | None]:
    """Every code is its own label ('all')."""
    return lambda code: code


def _flagged(column: str) -> LabelRule:
    """Codes whose ``column`` is 1, each its own label."""

    def rule(statements: pd.DataFrame) -> Callable[[str], str | None]:
        codes = {str(code) for code in statements.index[statements[column] == 1]}
        return lambda code: code if code in codes else None

    return rule


def _diagnostic_group(column: str) -> LabelRule:
    """Diagnostic codes labelled by their ``column`` (subclass or class) where it is given."""

    def rule(statements: pd.DataFrame) -> Callable[[str], str | None]:
        groups = statements[statements["diagnostic"] == 1][column].dropna()
        return {str(code): str(group) for code, group in groups.items()}.get

    return rule


LABEL_SETS: dict[str, LabelRule] = {
    "all": _every_code,
    "diagnostic": _flagged("diagnostic"),
    "subdiagnostic": _diagnostic_group("diagnostic_subclass"),
    "superdiagnostic": _diagnostic_group("diagnostic_class"),
    "form": _flagged("form"),
    "rhythm": _flagged("rhythm"),
}


class PTBXLTask(Task):
    """One PTB-XL label set as a multi-label task on the official folds."""

    dataset = "ptbxl"

    def __init__(self, label_set: str) -> None:
        self.label_set = label_set
        self.name = f"ptbxl-{label_set}"
        self.group = "ptbxl"
        self._rule = LABEL_SETS[label_set]

    def labels(self, data: SignalSet) -> Labels:
        """Multi-hot labels of every record; records without any label are not kept."""
        if "scp_statements" not in data.tables or "scp_codes" not in data.meta.columns:
            raise DataError(
                f"{self.name} needs PTB-XL's scp_codes and scp_statements ({data.name})"
            )
        label_of = self._rule(data.tables["scp_statements"])
        per_record = [
            {label for code in codes if (label := label_of(code)) is not None}
            for codes in data.meta["scp_codes"]
        ]
        names = tuple(sorted(set().union(*per_record)))
        column = {name: i for i, name in enumerate(names)}
        values = np.zeros((len(per_record), len(names)), dtype=np.float32)
        for row, labels in enumerate(per_record):
            values[row, [column[label] for label in labels]] = 1.0
        return Labels(values=values, names=names, keep=np.asarray(values.any(axis=1)))


for _label_set in LABEL_SETS:
    register_task(PTBXLTask(_label_set))

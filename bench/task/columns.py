"""Labels of a task file read from a dataset's metadata columns (rules in ``bench.task.spec``)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from bench.errors import DataError
from bench.task.contract import Labels


def column_items(values: Iterable[object]) -> list[tuple[str, ...]]:
    """Each record's labels in a column of lists, mappings (their keys) or comma-separated
    text; a missing value is no label."""
    items = []
    for value in values:
        if isinstance(value, Mapping):
            items.append(tuple(str(k) for k in value))
        elif isinstance(value, (list, tuple, set, np.ndarray)):
            items.append(tuple(str(v).strip() for v in value if str(v).strip()))
        elif isinstance(value, str):
            items.append(tuple(v.strip() for v in value.split(",") if v.strip()))
        elif _missing(value):
            items.append(())
        else:
            items.append((_number_text(value),))
    return items


def is_indicator(values: pd.Series) -> bool:
    """Whether a column holds 0/1 numbers (or booleans): one class, not a list of labels."""
    present = [v for v in values if not _missing(v)]
    return bool(present) and all(
        isinstance(v, (numbers.Real, np.bool_)) and not isinstance(v, str) and float(v) in (0, 1)
        for v in present
    )


def record_classes(meta: pd.DataFrame, columns: Sequence[str]) -> list[tuple[str, ...]]:
    """Each record's classes over ``columns``: a 0/1 column adds its own name where it is 1,
    any other column its items."""
    per_record: list[tuple[str, ...]] = [() for _ in range(len(meta))]
    for column in columns:
        values = meta[column]
        if is_indicator(values):
            found = [(column,) if not _missing(v) and float(v) == 1 else () for v in values]
        else:
            found = column_items(values)
        per_record = [a + b for a, b in zip(per_record, found, strict=True)]
    return per_record


def class_labels(
    per_record: list[tuple[str, ...]], classes: Sequence[str] | None, one_per_record: bool
) -> Labels:
    """Multi-hot (or, with ``one_per_record``, one-hot) labels over ``classes`` (None: every
    class found, sorted); records without a class, or with several where one is wanted, are
    not kept."""
    wanted = [set(labels) & set(classes) if classes is not None else set(labels)
              for labels in per_record]  # fmt: skip
    names = tuple(classes) if classes is not None else tuple(sorted(set().union(*wanted)))
    column = {name: i for i, name in enumerate(names)}
    values = np.zeros((len(per_record), len(names)), dtype=np.float32)
    for row, labels in enumerate(wanted):
        values[row, [column[label] for label in labels]] = 1.0
    counts = values.sum(axis=1)
    keep = counts == 1 if one_per_record else counts > 0
    return Labels(values=values, names=names, keep=np.asarray(keep))


def target_labels(meta: pd.DataFrame, columns: Sequence[str]) -> tuple[Labels, list[str]]:
    """Regression targets, one per column; records missing one are not kept. Also the
    columns that hold values other than numbers (with an example), for the error message."""
    values = np.full((len(meta), len(columns)), np.nan)
    unreadable = []
    for j, column in enumerate(columns):
        for row, value in enumerate(meta[column]):
            number = _number(value)
            if number is None and not _missing(value) and not _empty(value):
                unreadable.append(f"{column} (e.g. {value!r})")
                break
            values[row, j] = np.nan if number is None else number
    keep = np.isfinite(values).all(axis=1)
    labels = Labels(np.where(keep[:, None], values, 0).astype(np.float32), tuple(columns), keep)
    return labels, unreadable


def check_columns(meta: pd.DataFrame, columns: Sequence[str], where: str) -> None:
    """DataError naming the missing columns and the ones there are."""
    missing = [c for c in columns if c not in meta.columns]
    if missing:
        raise DataError(
            f"{where}: the dataset has no metadata column(s) {missing}; its columns: "
            f"{', '.join(map(str, meta.columns))}"
        )


def _number(value: object) -> float | None:
    """A number, or the one number a list or text holds; None otherwise."""
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _empty(value: object) -> bool:
    return isinstance(value, (list, tuple, str, np.ndarray)) and len(value) == 0


def _number_text(value: object) -> str:
    """A class value as text: 1.0 -> '1'."""
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return str(int(value))
    return str(value)

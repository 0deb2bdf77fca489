"""Tasks from record metadata: age (regression) and sex (binary, as a two-class multiclass task).

- ``ptbxl-age``: PTB-XL ``age`` in years, main metric MAE; missing ages and PTB-XL's code 300
  (every age above 89, set to 300 for anonymity) are dropped;
- ``ptbxl-sex``: PTB-XL ``sex`` (0 male, 1 female), classes (male, female), main macro AUROC;
- ``cinc-age``: the ``# Age:`` of the CinC headers (cinc2021 source) where given, MAE.
Records with a missing value are dropped. Official (PTB-XL) or the source's folds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.data.signals import SignalSet
from bench.errors import DataError
from bench.task import Labels, Task, register_task

PTBXL_ANONYMISED_AGE = 300.0


def _column(data: SignalSet, name: str, task: str) -> pd.Series:
    if name not in data.meta.columns:
        raise DataError(f"{task} needs the metadata column {name!r} ({data.name})")
    return pd.to_numeric(data.meta[name], errors="coerce")


class AgeTask(Task):
    """Age in years, one regression target."""

    kind = "regression"
    main_metric = "mae"
    version = "1"

    def __init__(self, name: str, dataset: str, drop: tuple[float, ...] = ()) -> None:
        self.name = name
        self.group = name
        self.dataset = dataset
        self.drop = drop

    def labels(self, data: SignalSet) -> Labels:
        """Age column; records without an age (or with a code in ``drop``) are not kept."""
        age = _column(data, "age", self.name).to_numpy(np.float64)
        keep = np.isfinite(age) & ~np.isin(age, self.drop)
        values = np.where(keep, age, 0.0)[:, None].astype(np.float32)
        return Labels(values=values, names=("age",), keep=keep)


class SexTask(Task):
    """Sex as two classes (male, female), one-hot."""

    name = "ptbxl-sex"
    group = "ptbxl-sex"
    dataset = "ptbxl"
    version = "1"
    kind = "multiclass"
    main_metric = "macro_auroc"

    def labels(self, data: SignalSet) -> Labels:
        """PTB-XL sex 0 = male, 1 = female; other values are not kept."""
        sex = _column(data, "sex", self.name).to_numpy(np.float64)
        keep = np.isin(sex, (0.0, 1.0))
        values = np.zeros((len(sex), 2), dtype=np.float32)
        values[keep, sex[keep].astype(int)] = 1.0
        return Labels(values=values, names=("male", "female"), keep=keep)


register_task(AgeTask("ptbxl-age", "ptbxl", drop=(PTBXL_ANONYMISED_AGE,)))
register_task(SexTask())
register_task(AgeTask("cinc-age", "cinc2021"))

"""CinC Challenge tasks on the ``cinc2021`` source: the scored classes with their equivalences.

- ``cinc2020``: the 2020 Challenge's 27 scored codes as 24 classes, on its six sources (cpsc,
  cpsc-extra, incart, ptb, ptbxl, georgia);
- ``cinc2021``: the 2021 Challenge's 30 scored codes as 26 classes, on every source;
- ``georgia``, ``chapman``, ``ningbo``: one source each, its 2021 scored classes, i.e. those with
  at least one record of the source (classes sorted as in the organisers' weight matrix).
Codes of an equivalence pair (e.g. 59118001 RBBB and 713427006 CRBBB) count as one class. Records
without a scored code (or of other sources) are dropped. Besides the kind's metrics (main: macro
AUROC) every cell reports the normalised Challenge score with the official weight matrix at
per-class thresholds chosen on validation (``bench.evaluation.challenge``), with its bootstrap CI.
The organisers' tables (scored mappings and weight matrices, ``cinc20NN_dx_mapping_scored.csv``
and ``cinc20NN_weights.csv``) ship with the package in ``bench/data/cinc_scoring`` (source and
licence in its README). The classes of a task always come from those copies (they define the
task); the Challenge score reads its tables from ``$BENCH_CINC_SCORING_ROOT`` when set, else from
the same copies. Tables the score cannot read leave ``challenge_score`` None with a
``challenge_note`` saying why; the cell's other metrics are kept.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from bench.data.signals import SignalSet
from bench.errors import DataError
from bench.evaluation.challenge import SINUS_RHYTHM, ScoredClasses, challenge_metrics
from bench.task import Labels, Task, register_task

SCORING_ENV = "BENCH_CINC_SCORING_ROOT"
SOURCES_2020: tuple[str, ...] = ("cpsc", "cpsc-extra", "incart", "ptb", "ptbxl", "georgia")


def packaged_tables_root() -> Path:
    """The package's copy of the Challenge tables (``bench/data/cinc_scoring``)."""
    return Path(str(resources.files("bench.data").joinpath("cinc_scoring")))


@cache
def scored_classes(year: int) -> ScoredClasses:
    """The scored classes, equivalences and weight matrix of Challenge ``year``, from the
    packaged tables: what the task's labels are."""
    return read_tables(packaged_tables_root(), year)


def scoring_classes(year: int) -> ScoredClasses | str:
    """The tables the Challenge score of ``year`` uses (``$BENCH_CINC_SCORING_ROOT`` when set,
    read afresh on each call, else the packaged ones), or a note saying why they cannot be
    read."""
    override = os.environ.get(SCORING_ENV)
    if not override:
        return scored_classes(year)
    try:
        return read_tables(Path(override).expanduser(), year)
    except DataError as error:
        return f"${SCORING_ENV}: {error}"


def read_tables(root: Path, year: int) -> ScoredClasses:
    """``ScoredClasses`` of the tables of ``year`` in ``root``; DataError naming what is amiss."""
    mapping, weights = (
        root / f"cinc{year}_{name}.csv" for name in ("dx_mapping_scored", "weights")
    )
    missing = [path.name for path in (mapping, weights) if not path.is_file()]
    if missing:
        raise DataError(
            f"CinC scoring tables {missing} not found in {root}: the folder must hold the "
            "organisers' dx_mapping_scored.csv and weights.csv of the 2020 and 2021 evaluation "
            "code (github.com/physionetchallenges) as cinc20NN_dx_mapping_scored.csv and "
            f"cinc20NN_weights.csv; the package ships them in bench/data/cinc_scoring, used when "
            f"${SCORING_ENV} is unset (reinstall if they are missing there)"
        )
    return ScoredClasses.from_tables(mapping, weights)


class CincTask(Task):
    """Multi-label scored CinC classes of some sources (all when ``sources`` is empty)."""

    dataset = "cinc2021"
    version = "1"

    def __init__(self, name: str, year: int, sources: tuple[str, ...], present_only: bool) -> None:
        self.name = name
        self.group = "cinc" if name.startswith("cinc") else name
        self.year = year
        self.sources = sources
        self.present_only = present_only

    def data_sources(self) -> tuple[str, ...]:
        """Its CinC sources (every source of the year's Challenge when it names none)."""
        return self.sources or (f"cinc{self.year}",)

    def labels(self, data: SignalSet) -> Labels:
        """Multi-hot scored classes; records of other sources or without one are not kept."""
        missing = [c for c in ("labels", "source") if c not in data.meta.columns]
        if missing:
            raise DataError(
                f"{self.name} needs the CinC metadata column(s) {missing} ({data.name})"
            )
        scored = scored_classes(self.year)
        column = {code: i for i, code in enumerate(scored.codes)}
        values = np.zeros((len(data.meta), len(scored.codes)), dtype=np.float32)
        for row, codes in enumerate(data.meta["labels"]):
            hits = [column[scored.aliases[c]] for c in codes if c in scored.aliases]
            values[row, hits] = 1.0
        in_source = (
            data.meta["source"].isin(self.sources).to_numpy()
            if self.sources
            else np.ones(len(values), dtype=bool)
        )
        keep = in_source & values.any(axis=1)
        classes = np.arange(len(scored.codes))
        if self.present_only:
            classes = np.flatnonzero(values[keep].any(axis=0))
        return Labels(
            values=values[:, classes],
            names=tuple(scored.names[i] for i in classes),
            keep=keep,
        )

    def extra_metrics(
        self,
        val: tuple[np.ndarray, np.ndarray],
        test: tuple[np.ndarray, np.ndarray],
        label_names: Sequence[str],
        bootstrap: tuple[np.ndarray, float] | None = None,
    ) -> tuple[dict[str, object], dict[str, list[float]]]:
        """The normalised Challenge score (None, with a note, without a sinus class or without
        readable scoring tables)."""
        classes = scored_classes(self.year)
        codes = [classes.codes[classes.names.index(name)] for name in label_names]
        if SINUS_RHYTHM not in codes:
            return skipped("no sinus rhythm class")
        scoring = scoring_classes(self.year)
        if isinstance(scoring, str):
            return skipped(scoring)
        unknown = sorted(set(codes) - set(scoring.codes))
        if unknown:
            return skipped(f"${SCORING_ENV}: the {self.year} tables lack the classes {unknown}")
        return challenge_metrics(val, test, scoring, codes, bootstrap)


def skipped(note: str) -> tuple[dict[str, object], dict[str, list[float]]]:
    """The Challenge score left out, with ``note`` saying why."""
    return {"challenge_score": None, "challenge_note": note}, {}


register_task(CincTask("cinc2020", 2020, SOURCES_2020, present_only=False))
register_task(CincTask("cinc2021", 2021, (), present_only=False))
for _source in ("georgia", "chapman", "ningbo"):
    register_task(CincTask(_source, 2021, (_source,), present_only=True))

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
The organisers' tables (scored mappings and weight matrices, as in ../shared/data/cinc-scoring:
``cinc20NN_dx_mapping_scored.csv``, ``cinc20NN_weights.csv``) are read from
``$BENCH_CINC_SCORING_ROOT``, else from ``shared/data/cinc-scoring`` beside the checkout.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from bench.data.signals import SignalSet
from bench.errors import DataError
from bench.evaluation.challenge import SINUS_RHYTHM, ScoredClasses, challenge_metrics
from bench.task import Labels, Task, register_task

SCORING_ENV = "BENCH_CINC_SCORING_ROOT"
BESIDE_CHECKOUT = Path(__file__).resolve().parents[2] / "shared" / "data" / "cinc-scoring"
SOURCES_2020: tuple[str, ...] = ("cpsc", "cpsc-extra", "incart", "ptb", "ptbxl", "georgia")


@cache
def scored_classes(year: int) -> ScoredClasses:
    """The scored classes, equivalences and weight matrix of Challenge ``year``."""
    root = scoring_tables_root()
    return ScoredClasses.from_tables(
        root / f"cinc{year}_dx_mapping_scored.csv", root / f"cinc{year}_weights.csv"
    )


def scoring_tables_root() -> Path:
    """Folder of the Challenge scoring tables; DataError naming where to get them if absent."""
    root = Path(os.environ.get(SCORING_ENV) or BESIDE_CHECKOUT).expanduser()
    if not root.is_dir():
        raise DataError(
            f"CinC scoring tables not found in {root}: set ${SCORING_ENV} to a folder holding "
            "cinc2020_dx_mapping_scored.csv, cinc2020_weights.csv, cinc2021_dx_mapping_scored.csv "
            "and cinc2021_weights.csv (the organisers' dx_mapping_scored.csv and weights.csv of "
            "the 2020 and 2021 evaluation code, github.com/physionetchallenges)"
        )
    return root


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
        """The normalised Challenge score (skipped, with a note, without a sinus class)."""
        scored = scored_classes(self.year)
        codes = [scored.codes[scored.names.index(name)] for name in label_names]
        if SINUS_RHYTHM not in codes:
            return {"challenge_score": None, "challenge_note": "no sinus rhythm class"}, {}
        return challenge_metrics(val, test, scored, codes, bootstrap)


register_task(CincTask("cinc2020", 2020, SOURCES_2020, present_only=False))
register_task(CincTask("cinc2021", 2021, (), present_only=False))
for _source in ("georgia", "chapman", "ningbo"):
    register_task(CincTask(_source, 2021, (_source,), present_only=True))

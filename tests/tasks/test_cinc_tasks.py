"""Tasks cinc2020 / cinc2021 / georgia / chapman on a generated CinC tree: classes, equivalences,
dropped records, and the Challenge score through Task.extra_metrics (packaged tables, or an
override folder's)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.data.loading import DATASETS
from bench.task import TASKS
from tasks.cinc import SCORING_ENV, packaged_tables_root
from tests.doubles.cinc_tasks import write_labelled_tree


@pytest.fixture(scope="module")
def cinc_data(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("cinc")
    written = write_labelled_tree(root / "tree", per_prefix=20, seconds=2.0)
    prepared = DATASETS.get("cinc2021").prepare(root / "tree", 100, root / "cache", jobs=1)
    return prepared.data, written


def test_cinc2020_has_24_classes_merges_equivalents_and_drops_unscored(cinc_data) -> None:
    data, written = cinc_data
    task = TASKS.get("cinc2020")
    task_data = task.attach(data)
    assert len(task_data.label_names) == 24
    names = list(task_data.label_names)
    # 2020 sources exclude chapman; records with only the unscored 164884008 are dropped
    kept_2020 = [
        n for n, (dx, _) in written.items() if not n.startswith("JS") and dx != "164884008"
    ]
    assert len(task_data.labels) == len(kept_2020)
    by_id = dict(zip(data.meta["record_id"], data.meta["labels"], strict=True))
    for row, record in enumerate(task_data.record_ids):
        codes = set(by_id[record])
        labels = task_data.labels[row]
        assert labels[names.index("CRBBB|RBBB")] == bool(codes & {"59118001", "713427006"})
        assert labels[names.index("PAC|SVPB")] == bool(codes & {"284470004", "63593006"})
        assert labels[names.index("LBBB")] == ("164909002" in codes)  # CLBBB unscored in 2020
    assert task_data.labels.sum(1).min() >= 1


def test_cinc2021_and_per_source_tasks(cinc_data) -> None:
    data, written = cinc_data
    c2021 = TASKS.get("cinc2021").attach(data)
    assert len(c2021.label_names) == 26
    assert len(c2021.labels) == sum(dx != "164884008" for dx, _ in written.values())
    lbbb = list(c2021.label_names).index("CLBBB|LBBB")
    assert c2021.labels[:, lbbb].sum() == sum(
        bool({"164909002", "733534002"} & set(dx.split(","))) for dx, _ in written.values()
    )
    georgia = TASKS.get("georgia").attach(data)
    assert set(georgia.label_names) == {"AF", "CLBBB|LBBB", "CRBBB|RBBB", "IAVB", "NSR", "PAC|SVPB"}
    assert len(georgia.labels) == sum(
        n.startswith("E") and dx != "164884008" for n, (dx, _) in written.items()
    )
    assert len(TASKS.get("chapman").attach(data).labels) == 18


def test_challenge_score_through_the_task(cinc_data) -> None:
    data, _ = cinc_data
    task = TASKS.get("cinc2021")
    task_data = task.attach(data)
    labels, names = task_data.labels, task_data.label_names
    noisy = np.clip(labels + np.random.default_rng(0).normal(0, 0.2, labels.shape), 0, 1)
    metrics, ci = task.extra_metrics((labels, noisy), (labels, labels), names)
    assert metrics["challenge_score"] == pytest.approx(1.0)
    assert ci == {}
    sinus_only = np.zeros_like(labels)
    sinus_only[:, names.index("NSR")] = 1.0
    metrics, _ = task.extra_metrics((labels, noisy), (labels, sinus_only), names)
    assert metrics["challenge_score"] == pytest.approx(0.0)


def test_the_score_reads_an_override_folder_and_notes_classes_it_lacks(
    cinc_data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ = cinc_data
    task = TASKS.get("cinc2021")
    task_data = task.attach(data)
    labels, names = task_data.labels, task_data.label_names
    noisy = np.clip(labels + np.random.default_rng(1).normal(0, 0.4, labels.shape), 0, 1)
    packaged, _ = task.extra_metrics((labels, noisy), (labels, noisy), names)
    for table in packaged_tables_root().glob("*.csv"):
        shutil.copy(table, tmp_path / table.name)
    monkeypatch.setenv(SCORING_ENV, str(tmp_path))
    copied, _ = task.extra_metrics((labels, noisy), (labels, noisy), names)
    assert copied["challenge_score"] == packaged["challenge_score"]
    weights = pd.read_csv(tmp_path / "cinc2021_weights.csv", index_col=0)
    af = next(c for c in weights.columns if c.strip() == "164889003")  # AF
    weights.drop(index=weights.index[list(weights.columns).index(af)], columns=af).to_csv(
        tmp_path / "cinc2021_weights.csv"
    )
    lacking, _ = task.extra_metrics((labels, noisy), (labels, noisy), names)
    assert lacking["challenge_score"] is None
    assert "164889003" in lacking["challenge_note"] and SCORING_ENV in lacking["challenge_note"]

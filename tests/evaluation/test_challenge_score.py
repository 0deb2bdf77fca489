"""The normalised CinC Challenge score: hand-computed cases and the official tables."""

from __future__ import annotations

from itertools import permutations
from pathlib import Path

import numpy as np
import pytest

from bench.errors import DataError
from bench.evaluation.bootstrap import bootstrap_indices
from bench.evaluation.challenge import (
    ScoredClasses,
    challenge_metrics,
    challenge_score,
    challenge_thresholds,
    record_terms,
)
from bench.evaluation.metrics import MetricError, f1_thresholds
from tasks.cinc import packaged_tables_root, scored_classes

# classes NSR (sinus, index 0), AF, PAC
W3 = np.array([[1.0, 0.25, 0.5], [0.25, 1.0, 0.5], [0.5, 0.5, 1.0]])


def scored(year: int) -> ScoredClasses:
    return scored_classes(year)


@pytest.fixture
def tables() -> Path:
    """The organisers' tables, as the package ships them."""
    return packaged_tables_root()


def test_worked_three_record_example() -> None:
    labels = np.array([[0, 1, 0], [1, 0, 0], [0, 1, 1]])
    outputs = np.array([[0, 1, 0], [1, 0, 1], [1, 0, 0]])
    # observed: 1 + (1 + 0.5) / 2 + (0.25 + 0.5) / 3 = 2.0
    assert record_terms(labels, outputs, W3).tolist() == pytest.approx([1.0, 0.75, 0.25])
    # correct: 1 + 1 + (1 + 0.5 + 0.5 + 1) / 2 = 3.5; inactive: 0.25 / 2 + 1 + 0.75 / 3 = 1.375
    assert challenge_score(labels, outputs, W3, 0) == pytest.approx(0.625 / 2.125)


def test_the_score_finds_sinus_rhythm_in_any_class_position() -> None:
    labels = np.array([[0, 1, 0], [1, 0, 0], [0, 1, 1]])
    outputs = np.array([[0, 1, 0], [1, 0, 1], [1, 0, 0]])
    for order in permutations(range(3)):
        cols = list(order)
        score = challenge_score(
            labels[:, cols], outputs[:, cols], W3[np.ix_(cols, cols)], cols.index(0)
        )
        assert score == pytest.approx(0.625 / 2.125), order  # the worked example, reordered


def test_challenge_metrics_do_not_depend_on_the_class_order() -> None:
    # the scored classes hold sinus rhythm second; the task keeps three of the four classes
    codes = ("1", "426783006", "2", "3")
    weights = np.array(
        [[1.0, 0.25, 0.5, 0.0], [0.25, 1.0, 0.5, 0.0], [0.5, 0.5, 1.0, 0.0], [0, 0, 0, 1.0]]
    )
    classes = ScoredClasses(codes, ("AF", "NSR", "PAC", "X"), {c: c for c in codes}, weights)
    rng = np.random.default_rng(3)
    task = ("426783006", "1", "2")  # sinus first in the task's reference order
    val_true = (rng.random((200, 3)) < [0.5, 0.3, 0.2]).astype(int)
    val = (val_true, np.clip(val_true * 0.3 + rng.random((200, 3)) * 0.7, 0, 1))
    test_true = (rng.random((80, 3)) < [0.5, 0.3, 0.2]).astype(int)
    test = (test_true, np.clip(test_true * 0.3 + rng.random((80, 3)) * 0.7, 0, 1))
    bootstrap = (bootstrap_indices(80, 50, 0), 0.9)
    reference, reference_ci = challenge_metrics(val, test, classes, task, bootstrap)
    for order in ([1, 0, 2], [1, 2, 0]):  # sinus in the middle, then last
        cols, reordered = order, tuple(task[i] for i in order)
        metrics, ci = challenge_metrics(
            (val[0][:, cols], val[1][:, cols]),
            (test[0][:, cols], test[1][:, cols]),
            classes,
            reordered,
            bootstrap,
        )
        assert metrics["challenge_score"] == pytest.approx(reference["challenge_score"])
        assert metrics["challenge_thresholds"] == pytest.approx(reference["challenge_thresholds"])
        assert ci["challenge_score"] == pytest.approx(reference_ci["challenge_score"])


def test_all_correct_is_one_and_sinus_only_is_zero_on_official_weights(tables: Path) -> None:
    for year in (2020, 2021):
        classes = scored(year)
        rng = np.random.default_rng(year)
        labels = (rng.random((200, len(classes.codes))) < 0.1).astype(int)
        labels[labels.sum(1) == 0, classes.sinus_index] = 1
        sinus_only = np.zeros_like(labels)
        sinus_only[:, classes.sinus_index] = 1
        assert challenge_score(labels, labels, classes.weights, classes.sinus_index) == 1.0
        assert challenge_score(labels, sinus_only, classes.weights, classes.sinus_index) == 0.0
        nothing = np.zeros_like(labels)
        assert challenge_score(labels, nothing, classes.weights, classes.sinus_index) < 0.0


def test_official_tables_give_24_and_26_classes_with_equivalences(tables: Path) -> None:
    c2020, c2021 = scored(2020), scored(2021)
    assert (len(c2020.codes), len(c2020.aliases)) == (24, 27)
    assert (len(c2021.codes), len(c2021.aliases)) == (26, 30)
    assert c2020.aliases["59118001"] == "713427006" and c2020.aliases["17338001"] == "427172004"
    assert c2021.aliases["164909002"] == "733534002" and "CLBBB|LBBB" in c2021.names
    assert "CRBBB|RBBB" in c2020.names and "59118001" not in c2020.codes
    for classes in (c2020, c2021):
        assert np.allclose(np.diag(classes.weights), 1.0)
        assert np.allclose(classes.weights, classes.weights.T)
    af, afl = c2021.codes.index("164889003"), c2021.codes.index("164890007")
    assert c2021.weights[af, afl] == 0.5  # AF vs. flutter: half credit


def test_bad_tables_and_inputs_are_refused(tmp_path: Path, tables: Path) -> None:
    bad = tmp_path / "w.csv"
    bad.write_text(",1,2\n1,1.0,0.5\n2,0.1,1.0\n")
    with pytest.raises(DataError, match="symmetric"):
        ScoredClasses.from_tables(tables / "cinc2020_dx_mapping_scored.csv", bad)
    with pytest.raises(DataError, match="cannot be read"):
        ScoredClasses.from_tables(tmp_path / "missing.csv", bad)
    with pytest.raises(MetricError, match="binary"):
        challenge_score(np.array([[0.5, 0, 0]]), np.array([[1, 0, 0]]), W3, 0)


def test_thresholds_come_from_validation_and_beat_f1_thresholds_there() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random((300, 3)) < [0.6, 0.3, 0.2]).astype(int)
    scores = np.clip(labels * 0.35 + rng.random((300, 3)) * 0.65, 0, 1)
    chosen = challenge_thresholds(labels, scores, W3, 0)
    f1_only = f1_thresholds(labels, scores)
    assert challenge_score(labels, scores >= chosen, W3, 0) >= challenge_score(
        labels, scores >= f1_only, W3, 0
    )
    test_labels = (rng.random((100, 3)) < 0.3).astype(int)
    test_labels[:, 0] = 1
    test = (test_labels, rng.random((100, 3)))
    metrics, ci = challenge_metrics(
        (labels, scores), test, _toy_scored(), ("426783006", "1", "2"),
        (bootstrap_indices(100, 200, 0), 0.9),
    )  # fmt: skip
    assert list(metrics["challenge_thresholds"].values()) == pytest.approx(chosen.tolist())
    low, high = ci["challenge_score"]
    assert low <= metrics["challenge_score"] <= high


def _toy_scored() -> ScoredClasses:
    codes = ("426783006", "1", "2")
    return ScoredClasses(codes, ("NSR", "AF", "PAC"), {c: c for c in codes}, W3)

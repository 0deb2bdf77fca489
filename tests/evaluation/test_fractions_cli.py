"""``bench fractions`` on the synthetic task, and fraction rows of a loaded task."""

from __future__ import annotations

import numpy as np
import pytest

from bench.cli import main
from bench.evaluation.fractions import fraction_report, task_fraction_rows
from bench.task import TASKS


@pytest.fixture(scope="module")
def synthetic():
    return TASKS.get("synthetic").load()


def test_prints_records_patients_and_positives_per_fraction(synthetic, capsys):
    assert main(["fractions", "--task", "synthetic", "--seed", "3", "--fractions", "0.1", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    train = synthetic.split_indices("train")
    assert lines[0].startswith(f"task synthetic: {len(train)} training records")
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    expected = fraction_report(
        synthetic.labels[train], synthetic.patient_ids[train], (0.1, 1.0), 3,
        synthetic.label_names,
    )  # fmt: skip
    assert rows["records"] == [str(n) for n in expected["records"]]
    assert rows["patients"] == [str(n) for n in expected["patients"]]
    for name in synthetic.label_names:
        assert rows[name] == [str(n) for n in expected[name]]
    assert rows["records"][1] == str(len(train))


@pytest.mark.parametrize("bad", ["0", "1.5", "nan"])
def test_bad_fraction_is_one_clear_error(bad, capsys):
    assert main(["fractions", "--task", "synthetic", "--fractions", "0.1", bad]) == 2
    assert f"--fractions = {float(bad)!r} is outside (0, 1]" in capsys.readouterr().err


def test_unknown_task_suggests_the_right_name(capsys):
    assert main(["fractions", "--task", "synthetc"]) == 2
    assert "Did you mean 'synthetic'" in capsys.readouterr().err


def test_task_fraction_rows_stay_in_the_training_folds(synthetic):
    rows = task_fraction_rows(synthetic, 0.05, seed=0)
    assert np.isin(synthetic.folds[rows], np.arange(1, 9)).all()
    train = synthetic.split_indices("train")
    assert len(rows) == pytest.approx(0.05 * len(train), abs=3)

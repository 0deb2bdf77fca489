"""The collapse guard: the verdict from a history, and its record with every pretraining."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bench.method import CollapseRule
from bench.training.checkpoint import read_checkpoint
from bench.training.collapse import collapse_summary
from bench.training.config import TrainConfig
from bench.training.loop import pretrain
from tests.doubles.toys import ToyMethod

HISTORY = {"epoch": [1, 1, 2, 2, 3, 3], "spread": [4.0, 2.0, 1.0, math.nan, 0.2, 0.4]}
CONFIG = TrainConfig(epochs=2, batch_size=8, lr=1e-2, warmup_epochs=1, seed=0, device="cpu")


def test_without_a_rule_nothing_is_flagged() -> None:
    assert collapse_summary(None, HISTORY) == {
        "metric": None, "ratio": None, "start": None, "end": None, "collapsed": False,
    }  # fmt: skip


@pytest.mark.parametrize(("ratio", "collapsed"), [(0.1, True), (0.075, False), (0.05, False)])
def test_the_last_epoch_is_compared_with_a_share_of_the_first(
    ratio: float, collapsed: bool
) -> None:
    summary = collapse_summary(CollapseRule("spread", ratio), HISTORY)
    assert summary["start"] == 4.0  # the first step: the untrained encoder
    assert summary["end"] == pytest.approx(0.3)  # the last epoch's mean; NaN steps skipped
    assert summary["collapsed"] is collapsed and summary["metric"] == "spread"


class FlaggedToy(ToyMethod):
    """The toy method with a collapse rule on its ``visible`` loss entry."""

    ratio = 0.0

    def collapse_rule(self) -> CollapseRule:
        return CollapseRule("visible", self.ratio)


@pytest.mark.parametrize("ratio", [0.0, 1e9])
def test_every_pretraining_records_the_verdict(tmp_path: Path, toys: Any, ratio: float) -> None:
    FlaggedToy.ratio = ratio
    method = FlaggedToy(toys.config(), toys.spec)
    result = pretrain(method, toys.signals(), CONFIG, tmp_path, progress=False)
    last = [row["visible"] for row in result.history if row["epoch"] == 2]
    expected = {
        "metric": "visible", "ratio": ratio, "collapsed": ratio > 0,
        "start": pytest.approx(result.history[0]["visible"]),
        "end": pytest.approx(sum(last) / len(last)),
    }  # fmt: skip
    assert result.collapse == expected
    assert read_checkpoint(result.checkpoint)["collapse"] == result.collapse
    again = pretrain(FlaggedToy(toys.config(), toys.spec), toys.signals(), CONFIG, tmp_path)
    assert again.steps_this_call == 0 and again.collapse == result.collapse
    plain = pretrain(toys.build(), toys.signals(), CONFIG, tmp_path / "plain", progress=False)
    assert plain.collapse["metric"] is None and not plain.collapse["collapsed"]

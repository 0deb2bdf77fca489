"""Collapse guard: every pretraining records its method's collapse diagnostic and a verdict.

A method may name a scalar of its loss dict that measures how much its representation differs
between records (``Method.collapse_rule``, e.g. ECG-JEPA's ``context_std``). At the end of a
pretraining the loop summarises that history column: ``start``, its value at the first step
(the loss of the first step is computed before any update, so this is the untrained encoder's
value), ``end``, its mean over the last epoch, and ``collapsed`` when ``end`` is below the
method's ratio times ``start`` (the representation ends less spread out than it started). The
summary travels with the pretraining result and its checkpoint, into every cell result that
uses the encoder and the leaderboard rows built from them. A method without a diagnostic is
recorded as such (``metric`` None, never flagged).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bench.method import CollapseRule


def collapse_summary(
    rule: CollapseRule | None, history: Mapping[str, Sequence[float]]
) -> dict[str, Any]:
    """Plain-data verdict of ``rule`` on a pretraining's column-wise ``history``.

    Keys: ``metric``, ``ratio``, ``start`` and ``end`` (None without finite values) and
    ``collapsed``.
    """
    if rule is None:
        return {"metric": None, "ratio": None, "start": None, "end": None, "collapsed": False}
    epochs = list(history.get("epoch", []))
    values = list(history.get(rule.metric, []))
    start = values[0] if values and math.isfinite(values[0]) else None
    last = [
        v for e, v in zip(epochs, values, strict=False) if e == max(epochs) and math.isfinite(v)
    ]
    end = sum(last) / len(last) if last else None
    return {
        "metric": rule.metric,
        "ratio": rule.ratio,
        "start": start,
        "end": end,
        "collapsed": start is not None and end is not None and end < rule.ratio * start,
    }

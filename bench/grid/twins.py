"""Matched baselines that are the shared baseline's network, run once under the shared name.

``random_init[hybrid]`` is hybrid's encoder freshly built; where hybrid uses the shared patch
transformer at the shared input, that is exactly ``random_init``: same preprocessing, window,
evaluation, head and, drawn under the same seed, the same weights. Its cells would repeat
``random_init``'s bit for bit, so a grid holding both plans only the shared one and records
on the SSL method's cells which rows serve as its matched baselines
(``Unit.matched_baselines``; the leaderboard's gain over its own random init reads it).
"""

from __future__ import annotations

import dataclasses
import logging

import torch

from bench.encoders.base import Encoder
from bench.grid.unit import Unit
from bench.grid.workspace import Workspace
from bench.method import METHODS
from bench.method_names import matched_name, split_matched
from bench.training.planning import input_spec_for
from bench.training.state import capture_rng, restore_rng, seed_everything

log = logging.getLogger(__name__)

PROBE_SEED = 0  # the seed both encoders are drawn under when compared


def same_network(workspace: Workspace, a: Unit, b: Unit) -> bool:
    """Whether baseline units ``a`` and ``b`` evaluate the same network on the same input:
    equal preprocessing, window, evaluation, head, seed rule and, under one seed, weights."""
    if a.needs_pretraining or b.needs_pretraining or a.dataset != b.dataset:
        return False
    if (a.setup.preprocessing, a.setup.window_s) != (b.setup.preprocessing, b.setup.window_s):
        return False
    if a.evaluation != b.evaluation or a.named_head != b.named_head or a.seed != b.seed:
        return False
    return _equal_encoders(_drawn(workspace, a), _drawn(workspace, b))


def shared_twins(
    workspace: Workspace, methods: list[str], dataset: str, seed: int | None
) -> set[str]:
    """The matched baselines in ``methods`` whose shared baseline is also in ``methods`` and is
    the same network on ``dataset``, compared at pretraining seed ``seed``: both are built by
    the same code under one seed, so the answer holds for every seed."""
    twins = set()
    for name in methods:
        baseline, backbone = split_matched(name)
        if backbone is None or baseline not in methods:
            continue
        matched = workspace.plan_unit(name, dataset, seed)
        if same_network(workspace, matched, workspace.plan_unit(baseline, dataset, seed)):
            log.info("%s is %s's network: its cells are %s's", name, baseline, baseline)
            twins.add(name)
    return twins


def with_matched_baselines(unit: Unit, twins: set[str]) -> Unit:
    """An SSL unit naming the rows that stand for its matched baselines where a twin was
    dropped (``random_init[hybrid]`` -> ``random_init``); other units unchanged."""
    if not unit.needs_pretraining:
        return unit
    names = {
        baseline: baseline
        for baseline in METHODS.names()
        if matched_name(baseline, unit.method) in twins
    }
    return dataclasses.replace(unit, matched_baselines=tuple(sorted(names.items())))


def _drawn(workspace: Workspace, unit: Unit) -> Encoder:
    """The unit's encoder as a cell builds it under ``PROBE_SEED``; global RNGs untouched."""
    state = capture_rng()
    try:
        seed_everything(unit.seed if unit.seed is not None else PROBE_SEED)
        spec = input_spec_for(workspace.unit_data(unit), unit.setup.window_s)
        return unit.setup.method(unit.setup.method_config, spec).encoder
    finally:
        restore_rng(state)


def _equal_encoders(a: Encoder, b: Encoder) -> bool:
    if type(a) is not type(b) or a.config != b.config or a.input_spec != b.input_spec:
        return False
    ours, theirs = a.state_dict(), b.state_dict()
    return ours.keys() == theirs.keys() and all(
        ours[name].shape == theirs[name].shape and torch.equal(ours[name], theirs[name])
        for name in ours
    )

"""``bench list methods``: every method's facts and the matched baselines it can be named as."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.commands.method_listing import method_rows
from bench.grid.method_groups import expand_methods, group_members
from bench.method import METHODS


def test_every_method_with_own_network_lists_both_matched_forms() -> None:
    names = {row.name for row in method_rows()}
    backbones = [m for m in METHODS.names() if METHODS.get(m).has_own_network()]
    assert backbones
    for backbone in backbones:
        assert {f"random_init[{backbone}]", f"supervised[{backbone}]"} <= names
    matched = {row.name for row in method_rows() if row.kind == "matched"}
    assert len(matched) == 2 * len(backbones)
    assert expand_methods(tuple(sorted(matched))) == sorted(matched)  # each one a valid name


def test_rows_agree_with_the_registry_and_the_groups() -> None:
    for row in method_rows():
        baseline = row.name.split("[")[0]
        method = METHODS.get(baseline)
        assert row.protocols == method.protocols
        assert (row.pretrains == "yes") == (method.needs_pretraining and row.kind != "matched")
        if method.task_kinds is not None:
            assert row.task_kinds == method.task_kinds
        for group in ("all", "checkpoints"):
            assert (group in row.groups) == (row.name in group_members(group))
    published = {row.name for row in method_rows() if row.pretrains == "published"}
    assert published == {m for m in METHODS.names() if METHODS.get(m).pretrained}


def test_printed_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "methods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "kind", "pretrains"]
    fields = {line.split()[0]: line.split()[1:6] for line in lines[1:]}
    assert fields["random_init[cpc]"] == ["matched", "no", "linear,attentive,knn", "all", "all"]
    assert fields["supervised_unet1d"][3] == "segmentation"
    assert fields["cpc"][:2] == ["SSL", "yes"]

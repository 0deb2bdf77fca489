"""The plugin registry: lookups, 'did you mean' hints, duplicate names, task groups."""

from __future__ import annotations

import pytest

from bench.errors import UnknownNameError
from bench.method import METHODS
from bench.registry import Registry
from bench.task import TASKS, expand_tasks


def test_unknown_names_get_a_hint_and_the_known_names() -> None:
    registry: Registry[int] = Registry("widget")
    registry.add("jepa", 1)
    registry.add("cpc", 2)
    assert registry.get("cpc") == 2 and registry.names() == ["cpc", "jepa"]
    with pytest.raises(UnknownNameError, match=r"unknown widget 'jeppa'\. Did you mean 'jepa'\?"):
        registry.get("jeppa")
    with pytest.raises(UnknownNameError, match="Known: cpc, jepa"):
        registry.get("zzz")


def test_a_name_cannot_be_registered_twice_for_different_plugins() -> None:
    registry: Registry[object] = Registry("widget")
    plugin = object()
    registry.add("a", plugin)
    registry.add("a", plugin)  # the same object again (a module imported twice) is fine
    with pytest.raises(ValueError, match="registered twice"):
        registry.add("a", object())


def test_builtin_plugins_are_discovered() -> None:
    assert {"jepa", "hybrid", "cpc", "stmask", "random_init", "supervised"} <= set(METHODS.names())
    assert {"synthetic", "ptbxl-superdiagnostic"} <= set(TASKS.names())


def test_task_groups_expand_in_order_without_repeats() -> None:
    ptbxl = expand_tasks(["ptbxl"])
    assert len(ptbxl) == 6 and all(name.startswith("ptbxl-") for name in ptbxl)
    assert expand_tasks(["synthetic", "ptbxl", "ptbxl-rhythm"]) == ["synthetic", *ptbxl]
    with pytest.raises(UnknownNameError, match="Did you mean 'synthetic'"):
        expand_tasks(["synthetik"])

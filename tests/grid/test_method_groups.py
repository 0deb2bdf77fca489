"""``--methods`` groups: 'all' keeps the brief's methods and baselines, 'comparators' the rest."""

from __future__ import annotations

from typing import ClassVar

import pytest

from bench import cli
from bench.errors import ConfigError
from bench.grid.method_groups import expand_methods
from bench.method import METHODS, method_group
from methods.cpc import CPC

COMPARATORS = ("3kg", "byol", "clocs", "simclr")


def test_all_leaves_the_comparators_out_and_comparators_lists_them_with_their_baselines() -> None:
    everything = expand_methods(("all",))
    assert {"cpc", "hybrid", "jepa", "stmask", "random_init", "supervised"} <= set(everything)
    assert not any(name in everything or f"random_init[{name}]" in everything
                   for name in COMPARATORS)  # fmt: skip
    comparators = expand_methods(("comparators",))
    assert comparators[:4] == list(COMPARATORS)
    for name in COMPARATORS:
        assert f"random_init[{name}]" in comparators and f"supervised[{name}]" in comparators
    assert "cpc" not in comparators and "random_init" not in comparators
    both = expand_methods(("all", "comparators"))
    assert both == everything + comparators


def test_a_plugin_declaring_an_unknown_group_is_refused() -> None:
    class Misfiled(CPC):
        group: ClassVar[str] = "extras"

    with pytest.raises(ConfigError, match=r"declares group 'extras'; use 'all' or 'comparators'"):
        method_group(Misfiled)


def test_bench_list_methods_shows_each_group(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list", "methods"]) == 0
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    for name in COMPARATORS:
        assert "comparators" in lines[name]
    assert "all" in lines["cpc"] and "all" in lines["random_init"]
    assert "comparators" not in lines["cpc"]
    assert set(METHODS.names()) <= set(lines)

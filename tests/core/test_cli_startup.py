"""``bench --help`` and the light commands import only what their own work needs: each of
torch, timm, MLflow, scikit-learn, ... costs seconds of start-up on a small machine.

Each command runs in a fresh interpreter (``tests.doubles.fresh_process``), since this test
process has imported everything already.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doubles.fresh_process import HEAVY, cli, run_fresh

UNNEEDED: dict[tuple[str, ...], frozenset[str]] = {
    ("--help",): HEAVY,
    ("perf", "--help"): HEAVY,
    ("list", "methods"): HEAVY - {"torch", "timm", "pandas", "scipy"},
    ("list", "encoders"): HEAVY - {"torch", "timm"},
    ("list", "tasks"): HEAVY - {"pandas", "scipy"},
    ("list", "corpora"): HEAVY - {"pandas", "scipy"},
    ("check",): HEAVY - {"pandas"},  # an empty results folder: nothing to load
}
"""Per command line: the HEAVY packages it must not import (methods are torch modules and the
published checkpoints resample their input with scipy, records come in pandas-indexed signal
sets, the synthetic task's generator uses scipy)."""


def test_building_the_parser_imports_no_heavy_package(tmp_path: Path) -> None:
    run = run_fresh("import bench.cli\nbench.cli.build_parser()\n", tmp_path)
    assert run.returncode == 0, run.output
    assert run.heavy == set()


@pytest.mark.parametrize("argv", list(UNNEEDED), ids=" ".join)
def test_a_light_command_imports_only_what_it_uses(argv: tuple[str, ...], tmp_path: Path) -> None:
    run = run_fresh(cli(argv), tmp_path)
    assert run.returncode == 0, run.output
    assert run.heavy & UNNEEDED[argv] == set()

"""``bench data info`` describes a prepared cache from the cache alone: no torch, no MLflow,
no scikit-learn and no wfdb (the records were read when the cache was built)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.cli import main
from tests.doubles.fresh_process import HEAVY, cli, run_fresh


def test_data_info_imports_only_what_it_uses(
    fake_ptbxl: Callable[..., Any], tmp_path: Path, capsys: Any
) -> None:
    cache = str(tmp_path / "cache")
    assert (
        main(["data", "prepare", "ptbxl", "--root", str(fake_ptbxl().root), "--cache", cache]) == 0
    )
    capsys.readouterr()
    run = run_fresh(cli(["data", "info", "ptbxl", "--cache", cache]), tmp_path)
    assert run.returncode == 0, run.output
    assert "6 records at 100 Hz" in run.output
    assert run.heavy & (HEAVY - {"pandas", "scipy"}) == set()

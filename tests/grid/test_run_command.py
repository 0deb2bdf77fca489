"""``bench run`` from the command line: dry run, reports of one grid, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.cli import main
from tests.doubles.grid import bench_run


def test_dry_run_lists_every_cell_and_runs_nothing(
    toys: Any, small_synthetic: str, capsys: pytest.CaptureFixture[str], isolated_results: Path
) -> None:
    assert main(bench_run("--dry-run")) == 0
    out = capsys.readouterr().out
    assert out.count("pending ") == 4
    assert "4 cells: 0 done, 0 failed, 4 pending" in out
    assert not (isolated_results / "runs").exists()


def test_a_run_writes_results_leaderboard_figures_and_its_manifest(
    toys: Any, small_synthetic: str, capsys: pytest.CaptureFixture[str], isolated_results: Path
) -> None:
    assert main(bench_run("--no-tracking")) == 0
    out = capsys.readouterr().out
    assert "4 cells run, 0 skipped" in out
    manifest = json.loads((isolated_results / "grids" / "latest.json").read_text())
    assert len(manifest["eval_keys"]) == 4
    board = (isolated_results / "leaderboards" / "leaderboard.md").read_text()
    assert "toy_masked" in board and "random_init" in board
    assert list((isolated_results / "figures").glob("*.png"))
    assert main(bench_run("--no-tracking", "--dry-run")) == 0
    assert "4 cells: 4 done, 0 failed, 0 pending" in capsys.readouterr().out


def test_refused_under_torchrun(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    for name, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    assert main(["run", "--dry-run"]) == 2
    assert "bench pretrain --nproc N" in capsys.readouterr().err


def test_bad_data_root_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--dry-run", "--data-root", "ptbxll=/x"]) == 2
    assert "'ptbxll' is not a dataset" in capsys.readouterr().err

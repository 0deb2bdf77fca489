"""Noise robustness on data not in mV is refused when the grid is planned, before any cell."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.grid.plan import RunConfig, load_run_config
from bench.grid.runner import plan_grid, workspace_for


def config(root: Path, levels: list[int]) -> RunConfig:
    return load_run_config(
        None,
        {
            "methods": ["random_init"],
            "tasks": ["ptbxl-superdiagnostic"],
            "fractions": [1.0],
            "seeds": 1,
            "protocols": ["linear"],
            "data_roots": {"ptbxl": str(root)},
            "profile_overrides": {"evaluation": {"noise": {"levels": levels}}},
        },
    )


def test_the_z_scored_ptbxl_subset_is_refused_at_planning(ptbxl_root: Path) -> None:
    cfg = config(ptbxl_root, [1, 6])
    with pytest.raises(ConfigError, match=r"ptbxl: .*z-scored.*evaluation\.noise\.levels"):
        plan_grid(cfg, workspace_for(cfg, progress=False))
    clean = config(ptbxl_root, [])
    assert len(plan_grid(clean, workspace_for(clean, progress=False))) == 1

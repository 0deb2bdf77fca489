"""Where a grid's cells run: on this machine ("local": in-process or over worker processes) or
as Ray tasks ("ray")."""

from __future__ import annotations

from bench.errors import ConfigError
from bench.grid.plan import Cell, RunConfig
from bench.grid.runner import CellCallback, GridSummary, run_grid
from bench.grid.workspace import Workspace

LAUNCHERS = ("local", "ray")


def check_launcher(launcher: str, address: str | None) -> None:
    """Fail early on a bad choice: an unknown launcher, an address without Ray, Ray missing."""
    if launcher not in LAUNCHERS:
        raise ConfigError(f"unknown launcher {launcher!r}; use {' or '.join(LAUNCHERS)}")
    if address and launcher != "ray":
        raise ConfigError("--address names a Ray cluster: use it with --launcher ray")
    if launcher == "ray":
        from bench.grid.launchers.ray_launcher import import_ray

        import_ray()


def launch_grid(
    launcher: str,
    cells: list[Cell],
    config: RunConfig,
    workspace: Workspace,
    overwrite: bool = False,
    on_result: CellCallback | None = None,
    address: str | None = None,
    jobs: int | None = None,
) -> GridSummary:
    """Run the planned ``cells`` with ``launcher``; every way gives the same result files.

    Locally, ``jobs`` worker processes (None: ``default_jobs()``) share the cells; with one,
    everything runs in this process.
    """
    check_launcher(launcher, address)
    if launcher == "local":
        from bench.grid.launchers.local_pool import default_jobs, run_grid_in_pool

        jobs = jobs or default_jobs()
        if jobs == 1:
            return run_grid(cells, workspace, overwrite=overwrite, on_result=on_result)
        return run_grid_in_pool(cells, config, workspace, jobs, overwrite, on_result)
    from bench.grid.launchers.ray_launcher import run_grid_on_ray

    return run_grid_on_ray(cells, config, workspace, overwrite, on_result, address)

"""Corrupt files are found, named, moved aside and redone; a full disk leaves nothing partial."""

from __future__ import annotations

import errno
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench import atomic, cli
from bench.data.storage.cache import building, read_manifest
from bench.errors import DiskFullError
from bench.grid.plan import RunConfig, load_run_config
from bench.grid.result_state import result_state
from bench.grid.results import load_results
from bench.grid.runner import GridSummary, cell_status, plan_grid, run_grid, workspace_for
from tests.doubles.grid import FAST

PREMOVE = Path(__file__).with_name("fixtures") / "premove_grid"


def config(seeds: int = 1) -> RunConfig:
    values = {
        "methods": ["toy_masked"],
        "tasks": ["synthetic-small"],
        "fractions": [0.5],
        "seeds": seeds,
        "protocols": ["linear"],
        "profile_overrides": FAST,
    }
    return load_run_config(None, values)


def run(cfg: RunConfig) -> GridSummary:
    workspace = workspace_for(cfg, progress=False)
    return run_grid(plan_grid(cfg, workspace), workspace)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def aside(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".corrupt-" in p.name)


def test_truncated_record_and_predictions_are_moved_aside_and_redone(
    toys: Any, small_synthetic: str, isolated_results: Path
) -> None:
    assert run(config(seeds=2)).ran == 2
    cells = plan_grid(config(seeds=2), workspace_for(config(seeds=2), progress=False))
    runs = isolated_results / "runs"
    truncate(runs / f"{cells[0].eval_key}.json")
    truncate(runs / f"{cells[1].eval_key}.npz")
    assert [cell_status(c) for c in cells] == ["corrupt", "corrupt"]
    assert "truncated" in result_state(isolated_results, cells[1].eval_key)[1]

    again = run(config(seeds=2))
    assert (again.ran, again.skipped, again.failed) == (2, 0, [])
    assert len(aside(runs)) == 4  # both files of both cells, kept
    assert len(load_results(isolated_results, status="ok")) == 2


def test_records_written_before_checksums_are_read_as_valid(isolated_results: Path) -> None:
    shutil.copytree(PREMOVE / "runs", isolated_results / "runs")
    keys = [p.stem for p in (isolated_results / "runs").glob("*.json")]
    assert len(keys) == 6
    assert all(
        "integrity" not in json.loads((isolated_results / "runs" / f"{k}.json").read_text())
        for k in keys
    )
    assert {result_state(isolated_results, key)[0] for key in keys} == {"ok"}


def test_truncated_checkpoint_and_embeddings_are_moved_aside_and_redone(
    toys: Any, small_synthetic: str, isolated_results: Path
) -> None:
    run(config(seeds=1))
    (checkpoint,) = isolated_results.glob("pretrain/*/checkpoint.pt")
    (embeddings,) = (isolated_results / "cache" / "embeddings").glob("*.npz")
    truncate(checkpoint)
    truncate(embeddings)
    assert run(config(seeds=2)).ran == 1  # the new cell needs the encoder and its embeddings
    assert len(aside(checkpoint.parent)) == 2  # the checkpoint and its sidecar
    assert len(aside(embeddings.parent)) == 2
    assert atomic.verify_checked(checkpoint) and atomic.verify_checked(embeddings)


def test_half_written_dataset_cache_is_moved_aside(tmp_path: Path) -> None:
    final = tmp_path / "cache" / "ds" / "100hz-abc"
    with building(final) as temp:
        (temp / "signals.npy").write_bytes(b"\0" * 4096)
        (temp / "manifest.json").write_text("{}")
    assert read_manifest(final) == {}
    truncate(final / "signals.npy")
    assert read_manifest(final) is None and not final.exists()
    (moved,) = final.parent.iterdir()
    assert moved.name.startswith(".corrupt-") and (moved / "signals.npy").is_file()


WRITES: dict[str, Callable[[Path], bool]] = {
    "predictions": lambda p: p.parent.name == "runs" and ".npz." in p.name,
    "record": lambda p: p.parent.name == "runs" and ".json." in p.name,
    "checkpoint": lambda p: p.name.startswith(".checkpoint.pt.") and "sha256" not in p.name,
    "embeddings": lambda p: p.parent.name == "embeddings" and "sha256" not in p.name,
}


class _FullDisk:
    """A file that takes half of each write, then reports the disk full."""

    def __init__(self, handle: Any):
        self.handle = handle

    def write(self, data: bytes) -> int:
        self.handle.write(bytes(data)[: max(1, len(data) // 2)])
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


@pytest.mark.parametrize("target", sorted(WRITES))
def test_a_full_disk_part_way_through_any_file_of_a_cell_leaves_nothing_partial(
    toys: Any, small_synthetic: str, isolated_results: Path, monkeypatch: pytest.MonkeyPatch,
    target: str,
) -> None:  # fmt: skip
    real_open = open

    def opening(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(path, mode, *args, **kwargs)
        return _FullDisk(handle) if "x" in mode and WRITES[target](Path(path)) else handle

    monkeypatch.setattr(atomic, "open", opening, raising=False)
    with pytest.raises(DiskFullError, match="no space left on the device of") as error:
        run(config())
    folder = Path(str(error.value).split("device of ")[1].split(" while")[0])
    assert folder.is_dir()
    leftovers = [p for p in isolated_results.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert list(isolated_results.glob("runs/*.json")) == []  # the cell is not taken as done
    monkeypatch.delattr(atomic, "open")  # the disk has room again
    assert run(config()).ran == 1


def test_bench_check_reports_and_repairs(
    toys: Any, small_synthetic: str, isolated_results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(config(seeds=2))
    runs = isolated_results / "runs"
    records = sorted(runs.glob("*.json"))
    truncate(records[0])
    records[1].unlink()  # its predictions are now orphaned
    (checkpoint,) = isolated_results.glob("pretrain/*/checkpoint.pt")
    truncate(checkpoint)
    leases = isolated_results / "leases"
    leases.mkdir(exist_ok=True)
    (leases / "cell-gone.lease").write_text('{"holder": "h:1:x", "host": "h", "pid": 1}')
    old = 0
    __import__("os").utime(leases / "cell-gone.lease", (old, old))

    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out
    assert f"corrupt     result        {records[0]}" in out
    assert "orphaned    predictions" in out and "corrupt     checkpoint" in out
    assert "stale       lease" in out and "1 orphaned, 1 stale" in out
    assert cli.main(["check", "--repair"]) == 0
    assert "moved aside" in capsys.readouterr().out
    assert cli.main(["check"]) == 0
    assert "0 corrupt, 0 orphaned, 0 stale" in capsys.readouterr().out

"""The shared loop under DDP: 2 CPU processes (gloo) started by torchrun, against 1 process.

One torchrun launch (tests/training/ddp_worker.py) runs every 2-process scenario; the tests
compare its outputs with single-process runs made here.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.errors import ConfigError
from bench.training.checkpoint import read_checkpoint
from bench.training.distributed import (
    Processes,
    local_batch_size,
    rank_seed,
    relaunch_under_torchrun,
    torchrun_command,
)
from bench.training.loop import pretrain

pytestmark = pytest.mark.numeric

WORKER = Path(__file__).with_name("ddp_worker.py")
TIMEOUT_S = 300
MASKED_TOLERANCE = 0.15
"""Largest relative gap between the per-epoch mean losses of 1 and 2 processes for the toy with
random masks and dropout: the 2 processes draw their masks from two streams, so the curves
agree only statistically (measured gaps per epoch: 2.5, 2.1, 3.5 and 5.7 %)."""


def load_worker() -> Any:
    spec = importlib.util.spec_from_file_location("ddp_worker_module", WORKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


worker = load_worker()


def run_to_end(command: list[str], env: dict[str, str] | None = None) -> str:
    """Run ``command`` in a session of its own; its stdout. On a hang every process it started
    is killed (torchrun leaves its workers behind when it is killed alone)."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{' '.join(command)} did not end within {TIMEOUT_S} s")
    assert process.returncode == 0, stdout[-3000:] + stderr[-3000:]
    return stdout


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of the outputs of every 2-process scenario (one torchrun launch)."""
    out = tmp_path_factory.mktemp("ddp")
    run_to_end([sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node=2", str(WORKER), str(out)])  # fmt: skip
    return out


def ranks(out: Path, name: str) -> list[dict[str, Any]]:
    return [torch.load(out / f"{name}-rank{rank}.pt", weights_only=True) for rank in (0, 1)]


def losses(history: list[dict[str, float]]) -> np.ndarray:
    return np.array([row["loss"] for row in history])


def assert_close_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], atol: float):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=atol, msg=key)


def test_deterministic_method_matches_one_process_with_the_whole_batch(
    two_processes: Path, tmp_path: Path
) -> None:
    rank0, rank1 = ranks(two_processes, "deterministic")
    single = worker.build(worker.SmoothAutoencoder)
    signals, config = worker.toys.toy_signals(), worker.DETERMINISTIC
    result = pretrain(single, signals, config, tmp_path, progress=False)
    assert rank0["steps"] == rank1["steps"] == result.steps == 12
    np.testing.assert_allclose(losses(rank0["history"]), losses(result.history), rtol=1e-5)
    first_lead = [[row["first_lead"] for row in h] for h in (rank0["history"], result.history)]
    np.testing.assert_allclose(*first_lead, rtol=1e-5)  # other scalars are averaged too
    assert_close_weights(rank0["weights"], single.state_dict(), atol=1e-5)
    assert_close_weights(rank0["weights"], rank1["weights"], atol=0)  # EMA buffer included


def test_masked_method_follows_the_one_process_curve_within_tolerance(
    two_processes: Path, tmp_path: Path
) -> None:
    rank0, rank1 = ranks(two_processes, "masked")
    single = worker.build(worker.toys.ToyMethod)
    result = pretrain(single, worker.toys.toy_signals(), worker.MASKED, tmp_path, progress=False)
    two, one = losses(rank0["history"]), losses(result.history)
    assert len(two) == len(one) == 24 and not np.array_equal(two, one)  # other mask streams
    per_epoch = two.reshape(4, 6).mean(1), one.reshape(4, 6).mean(1)
    np.testing.assert_allclose(*per_epoch, rtol=MASKED_TOLERANCE)
    assert per_epoch[0][-1] < 0.5 * per_epoch[0][0]  # and it learns
    assert_close_weights(rank0["weights"], rank1["weights"], atol=0)


def test_two_process_resume_reproduces_the_uninterrupted_run(two_processes: Path) -> None:
    uninterrupted, resumed = ranks(two_processes, "masked"), ranks(two_processes, "resumed")
    for rank in (0, 1):
        assert resumed[rank]["history"] == uninterrupted[rank]["history"]
        assert_close_weights(resumed[rank]["weights"], uninterrupted[rank]["weights"], atol=0)
    state = read_checkpoint(two_processes / "split" / "checkpoint.pt")
    assert state["world_size"] == 2 and len(state["rng_other_ranks"]) == 1
    assert not torch.equal(state["rng"]["torch"], state["rng_other_ranks"][0]["torch"])


def test_a_failure_leaves_the_group_and_resumes_from_the_periodic_checkpoint(
    two_processes: Path,
) -> None:
    for rank in (0, 1):
        failure = json.loads((two_processes / f"failure-rank{rank}.json").read_text())
        assert failure == {"error": "injected failure", "group_left": True, "checkpoint_step": 5}
    uninterrupted, resumed = ranks(two_processes, "masked"), ranks(two_processes, "after-failure")
    assert resumed[0]["history"] == uninterrupted[0]["history"]
    assert_close_weights(resumed[0]["weights"], uninterrupted[0]["weights"], atol=0)


def test_resume_on_another_process_count_continues_the_same_schedule(
    two_processes: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    split = tmp_path / "det-split"
    (tmp_path / "one").mkdir()
    for name in ("checkpoint.pt", "history.csv"):
        split.mkdir(exist_ok=True)
        (split / name).write_bytes((two_processes / "det-split" / name).read_bytes())
    assert read_checkpoint(split / "checkpoint.pt")["step"] == worker.STOP_DETERMINISTIC
    signals, config = worker.toys.toy_signals(), worker.DETERMINISTIC
    straight = worker.build(worker.SmoothAutoencoder)
    expected = pretrain(straight, signals, config, tmp_path / "one", progress=False)
    resumed = worker.build(worker.SmoothAutoencoder, seed=9)
    with caplog.at_level(logging.WARNING, logger="bench.training.loop"):
        result = pretrain(resumed, signals, config, split, progress=False)
    assert "saved by 2 process(es) and resumes on 1" in caplog.text
    assert result.finished and result.steps_this_call == 12 - worker.STOP_DETERMINISTIC
    np.testing.assert_allclose(losses(result.history), losses(expected.history), rtol=1e-5)
    assert_close_weights(resumed.state_dict(), straight.state_dict(), atol=1e-5)


def test_only_rank_zero_writes_files(two_processes: Path) -> None:
    written = [json.loads((two_processes / f"writes-rank{r}.json").read_text()) for r in (0, 1)]
    assert written[1] == []
    runs = ("det", "det-split", "masked", "split", "failed", "partly-used")
    assert {Path(path).parent.name for path in written[0]} == set(runs)
    for run in runs:
        assert sorted(p.name for p in (two_processes / run).iterdir()) == [
            "checkpoint.pt",
            "checkpoint.pt.sha256.json",
            "history.csv",
        ]


def test_unused_parameters_train_with_find_unused_parameters(two_processes: Path) -> None:
    rank0, rank1 = ranks(two_processes, "partly-used")
    assert rank0["steps"] == 3
    assert_close_weights(rank0["weights"], rank1["weights"], atol=0)


def test_gather_with_grad_concatenates_ranks_and_returns_gradients(two_processes: Path) -> None:
    gathered = [json.loads((two_processes / f"gather-rank{r}.json").read_text()) for r in (0, 1)]
    assert gathered[0]["gathered"] == gathered[1]["gathered"] == [1.0, 1.0, 2.0, 2.0]
    # each of the 2 processes differentiates the same loss, so a slice gets 2x its gradient;
    # DDP's average over the 2 processes brings parameter gradients back to 1x
    assert gathered[0]["grad"] == [2.0, 4.0] and gathered[1]["grad"] == [6.0, 8.0]


def test_rank_seeds_keep_rank_zero_and_differ_elsewhere() -> None:
    assert rank_seed(7, 0) == 7
    seeds = {rank_seed(7, rank, step) for rank in range(4) for step in (0, 10)}
    assert len(seeds) == 8


def test_global_batch_must_divide_among_processes() -> None:
    assert local_batch_size(16, Processes(1, 4, 1, distributed=True)) == 4
    with pytest.raises(ConfigError, match=r"batch_size = 10 is the global batch .* 4 processes"):
        local_batch_size(10, Processes(1, 4, 1, distributed=True))


def test_nproc_relaunch_command_and_misuse(monkeypatch: pytest.MonkeyPatch) -> None:
    command = torchrun_command(3, ["pretrain", "--method", "m"])
    assert command[:4] == [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    assert command[4:] == ["--nproc-per-node=3", "-m", "bench", "pretrain", "--method", "m"]
    with pytest.raises(ConfigError, match="--nproc = 0"):
        relaunch_under_torchrun(0, [])
    for name, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="inside torchrun"):
        relaunch_under_torchrun(2, [])


PLUGIN = """
import importlib.util
import sys
from bench.method import METHODS

spec = importlib.util.spec_from_file_location("engine_toys_plugin", {toys!r})
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
METHODS.add("toy_masked", module.ToyMethod)
"""


@pytest.mark.slow
def test_bench_pretrain_nproc_trains_on_two_processes(tmp_path: Path) -> None:
    """``bench pretrain --nproc 2`` relaunches itself; toy_masked comes from an entry point."""
    (tmp_path / "toy_plugin.py").write_text(
        PLUGIN.format(toys=str(WORKER.parents[1] / "doubles" / "toys.py"))
    )
    info = tmp_path / "toy_plugin-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[bench.methods]\ntoy_masked = toy_plugin\n")
    profile = tmp_path / "profile.yaml"
    profile.write_text(
        "preprocessing: {rate: 50}\nwindow_s: 2.0\n"
        "train: {epochs: 1, max_steps: 4, batch_size: 32, warmup_epochs: 0, device: cpu}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "BENCH_RESULTS": str(tmp_path / "r")}
    command = [sys.executable, "-m", "bench", "pretrain", "--method", "toy_masked", "--data",
               "synthetic", "--profile", str(profile), "--no-progress", "--nproc", "2"]  # fmt: skip
    stdout = run_to_end(command, env)
    assert stdout.count("steps: 4/4") == 1 and "2 processes" in stdout  # process 0 alone prints
    (checkpoint,) = (tmp_path / "r" / "pretrain").glob("toy_masked-*/checkpoint.pt")
    state = read_checkpoint(checkpoint)
    assert state["world_size"] == 2 and state["finished"]

"""Test doubles for the engine: a tiny masked-reconstruction method with dropout, registered
for the duration of a test, and a small fixed dataset; for tracking, hand-made result files and
pretraining folders, and a real ``mlflow server``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import requests
import torch
from torch import Tensor, nn

from bench.checkpoint import save_checkpoint
from bench.config import check_range
from bench.encoders.base import Encoder, InputSpec
from bench.method import METHODS, Method
from bench.results import CellResult, Predictions, collect_provenance, write_result
from bench.train_state import seed_everything


@dataclass(frozen=True)
class ToyConfig:
    """Width, dropout and the share of time steps hidden from the encoder."""

    hidden: int = 16
    dropout: float = 0.1
    mask_ratio: float = 0.5

    def __post_init__(self) -> None:
        check_range("toy.mask_ratio", self.mask_ratio, 0.0, 0.95)


class ToyEncoder(Encoder):
    """Conv1d + LayerNorm + dropout; ``embed`` is the time-mean of the features."""

    config_class = ToyConfig

    def __init__(self, config: ToyConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.conv = nn.Conv1d(input_spec.n_leads, config.hidden, kernel_size=5, padding=2)
        self.norm = nn.LayerNorm(config.hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.embed_dim = config.hidden

    def features(self, x: Tensor) -> Tensor:
        """[B, leads, T] -> [B, hidden, T]."""
        h = self.norm(self.conv(x).transpose(1, 2)).transpose(1, 2)
        return self.dropout(torch.relu(h))

    def embed(self, x: Tensor) -> Tensor:
        return self.features(x).mean(-1)


class ToyMethod(Method):
    """Masked reconstruction with random time masks (exercises the global RNG) and an EMA
    copy of the encoder updated in ``on_step_end`` (a buffer, so it is checkpointed)."""

    name: ClassVar[str] = "toy_masked"
    config_class: ClassVar[type[ToyConfig]] = ToyConfig

    def __init__(self, config: ToyConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.encoder = ToyEncoder(config, input_spec)
        self.decoder = nn.Conv1d(config.hidden, input_spec.n_leads, kernel_size=1)
        self.register_buffer("ema_conv", self.encoder.conv.weight.detach().clone())
        self.steps_seen: list[tuple[int, int]] = []

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        keep = (
            torch.rand(batch.shape[0], 1, batch.shape[-1], device=batch.device)
            >= (self.config.mask_ratio)
        ).to(batch.dtype)
        reconstruction = self.decoder(self.encoder.features(batch * keep))
        error = (reconstruction.float() - batch) ** 2
        masked = (error * (1 - keep)).sum() / ((1 - keep).sum() * batch.shape[1]).clamp(min=1)
        return {"loss": masked, "visible": (error * keep).mean().detach()}

    def on_step_end(self, step: int, total_steps: int) -> None:
        self.steps_seen.append((step, total_steps))
        self.ema_conv.mul_(0.9).add_(self.encoder.conv.weight, alpha=0.1)


def toy_signals(
    n_records: int = 48, n_leads: int = 3, length: int = 64, seed: int = 0
) -> np.ndarray:
    """Smooth multi-lead sine mixtures with a little noise, float32 [N, leads, T]."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 16
    phase = rng.uniform(0, 2 * np.pi, (n_records, n_leads, 1))
    freq = rng.uniform(0.5, 2.0, (n_records, 1, 1))
    signals = np.sin(2 * np.pi * freq * t + phase) + 0.05 * rng.standard_normal(
        (n_records, n_leads, length)
    )
    return signals.astype(np.float32)


TOY_SPEC = InputSpec(n_leads=3, n_samples=32, sampling_rate=16)


@dataclass(frozen=True)
class Toys:
    """The engine's test doubles, handed to tests by the ``toys`` fixture."""

    method: type[ToyMethod]
    config: type[ToyConfig]
    spec: InputSpec
    signals: Callable[..., np.ndarray]

    def build(self, seed: int = 0, **config: float) -> ToyMethod:
        """A ToyMethod initialised under ``seed``."""
        seed_everything(seed)
        return self.method(self.config(**config), self.spec)


@pytest.fixture
def toys(monkeypatch: pytest.MonkeyPatch) -> Toys:
    """The test doubles, with ToyMethod registered in METHODS for this test only."""
    METHODS.names()  # discover the real plugins first, so ours is not overwritten
    monkeypatch.setitem(METHODS._items, ToyMethod.name, ToyMethod)
    return Toys(ToyMethod, ToyConfig, TOY_SPEC, toy_signals)


@dataclass(frozen=True)
class MlflowServer:
    """A running ``mlflow server``: its tracking URI and where it keeps runs and artifacts."""

    uri: str
    backend_uri: str
    artifacts: Path
    log: Path


SERVER_START_TIMEOUT_S = 120.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (the CLI and its uvicorn worker), SIGKILL if stuck."""
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real ``mlflow server`` on 127.0.0.1 (free port, SQLite backend and proxied artifacts
    in a tmp folder), shared by the session and always stopped at its end. Tests sharing it
    keep apart by experiment (e.g. ``Tracker(experiment_prefix=<unique>)``)."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    server = MlflowServer(
        uri=f"http://127.0.0.1:{port}",
        backend_uri=f"sqlite:///{root / 'mlflow.db'}",
        artifacts=root / "artifacts",
        log=root / "server.log",
    )
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--backend-store-uri", server.backend_uri,
        "--artifacts-destination", str(server.artifacts),
    ]  # fmt: skip
    quiet = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    env = {**os.environ, **quiet}
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _healthy(server.uri):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = server.log.read_text(errors="replace")[-2000:]
                pytest.fail(f"mlflow server did not come up on {server.uri}:\n{tail}")
            time.sleep(0.25)
        yield server
    finally:
        _stop(process)


def _healthy(uri: str) -> bool:
    try:
        return requests.get(f"{uri}/health", timeout=2).ok
    except requests.RequestException:
        return False


TRACKED_LABELS = ("NORM", "MI", "1st degree AV block")


@dataclass(frozen=True)
class TrackingFiles:
    """Hand-made inputs of tracking tests: result files and a pretraining run folder."""

    results: Path

    def cell(self, eval_key: str, *, status: str = "ok", **fields: Any) -> CellResult:
        """Write one cell's result file (predictions too when 'ok'); returns the CellResult."""
        values: dict[str, Any] = {
            "eval_key": eval_key, "pretrain_key": "a1b2c3d4e5f6", "method": "toy_masked",
            "task": "superdiagnostic", "task_group": "ptbxl", "protocol": "linear",
            "fraction": 0.1, "seed": 0, "profile": "smoke", "label_names": TRACKED_LABELS,
            "n_train": 40, "n_val": 10, "n_test": 6, "realised_fraction": 0.098,
            "config": {
                "method": {"hidden": 16, "mask_ratio": 0.5}, "train": {"lr": 0.001},
                "preprocessing": {"rate": 100, "leads": "12"},
                "evaluation": {"linear": {"c_grid": [0.01, 0.1, 1.0]}, "note": "x" * 7000},
            },
            "provenance": collect_provenance("fingerprint-1"),
            "timings": {"embed_s": 1.5, "fit_s": 0.25},
        }  # fmt: skip
        if status == "ok":
            values["metrics"] = {
                "macro_auroc": 0.81, "macro_auprc": 0.52, "macro_f1": 0.47,
                "n_classes_evaluated": 2,
                "per_class_auroc": {"NORM": 0.9, "MI": None, "1st degree AV block": 0.72},
            }  # fmt: skip
            values["ci"] = {"level": 0.9, "n_boot": 200, "seed": 0,
                            "macro_auroc": [0.7, 0.9], "macro_auprc": [0.4, 0.6]}  # fmt: skip
        else:
            values["error"] = "RuntimeError: probe diverged"
        result = CellResult(**{**values, "status": status, **fields})
        predictions = None
        if status == "ok":
            rng = np.random.default_rng(len(eval_key))
            shape = (result.n_test, len(result.label_names))
            predictions = Predictions(
                np.arange(result.n_test), (rng.random(shape) < 0.5).astype(np.float32),
                rng.random(shape).astype(np.float32),
            )  # fmt: skip
        write_result(self.results, result, predictions)
        return result

    def pretraining(self, key: str = "a1b2c3d4e5f6", method: str = "toy_masked") -> Path:
        """A finished pretraining folder: checkpoint.pt (small) and history.csv (20 steps)."""
        run_dir = self.results / "pretrain" / f"{method}-{key}"
        steps = np.arange(1, 21)
        history = {
            "step": steps, "epoch": (steps - 1) // 5 + 1, "lr": 1e-3 / steps,
            "loss": 2.0 / steps, "grad_norm": np.where(steps == 3, np.nan, 0.5),
        }  # fmt: skip
        spec = {"n_leads": 3, "n_samples": 32, "sampling_rate": 16}
        save_checkpoint(run_dir / "checkpoint.pt", {
            "method": method, "method_config": {"hidden": 16, "mask_ratio": 0.5},
            "input_spec": spec, "model": {"weight": torch.ones(4)}, "step": 20,
            "total_steps": 20, "finished": True, "elapsed_s": 4.0, "samples_seen": 160,
            "train_config": {"lr": 0.001, "batch_size": 8, "betas": [0.9, 0.999]},
            "info": {"pretrain_key": key, "data": {"dataset": "ptbxl", "fingerprint": "fp-1"},
                     "preprocessing": {"rate": 100}, "input": {"window_s": 2.0, **spec}},
        })  # fmt: skip
        pd.DataFrame(history).to_csv(run_dir / "history.csv", index=False)
        return run_dir


@pytest.fixture
def tracking_files(tmp_path: Path) -> TrackingFiles:
    """Builders of result files and pretraining folders under ``tmp_path/results``."""
    return TrackingFiles(tmp_path / "results")


SMALL_SYNTHETIC_RECORDS = 300


@pytest.fixture
def small_synthetic(monkeypatch: pytest.MonkeyPatch) -> str:
    """A 300-record synthetic dataset and task, both named "synthetic-small", for grid tests
    that must stay fast; registered for this test only. Returns the task name."""
    from bench.data.loading import DATASETS
    from bench.task import TASKS
    from tests.engine.grid_doubles import SmallSource, SmallTask

    DATASETS.names(), TASKS.names()  # discover the real plugins first
    monkeypatch.setitem(DATASETS._items, SmallSource.name, SmallSource())
    monkeypatch.setitem(TASKS._items, SmallTask.name, SmallTask())
    return SmallTask.name

"""A real ``mlflow server`` for tracking tests, started once per session."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests


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

"""``bench perf`` runs on a machine without wfdb, mlflow or optuna (e.g. a bare GPU box)."""

from __future__ import annotations

import subprocess
import sys

import pytest

BLOCKED = ("wfdb", "mlflow", "optuna")
SCRIPT = f"""
import sys

import pytest
for name in {BLOCKED!r}:
    sys.modules[name] = None  # any import of it raises ImportError
import bench.perf.measure, bench.perf.report, bench.commands.perf
from bench.training.compile import compile_objective
from bench.cli import main
sys.exit(main(["perf", "--help"]))
"""


@pytest.mark.slow
def test_perf_imports_without_optional_packages() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "compile_s" in done.stdout

"""Run code (a ``bench`` command line) in a fresh interpreter and report which slow-to-import
packages it loaded: what keeps ``bench --help`` fast and ``bench run`` free of optional
packages is that nothing imports them, which only a new process shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

HEAVY = frozenset(
    {"torch", "timm", "mlflow", "optuna", "matplotlib", "sklearn", "pandas", "wfdb", "scipy"}
)
"""Packages that take from tenths of a second to seconds to import."""

REPORTER = """
import atexit, json, sys

def _report_modules() -> None:
    with open({path!r}, "w") as out:
        json.dump(sorted({{name.split(".")[0] for name in sys.modules}}), out)

atexit.register(_report_modules)
"""


@dataclass(frozen=True)
class FreshRun:
    """Exit status, what it printed (stdout then stderr) and the HEAVY packages it imported."""

    returncode: int
    output: str
    heavy: frozenset[str]


def cli(argv: Sequence[str]) -> str:
    """Code running ``bench ARGV`` and exiting with its status."""
    return f"import sys\nfrom bench.cli import main\nsys.exit(main({list(argv)!r}))\n"


def run_fresh(code: str, scratch: Path, timeout: float = 300) -> FreshRun:
    """Run ``code`` in a new interpreter from the repository root (this checkout's packages
    first); the loaded packages are written at exit, ``SystemExit`` included."""
    modules = scratch / "modules.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", REPORTER.format(path=str(modules)) + code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = done.stdout + done.stderr
    assert modules.is_file(), f"the process died before reporting its modules:\n{output[-3000:]}"
    loaded = frozenset(json.loads(modules.read_text()))
    return FreshRun(done.returncode, output, loaded & HEAVY)

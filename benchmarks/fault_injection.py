"""Kill a grid at random moments, finish it, and compare it with a clean run.

Usage: python benchmarks/fault_injection.py [--kills N] [--runners R] [--window LO HI]
       [--seed S] [--scratch DIR]

Runs a small grid (random_init + jepa on the synthetic task, linear probe, 2 fractions x 2
seeds, a 2-step pretraining) with `bench run --jobs 1` in R runners side by side on one results
folder, SIGKILLs one of them at a random moment N times (LO to HI seconds apart, so kills land
in start-up, pretraining, embedding, probing and writing alike; restarting it each time), then lets
every runner finish. A clean single runner does the same grid in another folder. Prints how
many cells were computed in all and how many twice, the MLflow runs per cell, whether the
leaderboards are identical, `bench check` of the killed folder, and the wall times.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUNNER = """
import os, sys
import bench.grid.cells as cells
real = cells.run_cell
def counted(cell, workspace):
    result = real(cell, workspace)
    with open(os.environ["COMPUTED_LOG"], "a") as log:
        log.write(cell.eval_key + "\\n")
    return result
cells.run_cell = counted
from bench import cli
sys.exit(cli.main(sys.argv[1:]))
"""

GRID = [
    "run", "--methods", "random_init", "jepa", "--tasks", "synthetic", "--fractions", "0.1",
    "0.5", "--seeds", "2", "--protocols", "linear", "--no-progress", "--jobs", "1",
    "--set", "profile_overrides.train.epochs=1", "--set", "profile_overrides.train.max_steps=2",
    "--set", "profile_overrides.train.batch_size=32",
    "--set", "profile_overrides.train.warmup_epochs=0",
    "--set", "profile_overrides.evaluation.n_boot=20",
    "--set", "profile_overrides.evaluation.linear.c_grid=[1.0]",
]  # fmt: skip


def start(results: Path) -> subprocess.Popen[bytes]:
    """One `bench run` of the grid on ``results`` (its computed cells logged beside it)."""
    env = {**os.environ, "BENCH_RESULTS": str(results), "OMP_NUM_THREADS": "1"}
    env.update(COMPUTED_LOG=str(results.with_suffix(".computed")), PYTHONPATH=str(ROOT))
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, *GRID], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def computed(results: Path) -> Counter[str]:
    log = results.with_suffix(".computed")
    return Counter(log.read_text().split()) if log.is_file() else Counter()


def cell_runs(results: Path) -> Counter[str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{results / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, "tags.run_kind = 'cell'", max_results=10000)
    return Counter(run.data.tags["eval_key"] for run in runs)


def leaderboard(results: Path) -> str:
    return "".join(p.read_text() for p in sorted((results / "leaderboards").glob("*.csv")))


def main() -> None:
    """Run the clean and the killed grid and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--runners", type=int, default=2)
    parser.add_argument("--window", type=float, nargs=2, default=(2.0, 25.0), metavar=("LO", "HI"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/bench-fault-injection"))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    shutil.rmtree(args.scratch, ignore_errors=True)
    args.scratch.mkdir(parents=True)
    clean, killed = args.scratch / "clean", args.scratch / "killed"

    began = time.perf_counter()
    if start(clean).wait() != 0:
        raise SystemExit("the clean run failed")
    clean_s = time.perf_counter() - began

    began = time.perf_counter()
    runners = [start(killed) for _ in range(args.runners)]
    for _ in range(args.kills):
        time.sleep(rng.uniform(*args.window))
        victim = rng.randrange(len(runners))
        runners[victim].send_signal(signal.SIGKILL)
        runners[victim].wait()  # reaped: its leases are stale at once
        runners[victim] = start(killed)
    codes = [runner.wait() for runner in runners]
    final = start(killed).wait()  # a last runner mops up what killed runners left behind
    killed_s = time.perf_counter() - began

    cells, done = computed(clean), computed(killed)
    twice = sum(1 for n in done.values() if n > 1)
    runs = cell_runs(killed)
    check = subprocess.run(
        [sys.executable, "-m", "bench", "check", "--results", str(killed)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    print(f"grid: {len(cells)} cells; {args.runners} runners on one folder, {args.kills} SIGKILLs")
    print(f"exit codes after the kills: {codes}, last runner: {final}")
    print(
        f"cells finished in the killed folder: {len(done)} of {len(cells)}; computed twice: {twice}"
    )
    print("  (counted when a computation completes; one killed before that is not counted)")
    print(f"MLflow cell runs: {sum(runs.values())} for {len(runs)} cells "
          f"(max {max(runs.values(), default=0)} per cell)")  # fmt: skip
    print(f"leaderboards identical: {leaderboard(clean) == leaderboard(killed)}")
    print(f"bench check: {check.stdout.strip().splitlines()[-1]}")
    print(f"wall time: clean {clean_s:.1f} s, killed + finished {killed_s:.1f} s")


if __name__ == "__main__":
    main()

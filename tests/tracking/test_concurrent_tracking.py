"""MLflow under concurrency: a new store opened by several processes at once, and one run per
cell (and per parent) however many trackers mirror the same results at the same moment."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench.tracking.sync import Tracker

OPEN_STORE = """
import sys, time
from bench.tracking.store import Store
while time.time() < float(sys.argv[2]):
    time.sleep(0.01)
Store(sys.argv[1]).client.search_experiments()
"""


def _runs(tracker: Tracker, kind: str) -> Counter[str]:
    key = "eval_key" if kind == "cell" else "pretrain_key"
    counts: Counter[str] = Counter()
    for experiment in tracker.store.client.search_experiments():
        for run in tracker.store.search(experiment.experiment_id, f"tags.run_kind = '{kind}'"):
            counts[run.data.tags[key]] += 1
    return counts


def test_trackers_racing_on_the_same_cells_create_one_run_each(tracking_files: Any) -> None:
    results = [tracking_files.cell(f"cell{i}") for i in range(3)]
    uri = f"sqlite:///{tracking_files.results / 'mlflow.db'}"
    trackers = [Tracker(uri, tracking_files.results) for _ in range(4)]
    start = threading.Barrier(len(trackers))
    errors: list[BaseException] = []

    def mirror(tracker: Tracker, index: int) -> None:
        start.wait()
        try:
            if index % 2:
                tracker.sync()
            else:
                for result in results:
                    tracker.log_cell(result)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=mirror, args=(t, i)) for i, t in enumerate(trackers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _runs(trackers[0], "cell") == {f"cell{i}": 1 for i in range(3)}
    assert set(_runs(trackers[0], "parent").values()) == {1}


@pytest.mark.slow
def test_a_new_store_opened_by_four_processes_at_once_opens_in_all(tmp_path: Path) -> None:
    import time

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    at = str(time.time() + 15)
    processes = [
        subprocess.Popen([sys.executable, "-c", OPEN_STORE, uri, at], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    codes = [p.wait(timeout=300) for p in processes]
    assert codes == [0, 0, 0, 0], [p.stderr.read().decode()[-500:] for p in processes if p.stderr]

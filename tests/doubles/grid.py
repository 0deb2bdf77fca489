"""Grid test doubles shared by the launcher tests: registered in this process by the
``grid_doubles`` fixture and in worker processes (Ray, the local pool) by ``register_doubles``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from threadpoolctl import threadpool_limits
from torch import Tensor

from bench.data.loading import DATASETS, DatasetSource
from bench.data.signals import SignalSet
from bench.method import METHODS
from bench.registry import Registry
from bench.task import TASKS
from tasks.synthetic import SyntheticTask
from tests.doubles.toys import ToyMethod

SMALL_SYNTHETIC_RECORDS = 300

WORKER_SETUP = f"{__name__}:register_doubles"
ONE_THREAD_WORKER_SETUP = f"{__name__}:register_doubles_on_one_thread"

BROKEN_CALLS = "broken-pretraining-calls.txt"


class BrokenToy(ToyMethod):
    """A toy whose pretraining fails at its first step (and notes each attempt on disk)."""

    name: ClassVar[str] = "toy_broken"

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        results = Path(os.environ["BENCH_RESULTS"])
        results.mkdir(parents=True, exist_ok=True)
        with open(results / BROKEN_CALLS, "a") as calls:
            calls.write("called\n")
        raise RuntimeError("disk on fire")


class SmallSource(DatasetSource):
    """The 300-record synthetic dataset of the engine's ``small_synthetic`` fixture."""

    name = "synthetic-small"
    needs_root = False

    def load(self, root: Path | None, rate: int | None, cache: Path) -> SignalSet:
        from bench.data.sources.synthetic import synthetic_signal_set
        from bench.data.synthetic.config import GeneratorConfig

        return synthetic_signal_set(GeneratorConfig(n_records=SMALL_SYNTHETIC_RECORDS, seed=1))


class SmallTask(SyntheticTask):
    name = "synthetic-small"
    dataset = "synthetic-small"
    group = "synthetic-small"


def doubles() -> list[tuple[Registry[Any], str, object]]:
    return [
        (METHODS, ToyMethod.name, ToyMethod),
        (METHODS, BrokenToy.name, BrokenToy),
        (DATASETS, SmallSource.name, SmallSource()),
        (TASKS, SmallTask.name, SmallTask()),
    ]


def register_doubles() -> None:
    """Worker setup hook: the test doubles in each worker's registries."""
    for registry, name, plugin in doubles():
        registry.names()  # discover the real plugins first, so ours is not overwritten
        registry._items[name] = plugin


def register_doubles_on_one_thread() -> None:
    """Worker setup hook: the test doubles, and one torch and one BLAS thread instead of the
    pool's cores // jobs, as in the test process (tests/conftest.py): the worker then runs the
    same kernels as the in-process runner on a machine of any core count."""
    register_doubles()
    torch.set_num_threads(1)
    threadpool_limits(1)


@pytest.fixture
def grid_doubles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same doubles in this (driver) process, for this test only."""
    for registry, name, plugin in doubles():
        registry.names()
        monkeypatch.setitem(registry._items, name, plugin)


@pytest.fixture
def small_synthetic(monkeypatch: pytest.MonkeyPatch) -> str:
    """A 300-record synthetic dataset and task, both named "synthetic-small", for grid tests
    that must stay fast; registered for this test only. Returns the task name."""
    DATASETS.names(), TASKS.names()  # discover the real plugins first
    monkeypatch.setitem(DATASETS._items, SmallSource.name, SmallSource())
    monkeypatch.setitem(TASKS._items, SmallTask.name, SmallTask())
    return SmallTask.name


# Profile overrides of a grid that trains and evaluates in seconds.
FAST = {
    "train": {"epochs": 1, "max_steps": 3, "batch_size": 32, "warmup_epochs": 0},
    "evaluation": {
        "n_boot": 20,
        "linear": {"c_grid": [0.1, 1.0], "max_iter": 200},
        "finetune": {"epochs": 1, "min_steps": 4, "evaluations": 2, "batch_size": 16},
    },
}


FAST_SETS = [
    "profile_overrides.train.epochs=1",
    "profile_overrides.train.max_steps=2",
    "profile_overrides.train.batch_size=32",
    "profile_overrides.train.warmup_epochs=0",
    "profile_overrides.evaluation.n_boot=20",
    "profile_overrides.evaluation.linear.c_grid=[1.0]",
]


def bench_run(*extra: str) -> list[str]:
    """`bench run` arguments of a 4-cell grid (toy + random_init on synthetic-small, linear)."""
    args = ["run", "--methods", "toy_masked", "random_init", "--tasks", "synthetic-small"]
    args += ["--fractions", "0.5", "--seeds", "2", "--protocols", "linear", "--no-progress"]
    args += ["--jobs", "1"]  # the test doubles live in this process only
    for item in FAST_SETS:
        args += ["--set", item]
    return args + list(extra)

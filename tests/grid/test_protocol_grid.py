"""Four protocols and few-shot cells in the grid: old keys unchanged, finished cells skipped,
cells a method cannot have skipped with a reason, few-shot cells keyed and recorded apart."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

from bench.errors import ConfigError
from bench.evaluation.config import EvaluationConfig, FinetuneConfig
from bench.evaluation.probe import LinearProbeConfig
from bench.evaluation.robustness import NoiseConfig
from bench.evaluation.segmentation import SegmentationConfig
from bench.grid import runner
from bench.grid.plan import RunConfig, eval_key, load_run_config
from bench.grid.profiles import load_profile
from bench.grid.results import load_results
from bench.grid.runner import plan_grid, run_grid, workspace_for
from bench.grid.unit import Unit
from bench.task import TASKS
from tests.doubles.grid import FAST

# Keys computed by the code before the attentive and k-NN protocols, few-shot cells and layer
# decay existed (pure hashes of these configs, with a fixed unit key and data fingerprint): a
# grid finished then must keep them, or every cell would be redone.
OLD_KEYS = {
    ("cpc", "default", "linear", 0.01, 0): "bba4c7e9bdb8",
    ("cpc", "default", "linear", 1.0, 2): "73798c131eb7",
    ("cpc", "default", "finetune", 0.01, 0): "b49fc4c6335b",
    ("cpc", "default", "finetune", 1.0, 2): "990e88e8b353",
    ("cpc", "custom", "linear", 0.01, 0): "3144e1c5e0ad",
    ("cpc", "custom", "linear", 1.0, 2): "766fa7436469",
    ("cpc", "custom", "finetune", 0.01, 0): "dfd6b68b5988",
    ("cpc", "custom", "finetune", 1.0, 2): "fb226e99f4f6",
    ("random_init", "default", "linear", 1.0, 2): "e7d21fe5672f",
    ("random_init", "default", "finetune", 0.01, 0): "890ada8cc76b",
    ("random_init", "custom", "linear", 1.0, 2): "b09fbc2c6b8c",
    ("random_init", "custom", "finetune", 1.0, 2): "d04e3ceb7edb",
}
OLD_KIND_KEYS = {
    ("ludb-delineation", "linear"): "faca9c9aa223",
    ("ludb-delineation", "finetune"): "eb56303efa72",
    ("synthetic-hr", "linear"): "ff710e312be1",
    ("synthetic-hr", "finetune"): "138b2042ca77",
    ("synthetic-rhythm", "linear"): "c9eb54f731dc",
    ("synthetic-rhythm", "finetune"): "b8db55837aea",
}
EVALUATIONS = {
    "default": EvaluationConfig(),
    "custom": EvaluationConfig(
        val_fraction="same", aggregate="max", stride_s=2.5, n_boot=200,
        linear=LinearProbeConfig(c_grid=(0.1, 1.0), max_iter=100),
        finetune=FinetuneConfig(epochs=3, schedule="one_cycle", lr=1e-2, head="linear"),
    ),
}  # fmt: skip
DATA = types.SimpleNamespace(fingerprint="fingerprint-0")


def unit(method: str, evaluation: EvaluationConfig) -> Unit:
    profile = load_profile("smoke")
    plan = object() if method == "cpc" else None  # a pretraining unit, or a baseline
    return Unit(method, "synthetic", profile.resolve(method), "unitkey00000", plan, 0, evaluation)


def test_linear_and_finetune_keys_are_those_of_the_code_before() -> None:
    profile, task = load_profile("smoke"), TASKS.get("synthetic")
    for (method, name, protocol, fraction, seed), old in OLD_KEYS.items():
        key = eval_key(
            unit(method, EVALUATIONS[name]), task, protocol, fraction, seed, profile, DATA
        )
        assert key == old, (method, name, protocol, fraction, seed)
    extra = EvaluationConfig(
        noise=NoiseConfig(levels=(1, 3)), segmentation=SegmentationConfig(epochs=4),
        finetune=FinetuneConfig(regression_loss="huber", huber_delta=2.0),
    )  # fmt: skip
    for (name, protocol), old in OLD_KIND_KEYS.items():
        key = eval_key(unit("cpc", extra), TASKS.get(name), protocol, 0.1, 1, profile, DATA)
        assert key == old, (name, protocol)


def test_new_settings_key_new_cells_only() -> None:
    profile, task = load_profile("smoke"), TASKS.get("synthetic")
    base = unit("cpc", EvaluationConfig())
    decayed = unit("cpc", EvaluationConfig(finetune=FinetuneConfig(layer_decay=0.75)))
    finetune = eval_key(base, task, "finetune", 0.1, 0, profile, DATA)
    assert eval_key(decayed, task, "finetune", 0.1, 0, profile, DATA) != finetune
    assert eval_key(decayed, task, "linear", 0.1, 0, profile, DATA) == eval_key(
        base, task, "linear", 0.1, 0, profile, DATA
    )
    keys = {
        eval_key(base, task, protocol, fraction, 0, profile, DATA, shots)
        for protocol in ("linear", "finetune", "attentive", "knn")
        for fraction, shots in ((0.1, None), (0.0, 1), (0.0, 5))
    }
    assert len(keys) == 12  # protocols x (a fraction, two shot counts): all distinct


TINY_HEADS = {
    **FAST["evaluation"],
    "attentive": {"queries": [1], "lrs": [1e-3], "weight_decays": [0.0], "epochs": [1], "steps": 2},
    "knn": {"ks": [5], "temperatures": [0.07]},
}


def config(**fields: Any) -> RunConfig:
    values: dict[str, Any] = {
        "methods": ["toy_masked", "random_init", "supervised"],
        "tasks": ["synthetic-small"],
        "fractions": [0.5],
        "seeds": 1,
        "profile_overrides": {**FAST, "evaluation": TINY_HEADS},
    }
    values.update(fields)
    return load_run_config(None, values)


def test_a_finished_grid_is_skipped_when_new_protocols_are_added(
    toys: Any, small_synthetic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = config(protocols=["linear", "finetune"])
    workspace = workspace_for(old, progress=False)
    first = run_grid(plan_grid(old, workspace), workspace)
    assert (first.ran, first.failed) == (4, [])  # toy x 2, random_init linear, supervised

    def no_rerun(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a finished linear or fine-tuning cell must not run again")

    monkeypatch.setattr("bench.grid.cells.cached_linear_probe", no_rerun)
    monkeypatch.setattr("bench.grid.cells.finetune", no_rerun)
    new = config(protocols=["linear", "finetune", "attentive", "knn"])
    notes: set[str] = set()
    workspace = workspace_for(new, progress=False)
    cells = plan_grid(new, workspace, notes)
    second = run_grid(cells, workspace)
    assert (second.ran, second.skipped, second.failed) == (4, 4, [])  # toy + random_init x 2
    assert {(c.unit.method, c.protocol) for c in cells} == {
        ("toy_masked", p) for p in ("linear", "finetune", "attentive", "knn")
    } | {("random_init", p) for p in ("linear", "attentive", "knn")} | {("supervised", "finetune")}
    assert "random_init: evaluated by linear, attentive, knn only, not finetune" in notes
    assert "supervised: evaluated by finetune only, not knn" in notes
    results = load_results(Path(runner.results_dir()), status="ok")
    by_protocol = {r.protocol: r for r in results if r.method == "toy_masked"}
    assert set(by_protocol["knn"].config["selection"]) >= {"best_k", "best_temperature"}
    assert by_protocol["attentive"].config["selection"]["best"]["queries"] == 1


def test_few_shot_cells_replace_fraction_cells(toys: Any, small_synthetic: str) -> None:
    with pytest.raises(ConfigError, match="--shots replaces --fractions"):
        config(shots=[1, 5])
    cfg = config(fractions=None, shots=[1, 3], methods=["random_init"], protocols=["knn"])
    workspace = workspace_for(cfg, progress=False)
    cells = plan_grid(cfg, workspace)
    assert [(c.shots, c.fraction) for c in cells] == [(1, 0.0), (3, 0.0)]
    summary = run_grid(cells, workspace)
    assert (summary.ran, summary.failed) == (2, [])
    results = sorted(load_results(Path(runner.results_dir())), key=lambda r: r.shots or 0)
    assert [r.shots for r in results] == [1, 3]
    assert results[0].n_train < results[1].n_train  # nested draws: more shots, more records
    assert results[0].n_val < results[1].n_val  # validation drawn by the same rule

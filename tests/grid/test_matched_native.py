"""Input regimes (``input: shared | native``) and matched baselines in the grid and leaderboard."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.data.preprocess import Preprocessing
from bench.errors import ConfigError
from bench.grid.method_groups import expand_methods
from bench.grid.plan import load_run_config
from bench.grid.profiles import load_profile
from bench.grid.protocols import finetune_document
from bench.grid.runner import plan_grid, run_grid, workspace_for
from bench.grid.unit import Unit
from bench.method import MatchedConfig
from bench.reporting.formats import to_markdown
from bench.reporting.leaderboard import leaderboard_frame
from methods.cpc import CPC
from tests.doubles.grid import FAST


def units(methods: list[str], **overrides: Any) -> tuple[dict[str, Unit], Any]:
    cfg = load_run_config(
        None,
        {
            "methods": methods,
            "tasks": ["synthetic-small"],
            "fractions": [1.0],
            "seeds": 1,
            "profile_overrides": {**FAST, **overrides},
        },
    )
    workspace = workspace_for(cfg, progress=False)
    return {cell.unit.method: cell.unit for cell in plan_grid(cfg, workspace)}, workspace


def test_native_input_feeds_cpc_its_paper_input(small_synthetic: str) -> None:
    native, workspace = units(["cpc", "hybrid", "random_init[cpc]"], input="native")
    shared, _ = units(["cpc", "hybrid", "random_init[cpc]"])
    paper_input = Preprocessing(rate=100, leads="12", normalize="train")
    for name in ("cpc", "random_init[cpc]"):
        assert native[name].setup.preprocessing == paper_input
        assert native[name].setup.window_s == 10.0
        assert shared[name].setup.preprocessing == load_profile("smoke").preprocessing
        assert shared[name].setup.window_s == 2.5
        assert native[name].key != shared[name].key
    assert native["hybrid"].setup == shared["hybrid"].setup  # declares no native input
    assert native["hybrid"].key == shared["hybrid"].key
    profile = workspace.profile
    assert native["cpc"].input_kind(profile) == "native"
    assert native["hybrid"].input_kind(profile) == "shared"
    data = workspace.unit_data(native["cpc"])
    train = np.asarray(data.signals)[data.split_indices("train")]
    np.testing.assert_allclose(train.mean(axis=(0, 2)), 0.0, atol=1e-4)  # per lead, train folds
    np.testing.assert_allclose(train.std(axis=(0, 2)), 1.0, atol=1e-3)
    assert workspace.unit_data(native["hybrid"]) is workspace.dataset("synthetic-small")
    assert workspace.window(data, native["cpc"])[0] == 1000  # 10 s at 100 Hz
    spec = native["cpc"].plan.spec.input_spec  # type: ignore[union-attr]
    assert (spec.n_samples, CPC(native["cpc"].setup.method_config, spec).steps_ahead) == (1000, 12)


def test_a_profile_input_other_than_shared_or_native_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"profile\.input"):
        load_profile("smoke").__class__(name="x", input="paper")  # type: ignore[arg-type]


def test_paper_profile_is_native_and_runs_the_benchmark_recipe_for_xresnet() -> None:
    paper = load_profile("paper")
    assert paper.input == "native" and load_profile("smoke").input == "shared"
    xresnet = paper.resolve("supervised_xresnet1d")
    assert (xresnet.preprocessing.rate, xresnet.preprocessing.leads, xresnet.window_s) == (
        100,
        "12",
        2.5,
    )
    evaluation = paper.evaluation_for("supervised_xresnet1d")
    finetune = evaluation.finetune
    assert evaluation.aggregate == "max" and finetune.schedule == "one_cycle"
    assert (finetune.lr, finetune.batch_size, finetune.weight_decay, finetune.epochs) == (
        1e-2,
        128,
        1e-2,
        50,
    )
    assert paper.evaluation_for("cpc") == paper.evaluation  # no section: the profile's
    jepa = paper.resolve("jepa")
    assert (jepa.preprocessing.rate, jepa.preprocessing.leads, jepa.window_s) == (250, "8", 10.0)


def test_matched_baselines_take_the_ssl_methods_config_and_input() -> None:
    paper = load_profile("paper")
    setup = paper.resolve("supervised[cpc]")
    cpc = paper.resolve("cpc")
    assert setup.method.name == "supervised"
    assert setup.method_config == MatchedConfig("cpc", {**vars(cpc.method_config)})
    assert (setup.preprocessing, setup.window_s) == (cpc.preprocessing, cpc.window_s)
    overridden = paper.resolve("random_init[cpc]", {"method": {"hidden": 32}})
    assert overridden.method_config.backbone_config["hidden"] == 32
    for bad in ("supervised_xresnet1d[cpc]", "random_init[supervised]", "random_init[nope]"):
        with pytest.raises((ConfigError, KeyError)):
            paper.resolve(bad)


def test_all_expands_to_every_method_and_its_matched_baselines() -> None:
    names = expand_methods(("all",))
    for method in ("cpc", "hybrid", "jepa", "stmask"):
        assert f"random_init[{method}]" in names and f"supervised[{method}]" in names
    assert "random_init[supervised]" not in names
    assert names.index("supervised_xresnet1d") < names.index("random_init[cpc]")
    assert expand_methods(("random_init[cpc]", "cpc", "random_init[cpc]")) == [
        "random_init[cpc]",
        "cpc",
    ]
    with pytest.raises(ConfigError, match="matched baseline"):
        expand_methods(("supervised_xresnet1d[cpc]",))


def test_matched_rows_run_and_each_ssl_row_reports_its_own_gain(
    toys: Any, small_synthetic: str
) -> None:
    methods = ["toy_masked", "random_init[toy_masked]", "supervised[toy_masked]", "random_init"]
    cfg = load_run_config(
        None,
        {
            "methods": methods,
            "tasks": ["synthetic-small"],
            "fractions": [1.0],
            "seeds": 1,
            "protocols": ["linear", "finetune"],
            "profile_overrides": FAST,
        },
    )
    workspace = workspace_for(cfg, progress=False)
    cells = plan_grid(cfg, workspace)
    assert {c.unit.method for c in cells} == set(methods)
    summary = run_grid(cells, workspace)
    assert summary.failed == [] and summary.ran == len(cells) == 5
    frame = leaderboard_frame(Path(os.environ["BENCH_RESULTS"]))
    linear = frame[frame["protocol"] == "linear"].set_index("method")
    assert linear.loc["random_init[toy_masked]", "is_baseline"]
    assert not linear.loc["toy_masked", "is_baseline"]
    expected = linear.loc["toy_masked", "mean"] - linear.loc["random_init[toy_masked]", "mean"]
    assert linear.loc["toy_masked", "gain_vs_own_random_init"] == pytest.approx(expected)
    assert np.isnan(linear.loc["random_init", "gain_vs_own_random_init"])
    tuned = frame[frame["protocol"] == "finetune"].set_index("method")
    own_supervised = tuned.loc["toy_masked", "mean"] - tuned.loc["supervised[toy_masked]", "mean"]
    assert tuned.loc["toy_masked", "gain_vs_own_supervised"] == pytest.approx(own_supervised)
    assert set(frame["input"]) == {"shared"}
    assert f"Δ{expected:+.3f}" in to_markdown(frame, "note")


def test_finetune_keys_record_the_head_really_used(small_synthetic: str) -> None:
    planned, _ = units(["cpc", "hybrid", "supervised[cpc]"])
    old_fields = {
        "epochs", "min_steps", "max_steps", "batch_size", "lr", "encoder_lr_scale",
        "weight_decay", "warmup_fraction", "grad_clip", "evaluations", "patience", "head",
        "hidden", "dropout", "precision",
    }  # fmt: skip
    hybrid = finetune_document(planned["hybrid"])
    assert set(hybrid) >= old_fields and hybrid["head"] == "linear"  # as before: same key
    assert "schedule" not in hybrid and "input_dropout" not in hybrid
    paper_head = {"mlp": {"hidden": 512, "input_dropout": 0.25, "dropout": 0.5}}
    assert finetune_document(planned["cpc"])["head"] == paper_head
    assert finetune_document(planned["supervised[cpc]"])["head"] == paper_head
    forced = {**FAST, "evaluation": {**FAST["evaluation"], "finetune": {"head": "linear"}}}
    linear, _ = units(["cpc"], **forced)
    assert finetune_document(linear["cpc"])["head"] == "linear"

"""``bench plan`` / ``bench.perf.grid_cost``: the cost of a grid before it runs."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.errors import ConfigError
from bench.grid.plan import load_run_config
from bench.grid.runner import plan_grid, workspace_for
from bench.perf.grid_cost import cost_rows, device_class_rate
from bench.perf.grid_counts import GridCount, Item
from bench.perf.grid_flops import GridCounter

FAST = {
    "train": {"max_steps": 2, "batch_size": 16},
    "evaluation": {"n_boot": 20, "linear": {"c_grid": [1.0]}, "finetune": {"min_steps": 4}},
}


def counted(task: str, records: dict[str, int] | None = None) -> tuple[GridCount, int]:
    """The count of supervised (fine-tune) and random_init (linear) cells on ``task``."""
    config = load_run_config(None, {
        "methods": ["supervised", "random_init"], "tasks": [task], "profile": "smoke",
        "fractions": [0.1], "seeds": [1], "profile_overrides": FAST,
    })  # fmt: skip
    workspace = workspace_for(config, progress=False)
    train = len(workspace.dataset(task).split_indices("train"))
    return GridCounter(workspace, 1, records).count(plan_grid(config, workspace)), train


def test_rows_are_per_pretraining_and_per_protocol_and_sum_to_the_total() -> None:
    grid = GridCount(items=[
        Item("pretraining", "cpc", 10), Item("pretraining", "jepa", 20),
        Item("finetune train", "cpc", 3), Item("finetune scoring", "cpc", 2),
        Item("finetune scoring", "cpc", 1, 0), Item("linear embedding", "cpc", 7),
    ])  # fmt: skip
    rows = {(r.part, r.name): r for r in cost_rows(grid)}
    assert rows[("pretraining", "jepa")].flops == 20
    assert (rows[("protocol", "finetune")].flops, rows[("protocol", "finetune")].items) == (6, 1)
    assert rows[("protocol", "linear")].flops == 7
    assert rows[("total", "all")].flops == 43 == sum(r.flops for r in cost_rows(grid)[:-1])


def test_device_class_rate_is_the_stated_share_of_its_peak() -> None:
    assert device_class_rate("h100", 0.4).flops_per_s == pytest.approx(0.4 * 989e12)
    assert device_class_rate("a100", 0.5, "fp32").flops_per_s == pytest.approx(0.5 * 19.5e12)
    with pytest.raises(ConfigError, match="--device-class 'tpu'"):
        device_class_rate("tpu", 0.4)
    with pytest.raises(ConfigError, match="--device-share"):
        device_class_rate("h100", 1.5)


def test_train_records_scale_the_counted_work_by_the_sizes(small_synthetic: str) -> None:
    base, train = counted(small_synthetic)
    same, _ = counted(small_synthetic, {small_synthetic: train})
    double, _ = counted(small_synthetic, {small_synthetic: 2 * train})
    assert same.total() == base.total() > 0
    assert double.total("linear embedding") == 2 * base.total("linear embedding")
    (key,) = base.finetunes
    one, two = base.finetunes[key], double.finetunes[key]
    assert (two.val_windows, two.test_windows) == (2 * one.val_windows, 2 * one.test_windows)
    assert sum(two.stage_steps) >= sum(one.stage_steps)
    assert double.total("finetune train") > base.total("finetune train")


def test_bench_plan_prints_the_counted_total(
    small_synthetic: str, capsys: pytest.CaptureFixture[str]
) -> None:
    grid, _ = counted(small_synthetic)
    sets = ["--set", "profile_overrides.train.max_steps=2",
            "--set", "profile_overrides.train.batch_size=16",
            "--set", "profile_overrides.evaluation.finetune.min_steps=4",
            "--set", "profile_overrides.evaluation.linear.c_grid=[1.0]"]  # fmt: skip
    argv = ["plan", "--methods", "supervised", "random_init", "--tasks", small_synthetic,
            "--profile", "smoke", "--fractions", "0.1", "--seeds", "1", "--no-progress",
            "--pretrain-draws", "1", "--device-share", "0.5", *sets]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    pflop, hours = float(total.split()[3]), float(total.split()[5])
    assert pflop == pytest.approx(grid.total() / 1e15, abs=5e-4)
    assert hours == pytest.approx(grid.total() / (0.5 * 989e12) / 3600, abs=0.005)
    assert "h100 at 50% of its bf16 peak" in out

"""The shared pretraining loop: learning, hooks, determinism, exact resume, stops and errors."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.errors import ConfigError
from bench.training.checkpoint import load_method, read_checkpoint
from bench.training.config import TrainConfig
from bench.training.loop import pretrain
from bench.training.state import NonFiniteLossError
from tests.doubles import jepa as jepa_double

pytestmark = pytest.mark.numeric

# 48 records / batch 8 = 6 steps per epoch; 4 epochs = 24 steps.
CONFIG = TrainConfig(
    epochs=4, batch_size=8, lr=1e-2, warmup_epochs=1, min_lr=1e-4, grad_clip=1.0,
    checkpoint_every=5, seed=3, device="cpu",
)  # fmt: skip


def weights(method: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in method.state_dict().items()}


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=0, atol=1e-6, msg=key)


def test_loss_goes_down(tmp_path: Path, toys: Any) -> None:
    config = TrainConfig(**{**CONFIG.__dict__, "epochs": 10})
    result = pretrain(toys.build(), toys.signals(), config, tmp_path, progress=False)
    losses = [row["loss"] for row in result.history]
    assert len(losses) == result.steps == 60
    assert np.mean(losses[-6:]) < 0.5 * np.mean(losses[:6])


def test_history_rows_and_csv(tmp_path: Path, toys: Any) -> None:
    result = pretrain(toys.build(), toys.signals(), CONFIG, tmp_path, progress=False)
    assert [row["step"] for row in result.history] == list(range(1, 25))
    assert [row["epoch"] for row in result.history] == [e for e in (1, 2, 3, 4) for _ in range(6)]
    assert result.history[5]["lr"] == pytest.approx(CONFIG.lr)  # last warm-up step
    assert result.history[-1]["lr"] == pytest.approx(CONFIG.min_lr)
    assert all(math.isfinite(row["visible"]) and row["grad_norm"] >= 0 for row in result.history)
    with (tmp_path / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 24
    assert {"step", "epoch", "loss", "lr", "visible", "grad_norm"} <= rows[0].keys()
    assert float(rows[-1]["loss"]) == pytest.approx(result.history[-1]["loss"])
    assert result.finished and result.samples_per_s > 0 and result.wall_time_s > 0


def test_on_step_end_once_per_step(tmp_path: Path, toys: Any) -> None:
    method = toys.build()
    pretrain(method, toys.signals(), CONFIG, tmp_path, progress=False)
    assert method.steps_seen == [(step, 24) for step in range(1, 25)]


def test_max_steps_caps_the_run(tmp_path: Path, toys: Any) -> None:
    method = toys.build()
    config = TrainConfig(**{**CONFIG.__dict__, "max_steps": 10})
    result = pretrain(method, toys.signals(), config, tmp_path, progress=False)
    assert result.steps == result.total_steps == 10
    assert method.steps_seen[-1] == (10, 10)
    assert result.history[-1]["lr"] == pytest.approx(CONFIG.min_lr)


def test_deterministic_under_a_seed(tmp_path: Path, toys: Any) -> None:
    a, b, c = toys.build(seed=1), toys.build(seed=1), toys.build(seed=1)
    pretrain(a, toys.signals(), CONFIG, tmp_path / "a", progress=False)
    pretrain(b, toys.signals(), CONFIG, tmp_path / "b", progress=False)
    other = TrainConfig(**{**CONFIG.__dict__, "seed": 4})
    pretrain(c, toys.signals(), other, tmp_path / "c", progress=False)
    assert_same_weights(a, b)
    assert not torch.equal(a.encoder.conv.weight, c.encoder.conv.weight)


def test_onednn_linears_train_the_same(tmp_path: Path, toys: Any) -> None:
    signals = toys.signals(length=jepa_double.SPEC.n_samples)
    runs = []
    for linear in ("aten", "onednn"):
        method = jepa_double.build(seed=1)
        config = TrainConfig(**{**CONFIG.__dict__, "linear": linear, "max_steps": 4})
        pretrain(method, signals, config, tmp_path / linear, progress=False)
        runs.append(method)
    assert {type(m).__name__ for m in runs[1].modules()} >= {"OneDNNLinear"}
    assert "OneDNNLinear" not in {type(m).__name__ for m in runs[0].modules()}
    for key, value in weights(runs[0]).items():
        torch.testing.assert_close(weights(runs[1])[key], value, rtol=1e-5, atol=1e-5, msg=key)


def test_resume_equals_one_go(tmp_path: Path, toys: Any) -> None:
    one_go = toys.build()
    full = pretrain(one_go, toys.signals(), CONFIG, tmp_path / "full", progress=False)
    half = pretrain(
        toys.build(), toys.signals(), CONFIG, tmp_path / "split", progress=False, stop_at_step=12
    )
    assert (half.steps, half.finished) == (12, False)
    assert read_checkpoint(tmp_path / "split" / "checkpoint.pt")["step"] == 12
    torch.manual_seed(12345)  # a fresh process: other RNG states, a differently built method
    resumed_method = toys.build(seed=99)
    resumed = pretrain(resumed_method, toys.signals(), CONFIG, tmp_path / "split", progress=False)
    assert resumed.finished and resumed.steps == 24
    assert resumed_method.steps_seen == [(step, 24) for step in range(13, 25)]
    assert_same_weights(one_go, resumed_method)
    assert [r["loss"] for r in resumed.history] == pytest.approx([r["loss"] for r in full.history])


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_a_stop_inside_a_step_leaves_a_resumable_checkpoint(
    tmp_path: Path, toys: Any, stop: type[BaseException]
) -> None:
    one_go = toys.build()
    pretrain(one_go, toys.signals(), CONFIG, tmp_path / "full", progress=False)

    class InterruptingMethod(toys.method):  # type: ignore[name-defined]
        """Raises ``stop`` inside the 9th forward pass, after it used the RNG."""

        calls = 0

        def loss(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
            output = super().loss(batch)
            self.calls += 1
            if self.calls == 9:  # step 5 was checkpointed before
                raise stop
            return output

    interrupted = InterruptingMethod(toys.config(), toys.spec)
    interrupted.load_state_dict(toys.build().state_dict())
    with pytest.raises(stop):
        pretrain(interrupted, toys.signals(), CONFIG, tmp_path / "stop", progress=False)
    state = read_checkpoint(tmp_path / "stop" / "checkpoint.pt")
    assert state["step"] == 8 and not state["finished"]
    torch.manual_seed(777)
    resumed = toys.build(seed=5)
    result = pretrain(resumed, toys.signals(), CONFIG, tmp_path / "stop", progress=False)
    assert result.finished and len(result.history) == 24
    assert_same_weights(one_go, resumed)


def test_a_failure_during_the_update_keeps_the_last_periodic_checkpoint(
    tmp_path: Path, toys: Any
) -> None:
    class FailingHook(toys.method):  # type: ignore[name-defined]
        def on_step_end(self, step: int, total_steps: int) -> None:
            super().on_step_end(step, total_steps)
            if step == 9:
                raise RuntimeError("EMA failed")

    failing = FailingHook(toys.config(), toys.spec)
    with pytest.raises(RuntimeError, match="EMA failed"):
        pretrain(failing, toys.signals(), CONFIG, tmp_path, progress=False)
    assert read_checkpoint(tmp_path / "checkpoint.pt")["step"] == 5  # not a half-updated 8/9


def test_finished_run_is_not_retrained(tmp_path: Path, toys: Any) -> None:
    trained = toys.build()
    first = pretrain(trained, toys.signals(), CONFIG, tmp_path, progress=False)
    again = toys.build(seed=8)
    second = pretrain(again, toys.signals(), CONFIG, tmp_path, progress=False)
    assert again.steps_seen == []
    assert second.steps == first.steps and second.history == first.history
    assert_same_weights(trained, again)


def test_other_config_in_same_run_dir_fails(tmp_path: Path, toys: Any) -> None:
    pretrain(toys.build(), toys.signals(), CONFIG, tmp_path, progress=False, stop_at_step=3)
    other = TrainConfig(**{**CONFIG.__dict__, "lr": 5e-3})
    with pytest.raises(ConfigError, match="different train_config"):
        pretrain(toys.build(), toys.signals(), other, tmp_path, progress=False)
    moved = TrainConfig(**{**CONFIG.__dict__, "checkpoint_every": 2})  # execution only: fine
    assert pretrain(toys.build(), toys.signals(), moved, tmp_path, progress=False).finished


def test_nan_loss_stops_without_a_bad_checkpoint(tmp_path: Path, toys: Any) -> None:
    signals = toys.signals()
    signals[:, :, 20:40] = np.nan
    with pytest.raises(NonFiniteLossError, match="nan"):
        pretrain(toys.build(), signals, CONFIG, tmp_path, progress=False)
    assert not (tmp_path / "checkpoint.pt").exists()


def test_bf16_autocast_on_cpu(tmp_path: Path, toys: Any) -> None:
    config = TrainConfig(**{**CONFIG.__dict__, "precision": "bf16", "max_steps": 4})
    result = pretrain(toys.build(), toys.signals(), config, tmp_path, progress=False)
    assert all(math.isfinite(row["loss"]) for row in result.history)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ({"n_leads": 2}, "expects records"),
        ({"length": 20}, "crops 32 samples"),
        ({"n_records": 5}, "exceeds the 5 training records"),
    ],
)
def test_unusable_data_fails_clearly(
    tmp_path: Path, toys: Any, shape: dict[str, int], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        pretrain(toys.build(), toys.signals(**shape), CONFIG, tmp_path, progress=False)


@pytest.mark.slow
def test_compiled_training_saves_plain_weights(tmp_path: Path, toys: Any) -> None:
    config = TrainConfig(**{**CONFIG.__dict__, "compile": True, "max_steps": 6})
    result = pretrain(toys.build(), toys.signals(), config, tmp_path, progress=False)
    assert result.finished and all(math.isfinite(row["loss"]) for row in result.history)
    assert not any("_orig_mod" in key for key in read_checkpoint(result.checkpoint)["model"])
    assert load_method(result.checkpoint).config == toys.config()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.gpu
def test_gpu_path_bf16_with_records_on_device(tmp_path: Path, toys: Any) -> None:
    config = TrainConfig(**{**CONFIG.__dict__, "device": "cuda", "precision": "auto"})
    method = toys.build()
    result = pretrain(method, toys.signals(), config, tmp_path, progress=False)
    assert result.finished and next(method.parameters()).is_cuda
    assert np.mean([r["loss"] for r in result.history[-6:]]) < result.history[0]["loss"]

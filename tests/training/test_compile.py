"""train.compile: every pretraining method traces, compiles once (no recompiles), timed apart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from bench.config import from_dict
from bench.encoders.base import InputSpec
from bench.method import Method
from bench.training.compile import (
    CompileClock,
    compile_objective,
    compiled_frames,
    wants_dynamic_shapes,
)
from bench.training.config import TrainConfig
from bench.training.loop import Objective, pretrain
from methods.cpc import CPC, CPCConfig
from methods.hybrid_mae_contrastive import HybridConfig, HybridMAEContrastive
from methods.jepa import JEPA, JEPAConfig
from methods.st_mask import SpatioTemporalMask, STMaskConfig


def cpc() -> tuple[Method, InputSpec]:
    spec = InputSpec(3, 64, 100)
    return CPC(CPCConfig(width=16, hidden=16, n_negatives=4), spec), spec


def hybrid() -> tuple[Method, InputSpec]:
    spec = InputSpec(3, 40, 20)
    fields = {"patch_size": 10, "decoder_dim": 16, "projection_hidden": 16, "projection_dim": 8}
    return HybridMAEContrastive(from_dict(HybridConfig, fields), spec), spec


def jepa() -> tuple[Method, InputSpec]:
    spec = InputSpec(3, 100, 100)
    return JEPA(JEPAConfig(patch_size=5), spec), spec


def stmask() -> tuple[Method, InputSpec]:
    spec = InputSpec(4, 40, 20)
    fields = {"patch_size": 10, "decoder_dim": 16}
    return SpatioTemporalMask(from_dict(STMaskConfig, fields), spec), spec


BUILDERS: dict[str, Callable[[], tuple[Method, InputSpec]]] = {
    "cpc": cpc,
    "hybrid": hybrid,
    "jepa": jepa,
    "stmask": stmask,
}


def test_only_methods_that_vary_shapes_compile_dynamically() -> None:
    torch.manual_seed(0)
    kinds = {name: wants_dynamic_shapes(Objective(build()[0])) for name, build in BUILDERS.items()}
    assert kinds == {"cpc": False, "hybrid": False, "jepa": True, "stmask": True}


def test_clock_books_only_the_steps_that_compiled() -> None:
    torch._dynamo.reset()
    square = torch.compile(lambda x: (x * x).sum(), backend="eager", dynamic=False)
    clock = CompileClock()
    booked = []
    for n in (3, 3, 4, 4):
        square(torch.ones(n))
        booked.append(clock.add_step(1.5))
    assert booked == [True, False, True, False]
    assert clock.compile_s == 3.0 and clock.compiling_steps == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_method_compiles_once(name: str) -> None:
    """Traced with aot_eager (no code generation): after the first step nothing recompiles,
    though each step brings new data (and, for JEPA, masks of other sizes)."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    method, spec = BUILDERS[name]()
    objective = compile_objective(Objective(method.train()), backend="aot_eager")
    frames = []
    for step in range(4):
        batch = torch.randn(
            8, spec.n_leads, spec.n_samples, generator=torch.Generator().manual_seed(step)
        )
        loss = objective(batch)["loss"]
        loss.backward()
        assert torch.isfinite(loss)
        frames.append(compiled_frames())
    assert frames[1:] == [frames[0]] * 3, f"{name} recompiled: frames {frames}"


@pytest.mark.slow
def test_pretraining_result_reports_compile_time_apart(tmp_path: Path, toys: Any) -> None:
    config = TrainConfig(
        epochs=1, batch_size=8, max_steps=4, warmup_epochs=0, device="cpu", compile=True
    )
    result = pretrain(toys.build(), toys.signals(), config, tmp_path, progress=False)
    assert 0 < result.compile_s < result.wall_time_s
    resumed = pretrain(toys.build(), toys.signals(), config, tmp_path, progress=False)
    assert resumed.compile_s == pytest.approx(result.compile_s)


def test_eager_runs_book_no_compile_time(tmp_path: Path, toys: Any) -> None:
    config = TrainConfig(epochs=1, batch_size=8, max_steps=2, warmup_epochs=0, device="cpu")
    assert pretrain(toys.build(), toys.signals(), config, tmp_path, progress=False).compile_s == 0

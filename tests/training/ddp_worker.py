"""Worker of the DDP tests, started by ``torch.distributed.run`` on 2 CPU processes (gloo).

``python -m torch.distributed.run --standalone --nproc-per-node 2 ddp_worker.py OUT`` runs every
scenario of tests/training/test_ddp.py and leaves, per rank, the histories and weights of
each run in ``OUT/<scenario>-rank<r>.pt`` plus the files each rank wrote in
``OUT/writes-rank<r>.json``. The tests compare them with single-process runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

import bench.training.loop
from bench.encoders.base import InputSpec
from bench.method import Method
from bench.training.checkpoint import read_checkpoint
from bench.training.config import TrainConfig
from bench.training.distributed import gather_with_grad, process_group
from bench.training.loop import pretrain
from bench.training.result import PretrainResult
from bench.training.state import History, seed_everything


def _load_engine_toys() -> Any:
    """tests/doubles/toys.py by path: torchrun's workers do not have the repository on sys.path."""
    path = Path(__file__).parents[1] / "doubles" / "toys.py"
    spec = importlib.util.spec_from_file_location("engine_toys_for_ddp", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


toys = _load_engine_toys()

# 48 records: global batch 16 -> 3 steps per epoch, 4 epochs -> 12 steps.
DETERMINISTIC = TrainConfig(
    epochs=4, batch_size=16, lr=1e-2, warmup_epochs=1, min_lr=1e-4, grad_clip=1.0,
    checkpoint_every=4, seed=3, device="cpu",
)  # fmt: skip
# global batch 8 -> 6 steps per epoch, 4 epochs -> 24 steps (the config of test_train.py).
MASKED = replace(DETERMINISTIC, batch_size=8, checkpoint_every=5)
STOP_DETERMINISTIC, STOP_MASKED = 6, 10


class SmoothAutoencoder(Method):
    """Deterministic toy: no random draws, no batch statistics, a loss that is a mean over
    samples; an EMA buffer exercises ``on_step_end``."""

    name: ClassVar[str] = "toy_deterministic"
    config_class: ClassVar[type[Any]] = toys.ToyConfig

    def __init__(self, config: Any, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.encoder = toys.ToyEncoder(replace(config, dropout=0.0), input_spec)
        self.decoder = nn.Conv1d(config.hidden, input_spec.n_leads, kernel_size=1)
        self.register_buffer("ema_decoder", self.decoder.weight.detach().clone())

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        reconstruction = self.decoder(self.encoder.feature_map(batch))
        error = (reconstruction.float() - batch) ** 2
        return {"loss": error.mean(), "first_lead": error[:, 0].mean().detach()}

    def on_step_end(self, step: int, total_steps: int) -> None:
        self.ema_decoder.mul_(0.9).add_(self.decoder.weight, alpha=0.1)


class PartlyUsed(toys.ToyMethod):  # type: ignore[misc, name-defined]
    """A toy whose loss never touches one trainable head (needs find_unused_parameters)."""

    def __init__(self, config: Any, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.unused_head = nn.Linear(config.hidden, 2)


class FailingToy(toys.ToyMethod):  # type: ignore[misc, name-defined]
    """The masked toy, failing inside its 9th forward pass on every process (after the
    periodic checkpoint of step 5)."""

    calls = 0

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        self.calls += 1
        if self.calls == 9:
            raise RuntimeError("injected failure")
        return super().loss(batch)


def build(method_class: type[Method], seed: int = 0) -> Method:
    """``method_class`` with default toy config, initialised under ``seed``."""
    seed_everything(seed)
    return method_class(toys.ToyConfig(), toys.TOY_SPEC)


def record(out: Path, name: str, method: Method, result: PretrainResult) -> None:
    """Save this rank's history and weights of run ``name``."""
    rank = int(os.environ["RANK"])
    weights = {key: value.detach().clone() for key, value in method.state_dict().items()}
    torch.save(
        {"history": result.history, "weights": weights, "steps": result.steps},
        out / f"{name}-rank{rank}.pt",
    )


def watch_writes(log: list[str]) -> None:
    """Log every checkpoint and history file this process writes."""
    save_checkpoint, write_csv = bench.training.loop.save_checkpoint, History.write_csv

    def logged_save(path: Any, payload: dict[str, Any]) -> Path:
        log.append(str(path))
        return save_checkpoint(path, payload)

    def logged_write(self: History, path: Path) -> None:
        log.append(str(path))
        write_csv(self, path)

    bench.training.loop.save_checkpoint = logged_save  # type: ignore[assignment]
    History.write_csv = logged_write  # type: ignore[method-assign]


def gathered_gradient() -> dict[str, list[float]]:
    """gather_with_grad on [rank + 1, rank + 1]: the gathered values and the local gradient of
    sum(gathered * position weights)."""
    with process_group() as processes:
        x = torch.full((2,), float(processes.rank + 1), requires_grad=True)
        gathered = gather_with_grad(x)
        (gathered * torch.arange(1.0, len(gathered) + 1)).sum().backward()
        assert x.grad is not None
        return {"gathered": gathered.tolist(), "grad": x.grad.tolist()}


def main(out: Path) -> None:
    """Run every scenario; the tests read what this leaves in ``out``."""
    rank = int(os.environ["RANK"])
    writes: list[str] = []
    watch_writes(writes)
    signals = toys.toy_signals()

    method = build(SmoothAutoencoder)
    record(out, "deterministic", method, pretrain(method, signals, DETERMINISTIC, out / "det"))
    pretrain(
        build(SmoothAutoencoder),
        signals,
        DETERMINISTIC,
        out / "det-split",
        stop_at_step=STOP_DETERMINISTIC,
    )  # fmt: skip  (resumed on one process by the test)

    method = build(toys.ToyMethod)
    record(out, "masked", method, pretrain(method, signals, MASKED, out / "masked"))
    pretrain(build(toys.ToyMethod), signals, MASKED, out / "split", stop_at_step=STOP_MASKED)
    torch.manual_seed(1000 + rank)  # another RNG state and other initial weights before resuming
    method = build(toys.ToyMethod, seed=50 + rank)
    record(out, "resumed", method, pretrain(method, signals, MASKED, out / "split"))

    failing = FailingToy(toys.ToyConfig(), toys.TOY_SPEC)
    failing.load_state_dict(build(toys.ToyMethod).state_dict())
    try:
        pretrain(failing, signals, MASKED, out / "failed")
    except RuntimeError as error:
        failure = {"error": str(error), "group_left": not dist.is_initialized()}
    failure["checkpoint_step"] = read_checkpoint(out / "failed" / "checkpoint.pt")["step"]
    (out / f"failure-rank{rank}.json").write_text(json.dumps(failure))
    method = build(toys.ToyMethod, seed=70 + rank)
    record(out, "after-failure", method, pretrain(method, signals, MASKED, out / "failed"))

    method = build(PartlyUsed)
    unused = replace(MASKED, max_steps=3, find_unused_parameters=True)
    record(out, "partly-used", method, pretrain(method, signals, unused, out / "partly-used"))

    (out / f"gather-rank{rank}.json").write_text(json.dumps(gathered_gradient()))
    (out / f"writes-rank{rank}.json").write_text(json.dumps(writes))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

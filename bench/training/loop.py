"""The one pretraining loop every method shares.

Methods only define ``loss(batch)`` (and optionally ``on_step_end``); this module owns the
data path (random crops on the device), AdamW with parameter groups, the warm-up + cosine
schedule, bf16 autocast, gradient clipping, progress, history, checkpoints and exact resume,
and data parallelism across torchrun's processes (semantics in ``bench.training.distributed``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from bench.config import to_dict
from bench.data.formats.ragged import Ragged
from bench.data.formats.shards import ShardedRecords
from bench.encoders.onednn_linear import set_linear_backend
from bench.encoders.patch_transformer import set_attention_path
from bench.errors import ConfigError
from bench.method import Method, loss_scalars
from bench.training.checkpoint import method_header, save_checkpoint
from bench.training.checks import check_records, check_same_run, read_shared_checkpoint
from bench.training.collapse import collapse_summary
from bench.training.compile import CompileClock, prepare_objective
from bench.training.config import TrainConfig, autocast_dtype, resolve_device
from bench.training.distributed import (
    Processes,
    barrier,
    data_parallel,
    gather_to_main,
    local_batch_size,
    mean_over_processes,
    process_group,
    rank_seed,
    training_device,
)
from bench.training.optim import WarmupCosine, build_optimizer, set_lr
from bench.training.result import PretrainResult, result_from_checkpoint
from bench.training.run_files import CHECKPOINT_NAME, HISTORY_NAME
from bench.training.state import (
    History,
    InterruptGuard,
    NonFiniteLossError,
    capture_rng,
    restore_rng,
    seed_everything,
)
from bench.training.streaming import crop_sampler

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "pretrain"]


class Objective(nn.Module):
    """The method's loss as ``forward``: the module that torch.compile (and DDP) wrap."""

    def __init__(self, method: Method):
        super().__init__()
        self.method = method

    def forward(self, batch: Tensor) -> dict[str, Tensor]:
        return self.method.loss(batch)


def pretrain(
    method: Method,
    signals: np.ndarray | Ragged | ShardedRecords,
    config: TrainConfig,
    run_dir: str | Path,
    *,
    info: Mapping[str, Any] | None = None,
    progress: bool = True,
    stop_at_step: int | None = None,
    log_every: int = 10,
) -> PretrainResult:
    """Pretrain ``method`` on ``signals`` [N, leads, T] (the training records) into ``run_dir``.

    Each step takes ``config.batch_size`` random crops of ``method.input_spec.n_samples``
    samples. Resumes exactly from ``run_dir/checkpoint.pt`` when present (same method, config
    and data shape, else ConfigError); a finished run is not retrained: its weights are loaded
    into ``method`` and its stored result returned. ``info`` (plain data, e.g. the run key) is
    stored in the checkpoint. ``stop_at_step`` ends this call early at that global step with a
    checkpoint, leaving the schedule unchanged; a later call continues. The loss history goes
    to ``run_dir/history.csv``. Checkpoints are also written every ``config.checkpoint_every``
    steps and when the run stops on an exception or Ctrl-C (never from a NaN loss).

    Under torchrun the call trains on every process together (DDP), ``config.batch_size``
    being the global batch; see ``bench.training.distributed`` for what that keeps and what it
    cannot.
    """
    run_dir = Path(run_dir)
    if log_every < 1:
        raise ConfigError(f"log_every = {log_every} must be at least 1")
    check_records(method, signals)
    identity = {
        **method_header(method),
        "train_config": config.learning_dict(),
        "records": list(signals.shape),
    }
    path = run_dir / CHECKPOINT_NAME
    with process_group() as processes:
        state = read_shared_checkpoint(path, processes)
        if state is not None:
            check_same_run(state, identity, run_dir)
            if state["finished"]:
                if processes.is_main:
                    log.info(
                        "%s already finished (%d steps); not retraining", run_dir, state["step"]
                    )
                method.load_state_dict(state["model"])
                return result_from_checkpoint(path, state, method.collapse_rule())
        header = {**identity, "info": dict(info or {})}
        loop = TrainingLoop(method, signals, config, path, header, processes)
        if state is not None:
            if processes.is_main:
                log.info(
                    "resuming %s from step %d of %d", run_dir, state["step"], state["total_steps"]
                )
            loop.load_state(state)
        else:
            seed_everything(rank_seed(config.seed, processes.rank))
        return loop.run(progress=progress, stop_at_step=stop_at_step, log_every=log_every)


class TrainingLoop:
    """State and steps of one pretraining run (built by ``pretrain``)."""

    def __init__(
        self,
        method: Method,
        signals: np.ndarray | Ragged | ShardedRecords,
        config: TrainConfig,
        checkpoint_path: Path,
        header: dict[str, Any],
        processes: Processes | None = None,
    ):
        self.method = method
        self.config = config
        self.path = checkpoint_path
        self.header = header
        self.processes = processes = processes or Processes()
        self.device = training_device(resolve_device(config.device), processes)
        self.dtype = autocast_dtype(config.precision, self.device)
        method.to(self.device).train()
        set_attention_path(method, config.attention)
        set_linear_backend(method, config.linear)
        self.sampler = crop_sampler(
            signals,
            method.input_spec.n_samples,
            local_batch_size(config.batch_size, processes),
            config.seed,
            self.device,
            processes.rank,
            processes.world_size,
        )
        self.notes = [self.sampler.note] if self.sampler.note else []  # e.g. a capped batch
        self.total_steps = config.total_steps(self.sampler.steps_per_epoch)
        self.schedule = WarmupCosine(
            config.lr,
            config.min_lr,
            config.warmup_steps(self.sampler.steps_per_epoch),
            self.total_steps,
        )
        self.optimizer = build_optimizer(
            method, config.lr, config.weight_decay, config.betas, self.device
        )
        self.parameters = [p for group in self.optimizer.param_groups for p in group["params"]]
        objective = data_parallel(Objective(method), processes, config.find_unused_parameters)
        self.objective, self.cuda_graphs = prepare_objective(
            objective, config.compile, config.cuda_graphs, self.device, processes.distributed
        )
        self.compile_clock = CompileClock()
        self.compile_before = 0.0  # compile seconds of earlier calls (from the checkpoint)
        self.history = History()
        self.step = 0
        self.elapsed_before = self.elapsed_s = 0.0  # wall time of earlier calls / up to now
        self.started_at: float | None = None  # epoch seconds of the first call's start
        self.saved_step = -1

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint written by this loop."""
        if int(state["total_steps"]) != self.total_steps:
            raise ConfigError(
                f"{self.path} was planned for {state['total_steps']} steps, this run has "
                f"{self.total_steps}; use another run folder or delete this one"
            )
        self.method.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.load_state_dict(state["sampler"])
        self.history = History(state["history"])
        self.started_at = state.get("started_at")  # absent in checkpoints of older versions
        self.step = self.saved_step = int(state["step"])
        self.elapsed_before = self.elapsed_s = float(state["elapsed_s"])
        self.compile_before = float(state.get("compile_s", 0.0))
        self._restore_rng(state)

    def _restore_rng(self, state: dict[str, Any]) -> None:
        """This process's RNG state; reseeded from (seed, rank, step) if the size changed."""
        rank, world_size = self.processes.rank, self.processes.world_size
        saved_size = int(state.get("world_size", 1))
        if saved_size == world_size:
            restore_rng([state["rng"], *state.get("rng_other_ranks", [])][rank])
            return
        if self.processes.is_main:
            log.warning(
                "%s was saved by %d process(es) and resumes on %d: model, optimiser, schedule "
                "and data order continue, but the random streams of the method are reseeded, "
                "so the run is no longer bit-identical to an uninterrupted one",
                self.path, saved_size, world_size,
            )  # fmt: skip
        seed_everything(rank_seed(self.config.seed, rank, self.step))

    def run(self, progress: bool, stop_at_step: int | None, log_every: int) -> PretrainResult:
        """Train up to the end (or ``stop_at_step``); checkpoint on every way out."""
        end = self.total_steps if stop_at_step is None else min(stop_at_step, self.total_steps)
        start_step, started = self.step, time.perf_counter()
        if self.started_at is None:
            self.started_at = time.time()
        boundary: dict[str, Any] | None = None  # RNG + sampler state before an unfinished step
        updating = False
        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            desc=f"pretrain {self.method.name}",
            unit="step",
            disable=not progress or not self.processes.is_main,
            dynamic_ncols=True,
        )
        try:
            with InterruptGuard() as guard:
                while self.step < end:
                    boundary = {"rng": capture_rng(), "sampler": self.sampler.state_dict()}
                    step_started = time.perf_counter()
                    lr, scalars = self._forward_backward()
                    with guard.critical():
                        updating = True
                        self.update()
                        updating, boundary = False, None
                    self._count_compile(time.perf_counter() - step_started)
                    epoch = (self.step - 1) // self.sampler.steps_per_epoch + 1
                    self.history.add({"step": self.step, "epoch": epoch, "lr": lr}, scalars)
                    if self.step % log_every == 0 or self.step == end:
                        self._report(bar, start_step, started)
                    if self.step % self.config.checkpoint_every == 0 and self.step < end:
                        self._save(started)
        except BaseException as error:
            if not updating and not isinstance(error, NonFiniteLossError):
                self._save_on_exit(started, boundary)
            raise
        finally:
            bar.close()
        self._save(started)
        return PretrainResult(
            checkpoint=self.path,
            steps=self.step,
            total_steps=self.total_steps,
            finished=self.step == self.total_steps,
            wall_time_s=self.elapsed_s,
            samples_per_s=self.step * self.sampler.global_batch / max(self.elapsed_s, 1e-9),
            history=self.history.rows(),
            steps_this_call=self.step - start_step,
            collapse=collapse_summary(self.method.collapse_rule(), self.history.columns),
            compile_s=self.compile_s,
            notes=tuple(self.notes),
        )

    @property
    def compile_s(self) -> float:
        """Wall seconds of the steps that compiled, over every call of this run."""
        return self.compile_before + self.compile_clock.compile_s

    def _count_compile(self, seconds: float) -> None:
        """Book a step's time as compile time when torch compiled during it (and log it)."""
        compiled = self.config.compile and self.compile_clock.add_step(seconds)
        if compiled and self.processes.is_main:
            log.info("step %d compiled in %.1f s", self.step, seconds)

    def _forward_backward(self) -> tuple[float, dict[str, Tensor]]:
        batch, lr = self.next_batch()
        scalars = self.forward(batch)
        self.backward(scalars)
        return lr, mean_over_processes(scalars, self.processes)

    # The parts of one step, in order (``bench.perf.measure`` times them one by one):
    # next_batch -> forward -> backward -> update.

    def next_batch(self) -> tuple[Tensor, float]:
        """This step's crops on the device, and its learning rate (set in the optimiser)."""
        batch = self.sampler.batch(self.step)
        lr = self.schedule(self.step)
        set_lr(self.optimizer, lr)
        return batch, lr

    def forward(self, batch: Tensor) -> dict[str, Tensor]:
        """Clear the gradients; the method's loss scalars on ``batch`` under autocast."""
        self.optimizer.zero_grad(set_to_none=True)
        autocast = (
            torch.autocast(self.device.type, dtype=self.dtype)
            if self.dtype is not None
            else nullcontext()
        )
        if self.cuda_graphs:  # a new step: the graphs may now overwrite the last step's outputs
            torch.compiler.cudagraph_mark_step_begin()
        with autocast:
            output = self.objective(batch)
        return loss_scalars(self.method, output)

    def backward(self, scalars: dict[str, Tensor]) -> None:
        """Back-propagate the loss; clip the gradient norm (into ``scalars["grad_norm"]``)."""
        scalars["loss"].backward()
        if self.config.grad_clip is not None:
            scalars["grad_norm"] = nn.utils.clip_grad_norm_(self.parameters, self.config.grad_clip)

    def update(self) -> None:
        """Optimiser step, then the method's step hook (no grad); advances ``step``."""
        self.optimizer.step()
        with torch.no_grad():
            self.method.on_step_end(self.step + 1, self.total_steps)
        self.step += 1

    def _report(self, bar: tqdm, start_step: int, started: float) -> None:
        self.history.flush()
        seconds = time.perf_counter() - started
        rate = (self.step - start_step) * self.sampler.global_batch / max(seconds, 1e-9)
        bar.update(self.step - bar.n)
        bar.set_postfix(loss=f"{self.history.columns['loss'][-1]:.4f}", samples_s=f"{rate:.0f}")

    def _save(self, started: float, boundary: dict[str, Any] | None = None) -> None:
        """Process 0 writes the checkpoint (every process's RNG state included) and history."""
        self.history.flush()
        current = boundary or {"rng": capture_rng(), "sampler": self.sampler.state_dict()}
        rng_states = gather_to_main(current["rng"], self.processes)
        elapsed = self.elapsed_before + time.perf_counter() - started
        if rng_states is not None:
            save_checkpoint(
                self.path,
                {
                    **self.header,
                    "model": self.method.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "schedule": vars(self.schedule).copy(),
                    "step": self.step,
                    "total_steps": self.total_steps,
                    "finished": self.step == self.total_steps,
                    "elapsed_s": elapsed,
                    "compile_s": self.compile_s,
                    "started_at": self.started_at,  # wall-clock span, epoch seconds
                    "saved_at": time.time(),
                    "samples_seen": self.step * self.sampler.global_batch,
                    "train_config": to_dict(self.config),
                    "history": self.history.state_dict(),
                    "collapse": collapse_summary(self.method.collapse_rule(), self.history.columns),
                    "notes": self.notes,
                    "sampler": current["sampler"],
                    "world_size": self.processes.world_size,
                    "rng": rng_states[0],
                    "rng_other_ranks": rng_states[1:],
                },
            )
            self.history.write_csv(self.path.with_name(HISTORY_NAME))
        barrier(self.processes)
        self.saved_step, self.elapsed_s = self.step, elapsed

    def _save_on_exit(self, started: float, boundary: dict[str, Any] | None) -> None:
        """Checkpoint the last completed step when a run stops on an error or Ctrl-C."""
        if self.step == self.saved_step:
            return
        if self.processes.world_size > 1:  # the processes may have stopped at different points
            if self.processes.is_main:
                log.warning(
                    "stopped at step %d on %d processes; no exit checkpoint, rerun to resume "
                    "from the last periodic one (step %d)",
                    self.step, self.processes.world_size, max(self.saved_step, 0),
                )  # fmt: skip
            return
        try:
            self._save(started, boundary)
        except NonFiniteLossError:
            log.warning("not checkpointing %s: the loss became non-finite", self.path)
        except Exception:
            log.exception("could not write the exit checkpoint %s", self.path)
        else:
            log.warning("stopped at step %d; checkpoint %s, rerun to resume", self.step, self.path)

"""Data-parallel pretraining (DDP) across the processes that ``torchrun`` starts.

Launch one pretraining on N processes (one GPU each on CUDA, N CPU processes otherwise)::

    torchrun --standalone --nproc-per-node N -m bench pretrain --method jepa --data ptbxl ...
    bench pretrain --nproc N --method jepa --data ptbxl ...      # the same, relaunched for you

Semantics the shared loop keeps under DDP:

- ``train.batch_size`` is the GLOBAL batch: each of N processes takes ``batch_size / N`` crops
  per step (it must divide), so one config gives the same steps, schedule and data order for
  any N, and the run key does not depend on N. A loss that is a mean over samples gets the
  same gradient as one process with the whole batch (DDP averages the processes' gradients);
  a loss that couples samples (in-batch negatives, batch statistics) sees only its process's
  share unless the method gathers it (``gather_with_grad``).
- Random draws inside ``loss`` (masks, augmentations) come from a stream per process: process 0
  is seeded with ``train.seed`` (as a single process is), process r > 0 with a seed derived
  from (seed, r). A random method therefore follows the single-process loss curve closely but
  not exactly; a method without randomness follows it to float rounding.
- ``on_step_end`` (EMA) runs on every process on identical, all-reduced parameters, so every
  copy stays the same; logged scalars are averaged over processes before they are logged.
- Only process 0 writes the checkpoint (holding every process's RNG state, gathered), the
  history CSV and the progress bar; barriers keep the others from racing ahead. Resuming with
  the same N is exact. With another N, the model, optimiser, schedule and data order continue
  unchanged; the per-process random streams cannot be carried over, so each process reseeds
  from (seed, rank, step) and a warning says the run is no longer bit-identical.
- Under more than one process a stop by an error or Ctrl-C writes no exit checkpoint (the
  processes may be mid-step at different points): rerunning resumes from the last periodic
  checkpoint (``train.checkpoint_every``).
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from bench.errors import ConfigError

log = logging.getLogger(__name__)

TORCHRUN_VARIABLES: tuple[str, ...] = ("WORLD_SIZE", "RANK", "LOCAL_RANK")


@dataclass(frozen=True)
class Processes:
    """Where this process stands in the process group (one process when there is none)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    distributed: bool = False  # inside an initialised process group (of any size)

    @property
    def is_main(self) -> bool:
        """Process 0: the one that writes files, logs and shows progress."""
        return self.rank == 0


def current_processes() -> Processes:
    """This process's rank and the group size; rank 0 of 1 outside a process group."""
    if not (dist.is_available() and dist.is_initialized()):
        return Processes()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    return Processes(dist.get_rank(), dist.get_world_size(), local_rank, distributed=True)


def launched_by_torchrun() -> bool:
    """True when torchrun's environment (WORLD_SIZE, RANK, LOCAL_RANK) is set."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


@contextmanager
def process_group() -> Iterator[Processes]:
    """Join torchrun's process group for the block, and leave it at the end (also on error).

    Outside torchrun, or when a group is already up (e.g. the CLI opened it), this does nothing
    and yields the current standing. With CUDA present the group has both backends (NCCL for
    CUDA tensors, gloo for CPU tensors and objects) and each process uses GPU ``LOCAL_RANK``.
    """
    if (dist.is_available() and dist.is_initialized()) or not launched_by_torchrun():
        yield current_processes()
        return
    local_rank = int(os.environ["LOCAL_RANK"])
    cuda = torch.cuda.is_available()
    if cuda and local_rank < torch.cuda.device_count():
        torch.cuda.set_device(local_rank)
    dist.init_process_group(
        "cpu:gloo,cuda:nccl" if cuda else "gloo",
        store=_fresh_store(),
        rank=int(os.environ["RANK"]),
        world_size=int(os.environ["WORLD_SIZE"]),
    )
    try:
        yield current_processes()
    finally:
        dist.destroy_process_group()


_rendezvous_store: dist.Store | None = None
_groups_opened = itertools.count()


def _fresh_store() -> dist.Store:
    """torchrun's key-value store under a prefix of its own for each group this process opens.

    torch names every new default group alike, so a group opened after another was destroyed
    would read the old one's addresses; the store is joined once and prefixed per group (every
    process opens its groups in the same order, so the prefixes agree).
    """
    global _rendezvous_store
    if _rendezvous_store is None:
        _rendezvous_store, _, _ = next(dist.rendezvous("env://"))
    return dist.PrefixStore(f"bench-group-{next(_groups_opened)}", _rendezvous_store)


def training_device(device: torch.device, processes: Processes) -> torch.device:
    """``device`` for this process: GPU ``LOCAL_RANK`` on CUDA in a process group."""
    if device.type != "cuda" or not processes.distributed:
        return device
    if processes.local_rank >= torch.cuda.device_count():
        raise ConfigError(
            f"process {processes.rank} wants GPU {processes.local_rank} but this machine has "
            f"{torch.cuda.device_count()}; start at most one process per GPU"
        )
    return torch.device("cuda", processes.local_rank)


def local_batch_size(global_batch: int, processes: Processes) -> int:
    """This process's share of the global ``train.batch_size``."""
    if global_batch % processes.world_size:
        raise ConfigError(
            f"train.batch_size = {global_batch} is the global batch and must divide evenly "
            f"among the {processes.world_size} processes"
        )
    return global_batch // processes.world_size


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """Seed of process ``rank``'s random stream: ``seed`` itself for rank 0 at step 0, else a
    number derived from (seed, rank, step) that no other rank or step shares."""
    if rank == 0 and step == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank, step]).generate_state(1)[0])


def data_parallel(module: nn.Module, processes: Processes, find_unused: bool) -> nn.Module:
    """``module`` wrapped in DistributedDataParallel inside a process group, else as is."""
    if not processes.distributed:
        return module
    device = next(module.parameters()).device
    return DistributedDataParallel(
        module,
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=find_unused,
    )


def mean_over_processes(scalars: Mapping[str, Tensor], processes: Processes) -> dict[str, Tensor]:
    """0-d tensors averaged over the processes (one all-reduce); unchanged with one process."""
    if not processes.distributed or processes.world_size == 1:
        return dict(scalars)
    stacked = torch.stack([value.detach().float() for value in scalars.values()])
    dist.all_reduce(stacked)
    return dict(zip(scalars, stacked / processes.world_size, strict=True))


def gather_to_main(value: Any, processes: Processes) -> list[Any] | None:
    """Every process's ``value`` (picklable) as a list on process 0, None elsewhere."""
    if not processes.distributed:
        return [value]
    gathered: list[Any] | None = [None] * processes.world_size if processes.is_main else None
    dist.gather_object(value, gathered, dst=0)
    return gathered


def all_gather_values(value: Any, processes: Processes) -> list[Any]:
    """Every process's ``value`` (picklable), on every process."""
    if not processes.distributed:
        return [value]
    gathered: list[Any] = [None] * processes.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(processes: Processes) -> None:
    """Wait until every process gets here (no-op with one process)."""
    if processes.distributed:
        dist.barrier()


@contextmanager
def main_process_first(processes: Processes) -> Iterator[None]:
    """Run the block on process 0 first, then on the others (e.g. to build a cache once)."""
    if not processes.is_main:
        barrier(processes)
    yield
    if processes.is_main:
        barrier(processes)


def gather_with_grad(x: Tensor) -> Tensor:
    """``x`` [B, ...] of every process concatenated along dim 0 (rank order), differentiable.

    For losses that need the whole global batch, e.g. in-batch negatives of a contrastive loss:
    every process computes the same loss on the gathered batch, and each process's slice gets
    the sum of all processes' gradients (N times its share), which DDP's average over the N
    processes brings back to the gradient of that loss. Every process must pass the same
    shape. Returns ``x`` itself outside a process group or with one process.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0; backward sums the gathered gradient over the processes and
    hands each process its own slice."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        summed = grad.contiguous().clone()
        dist.all_reduce(summed)
        return summed.chunk(dist.get_world_size(), dim=0)[dist.get_rank()]


def torchrun_command(nproc: int, bench_arguments: Sequence[str]) -> list[str]:
    """The command line that runs ``bench <bench_arguments>`` on ``nproc`` local processes."""
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc-per-node={nproc}", "-m", "bench", *bench_arguments,
    ]  # fmt: skip


def relaunch_under_torchrun(nproc: int, bench_arguments: Sequence[str]) -> int:
    """Run ``bench <bench_arguments>`` through torchrun on ``nproc`` processes; its exit code."""
    if nproc < 1:
        raise ConfigError(f"--nproc = {nproc} must be at least 1")
    if launched_by_torchrun():
        raise ConfigError("--nproc cannot be used inside torchrun; torchrun already set the size")
    command = torchrun_command(nproc, bench_arguments)
    log.info("relaunching on %d processes: %s", nproc, " ".join(command))
    return subprocess.run(command, check=False).returncode

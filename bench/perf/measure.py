"""``bench perf``: pretraining speed per method and size through the shared loop's own pieces.

Each row builds a method exactly as a pretraining under the profile would (its input spec from
the profile's leads, rate and window; the method config of the profile section, its ``size``
overridden on request) and builds ``bench.training.loop.TrainingLoop`` around it on synthetic
records of the right shape (the loop places them on the device and crops there, as in a real
run). It then runs warm-up and timed steps made of the loop's parts in the loop's order:
``next_batch`` (data), ``forward`` (loss under autocast), ``backward`` then ``update``
(gradients, clipping, AdamW, ``on_step_end``). What a real run does beyond these parts (history,
progress bar, periodic checkpoints, signal guards) is left out. FLOPs of one step are counted
once afterwards (see ``bench.perf.flops``), in eager mode.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.config import check_range, deep_merge, replace
from bench.data.preprocess import LEAD_SETS
from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.grid.profiles import load_profile
from bench.method import METHODS
from bench.perf.flops import count_flops, device_peak_tflops, model_flop_utilisation
from bench.perf.matmul_peak import cached_matmul_tflops
from bench.perf.timing import PartClock, PeakMemory
from bench.training.choices import CudaGraphs, DeviceChoice, Precision
from bench.training.compile import CompileClock
from bench.training.config import TrainConfig, resolve_device
from bench.training.loop import Objective, TrainingLoop
from bench.training.run_files import CHECKPOINT_NAME
from bench.training.spec import PretrainSetup
from bench.training.state import seed_everything

RECORD_S = 10.0
"""Length of the synthetic records in seconds (PTB-XL's); crops are cut from them."""
MAX_BATCHES_OF_RECORDS = 32
"""Synthetic records per row: one batch per warm-up and timed step, at most this many."""
PARTS: tuple[str, ...] = ("data", "forward", "backward")
NO_SIZE = "-"
"""Size label of a method whose config has no ``size`` field (run at its profile config)."""


@dataclass(frozen=True)
class PerfOptions:
    """What ``bench perf`` measures; ``overrides`` are ``--set`` items as nested dicts."""

    methods: tuple[str, ...] = ("all",)
    sizes: tuple[str, ...] | None = None  # None: each method's size under the profile
    profile: str = "smoke"
    batch_size: int | None = None
    steps: int = 10
    warmup: int = 3
    device: DeviceChoice = "auto"
    precision: Precision = "auto"
    compile: bool = False
    cuda_graphs: CudaGraphs = "auto"
    peak_tflops: float | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_range("--steps", self.steps, 1)
        check_range("--warmup", self.warmup, 0)
        if self.batch_size is not None:
            check_range("--batch-size", self.batch_size, 1)
        if self.peak_tflops is not None and not self.peak_tflops > 0:
            raise ConfigError(f"--peak-tflops = {self.peak_tflops} must be positive")
        if not self.methods:
            raise ConfigError("--methods needs at least one method name (or 'all')")
        if self.sizes is not None and not self.sizes:
            raise ConfigError("--sizes needs at least one size")


@dataclass(frozen=True)
class PerfCase:
    """One row to measure: a method at a size, resolved under the profile."""

    method: str
    size: str
    setup: PretrainSetup
    input_spec: InputSpec
    train: TrainConfig


@dataclass(frozen=True)
class PerfRow:
    """Measured speed of one method x size; times are per step, in seconds."""

    method: str
    size: str
    device: str
    precision: str
    batch_size: int
    steps: int
    params: int
    step_s: float
    data_s: float
    forward_s: float
    backward_s: float
    peak_memory_bytes: int
    flops_per_step: int
    peak_tflops: float | None
    mfu: float | None
    matmul_tflops: float
    compile_s: float = 0.0  # wall time of the warm-up steps that ran torch.compile
    cuda_graphs: bool = False  # the compiled step ran as CUDA graphs (train.cuda_graphs)

    @property
    def samples_per_s(self) -> float:
        """Crops trained per second."""
        return self.batch_size / self.step_s

    def share(self, part: str) -> float:
        """Fraction of the step spent in ``part`` (data, forward or backward)."""
        return float(getattr(self, f"{part}_s")) / self.step_s

    @property
    def flops_per_sample(self) -> float:
        """Counted FLOPs of one step per crop."""
        return self.flops_per_step / self.batch_size

    @property
    def achieved_tflops(self) -> float:
        """Counted FLOPs per second, in TFLOP/s."""
        return self.flops_per_step / self.step_s / 1e12

    @property
    def matmul_share(self) -> float:
        """Achieved FLOP/s over the device's measured matmul peak at this precision."""
        return self.achieved_tflops / self.matmul_tflops


@dataclass(frozen=True)
class Skipped:
    """A method x size that could not be built or run, and why."""

    method: str
    size: str
    reason: str


def selected_methods(names: tuple[str, ...]) -> list[str]:
    """Registered methods that pretrain ("all"), or the named ones (baselines refused)."""
    if names == ("all",):
        return [name for name in METHODS.names() if METHODS.get(name).needs_pretraining]
    for name in names:
        if not METHODS.get(name).needs_pretraining:
            raise ConfigError(f"method {name!r} is a baseline without pretraining; nothing to time")
    return list(dict.fromkeys(names))


def input_spec_of(setup: PretrainSetup, profile: str) -> InputSpec:
    """Crops the pretraining would take: the profile's leads and rate, ``window_s`` long."""
    rate = setup.preprocessing.rate
    if rate is None:
        raise ConfigError(
            f"profile {profile} keeps each dataset's native rate; bench perf needs one, "
            "e.g. --set preprocessing.rate=100"
        )
    n_samples = round(setup.window_s * rate)
    if n_samples < 1:
        raise ConfigError(f"window_s = {setup.window_s} is shorter than one sample at {rate} Hz")
    return InputSpec(len(LEAD_SETS[setup.preprocessing.leads]), n_samples, rate)


def plan_cases(options: PerfOptions) -> tuple[list[PerfCase], list[Skipped]]:
    """Every method x size to measure; a size no method's config accepts is a ConfigError."""
    profile = load_profile(options.profile)
    resolve_device(options.device)  # ConfigError now when CUDA is asked for but absent
    execution: dict[str, Any] = {
        "device": options.device,
        "precision": options.precision,
        "compile": options.compile,
        "cuda_graphs": options.cuda_graphs,
    }
    if options.batch_size is not None:
        execution["batch_size"] = options.batch_size
    cases: list[PerfCase] = []
    skipped: list[Skipped] = []
    rejected: dict[str, list[str]] = {}
    for method in selected_methods(options.methods):
        sized = "size" in {f.name for f in dataclasses.fields(METHODS.get(method).config_class)}
        for size in options.sizes if sized and options.sizes else (None,):
            overrides = deep_merge(options.overrides, {"method": {"size": size}} if size else {})
            try:
                setup = profile.resolve(method, overrides)
            except ConfigError as error:
                rejected.setdefault(size or NO_SIZE, []).append(f"{method}: {error}")
                skipped.append(Skipped(method, size or NO_SIZE, str(error)))
                continue
            train = replace(setup.train, execution, where="bench perf")
            label = str(getattr(setup.method_config, "size", NO_SIZE))
            cases.append(PerfCase(method, label, setup, input_spec_of(setup, profile.name), train))
    for size, reasons in rejected.items():
        if size != NO_SIZE and not any(case.size == size for case in cases):
            raise ConfigError(f"no method accepts size {size!r}: " + "; ".join(reasons))
    return cases, skipped


def synthetic_records(case: PerfCase, steps: int) -> np.ndarray:
    """Seeded Gaussian records [N, leads, T] of PTB-XL's length, one batch per step (capped)."""
    spec = case.input_spec
    length = max(spec.n_samples, round(RECORD_S * spec.sampling_rate))
    n_records = case.train.batch_size * min(steps, MAX_BATCHES_OF_RECORDS)
    generator = torch.Generator().manual_seed(case.train.seed)
    return torch.randn(n_records, spec.n_leads, length, generator=generator).numpy()


def run_step(loop: TrainingLoop, clock: PartClock | None = None) -> None:
    """One optimiser step from the loop's own parts, marking the end of each on ``clock``."""
    batch, _ = loop.next_batch()
    if clock is not None:
        clock.mark()
    scalars = loop.forward(batch)
    if clock is not None:
        clock.mark()
    loop.backward(scalars)
    loop.update()
    if clock is not None:
        clock.mark()


def count_step_flops(loop: TrainingLoop) -> int:
    """FLOPs of one forward + backward of the next batch, in eager mode (no optimiser step).

    A compiled objective is swapped for the eager one while counting: the counter cannot see
    into compiled graphs. Gradients are cleared afterwards; ``loop.step`` does not advance.
    """
    objective = loop.objective
    loop.objective = Objective(loop.method)
    try:
        batch, _ = loop.next_batch()
        return count_flops(lambda: loop.backward(loop.forward(batch)))
    finally:
        loop.objective = objective
        loop.optimizer.zero_grad(set_to_none=True)


def measure(case: PerfCase, options: PerfOptions) -> PerfRow:
    """Build ``case`` as a pretraining would, run warm-up and timed steps, count FLOPs."""
    device = resolve_device(case.train.device)
    records = synthetic_records(case, options.warmup + options.steps)
    memory = PeakMemory(device)
    memory.start()
    seed_everything(case.train.seed)
    method = case.setup.method(case.setup.method_config, case.input_spec)
    with tempfile.TemporaryDirectory(prefix="bench-perf-") as folder:  # the loop never saves
        loop = TrainingLoop(method, records, case.train, Path(folder) / CHECKPOINT_NAME, {})
        compiling = CompileClock()
        for _ in range(options.warmup):
            started = time.perf_counter()
            run_step(loop)
            compiling.add_step(time.perf_counter() - started)
        clock = PartClock(loop.device, len(PARTS))
        clock.start()
        for _ in range(options.steps):
            run_step(loop, clock)
        clock.finish()
        placed = loop.sampler.records
        peak = memory.peak_bytes() - (placed.nbytes if placed.device.type == "cuda" else 0)
        flops = count_step_flops(loop)
    parts = [total / options.steps for total in clock.part_seconds()]
    step_s = clock.wall_s / options.steps
    peak_tflops = device_peak_tflops(loop.device, loop.dtype, options.peak_tflops)
    return PerfRow(
        method=case.method,
        size=case.size,
        device=device_label(loop.device),
        precision="bf16" if loop.dtype == torch.bfloat16 else "fp32",
        batch_size=case.train.batch_size,
        steps=options.steps,
        params=sum(p.numel() for p in loop.parameters),
        step_s=step_s,
        data_s=parts[0],
        forward_s=parts[1],
        backward_s=parts[2],
        peak_memory_bytes=max(0, peak),
        flops_per_step=flops,
        peak_tflops=peak_tflops,
        mfu=model_flop_utilisation(flops, step_s, peak_tflops),
        matmul_tflops=cached_matmul_tflops(loop.device, loop.dtype, torch.get_num_threads()),
        compile_s=compiling.compile_s,
        cuda_graphs=loop.cuda_graphs,
    )


def device_label(device: torch.device) -> str:
    """``cpu`` or the CUDA device's name."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def run_perf(
    options: PerfOptions, on_row: Callable[[PerfRow | Skipped], None] | None = None
) -> tuple[list[PerfRow], list[Skipped]]:
    """Measure every planned case in turn; ``on_row`` sees each result as it comes.

    A case whose method cannot be built for the profile's input (ConfigError, e.g. too few
    patches to mask) is skipped with its reason; if no case could be measured at all, the
    reasons are raised as one ConfigError.
    """
    cases, skipped = plan_cases(options)
    rows: list[PerfRow] = []
    for case in cases:
        result: PerfRow | Skipped
        try:
            result = measure(case, options)
        except (ConfigError, torch.cuda.OutOfMemoryError) as error:
            reason = str(error).splitlines()[0]
            if isinstance(error, torch.cuda.OutOfMemoryError):
                reason = f"out of GPU memory at batch {case.train.batch_size}: {reason}"
            result = Skipped(case.method, case.size, reason)
            skipped.append(result)
        else:
            rows.append(result)
        if on_row is not None:
            on_row(result)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # the next row's peak starts from a clean cache
    if not rows:
        reasons = "; ".join(f"{s.method} {s.size}: {s.reason}" for s in skipped)
        raise ConfigError(f"bench perf measured nothing: {reasons}")
    return rows, skipped


def step_time_for_mfu(row: PerfRow, mfu: float, peak_tflops: float) -> float:
    """Seconds per step that reaching ``mfu`` of ``peak_tflops`` would take."""
    if not 0 < mfu <= 1 or not peak_tflops > 0 or not math.isfinite(peak_tflops):
        raise ConfigError(f"need 0 < mfu <= 1 and a positive peak, got {mfu}, {peak_tflops}")
    return row.flops_per_step / (mfu * peak_tflops * 1e12)

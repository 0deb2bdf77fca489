"""One pretraining from a profile: plan it (setup, key, run folder), then run it once.

``bench pretrain`` and the grid runner share this path, so a pretraining planned twice with
the same inputs lands in the same folder and is trained only once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.data.signals import SignalSet
from bench.encoders.base import InputSpec
from bench.errors import ConfigError, DataError
from bench.paths import results_dir
from bench.training.loop import pretrain
from bench.training.result import PretrainResult
from bench.training.spec import PretrainSetup, PretrainSpec, pretrain_key
from bench.training.state import seed_everything


@dataclass(frozen=True)
class PretrainPlan:
    """A resolved pretraining: its setup, spec, key and run folder."""

    setup: PretrainSetup
    spec: PretrainSpec
    key: str
    run_dir: Path


def input_spec_for(data: SignalSet, window_s: float) -> InputSpec:
    """Crops of ``window_s`` seconds of every lead of ``data``, at its sampling rate."""
    n_samples = round(window_s * data.sampling_rate)
    length = data.signals.shape[-1]
    if not 1 <= n_samples <= length:
        raise ConfigError(
            f"window_s = {window_s} gives {n_samples} samples at {data.sampling_rate} Hz; "
            f"{data.name} records have {length} samples ({length / data.sampling_rate:g} s)"
        )
    return InputSpec(len(data.lead_names), n_samples, data.sampling_rate)


def plan_pretraining(setup: PretrainSetup, dataset: str, data: SignalSet) -> PretrainPlan:
    """Key and run folder (results/pretrain/<method>-<key>) of ``setup`` on ``data``.

    ``data`` is the dataset ``dataset`` loaded with ``setup.preprocessing``.
    """
    if not setup.method.needs_pretraining:
        raise ConfigError(f"method {setup.method.name!r} is a baseline without pretraining")
    spec = PretrainSpec(
        method=setup.method.name,
        method_config=setup.method_config,
        dataset=dataset,
        data_fingerprint=data.fingerprint,
        preprocessing=setup.preprocessing,
        input_spec=input_spec_for(data, setup.window_s),
        window_s=setup.window_s,
        train=setup.train,
    )
    key = pretrain_key(spec)
    run_dir = results_dir() / "pretrain" / f"{spec.method}-{key}"
    return PretrainPlan(setup=setup, spec=spec, key=key, run_dir=run_dir)


def run_pretraining(plan: PretrainPlan, data: SignalSet, progress: bool = True) -> PretrainResult:
    """Build the method under the seed and pretrain it on the training folds of ``data``.

    Returns at once (loading the stored result) when the run folder holds a finished run.
    """
    rows = data.split_indices("train")
    if len(rows) == 0:
        raise DataError(f"{data.name} has no records in the training folds (1-8)")
    seed_everything(plan.setup.train.seed)
    method = plan.setup.method(plan.setup.method_config, plan.spec.input_spec)
    return pretrain(
        method,
        data.signals[rows],
        plan.setup.train,
        plan.run_dir,
        info={"pretrain_key": plan.key, **plan.spec.document()},
        progress=progress,
    )

"""One pretraining from a profile: plan it (setup, key, run folder), then run it once.

``bench pretrain`` and the grid runner share this path, so a pretraining planned twice with
the same inputs lands in the same folder and is trained only once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bench.atomic import atomic_write
from bench.data.corpus.resolve import ResolvedCorpus
from bench.data.signals import SignalSet
from bench.encoders.base import InputSpec
from bench.errors import ConfigError, DataError
from bench.paths import results_dir
from bench.training.loop import pretrain
from bench.training.result import PretrainResult
from bench.training.spec import PretrainSetup, PretrainSpec, pretrain_key
from bench.training.state import seed_everything

CORPUS_MANIFEST = "corpus.json"


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


def corpus_input_spec(corpus: ResolvedCorpus, window_s: float) -> InputSpec:
    """Crops of ``window_s`` seconds of every lead of the corpus, at its rate."""
    rate = corpus.records.sampling_rate
    n_samples = round(window_s * rate)
    longest = int(corpus.records.lengths.max())
    if not 1 <= n_samples <= longest:
        raise ConfigError(
            f"window_s = {window_s} gives {n_samples} samples at {rate} Hz; the records of "
            f"corpus {corpus.spec.name} have at most {longest} samples"
        )
    return InputSpec(corpus.records.n_leads, n_samples, rate)


def plan_pretraining(
    setup: PretrainSetup,
    dataset: str,
    data: SignalSet | None,
    corpus: ResolvedCorpus | None = None,
) -> PretrainPlan:
    """Key and run folder (results/pretrain/<method>-<key>) of ``setup`` on ``data``.

    ``data`` is the dataset ``dataset`` loaded with ``setup.preprocessing``; with ``corpus``
    (loaded with the same preprocessing) the pretraining uses the corpus instead, and its key
    names the corpus.
    """
    if not setup.method.needs_pretraining:
        raise ConfigError(f"method {setup.method.name!r} is a baseline without pretraining")
    if corpus is not None:
        name, fingerprint = corpus.spec.name, corpus.fingerprint
        input_spec = corpus_input_spec(corpus, setup.window_s)
    elif data is not None:
        name, fingerprint = dataset, data.fingerprint
        input_spec = input_spec_for(data, setup.window_s)
    else:
        raise ConfigError(f"pretraining {setup.method.name} on {dataset}: no data to plan on")
    spec = PretrainSpec(
        method=setup.method.name,
        method_config=setup.method_config,
        dataset=name,
        data_fingerprint=fingerprint,
        preprocessing=setup.preprocessing,
        input_spec=input_spec,
        window_s=setup.window_s,
        train=setup.train,
        corpus=None if corpus is None else corpus.document,
    )
    key = pretrain_key(spec)
    run_dir = results_dir() / "pretrain" / f"{spec.method}-{key}"
    return PretrainPlan(setup=setup, spec=spec, key=key, run_dir=run_dir)


def run_pretraining(
    plan: PretrainPlan,
    data: SignalSet | None,
    progress: bool = True,
    corpus: ResolvedCorpus | None = None,
) -> PretrainResult:
    """Build the method under the seed and pretrain it on the training folds of ``data``, or
    on ``corpus`` when the plan names one (its exclusion report lands in ``corpus.json`` of
    the run folder and in the checkpoint's info).

    Returns at once (loading the stored result) when the run folder holds a finished run.
    """
    info = {"pretrain_key": plan.key, **plan.spec.document()}
    if plan.spec.corpus is not None:
        if corpus is None or corpus.document != dict(plan.spec.corpus):
            raise ConfigError(
                f"pretraining {plan.key} is planned on corpus {plan.spec.dataset}; pass that "
                "corpus (resolved with the same datasets and exclusions)"
            )
        report = corpus.report()
        write_corpus_manifest(plan.run_dir, corpus.document, report)
        info["corpus_report"] = report
        signals = corpus.records.training_signals()
    else:
        if data is None:
            raise ConfigError(f"pretraining {plan.key} needs its dataset {plan.spec.dataset}")
        rows = data.split_indices("train")
        if len(rows) == 0:
            raise DataError(f"{data.name} has no records in the training folds (1-8)")
        signals = data.signals[rows]
    seed_everything(plan.setup.train.seed)
    method = plan.setup.method(plan.setup.method_config, plan.spec.input_spec)
    return pretrain(method, signals, plan.setup.train, plan.run_dir, info=info, progress=progress)


def write_corpus_manifest(run_dir: Path, document: dict, report: dict) -> Path:
    """``corpus.json`` in ``run_dir``: the corpus as keyed and its exclusion report."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / CORPUS_MANIFEST
    blob = json.dumps({"corpus": document, "report": report}, indent=1, default=int).encode()
    atomic_write(path, lambda handle: handle.write(blob))
    return path

"""Noise robustness of one cell (``evaluation.noise``, see ``bench.evaluation.robustness``):
the noisy test inputs of its protocol, made once per process and shared by every cell that
can use them (the noisy records per task and preprocessing, their embeddings per encoder)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.config import to_dict
from bench.data.formats.ragged import Ragged
from bench.data.loading import DATASETS, resolve_root
from bench.data.signals import SignalSet
from bench.evaluation.noise import check_physical
from bench.evaluation.robustness import NoisyTest, level_metrics, noisy_records
from bench.evaluation.tokens import record_tokens
from bench.evaluation.windows import apply_windowed
from bench.grid.plan import Cell
from bench.grid.workspace import Workspace
from bench.paths import cache_dir
from bench.task import TaskData


def stored_dataset(workspace: Workspace, name: str, rate: int | None) -> SignalSet:
    """Dataset ``name`` as its source stores it (before preprocessing), at the native rate its
    source picks for ``rate`` (the one the cell's clean records were resampled from)."""
    key = ("stored", name, rate)
    if key not in workspace.noise_memo:
        root = resolve_root(name, workspace.data_roots.get(name))
        workspace.noise_memo[key] = DATASETS.get(name).load(root, rate, cache_dir())
    return workspace.noise_memo[key]


def check_noise_inputs(cells: Sequence[Cell], workspace: Workspace) -> None:
    """ConfigError before anything runs when a cell would add millivolt noise to a dataset
    whose stored test records are not in mV (z-scored, such as the PTB-XL subset)."""
    checked = set()
    for cell in cells:
        if not cell.unit.evaluation.noise.levels:
            continue
        where = (cell.task.dataset, cell.unit.setup.preprocessing.rate)
        if where not in checked:
            checked.add(where)
            stored = stored_dataset(workspace, *where)
            test = stored.split_indices("test")
            check_physical([stored.signals[int(row)] for row in test], stored.name)


def noisy_test(cell: Cell, workspace: Workspace, data: TaskData, test: np.ndarray) -> NoisyTest:
    """The cell's test records (rows ``test`` of ``data``) at each of its noise levels, after
    the cell's preprocessing. Refuses data not in mV before anything is trained."""
    noise = cell.unit.evaluation.noise
    preprocessing = cell.unit.setup.preprocessing
    ids = data.record_ids[test]
    key = ("records", cell.task.dataset, preprocessing.key(), _options(cell), ids.tobytes())
    if key not in workspace.noise_memo:  # tasks of one dataset share their test records
        stored = stored_dataset(workspace, cell.task.dataset, preprocessing.rate)
        workspace.noise_memo[key] = noisy_records(stored, ids, preprocessing, noise)
    return workspace.noise_memo[key]


def noisy_inputs(cell: Cell, workspace: Workspace, noisy: NoisyTest) -> list[Any]:
    """The protocol's inputs at each level, in level order: the noisy signals (fine-tuning),
    their frozen embeddings (linear probe, k-NN; the mean window embedding, as the clean cache)
    or their tokens (attentive probe, as the clean token cache)."""
    levels = cell.unit.evaluation.noise.levels
    if cell.protocol == "finetune":
        return [noisy.signals[level] for level in levels]
    kind = "tokens" if cell.protocol == "attentive" else "embeddings"
    key = (kind, workspace.encoder_key(cell.unit, cell.seed), cell.task.dataset)
    key += (cell.unit.setup.preprocessing.key(), _options(cell), noisy.digests[levels[0]])
    if key not in workspace.noise_memo:
        encoder = workspace.encoder(cell.unit, cell.seed).to(workspace.device).eval()
        window, stride = workspace.window(workspace.unit_data(cell.unit), cell.unit)
        batch = cell.unit.evaluation.batch_size
        steps = cell.unit.evaluation.attentive.steps
        device = workspace.device
        workspace.noise_memo[key] = [
            record_tokens(encoder, noisy.signals[level], window, stride, steps, device, batch)
            if kind == "tokens"
            else _embed(noisy.signals[level], encoder.embed, window, stride, workspace, batch)
            for level in levels
        ]
    return workspace.noise_memo[key]


def _embed(
    signals: np.ndarray | Ragged,
    embed: Any,
    window: int,
    stride: int,
    workspace: Workspace,
    batch: int,
) -> np.ndarray:
    return apply_windowed(signals, embed, window, stride, "mean", workspace.device, batch)


def _options(cell: Cell) -> str:
    return json.dumps(to_dict(cell.unit.evaluation.noise), sort_keys=True)


def noise_metrics(
    cell: Cell, data: TaskData, test: np.ndarray, scores: Sequence[np.ndarray]
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """The main metric (and CI) at each level from the selected model's ``scores`` of the noisy
    test inputs (level order), with the test resamples of the cell's clean CIs."""
    evaluation = cell.unit.evaluation
    order = np.argsort(data.record_ids[test], kind="stable")
    levels = evaluation.noise.levels
    by_level = {level: score[order] for level, score in zip(levels, scores, strict=True)}
    bootstrap = (evaluation.n_boot, evaluation.boot_seed, evaluation.ci_level)
    y_true = data.labels[test][order]
    return level_metrics(cell.task.kind, cell.task.main_metric, y_true, by_level, bootstrap)

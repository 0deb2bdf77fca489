"""The matrix-product FLOPs (``bench.perf.flops.count_flops``) of what a planned grid computes,
one real step or a few windows of each distinct shape, multiplied out:

- pretraining: one step of each distinct pretraining (its ``TrainingLoop`` on the real training
  records, ``bench.perf.measure.count_step_flops``; the mean over ``pretrain_draws`` draws
  of the method's random masks, which change JEPA's token counts) x its ``total_steps``; the
  pretraining seeds of one setup share the count (``seedless_setup``; so do its fine-tune
  steps);
- fine-tune train: per cell, one step per stage at the batch the fine-tune uses
  (``min(batch_size, labelled records)``; a step larger than 4 records is counted at 2 and 4
  and extrapolated, exactly: its matrix products are affine in the batch) x the stage's
  planned steps (``planned_steps`` split by
  ``plan_stages``; a frozen-encoder stage is the no-grad encoder forward + the head);
  early stopping is ignored (planned steps: an upper bound where a stage has ``patience``
  evaluations or more; the smoke profile's 2 evaluations never stop early);
- fine-tune scoring: the validation windows x each evaluation of the plan (a frozen-encoder
  evaluation applies the head only: the encoder's features, memoised per process, are counted
  once per encoder and validation fold, as one process computes them), plus the test windows
  once, forward only;
- linear embedding: the encoder forward over every window of the unit's dataset, once per
  encoder (the embeddings are cached on disk per encoder: a cold cache is counted).

FLOPs are linear in the batch for these models, so a window's forward is counted on two
windows and scaled. Not counted (not matrix products): the linear probes' L-BFGS fits (timed
instead by benchmarks/machine_rates.py), the bootstrap CIs, data loading, optimiser updates
and element-wise work. Noise robustness scoring and segmentation cells are refused.

``train_records`` counts a dataset as if it held that many training records (every split
scaled by the same factor; the shapes, so the FLOPs of one step or window, are those of the
loaded data): the counts need only the sizes, so a subset stands for the full dataset.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from bench.data.formats.ragged import Ragged
from bench.encoders.base import Encoder
from bench.errors import ConfigError
from bench.evaluation.finetune import Classifier, head_spec, planned_steps
from bench.evaluation.finetune_stages import Stage, plan_stages
from bench.evaluation.fractions import task_fraction_rows, task_validation_rows
from bench.evaluation.windows import window_starts
from bench.grid.plan import Cell
from bench.grid.unit import Unit
from bench.grid.workspace import Workspace
from bench.perf.finetune_step import TrainStep
from bench.perf.flops import count_flops
from bench.perf.grid_counts import FinetuneCount, GridCount, Item, PretrainCount
from bench.perf.measure import count_step_flops
from bench.task import TaskData
from bench.training.loop import TrainingLoop
from bench.training.planning import input_spec_for
from bench.training.run_files import CHECKPOINT_NAME
from bench.training.state import seed_everything

log = logging.getLogger(__name__)

COUNTED_BATCHES = (2, 4)
"""The batches a fine-tune step is counted at; larger batches are extrapolated from them."""


def n_windows(signals: np.ndarray | Ragged, window: int, stride: int) -> int:
    """Windows ``window_chunks`` cuts from ``signals`` (short ragged records padded to one)."""
    if isinstance(signals, Ragged):
        lengths, counts = np.unique(np.maximum(signals.lengths, window), return_counts=True)
        return sum(
            len(window_starts(int(n), window, stride)) * int(c)
            for n, c in zip(lengths, counts, strict=True)
        )
    return len(signals) * len(window_starts(signals.shape[-1], window, stride))


def evaluation_plan(stages: Sequence[Stage], total: int, evaluations: int) -> list[list[str]]:
    """Per stage, the trained part at each validation of ``_Run.train_stage`` (no early stop):
    every ``total // evaluations`` steps of the whole run and at the end of each stage."""
    every, done, plan_ = max(1, total // evaluations), 0, []
    for stage in stages:
        marks = []
        for step in range(stage.steps):
            done += 1
            if done % every == 0 or step + 1 == stage.steps:
                marks.append(stage.trains)
        plan_.append(marks)
    return plan_


def seedless_setup(unit: Unit) -> str:
    """What decides the FLOPs of a unit's pretraining or fine-tune step: everything but its
    seed (the weights do not change FLOPs; one seed's random draws stand for the others')."""
    train = dataclasses.replace(unit.setup.train, seed=0)
    return repr(
        (unit.method, unit.dataset, unit.corpus, dataclasses.replace(unit.setup, train=train))
    )


class GridCounter:
    """Counts a workspace's cells, building each encoder and head as the grid does (untrained:
    FLOPs do not depend on the weights) and memoising per distinct shape."""

    def __init__(
        self,
        workspace: Workspace,
        pretrain_draws: int = 16,
        train_records: Mapping[str, int] | None = None,
    ):
        self.workspace = workspace
        self.pretrain_draws = pretrain_draws
        self.train_records = dict(train_records or {})
        self._encoders: dict[str, Encoder] = {}
        self._steps: dict[tuple[str, str, int, str], int] = {}
        self._windows: dict[tuple[str, int], tuple[int, int]] = {}
        self._embed: dict[str, int] = {}
        self._draws: dict[str, tuple[int, ...]] = {}  # by seedless_setup

    def scale(self, unit: Unit) -> float:
        """How many times its records the unit's dataset is counted (``train_records``)."""
        target = self.train_records.get(unit.dataset)
        if target is None:
            return 1.0
        data = self.workspace.dataset(unit.dataset, unit.setup.preprocessing)
        return target / len(data.split_indices("train"))

    def count(self, cells: Sequence[Cell]) -> GridCount:
        """Every pretraining, fine-tune cell and embedding of ``cells``."""
        counted = GridCount()
        units = {c.unit.key: c.unit for c in cells}
        for unit in units.values():
            if unit.needs_pretraining:
                pretraining = counted.pretrainings[unit.key] = self.pretraining(unit)
                counted.items.append(Item("pretraining", unit.method, pretraining.flops))
        frozen: set[tuple[str, str, bytes]] = set()
        embedded: set[str] = set()
        for cell in cells:
            if cell.task.kind == "segmentation" or cell.unit.evaluation.noise.enabled:
                raise ConfigError(
                    f"{cell.unit.method} / {cell.task.name}: segmentation cells and noise "
                    "robustness scoring are not counted; leave them out of the grid"
                )
            if cell.protocol == "finetune":
                self._add_finetune(cell, counted, frozen)
            else:
                key = Workspace.encoder_key(cell.unit, cell.seed)
                if key not in embedded:
                    embedded.add(key)
                    flops = self.embedding_flops(cell.unit)
                    counted.items.append(Item("linear embedding", cell.unit.method, flops))
                counted.probe_fits.setdefault(self.fit_key(cell), cell)
        return counted

    def _add_finetune(
        self, cell: Cell, counted: GridCount, frozen: set[tuple[str, str, bytes]]
    ) -> None:
        """The cell's train and scoring items, and its frozen validation features where it
        has a frozen-encoder stage and no cell before computed them (``frozen_features``)."""
        one = self.finetune_count(cell)
        counted.finetunes[cell.eval_key] = one
        method = cell.unit.method
        counted.items.append(Item("finetune train", method, one.train_flops))
        counted.items.append(Item("finetune scoring", method, one.scoring_flops))
        if "head" in one.evaluations:  # frozen features: once per encoder and fold
            data, _, val, _ = self.rows(cell)
            key = (cell.unit.key, cell.task.name, val.tobytes())
            if key not in frozen:
                frozen.add(key)
                encoder = self.window_flops(cell.unit, data.labels.shape[1])[1]
                counted.items.append(Item("finetune scoring", method, one.val_windows * encoder, 0))

    def rows(self, cell: Cell) -> tuple[TaskData, np.ndarray, np.ndarray, np.ndarray]:
        """The cell's task data and its labelled, validation and test rows (as ``run_cell``)."""
        unit = cell.unit
        data = self.workspace.task_data(cell.task, unit.setup.preprocessing)
        subset = task_fraction_rows(data, cell.fraction, cell.seed)
        val = task_validation_rows(data, cell.fraction, cell.seed, unit.evaluation.val_fraction)
        return data, subset, val, data.split_indices("test")

    def fit_key(self, cell: Cell) -> tuple[str, str, bytes]:
        """What makes a probe fit distinct (``probe_cache``): encoder, task and its rows."""
        _, subset, val, _ = self.rows(cell)
        rows = subset.tobytes() + b"|" + val.tobytes()
        return Workspace.encoder_key(cell.unit, cell.seed), cell.task.name, rows

    def encoder(self, unit: Unit) -> Encoder:
        """The unit's encoder built as ``Workspace`` builds it (a pretraining's untrained)."""
        if unit.key not in self._encoders:
            seed_everything(unit.seed if unit.seed is not None else 0)
            spec = (
                unit.plan.spec.input_spec
                if unit.plan is not None
                else input_spec_for(self.workspace.unit_data(unit), unit.setup.window_s)
            )
            self._encoders[unit.key] = unit.setup.method(unit.setup.method_config, spec).encoder
        return self._encoders[unit.key]

    def classifier(self, unit: Unit, n_classes: int) -> Classifier:
        """The fine-tuned model of ``finetune``: a copy of the encoder and the cell's head."""
        head = head_spec(unit.evaluation.finetune, unit.named_head)
        return Classifier(copy.deepcopy(self.encoder(unit)), n_classes, head)

    def windows_shape(self, unit: Unit) -> tuple[int, int, int]:
        """Leads, window and stride (samples) of the unit's scoring windows."""
        data = self.workspace.unit_data(unit)
        window, stride = self.workspace.window(data, unit)
        return len(data.lead_names), window, stride

    def train_step(
        self, cell: Cell, data: TaskData, subset: np.ndarray, batch: int, train_encoder: bool
    ) -> TrainStep:
        """One fine-tune training step of ``cell`` on its labelled ``subset`` of ``data``."""
        model = self.classifier(cell.unit, data.labels.shape[1])
        _, window, _ = self.windows_shape(cell.unit)
        return TrainStep(model, window, cell, data, subset, batch, train_encoder)

    def window_flops(self, unit: Unit, n_classes: int) -> tuple[int, int]:
        """Forward FLOPs of one window: the whole classifier and the encoder alone."""
        key = (unit.key, n_classes)
        if key not in self._windows:
            model = self.classifier(unit, n_classes).eval()
            leads, window, _ = self.windows_shape(unit)
            x = torch.randn(2, leads, window, generator=torch.Generator().manual_seed(0))
            with torch.no_grad():
                full = count_flops(lambda: model(x))
                encoder = count_flops(lambda: model.encoder.embed(x))
            self._windows[key] = (full // 2, encoder // 2)
        return self._windows[key]

    def embedding_flops(self, unit: Unit) -> int:
        """The encoder forward over every window of the unit's dataset (``dataset_embeddings``)."""
        if unit.key not in self._embed:
            encoder = self.encoder(unit).eval()
            leads, window, stride = self.windows_shape(unit)
            x = torch.randn(2, leads, window, generator=torch.Generator().manual_seed(0))
            with torch.no_grad():
                per_window = count_flops(lambda: encoder.embed(x)) // 2
            signals = self.workspace.unit_data(unit).signals
            windows = n_windows(signals, window, stride) * self.scale(unit)
            self._embed[unit.key] = round(windows) * per_window
        return self._embed[unit.key]

    def pretraining(self, unit: Unit) -> PretrainCount:
        """The unit's pretraining, its loop on its data: total steps and ``pretrain_draws``
        counts of one step (the same crops, the method's own random draws, e.g. JEPA's masks,
        whose visible token counts vary)."""
        assert unit.plan is not None
        if unit.plan.spec.corpus is not None:
            corpus = self.workspace.corpus(unit.setup.preprocessing, unit.corpus_records or "all")
            signals = corpus.records.training_signals()
        else:
            data = self.workspace.unit_data(unit)
            signals = data.signals[data.split_indices("train")]
        seed_everything(unit.setup.train.seed)
        method = unit.setup.method(unit.setup.method_config, unit.plan.spec.input_spec)
        with tempfile.TemporaryDirectory(prefix="grid-floor-") as folder:  # the loop never saves
            loop = TrainingLoop(
                method, signals, unit.setup.train, Path(folder) / CHECKPOINT_NAME, {}
            )
            setup = seedless_setup(unit)
            if setup not in self._draws:
                log.info(
                    "counting %s: %d step(s) of batch %d (run once each to be counted)",
                    unit.method, self.pretrain_draws, unit.setup.train.batch_size,
                )  # fmt: skip
                self._draws[setup] = tuple(
                    count_step_flops(loop) for _ in range(self.pretrain_draws)
                )
            draws = self._draws[setup]
            steps = loop.total_steps
            if unit.plan.spec.corpus is None and self.scale(unit) != 1.0:
                epoch = math.ceil(loop.sampler.steps_per_epoch * self.scale(unit))
                steps = unit.setup.train.total_steps(epoch)
            return PretrainCount(unit.method, steps, draws)

    def finetune_count(self, cell: Cell) -> FinetuneCount:
        """Steps, FLOPs per step and scoring of one fine-tune cell as ``finetune`` plans it."""
        unit, config = cell.unit, cell.unit.evaluation.finetune
        data, subset, val, test = self.rows(cell)
        _, window, stride = self.windows_shape(unit)
        scale = self.scale(unit)
        labelled = max(1, round(len(subset) * scale))
        batch = min(config.batch_size, labelled)
        total = planned_steps(labelled, batch, config)
        lr_scale = config.encoder_lr_scale if unit.needs_pretraining else 1.0
        stages = plan_stages(total, config, lr_scale, unit.finetune_stages)
        marks = evaluation_plan(stages, total, config.evaluations)
        full, encoder = self.window_flops(unit, data.labels.shape[1])
        step_flops = tuple(
            self.batch_step_flops(cell, data, subset, batch, s.trains) for s in stages
        )
        return FinetuneCount(
            batch=batch,
            stage_steps=tuple(s.steps for s in stages),
            step_flops=step_flops,
            val_windows=round(n_windows(data.signals[val], window, stride) * scale),
            test_windows=round(n_windows(data.signals[test], window, stride) * scale),
            evaluations=tuple(m for stage in marks for m in stage),
            window_flops=full,
            head_window_flops=full - encoder,
            may_stop_early=any(len(m) >= config.patience + (i == 0) for i, m in enumerate(marks)),
        )

    def batch_step_flops(
        self, cell: Cell, data: TaskData, subset: np.ndarray, batch: int, trains: str
    ) -> int:
        """FLOPs of one training step at ``batch``: counted at that batch when it is at most
        ``COUNTED_BATCHES[-1]``, else extrapolated from the counts at ``COUNTED_BATCHES``
        (exact: a step's matrix products are affine in the batch, per-record work plus work on
        the weights alone), so a paper-size step is never run to be counted."""
        small, large = COUNTED_BATCHES
        if batch <= large or len(subset) < large:
            counted = min(batch, len(subset))
            return self.step_flops(cell, data, subset, counted, trains) * batch // counted
        at_small, at_large = (
            self.step_flops(cell, data, subset, b, trains) for b in COUNTED_BATCHES
        )
        return at_small + (at_large - at_small) * (batch - small) // (large - small)

    def step_flops(
        self, cell: Cell, data: TaskData, subset: np.ndarray, batch: int, trains: str
    ) -> int:
        """FLOPs of one training step (forward + backward) of a stage training ``trains``;
        the units of one setup (its pretraining seeds) share the count."""
        key = (seedless_setup(cell.unit), repr(cell.unit.evaluation), cell.task.name, batch, trains)
        if key not in self._steps:
            step = self.train_step(cell, data, subset, batch, trains == "all")
            self._steps[key] = count_flops(step.forward_backward)
        return self._steps[key]

"""One fine-tune training step of a grid cell, as ``bench.evaluation.finetune`` takes it, for
counting its FLOPs (``bench.perf.grid_flops``) and timing it (benchmarks/machine_rates.py)."""

from __future__ import annotations

import numpy as np
import torch

from bench.evaluation.finetune import Classifier, finetune_optimizer, head_only_logits
from bench.evaluation.finetune_crops import random_crops, training_records
from bench.evaluation.objectives import Objective
from bench.grid.plan import Cell
from bench.task import TaskData

CPU = torch.device("cpu")


class TrainStep:
    """One fine-tune training step of a cell as ``_Run.train_stage`` takes it: ``model`` is
    the cell's classifier, ``window`` the length (samples) of its training crops."""

    def __init__(
        self,
        model: Classifier,
        window: int,
        cell: Cell,
        data: TaskData,
        subset: np.ndarray,
        batch: int,
        train_encoder: bool,
    ):
        unit, config = cell.unit, cell.unit.evaluation.finetune
        self.model = model.train()
        self.model.encoder.requires_grad_(train_encoder)
        if not train_encoder:
            self.model.encoder.eval()
        self.train_encoder = train_encoder
        self.records = training_records(data.signals[subset], CPU)
        self.window = window
        self.labels = torch.as_tensor(data.labels[subset], dtype=torch.float32)
        huber = config.huber_delta if config.regression_loss == "huber" else None
        task = cell.task
        self.objective = Objective.for_task(task.kind, task.main_metric, data.labels[subset], huber)
        self.batch = batch
        self.config = config
        self.generator = torch.Generator().manual_seed(cell.seed)
        scale = config.encoder_lr_scale if unit.needs_pretraining else 1.0
        self.optimizer = finetune_optimizer(self.model, config, scale, CPU, None, train_encoder)

    def crops(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The step's (rows, crops), drawn as ``_Run._crops`` draws them."""
        if isinstance(self.records, torch.Tensor):
            return random_crops(self.records, self.batch, self.window, self.generator)
        population = self.records.eligible(self.window)
        return self.records.random_crops(population, self.batch, self.window, self.generator)

    def forward_backward(self) -> None:
        """Crops, forward and backward: what the FLOP count of a step covers."""
        rows, crops = self.crops()
        self.optimizer.zero_grad(set_to_none=True)
        model = self.model
        logits = model(crops) if self.train_encoder else head_only_logits(model, crops)
        self.objective.loss(logits.float(), self.labels[rows]).backward()

    def __call__(self) -> None:
        """The whole step: forward, backward, clipping and the AdamW update."""
        self.forward_backward()
        if self.config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()

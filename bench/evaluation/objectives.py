"""Fine-tuning objectives per task kind: loss, per-window outputs, validation selection score.

- multilabel: BCE with logits, sigmoid outputs, selection on validation macro AUROC (as before);
- multiclass: cross-entropy on the one-hot label's class, softmax outputs, selection on the
  task's main metric;
- regression: MSE (or Huber with ``huber_delta``, in standardised units) on targets
  standardised with the training mean and SD; outputs are predictions in the targets' units;
  selection on the main metric.
``score`` is oriented so that higher is always better (a lower-is-better metric is negated), so
early stopping and the kept state follow the metric's direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from bench.evaluation.kind_metrics import evaluate_multiclass, evaluate_regression
from bench.evaluation.metrics import macro_auroc
from bench.task import METRIC_DIRECTIONS, TaskKind


@dataclass(frozen=True)
class Objective:
    """How one task kind is trained and selected (see the module docstring)."""

    kind: TaskKind = "multilabel"
    main_metric: str = "macro_auroc"
    target_mean: tuple[float, ...] = ()
    target_sd: tuple[float, ...] = ()
    huber_delta: float | None = None

    @classmethod
    def for_task(
        cls,
        kind: TaskKind,
        main_metric: str,
        train_labels: np.ndarray,
        huber_delta: float | None = None,
    ) -> Objective:
        """The objective of ``kind``; regression standardises with ``train_labels``' moments."""
        if kind != "regression":
            return cls(kind, main_metric)
        y = np.asarray(train_labels, dtype=np.float64)
        sd = np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)
        return cls(kind, main_metric, tuple(y.mean(axis=0)), tuple(sd), huber_delta)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """The training loss of a batch (logits and targets [B, C])."""
        if self.kind == "multilabel":
            return nn.functional.binary_cross_entropy_with_logits(logits, targets)
        if self.kind == "multiclass":
            return nn.functional.cross_entropy(logits, targets.argmax(dim=1))
        mean, sd = self._moments(logits)
        standardised = (targets - mean) / sd
        if self.huber_delta is not None:
            return nn.functional.huber_loss(logits, standardised, delta=self.huber_delta)
        return nn.functional.mse_loss(logits, standardised)

    def output(self, logits: Tensor) -> Tensor:
        """Per-window outputs: probabilities, or predictions in the targets' units."""
        if self.kind == "multilabel":
            return torch.sigmoid(logits)
        if self.kind == "multiclass":
            return torch.softmax(logits, dim=1)
        mean, sd = self._moments(logits)
        return logits * sd + mean

    def score(self, y_true: np.ndarray, outputs: np.ndarray) -> float:
        """Validation selection score (higher is better)."""
        if self.kind == "multilabel":
            return macro_auroc(y_true, outputs)
        evaluate = evaluate_multiclass if self.kind == "multiclass" else evaluate_regression
        names = [str(i) for i in range(np.shape(y_true)[1])]
        value = float(evaluate(y_true, outputs, names, n_boot=0).metrics[self.main_metric])
        return value if METRIC_DIRECTIONS[self.main_metric] else -value

    def _moments(self, like: Tensor) -> tuple[Tensor, Tensor]:
        mean = torch.as_tensor(self.target_mean, dtype=like.dtype, device=like.device)
        return mean, torch.as_tensor(self.target_sd, dtype=like.dtype, device=like.device)


MULTILABEL = Objective()

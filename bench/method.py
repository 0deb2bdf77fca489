"""Method plugin contract: a self-supervised objective (or baseline) around a shared encoder."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from bench.encoders.base import Encoder, InputSpec
from bench.registry import Registry

Protocol = Literal["linear", "finetune"]


class Method(nn.Module, ABC):
    """Base class of every method plugin.

    A subclass sets ``name`` and ``config_class`` (a frozen dataclass parsed strictly by
    ``bench.config.from_dict``), builds ``self.encoder`` in ``__init__(config, input_spec)`` and
    implements ``loss``. The shared loop in ``bench.training.loop`` owns optimisation; a method
    never writes its own loop. Baselines set ``needs_pretraining = False``.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[Any]]
    needs_pretraining: ClassVar[bool] = True
    protocols: ClassVar[tuple[Protocol, ...]] = ("linear", "finetune")

    def __init__(self, config: Any, input_spec: InputSpec):
        super().__init__()
        self.config = config
        self.input_spec = input_spec
        self.encoder: Encoder

    @abstractmethod
    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        """Objective on a batch [B, leads, samples] already on the device; must hold "loss"."""

    def on_step_end(self, step: int, total_steps: int) -> None:
        """Called after each optimiser step (e.g. EMA update); ``step`` counts from 1."""


METHODS: Registry[type[Method]] = Registry(
    "method", package="methods", entry_point_group="bench.methods"
)


def loss_scalars(method: Method, output: Any) -> dict[str, Tensor]:
    """The scalar entries of a `method.loss` dict ("loss" first); TypeError on a broken one."""
    if not isinstance(output, Mapping) or not isinstance(output.get("loss"), Tensor):
        raise TypeError(f"{type(method).__name__}.loss must return a dict with a tensor 'loss'")
    if output["loss"].numel() != 1:
        raise TypeError(f"{type(method).__name__}.loss: 'loss' must be a scalar tensor")
    scalars = {"loss": output["loss"].reshape(())}
    for key, value in output.items():
        if key == "loss":
            continue
        if isinstance(value, Tensor) and value.numel() == 1:
            scalars[key] = value.reshape(())
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            scalars[key] = torch.tensor(float(value))
    return scalars

"""Method plugin contract: a self-supervised objective (or baseline) around a shared encoder."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from bench.data.preprocess import Preprocessing
from bench.encoders.base import Encoder, InputSpec
from bench.errors import ConfigError
from bench.registry import Registry

Protocol = Literal["linear", "finetune", "attentive", "knn"]
FROZEN_PROTOCOLS: tuple[Protocol, ...] = ("linear", "attentive", "knn")
"""The protocols that read a frozen encoder (no fine-tuning): what a frozen baseline gets."""


@dataclass(frozen=True)
class InputRegime:
    """The input a method's paper feeds it, used where a profile says ``input: native``.

    rate (Hz), resample ("poly" | "fft"), leads ("12" | "8" | "1"), normalize ("none" | "record" |
    "train": per-lead training-fold mean/std | "train_all": one training-fold mean/std over all
    leads) and ``window_s``, the crop of pretraining and
    the evaluation window. No filtering (``bandpass`` None).
    """

    rate: int
    leads: Literal["12", "8", "1"]
    window_s: float
    normalize: Literal["none", "record", "train", "train_all"] = "none"
    resample: Literal["poly", "fft", "linear"] = "poly"

    @classmethod
    def of(cls, preprocessing: Preprocessing, window_s: float) -> InputRegime:
        """The regime of ``preprocessing`` (which must set a rate) and a window."""
        assert preprocessing.rate is not None, "an input regime needs a sampling rate"
        return cls(
            rate=preprocessing.rate, leads=preprocessing.leads, window_s=window_s,
            normalize=preprocessing.normalize, resample=preprocessing.resample,
        )  # fmt: skip

    def preprocessing(self) -> Preprocessing:
        """These options as the shared ``Preprocessing`` (validated there)."""
        return Preprocessing(
            rate=self.rate, resample=self.resample, leads=self.leads, normalize=self.normalize
        )


@dataclass(frozen=True)
class HeadSpec:
    """A fine-tuning head a method's paper names, on the encoder's (concat-pooled) ``embed``.

    BatchNorm -> Dropout(``input_dropout``) -> Linear(``hidden``) -> ReLU -> BatchNorm ->
    Dropout(``dropout``) -> Linear(classes): fastai's head as the CPC paper (512 hidden) and
    the PTB-XL benchmark's xresnet1d (128 hidden) use it.
    """

    hidden: int
    input_dropout: float = 0.25
    dropout: float = 0.5


@dataclass(frozen=True)
class StagedFinetune:
    """A fine-tuning schedule a method's paper names: the head alone on the frozen encoder,
    then everything with discriminative learning rates (``bench.evaluation.finetune_stages``).

    The CPC paper: ``head_epochs`` 50 at ``head_lr`` 1e-3, then ``full_epochs`` 20 at
    ``full_lr`` 1e-4. The grid keeps each profile's own fine-tuning budget and learning rate
    and takes from these only the split of the steps (50 : 20) and the second stage's learning
    rate relative to the first (1e-4 / 1e-3).
    """

    head_epochs: int
    head_lr: float
    full_epochs: int
    full_lr: float

    def __post_init__(self) -> None:
        if min(self.head_epochs, self.full_epochs) < 1 or min(self.head_lr, self.full_lr) <= 0:
            raise ValueError(f"StagedFinetune needs positive epochs and learning rates: {self}")


@dataclass(frozen=True)
class MatchedConfig:
    """Config of a baseline built on an SSL method's own network (``random_init[cpc]``).

    ``backbone`` names the SSL method; ``backbone_config`` is its config as plain data (the
    profile's section for it): the baseline's encoder is that method's ``encoder`` freshly
    built, so it has exactly the method's architecture, initialisation and input.
    """

    backbone: str
    backbone_config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CollapseRule:
    """How a method's own loss entries tell a collapsed encoder.

    ``metric`` names a scalar of the method's ``loss`` dict (so a column of the pretraining
    history) that measures how much the representation differs between records; an encoder
    whose value, averaged over the last epoch, ends below ``ratio`` times its value at the
    first step (the untrained encoder's) is flagged as collapsed.
    """

    metric: str
    ratio: float


class Method(nn.Module, ABC):
    """Base class of every method plugin.

    A subclass sets ``name`` and ``config_class`` (a frozen dataclass parsed strictly by
    ``bench.config.from_dict``), builds ``self.encoder`` in ``__init__(config, input_spec)`` and
    implements ``loss``. The shared loop in ``bench.training.loop`` owns optimisation; a method
    never writes its own loop. Baselines set ``needs_pretraining = False``.

    ``native_input``: the input its paper uses (profiles with ``input: native`` feed it; None:
    the profile's shared input). ``finetune_head``: the fine-tuning head its paper names (None:
    the protocol's default). ``finetune_stages``: the paper's head-then-everything fine-tune
    of its pretrained encoder (None: one stage). ``builds_on_backbones``: a baseline that can
    be built on an SSL method's network (``random_init[jepa]``, config ``MatchedConfig``).
    ``protocols``: how its encoder is evaluated (``bench.grid.plan.PROTOCOLS``; the grid plans
    no cell of another protocol for it, and says so).
    ``task_kinds``: the task kinds (``bench.task.TaskKind``) it is evaluated on; the grid
    plans no cell of another kind for it (None: every kind). ``pretrained``: its encoder
    arrives pretrained without the loop (a published checkpoint, ``bench.checkpoints``);
    ``fixed_input``: it gets its ``native_input`` under every profile, not only ``native``.
    ``group``: the ``--methods`` group that lists it (``METHOD_GROUPS``): "all" (default: the
    project brief's methods and the baselines) or "comparators" (the field's standard SSL
    comparators); a published checkpoint is in "checkpoints" whatever it says.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[Any]]
    needs_pretraining: ClassVar[bool] = True
    protocols: ClassVar[tuple[Protocol, ...]] = ("linear", "finetune", "attentive", "knn")
    native_input: ClassVar[InputRegime | None] = None
    finetune_head: ClassVar[HeadSpec | None] = None
    finetune_stages: ClassVar[StagedFinetune | None] = None
    builds_on_backbones: ClassVar[bool] = False
    task_kinds: ClassVar[tuple[str, ...] | None] = None
    pretrained: ClassVar[bool] = False
    fixed_input: ClassVar[bool] = False
    group: ClassVar[str] = "all"

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

    def collapse_rule(self) -> CollapseRule | None:
        """The method's collapse diagnostic (``bench.training.collapse``); None: it has none."""
        return None

    @classmethod
    def has_own_network(cls) -> bool:
        """True when matched baselines can be built on it: it pretrains, or arrives pretrained."""
        return cls.needs_pretraining or cls.pretrained

    @classmethod
    def untrained_encoder(cls, config: Any, input_spec: InputSpec) -> Encoder:
        """Its encoder freshly initialised (global RNG), for matched baselines."""
        return cls(config, input_spec).encoder

    @classmethod
    def seen_in_training(cls, task_sources: tuple[str, ...]) -> str | None:
        """A note when a task's data (its datasets or sources) was in this method's own
        training data (a published checkpoint's corpus); None when not, or not known."""
        return None

    @classmethod
    def unit_identity(cls, config: Any) -> dict[str, Any]:
        """Extra facts that name its encoder in run keys and provenance (a checkpoint's
        weights file and SHA-256); empty for methods whose config says it all."""
        return {}


METHOD_GROUPS: tuple[str, ...] = ("all", "comparators", "checkpoints")
"""The groups ``--methods`` accepts besides method names
(``bench.grid.method_groups.group_members``)."""


def method_group(method: type[Method]) -> str:
    """The ``--methods`` group that lists ``method``: "checkpoints" for a published
    checkpoint, else its ``group``; ConfigError for a group a plugin may not declare."""
    if method.pretrained:
        return "checkpoints"
    if method.group not in ("all", "comparators"):
        raise ConfigError(
            f"method {method.__name__} declares group {method.group!r}; use 'all' or "
            "'comparators' (published checkpoints are grouped by Method.pretrained)"
        )
    return method.group


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

"""Encoder contract shared by every backbone, and the encoder registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from torch import Tensor, nn

from bench.config import replace
from bench.errors import ConfigError
from bench.registry import Registry

E = TypeVar("E", bound="Encoder")


@dataclass(frozen=True)
class InputSpec:
    """Shape of the model input: leads x samples at a sampling rate (one crop or window)."""

    n_leads: int
    n_samples: int
    sampling_rate: int


class Encoder(nn.Module, ABC):
    """A backbone mapping ECG crops [B, leads, samples] to representations.

    ``embed_dim`` is the size of ``embed``'s output, the representation that frozen evaluation
    (linear probe) and fine-tuning heads use. ``features`` is the time-resolved representation
    [B, T', feature_dim] that dense (segmentation) heads use: step ``k`` stands for input samples
    ``k * feature_stride`` to ``(k + 1) * feature_stride - 1``, so ``T' = ceil(samples /
    feature_stride)`` and the feature rate is ``1 / feature_stride`` of the input's. How leads
    are combined into one step is each encoder's documented choice; ``token_grid`` keeps the
    leads apart where the encoder has tokens per lead (the attentive probe's input). Every
    encoder is built as
    ``cls(config, input_spec)`` from a frozen config dataclass of type ``config_class`` and keeps
    both as attributes, so it can be rebuilt from them (checkpoints). ``sizes`` names
    ready-made configs; ``from_size`` builds one of them with validated overrides.
    """

    embed_dim: int
    feature_dim: int
    config_class: ClassVar[type[Any]]
    sizes: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, config: Any, input_spec: InputSpec):
        super().__init__()
        self.config = config
        self.input_spec = input_spec

    @abstractmethod
    def embed(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> [B, embed_dim]."""

    @abstractmethod
    def features(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> [B, ceil(samples / feature_stride), feature_dim]."""

    def token_grid(self, x: Tensor) -> Tensor:
        """[B, leads, samples] -> tokens [B, L, T', feature_dim] on a (lead x time) grid: one
        row per lead where the encoder has a token per lead and time step, else L = 1 with
        the time steps of ``features`` (the default)."""
        return self.features(x).unsqueeze(1)

    def layer_depths(self) -> dict[str, int] | None:
        """Depth of every parameter for layer-wise learning-rate decay, or None where the
        encoder has no stack of blocks. A transformer (an ``nn.ModuleList`` named ``blocks``):
        parameters registered before the blocks (patch embedding) 0, block ``i`` ``i + 1``,
        those registered after them (the final norm) ``len(blocks) + 1``."""
        blocks = getattr(self, "blocks", None)
        if not isinstance(blocks, nn.ModuleList) or not len(blocks):
            return None
        depths: dict[str, int] = {}
        seen_blocks = False
        for name, _ in self.named_parameters():
            if name.startswith("blocks."):
                seen_blocks = True
                depths[name] = int(name.split(".")[1]) + 1
            else:
                depths[name] = len(blocks) + 1 if seen_blocks else 0
        return depths

    @property
    @abstractmethod
    def feature_stride(self) -> int:
        """Input samples per step of ``features`` (1: one step per sample)."""

    @classmethod
    def config_for_size(cls, size: str, **overrides: Any) -> Any:
        """The named config ``size`` with ``overrides`` applied (ConfigError on bad names)."""
        if size not in cls.sizes:
            known = ", ".join(sorted(cls.sizes)) or "none"
            raise ConfigError(f"unknown {cls.__name__} size {size!r}; known sizes: {known}")
        return replace(cls.sizes[size], overrides, where=f"{cls.__name__}[{size}]")

    @classmethod
    def from_size(cls: type[E], size: str, input_spec: InputSpec, **overrides: Any) -> E:
        """Build the named size for ``input_spec``, e.g. ``from_size("tiny", spec, depth=3)``."""
        return cls(cls.config_for_size(size, **overrides), input_spec)


ENCODERS: Registry[type[Encoder]] = Registry("encoder", package="bench.encoders")

"""CLOCS: contrastive learning of cardiac signals across space, time and patients (Kiyasseh, Zhu
& Clifton, ICML 2021).

Views of one instance are embedded by CLOCS's single-lead CNN (``methods.clocs_encoder``) and
contrasted with ``methods.contrastive.clocs_loss`` (cosine similarity, temperature 0.1, every
pair of views):

- ``cmsc`` (multi-segment): the two adjacent halves of a crop are the views; an instance is one
  lead of one crop (the reference encodes single-lead recordings).
- ``cmlc`` (multi-lead): the leads of a crop are the views; an instance is a crop.
- ``cmsmlc`` (both): every lead of both halves is a view of the crop.

How segments come from the contract: a method gets crops of the profile's window, so the
multi-segment modes cut each crop into two adjacent halves (a 10 s crop gives two 5 s segments,
the reference's 2 x 2,500 samples at 500 Hz) and the encoder works on half-windows in
pretraining and evaluation alike (``embed`` averages a window's two halves); ``cmlc`` encodes
whole windows.

Patient-aware positives: CLOCS also counts as positives the views of other instances of the
same patient. ``clocs_loss`` takes those identities, but ``Method.loss`` receives crops without
patient ids, so every instance is its own identity here (what the reference computes when no
patient repeats in a batch). ``cmsc`` gives each lead its own identity: the leads of one crop
always share a batch here, and counting them as positives would turn ``cmsc`` into
``cmsmlc``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor

from bench.encoders.base import InputSpec
from bench.errors import ConfigError
from bench.method import METHODS, InputRegime, Method
from bench.training.distributed import gather_with_grad
from methods.clocs_encoder import CLOCSEncoder, CLOCSEncoderConfig
from methods.contrastive import clocs_loss

ClocsMode = Literal["cmsc", "cmlc", "cmsmlc"]


@dataclass(frozen=True)
class CLOCSConfig:
    """Fields of ``clocs``; defaults from the reference code (danikiyasseh/CLOCS) unless marked.

    - ``mode``: "cmsc" (default, the paper's best), "cmlc" or "cmsmlc" (see the module).
    - ``temperature``: 0.1.
    - ``embedding_dim``: the embedding the loss compares and the probe reads (per lead),
      128 (the reference runs 32 to 320).
    - ``channels`` / ``kernel_size`` / ``stride`` / ``pool`` / ``dropout``: the CNN, (4, 16,
      32) / 7 / 3 / 2 / 0.1. At stride 3 a segment needs 388 samples; the ``smoke`` profile
      (1.25 s halves at 100 Hz = 125 samples) sets stride 1.
    - ``minmax``: scale each segment of each lead to [0, 1] before the CNN, as the reference.

    The reference trains with Adam, lr 1e-4, batch 256, up to 400 epochs (the ``paper``
    profile's section).
    """

    mode: ClocsMode = "cmsc"
    temperature: float = 0.1
    embedding_dim: int = 128
    channels: tuple[int, ...] = (4, 16, 32)
    kernel_size: int = 7
    stride: int = 3
    pool: int = 2
    dropout: float = 0.1
    minmax: bool = True

    def __post_init__(self) -> None:
        if self.mode not in ("cmsc", "cmlc", "cmsmlc"):
            raise ConfigError(f"clocs.mode = {self.mode!r} is not cmsc, cmlc or cmsmlc")
        if not 0.0 < self.temperature <= 1.0:
            raise ConfigError(f"clocs.temperature = {self.temperature!r} must lie in (0, 1]")
        self.encoder_config()

    def encoder_config(self) -> CLOCSEncoderConfig:
        """The encoder part (validated): two segments per window unless the mode is cmlc."""
        return CLOCSEncoderConfig(
            channels=self.channels,
            kernel_size=self.kernel_size,
            stride=self.stride,
            pool=self.pool,
            dropout=self.dropout,
            embedding_dim=self.embedding_dim,
            segments=1 if self.mode == "cmlc" else 2,
            minmax=self.minmax,
        )


def arrange_views(embeddings: Tensor, mode: ClocsMode) -> Tensor:
    """Segment embeddings [B, leads, segments, E] as views of instances, [V, N, E]:
    cmsc: V = segments, N = B x leads; cmlc: V = leads, N = B; cmsmlc: V = leads x segments,
    N = B."""
    batch, leads, segments, dim = embeddings.shape
    if mode == "cmsc":
        return embeddings.permute(2, 0, 1, 3).reshape(segments, batch * leads, dim)
    return embeddings.permute(1, 2, 0, 3).reshape(leads * segments, batch, dim)


@METHODS.register("clocs")
class CLOCS(Method):
    """CLOCS: segments (CMSC), leads (CMLC) or both (CMSMLC) of a recording as positives."""

    name: ClassVar[str] = "clocs"
    config_class: ClassVar[type[CLOCSConfig]] = CLOCSConfig
    group: ClassVar[str] = "comparators"
    # The reference's Chapman input: 500 Hz, 12 leads, 10 s records (two 2,500-sample
    # segments), min-max scaled per segment in the encoder, no other normalisation.
    native_input: ClassVar[InputRegime | None] = InputRegime(500, "12", 10.0, "none")
    config: CLOCSConfig
    encoder: CLOCSEncoder

    def __init__(self, config: CLOCSConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.encoder = CLOCSEncoder(config.encoder_config(), input_spec)

    def loss(self, batch: Tensor) -> dict[str, Tensor]:
        """CLOCS's loss over the global batch, every instance its own identity."""
        views = arrange_views(self.encoder.segment_embeddings(batch), self.config.mode)
        views = gather_with_grad(views.transpose(0, 1)).transpose(0, 1)  # instances: global
        identities = torch.arange(views.shape[1], device=views.device)
        return {"loss": clocs_loss(views, identities, self.config.temperature)}

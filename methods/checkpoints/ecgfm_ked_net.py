"""ECGFM-KED's ECG encoder: the project's xresnet1d at KED's widths, pooled by the mean.

Facts (control-spiderman/ECGFM-KED, models/xresnet1d_101.py, engine/train_fg.py): fastai's
xresnet1d101 (stem of three conv-BN-ReLU layers 32, 32, 64 wide, kernel 5, stride 2 on the
first; max-pool 3/2; bottleneck blocks [3, 4, 23, 3], expansion 4, kernel 5; average-pool then
1x1 conv-BN shortcuts) with the stage widths changed to 64, 128, 128, 192 so that the last
stage has 768 channels, and no head. ``bench.encoders.xresnet1d`` builds exactly this network
(the conformance test checks it against the official code); only the pooling differs: KED's
representation is the mean over time of the last stage (``ecg_features.mean(-1)``, the vector
its contrastive loss and zero-shot classifier use), not concat pooling.

``embed``: [B, 768]; ``features``: the last stage's map, time first, stride 32 (1,000 samples
-> 32 steps).
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from bench.encoders.base import InputSpec
from bench.encoders.xresnet1d import XResNet1d, XResNet1dConfig

KED_SIZES: dict[str, XResNet1dConfig] = {
    "tiny": XResNet1dConfig(blocks=(1, 1, 2, 1), widths=(8, 16, 16, 24), stem_channels=(8, 8, 64)),
    "xresnet1d101-ked": XResNet1dConfig(
        blocks=(3, 4, 23, 3), widths=(64, 128, 128, 192), stem_channels=(32, 32, 64)
    ),
}
"""``xresnet1d101-ked``: the released encoder; ``tiny``: the conformance fixture (the official
``_xresnet1d(4, [1, 1, 2, 1], widen=0.125, stem_szs=(8, 8, 64))``)."""


class KedXResNet1d(XResNet1d):
    """xresnet1d whose representation is the mean over time of the last stage."""

    sizes: ClassVar[dict[str, XResNet1dConfig]] = KED_SIZES

    def __init__(self, config: XResNet1dConfig, input_spec: InputSpec):
        super().__init__(config, input_spec)
        self.embed_dim = self.channels

    def embed(self, x: Tensor) -> Tensor:
        """Mean over time of the last stage: [B, channels]."""
        return self.feature_map(x).mean(dim=-1)

"""Encoder features of a fold's prepared windows, computed once while the encoder is frozen.

A fine-tune stage that trains the head alone (CPC's first stage, ``finetune_stages``) scores
validation with an encoder that does not change: every evaluation of that stage, and of every
other cell whose frozen encoder has the same weights (a pretrained encoder serves every task,
fraction and seed), would run the encoder on the same windows again. ``frozen_features`` runs
it once per process and keeps the per-window features (the same batches, the same ops, so the
same numbers as scoring the whole model); the head is then applied to them. The memo is keyed
by the encoder's class and every weight and buffer, the windows' content and the autocast
dtype, so another encoder, another fold or a changed weight never hits another's features.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from contextlib import nullcontext

import torch
from torch import Tensor

from bench.encoders.base import Encoder
from bench.evaluation.windows import PreparedWindows, WindowChunk

MEMO_SIZE = 4  # (encoder, fold) pairs kept per process
_MEMO: OrderedDict[str, tuple[WindowChunk, ...]] = OrderedDict()


@torch.no_grad()
def frozen_features(
    encoder: Encoder, windows: PreparedWindows, dtype: torch.dtype | None
) -> tuple[WindowChunk, ...]:
    """``encoder.embed`` (eval mode, autocast to ``dtype`` where set) of every chunk of
    ``windows``: chunks whose ``windows`` are the [windows, D] features."""
    key = features_key(encoder, windows, dtype)
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    encoder.eval()
    device = windows.device
    with torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext():
        features = tuple(
            WindowChunk(chunk.rows, encoder.embed(chunk.windows), chunk.n_windows)
            for chunk in windows
        )
    _MEMO[key] = features
    while len(_MEMO) > MEMO_SIZE:
        _MEMO.popitem(last=False)
    return features


def features_key(encoder: Encoder, windows: PreparedWindows, dtype: torch.dtype | None) -> str:
    """Digest of the encoder (class, weights, buffers), the windows and the autocast dtype."""
    digest = hashlib.sha256(f"{type(encoder).__qualname__}|{dtype}|{windows.device}".encode())
    for name, value in encoder.state_dict().items():
        digest.update(name.encode())
        _update(digest, value)
    for chunk in windows:
        digest.update(chunk.rows.tobytes() + chunk.n_windows.to_bytes(8, "little"))
        _update(digest, chunk.windows)
    return digest.hexdigest()


def clear_memo() -> None:
    """Forget every memoised feature set."""
    _MEMO.clear()


def _update(digest: hashlib._Hash, tensor: Tensor) -> None:
    flat = tensor.detach().contiguous().reshape(-1).cpu()
    digest.update(f"{flat.dtype}{tuple(tensor.shape)}".encode())
    digest.update(flat.view(torch.uint8).numpy().tobytes())

"""Reading an official weights file and checking it against the architecture built here."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from bench.errors import DataError


class WeightsMismatchError(DataError):
    """A weights file does not fit the architecture: keys missing, unexpected or misshapen."""


def read_weights(path: Path, trusted_pickle: bool = False) -> Any:
    """The object stored in ``path``: a safetensors file's tensors, or what ``torch.load``
    returns (``weights_only`` unless ``trusted_pickle``: fairseq files pickle their config)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=not trusted_pickle)
    except Exception as error:  # unreadable for many reasons: one clear message
        raise DataError(f"{path}: cannot read this weights file ({error})") from error


def unwrap(stored: Any, keys: Sequence[str], path: Path) -> Mapping[str, Tensor]:
    """The state dict inside ``stored``: the first of ``keys`` present, or ``stored`` itself
    when it already maps names to tensors ("" in ``keys`` allows that)."""
    if isinstance(stored, Mapping):
        for key in keys:
            if key and isinstance(stored.get(key), Mapping):
                return stored[key]
        if "" in keys and stored and all(isinstance(v, Tensor) for v in stored.values()):
            return stored
    found = ", ".join(map(str, list(stored)[:8])) if isinstance(stored, Mapping) else type(stored)
    wanted = " or ".join(repr(k) for k in keys if k) or "a plain state dict"
    raise WeightsMismatchError(f"{path}: expected a state dict under {wanted}; found {found}")


def strip_prefix(state: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """``state`` with ``prefix`` removed where keys carry it (DDP's ``module.`` and the like)."""
    return {k.removeprefix(prefix): v for k, v in state.items()}


def refuse_finetuned(state: Mapping[str, Tensor], head_pattern: str, path: Path, name: str) -> None:
    """WeightsMismatchError when the file holds a classifier head (``head_pattern`` matches a
    key): the fine-tuned release, where the pretrained one is asked for."""
    heads = [key for key in state if re.search(head_pattern, key)]
    if heads:
        raise WeightsMismatchError(
            f"{path}: this is a fine-tuned {name} file (classifier keys {', '.join(heads[:3])}); "
            "the benchmark evaluates the pretrained release: use the pretrained weights file"
        )


def load_checked(model: nn.Module, state: Mapping[str, Tensor], path: Path) -> None:
    """Load ``state`` into ``model`` strictly; a mismatch names the missing, unexpected and
    misshapen keys (and the file)."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshapen = [
        f"{key} {tuple(state[key].shape)} != {tuple(own[key].shape)}"
        for key in sorted(set(own) & set(state))
        if state[key].shape != own[key].shape
    ]
    problems = [
        f"{label} ({len(items)}): {', '.join(items[:6])}{', ...' if len(items) > 6 else ''}"
        for label, items in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("mismatched", misshapen),
        )
        if items
    ]
    if problems:
        raise WeightsMismatchError(
            f"{path}: the weights do not fit this architecture (is it the right model and "
            f"size?): {'; '.join(problems)}"
        )
    model.load_state_dict(dict(state), strict=True)

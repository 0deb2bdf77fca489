"""The choice-valued options of the shared loop, importable without torch (``bench --help``)."""

from __future__ import annotations

from typing import Literal, get_args

Precision = Literal["auto", "fp32", "bf16"]
DeviceChoice = Literal["auto", "cpu", "cuda"]
CudaGraphs = Literal["auto", "always", "never"]

PRECISIONS: tuple[str, ...] = get_args(Precision)
DEVICES: tuple[str, ...] = get_args(DeviceChoice)
CUDA_GRAPHS: tuple[str, ...] = get_args(CudaGraphs)
"""``train.cuda_graphs`` values (not "on"/"off": YAML reads those as booleans)."""

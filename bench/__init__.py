"""ECG SSL benchmark: methods x tasks x label fractions under one controlled protocol."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {"load_encoder": "bench.training.checkpoint", "load_method": "bench.training.checkpoint"}

__all__ = ["__version__", "load_encoder", "load_method"]


def __getattr__(name: str) -> Any:
    """Public functions imported on first use, so ``import bench`` stays light."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")

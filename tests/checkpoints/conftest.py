"""Every checkpoint test compares numbers with the official code's (fixtures made on one
machine): CI reruns them on ATen's plainest kernels (the ``numeric`` marker)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/checkpoints/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.numeric)

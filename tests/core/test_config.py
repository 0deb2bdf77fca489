"""Strict typed configs: unknown fields, wrong types and ranges fail clearly; overrides parse."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from bench.config import check_range, from_dict, parse_overrides, replace, to_dict
from bench.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    width: int = 8


@dataclass(frozen=True)
class Outer:
    lr: float = 1e-3
    mode: Literal["random", "block"] = "random"
    ratio: tuple[float, float] = (0.6, 0.7)
    inner: Inner = field(default_factory=Inner)
    cap: int | None = None

    def __post_init__(self) -> None:
        check_range("outer.lr", self.lr, 0)


def test_values_are_coerced_and_nested() -> None:
    parsed = from_dict(Outer, {"lr": 1, "ratio": [0.5, 0.8], "inner": {"width": 3}, "cap": None})
    assert parsed == Outer(lr=1.0, ratio=(0.5, 0.8), inner=Inner(3))
    assert isinstance(parsed.lr, float)
    assert to_dict(parsed) == {
        "lr": 1.0, "mode": "random", "ratio": [0.5, 0.8], "inner": {"width": 3}, "cap": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"lrr": 1}, r"unknown field Outer\.lrr \(did you mean 'lr'\?\)"),
        ({"lr": "fast"}, r"Outer\.lr must be float, got str 'fast'"),
        ({"lr": True}, r"Outer\.lr must be float, got bool"),
        ({"mode": "blocks"}, r"Outer\.mode = 'blocks' is not one of 'random', 'block'"),
        ({"ratio": [0.1]}, r"Outer\.ratio must have 2 items"),
        ({"inner": {"depth": 2}}, r"unknown field Outer\.inner\.depth"),
        ({"cap": 1.5}, r"Outer\.cap must be int"),
        ({"lr": -1}, r"outer\.lr = -1\.0 is out of range \[0, inf\]"),
    ],
)
def test_bad_values_name_the_field(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(Outer, data)


def test_overrides_parse_as_yaml_with_numbers_and_nesting() -> None:
    parsed = parse_overrides(["inner.width=16", "lr=3e-3", "ratio=[0.2, 0.4]", "mode=block"])
    assert parsed == {"inner": {"width": 16}, "lr": 0.003, "ratio": [0.2, 0.4], "mode": "block"}
    assert parse_overrides(['name="3e-3"']) == {"name": "3e-3"}
    updated = replace(Outer(), parsed)
    assert updated == Outer(lr=0.003, mode="block", ratio=(0.2, 0.4), inner=Inner(16))
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["lr"])
    with pytest.raises(ConfigError, match="conflicts"):
        parse_overrides(["inner=1", "inner.width=2"])

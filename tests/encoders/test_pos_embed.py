"""Fixed sin-cos position codes: values, layout and uniqueness."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.encoders.pos_embed import grid_ids, sincos_1d, sincos_2d, sincos_grid
from bench.errors import ConfigError

pytestmark = pytest.mark.numeric


def test_1d_code_values() -> None:
    code = sincos_1d(torch.tensor([0, 3]), dim=8)
    assert code.shape == (2, 8) and code.dtype == torch.float32
    assert code[0].tolist() == [0.0] * 4 + [1.0] * 4
    frequencies = [10000 ** (-k / 4) for k in range(4)]
    expected = [math.sin(3 * w) for w in frequencies] + [math.cos(3 * w) for w in frequencies]
    assert code[1].tolist() == pytest.approx(expected, abs=1e-6)


def test_2d_code_spends_half_on_lead_and_half_on_time() -> None:
    leads, times = grid_ids(4, 7)
    code = sincos_2d(leads, times, dim=16)
    torch.testing.assert_close(code[:, :8], sincos_1d(leads, 8))
    torch.testing.assert_close(code[:, 8:], sincos_1d(times, 8))
    torch.testing.assert_close(sincos_grid(4, 7, 16), code)


def test_time_lead_layout_is_the_float64_reference_code_rounded_once() -> None:
    leads, times = grid_ids(3, 40)
    code = sincos_2d(leads, times, dim=32, layout="time_lead")
    omega = 1.0 / 10000.0 ** (np.arange(8, dtype=np.float64) / 8)  # 8 frequencies per half

    def half(positions: torch.Tensor) -> np.ndarray:
        angles = positions.numpy().astype(np.float64)[:, None] * omega
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    expected = np.concatenate([half(times), half(leads)], axis=1)  # time first, then lead
    assert code.dtype == torch.float32
    torch.testing.assert_close(code, torch.from_numpy(expected).float(), atol=0, rtol=0)
    rounded_late = sincos_2d(times, leads, dim=32)  # the same halves computed in float32
    assert not torch.equal(code, rounded_late)
    torch.testing.assert_close(code, rounded_late, atol=1e-5, rtol=0)
    with pytest.raises(ConfigError, match="layout"):
        sincos_2d(leads, times, 32, layout="diagonal")  # type: ignore[arg-type]


def test_every_grid_position_has_a_distinct_code_for_long_records() -> None:
    code = sincos_grid(12, 300, 64)
    distances = torch.cdist(code, code) + torch.eye(len(code)) * 1e9
    assert distances.min().item() > 1e-3


def test_codes_of_a_subset_are_rows_of_the_grid() -> None:
    keep = torch.tensor([[5, 0, 19], [3, 3, 27]])
    subset = sincos_2d(keep // 7, keep % 7, 16)
    assert subset.shape == (2, 3, 16)
    torch.testing.assert_close(subset, sincos_grid(4, 7, 16)[keep])


def test_bad_dims_raise() -> None:
    with pytest.raises(ConfigError, match="even dim"):
        sincos_1d(torch.arange(3), 5)
    with pytest.raises(ConfigError, match="divisible by 4"):
        sincos_2d(torch.arange(3), torch.arange(3), 10)

"""Every published checkpoint sees in the grid what its official pipeline gives it: a record of
one window's duration, through the grid's dataset preprocessing and ``official_window``,
equals the adapter's ``preprocess`` (the official code's steps). (Longer records: the grid
scores several windows, each through the official per-window steps; where the official code
scales or filters the whole record before cropping, the adapter's docstring says so.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from bench.checkpoints.catalogue import checkpoint_methods
from bench.checkpoints.method import CheckpointConfig, CheckpointMethod
from bench.checkpoints.window import OfficialWindowEncoder
from bench.data.preprocess import apply_preprocessing
from bench.data.signals import CANONICAL_LEADS, SignalSet


def _record_set(raw: np.ndarray, rate: int) -> SignalSet:
    """One raw 10-s record as the grid's dataset layer holds it (canonical leads)."""
    meta = pd.DataFrame({"record_id": [1], "patient_id": [1], "fold": [10]})
    return SignalSet("one", raw[None], meta, rate, CANONICAL_LEADS, "raw")


@pytest.mark.parametrize("rate", [500, 100])
@pytest.mark.parametrize("method", checkpoint_methods(), ids=lambda m: m.name)
def test_grid_windows_get_the_official_input(method: type[CheckpointMethod], rate: int) -> None:
    rng = np.random.default_rng(7)
    spec = method.official_input
    if spec.grid_rate is not None and rate != spec.grid_rate:
        pytest.skip("its official code filters at the record's own rate (adapter docstring)")
    t = np.arange(round(rate * spec.window_s)) / rate
    raw = (np.sin(2 * np.pi * 1.2 * t) + 0.1 * rng.normal(size=(12, t.size))).astype(np.float32)
    expected = method.preprocess(raw, rate, CANONICAL_LEADS)
    grid = apply_preprocessing(_record_set(raw, rate), spec.preprocessing())
    window = np.asarray(grid.signals[0])[None, :, : spec.window_samples]
    assert window.shape[-1] == spec.window_samples
    got = method.official_window(window)[0]
    assert got.shape == expected.shape == (len(spec.leads), spec.samples)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4 * max(1.0, np.abs(expected).max()))


@pytest.mark.parametrize("method", checkpoint_methods(), ids=lambda m: m.name)
def test_matched_baselines_get_the_same_grid_input(method: type[CheckpointMethod]) -> None:
    encoder = method.untrained_encoder(CheckpointConfig(size="tiny"), method.official_input_spec())
    plain = method.official_window.__func__ is CheckpointMethod.official_window.__func__
    wrapped = isinstance(encoder, OfficialWindowEncoder)
    assert wrapped == (not plain or method.official_input.grid_leads != method.official_input.leads)
    spec = method.official_input
    x = torch.randn(2, len(spec.grid_leads), spec.window_samples)
    with torch.no_grad():
        assert encoder.embed(x).shape == (2, encoder.embed_dim)

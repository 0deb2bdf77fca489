"""The linear-probe cache: the same result as a fresh probe, and only for the very same inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bench.evaluation.probe_cache as probe_cache
from bench.evaluation.probe import LinearProbeConfig, ProbeResult, linear_probe
from bench.evaluation.probe_cache import cached_linear_probe
from bench.paths import cache_dir

pytestmark = pytest.mark.numeric

CONFIG = LinearProbeConfig(c_grid=(0.01, 1.0), max_iter=50)


def _inputs(seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(90, 6)).astype(np.float32)
    y = (x[:, :3] + rng.normal(0, 0.5, (90, 3)) > 0).astype(np.float32)
    return {
        "train": (x[:50], y[:50]),
        "val": (x[50:70], y[50:70]),
        "test_features": x[70:],
        "config": CONFIG,
        "extra_features": (x[70:] * 1.5,),
    }


def _counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the probes really fitted behind the cache."""
    fits: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> ProbeResult:
        fits.append(1)
        return linear_probe(*args, **kwargs)

    monkeypatch.setattr(probe_cache, "linear_probe", counting)
    return fits


def _same(a: ProbeResult, b: ProbeResult) -> None:
    np.testing.assert_array_equal(a.val_scores, b.val_scores)
    np.testing.assert_array_equal(a.test_scores, b.test_scores)
    assert a.val_scores.dtype == b.val_scores.dtype == np.float32
    assert (a.best_c, a.val_auroc_by_c, a.selection_metric) == (
        b.best_c,
        b.val_auroc_by_c,
        b.selection_metric,
    )
    assert len(a.extra_scores) == len(b.extra_scores) == 1
    np.testing.assert_array_equal(a.extra_scores[0], b.extra_scores[0])


def test_a_cached_probe_is_the_fresh_probe_and_is_fitted_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fits = _counted(monkeypatch)
    fresh = linear_probe(**_inputs())
    first = cached_linear_probe(**_inputs())
    again = cached_linear_probe(**_inputs())  # read back from the file
    assert len(fits) == 1
    assert len(list((cache_dir() / "probes").glob("*.npz"))) == 1
    _same(first, fresh)
    _same(again, fresh)
    assert isinstance(again.best_c, float)
    assert all(isinstance(c, float) for c in again.val_auroc_by_c)


@pytest.mark.parametrize("change", ["feature", "label", "rows", "config", "kind"])
def test_other_inputs_never_hit_the_entry(monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    fits = _counted(monkeypatch)
    cached_linear_probe(**_inputs())
    other = _inputs()
    x, y = other["train"]
    if change == "feature":  # another encoder: one value of one record differs
        x = x.copy()
        x[3, 2] += 1e-6
        other["train"] = (x, y)
    elif change == "label":
        y = y.copy()
        y[0, 0] = 1 - y[0, 0]
        other["train"] = (x, y)
    elif change == "rows":  # another labelled subset
        other["train"] = (x[:49], y[:49])
    elif change == "config":
        other["config"] = LinearProbeConfig(c_grid=(0.01, 1.0), max_iter=51)
    result = cached_linear_probe(
        **other, **({"kind": "regression", "main_metric": "mae"} if change == "kind" else {})
    )
    assert len(fits) == 2
    if change != "kind":
        _same(result, linear_probe(**other))


def test_a_corrupt_entry_is_moved_aside_and_fitted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fits = _counted(monkeypatch)
    fresh = cached_linear_probe(**_inputs())
    (path,) = (cache_dir() / "probes").glob("*.npz")
    Path(path).write_bytes(b"not an npz")
    _same(cached_linear_probe(**_inputs()), fresh)
    assert len(fits) == 2
    assert path.is_file()  # written again


def test_an_edited_probe_source_misses_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = [np.zeros((4, 2), dtype=np.float32)]
    config = LinearProbeConfig()
    before = probe_cache.probe_path(arrays, config, "multilabel", "macro_auroc")
    monkeypatch.setattr(probe_cache, "PROBE_CODE", "another source")
    assert probe_cache.probe_path(arrays, config, "multilabel", "macro_auroc") != before


def test_empty_arrays_have_digests_that_tell_their_shapes_apart() -> None:
    empty = np.zeros((0, 6), dtype=np.float32)
    assert probe_cache.array_digest(empty) == probe_cache.array_digest(empty.copy())
    assert probe_cache.array_digest(empty) != probe_cache.array_digest(empty.reshape(6, 0))
    assert probe_cache.array_digest(empty) != probe_cache.array_digest(np.zeros((0, 5)))

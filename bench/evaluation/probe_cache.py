"""Linear probes memoised on disk by the exact content of their inputs.

A probe is a pure function of its features, labels, config, kind and main metric (L-BFGS and
the standardiser draw no random numbers), so cells that feed it the same arrays get the same
result: e.g. the fraction seeds of a linear cell at label fraction 1.0 (every training row,
whatever the seed) on one encoder. The key digests every input array's bytes, dtype and shape
with the probe settings, the probe module's source and the bench and scikit-learn versions, so
a different encoder, record set, label set or config never hits another's entry; a corrupt
entry is moved aside (reported by name) and computed again.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sklearn

from bench import __version__
from bench.atomic import quarantine, verify_checked, write_checked
from bench.config import to_dict
from bench.errors import CorruptFileError
from bench.evaluation.probe import LinearProbeConfig, ProbeResult, linear_probe
from bench.hashing import stable_hash
from bench.paths import cache_dir
from bench.task import TaskKind

PROBE_CODE = hashlib.sha256(Path(linear_probe.__code__.co_filename).read_bytes()).hexdigest()
"""Digest of the probe's source: an edited probe never reads the fits of the one before."""


def cached_linear_probe(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    test_features: np.ndarray,
    config: LinearProbeConfig,
    kind: TaskKind = "multilabel",
    main_metric: str = "macro_auroc",
    extra_features: Sequence[np.ndarray] = (),
) -> ProbeResult:
    """``linear_probe`` with these arguments, from the cache when they were probed before."""
    arrays = (*train, *val, test_features, *extra_features)
    path = probe_path(arrays, config, kind, main_metric)
    if path.exists():
        cached = _read(path, len(extra_features))
        if cached is not None:
            return cached
    result = linear_probe(train, val, test_features, config, kind, main_metric, extra_features)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        val_scores=result.val_scores,
        test_scores=result.test_scores,
        best_c=np.float64(result.best_c),
        c=np.array(list(result.val_auroc_by_c), dtype=np.float64),
        by_c=np.array(list(result.val_auroc_by_c.values()), dtype=np.float64),
        selection_metric=np.array(result.selection_metric),
        **{f"extra_{i}": scores for i, scores in enumerate(result.extra_scores)},
    )
    write_checked(path, lambda handle: handle.write(buffer.getvalue()))
    return result


def probe_path(
    arrays: Sequence[np.ndarray], config: LinearProbeConfig, kind: str, main_metric: str
) -> Path:
    """Cache file of the probe of ``arrays`` (train x, train y, val x, val y, test x, extras)."""
    key = stable_hash(
        {
            "kind": "linear-probe",
            "bench": __version__,
            "probe_code": PROBE_CODE,
            "sklearn": sklearn.__version__,
            "config": to_dict(config),
            "task_kind": kind,
            "main_metric": main_metric,
            "arrays": [array_digest(array) for array in arrays],
        }
    )
    return cache_dir() / "probes" / f"{key}.npz"


def array_digest(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes (C order; an empty array has none)."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    if array.size:  # memoryview cannot cast a view with a zero in its shape
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def _read(path: Path, n_extra: int) -> ProbeResult | None:
    """The cached result at ``path``; None (the file moved aside) when it is corrupt."""
    try:
        verify_checked(path)
        with np.load(path, allow_pickle=False) as stored:
            by_c = dict(zip(stored["c"].tolist(), stored["by_c"].tolist(), strict=True))
            return ProbeResult(
                stored["val_scores"],
                stored["test_scores"],
                float(stored["best_c"]),
                by_c,
                str(stored["selection_metric"]),
                tuple(stored[f"extra_{i}"] for i in range(n_extra)),
            )
    except (CorruptFileError, OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        quarantine(path, str(error).replace(str(path), path.name))
        return None

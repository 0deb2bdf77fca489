"""Example-record figures of a grid's delineation tasks: for each task, protocol and profile,
one test record's lead with the cardiologists' annotation and every method's predicted waves.

The example is the same for every method: the largest label fraction, each method's lowest
(pretraining seed, fraction seed) run, the test record with the lowest id that every method
scored, and lead II (``EXAMPLE_LEAD``; the first lead where a task has fewer). The signal is the
record as the methods saw it (the cells' preprocessing), fetched through ``signal_of``.
Files: ``figures/<task>_<protocol>_<profile>_example.{png,pdf}``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.grid.results import CellResult, load_predictions, load_results
from bench.reporting.delineation_figure import write_delineation_figure

# (dataset, preprocessing as in the cell config, record id) -> ([leads, T] signal, lead names)
SignalOf = Callable[[str, Mapping[str, Any], int], tuple[np.ndarray, tuple[str, ...]]]
EXAMPLE_LEAD = 1  # lead II in the canonical order I, II, III, aVR, ...


def write_delineation_examples(
    results_dir: str | Path,
    signal_of: SignalOf,
    eval_keys: Collection[str] | None = None,
    out_dir: str | Path | None = None,
) -> list[Path]:
    """One example figure per (task, protocol, profile) with segmentation cells; PNG paths."""
    results_dir = Path(results_dir)
    out = Path(out_dir) if out_dir is not None else results_dir / "figures"
    groups: dict[tuple[str, str, str], list[CellResult]] = defaultdict(list)
    for result in load_results(results_dir, status="ok", eval_keys=eval_keys):
        if "segmentation" in result.config:
            groups[(result.task, result.protocol, result.profile)].append(result)
    written = []
    for (task, protocol, profile), results in sorted(groups.items()):
        chosen = _one_run_per_method(results)
        predictions = {m: load_predictions(results_dir, r.eval_key) for m, r in chosen.items()}
        common = set.intersection(*(set(p.record_ids.tolist()) for p in predictions.values()))
        record = min(common)
        first = next(iter(chosen.values()))
        shape = first.config["segmentation"]
        lead = EXAMPLE_LEAD if shape["n_leads"] > EXAMPLE_LEAD else 0
        masks = {  # each method's mask at its own rate, on the first one's time axis
            m: _lead_mask(p, record, chosen[m].config["segmentation"], lead, shape["n_samples"])
            for m, p in predictions.items()
        }
        true = _lead_mask(predictions[next(iter(chosen))], record, shape, lead, truth=True)
        signal, leads = signal_of(first.config["dataset"], first.config["preprocessing"], record)
        stem = out / re.sub(r"[^A-Za-z0-9._-]+", "-", f"{task}_{protocol}_{profile}_example")
        title = f"{task} · {protocol} · record {record}, lead {leads[lead]} (profile {profile})"
        paths = write_delineation_figure(
            stem, signal[lead], true, masks, shape["sampling_rate"], title
        )
        written += [path for path in paths if path.suffix == ".png"]
    return written


def _one_run_per_method(results: list[CellResult]) -> dict[str, CellResult]:
    """Each method's run at the largest fraction with the lowest (pretraining, fraction) seed."""
    top = max(r.fraction for r in results)
    chosen: dict[str, CellResult] = {}
    for result in sorted(results, key=lambda r: (r.pretrain_seed or 0, r.seed, r.eval_key)):
        if result.fraction == top:
            chosen.setdefault(result.method, result)
    return dict(sorted(chosen.items()))


def _lead_mask(
    predictions: Any,
    record: int,
    shape: Mapping[str, int],
    lead: int,
    samples: int | None = None,
    truth: bool = False,
) -> np.ndarray:
    """One lead's mask of ``record`` (its last lead where it has fewer), stretched to
    ``samples`` steps by nearest sample where given (a method scored at another rate)."""
    row = int(np.flatnonzero(predictions.record_ids == record)[0])
    flat = predictions.y_true[row] if truth else predictions.y_score[row]
    masks = np.asarray(flat).reshape(shape["n_leads"], shape["n_samples"])
    mask = masks[min(lead, shape["n_leads"] - 1)].astype(np.int64)
    if samples is None or samples == mask.size:
        return mask
    return mask[np.minimum(np.arange(samples) * mask.size // samples, mask.size - 1)]

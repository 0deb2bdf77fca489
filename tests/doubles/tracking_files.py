"""Hand-made inputs of tracking and reporting tests: result files and pretraining folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions, write_result
from bench.training.checkpoint import save_checkpoint

TRACKED_LABELS = ("NORM", "MI", "1st degree AV block")


@dataclass(frozen=True)
class TrackingFiles:
    """Hand-made inputs of tracking tests: result files and a pretraining run folder."""

    results: Path

    def cell(self, eval_key: str, *, status: str = "ok", **fields: Any) -> CellResult:
        """Write one cell's result file (predictions too when 'ok'); returns the CellResult."""
        values: dict[str, Any] = {
            "eval_key": eval_key, "pretrain_key": "a1b2c3d4e5f6", "method": "toy_masked",
            "task": "superdiagnostic", "task_group": "ptbxl", "protocol": "linear",
            "fraction": 0.1, "seed": 0, "profile": "smoke", "label_names": TRACKED_LABELS,
            "n_train": 40, "n_val": 10, "n_test": 6, "realised_fraction": 0.098,
            "config": {
                "method": {"hidden": 16, "mask_ratio": 0.5}, "train": {"lr": 0.001},
                "preprocessing": {"rate": 100, "leads": "12"},
                "evaluation": {"linear": {"c_grid": [0.01, 0.1, 1.0]}, "note": "x" * 7000},
            },
            "provenance": collect_provenance("fingerprint-1"),
            "timings": {"embed_s": 1.5, "fit_s": 0.25},
        }  # fmt: skip
        if status == "ok":
            values["metrics"] = {
                "macro_auroc": 0.81, "macro_auprc": 0.52, "macro_f1": 0.47,
                "n_classes_evaluated": 2,
                "per_class_auroc": {"NORM": 0.9, "MI": None, "1st degree AV block": 0.72},
            }  # fmt: skip
            values["ci"] = {"level": 0.9, "n_boot": 200, "seed": 0,
                            "macro_auroc": [0.7, 0.9], "macro_auprc": [0.4, 0.6]}  # fmt: skip
        else:
            values["error"] = "RuntimeError: probe diverged"
        result = CellResult(**{**values, "status": status, **fields})
        predictions = None
        if status == "ok":
            rng = np.random.default_rng(len(eval_key))
            shape = (result.n_test, len(result.label_names))
            predictions = Predictions(
                np.arange(result.n_test), (rng.random(shape) < 0.5).astype(np.float32),
                rng.random(shape).astype(np.float32),
            )  # fmt: skip
        write_result(self.results, result, predictions)
        return result

    def pretraining(self, key: str = "a1b2c3d4e5f6", method: str = "toy_masked") -> Path:
        """A finished pretraining folder: checkpoint.pt (small) and history.csv (20 steps)."""
        run_dir = self.results / "pretrain" / f"{method}-{key}"
        steps = np.arange(1, 21)
        history = {
            "step": steps, "epoch": (steps - 1) // 5 + 1, "lr": 1e-3 / steps,
            "loss": 2.0 / steps, "grad_norm": np.where(steps == 3, np.nan, 0.5),
        }  # fmt: skip
        spec = {"n_leads": 3, "n_samples": 32, "sampling_rate": 16}
        save_checkpoint(run_dir / "checkpoint.pt", {
            "method": method, "method_config": {"hidden": 16, "mask_ratio": 0.5},
            "input_spec": spec, "model": {"weight": torch.ones(4)}, "step": 20,
            "total_steps": 20, "finished": True, "elapsed_s": 4.0, "samples_seen": 160,
            "train_config": {"lr": 0.001, "batch_size": 8, "betas": [0.9, 0.999]},
            "info": {"pretrain_key": key, "data": {"dataset": "ptbxl", "fingerprint": "fp-1"},
                     "preprocessing": {"rate": 100}, "input": {"window_s": 2.0, **spec}},
        })  # fmt: skip
        pd.DataFrame(history).to_csv(run_dir / "history.csv", index=False)
        return run_dir


@pytest.fixture
def tracking_files(tmp_path: Path) -> TrackingFiles:
    """Builders of result files and pretraining folders under ``tmp_path/results``."""
    return TrackingFiles(tmp_path / "results")

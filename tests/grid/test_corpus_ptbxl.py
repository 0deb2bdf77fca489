"""Cross-dataset transfer on the real PTB-XL subset: pretrain on a union corpus of two
generated datasets (a CinC tree and a WFDB folder) holding planted PTB-XL val/test records,
then evaluate on PTB-XL; the leaked records are excluded and counted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.cli import main
from bench.data.loading import load_dataset
from bench.data.preprocess import Preprocessing
from bench.grid.results import load_results
from bench.training.planning import CORPUS_MANIFEST
from tests.data.corpus_layouts import write_corpus_layouts
from tests.doubles.grid import FAST_SETS


@pytest.mark.slow
def test_pretraining_on_a_leaky_union_corpus_then_ptbxl(
    toys: Any, ptbxl_root: Path, tmp_path: Path, isolated_results: Path
) -> None:
    ptbxl = load_dataset("ptbxl", ptbxl_root, Preprocessing(rate=100))
    ids = ptbxl.meta["record_id"].to_numpy()
    val, test = ptbxl.split_indices("val"), ptbxl.split_indices("test")
    copied = {int(ids[r]): np.asarray(ptbxl.signals[r], np.float64) for r in test[10:12]}
    planted = write_corpus_layouts(
        tmp_path, copied, [int(ids[val[0]]), int(ids[test[0]])], list(copied), n_cinc=40,
        n_wfdb=30, n_duplicates=1,
    )  # fmt: skip
    args = ["run", "--methods", "toy_masked", "--tasks", "ptbxl-superdiagnostic", "--fractions",
            "1.0", "--seeds", "1", "--protocols", "linear", "--no-progress", "--jobs", "1",
            "--no-tracking", "--pretrain-data", "cinc2021+wfdb", "--data-root",
            f"ptbxl={ptbxl_root}", "--data-root", f"cinc2021={planted.cinc}", "--data-root",
            f"wfdb={planted.wfdb}"]  # fmt: skip
    for item in FAST_SETS:
        args += ["--set", item]
    assert main(args) == 0
    (run,) = (isolated_results / "pretrain").glob("toy_masked-*")
    report = json.loads((run / CORPUS_MANIFEST).read_text())["report"]
    assert report["excluded"] == {"id": 2, "fingerprint": 2, "duplicate": 1}
    assert report["records"] == 40 + 30
    assert [p["dataset"] for p in report["protected"]] == ["ptbxl"]
    (result,) = load_results(isolated_results, status="ok")
    assert result.task == "ptbxl-superdiagnostic" and 0.0 < result.metrics["macro_auroc"] <= 1.0
    assert result.pretraining["corpus"]["label"] == "cinc2021+wfdb"

"""Result files: round trip, atomic writes, completeness semantics, clear errors, tidy frame."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.grid import results as results_module
from bench.grid.provenance import collect_provenance
from bench.grid.result_state import result_state
from bench.grid.results import (
    RESULT_COLUMNS,
    CellResult,
    CorruptResultError,
    Predictions,
    ResultFileError,
    describe_failure,
    load_predictions,
    load_results,
    read_result,
    result_exists,
    result_paths,
    results_frame,
    write_result,
)

LABELS = ("NORM", "MI", "STTC")


def _result(eval_key: str = "cell-a", **changes: object) -> CellResult:
    result = CellResult(
        eval_key=eval_key,
        pretrain_key="pre-1",
        method="jepa",
        task="superdiagnostic",
        task_group="ptbxl",
        protocol="linear",
        fraction=0.1,
        seed=0,
        profile="smoke",
        label_names=LABELS,
        n_train=100,
        n_val=20,
        n_test=4,
        realised_fraction=0.098,
        config={"probe": {"c": 1.0}},
        provenance=collect_provenance("fingerprint-1"),
        metrics={"macro_auroc": 0.8, "macro_auprc": 0.6, "macro_f1": 0.5,
                 "per_class_auroc": {"NORM": 0.9, "MI": None, "STTC": 0.7}},
        ci={"level": 0.9, "n_boot": 1000, "seed": 0, "macro_auroc": [0.7, 0.9]},
        timings={"fit_s": 1.5},
    )  # fmt: skip
    return dataclasses.replace(result, **changes)


def _predictions(n: int = 4) -> Predictions:
    rng = np.random.default_rng(0)
    return Predictions(
        record_ids=np.arange(100, 100 + n),
        y_true=(rng.random((n, 3)) < 0.5).astype(np.float32),
        y_score=rng.random((n, 3)).astype(np.float32),
    )


def _no_temp_files(results: Path) -> bool:
    return not list((results / "runs").glob(".*.tmp"))


def test_round_trip(tmp_path: Path) -> None:
    result, predictions = _result(), _predictions()
    json_path = write_result(tmp_path, result, predictions)
    assert json_path == tmp_path / "runs" / "cell-a.json"
    assert read_result(json_path) == result
    assert load_results(tmp_path) == [result]
    loaded = load_predictions(tmp_path, "cell-a")
    assert np.array_equal(loaded.record_ids, predictions.record_ids)
    assert np.array_equal(loaded.y_true, predictions.y_true)
    assert np.array_equal(loaded.y_score, predictions.y_score)
    assert _no_temp_files(tmp_path)


def test_provenance_is_filled_in() -> None:
    provenance = collect_provenance("abc")
    assert provenance.data_fingerprint == "abc"
    assert provenance.git_sha is None or re.fullmatch(r"[0-9a-f]{40}", provenance.git_sha)
    assert "numpy" in provenance.package_versions
    assert provenance.created.endswith("+00:00") and provenance.host


def test_nan_metrics_are_written_as_null(tmp_path: Path) -> None:
    result = _result(metrics={"macro_auroc": 0.8, "per_class_auroc": {"MI": float("nan")}})
    path = write_result(tmp_path, result, _predictions())
    assert json.loads(path.read_text())["metrics"]["per_class_auroc"]["MI"] is None


def test_failed_npz_write_leaves_no_json_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(handle: object, predictions: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(results_module, "_save_predictions", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write_result(tmp_path, _result(), _predictions())
    json_path, npz_path = result_paths(tmp_path, "cell-a")
    assert not json_path.exists() and not npz_path.exists()
    assert not result_exists(tmp_path, "cell-a")
    assert _no_temp_files(tmp_path)


def test_overwrite_replaces_both_files(tmp_path: Path) -> None:
    write_result(tmp_path, _result(), _predictions())
    newer = _result(metrics={"macro_auroc": 0.95})
    write_result(tmp_path, newer, _predictions())
    assert load_results(tmp_path) == [newer]


def test_result_exists_means_complete_and_ok(tmp_path: Path) -> None:
    assert not result_exists(tmp_path, "cell-a")
    write_result(tmp_path, _result(), _predictions())
    assert result_exists(tmp_path, "cell-a")
    failed = _result("cell-b", status="failed", metrics={}, ci={}, error="RuntimeError: boom")
    write_result(tmp_path, failed)
    assert not result_exists(tmp_path, "cell-b")  # failed cells are retried by default
    assert result_exists(tmp_path, "cell-b", include_failed=True)
    assert not result_paths(tmp_path, "cell-b")[1].exists()
    assert [r.eval_key for r in load_results(tmp_path, status="ok")] == ["cell-a"]
    assert [r.eval_key for r in load_results(tmp_path, status="failed")] == ["cell-b"]


def test_failure_is_described_with_message_and_traceback(tmp_path: Path) -> None:
    try:
        np.linalg.inv(np.zeros((2, 2)))
    except np.linalg.LinAlgError as error:
        message, summary = describe_failure(error)
    assert message == "LinAlgError: Singular matrix"
    assert "Traceback" in summary and "inv" in summary
    failed = _result(status="failed", metrics={}, error=message, traceback=summary)
    write_result(tmp_path, failed)
    assert read_result(result_paths(tmp_path, "cell-a")[0]).traceback == summary


def test_inconsistent_writes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs its predictions"):
        write_result(tmp_path, _result())
    with pytest.raises(ValueError, match="expected"):
        write_result(tmp_path, _result(n_test=5), _predictions())
    failed = _result(status="failed", metrics={}, error="E: x")
    with pytest.raises(ValueError, match="takes no predictions"):
        write_result(tmp_path, failed, _predictions())
    with pytest.raises(ValueError, match="needs its error"):
        _result(status="failed", metrics={})
    with pytest.raises(ValueError, match="eval_key"):
        _result("../escape")
    with pytest.raises(ValueError, match="not plain JSON"):
        write_result(tmp_path, _result(config={"model": object()}), _predictions())
    with pytest.raises(ValueError, match="distinct ids"):
        Predictions(np.zeros(4, dtype=int), np.zeros((4, 3)), np.zeros((4, 3)))
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_corrupt_json_names_the_file_or_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_result(tmp_path, _result(), _predictions())
    bad = tmp_path / "runs" / "broken.json"
    bad.write_text('{"eval_key": "broken", ')
    with pytest.raises(ResultFileError, match=r"broken\.json"):
        load_results(tmp_path)
    with caplog.at_level(logging.WARNING):
        kept = load_results(tmp_path, skip_invalid=True)
    assert [r.eval_key for r in kept] == ["cell-a"]
    assert "broken.json" in caplog.text


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(schema_version=99), "schema version 99"),
        (lambda d: d.update(colour="red"), "unknown field"),
        (lambda d: d.update(seed="zero"), "seed must be int"),
        (lambda d: d.update(protocol="knn"), "not one of"),
    ],
)
def test_invalid_json_content_names_the_file(tmp_path: Path, edit: object, message: str) -> None:
    path = write_result(tmp_path, _result(), _predictions())
    data = json.loads(path.read_text())
    data.pop("integrity")  # an edited file without a checksum is checked field by field
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match=message) as error:
        read_result(path)
    assert str(path) in str(error.value)


def test_an_edited_but_valid_record_is_found_altered_by_its_checksum(tmp_path: Path) -> None:
    path = write_result(tmp_path, _result(), _predictions())
    data = json.loads(path.read_text())
    data["metrics"]["macro_auroc"] = 0.95  # one metric changed: still valid JSON and fields
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(CorruptResultError, match=r"cell-a\.json does not match its checksum"):
        read_result(path)
    state, why = result_state(tmp_path, "cell-a")
    assert state == "corrupt" and "altered" in why


def test_edited_but_loadable_predictions_are_found_by_their_checksum(tmp_path: Path) -> None:
    write_result(tmp_path, _result(), _predictions())
    edited = _predictions()
    edited.y_score[0, 0] += 0.1  # one score changed: still a valid npz of the right shapes
    npz = result_paths(tmp_path, "cell-a")[1]
    np.savez(npz, record_ids=edited.record_ids, y_true=edited.y_true.astype(np.uint8),
             y_score=edited.y_score)  # fmt: skip
    with pytest.raises(CorruptResultError, match=r"cell-a\.npz does not match its checksum"):
        load_predictions(tmp_path, "cell-a")
    assert result_state(tmp_path, "cell-a")[0] == "corrupt"


def test_missing_or_corrupt_predictions_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ResultFileError, match=r"cell-x\.npz is missing"):
        load_predictions(tmp_path, "cell-x")
    write_result(tmp_path, _result(), _predictions())
    npz = result_paths(tmp_path, "cell-a")[1]
    npz.write_bytes(b"not a zip file")
    with pytest.raises(ResultFileError, match=r"cell-a\.npz"):
        load_predictions(tmp_path, "cell-a")


def test_results_frame_is_tidy(tmp_path: Path) -> None:
    write_result(tmp_path, _result(), _predictions())
    write_result(tmp_path, _result("cell-b", seed=1, metrics={"macro_auroc": 0.7}), _predictions())
    frame = results_frame(tmp_path)
    assert tuple(frame.columns) == RESULT_COLUMNS
    assert len(frame) == 2
    row = frame.set_index("eval_key").loc["cell-a"]
    assert row["macro_auroc"] == 0.8 and row["macro_auroc_low"] == 0.7
    assert row["ci_level"] == 0.9 and row["data_fingerprint"] == "fingerprint-1"
    assert pd.isna(frame.set_index("eval_key").loc["cell-b", "macro_f1"])
    assert results_frame([]).columns.tolist() == list(RESULT_COLUMNS)

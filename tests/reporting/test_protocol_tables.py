"""Tables of the four protocols and of few-shot cells; AUPRC tables, the macro over classes
with enough test positives, and the per-class table that flags the rare classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bench.evaluation.metrics import evaluate_cell
from bench.grid.provenance import collect_provenance
from bench.grid.results import CellResult, Predictions, write_result
from bench.reporting.figures import write_figures
from bench.reporting.leaderboard import LeaderboardOptions, leaderboard_frame, write_leaderboards
from bench.reporting.paper import paper_tables, to_paper_markdown
from bench.reporting.per_class import FEW_MARK, per_class_frame, to_per_class_markdown
from bench.reporting.summary import summary_frame

LABELS = ("common", "middle", "rare")
CELLS = {  # method -> its protocols
    "alpha": ("linear", "finetune", "attentive", "knn"),
    "random_init": ("linear", "attentive", "knn"),
    "supervised": ("finetune",),
}
BUDGETS = ((0.1, None), (1.0, None), (0.0, 1), (0.0, 5))  # (fraction, shots)
SEEDS = (0, 1)
OPTIONS = LeaderboardOptions(n_boot=50)


def truth() -> np.ndarray:
    """120 test records; the rare class has 6 positives (fewer than 10)."""
    rng = np.random.default_rng(0)
    labels = (rng.random((120, 3)) < [0.5, 0.25, 0.0]).astype(np.float32)
    labels[rng.choice(120, 6, replace=False), 2] = 1.0
    return labels


def write_grid(results: Path) -> dict[str, tuple[CellResult, np.ndarray]]:
    """Every (method, protocol, budget, seed) cell with metrics from its own predictions."""
    y_true, written = truth(), {}
    for m, (method, protocols) in enumerate(CELLS.items()):
        for p, protocol in enumerate(protocols):
            for b, (fraction, shots) in enumerate(BUDGETS):
                for seed in SEEDS:
                    rng = np.random.default_rng([m, p, b, seed])
                    strength = (2.0 - m) * (0.5 + 0.5 * (shots or 10 * fraction) / 5)
                    score = y_true * strength + rng.normal(size=y_true.shape)
                    measured = evaluate_cell(y_true, score, y_true, score, LABELS, n_boot=20)
                    key = f"{method}-{protocol}-{b}-{seed}".replace("_", "")
                    result = CellResult(
                        eval_key=key, pretrain_key=None, method=method, task="toy",
                        task_group="toys", protocol=protocol, fraction=fraction, shots=shots,
                        seed=seed, profile="smoke", label_names=LABELS, n_train=10, n_val=10,
                        n_test=120, realised_fraction=0.01, config={},
                        provenance=collect_provenance("fp"), metrics=measured.metrics,
                    )  # fmt: skip
                    write_result(results, result, Predictions(np.arange(120), y_true, score))
                    written[key] = (result, score)
    return written


def test_a_table_per_protocol_and_label_budget(tmp_path: Path) -> None:
    write_grid(tmp_path)
    frame = leaderboard_frame(tmp_path, OPTIONS)
    budgets = set(zip(frame["protocol"], frame["fraction"], frame["shots"], strict=True))
    assert budgets == {(p, f, k or 0) for p in CELLS["alpha"] for f, k in BUDGETS}
    knn_five = frame[(frame["protocol"] == "knn") & (frame["shots"] == 5)].set_index("method")
    assert knn_five.loc["supervised", "method_protocol"] == "finetune"  # its only protocol
    finetune = frame[(frame["protocol"] == "finetune") & (frame["shots"] == 1)]
    shown = dict(zip(finetune["method"], finetune["method_protocol"], strict=True))
    assert shown["random_init"] == "linear"  # the linear probe stands for the frozen baseline
    tables = {(key[3], title): table for key, title, table in paper_tables(frame)}
    assert list(tables[("knn", "toy · k-NN (toys, profile smoke)")].columns) == [0.1, 1.0]
    few_shot = tables[("knn", "toy · k-NN, few-shot (toys, profile smoke)")]
    assert list(few_shot.columns) == ["1-shot", "5-shot"]
    assert "| Method | 1-shot | 5-shot |" in to_paper_markdown(frame, "note")
    summary = summary_frame(frame, tmp_path, n_boot=50)
    assert {(p, k) for p, k in zip(summary["protocol"], summary["shots"], strict=True)} >= {
        ("attentive", 5),
        ("knn", 1),
    }
    written = write_leaderboards(tmp_path, options=OPTIONS, frame=frame)
    assert "toys · k-NN · 5-shot labels (profile smoke)" in written["markdown"].read_text()
    figures = {path.name for path in write_figures(tmp_path)}
    assert {"toy_knn_smoke.png", "toy_knn_shots_smoke.png"} <= figures


def test_auprc_tables_and_the_macro_over_classes_with_enough_positives(tmp_path: Path) -> None:
    cells = write_grid(tmp_path)
    auprc = leaderboard_frame(tmp_path, LeaderboardOptions(n_boot=50, metric="macro_auprc"))
    assert set(auprc["main_metric"]) == {"macro_auprc"}
    entry = auprc[(auprc["protocol"] == "knn") & (auprc["method"] == "alpha")]
    entry = entry[entry["shots"] == 5].iloc[0]
    stored = [cells[f"alpha-knn-3-{s}"][0].metrics["macro_auprc"] for s in SEEDS]
    assert entry["mean"] == pytest.approx(np.mean(stored))
    assert entry["ci_low"] <= entry["mean"] <= entry["ci_high"]
    written = write_leaderboards(
        tmp_path, options=LeaderboardOptions(n_boot=50, metric="macro_auprc")
    )
    assert written["markdown"].name == "leaderboard_auprc.md"

    restricted = leaderboard_frame(tmp_path, LeaderboardOptions(n_boot=50, min_positives=10))
    entry = restricted[(restricted["protocol"] == "linear") & (restricted["method"] == "alpha")]
    entry = entry[entry["fraction"] == 0.1].iloc[0]
    y_true = truth()
    expected = [
        np.mean(
            [roc_auc_score(y_true[:, c], cells[f"alpha-linear-0-{s}"][1][:, c]) for c in (0, 1)]
        )
        for s in SEEDS
    ]  # the rare class (6 positives) left out
    assert entry["mean"] == pytest.approx(np.mean(expected))
    full = leaderboard_frame(tmp_path, OPTIONS)
    full = full[(full["protocol"] == "linear") & (full["method"] == "alpha")]
    assert full[full["fraction"] == 0.1].iloc[0]["mean"] != pytest.approx(entry["mean"])


def test_the_per_class_table_flags_classes_with_few_test_positives(tmp_path: Path) -> None:
    cells = write_grid(tmp_path)
    frame = per_class_frame(tmp_path, "toy", LeaderboardOptions(protocols=("linear",)))
    assert set(frame["protocol"]) == {"linear"}
    positives = dict(zip(frame["class"], frame["test_positives"], strict=False))
    assert positives == {n: int(truth()[:, c].sum()) for c, n in enumerate(LABELS)}
    assert set(frame.loc[frame["few_positives"], "class"]) == {"rare"}
    row = frame[(frame["method"] == "alpha") & (frame["fraction"] == 0.1)]
    row = row[row["class"] == "rare"].iloc[0]
    stored = [cells[f"alpha-linear-0-{s}"][0].metrics["per_class_auprc"]["rare"] for s in SEEDS]
    assert row["auprc_mean"] == pytest.approx(np.mean(stored))
    markdown = to_per_class_markdown(frame, "toy")
    assert (
        f"| rare | 6{FEW_MARK} |" in markdown and f"| common | {positives['common']} |" in markdown
    )

"""How runs look in the MLflow UI: names that sort, the training-runs experiment kind, and
links into the UI.

Names join their parts with " · ": a cell ``jepa · superdiagnostic · linear ·  10% · s0`` (a
few-shot cell ``jepa · superdiagnostic · knn ·   5-shot · s0``), a
pretraining ``jepa · pretraining · 3f2a9c01b2d4``, a grid ``grid · 2026-12-01 23:10 · ab12cd34``.
The percentage's integer part is padded with spaces to three characters, so sorting by name
(MLflow sorts text) orders fractions numerically: "  1%" < "  5%" < " 10%" < "100%".
"""

from __future__ import annotations

from datetime import datetime, timezone

from bench.grid.results import CellResult

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"  # MLflow 3: which view the UI opens on
TRAINING_KIND = "custom_model_development"  # the runs table, not the GenAI (traces) view
NOTE_TAG = "mlflow.note.content"  # a run's description, rendered as Markdown by the UI
SEPARATOR = " · "
MAIN_METRIC = "macro_auroc"
# The runs-table columns a user needs (see README "MLflow"): the UI keeps its column choice in
# the browser, so these are ticked once per experiment under "Columns".
TABLE_COLUMNS = (
    f"metrics.{MAIN_METRIC}",
    "tags.method",
    "tags.task",
    "tags.protocol",
    "tags.fraction",
    "tags.seed",
)


def fraction_text(fraction: float) -> str:
    """0.1 -> ' 10%', 0.025 -> '  2.5%', 1.0 -> '100%': padded so text order is numeric."""
    percent = f"{fraction * 100:g}"
    whole, dot, decimals = percent.partition(".")
    return f"{whole:>3}{dot}{decimals}%"


def shots_text(shots: int) -> str:
    """5 -> '  5-shot': padded as ``fraction_text`` is, so text order is numeric."""
    return f"{shots:>3}-shot"


def cell_run_name(result: CellResult) -> str:
    """``method · task · protocol · fraction (or shots) · seed`` of a cell's run."""
    budget = fraction_text(result.fraction) if result.shots is None else shots_text(result.shots)
    parts = (result.method, result.task, result.protocol, budget)
    return SEPARATOR.join((*parts, f"s{result.seed}"))


def parent_run_name(method: str, pretrain_key: str, pretrained: bool) -> str:
    """``jepa · pretraining · <key>``, or ``supervised · initialisation · <key>`` for a
    baseline without a pretraining."""
    kind = "pretraining" if pretrained else "initialisation"
    return SEPARATOR.join((method, kind, pretrain_key))


def grid_run_name(grid_key: str, start_ms: int) -> str:
    """``grid · <UTC start, to the minute> · <manifest key>``: grids sort by time."""
    started = datetime.fromtimestamp(start_ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M")
    return SEPARATOR.join(("grid", started, grid_key))


def run_link(ui_url: str, experiment_id: str, run_id: str) -> str:
    """URL of a run's page in the MLflow UI served at ``ui_url``."""
    return f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def experiment_link(ui_url: str, experiment_id: str) -> str:
    """URL of an experiment's runs table, sorted by run name."""
    query = "orderByKey=tags.%60mlflow.runName%60&orderByAsc=true"  # the UI's run-name sort key
    return f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"

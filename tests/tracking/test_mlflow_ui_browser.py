"""The MLflow runs table of a mirrored grid, rendered by headless Chromium from a real
``mlflow server``: the training-runs view, runs sorted by name, the main metric's values."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from bench.tracking.naming import TABLE_COLUMNS
from bench.tracking.sync import Tracker
from tests.doubles.browser import console_errors

PAGE_LOAD_S = 90
# MLflow's own UI asks an auth endpoint that a server without auth lacks, and the server has
# no favicon: both answer 404 on every page, whatever the runs.
KNOWN_MLFLOW_404 = ("/ajax-api/2.0/mlflow/users/current", "/favicon.ico")


def ui_state(columns: tuple[str, ...]) -> str:
    """The runs-table state the UI keeps in the browser after ticking ``columns`` under
    "Columns" and sorting by run name (what the README's one-click setup does)."""
    selected = [f"{group}.`{name}`" for group, _, name in (c.partition(".") for c in columns)]
    return json.dumps({
        "selectedColumns": selected, "orderByKey": "tags.`mlflow.runName`", "orderByAsc": True,
    })  # fmt: skip


def render_runs_table(driver: Any, uri: str, experiment: str, screenshot: Path) -> list[str]:
    """Open the experiment's runs table with the columns ticked; the table's text lines."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{uri}/health")  # the UI's origin, to set its browser storage
    key = f'MLflowLocalStorage-1.1-ExperimentPage-["{experiment}"]-ReactComponentState'
    driver.execute_script(
        "localStorage.setItem(arguments[0], arguments[1]);"
        "localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false');"
        "localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'true');",
        key, ui_state(TABLE_COLUMNS),
    )  # fmt: skip
    driver.get(f"{uri}/#/experiments/{experiment}/runs")
    wait = WebDriverWait(driver, PAGE_LOAD_S)
    wait.until(
        expected_conditions.presence_of_element_located((By.XPATH, "//*[text()='macro_auroc']"))
    )
    wait.until(lambda d: "0.8" in d.find_element(By.TAG_NAME, "body").text)
    time.sleep(2)  # let the last requests settle before the screenshot and the console check
    driver.save_screenshot(str(screenshot))
    return driver.find_element(By.TAG_NAME, "body").text.splitlines()


@pytest.mark.slow
def test_runs_table_shows_the_metric_column(
    mlflow_server: Any, tracking_files: Any, chromium: Any, tmp_path: Path
) -> None:
    prefix = f"browser-{uuid.uuid4().hex[:8]}"
    tracking_files.pretraining()
    for key, fraction, score in (("c1", 0.1, 0.81), ("c2", 1.0, 0.87)):
        metrics = {"macro_auroc": score, "macro_auprc": 0.5, "macro_f1": 0.4}
        tracking_files.cell(key, fraction=fraction, metrics=metrics)
    Tracker(mlflow_server.uri, tracking_files.results, experiment_prefix=prefix).sync()
    experiment = MlflowClient(mlflow_server.uri).get_experiment_by_name(f"{prefix}/ptbxl")

    driver = chromium()
    lines = render_runs_table(driver, mlflow_server.uri, experiment.experiment_id,
                              tmp_path / "runs.png")  # fmt: skip
    assert "Training runs" in lines  # the training view, not the GenAI one
    assert "0.81" in lines and "0.87" in lines  # the metric column shows the cells' values
    names = [line for line in lines if line.startswith("toy_masked · ")]
    assert names[0].startswith("toy_masked · pretraining")
    assert [n for n in names if "linear" in n] == sorted(n for n in names if "linear" in n)
    errors = [e for e in console_errors(driver) if not any(k in e for k in KNOWN_MLFLOW_404)]
    assert errors == []
    assert (tmp_path / "runs.png").stat().st_size > 10_000

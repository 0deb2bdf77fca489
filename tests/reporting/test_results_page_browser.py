"""The results page opened from disk by headless Chromium: it renders, every image loads, and
the console stays clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.reporting.leaderboard import LeaderboardOptions
from bench.reporting.page import write_report
from tests.doubles.browser import console_errors


def render_page(driver: Any, page: Path, screenshot: Path) -> dict[str, Any]:
    """Open ``page`` (file://), screenshot its full height; what the checks need."""
    driver.get(page.resolve().as_uri())
    driver.set_window_size(1200, driver.execute_script("return document.body.scrollHeight") + 40)
    driver.save_screenshot(str(screenshot))
    return driver.execute_script(
        "return {title: document.title, text: document.body.innerText,"
        " images: [...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])};"
    )


@pytest.mark.slow
def test_results_page_renders_without_console_errors(
    result_grid: Any, chromium: Any, tmp_path: Path
) -> None:
    page = write_report(result_grid.results, options=LeaderboardOptions(n_boot=50))
    driver = chromium()
    shown = render_page(driver, page, tmp_path / "report.png")
    assert shown["title"].startswith("ECG SSL benchmark results")
    assert "Summary over tasks" in shown["text"] and "Pretrainings" in shown["text"]
    assert f"{result_grid.mean('alpha', 'task-b', 1.0):.3f}" in shown["text"]
    assert len(shown["images"]) == 3 and all(width > 100 for _, width in shown["images"])
    assert console_errors(driver) == []
    assert (tmp_path / "report.png").stat().st_size > 20_000

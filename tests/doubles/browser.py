"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) for page-rendering tests.

The browser runs offline-safe: no sandbox (containers), no GPU, no QUIC, no first-run or
background traffic, and a fresh profile per test. Tests using the ``chromium`` fixture skip
when the packages are absent; ``.ci/run`` installs them when the slow tests are requested.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
WINDOW = (1400, 900)


def console_errors(driver: Any) -> list[str]:
    """The page's console messages of level SEVERE (errors), since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """A factory of headless Chromium WebDrivers (selenium), each with a fresh profile; every
    driver started is quit at the end of the test."""
    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip("headless Chromium not installed (Debian: chromium, chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers: list[Any] = []

    def start() -> Any:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={tmp_path / f'chromium-profile-{len(drivers)}'}")
        options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        drivers.append(webdriver.Chrome(service=Service(driver_path), options=options))
        return drivers[-1]

    try:
        yield start
    finally:
        for driver in drivers:
            driver.quit()

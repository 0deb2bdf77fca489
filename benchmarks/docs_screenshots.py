"""Build the docs site and screenshot three of its pages with headless Chromium.

Usage: python benchmarks/docs_screenshots.py [--site DIR] [--out DIR]
Builds with ``mkdocs build --strict`` (the docs extra) into DIR (default: a temporary folder),
serves it on a local port and saves the home page, the add-a-dataset tutorial and the generated
command-line reference at 1280x900 to ``results/examples/docs-*.png``. Each page is checked
first: its title, its heading and the Material theme's stylesheet applied (the header coloured);
a page failing a check stops the script. Needs Debian's ``chromium`` and ``chromium-driver``
and selenium (the test extra). Works offline: the theme's web fonts fall back to system fonts.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' Chromium flags

from tests.doubles.browser import FLAGS

ROOT = Path(__file__).resolve().parents[1]
WINDOW = (1280, 900)
PAGES: dict[str, tuple[str, str]] = {  # file -> (path on the site, its first heading)
    "docs-home.png": ("", "ecg-ssl-bench"),
    "docs-tutorial.png": ("tutorials/add-a-dataset/", "Add a dataset and a task"),
    "docs-reference-cli.png": ("reference/cli/", "Command line"),
}
CHECK = """return {
  title: document.title,
  heading: (document.querySelector('article h1') || {}).textContent || '',
  header: getComputedStyle(document.querySelector('.md-header')).backgroundColor,
};"""


def build_site(site: Path) -> None:
    """``mkdocs build --strict`` of this checkout into ``site`` (fails on any warning)."""
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)]
    quiet = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's end-of-life banner
    subprocess.run(command, cwd=ROOT, check=True, env=quiet)


@contextmanager
def serve(site: Path) -> Iterator[str]:
    """``site`` served over HTTP on a free local port; yields its base URL."""
    handler = functools.partial(QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    """A static file handler that does not log every request."""

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing: the script prints what it saved."""


def start_chromium(profile: Path) -> Any:
    """A headless Chromium WebDriver with a fresh profile and a 1280x900 viewport."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if binary is None or driver_path is None:
        raise SystemExit("headless Chromium not found: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    viewport = {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", viewport)
    return driver


def screenshot(driver: Any, url: str, heading: str, target: Path) -> None:
    """Open ``url``, check it is the rendered page, save its first screen to ``target``."""
    driver.get(url)
    driver.execute_async_script("document.fonts.ready.then(arguments[arguments.length - 1]);")
    shown = driver.execute_script(CHECK)
    if heading not in shown["heading"] or "ecg-ssl-bench" not in shown["title"]:
        raise SystemExit(f"{url} did not render the page: {shown}")
    if shown["header"] in ("", "transparent", "rgba(0, 0, 0, 0)"):
        raise SystemExit(f"{url}: the Material stylesheet is not applied ({shown})")
    driver.save_screenshot(str(target))


def main() -> None:
    """Build, serve, screenshot; print the files written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="build the site here (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "examples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        site = args.site or Path(temp) / "site"
        build_site(site)
        args.out.mkdir(parents=True, exist_ok=True)
        driver = start_chromium(Path(temp) / "chromium-profile")
        try:
            with serve(site) as base:
                for name, (path, heading) in PAGES.items():
                    screenshot(driver, base + path, heading, args.out / name)
                    print(f"{args.out / name}: {base + path}")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()

"""Getting started repeats the README's quickstart and PTB-XL subset sections word for word
(links and images rewritten for the site), so the two never show different numbers."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_results_for_the_site() -> str:
    """The README from the quickstart's first sentence to the published-models heading, with
    its links and images as the docs site holds them."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("Install and run the whole grid on the embedded synthetic task")
    section = readme[start : readme.index("## Evaluating published models")].rstrip()
    section = section.replace("### On real data", "## On real data")
    return section.replace("](docs/", "](").replace("results/examples/", "images/")


def test_getting_started_holds_the_readme_results_verbatim() -> None:
    page = (ROOT / "docs" / "getting-started.md").read_text()
    assert readme_results_for_the_site() in page


def test_every_image_the_page_shows_is_the_readme_one() -> None:
    for name in ("synthetic_linear_smoke.png", "ptbxl-superdiagnostic_linear_smoke.png"):
        shown = ROOT / "docs" / "images" / name
        assert shown.read_bytes() == (ROOT / "results" / "examples" / name).read_bytes(), name

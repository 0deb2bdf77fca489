"""The static results page: what it shows, that it needs nothing outside its folder, and the
links into MLflow."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from bench.cli import main
from bench.reporting.leaderboard import LeaderboardOptions
from bench.reporting.page import PageLinks, write_report
from tests.doubles.result_grid import PRETRAIN_KEY, TASKS


class _Refs(HTMLParser):
    """Every src/href of a page, and its section ids."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.links: list[str] = []
        self.sections: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.sources.append(values["src"] or "")
        elif tag == "a":
            self.links.append(values["href"] or "")
        elif tag == "section":
            self.sections.append(values["id"] or "")


def _refs(page: Path) -> _Refs:
    parser = _Refs()
    parser.feed(page.read_text())
    return parser


def test_page_shows_summary_tables_figures_and_curves(result_grid: Any) -> None:
    links = PageLinks(
        cells={"alpha-task-a-10-0": "http://ui/#/experiments/1/runs/r1"},
        parents={PRETRAIN_KEY: "http://ui/#/experiments/1/runs/p1"},
        experiments={"toys": "http://ui/#/experiments/1/runs"},
    )
    page = write_report(result_grid.results, options=LeaderboardOptions(n_boot=50), links=links)
    assert page == result_grid.results / "report" / "index.html"
    refs = _refs(page)
    assert refs.sections == ["summary", *(f"task-{t}" for t in TASKS), "pretrainings"]
    assert sorted(refs.sources) == [
        f"curves/alpha-{PRETRAIN_KEY}.png",
        "figures/task-a_linear_smoke.png",
        "figures/task-b_linear_smoke.png",
    ]
    for source in refs.sources:  # everything the page shows lies beside it
        assert (page.parent / source).stat().st_size > 1000
    assert set(refs.links) >= {*links.cells.values(), *links.parents.values(), "#task-task-a"}
    text = page.read_text()
    assert "<script" not in text and "http" not in text.replace("http://ui/", "")
    best = f"{result_grid.mean('alpha', 'task-a', 0.1):.3f}"
    assert re.search(rf"<b>{best} ± \d\.\d{{3}}</b>", text)  # the best entry is bold
    assert text.count("<h3>all tasks · linear probe") == 2  # one summary table per fraction


def test_robustness_figures_are_shown_where_present(result_grid: Any) -> None:
    figures = result_grid.results / "figures"
    figures.mkdir()
    (figures / "task-a_robustness_smoke.png").write_bytes(b"\x89PNG fake")
    page = write_report(result_grid.results, options=LeaderboardOptions(n_boot=20))
    assert "figures/task-a_robustness_smoke.png" in _refs(page).sources
    assert (page.parent / "figures" / "task-a_robustness_smoke.png").read_bytes() == (
        b"\x89PNG fake"
    )
    assert "robustness" in _refs(page).sections


def test_bench_report_without_a_store_has_no_links(result_grid: Any, capsys: Any) -> None:
    assert main(["report", "--n-boot", "20"]) == 0
    page = Path(capsys.readouterr().out.strip())
    assert page == result_grid.results / "report" / "index.html"
    assert not any(link.startswith("http") for link in _refs(page).links)
    assert not (result_grid.results / "mlflow.db").exists()  # no empty store made

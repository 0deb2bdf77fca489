"""The markup of the results page (``bench.reporting.page``): plain HTML and CSS, no script,
no external resource, so it opens from disk (file://) in any browser."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

import pandas as pd

from bench.reporting.paper import cell_text, column_label, paper_sample_text
from bench.reporting.sample_rows import with_mark
from bench.reporting.summary import score_header

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .6em 0 1.2em; }
th, td { border-bottom: 1px solid #e4e4e4; padding: .25em .7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #999; }
tr.baseline td { color: #555; font-style: italic; }
td .runs { font-size: .75em; margin-left: .3em; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; }
.figures figure { margin: 0; } .figures img { max-width: 520px; width: 100%; }
.note { color: #666; font-size: .85em; max-width: 60em; }
nav a { margin-right: 1em; }
"""


def page(title: str, sections: Iterable[str], nav: Mapping[str, str]) -> str:
    """The whole document around ``sections`` (already HTML)."""
    links = " ".join(link(text, href) for text, href in nav.items())
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><nav>{links}</nav>" + "".join(sections) + "</body></html>\n"
    )


def section(anchor: str, heading: str, body: str) -> str:
    """A titled section with an id to link to."""
    return f'<section id="{html.escape(anchor)}"><h2>{html.escape(heading)}</h2>{body}</section>'


def paragraph(text: str, css: str = "note") -> str:
    """A paragraph of plain text."""
    return f'<p class="{css}">{html.escape(text)}</p>'


def link(text: str, href: str | None) -> str:
    """An anchor, or the escaped text alone when there is nowhere to go."""
    if not href:
        return html.escape(text)
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def figures(items: Iterable[tuple[str, str]]) -> str:
    """A row of figures: (relative image path, caption) each."""
    parts = [
        f'<figure><img src="{html.escape(src)}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for src, caption in items
    ]
    return f'<div class="figures">{"".join(parts)}</div>' if parts else ""


def paper_table(
    title: str, table: pd.DataFrame, seed_links: Mapping[tuple[str, str], list[tuple[str, str]]]
) -> str:
    """One paper table (rows = methods, columns = label fractions or shot counts); ``seed_links``
    maps (row label, column label: '10 %', '5-shot') to (seed label, URL) pairs shown by the
    entry."""
    head = "".join(f"<th>{html.escape(column_label(c))}</th>" for c in table.columns)
    rows = []
    for label, cells in table.iterrows():
        baseline = any(c is not None and bool(c["is_baseline"]) for c in cells)
        tds = []
        for column, entry in zip(table.columns, cells, strict=True):
            budget = column_label(column)
            text = html.escape(cell_text(entry))
            if entry is not None and entry["best"]:
                text = f"<b>{text}</b>"
            if entry is not None:
                text = with_mark(f"{text} {html.escape(entry['markers'])}".rstrip(), entry)
            runs = " ".join(link(s, u) for s, u in seed_links.get((str(label), budget), []))
            if runs:
                text += f'<span class="runs">{runs}</span>'
            tds.append(f"<td>{text}</td>")
        css = ' class="baseline"' if baseline else ""
        rows.append(f"<tr{css}><td>{html.escape(str(label))}</td>{''.join(tds)}</tr>")
    sample = paper_sample_text(table)
    return (
        f"<h3>{html.escape(title)}</h3>{paragraph(sample) if sample else ''}"
        f"<table><thead><tr><th>Method</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def summary_table(title: str, rows: pd.DataFrame) -> str:
    """One summary table: method, tasks, mean main metric, mean rank [CI]."""
    body = []
    for _, row in rows.iterrows():
        score = "–" if pd.isna(row["mean_score"]) else f"{row['mean_score']:.3f}"
        rank = f"{row['mean_rank']:.2f}"
        score = f"<b>{score}</b>" if row["best_score"] else score
        rank = f"<b>{rank}</b>" if row["best_rank"] else rank
        ci = f"[{row['rank_ci_low']:.2f}, {row['rank_ci_high']:.2f}]"
        css = ' class="baseline"' if row["is_baseline"] else ""
        body.append(
            f"<tr{css}><td>{html.escape(str(row['method']))}</td><td>{row['n_tasks']}</td>"
            f"<td>{score}</td><td>{rank} {ci}</td></tr>"
        )
    return (
        f"<h3>{html.escape(title)}</h3><table><thead><tr><th>Method</th><th>Tasks</th>"
        f"<th>{html.escape(score_header(rows))}</th><th>Mean rank [CI]</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )

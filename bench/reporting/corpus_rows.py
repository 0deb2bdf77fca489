"""Which corpus a result's encoder pretrained on, and the leaderboard row that says so.

A cell whose pretraining used a corpus (``--pretrain-data``) records it in
``result.pretraining["corpus"]`` (name, label, records, hours, exclusions); leaderboards show
such a row as ``method@corpus`` (``method@corpus (N records)`` for a nested subset), so runs on
different corpora stay apart. Cells pretrained on their task's own training folds keep the
method's name.
"""

from __future__ import annotations

from typing import Any

from bench.grid.results import CellResult


def corpus_of(result: CellResult) -> dict[str, Any] | None:
    """The corpus record of the result's pretraining (None: the task's own training folds)."""
    corpus = result.pretraining.get("corpus") if result.pretraining else None
    return corpus if isinstance(corpus, dict) else None


def row_name(result: CellResult) -> str:
    """The leaderboard row of ``result``: its method, with ``@corpus label`` when it has one."""
    corpus = corpus_of(result)
    return result.method if corpus is None else f"{result.method}@{corpus['label']}"


def base_method(row: str) -> str:
    """The method of a leaderboard row (``jepa@cinc2021 (100 records)`` -> ``jepa``)."""
    return row.split("@", 1)[0]

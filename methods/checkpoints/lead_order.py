"""Putting a raw record's leads in a published model's order (its official lead selection)."""

from __future__ import annotations

import numpy as np

from bench.errors import DataError


def select_leads(
    raw: np.ndarray, leads: tuple[str, ...], wanted: tuple[str, ...], model: str
) -> np.ndarray:
    """Rows of ``raw`` [len(leads), samples] in the order ``wanted``; DataError naming the
    missing leads, or a shape that does not match ``leads``."""
    if raw.ndim != 2 or raw.shape[0] != len(leads):
        raise DataError(
            f"{model}: expected a record [leads={len(leads)}, samples] for leads "
            f"{', '.join(leads)}; got an array of shape {raw.shape}"
        )
    missing = [lead for lead in wanted if lead not in leads]
    if missing:
        raise DataError(
            f"{model}: the record lacks lead(s) {', '.join(missing)}; the model takes "
            f"{', '.join(wanted)}"
        )
    return raw[[leads.index(lead) for lead in wanted]]

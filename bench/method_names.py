"""Names of matched baselines, ``random_init[cpc]``: a baseline on an SSL method's encoder.

Plain string helpers, apart from ``bench.method`` so that the reporting commands
(``bench leaderboard``, ``bench plot``, ``bench report``) name rows without importing torch.
"""

from __future__ import annotations

import re

MATCHED = re.compile(r"^(?P<baseline>[A-Za-z0-9_.-]+)\[(?P<backbone>[A-Za-z0-9_.-]+)\]$")


def matched_name(baseline: str, backbone: str) -> str:
    """``random_init`` + ``cpc`` -> ``random_init[cpc]``."""
    return f"{baseline}[{backbone}]"


def split_matched(name: str) -> tuple[str, str | None]:
    """``random_init[cpc]`` -> (``random_init``, ``cpc``); a plain name -> (name, None)."""
    match = MATCHED.match(name)
    return (match["baseline"], match["backbone"]) if match else (name, None)

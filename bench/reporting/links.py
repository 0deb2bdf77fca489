"""Where the results page's entries link to, apart from the page (so that finding the links, as
``bench run`` does before deciding whether to rebuild the page, draws nothing)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PageLinks:
    """Where the page's entries link to: cell runs by eval_key, pretraining runs by
    pretrain_key, experiments by task group (URLs of the MLflow UI)."""

    cells: Mapping[str, str] = field(default_factory=dict)
    parents: Mapping[str, str] = field(default_factory=dict)
    experiments: Mapping[str, str] = field(default_factory=dict)

"""The registered published checkpoints as rows: for ``bench checkpoints`` and the docs."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.checkpoints.leakage import NAMES, overlap
from bench.checkpoints.method import CheckpointConfig, CheckpointMethod
from bench.checkpoints.weights import WeightsNotFoundError, resolve_weights
from bench.errors import UnknownNameError
from bench.method import METHODS


def checkpoint_methods() -> list[type[CheckpointMethod]]:
    """Every registered published checkpoint, by name."""
    return [
        m for _, m in METHODS.items() if isinstance(m, type) and issubclass(m, CheckpointMethod)
    ]


def checkpoint_method(name: str) -> type[CheckpointMethod]:
    """The checkpoint registered as ``name`` (UnknownNameError with a hint otherwise)."""
    method = METHODS.get(name)
    if not issubclass(method, CheckpointMethod):
        known = ", ".join(m.name for m in checkpoint_methods()) or "none"
        raise UnknownNameError(f"{name!r} is not a published checkpoint; known: {known}")
    return method


def parameter_count(method: type[CheckpointMethod], size: str = "") -> int:
    """Parameters of the architecture at ``size`` (built on the meta device: no memory)."""
    with torch.device("meta"):
        encoder = method.untrained_encoder(
            CheckpointConfig(size=size), method.official_input_spec()
        )
    return sum(p.numel() for p in encoder.parameters())


@dataclass(frozen=True)
class CatalogueRow:
    """One model as ``bench checkpoints`` lists it."""

    name: str
    title: str
    architecture: str
    parameters: int
    official_input: str
    licence: str
    file_name: str
    url: str
    corpus: str
    local: str  # the file found, or "missing"


def catalogue_row(method: type[CheckpointMethod]) -> CatalogueRow:
    """The row of ``method``; ``local`` says whether its weights file is found here."""
    try:
        local = str(resolve_weights(method.name, method.card))
    except WeightsNotFoundError:
        local = "missing"
    card = method.card
    corpus = ", ".join(NAMES.get(c, c) for c in card.corpus)
    if card.labelled:
        corpus += "; labels: " + ", ".join(NAMES.get(c, c) for c in card.labelled)
    return CatalogueRow(
        method.name, card.title, card.architecture, parameter_count(method),
        method.official_input.describe(), card.licence, card.file_name, card.url, corpus, local,
    )  # fmt: skip


def overlap_table(task_sources: dict[str, tuple[str, ...]]) -> list[tuple[str, str, str]]:
    """(model, task, note or "no overlap") for every checkpoint and task."""
    rows = []
    for method in checkpoint_methods():
        for task, sources in task_sources.items():
            found = overlap(method.name, method.card, sources)
            rows.append((method.name, task, found.note() if found else "no overlap"))
    return rows

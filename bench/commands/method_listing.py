"""The rows of ``bench list methods``: each method, then the matched baselines it can be named as.

A row tells whether the method pretrains (``yes``: the shared loop pretrains it; ``published``:
it arrives pretrained, a checkpoint of ``bench.checkpoints``; ``no``: a baseline), the protocols
and task kinds the grid evaluates it on, and the ``--methods`` groups that hold it. Matched
baselines (``random_init[cpc]``) are listed for every method with its own network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.grid.method_groups import METHOD_GROUPS, group_members
from bench.method import METHODS, Method
from bench.method_names import matched_name
from bench.task import TaskKind

ALL_KINDS: tuple[str, ...] = TaskKind.__args__  # type: ignore[attr-defined]
COLUMNS = ("name", "kind", "pretrains", "protocols", "task kinds", "groups", "description")


@dataclass(frozen=True)
class MethodRow:
    """One line of the listing."""

    name: str
    kind: str  # SSL | checkpoint | baseline | matched
    pretrains: str  # yes | published | no
    protocols: tuple[str, ...]
    task_kinds: tuple[str, ...]
    groups: tuple[str, ...]
    description: str

    def cells(self) -> tuple[str, ...]:
        """The row's fields as printed."""
        return (
            self.name, self.kind, self.pretrains, ",".join(self.protocols),
            "all" if self.task_kinds == ALL_KINDS else ",".join(self.task_kinds),
            ",".join(self.groups) or "-", self.description,
        )  # fmt: skip


def method_rows() -> list[MethodRow]:
    """Every registered method, then each matched baseline, in registry order."""
    groups = {group: set(group_members(group)) for group in METHOD_GROUPS}
    rows = [_row(name, METHODS.get(name), groups) for name in METHODS.names()]
    baselines = [m for m in METHODS.names() if METHODS.get(m).builds_on_backbones]
    for backbone in (m for m in METHODS.names() if METHODS.get(m).has_own_network()):
        for baseline in baselines:
            name = matched_name(baseline, backbone)
            description = f"{baseline} on {backbone}'s own network, freshly initialised"
            rows.append(_row(name, METHODS.get(baseline), groups, "matched", description))
    return rows


def format_rows(rows: list[MethodRow]) -> list[str]:
    """The rows as aligned text lines, a header line first (the last column unpadded)."""
    table = [COLUMNS, *(row.cells() for row in rows)]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(COLUMNS) - 1)]
    lines = []
    for cells in table:
        padded = [f"{cell:<{width}}" for cell, width in zip(cells, widths, strict=False)]
        lines.append("  ".join([*padded, cells[-1]]).rstrip())
    return lines


def _row(
    name: str,
    method: type[Method],
    groups: dict[str, set[str]],
    kind: str | None = None,
    description: str | None = None,
) -> MethodRow:
    if kind is None:
        kind = (
            "SSL"
            if method.needs_pretraining
            else "checkpoint"
            if method.pretrained
            else ("baseline")
        )
    pretrains = "yes" if method.needs_pretraining else "published" if method.pretrained else "no"
    if kind == "matched":
        pretrains = "no"
    return MethodRow(
        name=name,
        kind=kind,
        pretrains=pretrains,
        protocols=tuple(method.protocols),
        task_kinds=tuple(method.task_kinds) if method.task_kinds is not None else ALL_KINDS,
        groups=tuple(group for group in METHOD_GROUPS if name in groups[group]),
        description=description if description is not None else _first_line(method),
    )


def _first_line(obj: Any) -> str:
    doc = (obj.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""

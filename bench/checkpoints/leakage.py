"""Which test sets a published model saw in pretraining: corpora expanded to their parts.

A corpus name stands for the records it holds; several are unions of others (PhysioNet/CinC
2021 holds CPSC 2018, CPSC-Extra, INCART, PTB, PTB-XL, Georgia, Chapman-Shaoxing and Ningbo:
Reyna et al. 2021; CODE, Ribeiro et al. 2020, holds its public 15% sample CODE-15%). A cell
leaks when a part of its task's data is a part of the model's pretraining (or labelled
training) corpus.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.checkpoints.card import ModelCard

CINC2020_PARTS = ("cpsc2018", "cpsc-extra", "incart", "ptb", "ptbxl", "georgia")
CONTAINS: dict[str, tuple[str, ...]] = {
    "cinc2020": CINC2020_PARTS,
    "cinc2021": (*CINC2020_PARTS, "chapman", "ningbo"),
    "chapman-ningbo": ("chapman", "ningbo"),
    "code": ("code15", "code-rest"),
}
ALIASES: dict[str, str] = {
    "cpsc": "cpsc2018", "code-15": "code15", "mimic": "mimic-iv-ecg", "ribeiro": "code",
    "sami-trop": "samitrop",
}  # fmt: skip
NAMES: dict[str, str] = {
    "cpsc2018": "CPSC 2018", "cpsc-extra": "CPSC-Extra", "incart": "St Petersburg INCART",
    "ptb": "PTB", "ptbxl": "PTB-XL", "georgia": "Georgia", "chapman": "Chapman-Shaoxing",
    "ningbo": "Ningbo", "cinc2020": "PhysioNet/CinC 2020", "cinc2021": "PhysioNet/CinC 2021",
    "code15": "CODE-15%", "mimic-iv-ecg": "MIMIC-IV-ECG", "hedb": "Harvard-Emory ECG Database",
    "ludb": "LUDB", "synthetic": "synthetic", "code": "CODE (Ribeiro et al.)",
    "code-rest": "CODE outside CODE-15%", "sph": "SPH (Shandong Provincial Hospital)",
    "samitrop": "SaMi-Trop", "hefei": "Hefei Hi-tech Cup",
}  # fmt: skip


def canonical(name: str) -> str:
    """A dataset name in this module's spelling."""
    return ALIASES.get(name.lower(), name.lower())


def parts(name: str) -> frozenset[str]:
    """The smallest datasets ``name`` is made of (itself when it is not a union)."""
    name = canonical(name)
    if name not in CONTAINS:
        return frozenset({name})
    return frozenset().union(*(parts(part) for part in CONTAINS[name]))


@dataclass(frozen=True)
class Overlap:
    """What a task's data shares with a model's training data."""

    model: str
    shared: tuple[str, ...]  # parts in both
    via: tuple[str, ...]  # the corpus names of the card that hold them
    labelled: bool  # True when the model was trained on those labels

    def note(self) -> str:
        """A footnote: "PTB-XL was in its pretraining (PhysioNet/CinC 2021)"."""
        seen = ", ".join(NAMES.get(p, p) for p in self.shared)
        corpora = ", ".join(NAMES.get(c, c) for c in self.via)
        how = "supervised training" if self.labelled else "pretraining"
        verb = "was" if len(self.shared) == 1 else "were"
        via = f" ({corpora})" if set(self.via) != set(self.shared) else ""
        return f"{seen} {verb} in {self.model}'s {how} corpus{via}"


def overlap(model: str, card: ModelCard, task_sources: Iterable[str]) -> Overlap | None:
    """The overlap of a task's data (its datasets or CinC sources) with ``card``'s corpora."""
    task_parts = frozenset().union(*(parts(s) for s in task_sources))
    labelled = {c for c in card.labelled if parts(c) & task_parts}
    via = labelled or {c for c in card.corpus if parts(c) & task_parts}
    if not via:
        return None
    shared = sorted(task_parts & frozenset().union(*(parts(c) for c in via)))
    return Overlap(model, tuple(shared), tuple(sorted(via)), bool(labelled))

"""Map a record's signal names onto the canonical 12 leads (case-insensitively).

Policy: every one of the 12 standard leads must be present exactly once. PTB's Frank leads
(vx, vy, vz, the 13th-15th signals of the CinC S-tranche) are dropped with a note; any other
extra signal, a missing lead or a record of 1 signal makes the record bad (RecordError).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.data.signals import CANONICAL_LEADS
from bench.data.wfdb_records import RecordError

DROPPABLE_LEADS: frozenset[str] = frozenset({"vx", "vy", "vz"})


@dataclass(frozen=True)
class LeadMap:
    """Index into the record's signals of each canonical lead, and what was dropped."""

    order: tuple[int, ...]
    dropped: tuple[str, ...]

    @property
    def note(self) -> str:
        """A note for the record's report ("" when nothing was dropped)."""
        return f"dropped leads {', '.join(self.dropped)}" if self.dropped else ""


def map_leads(names: tuple[str, ...] | list[str]) -> LeadMap:
    """The canonical 12 leads' positions in ``names``; RecordError when they cannot be found."""
    lowered = [name.strip().lower() for name in names]
    wanted = [lead.lower() for lead in CANONICAL_LEADS]
    duplicated = sorted({name for name in lowered if lowered.count(name) > 1})
    if duplicated:
        raise RecordError(f"duplicate lead names {duplicated}")
    missing = [
        lead for lead, low in zip(CANONICAL_LEADS, wanted, strict=True) if low not in lowered
    ]
    if missing:
        raise RecordError(
            f"has {len(names)} signal(s) {list(names)}, missing lead(s) {', '.join(missing)}"
        )
    extra = [names[i] for i, low in enumerate(lowered) if low not in wanted]
    unknown = [name for name in extra if name.strip().lower() not in DROPPABLE_LEADS]
    if unknown:
        raise RecordError(f"extra signal(s) {unknown} besides the 12 standard leads")
    return LeadMap(tuple(lowered.index(low) for low in wanted), tuple(extra))

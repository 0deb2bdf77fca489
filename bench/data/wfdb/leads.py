"""Map a record's signal names onto the canonical 12 leads (case-insensitively).

Policy: every one of the 12 standard leads must be present exactly once; a missing or duplicated
lead makes the record bad (RecordError). Every other signal (PTB's Frank leads vx, vy, vz, extra
chest leads such as V7, non-ECG channels such as respiration) is dropped with a note.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.data.layout import RecordError
from bench.data.signals import CANONICAL_LEADS


@dataclass(frozen=True)
class LeadMap:
    """Index into the record's signals of each canonical lead, and what was dropped."""

    order: tuple[int, ...]
    dropped: tuple[str, ...]

    @property
    def note(self) -> str:
        """A note for the record's report ("" when nothing was dropped)."""
        return f"dropped signals {', '.join(self.dropped)}" if self.dropped else ""


def map_leads(names: tuple[str, ...] | list[str]) -> LeadMap:
    """The canonical 12 leads' positions in ``names``; RecordError when they cannot be found."""
    lowered = [name.strip().lower() for name in names]
    wanted = [lead.lower() for lead in CANONICAL_LEADS]
    duplicated = sorted({name for name in lowered if name in wanted and lowered.count(name) > 1})
    if duplicated:
        raise RecordError(f"duplicate lead names {duplicated}")
    missing = [
        lead for lead, low in zip(CANONICAL_LEADS, wanted, strict=True) if low not in lowered
    ]
    if missing:
        raise RecordError(
            f"has {len(names)} signal(s) {list(names)}, missing lead(s) {', '.join(missing)}"
        )
    extra = tuple(names[i] for i, low in enumerate(lowered) if low not in wanted)
    return LeadMap(tuple(lowered.index(low) for low in wanted), extra)

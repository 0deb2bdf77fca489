"""Demographics and diagnoses from PhysioNet/CinC header comments (``# Age: 77``, ``# Sex:
Female``, ``# Dx: 164889003,59118001``).

Policy: a missing, ``NaN`` or ``Unknown`` age is NaN; sex is "F", "M" or "" (unknown). ``# Dx:``
must be present and a comma-separated list of integer SNOMED CT codes; codes not in the
Challenge tables are kept (the summary counts them). A malformed or missing ``# Dx:`` makes the
record bad.
"""

from __future__ import annotations

import math
import re

from bench.data.layout import RecordError

SEX_CODES: dict[str, str] = {"female": "F", "f": "F", "male": "M", "m": "M"}
CODE_PATTERN = re.compile(r"^\d+$")


def comment_fields(comments: tuple[str, ...]) -> dict[str, str]:
    """``Key: value`` comments as a dict with lower-case keys (later keys win)."""
    fields = {}
    for comment in comments:
        key, colon, value = comment.partition(":")
        if colon:
            fields[key.strip().strip("<>").lower()] = value.strip()
    return fields


def parse_age(value: str | None) -> float:
    """Age in years, NaN when missing, 'NaN', 'Unknown' or not a number."""
    if value is None:
        return math.nan
    try:
        age = float(value)
    except ValueError:
        return math.nan
    return age if math.isfinite(age) and age >= 0 else math.nan


def parse_sex(value: str | None) -> str:
    """'F', 'M' or '' (missing or unknown)."""
    return SEX_CODES.get((value or "").strip().lower(), "")


def parse_dx(value: str | None, header: str) -> tuple[str, ...]:
    """SNOMED CT codes of a ``# Dx:`` value; RecordError naming ``header`` if malformed."""
    if value is None:
        raise RecordError(f"{header} has no '# Dx:' line")
    codes = tuple(code.strip() for code in value.split(","))
    bad = [code for code in codes if not CODE_PATTERN.match(code)]
    if bad:
        raise RecordError(f"{header}: malformed '# Dx: {value}' (not SNOMED codes: {bad})")
    return codes

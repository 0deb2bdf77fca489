"""A generated CinC 2021 tree whose records carry scored, equivalent and unscored Dx codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.data.cinc_fixtures import cinc_folder, random_mv, write_cinc_record

# Dx lists cycled over the records: sinus, AF, RBBB / CRBBB (one 2020 class), PAC / SVPB,
# LBBB / CLBBB (one 2021 class, two 2020 ones), and 164884008 (not scored: record dropped)
DX_CYCLE: tuple[str, ...] = (
    "426783006",
    "164889003",
    "59118001,426783006",
    "713427006",
    "284470004,164889003",
    "63593006",
    "164909002",
    "733534002,426783006",
    "164884008",
    "270492004,426783006",
)
PREFIXES: tuple[str, ...] = ("A", "E", "HR", "JS")  # cpsc, georgia, ptbxl, chapman


def write_labelled_tree(root: Path, per_prefix: int = 30, seconds: float = 5.0, seed: int = 0):
    """``per_prefix`` 500 Hz records per source prefix; returns name -> (Dx, age) written.
    Signals are random noise plus a class-dependent offset on lead I (learnable)."""
    rng = np.random.default_rng(seed)
    written: dict[str, tuple[str, int]] = {}
    for p, prefix in enumerate(PREFIXES):
        for i in range(per_prefix):
            name = f"{prefix}{i + 1:05d}" if prefix in ("HR", "JS", "E") else f"A{i + 1:04d}"
            dx = DX_CYCLE[(i + p) % len(DX_CYCLE)]
            age = 20 + (i * 7 + p) % 60
            signals = random_mv(rng, 12, int(500 * seconds)) * 0.2
            signals[0] += 0.5 * ("164889003" in dx) - 0.5 * ("426783006" in dx)
            folder = cinc_folder(root, name)
            if prefix == "JS":
                folder = root / "training" / "chapman_shaoxing" / "g1"
            comments = (f"Age: {age}", "Sex: Male" if i % 2 else "Sex: Female", f"Dx: {dx}")
            write_cinc_record(folder, name, np.round(signals, 3), comments=comments)
            written[name] = (dx, age)
    return written

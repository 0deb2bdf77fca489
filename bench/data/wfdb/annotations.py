"""Read a WFDB annotation file quickly with wfdb's own byte parser.

``wfdb.rdann`` also parses the record's header (for its sampling rate) and builds pandas label
tables, about 8 ms per file; LUDB has 2,400 annotation files. This calls the same parsing steps
(``load_byte_pairs``, ``proc_ann_bytes``, ``get_special_inds``) and maps label codes to symbols
with wfdb's standard table, about 0.3 ms per file. Files with custom label definitions are read
through ``wfdb.rdann``. wfdb is imported where a file is read, so importing this module (as
LUDB's task does when tasks are listed) does not need it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=1)
def _symbols() -> dict[int, str]:
    from wfdb.io import annotation as wfdb_annotation

    table = wfdb_annotation.ann_label_table
    return dict(zip(table["label_store"].astype(int), table["symbol"], strict=True))


def read_annotations(record: Path, extension: str) -> tuple[np.ndarray, list[str]]:
    """Sample positions (int64) and symbols of annotation file ``record.extension``."""
    import wfdb
    from wfdb.io import annotation as wfdb_annotation

    filebytes = wfdb_annotation.load_byte_pairs(str(record), extension, None)
    sample, label_store, _, _, _, aux_note = wfdb_annotation.proc_ann_bytes(filebytes, None)
    definitions, removed = wfdb_annotation.get_special_inds(sample, label_store, aux_note)
    if definitions:
        marks = wfdb.rdann(str(record), extension)
        return np.asarray(marks.sample, dtype=np.int64), list(marks.symbol)
    sample, label_store = wfdb_annotation.rm_empty_indices(removed, sample, label_store)
    symbols = _symbols()
    return np.asarray(sample, dtype=np.int64), [symbols.get(int(s), "?") for s in label_store]

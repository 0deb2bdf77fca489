"""PTB-XL's two tables: reading and checking the CSVs, and the metadata table of the cache.

Whole-table faults (file missing or unreadable, a required column missing, ecg_id not unique)
raise one DataError naming the file and column. Faults of single rows (patient_id, strat_fold,
scp_codes or file name unusable) become BadRecord entries handled by the bad-record policy.
"""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from bench.data.storage.cache import BadRecord
from bench.errors import DataError

DATABASE_CSV = "ptbxl_database.csv"
STATEMENTS_CSV = "scp_statements.csv"
REQUIRED_COLUMNS: tuple[str, ...] = (
    "ecg_id",
    "patient_id",
    "age",
    "sex",
    "scp_codes",
    "strat_fold",
)
FILENAME_COLUMNS: dict[int, str] = {100: "filename_lr", 500: "filename_hr"}
STATEMENT_COLUMNS: tuple[str, ...] = (
    "diagnostic",
    "form",
    "rhythm",
    "diagnostic_class",
    "diagnostic_subclass",
)

META_COLUMNS: tuple[str, ...] = (
    "record_id",
    "patient_id",
    "fold",
    "age",
    "sex",
    "scp_codes",
    "file",
)
FOLDS = range(1, 11)


def read_csv(path: Path, what: str, index_col: int | None = None) -> pd.DataFrame:
    """Read ``path`` or raise a DataError naming it."""
    if not path.is_file():
        raise DataError(f"PTB-XL {what} not found: {path}")
    try:
        return pd.read_csv(path, index_col=index_col)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise DataError(f"PTB-XL {what} {path} is unreadable: {error}") from None


def require_columns(table: pd.DataFrame, columns: tuple[str, ...], path: Path) -> None:
    """DataError naming the first of ``columns`` that ``table`` (read from ``path``) lacks."""
    for column in columns:
        if column not in table.columns:
            raise DataError(f"{path} has no column {column!r} (needed: {', '.join(columns)})")


def read_database(path: Path, rate: int) -> pd.DataFrame:
    """ptbxl_database.csv with its required columns checked and unique integer ecg_ids."""
    table = read_csv(path, "database table")
    require_columns(table, (*REQUIRED_COLUMNS, FILENAME_COLUMNS[rate]), path)
    if table.empty:
        raise DataError(f"{path} lists no records")
    ids = pd.to_numeric(table["ecg_id"], errors="coerce")
    broken = table.index[ids.isna() | (ids % 1 != 0)]
    if len(broken):
        raise DataError(f"{path}: ecg_id is not an integer on CSV line(s) {list(broken[:10] + 2)}")
    duplicated = sorted(set(ids[ids.duplicated()].astype(int)))
    if duplicated:
        raise DataError(f"{path}: ecg_id listed more than once: {duplicated[:10]}")
    return table.assign(ecg_id=ids.astype("int64"))


def read_statements(path: Path) -> pd.DataFrame:
    """scp_statements.csv indexed by statement code, its label columns checked."""
    table = read_csv(path, "statement table", index_col=0)
    require_columns(table, STATEMENT_COLUMNS, path)
    table.index = table.index.astype(str)
    table.index.name = "code"
    return table


def build_meta(database: pd.DataFrame, rate: int) -> tuple[pd.DataFrame, list[BadRecord]]:
    """Metadata rows (META_COLUMNS) of the usable records and the rows that are not usable."""
    filename_column = FILENAME_COLUMNS[rate]
    rows: list[dict[str, object]] = []
    bad: list[BadRecord] = []
    for row in database[[*REQUIRED_COLUMNS, filename_column]].to_dict("records"):
        record_id = int(row["ecg_id"])
        file = row[filename_column]
        file = file.strip() if isinstance(file, str) else ""
        reason, parsed = _check_row(row, file, filename_column)
        if reason:
            bad.append(BadRecord(record_id, file or "?", reason))
            continue
        rows.append({"record_id": record_id, "file": file, **parsed})
    meta = pd.DataFrame(rows, columns=list(META_COLUMNS))
    return meta.astype({"record_id": "int64", "patient_id": "int64", "fold": "int64"}), bad


def _check_row(
    row: dict[str, Any], file: str, filename_column: str
) -> tuple[str, dict[str, object]]:
    """('', parsed fields) for a usable row, else (reason, {})."""
    if not file:
        return f"no {filename_column}", {}
    patient = _number(row["patient_id"])
    if patient is None or patient % 1:
        return f"patient_id {row['patient_id']!r} is not an integer", {}
    fold = _number(row["strat_fold"])
    if fold is None or fold not in FOLDS:
        return f"strat_fold {row['strat_fold']!r} is not one of 1-10", {}
    try:
        codes = ast.literal_eval(row["scp_codes"])
    except (ValueError, SyntaxError, TypeError):
        codes = None
    if not isinstance(codes, dict):
        return f"scp_codes {row['scp_codes']!r} is not a dict", {}
    parsed = {
        "patient_id": int(patient),
        "fold": int(fold),
        "age": row["age"],
        "sex": row["sex"],
        "scp_codes": {str(code): float(value) for code, value in codes.items()},
    }
    return "", parsed


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def write_meta(meta: pd.DataFrame, path: Path) -> None:
    """Save the metadata table as CSV with scp_codes as JSON (read back by read_meta)."""
    meta.assign(scp_codes=meta["scp_codes"].map(json.dumps)).to_csv(path, index=False)


def read_meta(path: Path) -> pd.DataFrame:
    """The metadata table written by write_meta, scp_codes back as dicts."""
    meta = pd.read_csv(path)
    codes = json.loads("[" + ",".join(meta["scp_codes"]) + "]")  # one parse for all rows
    meta["scp_codes"] = pd.Series(codes, index=meta.index, dtype=object)
    return meta

"""Any folder of WFDB records (searched recursively), for a user's own 12-lead data.

A record is every ``*.hea`` below the root, named by its path relative to the root without the
extension (``site1/rec001``). Signals may be in ``.dat`` files (any WFDB format) or Challenge
``.mat`` files. Age and sex are read from ``# Age:`` / ``# Sex:`` comments where present.
Option ``labels``: a CSV with one row per record; option ``label_columns``
(default ``record,labels``) names its record column (the relative name or the bare record name)
and its labels column (labels separated by commas). A CSV row naming no record is bad; records
the CSV does not list have no labels. Option ``uncalibrated``: ``accept`` reads records whose
gain is 0 or missing at WFDB's default gain, with a note (default ``refuse``: they are bad
records). Each record is its own group for the folds.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bench.data.layout import RecordInfo, RecordRef, Scan
from bench.data.loading import register_dataset
from bench.data.storage.ragged_source import RaggedSource
from bench.data.wfdb.header_comments import comment_fields, parse_age, parse_sex
from bench.data.wfdb.layout import WfdbLayout, find_headers, parse_uncalibrated
from bench.data.wfdb.leads import LeadMap
from bench.data.wfdb.records import Header
from bench.errors import ConfigError, DataError

DEFAULT_COLUMNS = ("record", "labels")


def read_labels(path: Path, columns: tuple[str, str]) -> dict[str, tuple[str, ...]]:
    """Record -> labels of a labels CSV (DataError naming the file or a missing column)."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as error:
        raise DataError(f"labels file {path} cannot be read: {error}") from None
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise DataError(
            f"labels file {path} has no column(s) {missing} (columns: {list(table.columns)}); "
            "name them with --label-columns RECORD,LABELS"
        )
    record, labels = columns
    return {
        str(name).strip(): tuple(v.strip() for v in str(value).split(",") if v.strip())
        for name, value in zip(table[record], table[labels], strict=True)
    }


class FolderLayout(WfdbLayout):
    """Every WFDB record below a root, optionally labelled from a CSV."""

    dataset = "wfdb"

    def __init__(
        self, labels: Path | None, columns: tuple[str, str], accept_uncalibrated: bool = False
    ) -> None:
        self.labels = labels
        self.columns = columns
        self.accept_uncalibrated = accept_uncalibrated

    def options(self) -> dict[str, Any]:
        """The labels file, its columns and the uncalibrated-record choice."""
        columns = {"labels": str(self.labels or ""), "columns": list(self.columns)}
        return {**columns, **self.calibration_options()}

    def tables(self, root: Path) -> list[Path]:
        """The labels CSV, when given."""
        return [self.labels] if self.labels else []

    def scan(self, root: Path) -> Scan:
        """The headers below ``root`` with their labels; CSV rows naming no record are bad."""
        paths = find_headers(root)
        names = {path: path.relative_to(root).as_posix() for path in paths}
        table = read_labels(self.labels, self.columns) if self.labels else {}
        records = [
            RecordRef(names[p], p, "wfdb", table.get(names[p], table.get(p.name, ())))
            for p in paths
        ]
        known = set(names.values()) | {path.name for path in paths}
        bad = [
            (f"{self.labels.name}: {name}", "labelled, but no such record under the root")
            for name in table
            if name not in known and self.labels is not None
        ]
        return Scan(records, bad)

    def record_info(self, record: RecordRef, header: Header, leads: LeadMap) -> RecordInfo:
        """Rate, length, the CSV's labels, and age / sex where the comments give them."""
        fields = comment_fields(header.comments)
        return RecordInfo(
            rate=header.fs,
            length=header.sig_len,
            age=parse_age(fields.get("age")),
            sex=parse_sex(fields.get("sex")),
            labels=record.labels,
            note=leads.note,
        )


@register_dataset
class WfdbFolderSource(RaggedSource):
    """A user's folder of 12-lead WFDB records, with an optional labels CSV."""

    name = "wfdb"
    option_names = ("labels", "label_columns", "uncalibrated")

    def layout(self, root: Path, options: Mapping[str, str]) -> FolderLayout:
        """The folder layout with the labels options."""
        labels = Path(options["labels"]).expanduser() if options.get("labels") else None
        if labels is not None and not labels.is_file():
            raise DataError(f"labels file not found: {labels}")
        columns = tuple(c.strip() for c in options.get("label_columns", "").split(",") if c.strip())
        if columns and len(columns) != 2:
            raise ConfigError(
                f"--label-columns needs RECORD,LABELS, got {options['label_columns']!r}"
            )
        return FolderLayout(
            labels,
            (columns[0], columns[1]) if columns else DEFAULT_COLUMNS,
            parse_uncalibrated(options.get("uncalibrated")),
        )

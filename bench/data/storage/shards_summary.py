"""The scale figures ``bench data prepare`` and ``info`` print for a sharded cache: records,
hours of ECG, size on disk, the projected size at the dataset's full scale, and the records the
quality policy dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data.signals import SignalSet

GB = 1e9


def disk_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def scale_lines(data: SignalSet, manifest: dict[str, Any], folder: Path) -> list[str]:
    """Lines on the size of the sharded cache in ``folder`` (holding ``data``)."""
    records = len(data.signals)
    hours = float(data.lengths.sum()) / data.sampling_rate / 3600
    size = disk_bytes(folder)
    lines = [
        f"  {records} records, {hours:,.2f} hours of ECG at {data.sampling_rate} Hz in "
        f"{manifest['shards']} {manifest['storage']} shards; {size / GB:.3f} GB on disk "
        f"({size / max(records, 1) / 1e3:.1f} kB per record)"
    ]
    full = int(manifest.get("full_records") or 0)
    if full and records:
        lines.append(
            f"  projected at full scale ({full:,} records): {size / records * full / GB:,.1f} GB"
        )
    if manifest.get("resumed_shards"):
        kept = manifest["resumed_shards"]
        lines.append(f"  resumed: {kept} shards kept from an interrupted build")
    counts = manifest.get("dropped_counts") or {}
    if counts:
        shown = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
        lines.append(f"  dropped by the quality policy: {sum(counts.values())} ({shown})")
    return lines

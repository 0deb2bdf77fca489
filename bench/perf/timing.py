"""Clocks and memory gauges for ``bench perf``: per-part step times and peak memory.

On CUDA the parts of a step are timed with CUDA events recorded between them and read after
one synchronisation at the end, so the GPU runs ahead as in a real pretraining (no sync inside
the timed steps); on the CPU, where work is synchronous, with ``time.perf_counter``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

PROC_STATUS = Path("/proc/self/status")
PROC_CLEAR_REFS = Path("/proc/self/clear_refs")


class PartClock:
    """Marks the end of every part of every step; totals per part once the steps are done.

    Call ``start()`` before the first timed step, ``mark()`` after each of its ``n_parts``
    parts, and ``finish()`` after the last step. Consecutive marks partition the timeline, so
    the parts add up to the time between ``start`` and the last mark.
    """

    def __init__(self, device: torch.device, n_parts: int):
        self.device = device
        self.n_parts = n_parts
        self.cuda = device.type == "cuda"
        self._marks: list[float | torch.cuda.Event] = []
        self.wall_s = 0.0
        self._started = 0.0

    def start(self) -> None:
        """Wait for queued work, then take the first mark and start the wall clock."""
        self._synchronize()
        self._started = time.perf_counter()
        self._marks = []
        self.mark()

    def mark(self) -> None:
        """End of the current part."""
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record(torch.cuda.current_stream(self.device))
            self._marks.append(event)
        else:
            self._marks.append(time.perf_counter())

    def finish(self) -> None:
        """Wait for the last step's work and stop the wall clock."""
        self._synchronize()
        self.wall_s = time.perf_counter() - self._started

    def part_seconds(self) -> list[float]:
        """Total seconds spent in each part over all timed steps (after ``finish``)."""
        intervals = len(self._marks) - 1
        if intervals < self.n_parts or intervals % self.n_parts:
            raise RuntimeError(f"{intervals} marked parts are not whole steps of {self.n_parts}")
        totals = [0.0] * self.n_parts
        for index in range(intervals):
            totals[index % self.n_parts] += self._elapsed(
                self._marks[index], self._marks[index + 1]
            )
        return totals

    @staticmethod
    def _elapsed(start: float | torch.cuda.Event, end: float | torch.cuda.Event) -> float:
        if isinstance(start, torch.cuda.Event) and isinstance(end, torch.cuda.Event):
            return start.elapsed_time(end) / 1000.0
        return float(end) - float(start)  # type: ignore[arg-type]

    def _synchronize(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)


class PeakMemory:
    """Peak memory a measurement adds on ``device``, from ``start()`` to ``peak_bytes()``.

    CUDA: ``torch.cuda.max_memory_allocated`` (peak statistics reset at ``start``) minus what
    was allocated then: tensors only, not the caching allocator's reserve. CPU on Linux: the
    growth of the process's peak resident set (``VmHWM``, reset at ``start`` through
    ``/proc/self/clear_refs`` after returning freed heap memory to the system with glibc's
    ``malloc_trim``) over the resident size at ``start``. Elsewhere: the growth of
    ``getrusage``'s lifetime ``ru_maxrss``, which misses any peak below an earlier one.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.source = "cuda" if device.type == "cuda" else cpu_memory_source()
        self._baseline = 0

    def start(self) -> None:
        """Forget earlier peaks (where the platform allows) and note the current usage."""
        gc.collect()
        if self.source == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._baseline = torch.cuda.memory_allocated(self.device)
        elif self.source == "vmhwm":
            _trim_heap()
            PROC_CLEAR_REFS.write_text("5")
            self._baseline = _proc_status_bytes("VmRSS")
        else:
            self._baseline = _max_rss_bytes()

    def peak_bytes(self) -> int:
        """Peak usage since ``start`` above the usage at ``start`` (never negative)."""
        if self.source == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        elif self.source == "vmhwm":
            peak = _proc_status_bytes("VmHWM")
        else:
            peak = _max_rss_bytes()
        return max(0, peak - self._baseline)


MEMORY_SOURCES: dict[str, str] = {
    "cuda": "torch.cuda.max_memory_allocated growth (tensors, not the allocator's cache)",
    "vmhwm": "growth of the process's peak resident set (VmHWM reset per row)",
    "maxrss": "growth of getrusage ru_maxrss (lifetime peak; misses peaks below earlier ones)",
}
"""What the peak memory column measures, per ``PeakMemory.source``."""


@functools.cache
def cpu_memory_source() -> str:
    """``vmhwm`` where the peak resident set can be reset (Linux), else ``maxrss``."""
    try:
        PROC_CLEAR_REFS.write_text("5")
        _proc_status_bytes("VmHWM")
    except (OSError, KeyError):
        return "maxrss"
    return "vmhwm"


def _proc_status_bytes(field: str) -> int:
    for line in PROC_STATUS.read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) * 1024  # reported in kB
    raise KeyError(field)


def _max_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, kB elsewhere


def _trim_heap() -> None:
    """Give freed heap memory back to the system (glibc), so reuse shows up as new growth."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None with another C library)."""
    name = ctypes.util.find_library("c")
    return None if name is None else getattr(ctypes.CDLL(name), "malloc_trim", None)

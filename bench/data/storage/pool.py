"""Run a function over chunks of items in worker processes, with a records/s progress bar.

Results come back in item order. Workers ignore Ctrl-C and leave it to the parent, which
cancels what is queued and shuts the pool down; exceptions propagate to the caller.
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import TypeVar

from tqdm import tqdm

Item = TypeVar("Item")
Result = TypeVar("Result")
MAX_CHUNK = 256


def default_jobs() -> int:
    """Worker processes used when none are asked for: every CPU core."""
    return os.cpu_count() or 1


def map_chunks(
    function: Callable[[Sequence[Item]], list[Result]],
    items: Sequence[Item],
    jobs: int | None,
    desc: str,
) -> list[Result]:
    """``function`` applied to chunks of ``items`` (one result per item, in order) by ``jobs``
    processes (1 = in this process), showing a progress bar on a terminal."""
    jobs = max(1, jobs or default_jobs())
    size = max(1, min(MAX_CHUNK, math.ceil(len(items) / (jobs * 8))))
    starts = list(range(0, len(items), size))
    results: dict[int, list[Result]] = {}
    with tqdm(total=len(items), desc=desc, unit="rec", disable=None) as bar:
        if jobs == 1 or len(starts) <= 1:
            for start in starts:
                results[start] = function(items[start : start + size])
                bar.update(len(results[start]))
        else:
            pool = ProcessPoolExecutor(
                max_workers=min(jobs, len(starts)), initializer=_ignore_interrupts
            )
            try:
                futures: dict[Future[list[Result]], int] = {
                    pool.submit(function, items[start : start + size]): start for start in starts
                }
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update(len(results[futures[future]]))
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    return [result for start in starts for result in results[start]]


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)

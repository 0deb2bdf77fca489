"""Leases on a shared results folder: exclusive, kept alive, taken over when stale, released."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.grid.leases import Holder, list_leases, read_lease, stale_reason


def test_only_one_holder_gets_a_lease_and_release_frees_it(tmp_path: Path) -> None:
    first, second = Holder(tmp_path), Holder(tmp_path)
    assert first.try_acquire("cell-a") and first.try_acquire("cell-a")  # re-entrant
    assert not second.try_acquire("cell-a")
    info = second.held_elsewhere("cell-a")
    assert info is not None and info.holder == first.id and info.pid == os.getpid()
    first.release("cell-a")
    assert second.try_acquire("cell-a") and first.held_elsewhere("cell-a") is not None
    second.close()
    assert list_leases(tmp_path) == []


def test_many_threads_racing_for_one_lease_give_one_winner(tmp_path: Path) -> None:
    holders = [Holder(tmp_path) for _ in range(8)]
    wins: list[Holder] = []
    start = threading.Barrier(len(holders))

    def race(holder: Holder) -> None:
        start.wait()
        if holder.try_acquire("pretrain-k"):
            wins.append(holder)

    threads = [threading.Thread(target=race, args=(h,)) for h in holders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    wins[0].close()


def test_a_lease_without_heartbeat_is_taken_over_after_the_timeout(tmp_path: Path) -> None:
    gone = Holder(tmp_path, timeout_s=0.5)
    assert gone.try_acquire("cell-b")
    taker = Holder(tmp_path, timeout_s=0.5)
    assert not taker.try_acquire("cell-b")  # fresh: its holder may be alive
    old = time.time() - 5
    os.utime(tmp_path / "leases" / "cell-b.lease", (old, old))
    assert taker.try_acquire("cell-b")
    assert read_lease(tmp_path / "leases" / "cell-b.lease").holder == taker.id  # type: ignore[union-attr]
    gone.release("cell-b")  # the old holder must not delete the taker's lease
    assert (tmp_path / "leases" / "cell-b.lease").is_file()
    taker.close()


def test_heartbeat_keeps_a_lease_alive_past_the_timeout(tmp_path: Path) -> None:
    with Holder(tmp_path, timeout_s=0.6, heartbeat_s=0.1) as alive:
        assert alive.try_acquire("cell-c")
        time.sleep(1.2)
        taker = Holder(tmp_path, timeout_s=0.6)
        assert not taker.try_acquire("cell-c")


def test_a_lease_of_a_killed_process_is_stale_at_once(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from bench.grid.leases import Holder; "
        "h = Holder(Path(sys.argv[1])); assert h.try_acquire('cell-d')"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60)
    (info,) = list_leases(tmp_path)  # its process exited without releasing
    assert "has ended" in (stale_reason(info) or "")
    with Holder(tmp_path) as taker:
        assert taker.try_acquire("cell-d")

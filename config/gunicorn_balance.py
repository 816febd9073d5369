"""gunicorn's gthread worker, made to share kept-alive connections fairly between processes.

All workers accept() from one listening socket, and a worker keeps every connection it accepted for as long as
the client keeps it alive. When clients open many connections at once (a proxy's keep-alive pool, a load
test), the process that wakes first can take all of them and one core serves them while the others idle:
bench/landing.py saw 32 of 32 connections on one of two processes (ratio 0.33-0.41 instead of ~0.95).

Here each worker publishes how many connections it holds in memory shared with its siblings (made by the
master before it forks), and stops accepting while it holds `LEAD` or more beyond the least loaded live
sibling. The least loaded worker may always accept, so no connection is left waiting for a free slot, and the
socket stays shared: an idle worker still takes a short connection before a busy one (what per-worker
SO_REUSEPORT sockets would give up, together with the backlog of a worker that stops).
"""

from __future__ import annotations

import mmap
import time
from collections.abc import Iterable
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

SLOTS = 1024
# A worker accepts while it holds fewer than the least loaded sibling plus LEAD: with 0 no worker would accept
# once all hold the same; with 1 a worker one ahead waits for every accept of the other; 2 kept wrk's 32
# connections within 14/18 and 18/14 on two workers (the races of a burst included).
LEAD = 2
# A worker publishes at least once a second (its poll timeout); older figures belong to a worker that is stuck
# or gone and must not hold the others back.
STALE_SECONDS = 1.5
# While a worker holds back, it looks again this often: the worker that was least loaded may have taken
# connections since, without any event waking this one.
HOLD_BACK_POLL_SECONDS = 0.05


class AcceptBoard:
    """Connections held per worker slot, in an anonymous shared mapping inherited across fork().

    Each figure is one aligned 8-byte word, so a reader never sees half of one; a time and its count may be
    from two updates, which only makes the share a connection more or less fair.
    """

    def __init__(self, slots: int = SLOTS) -> None:
        self.slots = slots
        self.memory = mmap.mmap(-1, 8 * (1 + 2 * slots))
        view = memoryview(self.memory)
        # Slots in use are 0..used-1 (the master hands out the lowest free one): readers scan only those.
        self.used = view[:8].cast("q")
        self.stamps = view[8 : 8 * (1 + slots)].cast("d")
        self.counts = view[8 * (1 + slots) :].cast("q")

    def publish(self, slot: int, connections: int) -> None:
        self.counts[slot] = connections
        self.stamps[slot] = time.monotonic()

    def clear(self, slot: int) -> None:
        self.stamps[slot] = 0.0
        self.counts[slot] = 0

    def take(self, slot: int) -> None:
        self.clear(slot)
        self.used[0] = max(self.used[0], slot + 1)

    def least_other(self, slot: int) -> int | None:
        """The fewest connections a live sibling holds, or None when no sibling has published lately."""
        fresh_since = time.monotonic() - STALE_SECONDS
        least = None
        for other in range(self.used[0]):
            if other != slot and self.stamps[other] > fresh_since:
                connections = self.counts[other]
                if least is None or connections < least:
                    least = connections
        return least


BOARD = AcceptBoard()


def accept_slot_assign(*, worker: Any, siblings: Iterable[Any]) -> None:
    """Give a worker about to be forked the lowest slot no live sibling has (gunicorn's pre_fork hook)."""
    taken = {getattr(sibling, "accept_slot", -1) for sibling in siblings}
    worker.accept_slot = next(slot for slot in range(BOARD.slots) if slot not in taken)
    BOARD.take(worker.accept_slot)


def accept_slot_release(*, worker: Any) -> None:
    """Forget an exited worker's figure at once rather than after STALE_SECONDS (gunicorn's child_exit hook)."""
    slot = getattr(worker, "accept_slot", -1)
    if slot >= 0:
        BOARD.clear(slot)


class BalancedThreadWorker(ThreadWorker):
    """gthread worker that accepts only while it is not ahead of its least loaded sibling."""

    accept_slot = -1
    accept_open = False

    # gthread's loop accepts while `nr_conns < worker_connections`, checked before each poll: the fair share
    # is folded into that limit so the loop itself stays gunicorn's.
    @property
    def worker_connections(self) -> int:
        if self.accept_slot < 0 or not self.alive:
            return self.connection_cap
        least = BOARD.least_other(self.accept_slot)
        if least is None:
            return self.connection_cap
        return min(self.connection_cap, least + LEAD)

    @worker_connections.setter
    def worker_connections(self, value: int) -> None:
        self.connection_cap = value

    def publish(self) -> None:
        if self.accept_slot < 0:
            return
        if self.alive:
            BOARD.publish(self.accept_slot, self.nr_conns)
        else:
            # A stopping worker accepts no more: its draining connections must not cap the others.
            BOARD.clear(self.accept_slot)

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        self.accept_open = enabled

    def accept(self, listener: Any) -> None:
        super().accept(listener)
        self.publish()

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        self.publish()
        if self.alive and not self.accept_open and self.nr_conns < self.connection_cap:
            timeout = min(timeout, HOLD_BACK_POLL_SECONDS)
        super().wait_for_and_dispatch_events(timeout)
        self.publish()

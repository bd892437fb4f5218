"""Replies held by ``delay=``: each one, and the queue that releases them when due.

A held reply (:class:`Held`) is released when its time comes, or dropped by a reset,
a stop, or the loss of its TCP connection.  Which clock says "when" is the server's
choice (:meth:`faultdns.FaultDNSServer._hold`): with a listener clock
(:class:`faultdns.ListenerClock`, e.g. :class:`faultdns.testing.ManualClock`) held
replies wait in :class:`HeldReplies`'s heap, ordered by due time on that clock, and are
released when the clock reaches them; with any other clock each is an event-loop timer
(``Held.handle``).  Either way every live held reply is in ``HeldReplies.pending``,
which is what ``max_pending_delays`` bounds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faultdns._tcp import TCPConnection

__all__ = ["Held", "HeldReplies"]


class Held:
    """A reply held by ``delay=``: released when due, or dropped by reset/close/stop.

    ``release`` logs the query and sends the reply; ``lost`` logs the query as
    dropped, and is called when the reply can no longer be sent because its TCP
    connection (``conn``; None for UDP) went away (reset, evicted, timed out).
    ``handle``: the event-loop timer (real-clock delays only).  ``live``: neither
    released nor dropped yet.
    """

    __slots__ = ("conn", "handle", "live", "lost", "release")

    def __init__(
        self,
        release: Callable[[], None],
        conn: TCPConnection | None,
        lost: Callable[[], None] | None = None,
    ) -> None:
        self.release = release
        self.conn = conn
        self.lost = lost
        self.handle: asyncio.TimerHandle | None = None
        self.live = True


class HeldReplies:
    """Every live held reply (``pending``), and those on a listener clock in a heap.

    Times are seconds on the server's clock.  Not thread-safe by itself: the server
    mutates it on its loop thread or under its lock; :meth:`next_due` and
    :meth:`due_times` copy before reading, so other threads may call them.
    """

    __slots__ = ("_heap", "_numbers", "pending")

    def __init__(self) -> None:
        self.pending: set[Held] = set()
        self._heap: list[tuple[float, int, Held]] = []
        self._numbers = itertools.count()  # ties in due time release in hold order

    def __len__(self) -> int:
        return len(self.pending)

    def add(self, held: Held, due: float | None = None) -> None:
        """Count ``held`` as pending; with ``due`` (clock seconds), queue it in the heap."""
        self.pending.add(held)
        if held.conn is not None:
            held.conn.held.add(held)
        if due is not None:
            heapq.heappush(self._heap, (due, next(self._numbers), held))

    def forget(self, held: Held) -> None:
        """Mark ``held`` done (released or dropped); its heap slot is skipped later."""
        held.live = False
        self.pending.discard(held)
        if held.conn is not None:
            held.conn.held.discard(held)

    def pop_due(self, now: float) -> list[Held]:
        """Take the queued replies due at ``now`` (clock seconds), soonest first."""
        heap = self._heap
        out = []
        while heap and heap[0][0] <= now:
            out.append(heapq.heappop(heap)[2])
        return out

    def first_due(self) -> float | None:
        """The due time at the top of the heap (maybe already dropped), or None."""
        heap = self._heap
        try:
            return heap[0][0]
        except IndexError:
            return None

    def due_times(self) -> list[float]:
        """Due times of the live queued replies, soonest first."""
        return sorted(due for due, _, held in list(self._heap) if held.live)

    def next_due(self) -> float | None:
        """The soonest due time of a live queued reply, or None."""
        return min((due for due, _, held in list(self._heap) if held.live), default=None)

    def take_all(self) -> set[Held]:
        """Empty the queue at once and return what was pending (for the caller to drop).

        New containers, not cleared ones: a delay added right after (from another
        thread) sees a free cap while the old replies are dropped on the loop thread.
        """
        dropped, self.pending, self._heap = self.pending, set(), []
        return dropped

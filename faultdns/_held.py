"""Replies held by ``delay=``: each one, the queue that holds them, and their release.

A held reply (:class:`Held`) is released when its time comes, or dropped by a reset,
a stop, or the loss of its TCP connection.  Which clock says "when" is the server's
(:attr:`faultdns.FaultDNSServer.clock`), and :meth:`HeldReplies.hold` picks the
mechanism from its shape (:mod:`faultdns._clock`):

- a :class:`~faultdns.ListenerClock` (e.g. :class:`faultdns.testing.ManualClock`, or
  a simulation's virtual clock): held replies wait in a heap, ordered by due time on
  that clock, and the clock's listener (:meth:`HeldReplies.listen`) releases those due
  before the clock's ``advance``/``set`` returns, so a simulation that moves time
  knows every reply due by then is on the wire;
- any other clock: each held reply is an event-loop timer (``Held.handle``).

Either way every live held reply is in ``HeldReplies.pending``, which is what the
server's ``max_pending_delays`` bounds.  Replies are sent and dropped on the server's
loop thread (:mod:`faultdns._loop`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import heapq
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from faultdns._clock import Clock, ListenerClock
from faultdns._loop import call_on_loop, in_loop

if TYPE_CHECKING:
    from faultdns._tcp import TCPConnection

__all__ = ["Held", "HeldReplies"]

_RELEASE_WAIT = 5.0  # real seconds a clock move waits for the loop thread to send


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
    """Every live held reply (``pending``), those on a listener clock in a heap, and
    the scheduling that releases or drops them.

    ``clock``: the server's clock (times here are seconds on it).  ``loop``: returns
    the server's event loop, None while it is not running.  ``on_error``: called when a
    reply's ``release`` or ``lost`` raised (the server counts it in ``stats()``).

    The bookkeeping is not thread-safe by itself: the server mutates it on its loop
    thread or under its lock; :meth:`next_due` and :meth:`due_times` copy before
    reading, so other threads may call them.
    """

    __slots__ = ("_clock", "_heap", "_listener", "_loop", "_numbers", "_on_error", "pending")

    def __init__(
        self,
        clock: Clock,
        loop: Callable[[], asyncio.AbstractEventLoop | None],
        on_error: Callable[[], None],
    ) -> None:
        self.pending: set[Held] = set()
        self._heap: list[tuple[float, int, Held]] = []
        self._numbers = itertools.count()  # ties in due time release in hold order
        self._clock = clock
        # A listener clock says when it moves, so held replies wait for it (see hold).
        self._listener: ListenerClock | None = clock if isinstance(clock, ListenerClock) else None
        self._loop = loop
        self._on_error = on_error

    def __len__(self) -> int:
        return len(self.pending)

    # -- scheduling (loop thread, except listen/unlisten and drop_all) ------------------

    def hold(self, due: float, delay: float, held: Held) -> None:
        """Send ``held`` at clock time ``due`` (``delay`` seconds after it was asked).

        A listener clock queues it in the heap (or sends it now if the clock is already
        there); any other clock sets a loop timer of ``delay`` seconds.  RuntimeError
        when the server's loop is not running.
        """
        if self._listener is not None:
            if self._clock.now() >= due:
                held.release()
            else:
                self.add(held, due)
            return
        loop = self._loop()
        if loop is None:
            raise RuntimeError("server not running")
        self.add(held)
        held.handle = loop.call_later(delay, self.release, held)

    def release(self, held: Held) -> None:
        """Send a held reply that is due (loop thread); nothing if it was dropped."""
        if not held.live:
            return
        self.forget(held)
        try:
            held.release()
        except Exception:
            self._on_error()
        if held.conn is not None:
            held.conn.finish_if_done()  # a half-closed client's last reply

    def drop(self, held: Held, *, lost: bool = False) -> None:
        """Forget a held reply without sending it (loop thread): reset, close, stop.

        ``lost``: its connection went away, so log the query as a drop (a reset
        empties the log, and a stop ends it, so those log nothing).
        """
        if held.live:
            self.forget(held)
            if held.handle is not None:
                held.handle.cancel()
            if lost and held.lost is not None:
                try:
                    held.lost()
                except Exception:
                    self._on_error()

    def drop_all(self) -> None:
        """Drop every held reply (reset, stop); from any thread.

        The queue is emptied at once (new containers, not cleared ones): a delay added
        right after, from another thread, sees a free cap while the old replies are
        dropped on the loop thread, which owns their timers.
        """
        dropped, self.pending, self._heap = self.pending, set(), []
        if dropped:
            call_on_loop(self._loop(), lambda: self._drop_each(dropped))

    def _drop_each(self, dropped: set[Held]) -> None:
        for held in dropped:
            self.drop(held)

    def listen(self) -> None:
        """Start releasing due replies when a listener clock moves (server start)."""
        if self._listener is not None:
            self._listener.add_listener(self._on_clock_moved)

    def unlisten(self) -> None:
        """Stop listening to the clock (server stop)."""
        if self._listener is not None:
            self._listener.remove_listener(self._on_clock_moved)

    def _on_clock_moved(self, now: float) -> None:
        """Clock listener: release held replies that are due, before the clock call returns.

        It runs in whichever thread moved the clock.  Replies are sent from the loop
        thread, and this waits for that, so after ``clock.advance(...)`` returns every
        reply due by then is on the wire: a simulation can rely on it.
        """
        loop = self._loop()
        first = self.first_due()
        if loop is None or first is None or first > now:
            return
        if in_loop(loop):
            self._release_due()
            return
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def release() -> None:
            try:
                self._release_due()
            finally:
                done.set_result(None)

        try:
            loop.call_soon_threadsafe(release)
        except RuntimeError:  # the loop is closed: the server stopped
            return
        with contextlib.suppress(TimeoutError):
            done.result(timeout=_RELEASE_WAIT)

    def _release_due(self) -> None:
        for held in self.pop_due(self._clock.now()):
            self.release(held)

    # -- the queue ----------------------------------------------------------------------

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

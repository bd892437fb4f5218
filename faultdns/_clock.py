"""The time seam of faultdns: the clocks a server can be given.

Fault windows (``after=``/``for=``) and ``delay=`` are measured on a clock that the
server is given, never on the wall clock directly.  Two shapes, both declared here:

- :class:`Clock`: anything with ``now()`` returning seconds (only differences
  matter).  Delayed replies then wait on event-loop timers.  :class:`MonotonicClock`
  (``time.monotonic``) is what a real server runs on.

``FaultDNSServer(clock=...)`` is required (as cleanup requires ``clock`` below its
command line), so a forgotten one is a ``TypeError``, not real time silently mixed into
a virtual-time test; the entry points (the CLI, the pytest fixtures) pass
``MonotonicClock()``.
- :class:`ListenerClock`: a clock that also calls listeners after it moves.  The
  server then holds delayed replies until the clock reaches them and releases them
  before the clock's move returns, so a test or a simulation that moves time knows
  every reply due by then is on the wire.  :class:`faultdns.testing.ManualClock` is
  one (tests drive windows exactly, without sleeping); ``sim.SimClock`` is another.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ClockListener", "ListenerClock", "MonotonicClock"]

#: called with the clock's new reading (seconds) after every move
ClockListener = Callable[[float], None]


@runtime_checkable
class Clock(Protocol):
    """A source of time in seconds. Only differences between readings matter."""

    def now(self) -> float:
        """The current reading, in seconds."""
        ...


@runtime_checkable
class ListenerClock(Clock, Protocol):
    """A :class:`Clock` that tells listeners when it moves (see the module docstring).

    ``add_listener(callback)``: call ``callback(now)`` after every move, from the thread
    that moved the clock, before the move returns.  ``remove_listener(callback)``: stop
    calling it (no error if it was not registered).
    """

    def add_listener(self, callback: ClockListener) -> None:
        """Call ``callback(now)`` after every move of the clock."""
        ...

    def remove_listener(self, callback: ClockListener) -> None:
        """Stop calling ``callback``; nothing happens if it is not registered."""
        ...


class MonotonicClock:
    """Wall-clock time from :func:`time.monotonic`; a real server's clock."""

    def now(self) -> float:
        """Seconds from :func:`time.monotonic`."""
        return time.monotonic()

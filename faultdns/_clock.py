"""Clocks for faultdns.

Fault windows (``after=``/``for=``) and ``delay=`` are measured on a clock that the
server is given, never on the wall clock directly: tests drive windows exactly with a
:class:`ManualClock` (no sleeping), and the simulation harness drives them with its
own virtual clock.  Anything with a ``now()`` method returning seconds is a clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "MonotonicClock"]


@runtime_checkable
class Clock(Protocol):
    """A source of time in seconds. Only differences between readings matter."""

    def now(self) -> float: ...


class MonotonicClock:
    """Wall-clock time from :func:`time.monotonic`; the default."""

    def now(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to.

    Listeners registered with :meth:`add_listener` are called (from the thread that
    moved the clock) after every move, so a server can release replies held by
    ``delay=`` faults exactly when virtual time reaches them.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[float], None]] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (must be >= 0) and return the new time."""
        if seconds < 0:
            raise ValueError(f"cannot move a clock backwards (advance by {seconds})")
        return self.set(self._now + seconds)

    def set(self, when: float) -> float:
        """Jump to ``when`` (not earlier than now) and return it."""
        with self._lock:
            if when < self._now:
                raise ValueError(f"cannot move a clock backwards ({self._now} -> {when})")
            self._now = float(when)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(self._now)
        return self._now

    def add_listener(self, callback: Callable[[float], None]) -> None:
        with self._lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[float], None]) -> None:
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

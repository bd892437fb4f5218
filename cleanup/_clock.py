"""Clocks for the cleanup module.

Everything in ``cleanup`` that reads the time, sleeps, or waits for a socket does it
through a :class:`Clock`.  On a node that is :class:`SystemClock`; in tests it is
:class:`FastForwardClock` (sleeps return at once and move time forward); in the simulation
it is the simpy-driven clock of ``sim``, so the *same* retry loop, resolver and HTTP
transport run in virtual time.  Waiting for a socket is part of the clock because a
dropped DNS packet or a hung HTTP server must cost its nominal timeout in virtual
time without costing it in real time.

:meth:`Clock.wait_any` waits on several sockets at once: the stub resolver runs the A
and AAAA queries of a name concurrently, as Go does, each exchange on its own socket,
and must see which replies are there without letting one query's wait hold up the
other's.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FastForwardClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Time, sleeping and socket waits, all on one time base (seconds)."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def wait_readable(self, sock: socket.socket, timeout: float | None) -> bool:
        """Wait until ``sock`` is readable or ``timeout`` passes; True if readable."""
        ...

    def wait_writable(self, sock: socket.socket, timeout: float | None) -> bool:
        """Wait until ``sock`` is writable or ``timeout`` passes; True if writable."""
        ...

    def wait_any(
        self, waits: Sequence[tuple[socket.socket, bool]], timeout: float | None
    ) -> list[int]:
        """Wait until any of ``waits`` is ready or ``timeout`` (seconds) passes.

        ``waits`` holds ``(sock, writable)`` pairs: ``writable=False`` waits for data
        (or an error, such as an ICMP port unreachable on a connected UDP socket),
        ``True`` for room to write (a TCP connect that completed or failed).  Returns
        the indices of *every* pair that is ready, in ``waits`` order; an empty list
        means the timeout passed (and, on a virtual clock, was charged in full).
        """
        ...


_LONGEST_SLEEP = 86400.0  # seconds per time.sleep() call in SystemClock.sleep


def _select(sock: socket.socket, event: int, timeout: float | None) -> bool:
    with selectors.DefaultSelector() as sel:
        sel.register(sock, event)
        return bool(sel.select(timeout))


def _select_any(waits: Sequence[tuple[socket.socket, bool]], timeout: float | None) -> list[int]:
    """Indices of the ready pairs (a socket may appear once per direction)."""
    with selectors.DefaultSelector() as sel:
        keys: dict[int, list[tuple[int, int]]] = {}
        for index, (sock, writable) in enumerate(waits):
            event = selectors.EVENT_WRITE if writable else selectors.EVENT_READ
            keys.setdefault(sock.fileno(), []).append((index, event))
        for fd, entries in keys.items():
            mask = 0
            for _index, event in entries:
                mask |= event
            sel.register(fd, mask)
        ready: list[int] = []
        for key, events in sel.select(timeout):
            for index, event in keys[int(key.fd)]:
                if events & event:
                    ready.append(index)
        return sorted(ready)


class SystemClock:
    """Real time: :func:`time.monotonic`, :func:`time.sleep` and ``select``."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        # in slices: one time.sleep() cannot take Go's longest Duration (time_t overflow)
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, _LONGEST_SLEEP))

    def wait_readable(self, sock: socket.socket, timeout: float | None) -> bool:
        return _select(sock, selectors.EVENT_READ, timeout)

    def wait_writable(self, sock: socket.socket, timeout: float | None) -> bool:
        return _select(sock, selectors.EVENT_WRITE, timeout)

    def wait_any(
        self, waits: Sequence[tuple[socket.socket, bool]], timeout: float | None
    ) -> list[int]:
        if timeout is not None:
            timeout = max(timeout, 0.0)
        return _select_any(waits, timeout)


class FastForwardClock:
    """Virtual time for tests: ``sleep`` advances the clock instantly.

    Socket waits look at the socket for up to ``grace`` seconds of *real* time (so a
    peer on loopback has time to answer); if nothing arrives, the full ``timeout`` is
    charged to virtual time and the wait reports a timeout.  ``sleeps`` records every
    sleep so tests can assert the exact backoff schedule.
    """

    def __init__(self, start: float = 0.0, *, grace: float = 1.0) -> None:
        self._now = float(start)
        self.grace = grace
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot move a clock backwards (advance by {seconds})")
        self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self._now += seconds

    def _wait(self, sock: socket.socket, event: int, timeout: float | None) -> bool:
        real = self.grace if timeout is None else min(self.grace, timeout)
        if _select(sock, event, real):
            return True
        if timeout is not None:
            self._now += timeout
        return False

    def wait_readable(self, sock: socket.socket, timeout: float | None) -> bool:
        return self._wait(sock, selectors.EVENT_READ, timeout)

    def wait_writable(self, sock: socket.socket, timeout: float | None) -> bool:
        return self._wait(sock, selectors.EVENT_WRITE, timeout)

    def wait_any(
        self, waits: Sequence[tuple[socket.socket, bool]], timeout: float | None
    ) -> list[int]:
        """Like :meth:`wait_readable` for several sockets; a timeout goes through
        :meth:`advance`, so a subclass that links other clocks to this one sees it."""
        real = self.grace if timeout is None else max(min(self.grace, timeout), 0.0)
        ready = _select_any(waits, real)
        if not ready and timeout is not None and timeout > 0:
            self.advance(timeout)
        return ready

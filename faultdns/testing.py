"""Test helpers for faultdns: a clock that moves only when told to, socket queues, a
closed port, and a command run with a resolv.conf of its own.

Kept apart from the server, as trio keeps its mock clock in ``trio.testing``: nothing
here runs in production, and ``faultdns.ManualClock`` (the older path, still
documented) is this same class.  :func:`unread_bytes` and :func:`unsent_bytes` are the
kernel readings faultdns's own idle detection makes (:mod:`faultdns._sockq`), for a
test or simulation that must tell "no reply" from "not yet" without waiting in real
time: once :meth:`faultdns.FaultDNSServer.idle` is true, a client socket with nothing
unread got no reply.  :func:`client_text` is how the query log names a client
(``QueryRecord.client``), so such a test can find its own socket's queries in the log.

:class:`ClosedPort` is a nameserver (or any peer) that is down: UDP queries meet ICMP
port unreachable, TCP connects a reset, and the port is held, so that no socket, not
even the client's own ephemeral one, can be given it (a port bound and released can;
see :mod:`faultdns._unreachable`).

:func:`run_with_resolv_conf` runs one command that sees a given text as
/etc/resolv.conf (with :data:`HOSTS` as /etc/hosts and :data:`NSSWITCH` as
/etc/nsswitch.conf), in a private mount namespace; :func:`sandbox_status` says whether
this machine allows one (:class:`SandboxStatus`), so a test can skip with the reason.
It is the recipe ``faultdns run`` uses (``faultdns._sandbox``), public here because
tests and the Go differential oracle (``sim._fidelity``) point a real resolver (glibc,
Go's) at a faultdns server with it.
"""

from __future__ import annotations

import threading

from faultdns._clock import ClockListener
from faultdns._querylog import client_text
from faultdns._sandbox import HOSTS, NSSWITCH, SandboxStatus, run_with_resolv_conf, sandbox_status
from faultdns._sockq import SocketLike, unread_bytes, unsent_bytes
from faultdns._unreachable import ClosedPort

__all__ = [
    "HOSTS",
    "NSSWITCH",
    "ClosedPort",
    "ManualClock",
    "SandboxStatus",
    "SocketLike",
    "client_text",
    "run_with_resolv_conf",
    "sandbox_status",
    "unread_bytes",
    "unsent_bytes",
]


class ManualClock:
    """A clock that moves only when told to; a :class:`faultdns.ListenerClock`.

    Seconds, starting at ``start``.  Listeners registered with :meth:`add_listener`
    are called (from the thread that moved the clock) after every move, so a server
    releases replies held by ``delay=`` faults exactly when virtual time reaches them.
    Moving backwards raises ValueError.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._listeners: list[ClockListener] = []

    def now(self) -> float:
        """The current reading, in seconds."""
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

    def add_listener(self, callback: ClockListener) -> None:
        """Call ``callback(now)`` after every move."""
        with self._lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: ClockListener) -> None:
        """Stop calling ``callback``; nothing happens if it is not registered."""
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

"""The time seam of sim: every clock a world runs on, on one axis (seconds since the
node reboot).

:class:`WorldClock` is the seam: what the fake repo (:class:`sim.RepoServer`) and the
world read.  Three clocks stand behind it:

- :class:`SimClock`: virtual time over a simpy environment, for the harness.  It is a
  ``cleanup.Clock`` (the real cleanup sleeps and waits for sockets through it) and a
  ``faultdns.ListenerClock`` (faultdns reads fault windows from it and releases held
  replies from its listeners), so the world's processes, the retry loop's sleeps and
  every socket timeout share one axis.
- :class:`ScaledClock`: real time, sped up, for ``sim serve`` (a world played to real
  clients).
- :class:`SocketlessClock`: the harness clock as the cleanup sees it when nothing
  answers on a socket, for the evaluator (``sim._evaluate``), which replays the retry
  loop without sockets.

How :class:`SimClock` decides a socket wait follows.

How a socket wait decides, without ever looking at how long real time took:

1. Bring every peer to quiescence (:meth:`Peer.settle`): the fake repo server answers
   what has arrived, faultdns handles every datagram that reached it (both run in this
   very thread, see ``sim._dns.DNSPeer``).
2. If the socket is ready, the wait is over: readiness is a fact.
3. If a peer reports that something it already sent to this socket is still in flight
   (:meth:`Peer.in_flight`), or the socket's own TCP handshake is under way (the
   loopback kernel answers a SYN at once, with SYN-ACK or reset), wait for it in real
   time: it is known to be coming.  That wait is bounded (``real_wait_limit``) and
   exceeding it is a hard error, never a virtual timeout.
4. Before concluding that nothing is coming, *prove* that nothing is still inside the
   kernel: a loopback barrier (``sim._loopback``) returns once every packet this thread
   sent has been delivered; then the peers settle again.  Only after two barriers in a
   row that brought nothing new (the second covers what the kernel itself sends while
   delivering, such as a reset answering data for a closed socket) is the wait over.
5. Otherwise nothing will happen until virtual time moves: advance to the earliest of
   the wait's deadline, a peer's next scheduled action (a reply held by ``delay=``) and
   the next world event in the simpy environment.  Reaching the deadline is a timeout:
   a dropped DNS query costs its 5 s and a hung request its 30 s of *virtual* time.

Step 4 is what makes this hold under load.  "A loopback send lands in the receiver's
queue before the sender's call returns" is usually true on Linux and false exactly when
the machine is busy: the kernel then leaves the delivery to ``ksoftirqd``, and a query
or request sent a moment ago is still in the kernel when the wait looks.  Without the
barrier that query is charged its full timeout in virtual time and answered later:
another trace for the same seed.  Likewise, whenever virtual time moved, the world may
have made a peer send something (the repo resets its connections when the Service
loses its endpoints); before the clock hands control back to the cleanup, a barrier
lets those packets land, so httpcore's "did the server close this pooled connection?"
check sees the reset whatever the load.

So the outcome depends only on what the peers did, never on scheduling or CI load.

``wait_any`` (several sockets: the stub resolver's concurrent A and AAAA queries) makes
the same decision over all of them and reports every socket that is ready when it
ends, so replies that land at the same virtual instant are seen together and the
resolver can handle them in the order their queries were sent.  A wait that finds one
socket ready does not wait for the others' replies, so at one instant a reply may be
seen a wait or two later than its causal round (a TCP query takes faultdns several loop
turns); the resolver therefore ranks its queries' completions by
``cleanup.dnsrules.completion_order`` over the exchanges they made, not by the wait
that saw their last replies.
"""

from __future__ import annotations

import math
import random
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import simpy

from sim._loopback import LoopbackBarrier

__all__ = [
    "Barrier",
    "Peer",
    "PeerError",
    "ScaledClock",
    "SimClock",
    "SimDeadlock",
    "SocketlessClock",
    "WorldClock",
]

_READ = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP
_WRITE = select.POLLOUT | select.POLLERR | select.POLLHUP


@runtime_checkable
class WorldClock(Protocol):
    """The world's time: seconds since the node reboot.

    Structurally a ``faultdns.Clock``; :class:`SimClock`, :class:`ScaledClock` and
    :class:`SocketlessClock` all are one.
    """

    def now(self) -> float:
        """Seconds since the node reboot."""
        ...


class ScaledClock:
    """Real time, ``speed`` times faster, from ``start`` seconds since the reboot.

    For ``sim serve``, which plays one world to real clients: ``now()`` is ``start +
    (monotonic() - t0) * speed`` with ``t0`` read at construction.  ``monotonic``
    (seconds) is injectable for tests; it defaults to :func:`time.monotonic`.
    """

    def __init__(
        self, start: float, speed: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed: expected > 0, got {speed}")
        self.start = start
        self.speed = speed
        self._monotonic = monotonic
        self._t0 = monotonic()

    def now(self) -> float:
        """Virtual seconds since the node reboot."""
        return self.start + (self._monotonic() - self._t0) * self.speed


class SocketlessClock:
    """The harness clock as the cleanup sees it when no socket ever answers.

    A ``cleanup.Clock`` for code that opens no sockets (the evaluator's replay of the
    retry loop, ``sim._evaluate``): ``now()`` is ``t`` (seconds since the reboot),
    :meth:`sleep` and :meth:`wait` move it forward, as :class:`SimClock` does when
    nothing in the world answers.  Its socket waits raise AssertionError: reaching one
    means the replay opened a socket, which it must not.
    """

    def __init__(self, start: float) -> None:
        self.t = start

    def now(self) -> float:
        """Seconds since the node reboot."""
        return self.t

    def sleep(self, seconds: float) -> None:
        """Move forward by ``seconds`` (nothing for ``seconds <= 0``)."""
        if seconds > 0:
            self.t = self.t + seconds

    def wait(self, timeout: float) -> None:
        """A wait nothing answers: time moves to ``now + timeout``, as the harness does."""
        self.t = self.t + timeout

    def wait_readable(self, sock: socket.socket, timeout: float | None) -> bool:
        """Never reached: raises AssertionError (no sockets here)."""
        raise AssertionError("a SocketlessClock opens no sockets")

    def wait_writable(self, sock: socket.socket, timeout: float | None) -> bool:
        """Never reached: raises AssertionError (no sockets here)."""
        raise AssertionError("a SocketlessClock opens no sockets")

    def wait_any(
        self, waits: Sequence[tuple[socket.socket, bool]], timeout: float | None
    ) -> list[int]:
        """Never reached: raises AssertionError (no sockets here)."""
        raise AssertionError("a SocketlessClock opens no sockets")


class PeerError(RuntimeError):
    """A peer did not deliver something it had certainly sent: the harness is broken."""


class SimDeadlock(RuntimeError):
    """A wait without a timeout that nothing in the world will ever end."""


@runtime_checkable
class Peer(Protocol):
    """A server the clock must let finish its work before deciding a socket wait."""

    def settle(self) -> bool | None:
        """Handle everything that has reached this peer; True if there was anything."""
        ...

    def next_due(self) -> float | None:
        """Virtual time of the next thing this peer will do on its own, if any."""
        ...

    def in_flight(self, sock: socket.socket) -> bool:
        """Whether something this peer already sent to ``sock`` has not arrived yet."""
        ...

    def wait_ended(self, sock: socket.socket, ready: bool) -> None:
        """Called whenever a wait on ``sock`` returns (for the peer's bookkeeping)."""
        ...


@runtime_checkable
class Barrier(Protocol):
    """What the clock needs from ``sim._loopback.LoopbackBarrier`` (tests stand in for it)."""

    def drain(self) -> None:
        """Return once every packet this thread sent has reached its receiver."""
        ...

    def close(self) -> None: ...


def _ready(sock: socket.socket, mask: int) -> bool:
    poller = select.poll()
    poller.register(sock, mask)
    return bool(poller.poll(0))


_TCP_SYN_SENT = 2  # tcpi_state while a connect is under way (linux/tcp_states.h)


def _connecting(sock: socket.socket) -> bool:
    """A TCP connect still waiting for the peer's SYN-ACK or reset."""
    if sock.type != socket.SOCK_STREAM:
        return False
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)
    except (OSError, AttributeError):
        return False
    return bool(info) and info[0] == _TCP_SYN_SENT


def _wait_real_any(waits: list[tuple[socket.socket, int]], seconds: float) -> bool:
    poller = select.poll()
    masks: dict[int, int] = {}
    for sock, mask in waits:
        masks[sock.fileno()] = masks.get(sock.fileno(), 0) | mask
    for fd, mask in masks.items():
        poller.register(fd, mask)
    return bool(poller.poll(int(seconds * 1000)))


def exact_delay(now: float, when: float) -> float:
    """A delay ``d`` with ``now + d == when`` in floating point (when one exists).

    simpy schedules at ``now + delay``; a world event must land exactly on the interval
    boundary the timeline names, or a query at that instant would see the old state.
    """
    delay = when - now
    for _ in range(4):
        got = now + delay
        if got == when:
            break
        delay = math.nextafter(delay, math.inf if got < when else -math.inf)
    return max(delay, 0.0)


class SimClock:
    """Virtual time over a simpy environment; a ``cleanup.Clock`` and a
    ``faultdns.ListenerClock``.

    Only one thread may move it (the thread running the cleanup); peers in other
    threads, if any, only read :meth:`now`, which is stable while they work because the
    mover waits for them to settle before moving.
    """

    def __init__(
        self,
        env: simpy.Environment | None = None,
        *,
        real_wait_limit: float = 10.0,
        barrier: Barrier | None = None,
    ):
        self.env: simpy.Environment = env if env is not None else simpy.Environment()
        self.real_wait_limit = real_wait_limit
        #: flushes the kernel's loopback backlog (created on first use)
        self.barrier: Barrier | None = barrier
        #: virtual time moved since the last barrier: peers may have sent something
        self._moved = False
        self._listeners: list[Callable[[float], None]] = []
        self._peers: list[Peer] = []
        #: how listeners are called (a peer running a server in its own event loop
        #: may need them called inside that loop)
        self.call_listener: Callable[[Callable[[float], None], float], None] = _call
        self._lock = threading.Lock()
        #: virtual seconds spent in sleeps and in socket waits that timed out
        self.slept = 0.0
        self.waited = 0.0
        #: the most a timer wakes late (seconds), and where each lateness is drawn from
        self.wake_late = 0.0
        self._late_rng: random.Random | None = None

    # -- setup ----------------------------------------------------------------------

    def reset(self, env: simpy.Environment | None = None) -> None:
        """Start a new world at t = 0 (listeners and peers stay; timers on time)."""
        self.env = env if env is not None else simpy.Environment()
        self.slept = 0.0
        self.waited = 0.0
        self.set_wake_late(0.0)

    def set_wake_late(self, most: float, rng: random.Random | None = None) -> None:
        """Make timers wake late, as on a busy node (timer slack, a run queue): every
        :meth:`sleep` ends, and every socket wait's timer fires, ``late`` seconds after
        its due time, ``late`` drawn uniformly from [0, ``most``] by ``rng`` (rounded
        to the microsecond) per timer, in the order the timers are set; so a seeded
        ``rng`` replays exactly.  A socket that becomes ready before the late timer
        fires still ends the wait at once (readiness wakes a poller, only the timer is
        late), so a wait may also end after its due time with the socket ready.
        ``most`` 0 (the default, and after :meth:`reset`): every timer on time.
        Raises ValueError for a negative or non-finite ``most``, or ``most`` > 0
        without ``rng``."""
        if not (math.isfinite(most) and most >= 0):
            raise ValueError(f"wake_late: expected a finite number of seconds >= 0, got {most}")
        if most > 0 and rng is None:
            raise ValueError("wake_late > 0 needs an rng to draw each lateness from")
        self.wake_late = most
        self._late_rng = rng if most > 0 else None

    def _late(self) -> float:
        """The lateness of the next timer (seconds; 0 unless :meth:`set_wake_late`)."""
        if self._late_rng is None:
            return 0.0
        return round(self._late_rng.uniform(0.0, self.wake_late), 6)

    def add_peer(self, peer: Peer) -> None:
        self._peers.append(peer)

    def remove_peer(self, peer: Peer) -> None:
        if peer in self._peers:
            self._peers.remove(peer)

    def add_listener(self, callback: Callable[[float], None]) -> None:
        with self._lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[float], None]) -> None:
        with self._lock:
            if callback in self._listeners:
                self._listeners.remove(callback)

    # -- time -----------------------------------------------------------------------

    def now(self) -> float:
        return float(self.env.now)

    def advance_to(self, when: float) -> None:
        """Run the world up to and including every event at ``when``, then tell listeners.

        Events *at* ``when`` are processed too: a state that starts at ``t`` holds at
        ``t`` (intervals are half-open), so a wait that wakes at ``t`` sees it.
        """
        env = self.env
        if when < env.now:
            raise ValueError(f"cannot move the clock backwards ({env.now} -> {when})")
        self._moved = True
        if when > env.now:
            env.run(until=when)
        while env.peek() <= when:
            env.step()
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            self.call_listener(listener, float(env.now))

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot move a clock backwards (advance by {seconds})")
        self.advance_to(self.now() + seconds)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            wake = self.now() + seconds + self._late()
            self.slept += wake - self.now()
            self.advance_to(wake)
            self.sync()

    # -- socket waits ---------------------------------------------------------------

    def settle(self) -> bool:
        """Let every peer handle what has reached it; True if any peer had something."""
        busy = False
        for peer in self._peers:
            if peer.settle():
                busy = True
        return busy

    def drain(self) -> None:
        """Return once every packet this thread sent over loopback has been delivered."""
        if self.barrier is None:
            self.barrier = LoopbackBarrier(limit=self.real_wait_limit)
        self.barrier.drain()
        self._moved = False

    def sync(self) -> None:
        """Barrier and settle until a round brings nothing new: afterwards everything
        the peers and the cleanup sent has landed and been handled.

        Called after virtual time moved (the world may have made a peer send), and by
        the harness between runs (nothing from one run may reach the next).
        """
        if not self._peers:
            self._moved = False
            return
        quiet = 0
        while quiet < 2:
            self.drain()
            quiet = 0 if self.settle() else quiet + 1

    def close(self) -> None:
        """Release the barrier's sockets (the clock stays usable: it makes new ones)."""
        if self.barrier is not None:
            self.barrier.close()
            self.barrier = None

    def wait_readable(self, sock: socket.socket, timeout: float | None) -> bool:
        return bool(self._wait([(sock, _READ)], timeout))

    def wait_writable(self, sock: socket.socket, timeout: float | None) -> bool:
        return bool(self._wait([(sock, _WRITE)], timeout))

    def wait_any(
        self, waits: Sequence[tuple[socket.socket, bool]], timeout: float | None
    ) -> list[int]:
        """``cleanup.Clock.wait_any``: the same decision as a single wait, over all of
        ``waits`` at once.  Every pair that is ready when the wait ends is reported, so
        replies that arrive at the same virtual instant are seen together and the caller
        can order them causally (``cleanup.StubResolver`` does)."""
        return self._wait(
            [(sock, _WRITE if writable else _READ) for sock, writable in waits], timeout
        )

    def _wait(self, waits: list[tuple[socket.socket, int]], timeout: float | None) -> list[int]:
        start = self.now()
        # the timer fires at the deadline, or later on a busy node (set_wake_late)
        deadline = math.inf if timeout is None else start + max(timeout, 0.0) + self._late()
        quiet = 0  # barriers in a row after which nothing had arrived
        while True:
            if self.settle():
                quiet = 0
            ready = [i for i, (sock, mask) in enumerate(waits) if _ready(sock, mask)]
            if ready:
                if self._moved and self._peers:
                    self.sync()  # what the world made peers send lands before we return
                    ready = [i for i, (sock, mask) in enumerate(waits) if _ready(sock, mask)]
                for i, (sock, _mask) in enumerate(waits):
                    for peer in self._peers:
                        peer.wait_ended(sock, i in ready)
                return ready
            coming = [
                (sock, mask | select.POLLOUT if _connecting(sock) else mask)
                for sock, mask in waits
                if _connecting(sock) or any(peer.in_flight(sock) for peer in self._peers)
            ]
            if coming:
                # a handshake completes with POLLOUT, whatever the caller waits for
                if not _wait_real_any(coming, self.real_wait_limit):
                    raise PeerError(
                        f"peer did not answer: a reply sent to {_name(coming[0][0])} did not "
                        f"arrive within {self.real_wait_limit:g}s of real time"
                    )
                quiet = 0
                continue
            if self._peers and quiet < 2:
                # Nothing visible yet: make sure nothing is still inside the kernel.
                self.drain()
                quiet += 1
                continue
            due = min(self.env.peek(), deadline)
            for peer in self._peers:
                when = peer.next_due()
                if when is not None and when < due:
                    due = when
            if due == math.inf:
                raise SimDeadlock(
                    f"waiting without a timeout on {_name(waits[0][0])}, and nothing in the "
                    "world will ever answer it"
                )
            if due >= deadline:
                self.advance_to(max(deadline, self.now()))
                if self._peers:
                    self.sync()
                self.waited += deadline - start
                for sock, _mask in waits:
                    for peer in self._peers:
                        peer.wait_ended(sock, False)
                return []
            self.advance_to(max(due, self.now()))
            quiet = 0


def _call(listener: Callable[[float], None], now: float) -> None:
    listener(now)


def _name(sock: socket.socket) -> str:
    try:
        host, port = sock.getsockname()[:2]
    except OSError:
        return "a closed socket"
    kind = "udp" if sock.type == socket.SOCK_DGRAM else "tcp"
    return f"{kind} {host}:{port}"

"""A loopback barrier: wait until every packet this thread has sent was delivered.

Why the simulation needs one.  The harness decides "no answer is coming, charge the
timeout in virtual time" by looking at sockets.  That is only sound if everything the
cleanup and the peers sent has already landed in its receiver's queue.  On Linux a
loopback send usually delivers inside the sender's system call (the NET_RX softirq
runs when the send re-enables bottom halves), but not always: when the softirq runs
out of its budget or time slice (``time_squeeze`` in ``/proc/net/softnet_stat``) the
rest of the per-CPU backlog is left to ``ksoftirqd``, a normal thread that under heavy
CPU load waits its turn like everyone else.  Then a DNS query, a SYN, an HTTP request
or a reset sits in the kernel for a while after ``send()`` returned, and a harness
that trusted "sent means delivered" times out a query that was about to be answered.
Rare on an idle machine, and exactly what a loaded CI runner does now and then.

How the barrier works.  Loopback packets wait in the backlog of the CPU that sent them
(``lo`` has no queueing discipline and, by default, no RPS), and each CPU's backlog is
delivered in order.  So the barrier sends a marker datagram from *every* CPU this
thread may run on (pinning itself to each in turn, then restoring its affinity) and
waits until all markers arrived: whatever this thread sent before is then delivered.
Hopping CPUs costs about 0.1 ms; a thread that stays on one CPU for a while
(:func:`one_cpu`, as the harness does for a run) needs a single marker, ten times
cheaper.
Packets the kernel generates while delivering (a SYN-ACK, an ACK, the reset answering
data sent to a closed socket) may queue behind the marker; callers repeat the barrier
until a round brings nothing new (see ``sim._clock``).

The wait is in real time, bounded (``limit``) and a hard error when exceeded: the
packets are known to be in the kernel, so only a broken host keeps them there.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import socket
import time
from collections.abc import Iterator

__all__ = ["LoopbackBarrier", "LoopbackError", "one_cpu"]


class LoopbackError(RuntimeError):
    """The kernel did not deliver a loopback packet within the real-time limit."""


def _affinity() -> set[int]:
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        return set()
    try:
        return set(getter(0))
    except OSError:
        return set()


def _current_cpu(cpus: set[int]) -> int:
    """The CPU this thread runs on (so pinning does not move it), else one by pid."""
    try:
        cpu = int(ctypes.CDLL(None, use_errno=True).sched_getcpu())
    except (OSError, AttributeError):
        cpu = -1
    if cpu in cpus:
        return cpu
    return sorted(cpus)[os.getpid() % len(cpus)]


@contextlib.contextmanager
def one_cpu() -> Iterator[None]:
    """Keep the calling thread on the CPU it is on, then restore its affinity.

    Only the calling thread is affected (Linux applies affinity per thread), and only
    for the ``with`` block.  Where affinity cannot be set, nothing changes (barriers
    then hop CPUs).
    """
    cpus = _affinity()
    if len(cpus) <= 1:
        yield
        return
    try:
        os.sched_setaffinity(0, {_current_cpu(cpus)})
    except OSError:
        yield
        return
    try:
        yield
    finally:
        os.sched_setaffinity(0, cpus)


class LoopbackBarrier:
    """Markers over loopback, one per CPU, to flush every CPU's delivery backlog."""

    def __init__(self, host: str = "127.0.0.1", *, limit: float = 10.0) -> None:
        self.limit = limit
        self._rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._rx.bind((host, 0))
            self._rx.setblocking(False)
            self._tx.connect(self._rx.getsockname())
        except OSError:
            self.close()
            raise
        self._poll = select.poll()
        self._poll.register(self._rx, select.POLLIN)
        self._serial = 0
        #: barriers completed (for tests and benchmarks)
        self.count = 0

    def close(self) -> None:
        self._rx.close()
        self._tx.close()

    def drain(self) -> None:
        """Return once everything this thread sent over loopback has been delivered."""
        self._serial += 1
        token = self._serial.to_bytes(8, "big")
        self._await(token, self._send_everywhere(token))
        self.count += 1

    def _send_everywhere(self, token: bytes) -> int:
        cpus = _affinity()
        if len(cpus) <= 1:
            self._tx.send(token)
            return 1
        sent = 0
        try:
            for cpu in sorted(cpus):
                try:
                    os.sched_setaffinity(0, {cpu})
                except OSError:  # offline meanwhile: nothing to flush there
                    continue
                self._tx.send(token)
                sent += 1
        finally:
            os.sched_setaffinity(0, cpus)
        if not sent:
            self._tx.send(token)
            sent = 1
        return sent

    def _await(self, token: bytes, count: int) -> None:
        limit = time.monotonic() + self.limit
        got = 0
        while got < count:
            try:
                data = self._rx.recv(64)
            except BlockingIOError:
                left = limit - time.monotonic()
                if left <= 0:
                    raise LoopbackError(
                        f"loopback did not deliver a packet within {self.limit:g}s of real "
                        "time (is the host's network stack stalled?)"
                    ) from None
                self._poll.poll(max(1, int(left * 1000)))
                continue
            if data == token:  # older tokens: leftovers of a barrier that failed
                got += 1

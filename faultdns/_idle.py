"""Idle detection: has the server handled every query its clients have sent so far?

:meth:`faultdns.FaultDNSServer.idle` and :meth:`~faultdns.FaultDNSServer.wait_idle`
(their docstrings give the contract) call :func:`idle` and :func:`wait_idle` here.
The answer is read from the kernel and the loop thread, never from a clock: nothing
waits in the UDP socket's receive queue (FIONREAD), the loop thread is not inside a
UDP wake-up (``FaultDNSServer._busy``), no TCP connection waits to be accepted and no
accepted one has unread bytes.  A simulation uses it to decide "no answer" without
waiting in real time.
"""

from __future__ import annotations

import concurrent.futures
import select
import socket
import time
from typing import TYPE_CHECKING

from faultdns._loop import in_loop
from faultdns._sockq import unread_bytes

if TYPE_CHECKING:
    from faultdns._server import FaultDNSServer

__all__ = ["idle", "wait_idle"]

_TCP_SETTLE_ROUNDS = 4  # loop iterations idle() watches TCP for (see idle())
_IDLE_ANSWER_WAIT = 10.0  # real seconds idle() waits for the loop thread's answer


def idle(server: FaultDNSServer) -> bool:
    """True when every query sent to ``server`` so far has been handled (any thread)."""
    udp, loop = server._udp, server._loop
    if udp is None or loop is None or not server._running:
        return True
    # The queue first, then the flag: the loop thread sets the flag before it takes
    # a datagram off the queue and clears it after the last reply went out, so
    # "queue empty, then not busy" means every datagram was handled.
    if unread_bytes(udp) or server._busy:
        return False
    if server._tcp is None or in_loop(loop):
        return _tcp_idle(server)
    # TCP state lives in the loop thread: look at it from there, between callbacks,
    # over a few loop iterations.  asyncio takes about three to turn an accepted
    # socket into a connection we can see (accept, task step, connection_made), and
    # in between neither the listener nor any connection shows it, so the check
    # must watch across them (and cannot take a shortcut from this thread).
    done: concurrent.futures.Future[bool] = concurrent.futures.Future()

    def check(left: int, accepted: int) -> None:
        try:
            if not _tcp_idle(server) or server._tcp_total != accepted:
                done.set_result(False)
            elif left == 0:
                done.set_result(True)
            else:
                loop.call_soon(check, left - 1, accepted)
        except BaseException as exc:
            done.set_exception(exc)

    try:
        loop.call_soon_threadsafe(check, _TCP_SETTLE_ROUNDS, server._tcp_total)
    except RuntimeError:  # the loop is closed: the server stopped
        return True
    return done.result(timeout=_IDLE_ANSWER_WAIT)


def wait_idle(server: FaultDNSServer, timeout: float) -> None:
    """Return once :func:`idle`; TimeoutError after ``timeout`` real seconds.

    RuntimeError when called on the server's own loop thread (it would block it).
    Real time on purpose: this waits for the server's thread, not for simulated time.
    """
    if idle(server):
        return
    if server._loop is not None and in_loop(server._loop):
        raise RuntimeError("wait_idle() would block the server's own event loop")
    limit = time.monotonic() + timeout
    spins = 0
    while not idle(server):
        if time.monotonic() > limit:
            raise TimeoutError(f"faultdns: still handling queries after {timeout:g}s")
        spins += 1
        time.sleep(0 if spins < 100 else 1e-4)  # yield the GIL to the loop thread


def _tcp_idle(server: FaultDNSServer) -> bool:
    """The TCP half of :func:`idle`; runs in the loop thread."""
    if server._tcp is not None and _readable(server._tcp):
        return False
    for conn in server._tcp_conns:
        transport = conn.transport
        if conn.closed or transport is None or not transport.is_reading():
            continue  # paused: waiting for the client to read, not for us
        sock = transport.get_extra_info("socket")
        if sock is not None and unread_bytes(sock):
            return False
    return True


def _readable(sock: socket.socket) -> bool:
    """A listening socket with a connection waiting to be accepted, or data waiting."""
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN)
    except (OSError, ValueError):
        return False
    return bool(poller.poll(0))

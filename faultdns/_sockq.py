"""A socket's queues, read from the kernel: what waits to be read, what waits on the peer.

Both answer "has the kernel finished moving these bytes?" without a clock, which is how
faultdns decides it is idle (:mod:`faultdns._idle`: nothing unread in its sockets) and
when a TCP client is not reading its replies (:mod:`faultdns._tcp`: replies unsent or
unacknowledged).  A simulation that drives faultdns in virtual time asks the same of
its own sockets (after :meth:`faultdns.FaultDNSServer.idle`, a client socket with
nothing unread got no reply), so :mod:`faultdns.testing` exports both: one copy of
each ioctl.  Linux ``ioctl(2)``: ``FIONREAD`` (``SIOCINQ``) and ``TIOCOUTQ``
(``SIOCOUTQ``), see ``udp(7)``/``tcp(7)``.
"""

from __future__ import annotations

import fcntl
import struct
import termios
from typing import Protocol, runtime_checkable

__all__ = ["SocketLike", "unread_bytes", "unsent_bytes"]


@runtime_checkable
class SocketLike(Protocol):
    """Anything with a file descriptor: a ``socket.socket`` or asyncio's
    ``TransportSocket`` (``transport.get_extra_info("socket")``)."""

    def fileno(self) -> int: ...


def _queued(sock: SocketLike | None, request: int) -> int:
    if sock is None:
        return 0
    try:
        raw = fcntl.ioctl(sock.fileno(), request, b"\0\0\0\0")
    except (OSError, ValueError):  # closed (fileno -1: ValueError) or not a socket
        return 0
    return int(struct.unpack("i", raw)[0])


def unread_bytes(sock: SocketLike | None) -> int:
    """Bytes waiting in ``sock``'s receive queue (``FIONREAD``; for UDP the size of the
    next datagram, 0 when none waits); 0 for None or a closed socket."""
    return _queued(sock, termios.FIONREAD)


def unsent_bytes(sock: SocketLike | None) -> int:
    """Bytes a TCP socket sent that its peer has not acknowledged yet, or has not been
    sent (``TIOCOUTQ``, i.e. ``SIOCOUTQ``); 0 for None or a closed socket."""
    return _queued(sock, termios.TIOCOUTQ)

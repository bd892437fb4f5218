"""Port unreachable: a bound UDP port that the kernel answers with ICMP, not the server.

A Kubernetes Service whose pods are not ready still has its ClusterIP, and kube-proxy
rejects every datagram sent to it with ICMP port unreachable; a client's connected UDP
socket then reads ``ECONNREFUSED`` (Go: ``read udp L->S: read: connection refused``, a
``*net.OpError``, so the lookup error is temporary).  Closing the server's socket would
show the same to a client, but would give the port away to whoever binds next and
would lose the server's state.  Instead the socket is *connected to its own address*:
Linux then delivers to it only datagrams from itself, finds no socket for anybody
else's, and answers those with ICMP port unreachable (``udp_rcv`` ->
``icmp_send(ICMP_PORT_UNREACH)``).  Datagrams already queued are still read.

Undoing it is ``connect(AF_UNSPEC)`` (POSIX: dissolve the association).  Linux keeps
the local port only when it was bound explicitly (``__udp_disconnect`` keeps ports with
``SOCK_BINDPORT_LOCK``), so a server that must come back on the same port has to be
started with a port of its own, not port 0: :func:`free_udp_port` finds one.

The same trick makes a *closed port* for tests (:class:`ClosedPort`): a port where
nothing listens, as a client sees it (UDP: ICMP port unreachable; TCP: a reset), that
is nevertheless held, so that no socket can be given it.  A port that was merely bound
and released is free, and free ports are what the kernel hands out as ephemeral ports,
to the very client that dials it too (see :class:`ClosedPort`).
"""

from __future__ import annotations

import ctypes
import errno
import socket
from types import TracebackType

__all__ = ["ClosedPort", "free_udp_port", "set_port_unreachable"]

_libc = ctypes.CDLL(None, use_errno=True)


def set_port_unreachable(sock: socket.socket, on: bool) -> None:
    """Make ``sock`` (a bound UDP socket) refuse every other sender with ICMP, or stop.

    Raises ``OSError`` if the kernel refuses either ``connect``.  Safe from any thread:
    one system call on the socket.
    """
    if on:
        sock.connect(sock.getsockname())
        return
    # Python has no call for connect(AF_UNSPEC): a zeroed sockaddr has sa_family 0.
    unspec = (ctypes.c_ubyte * 16)()
    if _libc.connect(sock.fileno(), unspec, ctypes.c_uint32(len(unspec))) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"connect(AF_UNSPEC): {errno.errorcode.get(code, code)}")


def free_udp_port(host: str) -> int:
    """A port free on ``host`` for both UDP and TCP right now, to bind explicitly.

    Both, because the server binds UDP and TCP on one port (see the module doc for why
    the port must be explicit).  Another process may take it before it is bound; the
    server's bind then fails loudly.
    """
    family = socket.getaddrinfo(host, 0, type=socket.SOCK_DGRAM)[0][0]
    for _ in range(64):
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port: int = udp.getsockname()[1]
            with socket.socket(family, socket.SOCK_STREAM) as tcp:
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue  # taken for TCP: try another
                return port
    raise OSError(f"no port on {host} is free for both UDP and TCP")


class ClosedPort:
    """A port where nothing listens, for UDP and TCP, that nobody can take while held.

    A client meets what it meets at a closed port: a UDP datagram is answered with ICMP
    port unreachable (a connected socket reads ``ECONNREFUSED``; Go: ``read udp L->S:
    read: connection refused``), a TCP SYN with a reset (``ECONNREFUSED``; Go: ``dial
    tcp S: connect: connection refused``).  Yet the port is bound: a UDP socket on it is
    connected to itself (:func:`set_port_unreachable`, so Linux delivers it only its own
    datagrams and refuses everybody else's) and a TCP socket is bound to it without
    listening (``tcp_v4_rcv`` finds no listener and resets).

    Why not "bind port 0, note the port, close": the released port is free, and Linux
    picks a client socket's local port from the free ephemeral ports at ``connect``
    (``ip_local_port_range``, 32768-60999 by default), so a client dialling the closed
    port may be given that very port and be connected to itself.  Over UDP it then
    reads its own query (not a reply: a resolver ignores it, as Go's
    ``dnsPacketRoundTrip`` does) and times out instead of being refused, about once in
    28,000 sockets (measured on Linux 6.18: 10 in 300,000 UDP connects); over TCP the
    connect succeeds, a simultaneous open with itself (Go retries that in
    ``doDialTCPProto``, golang.org/issue/2690; measured 3 in 100,000 connects to an even
    port).  Another process may also bind a released port.  A held port is given to
    nobody: ``udp_lib_get_port`` and ``__inet_hash_connect`` skip ports in use.

    ``host``: an IP literal (default ``127.0.0.1``); the port is the kernel's choice.
    Raises ``OSError`` if no port can be bound for both protocols.  Release it with
    :meth:`close` or a ``with`` block.
    """

    _TRIES = 64

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.getaddrinfo(host, 0, type=socket.SOCK_DGRAM)[0][0]
        for _ in range(self._TRIES):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                udp.bind((host, 0))
                port: int = udp.getsockname()[1]
                tcp.bind((host, port))
                set_port_unreachable(udp, True)
            except OSError as exc:
                udp.close()
                tcp.close()
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue  # taken for TCP: try another
            self.host = host
            self.port = port
            self._socks = (udp, tcp)
            return
        raise OSError(f"no port on {host} could be held for both UDP and TCP")

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``, as ``socket.connect`` takes it."""
        return self.host, self.port

    @property
    def hostport(self) -> str:
        """``HOST:PORT`` (``[HOST]:PORT`` for IPv6), as a nameserver or URL names it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def close(self) -> None:
        """Release the port (then it is an ordinary free port again)."""
        for sock in self._socks:
            sock.close()

    def __enter__(self) -> ClosedPort:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

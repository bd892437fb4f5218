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
"""

from __future__ import annotations

import ctypes
import errno
import socket

__all__ = ["free_udp_port", "set_port_unreachable"]

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

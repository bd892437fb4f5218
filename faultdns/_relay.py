"""A relay of TCP connections across a socket boundary: accept on one socket, pipe each
connection to a new one made elsewhere.

``faultdns run``'s ``netns`` mode (:mod:`faultdns._run`) serves inside a network
namespace of its own, which the machine's network cannot reach; its control API is
relayed: the outer process accepts on ``--control`` (TCP) and pipes each connection
through a Unix socket (a path in the file system, which both network namespaces
reach) to the inner process, which pipes
it to the server's control port.  Bytes are copied as they come, both ways, until both
sides have shut down (one thread per direction: a handful of control connections).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

__all__ = ["Relay"]


class Relay:
    """Accepts connections on one socket and pipes each to a new connection made by
    ``connect`` (the control API across the network-namespace boundary)."""

    def __init__(self, listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
        self._listener = listener
        self._connect = connect
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="faultdns-relay", daemon=True)
        self._thread.start()

    @classmethod
    def tcp_to_unix(cls, address: tuple[str, int], path: str) -> Relay:
        """Listen on TCP ``address`` (OSError if it cannot be bound); pipe to ``path``."""
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(address)
            listener.listen(16)
        except OSError:
            listener.close()
            raise

        def connect() -> socket.socket:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(path)
            return sock

        return cls(listener, connect)

    @classmethod
    def unix_to_tcp(cls, path: str, address: tuple[str, int]) -> Relay:
        """Listen on the Unix socket ``path``; pipe to TCP ``address``."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(16)
        return cls(listener, lambda: socket.create_connection(address))

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = self._connect()
            except OSError:
                client.close()
                continue
            threading.Thread(target=_splice, args=(client, upstream), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=2)


def _splice(client: socket.socket, upstream: socket.socket) -> None:
    """Copy both ways until both sides are done, then close both."""
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

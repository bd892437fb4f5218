"""A misbehaving upgrade repo: one raw-TCP HTTP server, many ways to send a list badly.

Each route (a list path) has a :class:`Serve`: the full list text, a mode and a cut
point.  The server writes the bytes itself (no HTTP library), so it can send exactly
what a broken server, proxy or network would:

============== =====================================================================
mode           what is sent
============== =====================================================================
``cl``         ``Content-Length`` and the whole body (correct)
``chunked``    chunked framing, the whole body, the terminator (correct)
``close``      ``Connection: close``, no length, body[:cut], close (close-delimited)
``cl-cut``     ``Content-Length`` of the whole body, body[:cut], close
``cl-small``   ``Content-Length: cut``, then the whole body
``chunked-cut`` chunked, body[:cut] in chunks, close without the terminator
``gzip``       ``Content-Encoding: gzip`` (asked for, as Go asks), the whole gzip stream
``gzip-cut``   ``Content-Encoding: gzip``, the gzip stream cut to ``cut`` bytes
``deflate``    ``Content-Encoding: deflate`` (never asked for), the whole zlib stream
``reset``      ``Content-Length`` of the whole body, body[:cut], then a TCP reset
``stall-head`` nothing for ``stall`` seconds, then a correct response
``stall-body`` headers and body[:cut], nothing for ``stall`` seconds, then the rest
``cl-chunked`` a whole chunked body and a ``Content-Length`` ``cut`` bytes longer than it
``redirect``   ``302`` to ``/moved`` + the path, which is served with ``then``
============== =====================================================================
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import socketserver
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field

MODES = (
    "cl",
    "chunked",
    "close",
    "cl-cut",
    "cl-small",
    "chunked-cut",
    "cl-chunked",
    "gzip",
    "gzip-cut",
    "deflate",
    "reset",
    "stall-head",
    "stall-body",
    "redirect",
)

#: modes whose response is whole and proves it (a client must accept these)
WHOLE = ("cl", "chunked", "stall-head", "gzip")


@dataclass
class Serve:
    body: bytes
    mode: str = "cl"
    cut: int = 0
    stall: float = 0.0
    then: Serve | None = None  # for ``redirect``: how the target is served
    content_type: str = "text/plain; charset=utf-8"


@dataclass
class MisbehavingRepo:
    """The server; ``routes`` maps a path to how it is served (404 otherwise)."""

    routes: dict[str, Serve] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        repo = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(10)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        more = sock.recv(4096)
                        if not more:
                            return
                        data += more
                except OSError:
                    return
                path = data.split(b" ", 2)[1].decode("latin-1")
                repo.requests.append(path)
                with contextlib.suppress(OSError):  # the client went away: so be it
                    repo._respond(sock, path)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        # a short poll interval: shutdown() waits up to one interval
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self) -> MisbehavingRepo:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _respond(self, sock: socket.socket, path: str) -> None:
        serve = self.routes.get(path)
        if serve is None and path.startswith("/moved/"):
            original = self.routes.get(path[len("/moved") :])
            serve = original.then if original is not None else None
        if serve is None:
            sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        body, mode, cut = serve.body, serve.mode, serve.cut
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {serve.content_type}\r\n"
        if mode == "cl":
            sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        elif mode == "stall-head":
            time.sleep(serve.stall)
            sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        elif mode == "chunked":
            sock.sendall(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + _chunks(body))
            sock.sendall(b"0\r\n\r\n")
        elif mode == "cl-chunked":
            both = f"Content-Length: {len(body) + cut}\r\nTransfer-Encoding: chunked\r\n"
            sock.sendall(f"{head}{both}\r\n".encode() + _chunks(body) + b"0\r\n\r\n")
        elif mode == "close":
            sock.sendall(f"{head}Connection: close\r\n\r\n".encode() + body[:cut])
        elif mode == "cl-cut":
            sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body[:cut])
        elif mode == "cl-small":
            sock.sendall(
                f"{head}Content-Length: {cut}\r\nConnection: close\r\n\r\n".encode() + body
            )
        elif mode == "chunked-cut":
            sock.sendall(f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + _chunks(body[:cut]))
        elif mode in ("gzip", "gzip-cut"):
            packed = gzip.compress(body, mtime=0)
            if mode == "gzip-cut":
                packed = packed[: min(cut, len(packed))]
            sock.sendall(
                f"{head}Content-Encoding: gzip\r\nContent-Length: {len(packed)}\r\n\r\n".encode()
                + packed
            )
        elif mode == "deflate":
            packed = zlib.compress(body)
            sock.sendall(
                f"{head}Content-Encoding: deflate\r\nContent-Length: {len(packed)}\r\n\r\n".encode()
                + packed
            )
        elif mode == "reset":
            sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body[:cut])
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif mode == "stall-body":
            sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body[:cut])
            time.sleep(serve.stall)
            sock.sendall(body[cut:])
        elif mode == "redirect":
            moved = f"Location: /moved{path}\r\nContent-Length: 0\r\n\r\n"
            sock.sendall(f"HTTP/1.1 302 Found\r\n{moved}".encode())
        else:
            raise AssertionError(f"unknown mode {mode!r}")
        sock.close()


def _chunks(data: bytes, size: int = 7) -> bytes:
    out = b""
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out

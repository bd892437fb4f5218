"""A small scriptable HTTP/1.1 server: the repo as the oracle's cases need it to fail.

Both clients under comparison (Go's ``http.Client`` and our cleanup's) GET the same path
from one of these; what the server does is one *behaviour*, a string:

======================  ===================================================================
``ok``                  200 with an image list as the body (``Content-Length``)
``status=N``            status ``N`` with a short body
``status-reset=N``      status ``N``, a few body bytes of more promised, then a TCP RST
``status-silent=N``     status ``N``, a few body bytes of more promised, then silence
``redirect``            302 to ``/moved/...`` on the same server, which answers ``ok``
``redirect=N``          the same with status ``N`` (301, 302, 303, 307 or 308)
``redirect-host=N``     status ``N`` to ``http://mirror.test/moved/...`` (this server's
                        port), another host name: the case's zone must give it an address
``redirect-loop``       302 to itself, forever (Go stops after 10 redirects)
``redirect-bad-location`` 302 with ``Location: http://[::1`` (no URL parses from it)
``redirect-ftp``        302 to ``ftp://`` (a scheme neither client fetches)
``reset``               reads the request, then closes with ``SO_LINGER 0`` (a TCP RST)
``eof-body``            headers promising more body than is sent, then a clean close
``silent-headers``      reads the request and says nothing (until the client leaves)
``silent-body``         headers and the first bytes of the body, then silence
``dribble-headers=DxN`` the first ``N`` bytes of the response one per ``D`` seconds, the
                        rest at once (``N`` bounds a case's cost; e.g. ``0.5x12``)
``dribble-body=DxN``    headers at once, then ``N`` body bytes one per ``D`` seconds
======================  ===================================================================

"refused" and "silent at connect" are not behaviours of a listening server; the oracle's
lanes give them addresses of their own (nothing listening; a listener whose accept queue
is full, so the kernel drops SYNs).  Time here is real time: this server is the oracle's
subject, run against real clients, never inside the simulation.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass

__all__ = [
    "BEHAVIOURS",
    "LIST_BODY",
    "MIRROR_HOST",
    "HTTPBehaviour",
    "ScriptedHTTPServer",
    "parse_behaviour",
]

# The host a ``redirect-host`` sends the client to (the case's zone gives its address).
MIRROR_HOST = "mirror.test"
# A valid image list (cleanup validates what it fetches), small enough for one segment.
LIST_BODY = (
    b"docker.io/rancher/harvester-upgrade:v1.4.1\n"
    b"docker.io/longhornio/longhorn-engine:v1.7.2\n"
    b"docker.io/rancher/mirrored-fluent-fluent-bit:3.1.8\n"
)
BEHAVIOURS = (
    "ok",
    "status",
    "status-reset",
    "status-silent",
    "redirect",
    "redirect-host",
    "redirect-loop",
    "redirect-bad-location",
    "redirect-ftp",
    "reset",
    "eof-body",
    "silent-headers",
    "silent-body",
    "dribble-headers",
    "dribble-body",
)
_DRIBBLE = re.compile(r"^([0-9]*\.?[0-9]+)x([0-9]+)$")
_SILENCE_LIMIT = 60.0  # seconds a silent connection is held at most (clients leave sooner)


@dataclass(frozen=True)
class HTTPBehaviour:
    """A parsed behaviour: ``kind`` from :data:`BEHAVIOURS`, ``status`` for ``status=N``,
    ``interval`` (seconds) and ``count`` (bytes) for the dribbles."""

    kind: str
    status: int = 200
    interval: float = 0.0
    count: int = 0

    @property
    def spec(self) -> str:
        if self.kind.startswith("status") or self.kind == "redirect-host":
            return f"{self.kind}={self.status}"
        if self.kind == "redirect" and self.status != 302:
            return f"{self.kind}={self.status}"
        if self.kind.startswith("dribble"):
            return f"{self.kind}={self.interval:g}x{self.count}"
        return self.kind


def parse_behaviour(spec: str) -> HTTPBehaviour:
    """Parse a behaviour string (see the module table); raises ``ValueError`` naming it."""
    kind, _, value = spec.partition("=")
    if kind not in BEHAVIOURS:
        raise ValueError(f"HTTP behaviour {spec!r}: expected one of {', '.join(BEHAVIOURS)}")
    if kind.startswith("status"):
        if not value.isdigit() or not 100 <= int(value) <= 599:
            raise ValueError(f"HTTP behaviour {spec!r}: {kind}=N needs N in 100..599")
        return HTTPBehaviour(kind, status=int(value))
    if kind in ("redirect", "redirect-host") and value:
        if value not in ("301", "302", "303", "307", "308"):
            raise ValueError(f"HTTP behaviour {spec!r}: {kind}=N needs N in 301..308")
        return HTTPBehaviour(kind, status=int(value))
    if kind == "redirect-host":
        return HTTPBehaviour(kind, status=302)
    if kind == "redirect":
        return HTTPBehaviour(kind, status=302)
    if kind.startswith("dribble"):
        m = _DRIBBLE.match(value)
        if not m:
            raise ValueError(f"HTTP behaviour {spec!r}: expected {kind}=SECONDSxBYTES")
        return HTTPBehaviour(kind, interval=float(m.group(1)), count=int(m.group(2)))
    if value:
        raise ValueError(f"HTTP behaviour {spec!r}: {kind} takes no value")
    return HTTPBehaviour(kind)


def _response(status: int, body: bytes, extra: str = "") -> bytes:
    reason = {
        200: "OK",
        301: "Moved Permanently",
        302: "Found",
        303: "See Other",
        307: "Temporary Redirect",
        308: "Permanent Redirect",
    }.get(status, "Status")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class ScriptedHTTPServer:
    """Serves one :class:`HTTPBehaviour` at a time on ``(host, port)``, a thread per client.

    ``behaviour`` may be changed between cases; :meth:`reset` also closes every
    connection still held open (a silent one) and forgets the request log.
    """

    def __init__(self, host: str, port: int = 80) -> None:
        self.behaviour = HTTPBehaviour("ok")
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._generation = 0
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(64)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def set_behaviour(self, spec: str) -> None:
        self.reset()
        self.behaviour = parse_behaviour(spec)

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            conns, self._conns = self._conns, set()
            self.requests = []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.reset()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
                generation = self._generation
            threading.Thread(target=self._serve, args=(conn, generation), daemon=True).start()

    def _current(self, generation: int) -> bool:
        return generation == self._generation and not self._stop.is_set()

    def _read_request(self, conn: socket.socket) -> str | None:
        data = b""
        conn.settimeout(_SILENCE_LIMIT)
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return None
            data += chunk
        line = data.split(b"\r\n", 1)[0].decode("latin-1")
        with self._lock:
            self.requests.append(line)
        return line

    def _hold(self, conn: socket.socket, generation: int) -> None:
        """Say nothing until the client leaves, the case ends or the limit passes."""
        deadline = time.monotonic() + _SILENCE_LIMIT
        conn.settimeout(0.05)
        while self._current(generation) and time.monotonic() < deadline:
            try:
                if not conn.recv(4096):
                    return
            except TimeoutError:
                continue

    def _dribble(
        self, conn: socket.socket, data: bytes, count: int, interval: float, gen: int
    ) -> None:
        for i in range(min(count, len(data))):
            if not self._current(gen):
                return
            conn.sendall(data[i : i + 1])
            time.sleep(interval)
        conn.sendall(data[count:])

    def _serve(self, conn: socket.socket, generation: int) -> None:
        b = self.behaviour
        try:
            line = self._read_request(conn)
            if line is None:
                return
            path = line.split(" ")[1] if line.count(" ") >= 2 else "/"
            moved = path.startswith("/moved/")
            if b.kind == "ok" or (b.kind in ("redirect", "redirect-host") and moved):
                conn.sendall(_response(200, LIST_BODY))
            elif b.kind == "status":
                conn.sendall(_response(b.status, b"not here\n"))
            elif b.kind == "redirect":
                conn.sendall(_response(b.status, b"", f"Location: /moved{path}\r\n"))
            elif b.kind == "redirect-host":
                port = self.address[1]
                host = MIRROR_HOST + ("" if port == 80 else f":{port}")
                location = f"Location: http://{host}/moved{path}\r\n"
                conn.sendall(_response(b.status, b"", location))
            elif b.kind in ("status-reset", "status-silent"):
                # Headers promise a body; a few bytes come, then a reset or silence. The
                # controller checks the status first and never reads this body.
                whole = _response(b.status, LIST_BODY)
                conn.sendall(whole[: len(whole) - len(LIST_BODY) + 10])
                if b.kind == "status-reset":
                    time.sleep(0.05)  # the client has the headers before the RST
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    self._hold(conn, generation)
            elif b.kind == "redirect-bad-location":
                conn.sendall(_response(302, b"", "Location: http://[::1\r\n"))
            elif b.kind == "redirect-ftp":
                conn.sendall(_response(302, b"", "Location: ftp://127.0.0.1/x\r\n"))
            elif b.kind == "redirect-loop":
                conn.sendall(_response(302, b"", f"Location: {path}\r\n"))
            elif b.kind == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif b.kind == "eof-body":
                whole = _response(200, LIST_BODY)
                conn.sendall(whole[: len(whole) - len(LIST_BODY) // 2])
            elif b.kind == "silent-headers":
                self._hold(conn, generation)
            elif b.kind == "silent-body":
                whole = _response(200, LIST_BODY)
                conn.sendall(whole[: len(whole) - len(LIST_BODY) + 10])
                self._hold(conn, generation)
            elif b.kind == "dribble-headers":
                self._dribble(conn, _response(200, LIST_BODY), b.count, b.interval, generation)
            elif b.kind == "dribble-body":
                whole = _response(200, LIST_BODY)
                head = len(whole) - len(LIST_BODY)
                conn.sendall(whole[:head])
                self._dribble(conn, LIST_BODY, b.count, b.interval, generation)
        except OSError:
            pass  # the client left: nothing to serve
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

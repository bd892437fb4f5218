"""A fake upgrade repo: the two image lists over HTTP, answering as the timeline says.

It has no thread of its own.  In the harness it is *pumped* by the thread that runs the
cleanup, from inside the simulation clock's socket waits (:meth:`RepoServer.settle`):
accept, read, answer at the current virtual time.  So an HTTP exchange costs no thread
switch, and what the server answers depends only on virtual time.  ``sim serve`` pumps
the same server from its own loop (:meth:`RepoServer.wait`, then :meth:`RepoServer.settle`)
on scaled wall-clock time (``sim._clock.ScaledClock``).

States (``sim._timeline.HTTPState``: the words of ``HTTP_STATES`` and ``type:<value>``),
per path:

- ``refused``: no Service endpoints, the ClusterIP refuses connections.  The listening
  socket is closed while *every* path is refused; the port stays bound without
  listening, so connects get a real ``ECONNREFUSED`` and nobody else can take the port.
  (If only some paths are refused, a request for one of them gets the connection reset.)
- ``missing``: 404 with Go's ``404 page not found`` body.
- ``ok``: 200 with the list.
- ``hang``: the request is read and never answered (a VM that accepts and stalls); the
  client's own timeout ends it.  Not produced by the world model; for hand-made and
  generated timelines.

Less kind answers (:data:`ODD_STATES`, issue 11; not produced by the world model, for
generated timelines; the vectorised evaluator refuses them):

- ``status-NNN``: the final status NNN (:data:`ODD_STATUSES`: every family but 1xx);
  a 2xx other than 200 carries the list itself, so a client that took "any 2xx" for
  success would have a list to act on.  Go's controller: "unexpected status".
- ``informational``: a ``103 Early Hints`` interim response, then 200 with the list
  (RFC 9110 15.2: a client must skip 1xx interim responses).
- ``redirect``: ``302 Found`` to ``/moved<path>`` on the same host; ``redirect-other-host``:
  ``307 Temporary Redirect`` to the same path under ``http://127.0.0.1:<port>`` (another
  authority, no name to look up).  The target serves 200 with the list.  Go's client
  follows both (``http.Client`` default policy, at most 10).
- ``closed``: the request is read and the connection closed (FIN) without a reply
  (a proxy or VM going away); Go: ``Get "URL": EOF``.
- a 200 whose body is not all there (the connection is closed after it; the trace
  records the state as the result): ``body-cut``, the whole list's
  ``Content-Length`` and half its lines; ``body-cl-small``, a ``Content-Length``
  ending mid-line, then the whole list; ``body-close``, ``Connection: close`` without
  length or chunking and half the lines (ending at a line end: it looks whole);
  ``body-gzip-cut``, ``Content-Encoding: gzip`` and half the gzip stream (the length
  of what is sent); ``body-unterminated``, a well-framed message whose list ends
  mid-line (nothing after it: only the rule that a list ends with a newline can tell).
  Go reads the first, third and fourth as ``unexpected EOF``, the second and last as a
  list ending mid-line (``...:v1.30`` of ``:v1.30.5``); cleanup refuses all five
  (issue 9: a list is used only when its framing proves it whole and it ends with a
  newline).
- ``type:<value>``: a 200 with the whole list under ``Content-Type: <value>``, any
  value a header field may carry (``sim._timeline.media_state``; :data:`MEDIA_TYPES` are the
  world model's own; the empty value sends no ``Content-Type``): plain text and
  ``application/octet-stream`` the controller reads as a list, HTML, JSON, XML and
  JavaScript (parameters, case and whitespace varied) a document of another kind that
  happens to parse as one, which cleanup refuses (issue 9).  The trace records the
  state as the result.
- more ways a connection ends early (:data:`EARLY_CLOSES`, issue 11), each with Go
  1.23's error (asked of Go's ``net/http`` client against a raw TCP server; restated in
  ``tests/sim/spec/go_http.py``): ``closed-reset``, the request is read and the
  connection reset (RST) without a reply (Go: ``Get "URL": read tcp SRC->DST: read:
  connection reset by peer``); ``headers-only``, a 200's head with the whole list's
  ``Content-Length`` and no body, then FIN; ``chunk-cut``, a chunked 200 closed in the
  middle of its first chunk (both: the body read fails with ``unexpected EOF``);
  ``body-reset``, ``body-cut``'s bytes, then RST instead of FIN (the body read fails
  with ``read tcp SRC->DST: read: connection reset by peer``; Linux hands over the
  bytes queued before the RST first).

Requests are parsed with h11 (which httpcore already brings along).

One idea at ~600 lines: the fake repo's HTTP server and the answer each state plays
(its reply, its early close, its record).
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import random
import select
import selectors
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus

import h11

from faultdns.testing import client_text, unsent_bytes
from sim._clock import SocketlessClock, WorldClock
from sim._timeline import HTTP_STATES, MEDIA_STATE, HTTPState, ServedState, media_state

__all__ = [
    "BODY_STATES",
    "EARLY_CLOSES",
    "MEDIA_TYPES",
    "ODD_STATES",
    "ODD_STATUSES",
    "HTTPRecord",
    "RepoServer",
    "reserve_port",
]

#: 200s with a body that is not all there (issue 9's misbehaving-repo modes, in
#: virtual time): see the module doc
BODY_STATES: tuple[ServedState, ...] = (
    "body-cut",
    "body-cl-small",
    "body-close",
    "body-gzip-cut",
    "body-unterminated",
)

#: the ways a connection ends before the response is all there, issue 11 (see the
#: module doc): before any byte (FIN, RST), after the head, mid-body with a longer
#: ``Content-Length``, mid-chunk, and mid-body with RST
EARLY_CLOSES: tuple[ServedState, ...] = (
    "closed",
    "closed-reset",
    "headers-only",
    "body-cut",
    "chunk-cut",
    "body-reset",
)
_CUT_STATES: tuple[ServedState, ...] = ("headers-only", "chunk-cut", "body-reset")

#: final statuses ``status-NNN`` can answer: each family but 1xx (see the module doc),
#: read from the vocabulary (``sim._timeline.ServedState``), which spells them
ODD_STATUSES = tuple(
    int(state[len("status-") :]) for state in HTTP_STATES if state.startswith("status-")
)
#: ``Content-Type`` values a ``type:<value>`` state sends with a 200 and the list
#: (see the module doc): a list's own types and documents of another kind, with
#: parameters, case variants and optional whitespace (RFC 9110 8.3.1, 5.6.6), a
#: structured syntax suffix (RFC 6839), and no header at all (the empty value)
MEDIA_TYPES = (
    "text/plain",
    "Text/Plain;Charset=UTF-8",
    "text/plain ; charset=utf-8",
    "application/octet-stream",
    "",
    "text/html; charset=utf-8",
    "TEXT/HTML",
    "text/html ;charset=utf-8",
    "application/json; charset=utf-8",
    "Application/JSON",
    "application/xml;charset=utf-8",
    "application/problem+json; charset=utf-8",
    "application/vnd.oci.image.index.v1+json",
    "text/javascript; charset=utf-8",
    "text/xml",
    "Text/JSON\t;\tcharset=utf-8",
    "application/xhtml+xml; charset=utf-8",
    "application/javascript",
)
#: the answers beyond the world model's states (see the module doc)
ODD_STATES: tuple[HTTPState, ...] = (
    *(state for state in HTTP_STATES if state.startswith("status-")),
    "informational",
    "redirect",
    "redirect-other-host",
    "closed",
    *BODY_STATES,
    *(media_state(media) for media in MEDIA_TYPES),
    "closed-reset",
    *_CUT_STATES,
)
_MOVED = "/moved"


_NOT_FOUND = b"404 page not found\n"
_RECV = 65536
_BACKLOG = 128


@dataclass(frozen=True)
class HTTPRecord:
    """One request the repo answered (``result``: status code, or ``reset``)."""

    time: float
    method: str
    path: str
    result: str


def _local_port_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as fh:
            low, high = (int(x) for x in fh.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def reserve_port(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A TCP socket bound (not listening) to ``port``, or to a free port *below* the
    ephemeral range when ``port`` is 0; IPv6 when ``host`` is (``"::1"``).

    Below the ephemeral range because the listening socket is closed and reopened while
    clients keep connecting: an ephemeral client port equal to the server port would
    let a client connect to itself (TCP simultaneous open) while the repo is "down".
    """
    low, _high = _local_port_range()
    candidates = [port] if port else random.Random().sample(range(10000, max(low, 10001)), 200)
    last: OSError | None = None
    for candidate in candidates:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError as exc:
            sock.close()
            last = exc
            continue
        return sock
    raise OSError(errno.EADDRINUSE, f"no free port for the repo server on {host}: {last}")


class _Conn:
    __slots__ = ("h11", "hung", "outbox", "peer", "sock", "target")

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.hung = False  # a request on it is never to be answered
        self.sock = sock
        self.peer = peer
        self.h11 = h11.Connection(h11.SERVER)
        self.outbox = bytearray()
        self.target: tuple[str, str] | None = None


class RepoServer:
    """HTTP on ``host:port`` serving image lists per a state function of (path, time).

    ``state(path, now)`` returns the path's :data:`~sim._timeline.HTTPState` (see the
    module doc; unknown paths: return ``missing``); ``bodies[path]`` is what ``ok``
    serves.  ``clock`` (a
    :class:`sim.WorldClock`) is read when a request is answered.  Call
    :meth:`set_accepting` when the Service gains or loses its endpoints.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._sock: socket.socket | None = reserve_port(host, port)
        self.port: int = self._sock.getsockname()[1]
        self.accepting = False
        self._conns: dict[int, _Conn] = {}
        self.state: Callable[[str, float], HTTPState] = lambda path, now: "missing"
        self.bodies: Mapping[str, bytes] = {}
        self.clock: WorldClock = SocketlessClock(0.0)  # time 0 until configure()
        self.log: list[HTTPRecord] = []
        self.on_request: Callable[[HTTPRecord], None] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    # -- configuration ------------------------------------------------------------

    def configure(
        self,
        state: Callable[[str, float], HTTPState],
        bodies: Mapping[str, bytes],
        clock: WorldClock,
        on_request: Callable[[HTTPRecord], None] | None = None,
    ) -> None:
        """Serve a new world: drop every connection, stop accepting, clear the log."""
        self.set_accepting(False)
        self.state = state
        self.bodies = dict(bodies)
        self.clock = clock
        self.on_request = on_request
        self.log = []

    def set_accepting(self, accepting: bool) -> None:
        """Open (listen) or close (bound, not listening: connects refused) the port."""
        if self._sock is None:
            raise RuntimeError("repo server is closed")
        if accepting == self.accepting:
            return
        if accepting:
            self._sock.listen(_BACKLOG)
            self._sock.setblocking(False)
        else:
            # Closing the listener resets connections not yet accepted; a fresh bound
            # socket keeps the port.  Accepted connections go too: the endpoint is gone.
            self._sock.close()
            self._sock = reserve_port(self.host, self.port)
            for conn in list(self._conns.values()):
                self._drop(conn, reset=True)
        self.accepting = accepting

    def close(self) -> None:
        for conn in list(self._conns.values()):
            self._drop(conn, reset=True)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self.accepting = False

    # -- the clock's peer protocol ------------------------------------------------------

    def settle(self) -> bool:
        """Accept and answer everything that has arrived, without blocking; True if
        anything had (a connection, bytes, an EOF)."""
        sock = self._sock
        if sock is None:
            return False
        busy = False
        if self.accepting:
            while True:
                try:
                    client, peer = sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                client.setblocking(False)
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._conns[client.fileno()] = _Conn(client, client_text(peer))
                busy = True
        if not self._conns:
            return busy
        poller = select.poll()
        for fd, conn in self._conns.items():
            poller.register(fd, select.POLLIN | (select.POLLOUT if conn.outbox else 0))
        for fd, _events in poller.poll(0):
            ready = self._conns.get(fd)
            if ready is not None and self._service(ready):
                busy = True
        return busy

    def next_due(self) -> float | None:
        return None

    def in_flight(self, sock: socket.socket) -> bool:
        """True if a response we sent to ``sock`` is not in its receive queue yet."""
        try:
            me = client_text(sock.getsockname())
        except OSError:
            return False
        for conn in self._conns.values():
            if conn.peer == me:
                return unsent_bytes(conn.sock) > 0 or bool(conn.outbox)
        return False

    def wait_ended(self, sock: socket.socket, ready: bool) -> None:
        return None

    # -- HTTP -------------------------------------------------------------------------

    def _service(self, conn: _Conn) -> bool:
        """Flush, read and answer one connection; False if it could not move (the
        client does not read our reply yet, or there was nothing after all)."""
        if conn.outbox and not self._flush(conn):
            return False
        try:
            data = conn.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self._drop(conn)
            return True
        if conn.hung:  # swallow whatever comes; the client gives up by closing
            if not data:
                self._drop(conn)
            return True
        try:
            conn.h11.receive_data(data)
            self._process(conn)
        except h11.RemoteProtocolError:
            self._reply(conn, 400, b"bad request\n", close=True)
            self._drop(conn)
        # an EOF h11 keeps for later (a paused connection) stays readable: not progress
        return bool(data) or conn.sock.fileno() < 0

    def _process(self, conn: _Conn) -> None:
        while True:
            if conn.sock.fileno() < 0:
                return
            event = conn.h11.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                conn.target = (event.method.decode("ascii"), event.target.decode("latin-1"))
            elif isinstance(event, h11.EndOfMessage):
                self._answer(conn)
                if conn.hung:
                    return
                if conn.h11.our_state is h11.MUST_CLOSE:
                    self._drop(conn)
                    return
                if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
                    conn.h11.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                self._drop(conn)
                return

    def _answer(self, conn: _Conn) -> None:
        method, target = conn.target or ("GET", "/")
        path = target.split("?", 1)[0]
        now = self.clock.now()
        if method not in ("GET", "HEAD"):
            result, status, body = "405", 405, b"method not allowed\n"
        else:
            followed = path.startswith(_MOVED + "/") and path[len(_MOVED) :] in self.bodies
            state = "ok" if followed else self.state(path, now)
            if followed:
                path = path[len(_MOVED) :]
            if state == "ok" and path in self.bodies:
                result, status, body = "200", 200, self.bodies[path]
            elif state.startswith("status-") and path in self.bodies:
                status = int(state[len("status-") :])
                result = str(status)
                body = (
                    self.bodies[path]
                    if 200 <= status < 300
                    else f"{status} {HTTPStatus(status).phrase}\n".encode()
                )
                if status in (204, 304):
                    body = b""  # RFC 9110 15.3.5, 15.4.5: no content
            elif state == "closed" and path in self.bodies:
                self._record(now, method, path, state)
                self._drop(conn)
                return
            elif state == "closed-reset" and path in self.bodies:
                self._record(now, method, path, state)
                self._drop(conn, reset=True)
                return
            elif (state in BODY_STATES or state in _CUT_STATES) and path in self.bodies:
                self._record(now, method, path, state)
                conn.outbox += _incomplete(state, self.bodies[path])
                if state == "body-reset":
                    # the bytes go out first (a small list fits the socket buffer), then RST
                    self._flush(conn)
                    self._drop(conn, reset=True)
                else:
                    self._drop(conn)  # flushes what was queued, then FIN
                return
            elif state.startswith(MEDIA_STATE) and path in self.bodies:
                self._record(now, method, path, state)
                media = state[len(MEDIA_STATE) :]
                body = self.bodies[path]
                self._reply(
                    conn,
                    200,
                    b"" if method == "HEAD" else body,
                    length=len(body),
                    content_type=media or None,
                )
                return
            elif state == "informational" and path in self.bodies:
                interim = h11.InformationalResponse(
                    status_code=103, headers=[("Link", "</x>; rel=preload")], reason=b"Early Hints"
                )
                conn.outbox += conn.h11.send(interim) or b""
                result, status, body = "200", 200, self.bodies[path]
            elif state in ("redirect", "redirect-other-host") and path in self.bodies:
                if state == "redirect":
                    status, location = 302, _MOVED + path
                else:
                    status, location = 307, f"http://127.0.0.1:{self.port}{_MOVED}{path}"
                result, body = str(status), b""
                self._record(now, method, path, result)
                self._reply(conn, status, b"", headers=[("Location", location)])
                return
            elif state == "refused":
                result, status, body = "reset", 0, b""
            elif state == "hang":
                result, status, body = "hang", -1, b""
            else:
                result, status, body = "404", 404, _NOT_FOUND
        self._record(now, method, path, result)
        if status == 0:
            self._drop(conn, reset=True)
            return
        if status < 0:
            conn.hung = True
            return
        # h11 frames a HEAD response without a body: send none, declare the length
        self._reply(conn, status, b"" if method == "HEAD" else body, length=len(body))

    def _record(self, now: float, method: str, path: str, result: str) -> None:
        """Log one answered request and report it (``on_request``): every answer's one
        record, whatever state played it."""
        record = HTTPRecord(now, method, path, result)
        self.log.append(record)
        if self.on_request is not None:
            self.on_request(record)

    def _reply(
        self,
        conn: _Conn,
        status: int,
        body: bytes,
        *,
        length: int | None = None,
        close: bool = False,
        headers: list[tuple[str, str]] | None = None,
        content_type: str | None = "text/plain; charset=utf-8",
    ) -> None:
        fields = [("Content-Type", content_type)] if content_type is not None else []
        fields += headers or []
        if status not in (204, 304):  # RFC 9110 8.6: no Content-Length for these
            fields.append(("Content-Length", str(len(body) if length is None else length)))
        headers = fields
        if close:
            headers.append(("Connection", "close"))
        try:
            reason = HTTPStatus(status).phrase.encode("ascii")
            out = conn.h11.send(h11.Response(status_code=status, headers=headers, reason=reason))
            if body:
                out = (out or b"") + (conn.h11.send(h11.Data(data=body)) or b"")
            out = (out or b"") + (conn.h11.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError:
            return
        conn.outbox += out
        self._flush(conn)

    def _flush(self, conn: _Conn) -> bool:
        """Send what we can; True when the outbox is empty."""
        while conn.outbox:
            try:
                sent = conn.sock.send(conn.outbox)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError:
                self._drop(conn)
                return False
            del conn.outbox[:sent]
        return True

    def _drop(self, conn: _Conn, *, reset: bool = False) -> None:
        fd = conn.sock.fileno()
        self._conns.pop(fd, None)
        if fd < 0:
            return
        if reset:
            with contextlib.suppress(OSError):
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif conn.outbox:
            self._flush(conn)
        conn.sock.close()

    # -- standalone serving (sim serve) ---------------------------------------------

    def wait(self, seconds: float) -> None:
        """Block up to ``seconds`` of real time until a client connects or sends; then
        :meth:`settle` answers.  Only ``sim serve`` waits in real time."""
        with selectors.DefaultSelector() as sel:
            if self.accepting and self._sock is not None:
                sel.register(self._sock, selectors.EVENT_READ)
            for fd in self._conns:
                sel.register(fd, selectors.EVENT_READ)
            if sel.get_map():
                sel.select(seconds)
            else:
                threading.Event().wait(seconds)


def _incomplete(state: str, body: bytes) -> bytes:
    """The raw bytes of a 200 whose body is not all there (``BODY_STATES``)."""
    lines = body.splitlines(keepends=True)
    half = b"".join(lines[: len(lines) // 2])  # ends at a line end
    mid_line = max(1, len(body) - 3)  # inside the last line ("...:v1.30" of ":v1.30.5")
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
    if state in ("body-cut", "body-reset"):
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + half
    if state == "headers-only":
        return head + b"Content-Length: %d\r\n\r\n" % len(body)
    if state == "chunk-cut":
        return head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(body) + half
    if state == "body-cl-small":
        return head + b"Content-Length: %d\r\n\r\n" % mid_line + body
    if state == "body-close":
        return head + b"Connection: close\r\n\r\n" + half
    if state == "body-unterminated":
        return head + b"Content-Length: %d\r\n\r\n" % mid_line + body[:mid_line]
    if state == "body-gzip-cut":
        stream = gzip.compress(body, mtime=0)
        cut = stream[: len(stream) // 2]
        return head + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(cut) + cut
    raise ValueError(f"not an incomplete-body state: {state!r}")


def service_accepting(states: Mapping[str, str]) -> bool:
    """The Service has endpoints unless every path is refused."""
    return not states or any(state != "refused" for state in states.values())

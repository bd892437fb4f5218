"""Runtime control API for a running faultdns server: HTTP + JSON, the server side.

People (and scripts, and the ``faultdns`` CLI) change a running server's faults without
restarting it, so a DNS client under test keeps its sockets and caches while the fault
picture changes underneath it. The API is deliberately small and plain:

====================  ==========================================================
``GET /``             what this is, the DNS address and the endpoint list
``GET /faults``       ``{"faults": [rule, ...]}`` in evaluation order
``POST /faults``      body: a spec string (text/plain, or a JSON string), or a JSON
                      object with the spec keys; ``201 {"id": ..., "fault": rule}``
``DELETE /faults/ID`` ``{"removed": ID}``; 404 if unknown
``POST /reset``       clears faults, restarts the fault clock, empties the query log,
                      drops replies held by ``delay=``
``GET /queries``      ``?since=SEQ`` (records with seq > SEQ) ``&limit=N``;
                      ``{"queries": [...], "last_seq": N}``
``GET /stats``        the server's counters
``GET /records``      ``{"records": [...]}``
``POST /records``     body: one record spec (as ``--record``);
                      ``201 {"added": spec, "record": {...}}``
====================  ==========================================================

Every error is ``{"error": "..."}`` with a proper status code (400 bad spec/record/query
or a body shorter than its Content-Length, 401 missing or wrong bearer token, 403 a
foreign Host or Origin or a change a web page could forge, 404, 405 unknown or
disallowed method, 408 headers too slow, 411, 413 body too large, 431 headers too
large, 503 every connection slot busy).

No web page gets in (the defences local development servers use against cross-site
requests and DNS rebinding): the ``Host`` header must name the address served or a
loopback name (``localhost``, ``127.0.0.1``, ``[::1]``; any IP literal when bound to a
wildcard address; more with ``allowed_hosts``), a request with an ``Origin`` header
must come from such a host too, and a change (POST, PUT, PATCH, DELETE) must carry
``Content-Type: application/json``, an ``X-FaultDNS`` header or an ``Authorization``
header, none of which a page can send cross-site without a CORS preflight this server
never grants.  Each connection has ``HEADER_TIMEOUT`` seconds to deliver its request
line and headers (at most ``MAX_HEADER_BYTES``) and ``BODY_TIMEOUT`` more for its body,
whatever its pace; at ``MAX_CONNECTIONS`` a newcomer replaces the oldest connection
still sending its request (headers or body), so slow clients cannot lock the API; a
newcomer there is no room for at all is answered 503.

It runs on the standard library's :class:`~http.server.ThreadingHTTPServer` in a daemon
thread: control traffic is rare and tiny, so there is no reason to add a web framework,
and keeping it off the DNS event loop means a slow control client can never delay a DNS
answer. Every server method it calls is thread-safe (the core promises that). It binds
loopback by default; a token (``Authorization: Bearer TOKEN``) guards it when it must be
reachable by others. The client is :mod:`faultdns._control_client`.

One idea at ~840 lines: the control API's HTTP server.  Its endpoints and the guards
every request passes (token, Host and Origin, header and body deadlines, connection
slots) are one request path, read top to bottom; the client is apart
(:mod:`faultdns._control_client`).
"""

from __future__ import annotations

import contextlib
import hmac
import io
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "BODY_TIMEOUT",
    "DEFAULT_CONTROL_PORT",
    "DEFAULT_CONTROL_URL",
    "HEADER_TIMEOUT",
    "MAX_BODY_BYTES",
    "MAX_CONNECTIONS",
    "MAX_HEADER_BYTES",
    "ControlServer",
]

#: The port ``faultdns serve`` puts the control API on unless told otherwise. 5380 is
#: "53" + "80": easy to remember, unprivileged and not a well-known service.
DEFAULT_CONTROL_PORT = 5380
DEFAULT_CONTROL_URL = f"http://127.0.0.1:{DEFAULT_CONTROL_PORT}"

#: Control requests are one spec or one record; anything bigger is a mistake or abuse.
MAX_BODY_BYTES = 64 * 1024

#: Concurrent control connections; a newcomer past this evicts the oldest one still
#: sending its request, or is answered 503 when none is.
MAX_CONNECTIONS = 32

#: Seconds a connection has to deliver a request line and headers (also the longest a
#: kept-alive connection waits for its next request), counted from when the server
#: starts waiting, not per byte: a client dribbling a byte at a time cannot stretch it.
HEADER_TIMEOUT = 5.0

#: Seconds, after the headers, for a body of Content-Length bytes to arrive in full.
BODY_TIMEOUT = 2.0

#: Request line plus headers, in bytes; more is answered 431.
MAX_HEADER_BYTES = 32 * 1024

#: Seconds a reply may take to be written to a client that does not read it.
_WRITE_TIMEOUT = 10.0

#: The header that marks a request as not sent by a web page (see the module docstring).
CLIENT_HEADER = "X-FaultDNS"

_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

_ENDPOINTS = [
    "GET /faults",
    "POST /faults",
    "DELETE /faults/{id}",
    "POST /reset",
    "GET /queries?since=SEQ&limit=N",
    "GET /stats",
    "GET /records",
    "POST /records",
]


class _Rule(Protocol):
    """What the control API needs from a fault rule."""

    @property
    def id(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class _Query(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class Controllable(Protocol):
    """The slice of :class:`faultdns.FaultDNSServer` the control API drives.

    Spelled out as a protocol so this module reads on its own and can be tested
    against the real server without importing it at module load.
    """

    @property
    def address(self) -> tuple[str, int]: ...

    @property
    def faults(self) -> Sequence[_Rule]: ...

    def add_fault(self, spec: Any) -> str: ...

    def remove_fault(self, fault_id: str) -> object: ...

    def reset(self) -> None: ...

    def queries_since(self, seq: int) -> Sequence[_Query]: ...

    def stats(self) -> dict[str, Any]: ...

    def records(self) -> list[dict[str, Any]]: ...

    def add_record(self, spec: str) -> Any: ...


class _HTTPError(Exception):
    """Raised inside a handler to answer ``{"error": message}`` with ``status``."""

    def __init__(
        self, status: HTTPStatus, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def _rule_dict(rule: _Rule) -> dict[str, Any]:
    data = dict(rule.to_dict())
    data.setdefault("id", rule.id)
    return data


class _HeadersTooLarge(Exception):
    """The request line and headers ran past MAX_HEADER_BYTES."""


class _DeadlineReader(io.RawIOBase):
    """A socket's receiving side with a deadline and a byte budget for the current phase.

    Every ``recv`` waits at most until the deadline (TimeoutError after it), so a
    client's pace cannot stretch a phase; ``budget`` (None: unlimited) bounds the bytes
    read in it (:class:`_HeadersTooLarge` past it).  The socket's timeout is put back to
    the write timeout after each read, for the reply.
    """

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = time.monotonic() + HEADER_TIMEOUT
        self.budget: int | None = MAX_HEADER_BYTES
        self.received = 0  # bytes read in this phase

    def phase(self, seconds: float, budget: int | None) -> None:
        self.deadline = time.monotonic() + seconds
        self.budget = budget
        self.received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request not received in time")
        view = memoryview(buffer).cast("B")
        if self.budget is not None:
            room = self.budget - self.received
            if room <= 0:
                raise _HeadersTooLarge
            view = view[:room]
        self.sock.settimeout(left)
        try:
            count = self.sock.recv_into(view)
        finally:
            self.sock.settimeout(_WRITE_TIMEOUT)
        self.received += count
        return count


class _Handler(BaseHTTPRequestHandler):
    """One control request. Routing is a small table; each route returns JSON."""

    server: _HTTPServer
    timeout = _WRITE_TIMEOUT
    server_version = "faultdns-control"
    sys_version = ""
    protocol_version = "HTTP/1.0"  # one request per connection: no idle keep-alive slots

    # -- plumbing -----------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the stdlib's reader: replaced by one with deadlines
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        """The stdlib's loop body, with bounded reads and JSON for every error.

        Request line and headers must arrive within HEADER_TIMEOUT and
        MAX_HEADER_BYTES (408 / 431), the body within BODY_TIMEOUT (400, in
        :meth:`_body`), and an unknown method is 405 (the stdlib says 501, in HTML).
        """
        self.close_connection = True
        self._reader.phase(HEADER_TIMEOUT, MAX_HEADER_BYTES)
        self.raw_requestline = b""
        self.command = ""  # send_error() before the request line is parsed
        try:
            try:
                self.raw_requestline = self.rfile.readline(65537)
            except _HeadersTooLarge:  # the request line alone is over the budget
                self.raw_requestline = b"x" * 65537
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = ""
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                return
            if not self.parse_request():
                return
        except _HeadersTooLarge:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
            return
        except TimeoutError:
            if self._reader.received:  # a request began: say why it ends
                self._error(
                    HTTPStatus.REQUEST_TIMEOUT,
                    f"request line and headers not received within {HEADER_TIMEOUT:g}s",
                )
            return
        except OSError:  # reset, or shut down to make room for a newcomer
            return
        if self.request_version == "HTTP/0.9":  # "GET /path" alone: answer as HTTP/1.0,
            self.request_version = "HTTP/1.0"  # with a status line and headers
        if not self._expects_body():
            # Past its request: no longer a candidate for eviction.  A request with a
            # body stays evictable until _body() has it, or 32 clients that send
            # headers and then trickle a body could hold every slot (issue 10).
            self.server.track(self.request, reading=False)
        self._reader.phase(BODY_TIMEOUT, None)
        try:
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self._error(
                    HTTPStatus.METHOD_NOT_ALLOWED,
                    f"method {self.command} not supported; use GET, POST or DELETE",
                    {"Allow": "GET, HEAD, POST, DELETE"},
                )
                return
            method()
            self.wfile.flush()
        except OSError:
            return

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's error replies (bad request line, 414, 431, ...) as JSON."""
        status = HTTPStatus(code)
        text = message or status.phrase
        if explain and explain != text:
            text = f"{text}: {explain}"
        self._error(status, text)

    def _error(
        self, status: HTTPStatus, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.close_connection = True
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            # Status line and headers always: the stdlib omits them for "HTTP/0.9",
            # which is also its guess for a request line it could not parse.
            self.request_version = "HTTP/1.0"
        if not hasattr(self, "requestline"):
            self.requestline = ""
        with contextlib.suppress(OSError):
            self._send(status, {"error": message}, headers)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr lines: the CLI's stdout carries the query log."""

    def _send(
        self,
        status: HTTPStatus,
        payload: Any,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        body = (json.dumps(payload, separators=(",", ":")) + "\n").encode()
        self.server.track(self.request, reading=False)  # replying: past its request
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorised(self) -> bool:
        token = self.server.token
        if token is None:
            return True
        given = self.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), token.encode()
        )

    def _expects_body(self) -> bool:
        """The request announces a body (a non-zero Content-Length, or chunks)."""
        if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            return True
        return self.headers.get("Content-Length", "0").strip() not in ("", "0")

    def _body(self) -> bytes:
        """The request body (``b""`` without a Content-Length), read within BODY_TIMEOUT.

        Raises :class:`_HTTPError` 411 (chunked), 400 (bad or unmet Content-Length) or
        413 (over MAX_BODY_BYTES).  Once it returns or raises, the connection is past
        its request and no newcomer evicts it.
        """
        try:
            return self._read_body()
        finally:
            self.server.track(self.request, reading=False)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
            raise _HTTPError(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length, not chunks")
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise _HTTPError(HTTPStatus.BAD_REQUEST, f"bad Content-Length {raw!r}") from None
        if length < 0:
            raise _HTTPError(HTTPStatus.BAD_REQUEST, f"bad Content-Length {raw!r}")
        if length > MAX_BODY_BYTES:
            raise _HTTPError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body of {length} bytes is over the {MAX_BODY_BYTES}-byte limit",
            )
        if (
            length
            and self.request_version == "HTTP/1.1"
            and self.headers.get("Expect", "").strip().lower() == "100-continue"
        ):
            # The client waits for this before sending its body (curl does for bodies
            # over 1 KiB, then gives up after 1 s).  Sent only here, once the guards
            # have passed: a refused request gets its final status without the body
            # (RFC 9110 10.1.1).  1xx exists from HTTP/1.1 on, hence the version.
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
            self._reader.phase(BODY_TIMEOUT, None)  # the body's time starts now
        body = b""
        try:
            while len(body) < length:
                chunk = self.rfile.read1(length - len(body))
                if not chunk:
                    break
                body += chunk
        except TimeoutError:
            pass
        if len(body) < length:
            raise _HTTPError(
                HTTPStatus.BAD_REQUEST,
                f"body shorter than its Content-Length: {len(body)} of {length} bytes"
                f" arrived within {BODY_TIMEOUT:g}s",
            )
        return body

    def _spec_body(self, what: str) -> str | dict[str, Any]:
        """A request body as a spec string or (for JSON objects) a mapping.

        JSON is recognised by its content type, or by a body that starts like JSON
        when the client sent no content type, so ``curl -d '"drop"'`` works too.
        """
        body = self._body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _HTTPError(HTTPStatus.BAD_REQUEST, f"{what} body is not UTF-8: {exc}") from None
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        stripped = text.strip()
        is_json = ctype == "application/json" or (
            ctype in ("", "application/x-www-form-urlencoded") and stripped[:1] in ('"', "{")
        )
        if is_json:
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _HTTPError(
                    HTTPStatus.BAD_REQUEST, f"{what} body is not valid JSON: {exc}"
                ) from None
            except RecursionError:  # the decoder recurses per level: '[' * 60000
                raise _HTTPError(
                    HTTPStatus.BAD_REQUEST, f"{what} body is not valid JSON: nested too deeply"
                ) from None
            if isinstance(value, str):
                stripped = value.strip()
            elif isinstance(value, dict):
                return value
            else:
                raise _HTTPError(
                    HTTPStatus.BAD_REQUEST,
                    f"{what} body must be a spec string or a JSON object,"
                    f" got JSON {type(value).__name__}",
                )
        if not stripped:
            raise _HTTPError(HTTPStatus.BAD_REQUEST, f"empty {what} body: expected a spec")
        return stripped

    def _host_allowed(self, host: str) -> bool:
        """``host`` (a Host header's or an Origin's authority) is one we serve."""
        name = host.strip().lower()
        if name.startswith("["):  # [v6]:port
            name = name[1:].partition("]")[0]
        elif name.count(":") == 1:
            name = name.partition(":")[0]
        name = name.rstrip(".")
        return self.server.host_allowed(name)

    def _guard_origin(self) -> None:
        """Refuse a foreign Host (DNS rebinding) or Origin (a cross-site page)."""
        host = self.headers.get("Host")
        if host is not None and not self._host_allowed(host):
            raise _HTTPError(
                HTTPStatus.FORBIDDEN,
                f"Host {host!r} is not this server's address (a DNS rebinding guard);"
                " use the address it listens on or localhost",
            )
        origin = self.headers.get("Origin")
        if origin is not None:
            try:
                parts = urlsplit(origin)
                ours = parts.scheme in ("http", "https") and self._host_allowed(parts.netloc)
            except ValueError:  # e.g. "http://[": not an origin at all
                ours = False
            if not ours:
                raise _HTTPError(
                    HTTPStatus.FORBIDDEN,
                    f"Origin {origin!r} is not this server: cross-site requests are refused",
                )

    def _guard_change(self) -> None:
        """Refuse a change a web page could send cross-site without a preflight."""
        if self.command in _CHANGES:
            ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not (
                ctype == "application/json"
                or CLIENT_HEADER in self.headers
                or "Authorization" in self.headers
            ):
                raise _HTTPError(
                    HTTPStatus.FORBIDDEN,
                    f"a change needs 'Content-Type: application/json' or a"
                    f" '{CLIENT_HEADER}: 1' header (a web page cannot send either"
                    " cross-site); e.g. curl -H 'X-FaultDNS: 1' -d SPEC URL",
                )

    def _dispatch(self) -> None:
        try:
            self._guard_origin()
            if not self._authorised():
                raise _HTTPError(
                    HTTPStatus.UNAUTHORIZED,
                    "missing or wrong bearer token (send 'Authorization: Bearer TOKEN')",
                    {"WWW-Authenticate": 'Bearer realm="faultdns"'},
                )
            self._guard_change()
            # The request target is a path and a query (RFC 9112 3.2.1), not a URL:
            # urlsplit() would read "//x" as a host and raise on "//[" (found by the
            # control fuzz target: a 500).
            path, _, query = self.path.partition("#")[0].partition("?")
            parts = [unquote(p) for p in path.split("/") if p]
            status, payload = self._route(self.command, parts, parse_qs(query))
            self._send(status, payload)
        except _HTTPError as exc:
            self._send(exc.status, {"error": exc.message}, exc.headers)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # a bug must not kill the control thread
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": f"internal error: {type(exc).__name__}: {exc}"},
            )

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _dispatch

    # -- routes ---------------------------------------------------------------------

    def _route(
        self, method: str, parts: list[str], query: dict[str, list[str]]
    ) -> tuple[HTTPStatus, Any]:
        dns = self.server.dns
        match parts:
            case []:
                self._allow(method, "GET", "HEAD")
                host, port = dns.address
                return HTTPStatus.OK, {
                    "service": "faultdns control API",
                    "dns": f"{host}:{port}",
                    "endpoints": _ENDPOINTS,
                }
            case ["faults"]:
                self._allow(method, "GET", "HEAD", "POST")
                if method == "POST":
                    spec = self._spec_body("fault")
                    try:
                        fault_id = dns.add_fault(spec)
                    except ValueError as exc:
                        raise _HTTPError(HTTPStatus.BAD_REQUEST, str(exc)) from None
                    added = [_rule_dict(r) for r in dns.faults if r.id == fault_id]
                    payload: dict[str, Any] = {"id": fault_id}
                    if added:
                        payload["fault"] = added[0]
                    return HTTPStatus.CREATED, payload
                return HTTPStatus.OK, {"faults": [_rule_dict(r) for r in dns.faults]}
            case ["faults", fault_id]:
                self._allow(method, "DELETE", "GET", "HEAD")
                if method == "DELETE":
                    try:
                        dns.remove_fault(fault_id)
                    except KeyError:
                        raise _HTTPError(
                            HTTPStatus.NOT_FOUND, f"no fault with id {fault_id!r}"
                        ) from None
                    return HTTPStatus.OK, {"removed": fault_id}
                for rule in dns.faults:
                    if rule.id == fault_id:
                        return HTTPStatus.OK, _rule_dict(rule)
                raise _HTTPError(HTTPStatus.NOT_FOUND, f"no fault with id {fault_id!r}")
            case ["reset"]:
                self._allow(method, "POST")
                self._body()  # drain whatever was sent so the connection stays sane
                dns.reset()
                return HTTPStatus.OK, {"reset": True}
            case ["queries"]:
                self._allow(method, "GET", "HEAD")
                since = _int_param(query, "since", 0, minimum=0) or 0
                limit = _int_param(query, "limit", None, minimum=1)
                records = [q.to_dict() for q in dns.queries_since(since)]
                if limit is not None:
                    records = records[:limit]
                last = records[-1]["seq"] if records else since
                return HTTPStatus.OK, {"queries": records, "last_seq": last}
            case ["stats"]:
                self._allow(method, "GET", "HEAD")
                return HTTPStatus.OK, dns.stats()
            case ["records"]:
                self._allow(method, "GET", "HEAD", "POST")
                if method == "POST":
                    spec = self._spec_body("record")
                    if not isinstance(spec, str):
                        raise _HTTPError(
                            HTTPStatus.BAD_REQUEST,
                            "record body must be a spec string such as"
                            " 'a.test=10.0.0.1' or 'a.test TXT hello'",
                        )
                    try:
                        added = dns.add_record(spec)
                    except ValueError as exc:
                        raise _HTTPError(HTTPStatus.BAD_REQUEST, str(exc)) from None
                    reply: dict[str, Any] = {"added": spec}
                    if isinstance(added, dict):
                        reply["record"] = added
                    return HTTPStatus.CREATED, reply
                return HTTPStatus.OK, {"records": dns.records()}
        raise _HTTPError(
            HTTPStatus.NOT_FOUND,
            f"no endpoint {method} /{'/'.join(parts)}; try: {', '.join(_ENDPOINTS)}",
        )

    @staticmethod
    def _allow(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise _HTTPError(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"method {method} not allowed here; allowed: {', '.join(allowed)}",
                {"Allow": ", ".join(allowed)},
            )


def _int_param(
    query: dict[str, list[str]], name: str, default: int | None, *, minimum: int
) -> int | None:
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[-1])
    except ValueError:
        raise _HTTPError(
            HTTPStatus.BAD_REQUEST, f"query parameter {name}={values[-1]!r}: expected an integer"
        ) from None
    if value < minimum:
        raise _HTTPError(
            HTTPStatus.BAD_REQUEST, f"query parameter {name}={value}: expected >= {minimum}"
        )
    return value


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a cap on concurrent connections.

    One thread per connection is fine for a control API, but not without a bound: a
    client opening connections in a loop must not be able to exhaust threads or memory.
    At ``MAX_CONNECTIONS`` a newcomer is admitted in place of the connection that has
    been sending its request (headers or body) the longest (its socket is shut down,
    which ends its thread at once); when every connection is past its request, the
    newcomer is answered 503 and closed.
    Threads never exceed twice the cap (shut-down ones take a moment to finish).
    """

    daemon_threads = True
    request_queue_size = 64  # listen backlog; the stdlib's 5 drops bursts of connects
    # A restarted `faultdns serve` must get its control port back at once.
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        dns: Controllable,
        token: str | None,
        allowed_hosts: frozenset[str],
    ) -> None:
        self.dns = dns
        self.token = token
        self._lock = threading.Lock()
        # socket -> (admitted at, still reading its request); insertion order = age
        self._conns: dict[Any, tuple[float, bool]] = {}
        self._live_threads = 0
        # The stdlib's HTTPServer is IPv4 only (address_family = AF_INET): take the
        # family from the address, so "::1" and "::" bind too (socket.gaierror, an
        # OSError, for a name that does not resolve).
        infos = socket.getaddrinfo(
            address[0], address[1], type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        self.address_family = infos[0][0]
        super().__init__(address, _Handler)
        bound = str(self.server_address[0]).lower()
        self._any_ip = bound in ("0.0.0.0", "::")
        self._hosts = _LOOPBACK_NAMES | {bound} | {h.lower().rstrip(".") for h in allowed_hosts}

    def host_allowed(self, name: str) -> bool:
        if name in self._hosts or name.endswith(".localhost"):
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        return self._any_ip or address.is_loopback

    def track(self, request: Any, *, reading: bool) -> None:
        with self._lock:
            if request in self._conns:
                self._conns[request] = (self._conns[request][0], reading)

    def process_request(self, request: Any, client_address: Any) -> None:
        victim: Any = None
        with self._lock:
            admitted = len(self._conns) < MAX_CONNECTIONS
            if not admitted and self._live_threads < 2 * MAX_CONNECTIONS:
                # The oldest connection still sending its request makes room.
                victim = next((sock for sock, (_, r) in self._conns.items() if r), None)
                if victim is not None:
                    del self._conns[victim]
                    admitted = True
            if admitted:
                self._conns[request] = (time.monotonic(), True)
                self._live_threads += 1
        if not admitted:
            self._refuse(request)
            return
        if victim is not None:
            with contextlib.suppress(OSError):
                victim.shutdown(socket.SHUT_RDWR)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release(request)
            raise

    def _refuse(self, request: Any) -> None:
        """Answer a newcomer there is no room for with 503 JSON, then close it.

        The reply is written without waiting (it fits any socket buffer), so a
        newcomer that does not read cannot stall the accept loop; the client can then
        say "busy" rather than "not running".
        """
        body = b'{"error":"control API busy: all connections are in use; try again"}\n'
        reply = (
            b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nCache-Control: no-store\r\nConnection: close\r\n"
            b"Retry-After: 1\r\n\r\n%s" % (len(body), body)
        )
        with contextlib.suppress(OSError):
            request.setblocking(False)
            request.send(reply)
        self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(request)

    def _release(self, request: Any) -> None:
        with self._lock:
            self._conns.pop(request, None)
            self._live_threads -= 1


class ControlServer:
    """Serves the control API for ``dns`` on ``host:port`` (0 picks a free port).

    ``host`` is an IPv4 or IPv6 address (``"::1"``, ``"::"``) or a name.

    ``allowed_hosts`` adds names the ``Host`` header may carry besides the address
    served and loopback names (e.g. a container's service name); see the module
    docstring for the other guards.

    Use as a context manager, or call :meth:`start` / :meth:`stop`. Binding happens in
    the constructor's :meth:`start`, so an address in use raises :class:`OSError` there.
    """

    def __init__(
        self,
        dns: Controllable,
        host: str = "127.0.0.1",
        port: int = DEFAULT_CONTROL_PORT,
        *,
        token: str | None = None,
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        if token is not None and not token:
            raise ValueError("control token must not be empty")
        self._dns = dns
        self._host = host
        self._port = port
        self._token = token
        self._allowed_hosts = frozenset(allowed_hosts)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ControlServer:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer(
            (self._host, self._port), self._dns, self._token, self._allowed_hosts
        )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="faultdns-control",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def address(self) -> tuple[str, int]:
        if self._httpd is None:
            raise RuntimeError("control server is not running")
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def __enter__(self) -> ControlServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

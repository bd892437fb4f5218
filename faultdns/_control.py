"""Runtime control API for a running faultdns server: HTTP + JSON, server and client.

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

Every error is ``{"error": "..."}`` with a proper status code (400 bad spec/record/query,
401 missing or wrong bearer token, 404, 405, 411, 413 body too large).

It runs on the standard library's :class:`~http.server.ThreadingHTTPServer` in a daemon
thread: control traffic is rare and tiny, so there is no reason to add a web framework,
and keeping it off the DNS event loop means a slow control client can never delay a DNS
answer. Every server method it calls is thread-safe (the core promises that). It binds
loopback by default; a token (``Authorization: Bearer TOKEN``) guards it when it must be
reachable by others. The client side uses httpx.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

__all__ = [
    "DEFAULT_CONTROL_PORT",
    "DEFAULT_CONTROL_URL",
    "MAX_BODY_BYTES",
    "MAX_CONNECTIONS",
    "ControlClient",
    "ControlError",
    "ControlServer",
    "ControlUnreachable",
]

#: The port ``faultdns serve`` puts the control API on unless told otherwise. 5380 is
#: "53" + "80": easy to remember, unprivileged and not a well-known service.
DEFAULT_CONTROL_PORT = 5380
DEFAULT_CONTROL_URL = f"http://127.0.0.1:{DEFAULT_CONTROL_PORT}"

#: Control requests are one spec or one record; anything bigger is a mistake or abuse.
MAX_BODY_BYTES = 64 * 1024

#: Concurrent control connections; more are closed on arrival.
MAX_CONNECTIONS = 32

#: Seconds a control connection may sit idle before the handler thread gives up on it,
#: so a stuck or malicious client cannot pin threads forever.
_SOCKET_TIMEOUT = 10.0

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


class _Handler(BaseHTTPRequestHandler):
    """One control request. Routing is a small table; each route returns JSON."""

    server: _HTTPServer
    timeout = _SOCKET_TIMEOUT
    server_version = "faultdns-control"
    sys_version = ""

    # -- plumbing -----------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr lines: the CLI's stdout carries the query log."""

    def _send(
        self,
        status: HTTPStatus,
        payload: Any,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        body = (json.dumps(payload, separators=(",", ":")) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
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

    def _body(self) -> bytes:
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
        return self.rfile.read(length)

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

    def _dispatch(self) -> None:
        try:
            if not self._authorised():
                raise _HTTPError(
                    HTTPStatus.UNAUTHORIZED,
                    "missing or wrong bearer token (send 'Authorization: Bearer TOKEN')",
                    {"WWW-Authenticate": 'Bearer realm="faultdns"'},
                )
            url = urlsplit(self.path)
            parts = [unquote(p) for p in url.path.split("/") if p]
            status, payload = self._route(self.command, parts, parse_qs(url.query))
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
    Connections over the cap are closed at once.
    """

    daemon_threads = True
    request_queue_size = 64  # listen backlog; the stdlib's 5 drops bursts of connects
    # A restarted `faultdns serve` must get its control port back at once.
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dns: Controllable, token: str | None) -> None:
        self.dns = dns
        self.token = token
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class ControlServer:
    """Serves the control API for ``dns`` on ``host:port`` (0 picks a free port).

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
    ) -> None:
        if token is not None and not token:
            raise ValueError("control token must not be empty")
        self._dns = dns
        self._host = host
        self._port = port
        self._token = token
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ControlServer:
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self._host, self._port), self._dns, self._token)
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


# -- client -------------------------------------------------------------------------


class ControlError(Exception):
    """The control API answered with an error status; ``message`` is its explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ControlUnreachable(Exception):
    """Nothing answered at the control URL (not running, wrong port, firewall...)."""


class ControlClient:
    """A typed client for the control API; the CLI's ``fault``/``reset``/... use it."""

    def __init__(
        self, url: str = DEFAULT_CONTROL_URL, *, token: str | None = None, timeout: float = 5.0
    ) -> None:
        if "://" not in url:
            url = f"http://{url}"
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ControlUnreachable(
                f"cannot reach the faultdns control API at {self.url}: {exc or type(exc).__name__}"
            ) from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_error:
            message = (
                payload["error"]
                if isinstance(payload, dict) and isinstance(payload.get("error"), str)
                else response.text.strip() or response.reason_phrase
            )
            raise ControlError(response.status_code, message)
        if payload is None:
            raise ControlError(
                response.status_code, f"not a faultdns control API (non-JSON reply from {self.url})"
            )
        return payload

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/")
        return result

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "/faults")["faults"]
        return result

    def add_fault(self, spec: str | Mapping[str, Any]) -> str:
        """Add a rule (spec string or mapping of spec keys); return its id."""
        body = spec if isinstance(spec, str) else dict(spec)
        return str(self._request("POST", "/faults", json=body)["id"])

    def remove_fault(self, fault_id: str) -> None:
        self._request("DELETE", f"/faults/{fault_id}")

    def reset(self) -> None:
        self._request("POST", "/reset")

    def queries(self, since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        params: dict[str, int] = {"since": since}
        if limit is not None:
            params["limit"] = limit
        result: list[dict[str, Any]] = self._request("GET", "/queries", params=params)["queries"]
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/stats")
        return result

    def records(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "/records")["records"]
        return result

    def add_record(self, spec: str) -> None:
        self._request("POST", "/records", json=spec)

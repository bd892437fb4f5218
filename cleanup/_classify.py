"""One classifier from "whatever the stack raised" to the cleanup's error types.

Retry decisions (``_retry``) and reports look only at :class:`~cleanup.CleanupError`
subclasses, because a predicate over raw exceptions would have to know every layer:
our stub resolver raises :class:`~cleanup.DNSError` itself, the system resolver raises
``socket.gaierror``, sockets raise ``OSError`` with an errno, httpcore wraps those in
its own exceptions and httpx wraps httpcore's again, each keeping the previous one as
``__cause__``.  :func:`to_error` walks that chain once, here, so that:

* an error that already is a ``CleanupError`` somewhere in the chain (our resolver's
  ``DNSError`` under ``httpx.ConnectError`` under ``httpcore.ConnectError``) is returned
  as it is, with the message our resolver wrote;
* the lowest-level fact decides the classification (``ECONNREFUSED`` under
  ``httpx.ConnectError`` is "connection refused", not a generic connect failure; any
  errno, whatever Python class carries it, is Go's ``*net.OpError`` over that
  ``syscall.Errno``: its text and flags from Go's table, :mod:`cleanup._goerrno`),
  while the outer httpx/httpcore type supplies what the errno cannot know: the
  request URL, the socket call (dial/read/write) and which timeout
  (connect/read/write/pool) fired;
* nothing unknown is lost: it becomes :class:`~cleanup.UnexpectedError` with the
  original as ``__cause__``, and no predicate retries it.

The mapping follows what Go reports for the same failure, because the retry predicates
reproduce Harvester's ``util.IsRetriableNetworkError``, which tests Go errors:
``syscall.ECONNREFUSED/ECONNRESET/ENETUNREACH/EHOSTUNREACH/ENETDOWN/ETIMEDOUT``,
``os.IsTimeout`` and ``net.DNSError``.  ``EPIPE``, ``ECONNABORTED`` and a server that
closes the connection without answering (Go: ``EOF``; httpx: ``RemoteProtocolError``)
are therefore *not* mapped onto a retriable reason.

Our own HTTP client (:func:`cleanup.make_http_client`) already attaches Go's error to
every failure, so for it :func:`to_error` only finds that error; the rules below are for
errors raised by other stacks (a plain ``httpx.Client``, ``socket`` calls), and give the
same types and, as far as the exception tells, the same texts.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator

import httpcore
import httpx

from cleanup._errors import (
    CleanupError,
    ConnectError,
    ConnectReason,
    DialDNSError,
    DNSError,
    ErrorKind,
    HTTPStatusError,
    ImageListError,
    ProtocolError,
    RequestTimeout,
    SocketOp,
    StatusKind,
    TimeoutPhase,
    UnexpectedError,
)
from cleanup._goerrno import errno_temporary, errno_timeout
from cleanup._gotext import go_strerror, os_errno
from cleanup._resolvconf import ip_literal_text

__all__ = ["TIMEOUT_PHASE_BY_TYPE", "error_kind", "getaddrinfo_error", "timeout_phase", "to_error"]

# --- getaddrinfo (system resolver) -----------------------------------------------------


def _eai(name: str) -> int | None:
    value = getattr(socket, name, None)
    return value if isinstance(value, int) else None


# Go's cgo resolver (``net/cgo_unix.go``, ``cgoLookupHostIP``): EAI_NONAME and
# EAI_NODATA are "no such host" (IsNotFound); every other code is an
# ``addrinfoErrno`` whose text is ``gai_strerror`` and which is temporary only for
# EAI_AGAIN (glibc's answer to SERVFAIL *and* to silence) and never a timeout.
# EAI_FAIL (glibc's NO_RECOVERY: REFUSED, FORMERR, NOTIMP) is therefore not
# temporary, like the pure-Go resolver's "server misbehaving" for the same rcodes.
_EAI_NOT_FOUND = {code for code in (_eai("EAI_NONAME"), _eai("EAI_NODATA")) if code is not None}
_EAI_AGAIN = _eai("EAI_AGAIN")


def _from_gaierror(exc: socket.gaierror, name: str) -> DNSError:
    """Go ``cgoLookupHostIP``'s error for a getaddrinfo failure, text and flags."""
    code = exc.errno
    if code in _EAI_NOT_FOUND:
        return DNSError(name, "no such host", is_not_found=True)
    text = exc.strerror or str(exc)
    if not isinstance(code, int):
        text = f"{text} (getaddrinfo EAI ?)"
    return DNSError(name, text, is_temporary=code == _EAI_AGAIN)


def getaddrinfo_error(exc: OSError, name: str) -> DNSError:
    """Go ``cgoLookupHostIP``'s error for ``socket.getaddrinfo(name)`` raising ``exc``.

    A ``socket.gaierror`` by :func:`_from_gaierror`'s rule.  Python raises EAI_SYSTEM
    as the plain ``OSError`` of its errno (socketmodule.c ``set_gaierror``); Go makes
    that errno the DNSError's ``Err``: its text, and ``syscall.Errno``'s
    ``Timeout()``/``Temporary()`` as the flags; an EAI_SYSTEM without an errno is
    EMFILE, as Go makes it.
    """
    if isinstance(exc, socket.gaierror):
        return _from_gaierror(exc, name)
    code = exc.errno if isinstance(exc.errno, int) else None
    if not code:
        # EAI_SYSTEM with errno 0 (Linux does this; Python raises OSError(0, 'Error')):
        # Go puts EMFILE in its place (cgo_unix.go, golang.org/issue/6232)
        code = errno.EMFILE
        exc = OSError(code, os.strerror(code))
    return DNSError(
        name,
        go_strerror(exc),
        is_timeout=errno_timeout(code),
        is_temporary=errno_temporary(code),
    )


# --- sockets -----------------------------------------------------------------------------

_TYPE_REASON: tuple[tuple[type[OSError], ConnectReason], ...] = (
    (ConnectionRefusedError, "refused"),
    (ConnectionResetError, "reset"),
    (ConnectionAbortedError, "aborted"),
)


def _socket_reason(exc: OSError) -> ConnectReason | None:
    """The reason of an ``OSError`` subclass raised without an errno
    (``ConnectionRefusedError()``), None for any other."""
    for kind, reason in _TYPE_REASON:
        if isinstance(exc, kind):
            return reason
    return None


# --- httpx / httpcore --------------------------------------------------------------------

#: Where a timeout struck, by the httpcore exception that names it and the httpx twin
#: httpx raises in its place (``httpx._transports.default`` maps them one to one): a
#: read before the response body is the headers.  The one copy of this rule; callers
#: choose their own fallback for a timeout that names no phase (:func:`timeout_phase`).
TIMEOUT_PHASE_BY_TYPE: tuple[tuple[type[Exception], type[Exception], TimeoutPhase], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout, "connect"),
    (httpcore.ReadTimeout, httpx.ReadTimeout, "headers"),
    (httpcore.WriteTimeout, httpx.WriteTimeout, "write"),
    (httpcore.PoolTimeout, httpx.PoolTimeout, "pool"),
)


def timeout_phase(exc: BaseException) -> TimeoutPhase | None:
    """The phase :data:`TIMEOUT_PHASE_BY_TYPE` gives ``exc`` (httpcore's or httpx's), or None."""
    for core, twin, phase in TIMEOUT_PHASE_BY_TYPE:
        if isinstance(exc, core | twin):
            return phase
    return None


# The socket call behind an httpx/httpcore error type (Go's OpError.Op).
_OPS: tuple[tuple[type[BaseException], SocketOp], ...] = (
    (httpx.ConnectError, "dial"),
    (httpcore.ConnectError, "dial"),
    (httpx.ReadError, "read"),
    (httpcore.ReadError, "read"),
    (httpx.WriteError, "write"),
    (httpcore.WriteError, "write"),
)

#: h11's words for an EOF inside a line it was still reading: in a response body (a
#: chunk-size line) Go's chunked reader turns that EOF into io.ErrUnexpectedEOF (checked
#: against Go 1.23); httpcore reports a head cut short as "Server disconnected ..."
EOF_MID_LINE = "peer unexpectedly closed connection"

# h11/httpcore's words for a connection closed early, and Go's.
_EOF_TEXTS = (
    ("Server disconnected without sending a response.", "EOF"),
    ("peer closed connection without sending complete message body", "unexpected EOF"),
    (EOF_MID_LINE, "unexpected EOF"),
)

# Transport failures that carry no usable errno: reported as a connection failure
# with the library's own text, and (like Go's EOF) not retried.
_TRANSPORT_OTHER: tuple[type[BaseException], ...] = (
    httpx.ConnectError,
    httpcore.ConnectError,
    httpx.ReadError,
    httpcore.ReadError,
    httpx.WriteError,
    httpcore.WriteError,
    httpx.RemoteProtocolError,
    httpcore.RemoteProtocolError,
    httpx.CloseError,
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it was raised from, outermost first (breadth first).

    Follows ``__cause__``, ``__context__`` *even when suppressed* (httpcore's pool
    re-raises with ``from None`` to shorten tracebacks, which hides the socket error
    from display but not from us) and exceptions passed as arguments (httpcore raises
    ``ConnectError(OSError(...))``).
    """
    seen: set[int] = set()
    queue: list[BaseException] = [exc]
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__]
        linked += [arg for arg in current.args if isinstance(arg, BaseException)]
        queue.extend(item for item in linked if item is not None)


def _request_of(chain: list[BaseException]) -> httpx.Request | None:
    for exc in chain:
        if isinstance(exc, httpx.RequestError):
            try:
                return exc.request
            except RuntimeError:  # raised outside a client: no request attached
                continue
    return None


def _host_and_address(url: str | None) -> tuple[str | None, str]:
    if not url:
        return None, "<unknown address>"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None, "<unknown address>"
    host = parsed.host or None
    if host is None:
        return None, "<unknown address>"
    port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)  # Go's portMap
    # an IP literal is dialled as is and named as Go prints it (IPv4-mapped as IPv4)
    shown = ip_literal_text(host) or host
    shown = f"[{shown}]" if ":" in shown else shown
    return host, (f"{shown}:{port}" if port else shown)


#: the key of httpx's timeout configuration (``httpx.Timeout``, the request's
#: ``timeout`` extension) that limits each phase: waiting for the headers and for the
#: body are both reads; a ``request`` timeout (a foreign stack that names no phase)
#: has no key
_HTTPX_TIMEOUT_KEY: dict[str, str] = {
    "connect": "connect",
    "write": "write",
    "headers": "read",
    "body": "read",
    "pool": "pool",
}


def _timeout_limit(request: httpx.Request | None, phase: str) -> float | None:
    """The configured limit (seconds) of ``phase`` for ``request`` (README "Errors of
    other HTTP stacks"), None when the request or the phase has none."""
    if request is None or phase not in _HTTPX_TIMEOUT_KEY:
        return None
    limits = request.extensions.get("timeout")
    if isinstance(limits, dict):
        value = limits.get(_HTTPX_TIMEOUT_KEY[phase])
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _describe(exc: BaseException) -> str:
    """``module.Qualname: text`` (a builtin without its module; no ``: text`` when the
    text is empty): what an :class:`~cleanup.UnexpectedError` says of the exception."""
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    text = str(exc)
    return f"{name}: {text}" if text else name


def _attach(err: CleanupError, original: BaseException) -> CleanupError:
    err.__cause__ = original
    err.__suppress_context__ = True
    return err


def to_error(
    exc: BaseException,
    *,
    url: str | None = None,
    host: str | None = None,
    in_body: bool = False,
) -> CleanupError:
    """Classify ``exc`` (and its cause chain) as one of the cleanup's errors.

    ``url`` is what was being fetched and ``host`` what was being looked up; both are
    optional because an httpx exception raised inside a client carries its request,
    and the host is taken from the URL.  ``in_body``: ``exc`` came while reading the
    response body (after the headers), which httpx's exception types do not tell: a
    read timeout there is Go's body timeout (``phase="body"``, its unwrapped text),
    not one awaiting the headers.  A ``CleanupError`` found in the chain is returned
    unchanged; any new error gets ``exc`` as ``__cause__``.
    """
    chain = list(_chain(exc))
    for item in chain:
        if isinstance(item, CleanupError):
            return item

    request = _request_of(chain)
    if url is None and request is not None:
        url = str(request.url)
    url_host, address = _host_and_address(url)
    name = host or url_host or "<unknown host>"
    shown_url = url or "<unknown url>"

    # 1. The system resolver.  gaierror is an OSError too, so it goes first.
    for item in chain:
        if isinstance(item, socket.gaierror):
            dns = _from_gaierror(item, name)
            _attach(dns, exc)
            return DialDNSError(url, dns) if url else dns  # its cause: the DNSError

    # 2. A timeout named by httpx/httpcore: the phase is only known at that layer.
    #    A foreign stack's bare TimeoutException names no phase: "request" says so.
    for item in chain:
        if isinstance(item, httpx.TimeoutException | httpcore.TimeoutException):
            phase = timeout_phase(item) or "request"
            if in_body and phase in ("headers", "request"):
                phase = "body"  # Go: "... while reading body"
            return _attach(RequestTimeout(shown_url, phase, _timeout_limit(request, phase)), exc)

    # 3. The socket error underneath: any errno is Go's OpError over that Errno (its
    #    text and flags from Go's table), whatever class Python or httpx gave it; the
    #    call is the one the httpx/httpcore type names; when none does, a dial (a
    #    broken pipe: a write, the only call that meets one).
    named: SocketOp | None = next(
        (op for item in chain for kind, op in _OPS if isinstance(item, kind)), None
    )
    op: SocketOp = named or "dial"
    for item in chain:
        if isinstance(item, OSError):
            code = os_errno(item)
            if code is not None:
                call: SocketOp = named or ("write" if code == errno.EPIPE else "dial")
                return _attach(ConnectError.from_errno(shown_url, address, code, op=call), exc)
            reason = _socket_reason(item)
            if reason is not None:
                return _attach(ConnectError(shown_url, address, reason, op=op), exc)
            if isinstance(item, TimeoutError):  # socket.timeout: phase unknown here
                return _attach(RequestTimeout(shown_url, "request", None), exc)

    # 4. A server that closed the connection early: Go's EOF / unexpected EOF.
    for item in chain:
        if isinstance(item, httpx.RemoteProtocolError | httpcore.RemoteProtocolError):
            text = str(item)
            for prefix, detail in _EOF_TEXTS:
                if text.startswith(prefix):
                    in_body = detail == "unexpected EOF"
                    return _attach(ProtocolError(shown_url, detail, in_body=in_body), exc)

    # 5. A transport failure with no errno under it.
    for item in chain:
        if isinstance(item, _TRANSPORT_OTHER):
            return _attach(ConnectError(shown_url, address, "other", _describe(item)), exc)

    return _attach(UnexpectedError(_describe(exc), url), exc)


_CONNECT_KIND: dict[ConnectReason, ErrorKind] = {
    "refused": "connection refused",
    "reset": "connection reset",
    "network-unreachable": "network unreachable",
    "host-unreachable": "host unreachable",
    "network-down": "network down",
    "aborted": "connection aborted",
    "timed-out": "connection timed out",
    "other": "connection failed",
}


def _protocol_kind(err: ProtocolError) -> ErrorKind:
    if err.detail == "EOF":
        return "eof"
    if err.detail == "unexpected EOF":
        return "unexpected eof"
    if err.detail.startswith("stopped after"):
        return "too many redirects"
    return "protocol error"


def error_kind(err: CleanupError) -> ErrorKind | StatusKind:
    """A short, stable label for logs, reports and simulation traces.

    Labels are part of the report format: change them only with the consumers.  The
    vocabulary is closed (:data:`cleanup.ErrorKind`, and :data:`cleanup.StatusKind`'s
    ``http status N`` for every status code); an error class whose label does not
    depend on the instance names it in ``kind_label`` (e.g. ``RetriesExhausted``:
    ``gave up``), and any other CleanupError is ``error``.
    """
    if isinstance(err, DNSError):
        if err.is_not_found:
            return "dns not-found"
        if err.is_timeout:
            return "dns timeout"
        if err.is_temporary:
            return "dns temporary"
        return "dns error"
    if isinstance(err, ConnectError):
        return _CONNECT_KIND.get(err.reason, "connection failed")
    if isinstance(err, RequestTimeout):
        return "timeout"
    if isinstance(err, ProtocolError):
        return _protocol_kind(err)
    if isinstance(err, HTTPStatusError):
        return StatusKind(f"http status {err.status}")
    if isinstance(err, ImageListError):
        return "invalid list"
    if isinstance(err, UnexpectedError):
        return "unexpected error"
    return err.kind_label or "error"

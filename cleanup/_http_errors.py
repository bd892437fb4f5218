"""Go's ``net/http`` error texts, and how httpcore's failures become them.

**Go's errors** (``net/url`` ``url.Error``, ``net`` ``OpError``, ``net/http``
``timeoutError``), each the ``__cause__`` of the httpx exception raised, so
:func:`cleanup.to_error` returns it unchanged:

- failed lookup: :class:`~cleanup.DialDNSError` (a :class:`~cleanup.DNSError` with the
  resolver's fields; text ``Get "URL": dial tcp: lookup NAME on SERVER: no such host``);
- errno from connect/read/write: :class:`~cleanup.ConnectError` (``Get "URL": dial tcp
  ADDR: connect: connection refused``, ``Get "URL": read tcp SRC->ADDR: read: connection
  reset by peer``; in the body, unwrapped);
- the deadline passed, whatever failed: :class:`~cleanup.RequestTimeout` (``Get "URL":
  context deadline exceeded (Client.Timeout exceeded while awaiting headers)``, or in the
  body ``context deadline exceeded (Client.Timeout or context cancellation while reading
  body)``).  Go checks the deadline *after* a failure (``didTimeout``), so a DNS timeout
  cut by the client's deadline is a Client.Timeout, not a DNSError;
- no errno, no timeout: :class:`~cleanup.ProtocolError` (``Get "URL": EOF``; in the
  body ``unexpected EOF``; ``Get "LOCATION": stopped after 10 redirects``; ``Get "URL":
  failed to parse Location header "LOC": parse "LOC": ...`` (Go's ``url.Parse``, ported
  in ``cleanup._gourl``); ``Get "ftp://...": unsupported protocol scheme "ftp"``; in the
  body, Go's gzip reader's words: ``gzip: invalid header``...).

How: :func:`_mapped` wraps each phase of a request (the round trip, every body
read); an httpcore exception raised inside becomes httpx's exception of the same kind
(as httpx itself maps them, :data:`_EXCEPTIONS`), whose ``__cause__`` is the Go error
:func:`_explain` builds from the exception, the ``original`` the backend attached
(:mod:`cleanup._backend`) and the request's :class:`~cleanup._exchange.Exchange`.
h11's words for a malformed response are translated to Go's ``http.ReadResponse``,
``transfer.go`` and chunked reader's (:func:`go_response_head_error`).  Pure text
logic: no I/O.
"""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Iterator

import httpcore
import httpx

from cleanup._classify import EOF_MID_LINE, timeout_phase
from cleanup._errors import (
    AddrError,
    CleanupError,
    ConnectError,
    DialDNSError,
    DNSError,
    ProtocolError,
    RequestTimeout,
    TimeoutPhase,
)
from cleanup._exchange import Exchange, _within
from cleanup._gotext import go_quote, os_errno

__all__ = ["go_response_head_error"]


# httpcore exception -> httpx exception, the most specific first (as httpx maps them).
_EXCEPTIONS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
}

# What h11/httpcore say when the server closes the connection early, and Go's word for it.
_EOF_BEFORE_RESPONSE = "Server disconnected without sending a response."
_EOF_IN_BODY = "peer closed connection without sending complete message body"


_ILLEGAL_STATUS_LINE = re.compile(r"illegal status line: bytearray\((b(['\"]).*\2)\)\Z", re.S)
_HTTP_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]\Z")
# RFC 9110 token characters: what Go's textproto accepts in a header name
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _status_line_error(line: bytes) -> str | None:
    """Go's ``http.ReadResponse`` check of a status line (``net/http/response.go``)."""
    proto, space, status = line.partition(b" ")
    if not space:
        return f"malformed HTTP response {go_quote(line.decode('latin-1'))}"
    code = status.lstrip(b" ").partition(b" ")[0]
    digits = code[1:] if code[:1] == b"+" else code  # strconv.Atoi takes a sign
    if len(code) != 3 or not digits.isdigit():
        return f"malformed HTTP status code {go_quote(code.decode('latin-1'))}"
    if not _HTTP_VERSION.match(proto):
        return f"malformed HTTP version {go_quote(proto.decode('latin-1'))}"
    return None


def go_response_head_error(head: bytes) -> str:
    """What Go's ``http.ReadResponse`` says about a response head cut short by EOF.

    ``head``: every byte the server sent before closing (no blank line ending the head).
    Go reads line by line (``textproto``; a last line without its newline still counts):
    a bad status line or header line is named, otherwise it runs out of input, which
    ``ReadResponse`` reports as ``unexpected EOF``.  Nothing at all is plain ``EOF``.
    """
    if not head:
        return "EOF"
    lines = [line.removesuffix(b"\r") for line in head.split(b"\n")]
    if head.endswith(b"\n"):
        lines.pop()  # no partial last line: the next read is EOF
    problem = _status_line_error(lines[0])
    if problem is not None:
        return problem
    for index, line in enumerate(lines[1:]):
        text = line.decode("latin-1")
        if index == 0 and line[:1] in (b" ", b"\t"):
            return f"malformed MIME header initial line: {text}"  # unquoted, as in Go
        name, colon, _ = line.partition(b":")
        if not colon:
            return f"malformed MIME header: missing colon: {go_quote(text)}"
        # Go takes a space in a name (go.dev/issue/34540), not other non-token bytes
        if not name or any(byte not in _TOKEN and byte != 0x20 for byte in name):
            return f"malformed MIME header line: {text}"
    return "unexpected EOF"


_ILLEGAL_CHUNK = re.compile(r"illegal chunk header: bytearray\((b(['\"]).*\2)\)\Z", re.S)


def _bytes_in(pattern: re.Pattern[str], text: str) -> bytes | None:
    """The ``bytearray(b'...')`` h11 put in its message, if ``pattern`` matches."""
    match = pattern.match(text)
    if match is None:
        return None
    try:
        value = ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return None
    return bytes(value) if isinstance(value, bytes) else None


def _headers(head: bytes, name: bytes) -> list[str]:
    """Every ``name`` header's value in a raw response head (trimmed), in order."""
    values = []
    for line in head.split(b"\n")[1:]:
        key, colon, rest = line.partition(b":")
        if colon and key.strip().lower() == name:
            values.append(rest.strip().decode("latin-1"))
    return values


def _header(head: bytes, name: bytes) -> str:
    """The last ``name`` header's value in a raw response head (trimmed), or ""."""
    values = _headers(head, name)
    return values[-1] if values else ""


def _go_broken(text: str, head: bytes) -> str:
    """Go's words for a response head h11 rejects (``net/http`` ``readResponse``,
    ``transfer.go``); h11's text where we know no better."""
    line = _bytes_in(_ILLEGAL_STATUS_LINE, text)
    if line is not None:
        return _status_line_error(line) or text
    if text == "bad Content-Length":
        return f"bad Content-Length {go_quote(_header(head, b'content-length'))}"
    if text == "conflicting Content-Length headers":
        # transfer.go fixLength: several lines that differ, listed as Go's %q of a
        # []string; one line "5, 6" is no list to Go, only a bad number
        lengths = _headers(head, b"content-length")
        if len(lengths) > 1:
            listed = " ".join(go_quote(length) for length in lengths)
            return f"http: message cannot contain multiple Content-Length headers; got [{listed}]"
        return f"bad Content-Length {go_quote(_header(head, b'content-length'))}"
    if text == "Only Transfer-Encoding: chunked is supported":
        encoding = _header(head, b"transfer-encoding")
        return f"unsupported transfer encoding: {go_quote(encoding)}"
    return text


def _go_body_error(text: str) -> str:
    """Go's chunked reader's words (``net/http/internal/chunked.go``) for a chunk
    header h11 rejects, or cut short; h11's text otherwise."""
    if text == EOF_MID_LINE:
        # the connection closed inside a chunk-size line: Go's readChunkLine turns the
        # io.EOF into io.ErrUnexpectedEOF (checked against Go 1.23)
        return "unexpected EOF"
    line = _bytes_in(_ILLEGAL_CHUNK, text)
    if line is None:
        return text
    size = line.rstrip(b"\r\n").partition(b";")[0].rstrip(b" \t")
    if not size:
        return "empty hex number for chunk length"
    if any(byte not in b"0123456789abcdefABCDEF" for byte in size):
        return "invalid byte in chunk length"
    return "http chunk length too large" if len(size) > 16 else text


def _phase(exc: BaseException, original: object, in_body: bool) -> TimeoutPhase:
    if in_body:
        return "body"
    if isinstance(original, DNSError):
        return "lookup"
    # Past the deadline whatever failed before the body (a timeout that names no
    # phase, a ConnectError, a ReadError) is Go's "awaiting headers": the phase it
    # reports for anything short of the body (net/http/client.go).
    return timeout_phase(exc) or "headers"


def _explain(
    exc: Exception, request: httpx.Request, exchange: Exchange | None, in_body: bool
) -> CleanupError | None:
    """The error Go reports for ``exc``; None when it is none of ours (left to httpx)."""
    url = str(request.url) if exchange is None else exchange.shown(request.url)
    original = getattr(exc, "original", None) or exc.__cause__
    # Go's Client.do / cancelTimerBody: once the deadline has passed, whatever failed
    # is reported as the Client.Timeout.
    if exchange is not None and exchange.expired():
        timeout = RequestTimeout(url, _phase(exc, original, in_body), exchange.timeout)
        timeout.__cause__ = original or exc
        return timeout
    if isinstance(original, DialDNSError):
        return original
    if isinstance(original, DNSError):
        return DialDNSError(url, original)
    if isinstance(original, CleanupError):
        return original
    if isinstance(original, AddrError):  # Go's OpError{Op: "dial", Addr: nil}
        no_address = ConnectError(url, "", "other", str(original))
        no_address.__cause__ = original
        return no_address
    if isinstance(exc, httpcore.TimeoutException):
        # a limit that is not the client's: the dialer's own, or httpcore's phases
        # when no deadline is set (a ClockNetworkBackend used on its own)
        phase = _phase(exc, original, in_body)
        detail = str(original) if isinstance(original, TimeoutError) else ""
        limit = exchange.timeout if exchange is not None else None
        timeout = RequestTimeout(url, phase, limit, detail if phase == "connect" else "")
        timeout.__cause__ = original or exc
        return timeout
    code = os_errno(original) if isinstance(original, BaseException) else None
    if code is not None:
        assert isinstance(original, OSError)
        address = original.filename or request.url.netloc.decode("ascii")
        error = ConnectError.from_errno(
            url,
            str(address),
            code,
            op=getattr(original, "op", "dial"),
            source=getattr(original, "local", ""),
            in_body=in_body,
        )
        error.__cause__ = original
        return error
    if isinstance(exc, httpcore.UnsupportedProtocol):
        # Transport.roundTrip: neither http nor https (a redirect to ftp://, say)
        scheme = request.url.scheme
        return ProtocolError(url, f"unsupported protocol scheme {go_quote(scheme)}")
    if isinstance(exc, httpcore.RemoteProtocolError):
        text = str(exc)
        if text.startswith(_EOF_IN_BODY):
            detail = "unexpected EOF"
        elif text == _EOF_BEFORE_RESPONSE:
            # Go's EOF when nothing came; a head cut short is "connection broken"
            detail = go_response_head_error(getattr(exc, "received", b""))
            if detail != "EOF":
                detail = f"net/http: HTTP/1.x transport connection broken: {detail}"
        elif in_body:
            detail = _go_body_error(text)
        else:
            head = getattr(exc, "received", b"")
            detail = f"net/http: HTTP/1.x transport connection broken: {_go_broken(text, head)}"
        protocol = ProtocolError(url, detail, in_body=in_body)
        protocol.__cause__ = exc
        return protocol
    return None


@contextlib.contextmanager
def _mapped(request: httpx.Request, exchange: Exchange | None, *, in_body: bool) -> Iterator[None]:
    try:
        with _within(exchange):
            yield
    except Exception as exc:
        target = next((_EXCEPTIONS[k] for k in type(exc).__mro__ if k in _EXCEPTIONS), None)
        if target is None:
            raise
        cause = _explain(exc, request, exchange, in_body)
        if cause is None:
            raise target(str(exc), request=request) from exc
        if isinstance(cause, RequestTimeout) and not issubclass(target, httpx.TimeoutException):
            target = (
                httpx.ReadTimeout if cause.phase in ("body", "headers") else httpx.ConnectTimeout
            )
        raise target(str(cause), request=request) from cause

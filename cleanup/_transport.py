"""HTTP over httpx that fails when, how and as fast as Go's ``http.Client{Timeout: T}``.

Why not let httpx resolve: httpx (through httpcore's sync backend) calls
``socket.create_connection``, i.e. ``getaddrinfo`` and real-time socket timeouts.  The
simulation must run the *same* client in virtual time, against the resolver whose every
query it can observe.  So we plug in at httpcore's :class:`httpcore.NetworkBackend`: the
connection pool, HTTP/1.1, the ``Host`` header and TLS SNI stay httpx/httpcore's (they
see only the host *name*); only "turn a name into a connected socket" and "wait for a
socket" are ours.

**One deadline per request** (Go's ``Client.Timeout``, ``net/http/client.go``:
``Client.deadline``, ``setRequestCancel``): :class:`DeadlineClient` fixes
``deadline = now + T`` when ``send`` starts, and the lookup, every connect, the request
write, the response headers, every redirect hop and the whole body get only what is
left of it.  httpx's own timeouts are per phase and restart with every byte; here a byte
arriving never restarts anything.  The deadline travels to the network backend in a
context variable (:class:`Exchange`), and every wait goes through the injected
:class:`~cleanup.Clock`, so the simulation runs this code in virtual time.

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

Compression as Go's ``Transport``: a request naming no ``Accept-Encoding`` asks for
``gzip`` and a gzip body is decoded (:class:`cleanup._gogzip.GoGzipDecoder`), with
``Content-Encoding`` and ``Content-Length`` dropped from the response.

Dialling follows Go 1.23's ``Dialer`` as ``http.DefaultTransport`` configures it: its
own 30 s timeout over lookup and connect (``Dialer.Timeout``) and ``dialSerial``:
addresses in the resolver's order, each given a share of what is left of those 30 s
(``partialDeadline``: an equal share, at least 2 s).  The first error is reported.  The
dial is detached from the request (``Transport.getConn``: ``context.WithoutCancel``), so
the shares never shrink with the request's deadline; the request itself still fails at
its deadline with the Client.Timeout text, whatever the dial was doing.  Not modelled:
the detached dial going on after the request ended (Go then keeps a late connection in
its idle pool, and its lookup may send more queries).

Redirects: Go sends at most 10 requests (``defaultCheckRedirect``) and follows
301/302/303/307/308 with a ``Location``, to any host.  A GET that a reused keep-alive
connection drops before any response byte is sent again on another
connection (``Transport.roundTrip``, ``shouldRetryRequest``).

Not modelled, as the controller's repo never needs them: Go's ``dialParallel`` (on a
dual-stack answer Go races the other address family after 300 ms; we dial the
addresses one after another), ``TLSHandshakeTimeout`` (10 s; the repo is plain HTTP)
and ``IdleConnTimeout`` (90 s; a failed attempt never leaves a connection to reuse).

Real time still passes in two places, both outside the cleanup's normal path: httpcore's
pool waits on a thread event when all ``max_connections`` are busy (PoolTimeout), and
pooled keep-alive connections never expire by age (no ``keepalive_expiry``, since
httpcore would measure it in real time; a connection the server closed is noticed and
replaced).
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import errno as errno_mod
import ipaddress
import os
import re
import socket
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from cleanup._classify import EOF_MID_LINE
from cleanup._clock import Clock
from cleanup._errors import (
    CleanupError,
    ConnectError,
    DialDNSError,
    DNSError,
    ProtocolError,
    RequestTimeout,
    go_quote,
)
from cleanup._gogzip import GoGzipDecoder, GzipError
from cleanup._gourl import go_url_error
from cleanup._resolver import Resolver

__all__ = [
    "DIAL_TIMEOUT",
    "MAX_REQUESTS",
    "ClockNetworkBackend",
    "ClockStream",
    "DeadlineClient",
    "Exchange",
    "ResolvingTransport",
    "go_response_head_error",
    "make_http_client",
]

_SANE_MINIMUM = 2.0  # Go's partialDeadline: never less than this per address, if time allows
DIAL_TIMEOUT = 30.0  # http.DefaultTransport's net.Dialer{Timeout: 30 * time.Second}
MAX_REQUESTS = 10  # Go's defaultCheckRedirect: "stopped after 10 redirects" on the 10th
_HEAD_LIMIT = 64 * 1024  # bytes of a response head kept to name what was wrong with it
_HALF_NS = 0.5e-9  # Go's clocks count integer nanoseconds
_REDIRECTS = frozenset({301, 302, 303, 307, 308})  # Go's redirectBehavior (and httpx's)

# errno -> ConnectError.reason (EPIPE and the rest are "other": Harvester's retry
# predicate does not list them).
_REASONS = {
    errno_mod.ECONNREFUSED: "refused",
    errno_mod.ECONNRESET: "reset",
    errno_mod.ENETUNREACH: "network-unreachable",
    errno_mod.EHOSTUNREACH: "host-unreachable",
    errno_mod.ENETDOWN: "network-down",
    errno_mod.ECONNABORTED: "aborted",
    errno_mod.ETIMEDOUT: "timed-out",
}


@dataclass
class Exchange:
    """One request as Go's ``http.Client.Do`` sees it: its deadline and its hops.

    ``deadline`` is absolute on ``clock`` (None: no Client.Timeout); ``timeout`` the
    client's timeout in seconds; ``location`` the raw ``Location`` of the last redirect
    response (Go names it in "stopped after 10 redirects").
    """

    clock: Clock
    deadline: float | None
    timeout: float | None
    location: str = ""
    raw_url: str = ""  # the URL as the caller wrote it (httpx lower-cases the host)

    def shown(self, url: httpx.URL) -> str:
        """``url`` as Go prints it: as written (Go's ``url.URL`` keeps the host's case)
        when it is the caller's URL, else httpx's form (a redirect hop)."""
        return self.raw_url if self.raw_url and _same_url(self.raw_url, url) else str(url)

    def lookup_name(self, host: str) -> str:
        """The name to resolve for ``host``: as the caller wrote it, case and all (Go
        queries the name as given), when it is the caller's host."""
        written = _written_host(self.raw_url)
        return written if written and written.lower() == host.lower() else host

    def remaining(self) -> float | None:
        """Seconds left (may be <= 0), or None without a deadline."""
        return None if self.deadline is None else self.deadline - self.clock.now()

    def expired(self) -> bool:
        """Go's ``didTimeout``: the deadline has been reached.

        Compared at Go's resolution, the nanosecond: a wait of ``deadline - now``
        seconds can end a rounding error short of ``deadline`` in floating point.
        """
        return self.deadline is not None and self.clock.now() >= self.deadline - _HALF_NS

    def limit(self, timeout: float | None) -> float | None:
        """How long one wait may take: httpcore's per-phase ``timeout``, capped by what
        is left of the deadline (never negative)."""
        left = self.remaining()
        if left is None:
            return timeout
        left = max(0.0, left)
        return left if timeout is None else min(timeout, left)


def _same_url(raw: str, url: httpx.URL) -> bool:
    try:
        return httpx.URL(raw) == url
    except (httpx.InvalidURL, TypeError, ValueError):
        return False


def _written_host(raw: str) -> str:
    """The host part of ``raw`` exactly as written ("" for an IP literal in brackets)."""
    authority = raw.partition("://")[2].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        return ""
    return host.rpartition(":")[0] if ":" in host else host


_RAW_URL = "cleanup.raw_url"  # request extension: the URL string the caller passed
_ADDED_GZIP = "cleanup.added_gzip"  # request extension: Go's Transport asked for gzip
#: response extension: True when the transport asked for gzip and is decoding the body
#: (Go's gzipReader): the stream's CRC-32/ISIZE trailer, checked at its end, proves the
#: body whole where the dropped Content-Length no longer can
GZIP_DECODED = "cleanup.gzip_decoded"
#: response extension, set when the body has been read to its end: how many bytes the
#: server sent after the end its framing declared (h11's ``trailing_data``: bytes
#: received past a met Content-Length or a chunked terminator), or None if unknown.
#: Only what already arrived with the body is seen; bytes still in flight are not.
TRAILING_BYTES = "cleanup.trailing_bytes"

_EXCHANGE: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar(
    "cleanup_http_exchange", default=None
)


@contextlib.contextmanager
def _within(exchange: Exchange | None) -> Iterator[None]:
    token = _EXCHANGE.set(exchange)
    try:
        yield
    finally:
        _EXCHANGE.reset(token)


@dataclass
class _Attempt:
    """One try at sending a request on some pooled connection (Go's ``roundTrip``
    loop): whether that connection had served a request before, and whether any byte of
    the response came back."""

    bound: bool = False
    reused: bool = False
    answered: bool = False
    received: bytearray = field(default_factory=bytearray)  # the head, for Go's parse


_ATTEMPT: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "cleanup_http_attempt", default=None
)


def _limit(timeout: float | None) -> float | None:
    exchange = _EXCHANGE.get()
    return timeout if exchange is None else exchange.limit(timeout)


def _address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _os_error(code: int, address: str) -> OSError:
    """An ``OSError`` (Python picks the subclass) that remembers the peer address.

    The address rides in ``filename``, the slot ``OSError`` has for "what this error is
    about", so the transport can name the ``IP:PORT`` that failed.
    """
    return OSError(code, os.strerror(code), address)


def _fail(kind: type[Exception], message: str, original: BaseException) -> Exception:
    """An httpcore exception that carries what really happened.

    httpcore's pool re-raises connection errors with ``raise exc from None``, which
    drops ``__cause__``; the ``original`` attribute survives, so the transport can still
    name the DNSError or OSError behind the failure.
    """
    error = kind(message)
    error.original = original  # type: ignore[attr-defined]
    error.__cause__ = original
    return error


def _lower(text: str) -> str:
    """Go spells errno texts in lower case: ``connection refused``."""
    return text[:1].lower() + text[1:]


def _wait(clock: Clock, sock: socket.socket, timeout: float | None, *, write: bool) -> bool:
    """Wait for ``sock``; with no timeout, wait for as long as it takes."""
    wait = clock.wait_writable if write else clock.wait_readable
    while True:
        if wait(sock, timeout):
            return True
        if timeout is not None:
            return False


def _sockname(sock: socket.socket) -> str:
    try:
        host, port = sock.getsockname()[:2]
    except (OSError, ValueError):
        return ""
    return _address(str(host), int(port))


class ClockStream(httpcore.NetworkStream):
    """A connected non-blocking socket whose waits go through the clock.

    Every wait is capped by the current request's deadline (:class:`Exchange`), and a
    read or write that starts after the deadline fails at once, even with data ready:
    Go cancels the request when its timer fires.
    """

    def __init__(self, sock: socket.socket, clock: Clock, peer: str) -> None:
        self._sock = sock
        self._clock = clock
        self._peer = peer
        self._local = _sockname(sock)
        self._requests = 0  # requests sent on this connection (reuse, for Go's retry)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        limit = _limit(timeout)
        while True:
            if limit is not None and limit <= 0:
                error = self._timeout(httpcore.ReadTimeout, "read", timeout)
                raise error from error.__cause__
            try:
                data = self._sock.recv(max_bytes)
                attempt = _ATTEMPT.get()
                if data and attempt is not None:
                    attempt.answered = True
                    if len(attempt.received) < _HEAD_LIMIT:
                        attempt.received += data[: _HEAD_LIMIT - len(attempt.received)]
                return data
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:
                want_write = isinstance(exc, ssl.SSLWantWriteError)
                if not _wait(self._clock, self._sock, limit, write=want_write):
                    error = self._timeout(httpcore.ReadTimeout, "read", timeout)
                    raise error from error.__cause__
                limit = _limit(timeout)
            except OSError as exc:
                error = self._broken(httpcore.ReadError, "read", exc)
                raise error from error.__cause__

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        attempt = _ATTEMPT.get()
        if attempt is not None and not attempt.bound:
            attempt.bound = True
            attempt.reused = self._requests > 0
            self._requests += 1
        view = memoryview(buffer)
        while view:
            limit = _limit(timeout)
            if limit is not None and limit <= 0:
                error = self._timeout(httpcore.WriteTimeout, "write", timeout)
                raise error from error.__cause__
            try:
                sent = self._sock.send(view)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:
                want_read = isinstance(exc, ssl.SSLWantReadError)
                if not _wait(self._clock, self._sock, limit, write=not want_read):
                    error = self._timeout(httpcore.WriteTimeout, "write", timeout)
                    raise error from error.__cause__
                continue
            except OSError as exc:
                error = self._broken(httpcore.WriteError, "write", exc)
                raise error from error.__cause__
            view = view[sent:]

    def _where(self) -> str:
        return f"{self._local}->{self._peer}" if self._local else self._peer

    def _timeout(self, kind: type[Exception], op: str, timeout: float | None) -> Exception:
        original = TimeoutError(f"{op} tcp {self._where()}: i/o timeout")
        return _fail(kind, str(original), original)

    def _broken(self, kind: type[Exception], op: str, exc: OSError) -> Exception:
        original = _os_error(exc.errno, self._peer) if exc.errno else exc
        original.local = self._local  # type: ignore[attr-defined]
        original.op = op  # type: ignore[attr-defined]
        text = _lower(exc.strerror or str(exc))
        return _fail(kind, f"{op} tcp {self._where()}: {op}: {text}", original)

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        """TLS on the connected socket; the handshake waits through the clock too."""
        try:
            tls = ssl_context.wrap_socket(
                self._sock, server_hostname=server_hostname, do_handshake_on_connect=False
            )
        except (OSError, ValueError) as exc:
            self.close()
            error = _fail(httpcore.ConnectError, f"TLS to {self._peer}: {exc}", exc)
            raise error from error.__cause__
        while True:
            try:
                tls.do_handshake()
                break
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:
                want_write = isinstance(exc, ssl.SSLWantWriteError)
                if not _wait(self._clock, tls, _limit(timeout), write=want_write):
                    tls.close()
                    message = f"TLS handshake with {self._peer}: i/o timeout"
                    error = _fail(httpcore.ConnectTimeout, message, TimeoutError(message))
                    raise error from error.__cause__
            except OSError as exc:  # includes ssl.SSLError (bad certificate, ...)
                tls.close()
                message = f"TLS handshake with {self._peer}: {exc}"
                error = _fail(httpcore.ConnectError, message, exc)
                raise error from error.__cause__
        return ClockStream(tls, self._clock, self._peer)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock._sslobj  # type: ignore[attr-defined]
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            # How httpcore notices that the server closed a pooled keep-alive connection.
            return httpcore._utils.is_socket_readable(self._sock)
        return None


class ClockNetworkBackend(httpcore.NetworkBackend):
    """httpcore network backend: names through ``resolver``, every wait through ``clock``.

    ``dial_timeout`` is the dialer's own limit over lookup and connect (Go's
    ``net.Dialer.Timeout``; 30 s in ``http.DefaultTransport``); each address's share is
    cut from it alone (Go dials detached from the request), and every wait also stops at
    the request's deadline.
    """

    def __init__(
        self, resolver: Resolver, clock: Clock, *, dial_timeout: float = DIAL_TIMEOUT
    ) -> None:
        self.resolver = resolver
        self.clock: Clock = clock
        self.dial_timeout = dial_timeout

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        # Go 1.23 dials detached from the request (net/http transport.go getConn:
        # context.WithoutCancel), so Dialer.deadline is now + Dialer.Timeout alone, and
        # every address's share (dialSerial, partialDeadline) is cut from it, never from
        # the request's deadline.  The request still ends at its own deadline: each wait
        # below also stops there, and _explain then reports Go's Client.Timeout.
        exchange = _EXCHANGE.get()
        dial_deadline = self.clock.now() + self.dial_timeout
        request_deadline = None if exchange is None else exchange.deadline
        if request_deadline is None and timeout is not None:
            request_deadline = self.clock.now() + timeout  # httpcore's own connect limit
        literal = _literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            name = host if exchange is None else exchange.lookup_name(host)
            limit = _earliest(dial_deadline, request_deadline) - self.clock.now()
            try:
                addresses = self.resolver.resolve(name, timeout=max(0.0, limit))
            except DNSError as exc:
                error = _fail(httpcore.ConnectError, f"dial tcp: {exc}", exc)
                raise error from error.__cause__
        if not addresses:  # a resolver must raise instead, but never dial nothing
            raise httpcore.ConnectError(f"dial tcp: lookup {host}: no addresses")
        options = list(socket_options or ())
        first: BaseException | None = None
        for index, ip in enumerate(addresses):
            now = self.clock.now()
            if request_deadline is not None and now >= request_deadline - _HALF_NS:
                break  # the request is over (Go's getConn returns on its context)
            share = _partial_deadline(now, dial_deadline, len(addresses) - index)
            if share is None:
                first = first or TimeoutError(f"dial tcp {_address(ip, port)}: i/o timeout")
                break
            try:
                stop = _earliest(share, request_deadline)
                return self._dial(ip, port, stop, local_address, options)
            except (OSError, TimeoutError) as exc:
                first = first or exc
        if request_deadline is not None and self.clock.now() >= request_deadline - _HALF_NS:
            # whatever the dial has met so far, the request ended at its deadline
            message = f"dial tcp {host}:{port}: request deadline"
            error = _fail(httpcore.ConnectTimeout, message, TimeoutError(message))
            raise error from error.__cause__
        assert first is not None
        if isinstance(first, TimeoutError):
            error = _fail(httpcore.ConnectTimeout, str(first), first)
            raise error from error.__cause__
        assert isinstance(first, OSError)
        first.op = "dial"  # type: ignore[attr-defined]
        where = first.filename or host
        message = f"dial tcp {where}: connect: {_lower(first.strerror or str(first))}"
        error = _fail(httpcore.ConnectError, message, first)
        raise error from error.__cause__

    def _dial(
        self,
        ip: str,
        port: int,
        stop: float,
        local_address: str | None,
        options: list[Any],
    ) -> ClockStream:
        """Connect to ``ip``:``port`` (Go's ``dialSingle``), waiting no later than
        ``stop`` (the address's share or the request's end, the earlier).  Raises
        ``OSError`` (errno, address in ``filename``) or ``TimeoutError`` (``dial tcp
        ADDR: i/o timeout``)."""
        peer = _address(ip, port)
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            for option in options:
                sock.setsockopt(*option)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if local_address is not None:
                sock.bind((local_address, 0))
            sock.setblocking(False)
            code = sock.connect_ex((ip, port))
            if code in (errno_mod.EINPROGRESS, errno_mod.EAGAIN, errno_mod.EALREADY):
                remaining = stop - self.clock.now()
                if remaining <= 0 or not _wait(self.clock, sock, remaining, write=True):
                    raise TimeoutError(f"dial tcp {peer}: i/o timeout")
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise _os_error(code, peer)
        except BaseException:
            sock.close()
            raise
        return ClockStream(sock, self.clock, peer)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.UnsupportedProtocol(
            "unix sockets are not supported by the clock backend (the repo is a TCP service)"
        )

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)


def _literal(host: str) -> str | None:
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _earliest(deadline: float, other: float | None) -> float:
    return deadline if other is None else min(deadline, other)


def _partial_deadline(now: float, deadline: float, remaining_addresses: int) -> float | None:
    """Go's ``partialDeadline``: this address's share of the time left (None: no time)."""
    left = deadline - now
    if left <= 0:
        return None
    share = left / remaining_addresses
    if share < _SANE_MINIMUM:
        share = min(left, _SANE_MINIMUM)
    return now + share


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

# Where a timeout struck, by httpcore's exception (a read before the body is the headers).
_PHASES = {
    httpcore.ConnectTimeout: "connect",
    httpcore.ReadTimeout: "headers",
    httpcore.WriteTimeout: "write",
    httpcore.PoolTimeout: "pool",
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


def _phase(exc: BaseException, original: object, in_body: bool) -> str:
    if in_body:
        return "body"
    if isinstance(original, DNSError):
        return "lookup"
    for kind, phase in _PHASES.items():
        if isinstance(exc, kind):
            return phase
    return "headers"


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
    if isinstance(exc, httpcore.TimeoutException):
        # a limit that is not the client's: the dialer's own, or httpcore's phases
        # when no deadline is set (a ClockNetworkBackend used on its own)
        phase = _phase(exc, original, in_body)
        detail = str(original) if isinstance(original, TimeoutError) else ""
        limit = exchange.timeout if exchange is not None else None
        timeout = RequestTimeout(url, phase, limit, detail if phase == "connect" else "")
        timeout.__cause__ = original or exc
        return timeout
    if isinstance(original, OSError) and original.errno is not None:
        reason = _REASONS.get(original.errno, "other")
        address = original.filename or request.url.netloc.decode("ascii")
        detail = "" if reason != "other" else _lower(original.strerror or str(original))
        error = ConnectError(
            url,
            str(address),
            reason,
            detail,
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


class _ResponseStream(httpx.SyncByteStream):
    """The body, read under the request's deadline (Go's ``cancelTimerBody``)."""

    def __init__(
        self,
        stream: Iterable[bytes],
        request: httpx.Request,
        exchange: Exchange | None,
        decoder: GoGzipDecoder | None = None,
    ) -> None:
        self._stream = stream
        self._request = request
        self._exchange = exchange
        self._decoder = decoder
        #: the response's extensions, where :data:`TRAILING_BYTES` is noted at the end
        self.extensions: dict[str, Any] | None = None

    def _note_trailing(self) -> None:
        """Record :data:`TRAILING_BYTES` from httpcore's h11 connection (private
        attributes, read defensively: a layout we do not know records None)."""
        if self.extensions is None:
            return
        inner = getattr(self._stream, "_stream", None)  # PoolByteStream -> HTTP11 stream
        state = getattr(getattr(inner, "_connection", None), "_h11_state", None)
        trailing = getattr(state, "trailing_data", None)
        ok = isinstance(trailing, tuple) and trailing and isinstance(trailing[0], bytes)
        self.extensions[TRAILING_BYTES] = len(trailing[0]) if ok else None  # type: ignore[index]

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._stream)
        while True:
            # the deadline is set only while a chunk is being read, never across a
            # yield (the caller's code must not inherit it)
            with _mapped(self._request, self._exchange, in_body=True):
                chunk = next(chunks, None)
            if chunk is None:
                self._note_trailing()
            if self._decoder is None:
                if chunk is None:
                    return
                yield chunk
                continue
            try:
                if chunk is None:
                    self._decoder.finish()
                    return
                yield from self._decoder.feed(chunk)
            except GzipError as exc:
                # Go's gzip errors come unwrapped, like every body error
                url = self._request.url
                shown = str(url) if self._exchange is None else self._exchange.shown(url)
                error = ProtocolError(shown, str(exc), in_body=True)
                raise httpx.DecodingError(str(error), request=self._request) from error

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class ResolvingTransport(httpx.BaseTransport):
    """httpx transport over an httpcore pool, mapping errors to Go's.

    The same request/response plumbing as ``httpx.HTTPTransport``; it exists because
    httpx's own mapping makes the *httpcore* exception the cause, hiding our errors one
    level further down, and because every wait must see the request's deadline.
    """

    def __init__(self, pool: httpcore.ConnectionPool) -> None:
        self._pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        exchange = _EXCHANGE.get()
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped(request, exchange, in_body=False):
            response = self._round_trip(core_request, exchange)
        assert isinstance(response.stream, Iterable)
        if exchange is not None and response.status in _REDIRECTS:
            location = next((v for k, v in response.headers if k.lower() == b"location"), b"")
            exchange.location = location.decode("latin-1")
        headers = response.headers
        decoder = None
        encoding = next((v for k, v in headers if k.lower() == b"content-encoding"), b"")
        if request.extensions.get(_ADDED_GZIP) and encoding.lower() == b"gzip":
            # Go's gzipReader: the caller sees the decoded body, no Content-Encoding,
            # no Content-Length (and httpx then decodes nothing again)
            decoder = GoGzipDecoder()
            dropped = (b"content-encoding", b"content-length")
            headers = [(k, v) for k, v in headers if k.lower() not in dropped]
        stream = _ResponseStream(response.stream, request, exchange, decoder)
        result = httpx.Response(
            status_code=response.status,
            headers=headers,
            stream=stream,
            extensions={**response.extensions, GZIP_DECODED: decoder is not None},
        )
        stream.extensions = result.extensions  # httpx copied the dict: note into its copy
        return result

    def _round_trip(
        self, request: httpcore.Request, exchange: Exchange | None
    ) -> httpcore.Response:
        """Go's ``Transport.roundTrip`` loop: a request that fails on a *reused*
        keep-alive connection before any byte of the response (the server closed it
        just as we wrote: ``shouldRetryRequest``) is sent again on another connection.
        A fresh connection's failure is final."""
        while True:
            attempt = _Attempt()
            token = _ATTEMPT.set(attempt)
            try:
                return self._pool.handle_request(request)
            except (httpcore.ReadError, httpcore.WriteError, httpcore.RemoteProtocolError) as exc:
                expired = exchange is not None and exchange.expired()
                if not attempt.reused or attempt.answered or expired:
                    exc.received = bytes(attempt.received)  # type: ignore[union-attr]
                    raise
            finally:
                _ATTEMPT.reset(token)

    def close(self) -> None:
        self._pool.close()


def _client_timeout(request: httpx.Request) -> float | None:
    """The request's whole timeout: httpx keeps one value per phase; a plain
    ``timeout=T`` sets all four, and the largest is taken (None: no deadline)."""
    limits = request.extensions.get("timeout")
    if not isinstance(limits, dict):
        return None
    values = [float(v) for v in limits.values() if isinstance(v, int | float)]
    return max(values) if values else None


class DeadlineClient(httpx.Client):
    """An ``httpx.Client`` with Go's ``http.Client`` semantics for ``timeout``.

    ``timeout`` (the client's, or ``timeout=`` per request) is one deadline fixed when
    :meth:`send` starts and shared by every hop and the whole body (``Client.Timeout``);
    at most :data:`MAX_REQUESTS` requests are sent per call (``stopped after 10
    redirects``).  Build it with :func:`make_http_client`.
    """

    def __init__(self, *, clock: Clock, **kwargs: Any) -> None:
        super().__init__(max_redirects=MAX_REQUESTS - 1, **kwargs)
        self.clock = clock

    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        """httpx's request, remembering the URL as written: httpx lower-cases the host,
        Go keeps it (in the name it looks up and the URL its errors print)."""
        request = super().build_request(method, url, **kwargs)
        if isinstance(url, str):
            request.extensions[_RAW_URL] = url
        # Go's Transport asks for gzip itself when the request names no encoding, and
        # only then decodes the body (transport.go: requestedGzip, addedGzip)
        asked = kwargs.get("headers")
        if asked is None or "accept-encoding" not in httpx.Headers(asked):
            request.headers["Accept-Encoding"] = "gzip"
            request.extensions[_ADDED_GZIP] = True
        return request

    def _build_redirect_request(
        self, request: httpx.Request, response: httpx.Response
    ) -> httpx.Request:
        """httpx's next hop, once the ``Location`` passes Go's ``url.Parse``
        (``Client.do``: ``failed to parse Location header "LOC": parse "LOC": ...``,
        never retried: no errno, no timeout)."""
        locations = response.headers.get_list("location")
        location = locations[0] if locations else ""  # Go's Header.Get: the first
        problem = go_url_error(location)
        if problem is not None:
            exchange = _EXCHANGE.get()
            url = str(request.url) if exchange is None else exchange.shown(request.url)
            detail = f"failed to parse Location header {go_quote(location)}: {problem}"
            error = ProtocolError(url, detail)
            raise httpx.RemoteProtocolError(str(error), request=request) from error
        return super()._build_redirect_request(request, response)

    def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        # what httpx.Client.send does first (the client's timeout unless the request
        # has its own); done here so the deadline below sees it
        request.extensions.setdefault("timeout", self.timeout.as_dict())
        timeout = _client_timeout(request)
        now = self.clock.now()
        exchange = Exchange(self.clock, None if timeout is None else now + timeout, timeout)
        raw = request.extensions.get(_RAW_URL)
        if isinstance(raw, str):
            exchange.raw_url = raw
        try:
            with _within(exchange):
                return super().send(
                    request, stream=stream, auth=auth, follow_redirects=follow_redirects
                )
        except httpx.TooManyRedirects as exc:
            location = exchange.location or str(exc.request.url)
            error = ProtocolError(location, f"stopped after {MAX_REQUESTS} redirects")
            error.__cause__ = exc
            raise httpx.TooManyRedirects(str(error), request=exc.request) from error


def make_http_client(
    resolver: Resolver,
    *,
    clock: Clock,
    timeout: float = 30.0,
    max_connections: int = 10,
    verify: ssl.SSLContext | bool = True,
    dial_timeout: float = DIAL_TIMEOUT,
) -> DeadlineClient:
    """A :class:`DeadlineClient` that resolves through ``resolver`` and waits on ``clock``.

    ``timeout`` is Go's ``http.Client.Timeout`` in seconds (the controller's is 30 s):
    one deadline over lookup, connect, request, headers, redirects and the whole body.
    ``dial_timeout`` is the dialer's own limit (``http.DefaultTransport``: 30 s).  No
    proxies from the environment (``trust_env=False``): the cleanup talks to a
    cluster-internal Service, and an inherited ``HTTP_PROXY`` would bypass the very
    resolver under test.  Redirects are followed, like Go's ``http.Client``.
    """
    context: ssl.SSLContext | None
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif verify:
        # httpcore builds its default (certifi's CAs) when a TLS connection needs one:
        # loading the CA bundle costs ~20 ms a client, and the repo is plain http
        context = None
    else:
        context = httpx.create_ssl_context(verify=False, trust_env=False)
    the_clock: Clock = clock
    pool = httpcore.ConnectionPool(
        ssl_context=context,
        max_connections=max_connections,
        network_backend=ClockNetworkBackend(resolver, the_clock, dial_timeout=dial_timeout),
    )
    return DeadlineClient(
        clock=the_clock,
        transport=ResolvingTransport(pool),
        timeout=timeout,
        trust_env=False,
        follow_redirects=True,
    )

"""HTTP over httpx whose connections resolve through our resolver and wait on our clock.

Why not let httpx resolve: httpx (through httpcore's sync backend) calls
``socket.create_connection``, i.e. ``getaddrinfo`` and real-time socket timeouts.  The
simulation must run the *same* client in virtual time, against the resolver whose every
query it can observe.  So we plug in at httpcore's :class:`httpcore.NetworkBackend`: the
connection pool, HTTP/1.1, the ``Host`` header and TLS SNI stay httpx/httpcore's (they
see only the host *name*); only "turn a name into a connected socket" and "wait for a
socket" are ours.

Errors keep what really happened as their cause, so the classifier and an operator can
see it:

- a failed lookup: ``httpx.ConnectError`` whose ``__cause__`` is our
  :class:`~cleanup.DNSError` (also for a lookup that timed out: it is the *name* that
  failed, as in Go, where it is a DNSError with IsTimeout);
- a refused/reset/unreachable connection: ``httpx.ConnectError`` (``ReadError`` /
  ``WriteError`` once connected) whose cause is our :class:`~cleanup.ConnectError` with
  the URL and the ``IP:PORT`` dialled, whose cause is the ``OSError``;
- a timeout: ``httpx.ConnectTimeout`` / ``ReadTimeout`` / ``WriteTimeout`` /
  ``PoolTimeout`` whose cause is our :class:`~cleanup.RequestTimeout` (phase and limit).

Dialling follows Go's ``dialSerial``: addresses in the resolver's order, each given a
share of the connect timeout (``partialDeadline``: an equal share, at least 2 s), the
lookup itself counting against the same deadline.  The first error is reported.
(Go races IPv4 against IPv6 on a dual-stack host; we dial one address at a time.)

Real time still passes in two places, both outside the cleanup's normal path: httpcore's
pool waits on a thread event when all ``max_connections`` are busy (PoolTimeout), and
pooled keep-alive connections never expire by age (no ``keepalive_expiry``, since
httpcore would measure it in real time; a connection the server closed is noticed and
replaced).
"""

from __future__ import annotations

import contextlib
import errno as errno_mod
import ipaddress
import os
import socket
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

from cleanup._clock import Clock, SystemClock
from cleanup._errors import CleanupError, ConnectError, DNSError, RequestTimeout
from cleanup._resolver import Resolver

__all__ = ["ClockNetworkBackend", "ClockStream", "ResolvingTransport", "make_http_client"]

_SANE_MINIMUM = 2.0  # Go's partialDeadline: never less than this per address, if time allows

# errno -> ConnectError.reason, as the classifier maps them (EPIPE stays "other": Go's
# retry predicate does not list it).
_REASONS = {
    errno_mod.ECONNREFUSED: "refused",
    errno_mod.ECONNRESET: "reset",
    errno_mod.ENETUNREACH: "network-unreachable",
    errno_mod.EHOSTUNREACH: "host-unreachable",
    errno_mod.ENETDOWN: "network-down",
    errno_mod.ECONNABORTED: "aborted",
}


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


class ClockStream(httpcore.NetworkStream):
    """A connected non-blocking socket whose waits go through the clock."""

    def __init__(self, sock: socket.socket, clock: Clock, peer: str) -> None:
        self._sock = sock
        self._clock = clock
        self._peer = peer

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        while True:
            try:
                return self._sock.recv(max_bytes)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:
                want_write = isinstance(exc, ssl.SSLWantWriteError)
                if not _wait(self._clock, self._sock, timeout, write=want_write):
                    error = self._timeout(httpcore.ReadTimeout, "read", timeout)
                    raise error from error.__cause__
            except OSError as exc:
                error = self._broken(httpcore.ReadError, "read", exc)
                raise error from error.__cause__

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        while view:
            try:
                sent = self._sock.send(view)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:
                want_read = isinstance(exc, ssl.SSLWantReadError)
                if not _wait(self._clock, self._sock, timeout, write=not want_read):
                    error = self._timeout(httpcore.WriteTimeout, "write", timeout)
                    raise error from error.__cause__
                continue
            except OSError as exc:
                error = self._broken(httpcore.WriteError, "write", exc)
                raise error from error.__cause__
            view = view[sent:]

    def _timeout(self, kind: type[Exception], op: str, timeout: float | None) -> Exception:
        original = TimeoutError(f"{op} tcp {self._peer}: nothing for {timeout}s")
        return _fail(kind, f"{op} tcp {self._peer}: i/o timeout", original)

    def _broken(self, kind: type[Exception], op: str, exc: OSError) -> Exception:
        original = _os_error(exc.errno, self._peer) if exc.errno else exc
        text = _lower(exc.strerror or str(exc))
        return _fail(kind, f"{op} tcp {self._peer}: {op}: {text}", original)

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
                if not _wait(self._clock, tls, timeout, write=want_write):
                    tls.close()
                    original = TimeoutError(f"TLS handshake with {self._peer}: over {timeout}s")
                    message = f"TLS handshake with {self._peer}: i/o timeout"
                    error = _fail(httpcore.ConnectTimeout, message, original)
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
    """httpcore network backend: names through ``resolver``, every wait through ``clock``."""

    def __init__(self, resolver: Resolver, clock: Clock | None = None) -> None:
        self.resolver = resolver
        self.clock: Clock = clock if clock is not None else SystemClock()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        deadline = None if timeout is None else self.clock.now() + timeout
        literal = _literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                addresses = self.resolver.resolve(host, timeout=timeout)
            except DNSError as exc:
                error = _fail(httpcore.ConnectError, f"dial tcp: {exc}", exc)
                raise error from error.__cause__
        if not addresses:  # a resolver must raise instead, but never dial nothing
            raise httpcore.ConnectError(f"dial tcp: lookup {host}: no addresses")
        options = list(socket_options or ())
        first: BaseException | None = None
        for index, ip in enumerate(addresses):
            attempt_deadline = deadline
            if deadline is not None:
                attempt_deadline = _partial_deadline(
                    self.clock.now(), deadline, len(addresses) - index
                )
                if attempt_deadline is None:
                    first = first or TimeoutError(f"dial tcp {_address(ip, port)}: i/o timeout")
                    break
            try:
                return self._dial(ip, port, attempt_deadline, local_address, options)
            except (OSError, TimeoutError) as exc:
                first = first or exc
        assert first is not None
        if isinstance(first, TimeoutError):
            error = _fail(httpcore.ConnectTimeout, str(first), first)
            raise error from error.__cause__
        assert isinstance(first, OSError)
        where = first.filename or host
        message = f"dial tcp {where}: connect: {_lower(first.strerror or str(first))}"
        error = _fail(httpcore.ConnectError, message, first)
        raise error from error.__cause__

    def _dial(
        self,
        ip: str,
        port: int,
        deadline: float | None,
        local_address: str | None,
        options: list[Any],
    ) -> ClockStream:
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
                remaining = None if deadline is None else deadline - self.clock.now()
                if (remaining is not None and remaining <= 0) or not _wait(
                    self.clock, sock, remaining, write=True
                ):
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

_PHASES = {
    httpcore.ConnectTimeout: "connect",
    httpcore.ReadTimeout: "read",
    httpcore.WriteTimeout: "write",
    httpcore.PoolTimeout: "pool",
}


def _explain(exc: Exception, request: httpx.Request) -> BaseException:
    """The cause to attach to the httpx exception: one of our errors where we have one."""
    url = str(request.url)
    original = getattr(exc, "original", None) or exc.__cause__
    if isinstance(original, CleanupError):
        return original
    for kind, phase in _PHASES.items():
        if isinstance(exc, kind):
            limits = request.extensions.get("timeout", {})
            limit = limits.get(phase) if isinstance(limits, dict) else None
            timeout = RequestTimeout(url, phase, limit)
            timeout.__cause__ = original or exc
            return timeout
    if isinstance(original, OSError) and original.errno is not None:
        reason = _REASONS.get(original.errno, "other")
        address = original.filename or request.url.netloc.decode("ascii")
        error = ConnectError(url, str(address), reason, "" if reason != "other" else str(exc))
        error.__cause__ = original
        return error
    return exc


@contextlib.contextmanager
def _mapped(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        target = next((_EXCEPTIONS[k] for k in type(exc).__mro__ if k in _EXCEPTIONS), None)
        if target is None:
            raise
        cause = _explain(exc, request)
        raise target(str(cause), request=request) from cause


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        with _mapped(self._request):
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class ResolvingTransport(httpx.BaseTransport):
    """httpx transport over an httpcore pool, mapping errors with our causes.

    The same request/response plumbing as ``httpx.HTTPTransport``; it exists because
    httpx's own mapping makes the *httpcore* exception the cause, hiding our DNSError
    one level further down.
    """

    def __init__(self, pool: httpcore.ConnectionPool) -> None:
        self._pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
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
        with _mapped(request):
            response = self._pool.handle_request(core_request)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream, request),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def make_http_client(
    resolver: Resolver,
    *,
    clock: Clock | None = None,
    timeout: float = 30.0,
    max_connections: int = 10,
    verify: ssl.SSLContext | bool = True,
) -> httpx.Client:
    """An ``httpx.Client`` that resolves through ``resolver`` and waits on ``clock``.

    ``timeout`` is httpx's per-phase timeout (connect, including the lookup; each read;
    each write; pool).  No proxies from the environment (``trust_env=False``): the
    cleanup talks to a cluster-internal Service, and an inherited ``HTTP_PROXY`` would
    bypass the very resolver under test.  Redirects are followed, like Go's
    ``http.Client``.
    """
    if isinstance(verify, ssl.SSLContext):
        context = verify
    else:
        context = httpx.create_ssl_context(verify=verify, trust_env=False)
    pool = httpcore.ConnectionPool(
        ssl_context=context,
        max_connections=max_connections,
        network_backend=ClockNetworkBackend(resolver, clock),
    )
    return httpx.Client(
        transport=ResolvingTransport(pool),
        timeout=timeout,
        trust_env=False,
        follow_redirects=True,
    )

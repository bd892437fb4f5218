"""httpcore's network backend for :mod:`cleanup._transport`: names through our resolver,
every wait through the clock, dialled as Go's ``net.Dialer``.

Why not let httpx resolve: httpx (through httpcore's sync backend) calls
``socket.create_connection``, i.e. ``getaddrinfo`` and real-time socket timeouts.  The
simulation must run the *same* client in virtual time, against the resolver whose every
query it can observe.  So we plug in at httpcore's :class:`httpcore.NetworkBackend`: the
connection pool, HTTP/1.1, the ``Host`` header and TLS SNI stay httpx/httpcore's (they
see only the host *name*); only "turn a name into a connected socket" and "wait for a
socket" are ours.

Dialling follows Go 1.23's ``Dialer`` as ``http.DefaultTransport`` configures it: its
own 30 s timeout over lookup and connect (``Dialer.Timeout``) and ``dialSerial``:
addresses in the resolver's order, each given a share of what is left of those 30 s
(``partialDeadline``: an equal share, at least 2 s).  The first error is reported.  The
dial is detached from the request (``Transport.getConn``: ``context.WithoutCancel``), so
the shares never shrink with the request's deadline; the request itself still fails at
its deadline with the Client.Timeout text, whatever the dial was doing.  Not modelled:
the detached dial going on after the request ended (Go then keeps a late connection in
its idle pool, and its lookup may send more queries).

Each wait is capped by the request's deadline (:class:`cleanup._exchange.Exchange`,
read from its context variable).  A failure is raised as the httpcore exception the pool
expects, carrying what really happened (the :class:`~cleanup.DNSError`, ``OSError`` with
the peer address, or ``TimeoutError`` with Go's ``i/o timeout`` text) in ``original``;
:mod:`cleanup._http_errors` turns it into Go's error.
"""

from __future__ import annotations

import errno as errno_mod
import os
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

from cleanup._clock import Clock
from cleanup._errors import AddrError, DNSError
from cleanup._exchange import _ATTEMPT, _EXCHANGE, HALF_NS, _limit
from cleanup._gotext import go_strerror
from cleanup._resolvconf import ip_literal_text as _ip_literal
from cleanup._resolver import Resolver

__all__ = ["DIAL_TIMEOUT", "ClockNetworkBackend", "ClockStream"]

_SANE_MINIMUM = 2.0  # Go's partialDeadline: never less than this per address, if time allows
DIAL_TIMEOUT = 30.0  # http.DefaultTransport's net.Dialer{Timeout: 30 * time.Second}
_HEAD_LIMIT = 64 * 1024  # bytes of a response head kept to name what was wrong with it


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
                if attempt is not None:
                    attempt.write_error = error  # httpcore reads on; Go reports this
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
        text = go_strerror(exc)
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
        if not addresses:
            # a name with no candidate to ask (.onion): Go's dialer fails with
            # errNoSuitableAddress for the host (net/dial.go, filterAddrList)
            no_address = AddrError("no suitable address found", name)
            error = _fail(httpcore.ConnectError, f"dial tcp: {no_address}", no_address)
            raise error from error.__cause__
        options = list(socket_options or ())
        first: BaseException | None = None
        for index, ip in enumerate(addresses):
            now = self.clock.now()
            if request_deadline is not None and now >= request_deadline - HALF_NS:
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
        if request_deadline is not None and self.clock.now() >= request_deadline - HALF_NS:
            # whatever the dial has met so far, the request ended at its deadline
            message = f"dial tcp {host}:{port}: request deadline"
            error = _fail(httpcore.ConnectTimeout, message, TimeoutError(message))
            raise error from error.__cause__
        assert first is not None
        if isinstance(first, TimeoutError) and first.errno is None:
            # our own wait ran out (a connect failing with ETIMEDOUT is an errno below)
            error = _fail(httpcore.ConnectTimeout, str(first), first)
            raise error from error.__cause__
        assert isinstance(first, OSError)
        first.op = "dial"  # type: ignore[attr-defined]
        where = first.filename or host
        message = f"dial tcp {where}: connect: {go_strerror(first)}"
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
            # Go waits on EINPROGRESS, EALREADY and EINTR (fd_unix.go ``connect``); any
            # other errno, EAGAIN (no local port left) among them, is the dial's error
            if code in (errno_mod.EINPROGRESS, errno_mod.EALREADY, errno_mod.EINTR):
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
    """The address a URL host that is an IP literal dials, else None (a name to look up).

    Go's dialer parses the host (``net.Dialer`` -> ``internetAddrList``:
    ``netip.ParseAddr``) and sends no query; an IPv4-mapped IPv6 address
    (``[::ffff:127.0.0.1]``, RFC 4291 2.5.5.2) is an IPv4 address to Go: it dials
    ``127.0.0.1`` over IPv4 and names it so in its errors.  The rule is the resolver's
    literal short cut (one copy: :func:`cleanup._resolver._ip_literal`).
    """
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return _ip_literal(text)


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

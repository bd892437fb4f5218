"""HTTP over httpx that fails when, how and as fast as Go's ``http.Client{Timeout: T}``.

The HTTP stack is four modules, read in this order: this one (the client and its
transport: one deadline, redirects, compression, Go's keep-alive retry);
:mod:`cleanup._exchange` (the request in flight, carried in context variables to
everything below); :mod:`cleanup._backend` (httpcore's network backend: names through
our resolver, every wait through the clock, Go's dial); :mod:`cleanup._http_errors`
(Go's ``net/http`` error texts, and how httpcore's failures become them).

**One deadline per request** (Go's ``Client.Timeout``, ``net/http/client.go``:
``Client.deadline``, ``setRequestCancel``): :class:`DeadlineClient` fixes
``deadline = now + T`` when ``send`` starts, and the lookup, every connect, the request
write, the response headers, every redirect hop and the whole body get only what is
left of it.  httpx's own timeouts are per phase and restart with every byte; here a byte
arriving never restarts anything.  The deadline travels to the network backend in a
context variable (:class:`cleanup._exchange.Exchange`), and every wait goes through the
injected :class:`~cleanup.Clock`, so the simulation runs this code in virtual time.

Failures are Go's errors (``Get "URL": dial tcp: lookup NAME on SERVER: no such
host``, ``... (Client.Timeout exceeded while awaiting headers)``, ...), each the
``__cause__`` of the httpx exception raised; :mod:`cleanup._http_errors` lists them.

Compression as Go's ``Transport``: a request naming no ``Accept-Encoding`` asks for
``gzip`` and a gzip body is decoded (:class:`cleanup._gogzip.GoGzipDecoder`), with
``Content-Encoding`` and ``Content-Length`` dropped from the response.

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

import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

from cleanup._backend import DIAL_TIMEOUT, ClockNetworkBackend
from cleanup._clock import Clock
from cleanup._errors import ProtocolError
from cleanup._exchange import _ATTEMPT, _EXCHANGE, Exchange, _Attempt, _within
from cleanup._gogzip import GoGzipDecoder, GzipError
from cleanup._gotext import go_quote
from cleanup._gourl import go_url_error
from cleanup._http_errors import _mapped
from cleanup._resolver import Resolver

__all__ = [
    "HTTP_CLIENT_TIMEOUT",
    "MAX_REQUESTS",
    "DeadlineClient",
    "ResolvingTransport",
    "make_http_client",
]

#: The controller's ``http.Client`` ``Timeout`` in seconds: "Each HTTP attempt has a 30 s
#: client timeout" (/work/shared/reference/harvester-image-cleanup.md, "The retry
#: policy").  The one default of :func:`make_http_client`, :class:`~cleanup.RepoClient`
#: and ``cleanup run --http-timeout``.
HTTP_CLIENT_TIMEOUT = 30.0
MAX_REQUESTS = 10  # Go's defaultCheckRedirect: "stopped after 10 redirects" on the 10th
_REDIRECTS = frozenset({301, 302, 303, 307, 308})  # Go's redirectBehavior (and httpx's)

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
        A fresh connection's failure is final; when the write of the request failed,
        that is the failure (Go's ``roundTrip`` returns the ``writeErrCh`` error at once;
        httpcore swallows it and reads on, meeting an EOF or a reset instead)."""
        while True:
            attempt = _Attempt()
            token = _ATTEMPT.set(attempt)
            try:
                return self._pool.handle_request(request)
            except (httpcore.ReadError, httpcore.WriteError, httpcore.RemoteProtocolError) as exc:
                expired = exchange is not None and exchange.expired()
                if not attempt.reused or attempt.answered or expired:
                    if attempt.write_error is not None and not expired:
                        raise attempt.write_error from attempt.write_error.__cause__
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
    timeout: float = HTTP_CLIENT_TIMEOUT,
    max_connections: int = 10,
    verify: ssl.SSLContext | bool = True,
    dial_timeout: float = DIAL_TIMEOUT,
) -> DeadlineClient:
    """A :class:`DeadlineClient` that resolves through ``resolver`` and waits on ``clock``.

    ``timeout`` is Go's ``http.Client.Timeout`` in seconds (the controller's is 30 s,
    :data:`HTTP_CLIENT_TIMEOUT`): one deadline over lookup, connect, request, headers,
    redirects and the whole body.
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

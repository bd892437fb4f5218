"""The request in flight, as Go's ``http.Client.Do`` sees it.

:class:`Exchange` holds one ``send``'s deadline (``Client.Timeout``, absolute on the
injected clock), the URL as the caller wrote it and the last redirect's ``Location``;
:class:`_Attempt` one try of Go's ``Transport.roundTrip`` loop on a pooled connection.
:class:`cleanup._transport.DeadlineClient` and its transport set them in context
variables, because the code that must see them runs deep inside httpcore's pool, which
passes only per-phase timeouts down: the network backend (:mod:`cleanup._backend`) caps
every wait by the deadline and notes reuse and the response head on the attempt, and
the error mapping (:mod:`cleanup._http_errors`) tells Go's Client.Timeout from other
failures.  State only: no I/O.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from cleanup._clock import Clock

__all__ = ["HALF_NS", "Exchange"]

#: Half a nanosecond, in seconds: a deadline counts as reached once ``now >= deadline -
#: HALF_NS``.  Go's clocks and deadlines are integer nanoseconds (``time.Time``,
#: ``context.WithDeadline``), ours float seconds, where a wait of ``deadline - now`` can
#: end a rounding error short of ``deadline``; a reading within half a nanosecond of it
#: is, on Go's integer clock, the deadline itself.
HALF_NS = 0.5e-9


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
        return self.deadline is not None and self.clock.now() >= self.deadline - HALF_NS

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
    #: the error of a failed write of the request: httpcore swallows it and reads on
    #: (for a server that answers early), Go's ``roundTrip`` returns it at once
    write_error: BaseException | None = None


_ATTEMPT: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "cleanup_http_attempt", default=None
)


def _limit(timeout: float | None) -> float | None:
    exchange = _EXCHANGE.get()
    return timeout if exchange is None else exchange.limit(timeout)

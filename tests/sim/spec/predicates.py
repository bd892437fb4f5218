"""The retry-or-stop decision: Harvester's "retriable network error", as we read it.

What the reference says (/work/shared/reference/harvester-image-cleanup.md, "The retry
policy"; we have no copy of ``pkg/util/network.go``), word for word: retried only when
the error is a "retriable network error": "connection refused, reset, network
down/unreachable, host unreachable, timed out (any timeout), and DNS errors" - before
the fix (v1.4.x) "DNS errors only when ``IsTemporary``", after it (v1.5.0) "DNS errors
when ``IsTemporary || IsTimeout || IsNotFound``".

Our reading of it, in Go (not a quote)::

    os.IsTimeout(err) ||
    errors.Is(err, ENETDOWN | ENETUNREACH | ECONNRESET | ETIMEDOUT | ECONNREFUSED | EHOSTUNREACH) ||
    errors.As(err, &dnsError) && (dnsError.IsTemporary                          // v1.4
                                  || dnsError.IsTimeout || dnsError.IsNotFound)  // v1.5

The named conditions are the six errnos, found anywhere in the error chain
(``errors.Is``); "timed out (any timeout)" is Go's ``Timeout()`` of the error, looked
for through the chain as ``os.IsTimeout`` does (``*url.Error`` and ``*net.OpError``
pass it through; an ``*os.SyscallError`` asks its ``syscall.Errno``; a ``*DNSError``
answers its ``IsTimeout``).  So a DNS timeout is retried in v1.4 already, and so is
any errno whose ``Timeout()`` is true: EAGAIN (a dial with no local port left, errno15)
is retried because of this reading, not because the reference names it.  Anything
else - an "unexpected status" (any HTTP status but 200), an invalid or incomplete list
(``io.ErrUnexpectedEOF`` is none of the errnos above) - ends the loop at once.

An error *class* here is a plain tuple the properties derive from the world:
``("dns", DNSFlags)``, ``("connect", reason)`` with reason one of ``refused``,
``reset``, ``network-unreachable``, ``host-unreachable``, ``network-down``,
``timed-out``; ``("errno", n)`` (a socket call failed with errno ``n``, any of
``spec.go_errno``'s: retried when its ``Timeout()`` is true, as ``os.IsTimeout`` sees
it through the ``*url.Error`` and ``*net.OpError``, or when it is one of the six
errnos above; of the coarse kind ``connect``); ``("timeout", phase)`` (a request
that outlived its client timeout);
``("status", code)``; ``("protocol", detail)`` (Go's ``EOF`` before a response,
``unexpected EOF`` in a body); ``("list", why)``; ``("unexpected", what)``: a failure
no rule of the classifier names (README "HTTP", after the error table: what another
stack raises that is none of a lookup failure, a timeout, a socket error with a known
errno, a connection ended early or a connect/read/write failure), which nothing
retries: retrying what nobody understands would hide it for the whole budget.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from tests.sim.spec import go_errno
from tests.sim.spec.go_dns import DNSFlags

__all__ = [
    "CONNECT_RETRIED",
    "KINDS",
    "RETRIED_ERRNOS",
    "ErrorClass",
    "generated",
    "kind_of",
    "retriable",
]

ErrorClass = tuple[str, Any]

#: the errnos ``IsRetriableNetworkError`` names, by the reason names the classes use
CONNECT_RETRIED = frozenset(
    {"refused", "reset", "network-unreachable", "host-unreachable", "network-down", "timed-out"}
)

#: the same errnos by Go's constant names (``spec.go_errno``)
RETRIED_ERRNOS = frozenset(
    {"ECONNREFUSED", "ECONNRESET", "ENETUNREACH", "EHOSTUNREACH", "ENETDOWN", "ETIMEDOUT"}
)

#: coarse kinds generated predicates choose from
KINDS = (
    "dns-not-found",
    "dns-timeout",
    "dns-temporary",
    "connect",
    "timeout",
    "status",
    "protocol",
    "list",
)


def retriable(predicate: str, error: ErrorClass) -> bool:
    """Harvester ``predicate`` (``"v1.4"`` or ``"v1.5"``) on an error class."""
    what, detail = error
    if what == "timeout":
        return True  # os.IsTimeout
    if what == "connect":
        return bool(detail in CONNECT_RETRIED)
    if what == "errno":
        # a socket call failed with errno ``detail``: os.IsTimeout sees the errno's
        # Timeout() through *url.Error and *net.OpError; errors.Is finds the errno
        row = go_errno.entry(detail)
        return row.timeout or bool(RETRIED_ERRNOS & set(row.names))
    if what == "dns":
        flags: DNSFlags = detail
        if flags.timeout:  # os.IsTimeout sees DNSError.Timeout()
            return True
        if predicate == "v1.4":
            return flags.temporary
        if predicate == "v1.5":
            return flags.temporary or flags.not_found
        raise ValueError(f"unknown predicate {predicate!r}")
    return False  # status, protocol (io.EOF is none of the errnos), list


def kind_of(error: ErrorClass) -> set[str]:
    """The :data:`KINDS` an error class belongs to (a DNS error may have several flags)."""
    what, detail = error
    if what == "dns":
        flags: DNSFlags = detail
        kinds = set()
        if flags.not_found:
            kinds.add("dns-not-found")
        if flags.timeout:
            kinds.add("dns-timeout")
        if flags.temporary:
            kinds.add("dns-temporary")
        return kinds
    if what == "errno":
        return {"connect"}
    return {what}


def generated(kinds: Collection[str]) -> Callable[[ErrorClass], bool]:
    """A predicate retrying exactly the errors of some of ``kinds``."""
    chosen = frozenset(kinds)
    return lambda error: bool(kind_of(error) & chosen)

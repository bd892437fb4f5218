"""Go 1.23's cgo resolver (``getaddrinfo``), restated: the addresses, or the
``*net.DNSError``, Go makes of what the C library answered.

Sources (Go 1.23.9, ``$GOROOT/src/net``)::

    lookup.go    Resolver.lookupIPAddr: if ip, err := netip.ParseAddr(host); err == nil {
                     return []IPAddr{{IP: IP(ip.AsSlice()).To16(), Zone: ip.Zone()}}
                 (an IP literal never reaches getaddrinfo: spec.ip_literal)
    cgo_unix.go  cgoLookupHostIP: getaddrinfo(name, nil, {AI_CANONNAME|AI_V4MAPPED|AI_ALL,
                     AF_UNSPEC, SOCK_STREAM})
                 gerrno != 0:
                     EAI_NONAME, EAI_NODATA -> newDNSError(errNoSuchHost, name, "")
                     EAI_SYSTEM             -> newDNSError(errno, name, ""), errno
                                               EMFILE when the C library set none
                                               (golang.org/issue/6232)
                     any other              -> newDNSError(addrinfoErrno(gerrno), name, "")
                 else, for each addrinfo in the list's order: skip socktype != SOCK_STREAM;
                     AF_INET  -> IPAddr{IP: sin_addr}
                     AF_INET6 -> IPAddr{IP: sin6_addr, Zone: zoneCache.name(sin6_scope_id)}
                     any other family skipped; nothing removed as a duplicate
    cgo_unix.go  addrinfoErrno: Error() = gai_strerror(code); Temporary() = code ==
                     EAI_AGAIN; Timeout() = false
    net.go       newDNSError: IsTimeout/IsTemporary from the error's methods, IsNotFound
                     for errNoSuchHost ("no such host")
    interface.go zoneCache.name(index): "" for 0, the interface's name, else the
                     index in decimal
    ip.go        IPAddr.String: IP.String (an IPv4-mapped IPv6 address as dotted IPv4),
                     then "%zone" when there is one

So EAI_AGAIN (glibc's answer to SERVFAIL and to silence) is temporary; EAI_FAIL
(REFUSED, FORMERR, NOTIMP) is not, nor is any other code; no code is a timeout.  A
``syscall.Errno`` (EAI_SYSTEM) carries its own ``Temporary``/``Timeout``
(:data:`ERRNOS`; ``syscall_unix.go``: temporary for EINTR, EMFILE, ENFILE and the
timeouts; timeout for EAGAIN/EWOULDBLOCK and ETIMEDOUT).

The controller is built ``CGO_ENABLED=0``: its resolver is always the pure-Go one
(``spec.go_dns``), and this path is never taken on a node.  It is still Go's rule for
the same question, and cleanup's ``SystemResolver`` feeds the same retry predicates, so
its errors must mean what Go's would.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from tests.sim.spec.go_dns import DNSFlags

__all__ = [
    "EAI_AGAIN",
    "EAI_NODATA",
    "EAI_NONAME",
    "EAI_SYSTEM",
    "ERRNOS",
    "GoDNSError",
    "addresses",
    "error_of",
    "zone_name",
]

# glibc's <netdb.h> codes (getaddrinfo returns them negative)
EAI_NONAME = -2
EAI_AGAIN = -3
EAI_NODATA = -5
EAI_SYSTEM = -11

#: Go's ``syscall.Errno`` for the errnos an EAI_SYSTEM may carry: its text
#: (``zerrors_linux_amd64.go``), ``Temporary()`` (EINTR, EMFILE, ENFILE or a timeout)
#: and ``Timeout()`` (EAGAIN/EWOULDBLOCK, ETIMEDOUT) (``syscall_unix.go``)
ERRNOS: dict[str, tuple[str, bool, bool]] = {
    "EINTR": ("interrupted system call", True, False),
    "EMFILE": ("too many open files", True, False),
    "ENFILE": ("too many open files in system", True, False),
    "EAGAIN": ("resource temporarily unavailable", True, True),
    "ETIMEDOUT": ("connection timed out", True, True),
    "ECONNRESET": ("connection reset by peer", False, False),
    "ENOMEM": ("cannot allocate memory", False, False),
    "EACCES": ("permission denied", False, False),
}

#: the errno Go puts in an EAI_SYSTEM the C library gave none (``cgo_unix.go``:
#: "sometimes getaddrinfo returns gerrno == EAI_SYSTEM with err == nil on Linux")
NO_ERRNO_MEANS = "EMFILE"

_MAPPED_PREFIX = bytes(10) + b"\xff\xff"


@dataclass(frozen=True)
class GoDNSError:
    """Go's ``*net.DNSError`` for a failed ``getaddrinfo``: ``Err`` and the flags."""

    err: str
    flags: DNSFlags


def error_of(code: int, strerror: str = "", errno_name: str = "") -> GoDNSError:
    """Go's error for ``getaddrinfo`` failing with ``code``: ``strerror`` is
    ``gai_strerror(code)`` (the C library's text); for EAI_SYSTEM ``errno_name`` (a key
    of :data:`ERRNOS`) names the errno."""
    if code in (EAI_NONAME, EAI_NODATA):
        return GoDNSError("no such host", DNSFlags(not_found=True, timeout=False, temporary=False))
    if code == EAI_SYSTEM:
        # an EAI_SYSTEM with errno 0 happens on Linux: Go then says EMFILE (issue 6232)
        text, temporary, timeout = ERRNOS[errno_name or NO_ERRNO_MEANS]
        return GoDNSError(text, DNSFlags(not_found=False, timeout=timeout, temporary=temporary))
    return GoDNSError(
        strerror, DNSFlags(not_found=False, timeout=False, temporary=code == EAI_AGAIN)
    )


def zone_name(index: int) -> str:
    """Go ``zoneCache.name``: "" for 0, the interface's name, else the decimal index."""
    if index == 0:
        return ""
    try:
        return socket.if_indextoname(index)
    except OSError:
        return str(index)


def addresses(infos: Sequence[tuple[int, int, bytes, int]]) -> list[str]:
    """Go's addresses (``IPAddr.String``) for a ``getaddrinfo`` result given as
    ``(family, socktype, packed address, scope id)`` entries in the library's order."""
    out: list[str] = []
    for family, socktype, packed, scope in infos:
        if socktype != socket.SOCK_STREAM or family not in (socket.AF_INET, socket.AF_INET6):
            continue
        raw = (
            packed[12:]
            if family == socket.AF_INET6 and packed.startswith(_MAPPED_PREFIX)
            else packed
        )
        text = str(ipaddress.ip_address(raw))
        zone = zone_name(scope) if family == socket.AF_INET6 else ""
        out.append(f"{text}%{zone}" if zone else text)
    return out

"""The C library's resolver (``getaddrinfo``), held to Go's cgo resolver.

One idea apart from :mod:`cleanup._resolver` (the pure-Go stub resolver the
controller runs): this path blocks in real time, cannot be bounded or observed, and
reads nothing of the pod's resolv.conf itself; it is for a plain Python client on a
real node.  Its errors come from :func:`cleanup._classify.getaddrinfo_error`.
"""

from __future__ import annotations

import socket

from cleanup._classify import getaddrinfo_error
from cleanup._resolvconf import ip_literal_text as _ip_literal

__all__ = ["SystemResolver"]


class SystemResolver:
    """The C library's resolver via ``getaddrinfo`` (what a plain Python client uses),
    held to Go's cgo resolver (``net/cgo_unix.go``, ``cgoLookupHostIP``).

    It blocks in real time and cannot be bounded or observed, so it is for real nodes,
    not for the simulation.  The controller, built ``CGO_ENABLED=0``, never takes this
    path (its resolver is the pure-Go one, :class:`StubResolver`); a Go program built
    with cgo would, and the retry predicates read this resolver's errors the same way,
    so they follow Go's cgo rules:

    - an IP literal is returned as Go's ``lookupIPAddr`` short cut prints it, without
      calling ``getaddrinfo``;
    - the addresses are ``getaddrinfo``'s (``AF_UNSPEC``, ``SOCK_STREAM``) in its
      order, duplicates kept (Go removes none, and its dial shares the deadline among
      them), each as ``IPAddr.String`` prints it: an IPv4-mapped address as IPv4, an
      IPv6 scope id as ``%`` and the interface's name (or the index when no interface
      has it: ``zoneCache.name``);
    - a failure becomes a DNSError by :func:`cleanup._classify.getaddrinfo_error`:
      EAI_NONAME/EAI_NODATA are "no such host" (IsNotFound); any other code keeps
      ``gai_strerror``'s text and is temporary only for EAI_AGAIN (glibc's answer to
      SERVFAIL *and* to silence), EAI_FAIL is not; EAI_SYSTEM is its errno's.
    """

    def resolve(self, host: str, *, timeout: float | None = None) -> list[str]:
        literal = _ip_literal(host)
        if literal is not None:
            return [literal]
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:  # gaierror, or EAI_SYSTEM's errno
            raise getaddrinfo_error(exc, host) from exc
        addresses: list[str] = []
        for family, kind, _proto, _name, sockaddr in infos:
            if kind != socket.SOCK_STREAM or family not in (socket.AF_INET, socket.AF_INET6):
                continue  # cgoLookupHostIP skips them
            address = _ip_literal(str(sockaddr[0])) or str(sockaddr[0])
            scope = int(sockaddr[3]) if len(sockaddr) == 4 else 0  # AF_INET6's scope id
            if scope and "%" not in address:
                address += "%" + _zone_name(scope)
            addresses.append(address)
        return addresses


def _zone_name(index: int) -> str:
    """Go ``zoneCache.name``: the interface's name for an IPv6 scope id, else the
    index in decimal."""
    try:
        return socket.if_indextoname(index)
    except OSError:
        return str(index)

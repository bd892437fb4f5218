"""Go 1.23's IP-literal short cuts: a host that is an IP address is never looked up.

Sources (Go 1.23.9, ``CGO_ENABLED=0``; each rule also checked with a Go program)::

    net.Resolver.lookupIPAddr:  if ip, err := netip.ParseAddr(host); err == nil {
                                    return []IPAddr{{IP: IP(ip.AsSlice()).To16(), Zone: ip.Zone()}}
    net.Dialer (internetAddrList): the same ParseAddr on the host of "host:port"
    net/http: the URL host "[::1]" is dialled as "[::1]:port" (brackets are the URL's)

So no DNS query is sent, whatever the DNS is doing.  ``netip.ParseAddr`` takes a bare
address (no brackets, no port, no space; no leading zeros in IPv4 octets), then for
IPv6 an optional zone: *any* non-empty text after the first ``%`` (``fe80::1%eth0 ``
has the zone ``"eth0 "``, ``fe80::1%a%b`` the zone ``"a%b"``; ``fe80::1%`` and
``1.2.3.4%eth0`` are refused).  ``IP.String`` prints an IPv4-mapped IPv6 address
(``::ffff:a.b.c.d``, RFC 4291 2.5.5.2: 80 zero bits, 16 one bits, the IPv4 address) as
the dotted IPv4 address, so ``LookupIPAddr("::ffff:10.0.0.1")`` is ``10.0.0.1`` and the
dial of ``http://[::ffff:127.0.0.1]:P/`` is named ``127.0.0.1:P`` in Go's errors
(``dial tcp 127.0.0.1:P: connect: connection refused``).  A bracketed host is no
address to the resolver: ``LookupIPAddr("[::1]")`` is ``lookup [::1]: no such host``,
and it is no domain name either, so that too sends nothing.
"""

from __future__ import annotations

import ipaddress

__all__ = ["dial_address", "is_address", "lookup"]

_MAPPED_PREFIX = bytes(10) + b"\xff\xff"


def _parse(text: str) -> tuple[bytes, str] | None:
    """(address bytes, zone) for what ``netip.ParseAddr`` accepts, else None.

    ``parseIPv6`` splits the text at its first ``%``: the zone is whatever follows (any
    non-empty text: spaces, ``%``, non-ASCII); only the address before it is strict.
    """
    address, percent, zone = text.partition("%")
    if percent and zone == "":
        return None  # "fe80::1%": an empty zone is refused
    if any(ch not in "0123456789abcdefABCDEF.:" for ch in address):
        return None  # no space, bracket or other byte in the address part
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None  # leading zeros in an IPv4 octet ("010.0.0.1") are refused too
    if percent and ip.version == 4:
        return None  # ParseAddr takes "1.2.3.4%z" as IPv4, which has no zone
    return ip.packed, zone


def is_address(text: str) -> bool:
    """Whether ``netip.ParseAddr`` accepts ``text`` (resolv.conf's ``nameserver`` rule)."""
    return _parse(text) is not None


def _printed(packed: bytes, zone: str) -> str:
    """``net.IPAddr.String``: IPv4 (4 bytes, or 16 with the mapped prefix) dotted,
    IPv6 in RFC 5952 form, then ``%zone``."""
    if len(packed) == 16 and packed.startswith(_MAPPED_PREFIX):
        packed = packed[12:]
    text = str(ipaddress.ip_address(packed))
    return f"{text}%{zone}" if zone else text


def lookup(host: str) -> list[str] | None:
    """Go's ``LookupIPAddr(host)`` printed, when ``host`` is an IP literal (no query);
    None when it is not (Go goes on to the hosts file and DNS, or to "no such host")."""
    parsed = _parse(host)
    return None if parsed is None else [_printed(*parsed)]


def dial_address(url_host: str, port: int) -> str | None:
    """How Go names the address it dials for a URL whose host is ``url_host`` (as the
    URL writes it: ``127.0.0.1``, ``[::1]``), or None when the host is a name."""
    bare = url_host[1:-1] if url_host.startswith("[") and url_host.endswith("]") else url_host
    parsed = _parse(bare)
    if parsed is None:
        return None
    text = _printed(*parsed)
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"

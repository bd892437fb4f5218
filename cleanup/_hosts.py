"""Reading /etc/hosts exactly as Go 1.23's pure resolver does (``net/hosts.go``).

The controller's pure-Go resolver, with ``hosts: files dns`` (nsswitch.conf, or Go's
default when the file is missing), answers a name from the hosts file before any DNS
query (``goLookupIPCNAMEOrder``): ``localhost`` is 127.0.0.1 (and ::1) without a packet
sent, and a name the file lists never reaches the search list.  Go's rules (``readHosts``,
``lookupStaticHost``, ``goLookupIPFiles``):

- Lines are read as resolv.conf's are (``\\n`` ends a line, 64 KiB buffer); a ``#``
  *anywhere* starts a comment; fields are split at space, tab, ``\\r``, ``\\n``.
- A line needs an address and at least one name.  The address must pass
  ``netip.ParseAddr`` (IPv6 zones allowed, ``fe80::1%eth0``; no zone on IPv4); a line
  whose address does not is skipped.
- Names are keyed in ASCII lower case, and a name *with a dot* gets a trailing dot
  (Go ``absDomainName``): ``My.Host`` matches ``my.host`` and ``MY.HOST.``, but
  ``localhost.`` does not match the entry ``localhost`` (Go then asks DNS).
- A name on several lines collects every line's address, in file order.
- An IPv4-mapped IPv6 address is returned as IPv4 (Go's ``IP.String``); a zone stays
  (``fe80::1%eth0``).  Go then sorts the list by RFC 6724 using the node's routes
  (``::1`` before ``127.0.0.1`` on a dual-stack node); we keep file order, as we keep
  completion order for DNS answers.
- A file that does not exist or may not be read is an empty table, as in Go.

Go re-reads the file when its size or mtime changes (checked at most every 5 s); we read
it once, when the resolver is made, so a lookup never touches the file system (the
simulation runs lookups in virtual time).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cleanup._resolvconf import _fields, _lines, ip_literal_text, read_text_or_file

__all__ = ["DEFAULT_HOSTS", "HostsTable", "parse_hosts", "read_hosts"]

DEFAULT_HOSTS = "/etc/hosts"


def _abs_domain_name(name: str) -> str:
    """Go ``absDomainName``: a trailing dot only for a name that has a dot."""
    return name + "." if "." in name and not name.endswith(".") else name


def _lower_ascii(text: str) -> str:
    """Go ``lowerASCIIBytes``: only A-Z fold (``str.lower`` would fold non-ASCII too)."""
    return "".join(chr(ord(ch) + 32) if "A" <= ch <= "Z" else ch for ch in text)


@dataclass(frozen=True)
class HostsTable:
    """Go's ``hosts.byName``: lower-cased name key -> addresses in file order.

    ``canonical`` maps the same keys to the first name of the line that first listed
    the name (Go's canonical name, lower-cased).
    """

    by_name: dict[str, tuple[str, ...]] = field(default_factory=dict)
    canonical: dict[str, str] = field(default_factory=dict)

    def lookup(self, host: str) -> tuple[str, ...]:
        """Go ``goLookupIPFiles(host)``: the addresses the file gives ``host``, or ``()``."""
        return self.by_name.get(_abs_domain_name(_lower_ascii(host)), ())


def parse_hosts(text: str | bytes) -> HostsTable:
    """Parse hosts-file content as Go's ``readHosts`` does (see the module docstring)."""
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    by_name: dict[str, list[str]] = {}
    canonical: dict[str, str] = {}
    for line in _lines(data):
        fields = _fields(line.split("#", 1)[0])
        if len(fields) < 2:
            continue
        address = ip_literal_text(fields[0])  # Go parseLiteralIP, IPAddr.String
        if address is None:
            continue
        first = ""
        for index, name in enumerate(fields[1:]):
            key = _abs_domain_name(_lower_ascii(name))
            if index == 0:
                first = key
            by_name.setdefault(key, []).append(address)
            canonical.setdefault(key, first)
    return HostsTable({k: tuple(v) for k, v in by_name.items()}, canonical)


def read_hosts(path_or_text: str | os.PathLike[str] | None) -> HostsTable:
    """A hosts file (or its text, when the string has a newline); ``None``: no table.

    A file that cannot be read is an empty table (Go ignores a missing or unreadable
    hosts file); nothing is raised.
    """
    if path_or_text is None:
        return HostsTable()
    try:
        data, _source = read_text_or_file(path_or_text, "hosts")
    except OSError:
        return HostsTable()
    return parse_hosts(data)

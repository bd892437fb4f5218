"""Reading resolv.conf the way glibc and Go's pure resolver do.

A pod's ``/etc/resolv.conf`` decides which names are actually queried (``search`` and
``ndots``), and how long a dead DNS server costs (``timeout`` x ``attempts`` per server,
per name).  Both matter to the failure we reproduce, so the stub resolver reads the
same file, with the same precedence rules:

- ``nameserver ADDR``: at most three are used (glibc's MAXNS; Go has the same limit).
  ``ADDR`` is an IP literal; as an extension, ``HOST:PORT`` / ``[V6]:PORT`` is accepted
  too, so a test can point a resolv.conf at a DNS server on a free port.
- ``search D1 D2 ...`` and ``domain D``: whichever line comes *last* wins (both set the
  search list), as in glibc.  Without either, the search list is empty.  (glibc and Go
  then fall back to the host's own domain; we do not, so results never depend on the
  machine the tests run on.)
- ``options ndots:N timeout:N attempts:N rotate``; other options are accepted and
  ignored, like unknown keywords and ``#``/``;`` comments.  Numbers are clamped as
  Go clamps them (ndots <= 15, timeout >= 1, attempts >= 1; glibc would also cap
  timeout at 30 and attempts at 5, Go does not, and the controller is Go).
- no ``nameserver`` line: ``127.0.0.1:53`` and ``[::1]:53``, as in Go.

Unlike glibc (which silently ignores a malformed value), a value that is not a number or
not an address raises :class:`ResolvConfError` naming the line: a typo in a test or node
configuration should be loud, not turn ``ndots:five`` into ``ndots:0``.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

__all__ = [
    "DEFAULT_NAMESERVERS",
    "ResolvConf",
    "ResolvConfError",
    "format_nameserver",
    "parse_nameserver",
    "parse_resolv_conf",
    "read_resolv_conf",
]

MAX_NAMESERVERS = 3
MAX_NDOTS = 15
DEFAULT_NAMESERVERS = ("127.0.0.1:53", "[::1]:53")


class ResolvConfError(ValueError):
    """A resolv.conf (or nameserver string) that cannot be used; names the line."""


@dataclass(frozen=True)
class ResolvConf:
    """The resolver settings a resolv.conf describes (defaults as in glibc and Go)."""

    nameservers: tuple[str, ...] = DEFAULT_NAMESERVERS
    search: tuple[str, ...] = ()
    ndots: int = 1
    timeout: float = 5.0
    attempts: int = 2
    rotate: bool = False


def parse_nameserver(text: str) -> tuple[str, int]:
    """``"10.0.0.1"``, ``"10.0.0.1:5353"``, ``"::1"`` or ``"[::1]:53"`` -> (ip, port).

    Only IP literals: a stub resolver cannot look up the address of its own server.
    """
    value = text.strip()
    host, port_text = value, ""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ResolvConfError(f"nameserver {text!r}: missing ']' after IPv6 address")
        host, rest = value[1:end], value[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ResolvConfError(f"nameserver {text!r}: expected ':PORT' after ']'")
            port_text = rest[1:]
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ResolvConfError(
            f"nameserver {text!r}: {host!r} is not an IP address"
            " (expected IP, IP:PORT or [IPv6]:PORT)"
        ) from None
    port = 53
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ResolvConfError(f"nameserver {text!r}: port {port_text!r} is not 1-65535")
        port = int(port_text)
    return str(ip), port


def format_nameserver(ip: str, port: int) -> str:
    """The ``HOST:PORT`` spelling Go uses in error messages (``[::1]:53`` for IPv6)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _option_number(where: str, option: str, value: str) -> int:
    if not value.isdigit():
        raise ResolvConfError(
            f"{where}: option {option!r} needs a non-negative whole number, got {value!r}"
        )
    return int(value)


def parse_resolv_conf(text: str, *, source: str = "resolv.conf") -> ResolvConf:
    """Parse resolv.conf text; ``source`` names the file in error messages."""
    nameservers: list[str] = []
    search: tuple[str, ...] = ()
    ndots, timeout, attempts, rotate = 1, 5, 2, False
    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{source} line {number}"
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        fields = line.split()
        keyword, args = fields[0], fields[1:]
        if keyword == "nameserver":
            if len(args) != 1:
                raise ResolvConfError(f"{where}: 'nameserver' takes one address, got {raw!r}")
            try:
                ip, port = parse_nameserver(args[0])
            except ResolvConfError as exc:
                raise ResolvConfError(f"{where}: {exc}") from None
            if len(nameservers) < MAX_NAMESERVERS:
                nameservers.append(format_nameserver(ip, port))
        elif keyword in ("search", "domain"):
            if not args:
                raise ResolvConfError(f"{where}: {keyword!r} needs at least one domain")
            if keyword == "domain" and len(args) != 1:
                raise ResolvConfError(f"{where}: 'domain' takes one domain, got {raw!r}")
            # A later search/domain line replaces an earlier one (glibc).  "." means
            # the root, which adds nothing to a name, so it is dropped (Go does this).
            search = tuple(d.rstrip(".") for d in args if d.rstrip("."))
        elif keyword == "options":
            for option in args:
                name, _, value = option.partition(":")
                if name == "ndots":
                    ndots = min(_option_number(where, option, value), MAX_NDOTS)
                elif name == "timeout":
                    timeout = max(_option_number(where, option, value), 1)
                elif name == "attempts":
                    attempts = max(_option_number(where, option, value), 1)
                elif name == "rotate":
                    rotate = True
                # Other options (edns0, single-request, use-vc, trust-ad, ...) change
                # nothing this resolver models; glibc ignores unknown ones too.
        # Unknown keywords (sortlist, lookup, ...) are ignored, as in glibc.
    return ResolvConf(
        nameservers=tuple(nameservers) or DEFAULT_NAMESERVERS,
        search=search,
        ndots=ndots,
        timeout=float(timeout),
        attempts=attempts,
        rotate=rotate,
    )


def read_resolv_conf(path_or_text: str | os.PathLike[str]) -> ResolvConf:
    """Read a file, or parse the string itself when it contains a newline.

    Accepting text lets tests and the simulation pass a resolv.conf inline; a path never
    contains a newline, so the two cannot be confused.
    """
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        return parse_resolv_conf(path_or_text, source="resolv.conf text")
    path = os.fspath(path_or_text)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError as exc:
        raise ResolvConfError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_resolv_conf(text, source=path)

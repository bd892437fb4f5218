"""Go 1.23's reading of ``/etc/resolv.conf``: what a pod's file makes its resolver do.

Source: ``$GOROOT/src/net/dnsconfig_unix.go`` ``dnsReadConfig`` and ``parse.go``
(``readLine``, ``getFields``, ``dtoi``), Go 1.23.9, ``CGO_ENABLED=0``, read as follows
(and checked against Go's own ``dnsReadConfig`` on generated files, through a
``go:linkname`` probe):

- The file is read line by line, a line ending at ``\\n`` (the last one may end with
  the file instead).  ``parse.go``'s ``open`` gives ``readLine`` a buffer of 64 KiB
  (``make([]byte, 0, 64*1024)``), and a line must fit in it: the first line of more
  than :data:`LINE_MAX` bytes (65535; its ``\\n`` not counted), ended by a newline
  or by the file, ends the reading, that line and every later one unread (checked
  with Go 1.23.9's ``readLine`` on files around the edge: a last line of 65535 bytes
  without a newline is read, one of 65536 is not).  A line whose first byte is
  ``#`` or ``;`` is a comment; elsewhere those bytes are text.  A line's fields are
  split at space, tab, ``\\r`` and ``\\n`` (``getFields``); a line without fields is
  skipped.
- ``nameserver X``: kept as ``JoinHostPort(X, "53")`` while fewer than three are kept,
  when ``netip.ParseAddr(X)`` accepts ``X`` (an IP literal, IPv6 zone allowed, no
  brackets, no port); otherwise the line is skipped and does not count.
- ``domain D``: the search list becomes ``[D.]``; ``search D1 D2 ...``: the list
  becomes the given domains, rooted, ``.`` dropped (an empty ``search`` empties it).
  The last such line wins.
- ``options``: each field in turn (a later one overrides an earlier one, over every
  ``options`` line): ``ndots:N`` (``dtoi``, clamped to 0-15), ``timeout:N`` (seconds,
  at least 1), ``attempts:N`` (at least 1, no upper bound: glibc's cap of 5 is not
  Go's), ``rotate``, ``single-request``/``single-request-reopen``, ``use-vc``/``usevc``
  /``tcp``, ``trust-ad``, ``no-reload``; ``edns0`` is ignored (Go always sends EDNS);
  anything else sets ``unknownOpt``.  ``dtoi`` reads the leading decimal digits (none:
  0, so ``ndots:five`` and ``ndots:-1`` are 0; ``ndots:7x`` is 7) and stops at
  0xFFFFFF.
- ``lookup`` (OpenBSD's order) is read and not used on Linux; any other keyword sets
  ``unknownOpt`` (which only sends a cgo build to the C resolver: with
  ``CGO_ENABLED=0`` it decides nothing, but it is what Go read).  Without a kept
  nameserver the servers are ``127.0.0.1:53`` and ``[::1]:53``; without a search
  domain the search list is the domain of the host name (``dnsDefaultSearch``: the
  part after its first dot, when that is not empty).

Nothing here reads ``cleanup``: the property suite holds the resolver that cleanup
builds from the same text to :func:`read_config`, by what it sends, and cleanup's
reading itself (``cleanup.ResolvConf``) to it field for field.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.sim.spec.ip_literal import is_address

__all__ = ["DEFAULT_SERVERS", "LINE_MAX", "Config", "lines", "read_config"]

#: Go's ``defaultNS``
DEFAULT_SERVERS = ("127.0.0.1:53", "[::1]:53")
_BIG = 0xFFFFFF  # parse.go's "big"
#: the longest line ``readLine`` returns, in bytes without its newline: its buffer's
#: 64 KiB less one (a line needs room for its newline, or for the file's end to show)
LINE_MAX = 64 * 1024 - 1


def lines(text: str) -> list[str]:
    """The lines Go reads from a file holding ``text`` (UTF-8): split at ``\\n``, up to
    the first longer than :data:`LINE_MAX` bytes; a last line without a newline is a
    line (an empty one is none)."""
    out: list[str] = []
    pieces = text.split("\n")
    if pieces[-1] == "":
        pieces.pop()
    for piece in pieces:
        if len(piece.encode("utf-8", "surrogateescape")) > LINE_MAX:
            break
        out.append(piece)
    return out


@dataclass(frozen=True)
class Config:
    """Go's ``dnsConfig`` as read: ``servers`` as ``HOST:53`` (IPv6 bracketed, spelt
    as written), ``search`` rooted suffixes, ``timeout`` whole seconds; the fields a
    lookup's traffic shows, then ``no_reload`` and ``unknown_opt``, which it does not."""

    servers: tuple[str, ...] = DEFAULT_SERVERS
    search: tuple[str, ...] = ()
    ndots: int = 1
    timeout: int = 5
    attempts: int = 2
    rotate: bool = False
    single_request: bool = False
    use_tcp: bool = False
    trust_ad: bool = False
    no_reload: bool = False
    unknown_opt: bool = False


def _dtoi(text: str) -> int:
    value = 0
    for ch in text:
        if not "0" <= ch <= "9":
            break
        value = value * 10 + int(ch)
        if value >= _BIG:
            return _BIG
    return value


def _rooted(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _join_host_port(host: str) -> str:
    return f"[{host}]:53" if ":" in host else f"{host}:53"


def read_config(text: str, hostname: str) -> Config:
    """Go's ``dnsReadConfig`` of a file holding ``text``, on a host named ``hostname``."""
    servers: list[str] = []
    search: list[str] = []
    ndots, timeout, attempts = 1, 5, 2
    flags = dict.fromkeys(
        ("rotate", "single_request", "use_tcp", "trust_ad", "no_reload", "unknown_opt"), False
    )
    for line in lines(text):
        if line.startswith(("#", ";")):
            continue
        fields = line.replace("\t", " ").replace("\r", " ").split(" ")
        fields = [f for f in fields if f]
        if not fields:
            continue
        keyword, args = fields[0], fields[1:]
        if keyword == "nameserver":
            if args and len(servers) < 3 and is_address(args[0]):
                servers.append(_join_host_port(args[0]))
        elif keyword == "domain":
            if args:
                search = [_rooted(args[0])]
        elif keyword == "search":
            search = [_rooted(d) for d in args if _rooted(d) != "."]
        elif keyword == "options":
            for option in args:
                name, colon, value = option.partition(":")
                if colon and name == "ndots":
                    ndots = min(_dtoi(value), 15)
                elif colon and name == "timeout":
                    timeout = max(_dtoi(value), 1)
                elif colon and name == "attempts":
                    attempts = max(_dtoi(value), 1)
                elif option == "rotate":
                    flags["rotate"] = True
                elif option in ("single-request", "single-request-reopen"):
                    flags["single_request"] = True
                elif option in ("use-vc", "usevc", "tcp"):
                    flags["use_tcp"] = True
                elif option == "trust-ad":
                    flags["trust_ad"] = True
                elif option == "no-reload":
                    flags["no_reload"] = True
                elif option == "edns0":
                    pass  # Go sends EDNS always
                else:
                    flags["unknown_opt"] = True
        elif keyword != "lookup":
            flags["unknown_opt"] = True
    if not search:
        dot = hostname.find(".")
        if 0 <= dot < len(hostname) - 1:
            search = [_rooted(hostname[dot + 1 :])]
    return Config(
        servers=tuple(servers) or DEFAULT_SERVERS,
        search=tuple(search),
        ndots=ndots,
        timeout=timeout,
        attempts=attempts,
        **flags,
    )

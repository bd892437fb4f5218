"""Reading resolv.conf exactly as Go 1.23's pure resolver does (``dnsReadConfig``).

A pod's ``/etc/resolv.conf`` decides which names are actually queried (``search`` and
``ndots``), and how long a dead DNS server costs (``timeout`` x ``attempts`` per server,
per name).  The controller is Go, so this reads the file the way
``net/dnsconfig_unix.go`` does, and **Go ignores what it does not understand; so do
we**:

- Lines end at ``\\n``; a line whose *first byte* is ``#`` or ``;`` is a comment.
  Anywhere else ``#``/``;`` are ordinary text: ``nameserver 10.53.0.10 # cluster dns``
  is the server 10.53.0.10 (the rest is ignored), but ``search a.test # x`` searches
  ``a.test.``, ``#.`` and ``x.``, as Go does.  Fields are split at space, tab, ``\\r``
  and ``\\n``, so CRLF files read like LF files.
- ``nameserver ADDR``: an IP literal as Go's ``netip.ParseAddr`` takes it (an IPv6
  zone is any non-empty text after the first ``%``: ``fe80::1%eth0\\x0b`` is a server,
  since fields split only at space, tab, ``\\r``, ``\\n``), port 53, spelt as written
  (``nameserver 0:0::1`` is the server ``[0:0::1]:53`` in errors, as Go's
  ``JoinHostPort(f[1], "53")``); at most three; anything else (``IP:PORT``,
  ``[V6]:PORT``, a host name, garbage) is skipped without counting, as Go skips it.
  Only when the caller opts in with ``ports=True`` (tests and
  the simulation, to reach a DNS server on a free port) are ``IP:PORT`` and
  ``[V6]:PORT`` read as servers too; a malformed port there is then the one syntax
  error reported (:class:`ResolvConfError`).
- ``search D1 D2 ...`` replaces the search list (``.`` entries dropped; an empty
  ``search`` line empties it); ``domain D`` replaces it with ``D`` (``domain .`` keeps
  the root, which makes a candidate Go cannot marshal).  Suffixes are kept rooted.
  When the list ends up empty, the default is the domain of the host name (``hostname``
  argument, default :func:`socket.gethostname`), as Go's ``dnsDefaultSearch``.
- ``options``: ``ndots:N`` (0-15), ``timeout:N`` (>= 1 s), ``attempts:N`` (>= 1), read
  with Go's ``dtoi`` (leading digits; ``ndots:five`` is 0), ``rotate``,
  ``single-request`` and ``single-request-reopen`` (A, then AAAA), ``use-vc``/``usevc``/
  ``tcp`` (TCP only), ``trust-ad``, ``edns0`` (EDNS is always on), ``no-reload``; any
  other option or keyword only sets :attr:`ResolvConf.unknown_options`.
- No usable ``nameserver``: ``127.0.0.1:53`` and ``[::1]:53``, as in Go.
- A line longer than Go's 64 KiB read buffer ends the parse there, as in Go.

An unreadable file raises :class:`ResolvConfError` (Go would fall back to its defaults;
a cleanup pointed at a missing file should say so).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass

from cleanup._errors import ResolvConfError
from cleanup._files import MAX_CONFIG_BYTES, read_regular_file

__all__ = [
    "DEFAULT_NAMESERVERS",
    "IPLiteral",
    "ResolvConf",
    "ResolvConfError",
    "default_search",
    "format_nameserver",
    "ip_literal_text",
    "parse_ip_literal",
    "parse_nameserver",
    "parse_resolv_conf",
    "read_resolv_conf",
]

MAX_NAMESERVERS = 3
MAX_NDOTS = 15
DEFAULT_NAMESERVERS = ("127.0.0.1:53", "[::1]:53")
_BUFFER = 64 * 1024  # Go's parse.go reads resolv.conf through a 64 KiB buffer
_BIG = 0xFFFFFF  # Go's dtoi gives up at this value and returns it


@dataclass(frozen=True)
class ResolvConf:
    """The resolver settings a resolv.conf describes (Go's ``dnsConfig``).

    ``search`` holds rooted suffixes (``"svc.cluster.local."``); ``timeout`` is in
    seconds.
    """

    nameservers: tuple[str, ...] = DEFAULT_NAMESERVERS
    search: tuple[str, ...] = ()
    ndots: int = 1
    timeout: float = 5.0
    attempts: int = 2
    rotate: bool = False
    single_request: bool = False
    use_tcp: bool = False
    trust_ad: bool = False
    no_reload: bool = False
    unknown_options: bool = False


@dataclass(frozen=True)
class IPLiteral:
    """An address Go's ``netip.ParseAddr`` took: ``address`` (no scope) and ``zone``.

    ``zone`` is the text after the first ``%`` as written (``""`` when there is none); Go
    keeps any non-empty text there, spaces and ``%`` included, which Python's
    :class:`ipaddress.IPv6Address` cannot hold, so the zone is kept apart.
    """

    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    zone: str = ""

    def __str__(self) -> str:
        """Go ``net.IPAddr.String`` of ``IPAddr{IP: ip.AsSlice(), Zone: ip.Zone()}``: an
        IPv4-mapped address prints as IPv4 (``IP.String``), then ``%zone``."""
        address = self.address
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return f"{address}%{self.zone}" if self.zone else str(address)


def parse_ip_literal(text: str) -> IPLiteral | None:
    """Go ``netip.ParseAddr``: the address ``text`` spells (IPv6 zone allowed), else None.

    The address part is strict: no brackets, no port, no space around it, no leading
    zeros in an IPv4 octet (``"[::1]"``, ``"1.2.3.4:53"``, ``" ::1"``, ``"1.2.3.4 "`` are
    not addresses).  An IPv6 address is split at its *first* ``%`` and the zone is any
    non-empty text (``"fe80::1%eth0 "`` has the zone ``"eth0 "``, ``"fe80::1%a%b"`` the
    zone ``"a%b"``); an empty zone (``"fe80::1%"``) or a zone on IPv4 is refused.  Source:
    Go 1.23 ``src/net/netip/netip.go`` ``ParseAddr`` (the first ``.``, ``:`` or ``%``
    picks the parser; ``%`` first is refused) and ``parseIPv6`` (zone split).
    """
    address_text, percent, zone = text.partition("%")
    if percent and not zone:
        return None  # Go: "zone must be a non-empty string"
    # The address part is as strict as Go's: ipaddress takes only ASCII hex digits,
    # ':' and '.' there (no space, no bracket, no leading zero in an IPv4 octet), so
    # " ::1" and "1.2.3.4 " are refused without a check of our own (the fidelity test
    # tests/fidelity/test_spec_go_parseaddr.py holds this to Go).
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        return None
    if percent and address.version == 4:
        return None  # Go: a '.' before any ':' means parseIPv4, which has no zone
    return IPLiteral(address, zone)


def ip_literal_text(host: str) -> str | None:
    """Go ``lookupIPAddr``'s ``netip.ParseAddr(host)`` short cut, printed as ``IPAddr``
    (and so as Go names the address it dials).

    A bare literal only (:func:`parse_ip_literal`): ``"[::1]"`` is no address (Go: "no
    such host").  An IPv4-mapped address prints as IPv4 (Go's ``IP.String``); the zone
    follows as written (``"::ffff:1.2.3.4%eth0 "`` prints ``"1.2.3.4%eth0 "``).
    """
    literal = parse_ip_literal(host)
    return None if literal is None else str(literal)


def parse_nameserver(text: str) -> tuple[str, int]:
    """``"10.0.0.1"``, ``"10.0.0.1:5353"``, ``"::1"`` or ``"[::1]:53"`` -> (ip, port).

    The explicit ``HOST:PORT`` form of ``StubResolver(nameservers=...)``,
    ``--nameserver`` and ``ports=True`` resolv.conf reading (Go's resolv.conf has no
    port).  Only IP literals: a stub resolver cannot look up the address of its own
    server.  The IP comes back as written (Go prints a server as its resolv.conf spells
    it).  Raises :class:`ResolvConfError` naming the value when it is none of these forms.
    """
    value = text.strip()
    host, port_text = value, None
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
    if parse_ip_literal(host) is None:
        raise ResolvConfError(
            f"nameserver {text!r}: {host!r} is not an IP address"
            " (expected IP, IP:PORT or [IPv6]:PORT)"
        )
    if port_text is None:
        return host, 53
    # a colon promises a port: "10.0.0.1:" is a typo, not port 53.  ASCII digits, at
    # most 5 of them before int() (thousands would pass Python's int-from-text limit,
    # a ValueError that is no ResolvConfError)
    if (
        not (port_text.isascii() and port_text.isdigit())
        or len(port_text) > 5
        or not 0 < int(port_text) < 65536
    ):
        raise ResolvConfError(f"nameserver {text!r}: port {port_text!r} is not 1-65535")
    return host, int(port_text)


def format_nameserver(ip: str, port: int) -> str:
    """The ``HOST:PORT`` spelling Go uses in error messages (``[::1]:53`` for IPv6)."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _ensure_rooted(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _dtoi(text: str) -> int:
    """Go ``dtoi``: the value of the leading decimal digits (0 when there are none)."""
    value = 0
    for ch in text:
        if not "0" <= ch <= "9":
            break
        value = value * 10 + (ord(ch) - ord("0"))
        if value >= _BIG:
            return _BIG
    return value


def _fields(line: str) -> list[str]:
    """Go ``getFields``: split at space, ``\\r``, tab and ``\\n``; no empty fields."""
    out: list[str] = []
    current: list[str] = []
    for ch in line:
        if ch in " \r\t\n":
            if current:
                out.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        out.append("".join(current))
    return out


def _lines(data: bytes) -> list[str]:
    """Go ``file.readLine`` over a 64 KiB buffer: a line that does not fit ends it.

    A line fits when its bytes and the newline after it (or, for the last line, the
    file's end, which Go sees only when a read comes back short) fit in the buffer:
    a window of 64 KiB without a newline ends the reading, even when the file ends
    exactly there (Go 1.23 ``net/parse.go`` ``open``, ``readLine``).
    """
    lines: list[str] = []
    offset = 0
    while offset < len(data):
        window = data[offset : offset + _BUFFER]
        end = window.find(b"\n")
        if end < 0:
            if len(window) == _BUFFER:
                break  # no newline in a full buffer: Go stops reading the file
            lines.append(window.decode("utf-8", "surrogateescape"))
            break
        lines.append(window[:end].decode("utf-8", "surrogateescape"))
        offset += end + 1
    return lines


def default_search(hostname: str | None = None) -> tuple[str, ...]:
    """Go ``dnsDefaultSearch``: the domain of the host name, if it has one."""
    name = socket.gethostname() if hostname is None else hostname
    dot = name.find(".")
    if 0 <= dot < len(name) - 1:
        return (_ensure_rooted(name[dot + 1 :]),)
    return ()


def _nameserver(value: str, ports: bool) -> str | None:
    """Go: an IP literal, port 53; with ``ports``, also ``IP:PORT``; None to skip."""
    if parse_ip_literal(value) is not None:
        return format_nameserver(value, 53)
    looks_like_a_port = value.startswith("[") or (
        value.count(":") == 1 and parse_ip_literal(value.split(":")[0]) is not None
    )
    if not (ports and looks_like_a_port):
        return None  # Go skips what netip.ParseAddr refuses
    ip, port = parse_nameserver(value)
    return format_nameserver(ip, port)


def parse_resolv_conf(
    text: str | bytes,
    *,
    source: str = "resolv.conf",
    hostname: str | None = None,
    ports: bool = False,
) -> ResolvConf:
    """Parse resolv.conf content as Go's ``dnsReadConfig`` does.

    ``source`` names the file in error messages; ``hostname`` gives the default search
    domain (default :func:`socket.gethostname`).  ``ports=True`` opts in to
    ``nameserver IP:PORT`` / ``[V6]:PORT`` (not Go: Go skips such a line); only then can
    a malformed port raise :class:`ResolvConfError`.
    """
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    nameservers: list[str] = []
    search: list[str] = []
    ndots, timeout, attempts = 1, 5, 2
    flags = dict.fromkeys(
        ("rotate", "single_request", "use_tcp", "trust_ad", "no_reload", "unknown"), False
    )
    for number, line in enumerate(_lines(data), start=1):
        if line[:1] in ("#", ";"):
            continue
        fields = _fields(line)
        if not fields:
            continue
        keyword, args = fields[0], fields[1:]
        if keyword == "nameserver":
            if args and len(nameservers) < MAX_NAMESERVERS:
                try:
                    server = _nameserver(args[0], ports)
                except ResolvConfError as exc:
                    raise ResolvConfError(f"{source} line {number}: {exc}") from None
                if server is not None:
                    nameservers.append(server)
        elif keyword == "domain":
            if args:
                search = [_ensure_rooted(args[0])]
        elif keyword == "search":
            search = [_ensure_rooted(d) for d in args if _ensure_rooted(d) != "."]
        elif keyword == "options":
            for option in args:
                if option.startswith("ndots:"):
                    ndots = min(_dtoi(option[6:]), MAX_NDOTS)
                elif option.startswith("timeout:"):
                    timeout = max(_dtoi(option[8:]), 1)
                elif option.startswith("attempts:"):
                    attempts = max(_dtoi(option[9:]), 1)
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
                elif option != "edns0":  # EDNS0 is always on in Go
                    flags["unknown"] = True
        elif keyword != "lookup":  # OpenBSD's lookup order: read, not used on Linux
            flags["unknown"] = True
    return ResolvConf(
        nameservers=tuple(nameservers) or DEFAULT_NAMESERVERS,
        search=tuple(search) or default_search(hostname),
        ndots=ndots,
        timeout=float(timeout),
        attempts=attempts,
        rotate=flags["rotate"],
        single_request=flags["single_request"],
        use_tcp=flags["use_tcp"],
        trust_ad=flags["trust_ad"],
        no_reload=flags["no_reload"],
        unknown_options=flags["unknown"],
    )


def read_text_or_file(path_or_text: str | os.PathLike[str], what: str) -> tuple[bytes, str]:
    """The content of a file, or the string itself when it contains a newline.

    Accepting text lets tests and the simulation pass a file inline; a path never
    contains a newline, so the two cannot be confused.  Returns (content, source name
    for messages: the path, or ``"<what> text"``).  Raises ``OSError`` when the file
    cannot be read, is not a regular file or is larger than
    :data:`~cleanup._files.MAX_CONFIG_BYTES`.
    """
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        return path_or_text.encode("utf-8", "surrogateescape"), f"{what} text"
    path = os.fspath(path_or_text)
    return read_regular_file(path, MAX_CONFIG_BYTES), path


def read_resolv_conf(
    path_or_text: str | os.PathLike[str], *, hostname: str | None = None, ports: bool = False
) -> ResolvConf:
    """Read a resolv.conf file, or parse the string itself when it contains a newline.

    ``ports`` as for :func:`parse_resolv_conf`.  Raises :class:`ResolvConfError` when the
    file cannot be read.
    """
    try:
        data, source = read_text_or_file(path_or_text, "resolv.conf")
    except OSError as exc:
        path = os.fspath(path_or_text)
        raise ResolvConfError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_resolv_conf(data, source=source, hostname=hostname, ports=ports)

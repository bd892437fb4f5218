"""Name resolution: a stub resolver that speaks DNS itself, and the system resolver.

Why our own stub resolver: the bug we reproduce lives in *which* names get queried
(search list, ndots), *what* each server answered, and *how long* a dead server costs.
``getaddrinfo`` hides all three and blocks in real time, so the simulation could not run
it in virtual time.  :class:`StubResolver` behaves like the Go pure resolver the
controller uses (``net/dnsclient_unix.go``), and every wait goes through the injected
clock.

Behaviour, and where it follows Go (G), glibc (L), or deliberately neither (D):

- Candidates (G, L): a name with a trailing dot is tried only as given.  Otherwise, with
  at least ``ndots`` dots it is tried as given first and then with each search suffix;
  with fewer dots the search suffixes come first and the name as given last.
- Per candidate, an A and an AAAA query (G, L; ``qtypes=("A",)`` for A only).  Go runs
  them in two goroutines; we send both back to back on one UDP socket and wait for both
  (as glibc does), so a dead server costs ``timeout`` once per try, as in Go, not twice.
  Both queries walk the same server sequence in lockstep (D: when one family finishes
  early it does not race ahead to the next server; the total time is the same).
- Per query (G ``tryOneName``): ``attempts`` rounds over the servers, each try waiting
  ``timeout`` seconds.  NXDOMAIN, or NOERROR without a record of the asked type
  (NODATA), ends that query at once with "no such host" (another server will not know
  better).  SERVFAIL -> "server misbehaving", temporary.  REFUSED -> "server
  misbehaving", temporary (D: the issue asks for this; Go marks REFUSED not temporary;
  ``refused_is_temporary=False`` restores Go).  Other rcodes -> "server misbehaving";
  NOERROR with nothing in it from a non-recursive, non-authoritative server -> "lame
  referral"; ICMP port unreachable (``ConnectionRefusedError`` on the connected UDP
  socket) -> ``read udp L->S: read: connection refused``, temporary; no reply -> ``read
  udp L->S: i/o timeout``, ``is_timeout`` (D: Go also sets IsTemporary on socket
  timeouts; our :class:`~cleanup.DNSError` keeps the two apart).  All of these but "no
  such host" move on to the next try.
- Replies are matched by query ID, question and source address; anything else (late
  replies of an earlier try, forgeries, garbage) is ignored and the wait goes on within
  the same try (G).  A reply with TC set is retried over TCP with a fresh ``timeout`` (G).
- Which error is reported (G ``goLookupIPCNAME``): the first candidate that yields any
  address wins.  Otherwise the error is the first one met, except that errors for the
  name as given replace it ("prefer error for original name"); its ``name`` is the name
  as asked.  So "no such host" is reported when every candidate said NXDOMAIN/NODATA,
  and also when the name as given did even though a search candidate failed otherwise.
  ``strict_errors=True`` gives Go's StrictErrors: the first temporary error stops the
  search list and is reported.
- ``rotate`` (G): each lookup of a candidate starts at the next server (D: Go advances per
  query type, so its A and AAAA may start at different servers).
- Addresses come back in answer order, A before AAAA (D: Go sorts them by RFC 6724,
  which only matters on a dual-stack node).
- A whole lookup can be given an overall ``timeout`` (the HTTP dial deadline, like
  Go's dial context); when it runs out the lookup fails with ``i/o timeout``.
- Bounds, for the simulation's checks: one :meth:`StubResolver.resolve` sends at most
  ``candidates x len(qtypes) x attempts x servers`` UDP queries, plus one TCP query per
  truncated reply, and waits at most ``candidates x attempts x servers x timeout``
  (x2 with TCP fallback) unless an overall ``timeout`` is given.  Queries carry EDNS0
  with a 1232-byte payload, as Go's do.
"""

from __future__ import annotations

import errno as errno_mod
import ipaddress
import os
import random
import socket
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import dnslib

from cleanup._classify import to_error
from cleanup._clock import Clock, SystemClock
from cleanup._errors import DNSError
from cleanup._resolvconf import format_nameserver, parse_nameserver, read_resolv_conf

__all__ = [
    "QueryEvent",
    "Resolver",
    "StubResolver",
    "SystemResolver",
    "candidate_names",
    "is_domain_name",
]

_QTYPES = {"A": dnslib.QTYPE.A, "AAAA": dnslib.QTYPE.AAAA}
_EDNS_PAYLOAD = 1232  # what Go advertises (dnsflagday.net/2020)
_NO_SUCH_HOST = "no such host"
_MISBEHAVING = "server misbehaving"


@runtime_checkable
class Resolver(Protocol):
    """Turns a host name into addresses, or raises :class:`~cleanup.DNSError`."""

    def resolve(self, host: str, *, timeout: float | None = None) -> list[str]:
        """Addresses for ``host``; ``timeout`` bounds the whole lookup where supported."""
        ...


@dataclass(frozen=True)
class QueryEvent:
    """One DNS query and how it ended, for tests, logs and simulation traces.

    ``name`` is the candidate as sent (with its trailing dot).  ``outcome`` is one of
    ``answer``, ``nxdomain``, ``nodata``, ``servfail``, ``refused``, ``rcode:NAME``,
    ``lame-referral``, ``truncated`` (UDP reply with TC; a ``tcp`` event follows),
    ``timeout``, ``connection-refused``, ``error``.
    """

    name: str
    qtype: str
    server: str
    transport: str
    outcome: str
    addresses: tuple[str, ...] = ()
    started: float = 0.0
    finished: float = 0.0
    detail: str = ""


def is_domain_name(name: str) -> bool:
    """Go's ``isDomainName``: what may be looked up at all (else "no such host").

    Letters, digits, ``_`` and ``-`` in labels of 1-63 bytes, no label starting or ending
    with ``-``, at most 254 bytes with the trailing dot, and not all-numeric.
    """
    if name == ".":
        return True
    if not name or len(name) > 254:
        return False
    last = "."
    non_numeric = False
    part = 0
    for ch in name:
        if ch.isascii() and (ch.isalpha() or ch == "_"):
            non_numeric = True
            part += 1
        elif ch.isascii() and ch.isdigit():
            part += 1
        elif ch == "-":
            if last == ".":
                return False
            part += 1
            non_numeric = True
        elif ch == ".":
            if last in ".-" or part > 63 or part == 0:
                return False
            part = 0
        else:
            return False
        last = ch
    return last != "-" and part <= 63 and non_numeric


def candidate_names(name: str, search: Sequence[str], ndots: int) -> list[str]:
    """The fully qualified names to try, in order (Go's ``nameList``, glibc's order)."""
    rooted = name.endswith(".")
    if len(name) > 254 or (len(name) == 254 and not rooted):
        return []
    if rooted:
        return [] if _avoid_dns(name) else [name]
    has_ndots = name.count(".") >= ndots
    fqdn = name + "."
    names: list[str] = []
    if has_ndots and not _avoid_dns(fqdn):
        names.append(fqdn)
    for suffix in search:
        candidate = fqdn + suffix.rstrip(".") + "."
        if not _avoid_dns(candidate) and len(candidate) <= 254:
            names.append(candidate)
    if not has_ndots and not _avoid_dns(fqdn):
        names.append(fqdn)
    return names


def _avoid_dns(name: str) -> bool:
    """RFC 7686: ``.onion`` names must never reach DNS (Go refuses them too)."""
    return name.rstrip(".").lower().endswith(".onion")


def _ip_literal(host: str) -> str | None:
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@dataclass
class _Result:
    """How one query (one candidate, one type) ended on one try."""

    final: bool  # an answer, or "no such host": no more servers are asked
    addresses: list[str] = field(default_factory=list)
    error: DNSError | None = None


class StubResolver:
    """A DNS stub resolver over UDP (TCP on truncation) with Go's semantics.

    ``nameservers`` are ``"HOST:PORT"`` or ``"HOST"`` (port 53), IP literals only.
    ``on_query`` is called after every query with a :class:`QueryEvent`.  ``rng`` draws
    query IDs (a seeded ``random.Random`` makes them reproducible; default: the OS
    source, because unpredictable IDs are a defence against spoofed replies).
    """

    def __init__(
        self,
        nameservers: Iterable[str],
        *,
        search: Iterable[str] = (),
        ndots: int = 1,
        timeout: float = 5.0,
        attempts: int = 2,
        rotate: bool = False,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        qtypes: Sequence[str] = ("A", "AAAA"),
        strict_errors: bool = False,
        refused_is_temporary: bool = True,
        on_query: Callable[[QueryEvent], None] | None = None,
    ) -> None:
        self.servers: list[tuple[str, int]] = [parse_nameserver(ns) for ns in nameservers]
        if not self.servers:
            raise ValueError("StubResolver needs at least one nameserver")
        if ndots < 0:
            raise ValueError(f"ndots must be >= 0, got {ndots}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts}")
        for qtype in qtypes:
            if qtype not in _QTYPES:
                raise ValueError(f"qtype {qtype!r} is not one of {sorted(_QTYPES)}")
        if not qtypes:
            raise ValueError("qtypes must name at least one of A, AAAA")
        self.search = tuple(s.rstrip(".") for s in search if s.rstrip("."))
        self.ndots = ndots
        self.timeout = float(timeout)
        self.attempts = attempts
        self.rotate = rotate
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.rng = rng if rng is not None else random.SystemRandom()
        self.qtypes = tuple(qtypes)
        self.strict_errors = strict_errors
        self.refused_is_temporary = refused_is_temporary
        self.on_query = on_query
        self._rotation = 0

    @classmethod
    def from_resolv_conf(
        cls,
        path_or_text: str | os.PathLike[str],
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        on_query: Callable[[QueryEvent], None] | None = None,
        **overrides: object,
    ) -> StubResolver:
        """A resolver configured from a resolv.conf file (or its text, if it has a newline).

        ``overrides`` (``nameservers``, ``search``, ``ndots``, ``timeout``, ``attempts``,
        ``rotate``, ...) replace what the file says, as command-line flags would.
        """
        conf = read_resolv_conf(path_or_text)
        settings: dict[str, object] = {
            "nameservers": list(conf.nameservers),
            "search": conf.search,
            "ndots": conf.ndots,
            "timeout": conf.timeout,
            "attempts": conf.attempts,
            "rotate": conf.rotate,
        }
        settings.update(overrides)
        nameservers = settings.pop("nameservers")
        return cls(
            nameservers,  # type: ignore[arg-type]
            clock=clock,
            rng=rng,
            on_query=on_query,
            **settings,  # type: ignore[arg-type]
        )

    @property
    def nameservers(self) -> list[str]:
        return [format_nameserver(ip, port) for ip, port in self.servers]

    # -- the lookup -------------------------------------------------------------------

    def resolve(self, host: str, *, timeout: float | None = None) -> list[str]:
        literal = _ip_literal(host)
        if literal is not None:
            return [literal]
        if not is_domain_name(host):
            raise DNSError(host, _NO_SUCH_HOST, is_not_found=True)
        deadline = None if timeout is None else self.clock.now() + timeout
        last_err: DNSError | None = None
        for fqdn in candidate_names(host, self.search, self.ndots):
            results = self._lookup_candidate(fqdn, deadline)
            addresses: list[str] = []
            strict_hit = False
            for qtype in self.qtypes:
                result = results[qtype]
                if result.error is not None:
                    err = result.error
                    if self.strict_errors and (err.is_temporary or err.is_timeout):
                        strict_hit = True
                        last_err = result.error
                    elif last_err is None or fqdn == host + ".":
                        last_err = result.error
                    continue
                addresses.extend(result.addresses)
            if strict_hit:
                break
            if addresses:
                return addresses
        if last_err is None:
            raise DNSError(host, _NO_SUCH_HOST, is_not_found=True)
        raise DNSError(
            host,
            last_err.err,
            server=last_err.server,
            is_not_found=last_err.is_not_found,
            is_timeout=last_err.is_timeout,
            is_temporary=last_err.is_temporary,
        )

    def _lookup_candidate(self, fqdn: str, deadline: float | None) -> dict[str, _Result]:
        """Go's ``tryOneName`` for every query type at once, in lockstep."""
        offset = 0
        if self.rotate:  # Go's serverOffset: 0 for the first lookup, then 1, 2, ...
            offset = self._rotation
            self._rotation += 1
        pending = list(self.qtypes)
        done: dict[str, _Result] = {}
        last: dict[str, _Result] = {}
        count = len(self.servers)
        for _attempt in range(self.attempts):
            for j in range(count):
                server = self.servers[(offset + j) % count]
                for qtype, result in self._exchange(fqdn, pending, server, deadline).items():
                    if result.final:
                        done[qtype] = result
                        pending.remove(qtype)
                    else:
                        last[qtype] = result
                if not pending:
                    return done
                if deadline is not None and self.clock.now() >= deadline:
                    break
            else:
                continue
            break
        for qtype in pending:
            done[qtype] = last[qtype]
        return done

    # -- one try against one server -----------------------------------------------------

    def _exchange(
        self, fqdn: str, qtypes: Sequence[str], server: tuple[str, int], deadline: float | None
    ) -> dict[str, _Result]:
        """Send each query over UDP to ``server`` and wait up to ``timeout`` for replies."""
        server_text = format_nameserver(*server)
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        results: dict[str, _Result] = {}
        start = self.clock.now()
        if deadline is not None and start >= deadline:
            # The caller's overall deadline has passed: like Go with an expired
            # context, fail at once without sending anything.
            for qtype in qtypes:
                error = DNSError(fqdn, "i/o timeout", server=server_text, is_timeout=True)
                results[qtype] = _Result(final=False, error=error)
            return results
        try_deadline = start + self.timeout
        if deadline is not None:
            try_deadline = min(try_deadline, deadline)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            try:
                sock.connect(server)
            except OSError as exc:
                for qtype in qtypes:
                    results[qtype] = self._socket_error(
                        fqdn,
                        qtype,
                        server_text,
                        "udp",
                        "dial",
                        f"dial udp {server_text}",
                        exc,
                        start,
                    )
                return results
            local = _addr_text(sock.getsockname())
            link = f"udp {local}->{server_text}"
            outstanding: dict[int, tuple[str, dnslib.DNSRecord]] = {}
            for qtype in qtypes:
                query = self._new_query(fqdn, qtype, outstanding)
                while True:
                    try:
                        sock.send(query.pack())
                    except ConnectionRefusedError as exc:
                        if outstanding:
                            # The ICMP error of a query sent earlier on this socket,
                            # reported by this send: it answers the earlier queries
                            # (Go, with a socket per query, sees it on their reads).
                            # This query was not sent; send it again.
                            for earlier, _query in outstanding.values():
                                results[earlier] = self._socket_error(
                                    fqdn, earlier, server_text, "udp", "read",
                                    f"read {link}", exc, start,
                                )  # fmt: skip
                            outstanding.clear()
                            continue
                        results[qtype] = self._socket_error(
                            fqdn, qtype, server_text, "udp", "write", f"write {link}", exc, start
                        )
                    except OSError as exc:
                        results[qtype] = self._socket_error(
                            fqdn, qtype, server_text, "udp", "write", f"write {link}", exc, start
                        )
                    else:
                        outstanding[query.header.id] = (qtype, query)
                    break
            while outstanding:
                remaining = try_deadline - self.clock.now()
                if remaining <= 0 or not self.clock.wait_readable(sock, remaining):
                    for qtype, _query in outstanding.values():
                        results[qtype] = self._timeout(
                            fqdn, qtype, server_text, "udp", f"read {link}", start
                        )
                    break
                try:
                    data, source = sock.recvfrom(65535)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    # ICMP port unreachable arrives as ECONNREFUSED on a connected UDP
                    # socket; it answers for every query still outstanding on it.
                    for qtype, _query in outstanding.values():
                        results[qtype] = self._socket_error(
                            fqdn, qtype, server_text, "udp", "read", f"read {link}", exc, start
                        )
                    break
                if _ip_literal(str(source[0])) != server[0] or source[1] != server[1]:
                    continue
                reply = _parse(data)
                if reply is None:
                    continue
                entry = outstanding.get(reply.header.id)
                if entry is None or not _matches(entry[1], reply):
                    continue
                del outstanding[reply.header.id]
                qtype, query = entry
                if reply.header.tc:
                    self._emit(fqdn, qtype, server_text, "udp", "truncated", start)
                    results[qtype] = self._tcp_exchange(fqdn, qtype, query, server, deadline)
                else:
                    results[qtype] = self._judge(fqdn, qtype, reply, server_text, "udp", start)
        finally:
            sock.close()
        return results

    def _tcp_exchange(
        self,
        fqdn: str,
        qtype: str,
        query: dnslib.DNSRecord,
        server: tuple[str, int],
        deadline: float | None,
    ) -> _Result:
        """The same query over TCP (RFC 7766 framing) with a fresh per-try timeout."""
        server_text = format_nameserver(*server)
        start = self.clock.now()
        try_deadline = start + self.timeout
        if deadline is not None:
            try_deadline = min(try_deadline, deadline)
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            link = f"tcp {server_text}"
            code = sock.connect_ex(server)
            if code not in (0, errno_mod.EINPROGRESS, errno_mod.EAGAIN):
                return self._socket_error(
                    fqdn,
                    qtype,
                    server_text,
                    "tcp",
                    "connect",
                    f"dial {link}",
                    _os_error(code),
                    start,
                )
            if code != 0:
                remaining = try_deadline - self.clock.now()
                if remaining <= 0 or not self.clock.wait_writable(sock, remaining):
                    return self._timeout(fqdn, qtype, server_text, "tcp", f"dial {link}", start)
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    return self._socket_error(
                        fqdn,
                        qtype,
                        server_text,
                        "tcp",
                        "connect",
                        f"dial {link}",
                        _os_error(code),
                        start,
                    )
            link = f"tcp {_addr_text(sock.getsockname())}->{server_text}"
            wire = query.pack()
            try:
                self._send_all(sock, struct.pack("!H", len(wire)) + wire, try_deadline)
            except TimeoutError:
                return self._timeout(fqdn, qtype, server_text, "tcp", f"write {link}", start)
            except OSError as exc:
                return self._socket_error(
                    fqdn, qtype, server_text, "tcp", "write", f"write {link}", exc, start
                )
            try:
                (length,) = struct.unpack("!H", self._recv_exact(sock, 2, try_deadline))
                data = self._recv_exact(sock, length, try_deadline)
            except TimeoutError:
                return self._timeout(fqdn, qtype, server_text, "tcp", f"read {link}", start)
            except EOFError as exc:
                return self._failed(fqdn, qtype, server_text, "tcp", "error", str(exc), start)
            except OSError as exc:
                return self._socket_error(
                    fqdn, qtype, server_text, "tcp", "read", f"read {link}", exc, start
                )
        finally:
            sock.close()
        reply = _parse(data)
        if reply is None:
            return self._failed(
                fqdn, qtype, server_text, "tcp", "error", "cannot unmarshal DNS message", start
            )
        if not _matches(query, reply):
            return self._failed(
                fqdn, qtype, server_text, "tcp", "error", "invalid DNS response", start
            )
        return self._judge(fqdn, qtype, reply, server_text, "tcp", start)

    def _send_all(self, sock: socket.socket, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = sock.send(view)
            except BlockingIOError:
                remaining = deadline - self.clock.now()
                if remaining <= 0 or not self.clock.wait_writable(sock, remaining):
                    raise TimeoutError from None
                continue
            view = view[sent:]

    def _recv_exact(self, sock: socket.socket, size: int, deadline: float) -> bytes:
        buf = bytearray()
        while len(buf) < size:
            try:
                chunk = sock.recv(size - len(buf))
            except BlockingIOError:
                remaining = deadline - self.clock.now()
                if remaining <= 0 or not self.clock.wait_readable(sock, remaining):
                    raise TimeoutError from None
                continue
            if not chunk:
                raise EOFError("EOF" if not buf else "unexpected EOF")
            buf += chunk
        return bytes(buf)

    # -- judging replies and failures ----------------------------------------------------

    def _judge(
        self,
        fqdn: str,
        qtype: str,
        reply: dnslib.DNSRecord,
        server: str,
        transport: str,
        start: float,
    ) -> _Result:
        """Go's ``checkHeader`` + ``skipToAnswer`` on a reply that matched our query."""
        rcode = reply.header.rcode
        if rcode == dnslib.RCODE.NXDOMAIN:
            return self._not_found(fqdn, qtype, server, transport, "nxdomain", start)
        if rcode == dnslib.RCODE.NOERROR:
            # A referral instead of an answer: not authoritative, no recursion, no
            # answer and no additional records (Go's errLameReferral, golang.org/issue/15434).
            if not (reply.rr or reply.ar or reply.header.aa or reply.header.ra):
                return self._failed(
                    fqdn, qtype, server, transport, "lame-referral", "lame referral", start
                )
            wanted = _QTYPES[qtype]
            addresses = [
                str(ipaddress.ip_address(str(rr.rdata))) for rr in reply.rr if rr.rtype == wanted
            ]
            if not addresses:
                return self._not_found(fqdn, qtype, server, transport, "nodata", start)
            self._emit(fqdn, qtype, server, transport, "answer", start, tuple(addresses))
            return _Result(final=True, addresses=addresses)
        if rcode == dnslib.RCODE.SERVFAIL:
            return self._failed(
                fqdn, qtype, server, transport, "servfail", _MISBEHAVING, start, temporary=True
            )
        if rcode == dnslib.RCODE.REFUSED:
            return self._failed(
                fqdn,
                qtype,
                server,
                transport,
                "refused",
                _MISBEHAVING,
                start,
                temporary=self.refused_is_temporary,
            )
        name = _rcode_name(rcode)
        return self._failed(fqdn, qtype, server, transport, f"rcode:{name}", _MISBEHAVING, start)

    def _not_found(
        self, fqdn: str, qtype: str, server: str, transport: str, outcome: str, start: float
    ) -> _Result:
        self._emit(fqdn, qtype, server, transport, outcome, start)
        error = DNSError(fqdn, _NO_SUCH_HOST, server=server, is_not_found=True)
        return _Result(final=True, error=error)

    def _failed(
        self,
        fqdn: str,
        qtype: str,
        server: str,
        transport: str,
        outcome: str,
        err: str,
        start: float,
        *,
        temporary: bool = False,
        timeout: bool = False,
    ) -> _Result:
        self._emit(fqdn, qtype, server, transport, outcome, start, detail=err)
        error = DNSError(fqdn, err, server=server, is_temporary=temporary, is_timeout=timeout)
        return _Result(final=False, error=error)

    def _timeout(
        self, fqdn: str, qtype: str, server: str, transport: str, op: str, start: float
    ) -> _Result:
        return self._failed(
            fqdn, qtype, server, transport, "timeout", f"{op}: i/o timeout", start, timeout=True
        )

    def _socket_error(
        self,
        fqdn: str,
        qtype: str,
        server: str,
        transport: str,
        syscall: str,
        op: str,
        exc: OSError,
        start: float,
    ) -> _Result:
        """A socket-level failure: Go's ``*OpError``, always temporary."""
        reason = _strerror(exc)
        outcome = "connection-refused" if isinstance(exc, ConnectionRefusedError) else "error"
        return self._failed(
            fqdn,
            qtype,
            server,
            transport,
            outcome,
            f"{op}: {syscall}: {reason}",
            start,
            temporary=True,
        )

    def _emit(
        self,
        fqdn: str,
        qtype: str,
        server: str,
        transport: str,
        outcome: str,
        start: float,
        addresses: tuple[str, ...] = (),
        detail: str = "",
    ) -> None:
        if self.on_query is not None:
            event = QueryEvent(
                fqdn, qtype, server, transport, outcome, addresses, start, self.clock.now(), detail
            )
            self.on_query(event)

    def _new_query(
        self, fqdn: str, qtype: str, outstanding: dict[int, tuple[str, dnslib.DNSRecord]]
    ) -> dnslib.DNSRecord:
        qid = self.rng.getrandbits(16)
        while qid in outstanding:
            qid = self.rng.getrandbits(16)
        query = dnslib.DNSRecord(
            dnslib.DNSHeader(id=qid, rd=1),
            q=dnslib.DNSQuestion(fqdn, _QTYPES[qtype]),
        )
        query.add_ar(dnslib.EDNS0(udp_len=_EDNS_PAYLOAD))
        return query


def _parse(data: bytes) -> dnslib.DNSRecord | None:
    try:
        return dnslib.DNSRecord.parse(data)
    except Exception:  # dnslib raises several types on garbage; all mean "not a reply"
        return None


def _matches(query: dnslib.DNSRecord, reply: dnslib.DNSRecord) -> bool:
    """Go's ``checkResponse``: a response, our ID, and our exact question."""
    if not reply.header.qr or reply.header.id != query.header.id or len(reply.questions) != 1:
        return False
    asked, got = query.q, reply.q
    return (
        got.qtype == asked.qtype
        and got.qclass == asked.qclass
        and str(got.qname).lower().rstrip(".") == str(asked.qname).lower().rstrip(".")
    )


def _addr_text(address: tuple[object, ...]) -> str:
    return format_nameserver(str(address[0]), int(str(address[1])))


def _os_error(code: int) -> OSError:
    """The ``OSError`` for ``code``; Python picks the subclass (ConnectionRefusedError, ...)."""
    return OSError(code, os.strerror(code))


def _rcode_name(rcode: int) -> str:
    try:
        return str(dnslib.RCODE[rcode])
    except Exception:  # dnslib raises its own error type for unknown codes
        return str(rcode)


def _strerror(exc: OSError) -> str:
    """Go spells errno texts in lower case: ``connection refused``."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


class SystemResolver:
    """The C library's resolver via ``getaddrinfo`` (what a plain Python client uses).

    It blocks in real time and cannot be bounded or observed, so it is for real nodes,
    not for the simulation.  Its ``socket.gaierror`` becomes a DNSError by the same
    rule the classifier applies everywhere (:func:`cleanup._classify.to_error`):
    EAI_NONAME/EAI_NODATA are "no such host"; EAI_AGAIN (glibc's answer to SERVFAIL
    *and* to silence) and EAI_FAIL are temporary.
    """

    def resolve(self, host: str, *, timeout: float | None = None) -> list[str]:
        literal = _ip_literal(host)
        if literal is not None:
            return [literal]
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise to_error(exc, host=host) from exc
        addresses: list[str] = []
        for _family, _type, _proto, _name, sockaddr in infos:
            address = str(sockaddr[0])
            if address not in addresses:
                addresses.append(address)
        return addresses

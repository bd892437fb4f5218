"""Name resolution: the stub resolver that speaks DNS itself (:class:`StubResolver`).

One idea at ~800 lines: the socket loop that runs Go's lookup, with what it takes and
reports (the :class:`Resolver` protocol every resolver meets, :class:`QueryEvent`):
its lanes, exchanges and waits change together.  Apart: the rules it runs
(:mod:`cleanup._dnsrules`, pure), the DNS messages (:mod:`cleanup._dnswire`), the
pod's resolv.conf and hosts file (:mod:`cleanup._resolvconf`, :mod:`cleanup._hosts`)
and the C library's resolver (:class:`cleanup.SystemResolver`, ``_sysresolver``).

Why our own stub resolver: the bug we reproduce lives in *which* names get queried
(search list, ndots), *what* each server answered, and *how long* a dead server costs.
``getaddrinfo`` hides all three and blocks in real time, so the simulation could not run
it in virtual time.  :class:`StubResolver` is Go 1.23's pure resolver
(``net/dnsclient_unix.go``, built ``CGO_ENABLED=0`` like the controller): the rules are
in :mod:`cleanup._dnsrules` (one copy, shared with the simulation's evaluator), and this
module runs them over real sockets, every wait going through the injected clock.

How a lookup runs (Go ``goLookupIPCNAME``):

- An IP literal as Go's ``netip.ParseAddr`` takes it (``::1``, ``fe80::1%eth0``; *not*
  ``[::1]``, which Go calls "no such host") is returned as it is, and ``""`` is "no
  such host" (Go ``lookupIPAddr``).
- Then the hosts file (``hosts: files dns``, Go's ``goLookupIPFiles``; see
  :mod:`cleanup._hosts`): a name it lists is answered from it without a query, even one
  that is not a valid domain name.
- The name must pass ``isDomainName`` (else "no such host" without a server).
  Candidates come from ``nameList`` (search list, ``ndots``; see
  :func:`cleanup._dnsrules.candidate_names`).
- Per candidate, the A and AAAA queries run *concurrently*, as Go's two goroutines do:
  two lanes, each walking its own server sequence (``tryOneName``: ``attempts`` rounds
  over the servers, from the ``rotate`` offset), each exchange on a fresh socket (UDP;
  TCP with a fresh ``timeout`` when the UDP reply has TC; TCP only with ``use-vc``).
  All live exchanges are waited on at once (:meth:`~cleanup.Clock.wait_any`).  With
  ``single-request`` (or ``single-request-reopen``) the A query runs first, then AAAA.
- Replies that are not ours (wrong ID or question, unparsable) are ignored and the wait
  goes on (Go, golang.org/issue/13281); a UDP reply is read into Go's 1232-byte buffer.
- Completion order decides the error: for the name as given, the query that completes
  last supplies it.  Each lane keeps the exchanges it made, and the finished lanes are
  ranked by :func:`cleanup._dnsrules.completion_order`, the rule the simulation's
  model uses too: by the time the last exchange ended, then by the causal rounds at
  that instant (a lane's retry cannot overtake the other lane's first reply; a TCP
  exchange is two rounds, connect and reply), not by the wait that happened to see the
  reply.  A true tie (both done at the same instant after the same number of rounds)
  is a race in Go; it resolves as AAAA completing last
  (:func:`cleanup._dnsrules.start_order`).  With
  ``rotate`` the AAAA query takes the first server offset, as Go's goroutine that runs
  first does (:func:`cleanup._dnsrules.rotation_order`).
- Each exchange's deadline is ``now + timeout`` (per network: UDP, then TCP), bounded by
  the overall deadline ``resolve(host, timeout=T)`` sets (the HTTP dial's context in Go).
  When that runs out the lookup fails at once with ``lookup HOST: i/o timeout``
  (IsTimeout, IsTemporary, no server), as Go's ``lookupIPAddr`` does on ``ctx.Done()``.
- Errors are Go's, byte for byte: ``lookup NAME on SERVER: no such host``, ``server
  misbehaving`` (SERVFAIL: temporary; REFUSED, NOTIMP, FORMERR, an extended rcode:
  not temporary), ``lame referral``, ``cannot unmarshal DNS message``, ``cannot
  marshal DNS message`` (a candidate with a label over 63 bytes: nothing is sent),
  ``read udp L->S: i/o timeout`` (IsTimeout and IsTemporary), ``read udp L->S: read:
  connection refused`` (ICMP port unreachable; temporary), ``dial tcp S: connect:
  connection refused``, ``EOF``.  ``name`` is the name as asked.
- Addresses come back in completion order (Go then sorts them by RFC 6724 using the
  routes of the node, which only changes the order on a dual-stack node).
- Bounds, for the simulation's checks: one :meth:`StubResolver.resolve` sends at most
  ``candidates x len(qtypes) x attempts x servers`` UDP queries, plus one TCP query per
  truncated reply; a lookup's time is bounded by the slower lane of each candidate, at
  most ``attempts x servers x timeout`` (x2 with TCP fallback) per candidate.
"""

from __future__ import annotations

import errno as errno_mod
import os
import random
import socket
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from cleanup._clock import Clock
from cleanup._dnsrules import (
    QTYPES,
    Exchange,
    ExchangeOutcome,
    LookupFold,
    QueryOutcome,
    QueryResult,
    QueryWalk,
    Verdict,
    build_query,
    candidate_names,
    completion_order,
    deadline_error,
    ended_walk,
    ends_query,
    ensure_rooted,
    is_domain_name,
    judge_reply,
    marshal_error,
    not_found_error,
    outcome_error,
    rotation_order,
    server_sequence,
    start_order,
)
from cleanup._errors import DNSError
from cleanup._gotext import go_strerror
from cleanup._hosts import DEFAULT_HOSTS, HostsTable, read_hosts
from cleanup._resolvconf import (
    format_nameserver,
    parse_nameserver,
    read_resolv_conf,
)
from cleanup._resolvconf import ip_literal_text as _ip_literal

__all__ = [
    "DNSTransport",
    "QueryEvent",
    "Resolver",
    "StubResolver",
    "candidate_names",
    "is_domain_name",
]

_UDP_BUFFER = 1232  # Go reads a UDP reply into maxDNSPacketSize bytes

#: How a DNS exchange went (:attr:`QueryEvent.transport`): ``udp`` first, ``tcp`` after
#: a truncated reply or with ``use-vc`` (Go's ``dnsConfig.useTCP``).  cleanup's own
#: copy of faultdns's ``Transport``: the two packages never import each other
DNSTransport = Literal["udp", "tcp"]


@runtime_checkable
class Resolver(Protocol):
    """Turns a host name into addresses, or raises :class:`~cleanup.DNSError`."""

    def resolve(self, host: str, *, timeout: float | None = None) -> list[str]:
        """Addresses for ``host``; ``timeout`` bounds the whole lookup where supported.

        The list is empty, without an error, only when there was no name to ask (a
        ``.onion`` name: Go's ``LookupIPAddr`` returns nothing and no error, and its
        dialer then fails with ``dial tcp: address HOST: no suitable address found``).
        """
        ...


@dataclass(frozen=True)
class QueryEvent:
    """One DNS exchange and how it ended, for tests, logs and simulation traces.

    ``name`` is the candidate as sent (with its trailing dot).  ``outcome`` is one of
    :data:`cleanup._dnsrules.OUTCOMES` (``answer``, ``nxdomain``, ``nodata``,
    ``servfail``, ``rcode``, ``lame``, ``unmarshal``, ``invalid``, ``marshal``,
    ``timeout``, ``refused``, ``socket``, ``eof``) or ``truncated`` (a UDP reply with
    TC: a ``tcp`` event follows).  ``detail`` is the error text, or for ``rcode`` the
    rcode's number.
    """

    name: str
    qtype: str
    server: str
    transport: DNSTransport
    outcome: QueryOutcome
    addresses: tuple[str, ...] = ()
    started: float = 0.0
    finished: float = 0.0
    detail: str = ""


class _LookupDeadline(Exception):
    """The caller's overall deadline passed while the lookup was still running."""


@dataclass
class _Exchange:
    """One exchange in flight: its socket, what it waits for, and until when."""

    sock: socket.socket
    transport: DNSTransport
    server: int
    qid: int
    wire: bytes
    started: float
    deadline: float
    seq: int
    phase: Literal["connect", "send", "read"] = "read"  # TCP's steps; always "read" for UDP
    link: str = ""  # "udp L->S" as Go prints it, once the local address is known
    pending: bytes = b""  # TCP bytes still to send
    buf: bytearray = field(default_factory=bytearray)


@dataclass
class _Lane:
    """One query (Go: one ``tryOneName`` goroutine) walking its server sequence."""

    fqdn: str
    qtype: str
    sequence: list[int]
    started: float = 0.0
    step: int = 0
    last_error: DNSError | None = None
    exchange: _Exchange | None = None
    result: QueryResult | None = None
    last_server: int = 0
    last_outcome: QueryOutcome = "marshal"  # until an exchange (or marshalling) ends
    exchanges: list[Exchange] = field(default_factory=list)  # those made, in order

    def walk(self) -> QueryWalk:
        """The lane as :mod:`cleanup._dnsrules` walks a query (for the completion order)."""
        return ended_walk(
            self.exchanges, outcome=self.last_outcome, server=self.last_server, start=self.started
        )


class StubResolver:
    """A DNS stub resolver with the semantics of Go 1.23's pure resolver.

    ``nameservers`` are ``"HOST:PORT"`` or ``"HOST"`` (port 53), IP literals only.
    ``search`` are suffixes as Go keeps them (rooted or not; ``"."`` makes a candidate
    that cannot be marshalled, as Go's ``domain .`` does).  ``single_request``: A, then
    AAAA (resolv.conf ``single-request``/``single-request-reopen``); ``use_tcp``: TCP
    only (``use-vc``); ``trust_ad``: the AD bit in queries (``trust-ad``).
    ``on_query`` is called after every exchange with a :class:`QueryEvent`.  ``rng``
    draws query IDs (a seeded ``random.Random`` makes them reproducible; default: the
    OS source, because unpredictable IDs are a defence against spoofed replies).
    ``hosts`` is the hosts file Go reads before DNS (``hosts: files dns``): a path
    (default ``/etc/hosts``; missing or unreadable means empty, as in Go), its text (a
    string with a newline), or ``None`` for no hosts file at all (the simulation, so
    that the machine's file cannot answer); it is read once, here.  A name the file
    lists gets every address listed, whatever ``qtypes`` says (``qtypes`` chooses the
    DNS queries; Go's ``LookupIPAddr`` asks for both families).
    Raises ``ValueError`` for settings Go could not hold (no server, ``attempts < 1``).
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
        single_request: bool = False,
        use_tcp: bool = False,
        trust_ad: bool = False,
        clock: Clock,
        rng: random.Random | None = None,
        qtypes: Sequence[str] = ("A", "AAAA"),
        strict_errors: bool = False,
        on_query: Callable[[QueryEvent], None] | None = None,
        hosts: str | os.PathLike[str] | None = DEFAULT_HOSTS,
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
            if qtype not in QTYPES:
                raise ValueError(f"qtype {qtype!r} is not one of {sorted(QTYPES)}")
        if not qtypes:
            raise ValueError("qtypes must name at least one of A, AAAA")
        self.search = tuple(ensure_rooted(s) for s in search if s)
        self.ndots = ndots
        self.timeout = float(timeout)
        self.attempts = attempts
        self.rotate = rotate
        self.single_request = single_request
        self.use_tcp = use_tcp
        self.trust_ad = trust_ad
        self.clock: Clock = clock
        self.rng = rng if rng is not None else random.SystemRandom()
        self.qtypes = tuple(qtypes)
        self.strict_errors = strict_errors
        self.on_query = on_query
        self.hosts: HostsTable = read_hosts(hosts)
        self._rotation = 0  # Go's dnsConfig.soffset
        self._sends = 0  # exchanges started, for the causal order of replies

    @classmethod
    def from_resolv_conf(
        cls,
        path_or_text: str | os.PathLike[str],
        *,
        hostname: str | None = None,
        hosts: str | os.PathLike[str] | None = DEFAULT_HOSTS,
        ports: bool = False,
        clock: Clock,
        rng: random.Random | None = None,
        on_query: Callable[[QueryEvent], None] | None = None,
        **overrides: object,
    ) -> StubResolver:
        """A resolver configured from a resolv.conf file (or its text, if it has a newline).

        The file is read exactly as Go reads it; ``ports=True`` opts in to ``nameserver
        IP:PORT`` (not Go; see :func:`cleanup.parse_resolv_conf`).  ``hostname``
        supplies the default search domain when the file sets none (Go
        ``dnsDefaultSearch``; default ``socket.gethostname()``).  ``hosts``: the hosts
        file, as for :class:`StubResolver` (a path, its text, or ``None``).
        ``overrides`` (``nameservers``, ``search``, ``ndots``, ``timeout``,
        ``attempts``, ``rotate``, ...) replace what the file says, as command-line flags
        would.  Raises :class:`~cleanup.ResolvConfError` when the file cannot be read.
        """
        conf = read_resolv_conf(path_or_text, hostname=hostname, ports=ports)
        settings: dict[str, object] = {
            "nameservers": list(conf.nameservers),
            "search": conf.search,
            "ndots": conf.ndots,
            "timeout": conf.timeout,
            "attempts": conf.attempts,
            "rotate": conf.rotate,
            "single_request": conf.single_request,
            "use_tcp": conf.use_tcp,
            "trust_ad": conf.trust_ad,
        }
        settings.update(overrides)
        nameservers = settings.pop("nameservers")
        return cls(
            nameservers,  # type: ignore[arg-type]
            clock=clock,
            rng=rng,
            on_query=on_query,
            hosts=hosts,
            **settings,  # type: ignore[arg-type]
        )

    @property
    def nameservers(self) -> list[str]:
        return [format_nameserver(ip, port) for ip, port in self.servers]

    # -- the lookup -------------------------------------------------------------------

    def resolve(self, host: str, *, timeout: float | None = None) -> list[str]:
        """Go ``LookupIPAddr`` through ``goLookupIPCNAME``: addresses or ``DNSError``.

        Returns the addresses as text (``"10.53.1.20"``, ``"fd00::1"``), in the order
        the answers completed and listed them (Go then sorts them by RFC 6724 with the
        node's routes, which only reorders on a dual-stack node; we do not).  An IP
        literal is returned as is; a name in the hosts file gets the file's addresses
        without a DNS query (``hosts: files dns``).  Otherwise the candidate names
        (:func:`cleanup.dnsrules.candidate_names`: the search list and ``ndots``, Go
        ``nameList``) are asked in turn, each with its A/AAAA queries over the servers
        and attempts (Go ``tryOneName``), until one answers with addresses.
        An empty list means no name was asked (``.onion``; see
        :meth:`Resolver.resolve`).

        ``timeout`` (seconds, on this resolver's clock) bounds the whole lookup.
        Raises :class:`~cleanup.DNSError` with Go's text and flags: ``no such host``
        (``is_not_found``: every candidate NXDOMAIN/NODATA, or a name that is not a
        domain name), ``i/o timeout`` (``is_timeout``; also when ``timeout`` runs out:
        ``lookup HOST: i/o timeout``) or ``server misbehaving`` (``is_temporary``).
        Rules and sources: :mod:`cleanup._dnsrules`.
        """
        if host == "":
            raise not_found_error(host)
        literal = _ip_literal(host)
        if literal is not None:
            return [literal]
        listed = self.hosts.lookup(host)
        if listed:  # hosts: files dns
            return list(listed)
        if not is_domain_name(host):
            raise not_found_error(host)
        deadline = None if timeout is None else self.clock.now() + timeout
        fold = LookupFold(host, strict_errors=self.strict_errors)
        try:
            for fqdn in candidate_names(host, self.search, self.ndots):
                for result in self._lookup_candidate(fqdn, deadline):
                    fold.add(fqdn, result)
                if fold.end_candidate():
                    break
        except _LookupDeadline:
            raise deadline_error(host) from None
        return fold.result()

    def _lookup_candidate(self, fqdn: str, deadline: float | None) -> list[QueryResult]:
        """The candidate's queries; results in completion order."""
        if self.single_request:
            results: list[QueryResult] = []
            for qtype in self.qtypes:
                results += self._run([qtype], fqdn, deadline)
            return results
        return self._run(start_order(self.qtypes), fqdn, deadline)

    def _run(self, qtypes: Sequence[str], fqdn: str, deadline: float | None) -> list[QueryResult]:
        """Run one lane per query type concurrently until all are done."""
        offsets = dict.fromkeys(qtypes, 0)
        if self.rotate:  # Go's serverOffset: once per tryOneName, as the goroutines run
            order = rotation_order(qtypes) if len(qtypes) > 1 else list(qtypes)
            for qtype in order:
                offsets[qtype] = self._rotation
                self._rotation += 1
        begin = self.clock.now()
        lanes = [
            _Lane(
                fqdn,
                qtype,
                server_sequence(len(self.servers), self.attempts, offsets[qtype]),
                started=begin,
            )
            for qtype in qtypes
        ]
        try:
            # Go's goroutines send their first queries at the same moment; build every
            # lane's first exchange, then send them back to back.
            held: list[_Lane] = []
            for lane in lanes:
                self._next(lane, deadline, held)
            for lane in held:
                self._send_held(lane, deadline)
            while True:
                live = [lane for lane in lanes if lane.exchange is not None]
                if not live:
                    # Go's completion order, by the one rule the pure model follows
                    # too: in virtual time the waits above need not see a TCP reply
                    # in the round it belongs to (the harness's server may serve it
                    # later at the same instant), so arrival order is not the rule.
                    ranked = completion_order([lane.walk() for lane in lanes])
                    return [result for i in ranked if (result := lanes[i].result)]
                now = self.clock.now()
                if deadline is not None and now >= deadline:
                    raise _LookupDeadline
                until = min(lane.exchange.deadline for lane in live if lane.exchange)
                waits = [
                    (lane.exchange.sock, lane.exchange.phase in ("connect", "send"))
                    for lane in live
                    if lane.exchange
                ]
                ready = set(self.clock.wait_any(waits, max(until - now, 0.0)))
                now = self.clock.now()
                if deadline is not None and now >= deadline:
                    raise _LookupDeadline
                events: list[tuple[float, int, _Lane, bool]] = []
                for index, lane in enumerate(live):
                    exchange = lane.exchange
                    assert exchange is not None
                    if index in ready:
                        events.append((now, exchange.seq, lane, True))
                    elif now >= exchange.deadline:
                        events.append((exchange.deadline, exchange.seq, lane, False))
                events.sort(key=lambda event: (event[0], event[1]))
                for _when, _seq, lane, is_ready in events:
                    if is_ready:
                        self._on_ready(lane, deadline)
                    else:
                        self._on_timeout(lane, deadline)
        finally:
            for lane in lanes:
                if lane.exchange is not None:
                    lane.exchange.sock.close()
                    lane.exchange = None

    # -- one lane -----------------------------------------------------------------------

    def _next(
        self,
        lane: _Lane,
        deadline: float | None,
        held: list[_Lane] | None = None,
    ) -> None:
        """Start the lane's next exchange; a lane out of servers is done (Go's lastErr).

        With ``held``, a UDP query is not sent yet: the lane is appended to ``held``
        and :meth:`_send_held` sends it.
        """
        while lane.step < len(lane.sequence):
            if deadline is not None and self.clock.now() >= deadline:
                raise _LookupDeadline
            index = lane.sequence[lane.step]
            lane.step += 1
            if self._start(lane, index, deadline, held):
                return
        lane.result = QueryResult(error=lane.last_error)

    def _server_text(self, index: int) -> str:
        return format_nameserver(*self.servers[index])

    def _start(
        self, lane: _Lane, index: int, deadline: float | None, held: list[_Lane] | None = None
    ) -> bool:
        """Go ``exchange`` up to the first wait; False if it failed at once."""
        now = self.clock.now()
        server = self._server_text(index)
        qid = self.rng.getrandbits(16)
        if marshal_error(lane.fqdn):
            self._fail(lane, index, "udp", "marshal", "", now)
            return False
        wire = build_query(qid, lane.fqdn, QTYPES[lane.qtype], ad=self.trust_ad)
        if self.use_tcp:
            return self._start_tcp(lane, index, qid, wire, deadline)
        ip, port = self.servers[index]
        sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            sock.connect((ip, port))
        except OSError as exc:
            sock.close()
            detail = f"dial udp {server}: connect: {go_strerror(exc)}"
            self._fail(lane, index, "udp", "socket", detail, now, exc.errno)
            return False
        link = f"udp {_addr_text(sock.getsockname())}->{server}"
        if held is not None:
            lane.exchange = _Exchange(
                sock, "udp", index, qid, wire, now, self._limit(now, deadline), self._seq(),
                link=link,
            )  # fmt: skip
            held.append(lane)
            return True
        try:
            sock.send(wire)
        except OSError as exc:
            sock.close()
            detail = f"write {link}: write: {go_strerror(exc)}"
            self._fail(lane, index, "udp", _errno_outcome(exc.errno or 0), detail, now, exc.errno)
            return False
        lane.exchange = _Exchange(
            sock, "udp", index, qid, wire, now, self._limit(now, deadline), self._seq(), link=link
        )
        return True

    def _send_held(self, lane: _Lane, deadline: float | None) -> None:
        """Send a first query :meth:`_start` built but held back."""
        exchange = lane.exchange
        assert exchange is not None
        try:
            exchange.sock.send(exchange.wire)
        except OSError as exc:
            detail = f"write {exchange.link}: write: {go_strerror(exc)}"
            self._end(lane, _errno_outcome(exc.errno or 0), detail, deadline, exc.errno)

    def _start_tcp(
        self, lane: _Lane, index: int, qid: int, wire: bytes, deadline: float | None
    ) -> bool:
        """The TCP half of Go's ``exchange``: a fresh socket and a fresh ``timeout``."""
        now = self.clock.now()
        server = self._server_text(index)
        ip, port = self.servers[index]
        sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex((ip, port))
        # Go waits on EINPROGRESS, EALREADY and EINTR (fd_unix.go ``connect``); any other
        # errno, EAGAIN (no local port left) among them, ends the dial
        if code not in (0, errno_mod.EINPROGRESS, errno_mod.EALREADY, errno_mod.EINTR):
            sock.close()
            detail = f"dial tcp {server}: connect: {go_strerror(_os_error(code))}"
            self._fail(lane, index, "tcp", _errno_outcome(code), detail, now, code)
            return False
        exchange = _Exchange(
            sock,
            "tcp",
            index,
            qid,
            wire,
            now,
            self._limit(now, deadline),
            self._seq(),
            phase="connect",
            link=f"tcp {server}",
            pending=struct.pack("!H", len(wire)) + wire,
        )
        # Even when the connect completed at once (loopback may), the lane waits for
        # writability first: a TCP exchange always takes two rounds (connect, reply),
        # so the order of replies in virtual time does not depend on kernel timing.
        lane.exchange = exchange
        return True

    def _connected(self, lane: _Lane, exchange: _Exchange) -> None:
        exchange.link = f"tcp {_addr_text(exchange.sock.getsockname())}->{exchange.link[4:]}"
        exchange.phase = "send"

    def _limit(self, now: float, deadline: float | None) -> float:
        limit = now + self.timeout
        return limit if deadline is None else min(limit, deadline)

    def _seq(self) -> int:
        self._sends += 1
        return self._sends

    def _on_ready(self, lane: _Lane, deadline: float | None) -> None:
        exchange = lane.exchange
        assert exchange is not None
        if exchange.transport == "udp":
            self._read_udp(lane, exchange, deadline)
        else:
            self._step_tcp(lane, exchange, deadline)

    def _read_udp(self, lane: _Lane, exchange: _Exchange, deadline: float | None) -> None:
        """Go ``dnsPacketRoundTrip``: read until our reply; ignore everything else."""
        while True:
            try:
                data = exchange.sock.recv(65535)[:_UDP_BUFFER]
            except BlockingIOError:
                return  # a spurious wake-up, or only foreign datagrams: keep waiting
            except OSError as exc:
                detail = f"read {exchange.link}: read: {go_strerror(exc)}"
                self._end(lane, _errno_outcome(exc.errno or 0), detail, deadline, exc.errno)
                return
            verdict = judge_reply(data, exchange.qid, lane.fqdn, QTYPES[lane.qtype], "udp")
            if verdict.outcome == "ignore":
                continue
            if verdict.outcome == "truncated":
                self._emit(lane, exchange, "truncated")
                exchange.sock.close()
                lane.exchange = None
                if not self._start_tcp(
                    lane, exchange.server, exchange.qid, exchange.wire, deadline
                ):
                    self._next(lane, deadline)
                return
            self._judged(lane, verdict, deadline)
            return

    def _step_tcp(self, lane: _Lane, exchange: _Exchange, deadline: float | None) -> None:
        """Go ``dnsStreamRoundTrip``, one readiness at a time."""
        sock = exchange.sock
        if exchange.phase == "connect":
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                detail = f"dial {exchange.link}: connect: {go_strerror(_os_error(code))}"
                self._end(lane, _errno_outcome(code), detail, deadline, code)
                return
            self._connected(lane, exchange)
        if exchange.phase == "send":
            try:
                sent = sock.send(exchange.pending)
            except BlockingIOError:
                return
            except OSError as exc:
                self._stream_failed(lane, exchange, "write", exc, deadline)
                return
            exchange.pending = exchange.pending[sent:]
            if not exchange.pending:
                exchange.phase = "read"
            return
        while True:
            try:
                chunk = sock.recv(65535)
            except BlockingIOError:
                return
            except OSError as exc:
                self._stream_failed(lane, exchange, "read", exc, deadline)
                return
            buf = exchange.buf
            if not chunk:
                # Go reads the length, then the message, each with io.ReadFull: EOF
                # before the first byte of either read is "EOF", after it "unexpected EOF"
                partial = len(buf) == 1 or len(buf) > 2
                text = "unexpected EOF" if partial else "EOF"
                self._end(lane, "eof", text, deadline)
                return
            buf += chunk
            if len(buf) >= 2:
                (length,) = struct.unpack("!H", buf[:2])
                if len(buf) >= 2 + length:
                    data = bytes(buf[2 : 2 + length])
                    verdict = judge_reply(data, exchange.qid, lane.fqdn, QTYPES[lane.qtype], "tcp")
                    self._judged(lane, verdict, deadline)
                    return

    def _on_timeout(self, lane: _Lane, deadline: float | None) -> None:
        exchange = lane.exchange
        assert exchange is not None
        if exchange.phase == "connect":
            detail = f"dial {exchange.link}: i/o timeout"
        elif exchange.phase == "send":
            detail = f"write {exchange.link}: i/o timeout"
        else:
            detail = f"read {exchange.link}: i/o timeout"
        self._end(lane, "timeout", detail, deadline)

    # -- endings ------------------------------------------------------------------------

    def _judged(
        self,
        lane: _Lane,
        verdict: Verdict,
        deadline: float | None,
    ) -> None:
        outcome, rcode, addresses = verdict.outcome, verdict.rcode, verdict.addresses
        assert outcome != "ignore" and outcome != "truncated"  # the UDP reader takes these
        answer_error = verdict.answer_error
        exchange = lane.exchange
        assert exchange is not None
        server = self._server_text(exchange.server)
        if outcome == "answer":
            self._emit(lane, exchange, "answer", addresses=addresses)
            broken = (
                DNSError(lane.fqdn, "cannot unmarshal DNS message", server=server)
                if answer_error
                else None
            )
            exchange.sock.close()
            lane.exchange = None
            lane.result = QueryResult(addresses=addresses, answer_error=broken)
            return
        detail = str(rcode) if outcome == "rcode" else ""
        self._end(lane, outcome, detail, deadline)

    def _stream_failed(
        self,
        lane: _Lane,
        exchange: _Exchange,
        op: str,
        exc: OSError,
        deadline: float | None,
    ) -> None:
        """A TCP write or read failed: Go's ``OP LINK: OP: strerror`` (its ``net.OpError``),
        the errno deciding the outcome (:func:`_errno_outcome`)."""
        outcome = _errno_outcome(exc.errno or 0)
        detail = f"{op} {exchange.link}: {op}: {go_strerror(exc)}"
        self._end(lane, outcome, detail, deadline, exc.errno)

    def _end(
        self,
        lane: _Lane,
        outcome: ExchangeOutcome,
        detail: str,
        deadline: float | None,
        code: int | None = None,
    ) -> None:
        """The exchange failed (or said "no such host"): record it, then go on.
        ``code``: the errno a socket call failed with (its ``Timeout()`` is the error's)."""
        exchange = lane.exchange
        assert exchange is not None
        exchange.sock.close()
        lane.exchange = None
        started = exchange.started
        self._fail(lane, exchange.server, exchange.transport, outcome, detail, started, code)
        if lane.result is None and ends_query(outcome):
            lane.result = QueryResult(error=lane.last_error)
            return
        self._next(lane, deadline)

    def _fail(
        self,
        lane: _Lane,
        index: int,
        transport: DNSTransport,
        outcome: ExchangeOutcome,
        detail: str,
        started: float,
        code: int | None = None,
    ) -> None:
        server = self._server_text(index)
        error = outcome_error(outcome, lane.fqdn, server, detail, errno=code)
        lane.last_error = error
        self._record(lane, index, transport, outcome, started)
        self._event(lane, server, transport, outcome, started, detail=detail or error.err)

    def _emit(
        self,
        lane: _Lane,
        exchange: _Exchange,
        outcome: QueryOutcome,
        addresses: tuple[str, ...] = (),
    ) -> None:
        server = self._server_text(exchange.server)
        self._record(lane, exchange.server, exchange.transport, outcome, exchange.started)
        self._event(lane, server, exchange.transport, outcome, exchange.started, addresses)

    def _record(
        self, lane: _Lane, index: int, transport: str, outcome: QueryOutcome, started: float
    ) -> None:
        """Keep one exchange as :class:`cleanup._dnsrules.Exchange` (for the completion
        order); a name that cannot be marshalled sent nothing, so it made none."""
        lane.last_server, lane.last_outcome = index, outcome
        if outcome != "marshal":
            lane.exchanges.append(Exchange(index, transport, outcome, started, self.clock.now()))

    def _event(
        self,
        lane: _Lane,
        server: str,
        transport: DNSTransport,
        outcome: QueryOutcome,
        started: float,
        addresses: tuple[str, ...] = (),
        detail: str = "",
    ) -> None:
        if self.on_query is not None:
            event = QueryEvent(
                lane.fqdn,
                lane.qtype,
                server,
                transport,
                outcome,
                addresses,
                started,
                self.clock.now(),
                detail,
            )
            self.on_query(event)


def _errno_outcome(code: int) -> ExchangeOutcome:
    """A socket error's exchange outcome: ``refused`` for ECONNREFUSED (a connected UDP
    socket's ICMP port unreachable, a TCP connect refused), else ``socket`` (Go's
    ``*OpError``)."""
    return "refused" if code == errno_mod.ECONNREFUSED else "socket"


def _addr_text(address: tuple[object, ...]) -> str:
    return format_nameserver(str(address[0]), int(str(address[1])))


def _os_error(code: int) -> OSError:
    """The ``OSError`` for ``code``; Python picks the subclass (ConnectionRefusedError, ...)."""
    return OSError(code, os.strerror(code))

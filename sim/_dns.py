"""The cluster DNS of a timeline, served by a real faultdns server.

The zone is what CoreDNS knows once it is fully up: the repo Service's name -> the fake
repo's address (``127.0.0.1``), TTL 0 (a cached answer would hide the outage; CoreDNS's
own negative cache is a world state, see ``sim._world``), and authority for
``cluster.local`` and ``.`` so every other name gets NXDOMAIN.  The root stands in for
CoreDNS's upstream: the name as given, ``upgrade-repo-x.harvester-system`` (tried last,
and the error Go prefers), has a timeline key of its own whose state says what the
upstream answers (``world.upstream``).

The timeline's DNS intervals become fault rules, windows on the server's clock:

- ``timeout`` -> ``drop``: the query costs the resolver's full timeout.
- ``nxdomain`` -> ``nxdomain``; ``servfail`` -> ``servfail``; ``lame`` -> ``lame`` (a
  lame referral: NOERROR, AA and RA clear, no record); ``refused`` -> ``refused``
  (rcode REFUSED).
- ``ok`` -> no rule for the repo name (the zone answers); for any other name ``ok`` and
  ``nxdomain`` are the same thing, the zone's NXDOMAIN.
- ``conn-refused`` -> no rule: no query may reach the server at all.  It is a state of
  the server (the DNS Service has no ready backend, so kube-proxy rejects every packet
  with ICMP port unreachable), and ``FaultDNSServer.set_unreachable`` plays it: the
  server's UDP socket is connected to itself, so the kernel finds no socket for a client's datagram
  and answers it with ICMP port unreachable, which the client's connected UDP socket
  reads as ``ECONNREFUSED`` -- exactly what Go reports as ``read udp L->S: read:
  connection refused``.  The port stays bound throughout (no other socket can take
  it), and the clock's loopback barrier proves the ICMP error was delivered before it
  lets virtual time move.  :func:`refusal_changes` gives the windows; a timeline where
  only some names are ``conn-refused`` cannot be played and is refused.

Why the clock may jump past a refused query's deadline only when the error is not
coming (the rule :meth:`DNSPeer.in_flight` and ``sim._clock`` keep): on loopback the
kernel answers a datagram for a port nobody receives on while delivering it
(``udp_rcv`` -> ``icmp_send``), and the ICMP error is delivered in the same pass, so the
client's socket has ``ECONNREFUSED`` pending (poll: ``POLLERR``) when its ``send``
returns (Linux 6.18: 200,000 sends in 200,000, under loopback floods too).  Where
delivery is left to ``ksoftirqd`` instead, the error is queued behind the query on the
same CPU's backlog, so the clock's second loopback barrier in a row covers it.  A peer
therefore never reports a refused query as in flight, and a wait that finds no error
after two barriers may jump.  What does break it is a "down" peer whose port is not
held: a port bound and released is free, and Linux may make it the ephemeral port of
the very socket that dials it (1 socket in about 28,000), which is then connected to
itself, reads its own query and times out.  So every down peer keeps its port bound:
the cluster DNS through :meth:`DNSPeer.refuse`, the repo through
``sim._repo_server.reserve_port`` (TCP), a test's dead nameserver through
``faultdns.testing.ClosedPort`` (``tests/sim/nameservers.py``).

Rules are first-match, so the named keys' rules come first; where a named key is ``ok``
while ``*`` is down, explicit rules answer it as the zone would (the repo name: A
record, AAAA no data; any other name: NXDOMAIN) so the catch-all rule cannot swallow it.
"""

from __future__ import annotations

import asyncio
import errno
import math
import socket
import weakref
from collections.abc import Callable, Iterable

import faultdns
import retrylab_entry
from faultdns import FaultDNSServer, FaultRule, free_udp_port
from faultdns.testing import client_text, unread_bytes
from sim._clock import exact_delay
from sim._timeline import OTHER_NAMES, QTYPE_MARK, SERVER_DOWN, Interval, Timeline

__all__ = [
    "REPO_ADDRESS",
    "DNSPeer",
    "dns_rules",
    "make_dns_server",
    "refusal_changes",
]

REPO_ADDRESS = "127.0.0.1"
_ACTIONS: dict[str, faultdns.Action] = {
    "timeout": "drop",
    "nxdomain": "nxdomain",
    "servfail": "servfail",
    "lame": "lame",
    "refused": "refused",
}
#: states in which the catch-all rule would swallow a named key that is ``ok``
_DOWN = ("timeout", "servfail", "lame", "refused")


def make_dns_server(repo_host: str, clock: faultdns.Clock, *, port: int = 0) -> FaultDNSServer:
    """A faultdns server for ``repo_host`` (not started); more names via ``add_record``."""
    return FaultDNSServer(
        records=[f"{repo_host}={REPO_ADDRESS}"],
        origins=["cluster.local", "."],
        ttl=0,
        clock=clock,
        port=port,
        seed=0,
    )


def _window(start: float, end: float, origin: float) -> tuple[float, float | None]:
    """``after``/``for`` so that ``after + for == end - origin`` exactly (if representable)."""
    after = start - origin
    if end == math.inf:
        return after, None
    return after, exact_delay(after, end - origin)


def _overlap(a: Iterable[Interval], b: Iterable[Interval]) -> list[tuple[float, float]]:
    spans = []
    for x in a:
        for y in b:
            lo, hi = max(x.start, y.start), min(x.end, y.end)
            if lo < hi:
                spans.append((lo, hi))
    return spans


def dns_rules(timeline: Timeline, *, origin: float = 0.0) -> list[FaultRule]:
    """Fault rules reproducing the timeline's DNS states, windows relative to ``origin``.

    Intervals that ended before ``origin`` are left out; one that spans it starts at 0.
    """
    repo = timeline.repo_host.rstrip(".").lower()
    rules: list[FaultRule] = []

    def add(
        action: faultdns.Action,
        match: str,
        start: float,
        end: float,
        label: str,
        *,
        answer: str | None = None,
        qtype: str | None = None,
    ) -> None:
        if end <= origin:
            return
        after, length = _window(max(start, origin), end, origin)
        rule_id = f"{label}@{start:g}"
        rules.append(
            FaultRule(
                id=rule_id,
                action=action,
                match=match,
                after=after,
                for_=length,
                answer=answer,
                qtype=qtype,
            )
        )

    others = timeline.dns.get(OTHER_NAMES, ())
    others_down = [iv for iv in others if iv.state in _DOWN]
    # per-query-type keys first (rules are first-match): an AAAA state of its own,
    # its "ok" stated explicitly so the name's own rules cannot answer it
    for key, intervals in sorted(timeline.dns.items()):
        if QTYPE_MARK not in key:
            continue
        base, qtype = key.split(QTYPE_MARK, 1)
        name = base.rstrip(".").lower()
        label = f"{'repo' if name == repo else name}-{qtype}"
        for iv in intervals:
            if iv.state in _ACTIONS:
                add(_ACTIONS[iv.state], name, iv.start, iv.end, f"{label}-{iv.state}", qtype=qtype)
            elif iv.state == "ok":
                action: faultdns.Action = "nodata" if name == repo else "nxdomain"
                add(action, name, iv.start, iv.end, f"{label}-ok", qtype=qtype)
    for key, intervals in sorted(timeline.dns.items()):
        if key == OTHER_NAMES or QTYPE_MARK in key:
            continue
        name = key.rstrip(".").lower()
        label = "repo" if name == repo else name
        for iv in intervals:
            if iv.state in _ACTIONS:
                add(_ACTIONS[iv.state], name, iv.start, iv.end, f"{label}-{iv.state}")
        ok = [iv for iv in intervals if iv.state == "ok"]
        for lo, hi in _overlap(ok, others_down):
            if name == repo:
                add("answer", name, lo, hi, f"{label}-ok-A", answer=REPO_ADDRESS)
                add("nodata", name, lo, hi, f"{label}-ok-AAAA", qtype="AAAA")
            else:
                add("nxdomain", name, lo, hi, f"{label}-ok")
    for iv in others_down:
        if iv.state in _ACTIONS:  # conn-refused: nothing reaches the server (refuse())
            add(_ACTIONS[iv.state], "*", iv.start, iv.end, f"all-{iv.state}")
    return rules


def _spans(intervals: Iterable[Interval], state: str) -> list[tuple[float, float]]:
    """The merged ``[start, end)`` spans where ``state`` holds."""
    spans: list[tuple[float, float]] = []
    for iv in intervals:
        if iv.state != state:
            continue
        if spans and spans[-1][1] == iv.start:
            spans[-1] = (spans[-1][0], iv.end)
        else:
            spans.append((iv.start, iv.end))
    return spans


def refusal_changes(timeline: Timeline) -> list[tuple[float, bool]]:
    """When the cluster DNS starts (True) and stops (False) refusing every query.

    ``conn-refused`` is the server's state, so it must hold for every DNS key of the
    timeline at once; raises ``ValueError`` naming a key where it does not.
    """
    tracks = {key: _spans(intervals, SERVER_DOWN) for key, intervals in timeline.dns.items()}
    reference = tracks.get(OTHER_NAMES, next(iter(tracks.values()), []))
    for key, spans in tracks.items():
        if spans != reference:
            raise ValueError(
                f"timeline dns[{key!r}]: {SERVER_DOWN!r} is the whole server's state "
                "(no ready backend: every query is refused) and must hold for every name "
                f"at once; got {spans} here and {reference} for the others"
            )
    changes: list[tuple[float, bool]] = []
    for start, end in reference:
        changes.append((start, True))
        if end != math.inf:
            changes.append((end, False))
    return changes


class _Book:
    """What faultdns sent one client UDP socket, against what the client took."""

    __slots__ = ("base", "ref", "taken")

    def __init__(self, sock: socket.socket, base: int) -> None:
        self.ref = weakref.ref(sock)
        self.base = base  # log sequence number before the socket could have sent anything
        self.taken = 0  # waits that returned "readable": one datagram read each


class DNSPeer:
    """faultdns as a peer of the :class:`~sim.SimClock`, run in the harness thread.

    The server does not get a thread: it serves in an asyncio event loop that this peer
    owns and that nobody runs except :meth:`settle`, which turns the loop until it has
    handled everything that reached the server (replies go out from inside the pump).
    No thread handoffs, no GIL contention, no "is it done yet" polling.  What is still
    inside the kernel (a query sent a moment ago, under load) is the clock's business:
    it drains the loopback before it believes that nothing more will arrive.

    New query-log records go to ``on_record``.  ``in_flight`` keeps, per client UDP
    socket, how many replies the server sent it and how many the client has read (the
    resolver reads one datagram per ready wait), so a reply still on its way would be
    waited for instead of being taken for a timeout; for a TCP connection to the server
    it turns the loop a few more times (accept, register, read take an iteration each).

    :meth:`refuse` plays a DNS Service without a ready backend (see the module
    docstring).  For that the server's port must be bound explicitly: :meth:`start`
    picks a free port first when the server was made with ``port=0``.
    """

    _TCP_ROUNDS = 6
    _PORT_TRIES = 20

    def __init__(
        self,
        server: FaultDNSServer,
        on_record: Callable[[faultdns.QueryRecord], None] | None = None,
    ) -> None:
        self.server = server
        self.on_record = on_record
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seq = 0  # last log record handed on
        self._mark = 0  # self._seq when the previous wait ended
        self._sent: list[tuple[int, str]] = []  # (seq, client) of UDP replies sent
        self._books: dict[str, _Book] = {}
        self.records: list[faultdns.QueryRecord] = []
        self.refusing = False

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> DNSPeer:
        # SIGINT held until the loop is whole and serving (or closed): a Ctrl-C inside
        # ``new_event_loop`` left a half-built loop whose ``__del__`` printed a
        # traceback at exit, one inside ``run_until_complete`` a coroutine never
        # awaited (see retrylab_entry).  Start-up takes milliseconds.
        with retrylab_entry.sigint_deferred():
            loop = asyncio.new_event_loop()
            try:
                self._start_on_fixed_port(loop)
            except BaseException:
                loop.close()
                raise
            self._loop = loop
        return self

    def _start_on_fixed_port(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the server on an explicitly bound port (:meth:`refuse` needs one)."""
        server = self.server
        if server.port != 0:
            loop.run_until_complete(server.astart())
            return
        for attempt in range(self._PORT_TRIES):
            server.port = free_udp_port(server.host)
            try:
                loop.run_until_complete(server.astart())
                return
            except OSError as exc:  # taken meanwhile: try another
                server.port = 0
                if exc.errno != errno.EADDRINUSE or attempt == self._PORT_TRIES - 1:
                    raise

    def refuse(self, on: bool) -> None:
        """Start (``on``) or stop answering every UDP query with ICMP port unreachable
        (``FaultDNSServer.set_unreachable``), as kube-proxy does for a Service without
        endpoints."""
        if on != self.refusing:
            self.server.set_unreachable(on)
            self.refusing = on

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        # held like start: an interrupt mid-stop would leave the stop's tasks pending
        # ("Task was destroyed but it is pending!"); it is bounded (astop waits <= 2 s)
        with retrylab_entry.sigint_deferred():
            try:
                loop.run_until_complete(self.server.astop())
            finally:
                loop.close()

    def restart(self) -> None:
        """Forget the previous world's bookkeeping (call after ``server.reset()``)."""
        self.refuse(False)
        self._sent.clear()
        self._books.clear()
        self.records = []
        self._mark = self._seq

    def call_listener(self, listener: Callable[[float], None], now: float) -> None:
        """Run a clock listener; inside the loop when the server has replies due, since
        faultdns releases held ``delay=`` replies from its own loop."""
        due = self.server.next_due()
        if due is None or due > now or self._loop is None:
            listener(now)
            return

        async def inside() -> None:
            listener(now)

        self._loop.run_until_complete(inside())

    # -- the clock's peer protocol ------------------------------------------------------

    def _turn(self) -> bool:
        """One loop iteration (I/O ready now, callbacks due); True if queries came in."""
        loop = self._loop
        if loop is None:
            return False
        loop.call_soon(loop.stop)
        loop.run_forever()
        records = self.server.queries_since(self._seq)
        for record in records:
            self._seq = record.seq
            self.records.append(record)
            if record.transport == "udp" and record.rcode != "drop":
                self._sent.append((record.seq, record.client))
            if self.on_record is not None:
                self.on_record(record)
        return bool(records)

    def settle(self) -> bool:
        busy = False
        while self._turn():
            busy = True
        return busy

    def next_due(self) -> float | None:
        return self.server.next_due()

    def _book(self, sock: socket.socket) -> _Book | None:
        if sock.type != socket.SOCK_DGRAM:
            return None
        try:
            key = client_text(sock.getsockname())
        except OSError:
            return None
        book = self._books.get(key)
        if book is None or book.ref() is not sock:
            # A socket we have not seen: anything it sent came after the last wait ended.
            book = self._books[key] = _Book(sock, self._mark)
        return book

    def in_flight(self, sock: socket.socket) -> bool:
        if sock.type == socket.SOCK_STREAM:
            return self._tcp_in_flight(sock)
        book = self._book(sock)
        if book is None:
            return False
        key = client_text(sock.getsockname())
        sent = sum(1 for seq, client in self._sent if seq > book.base and client == key)
        return sent > book.taken and unread_bytes(sock) == 0

    def _tcp_in_flight(self, sock: socket.socket) -> bool:
        """A TCP query to us takes a few loop turns; give it them, then look again."""
        try:
            peer = sock.getpeername()
        except OSError:
            return False
        if tuple(peer[:2]) != tuple(self.server.address):
            return False
        for _ in range(self._TCP_ROUNDS):
            self._turn()
            if unread_bytes(sock):
                return True
        return False

    def wait_ended(self, sock: socket.socket, ready: bool) -> None:
        book = self._book(sock)
        # a wait ended by a pending socket error (ECONNREFUSED) took no datagram
        if book is not None and ready and unread_bytes(sock) > 0:
            book.taken += 1
        self._mark = self._seq

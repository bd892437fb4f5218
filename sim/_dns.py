"""The cluster DNS of a timeline, served by a real faultdns server.

The zone is what CoreDNS knows once it is fully up: the repo Service's name -> the fake
repo's address (``127.0.0.1``), TTL 0 (a cached answer would hide the outage), and
authority for ``cluster.local`` and ``.`` so every other name gets NXDOMAIN.  The root
stands in for CoreDNS's upstream: the bare name ``upgrade-repo-x.harvester-system`` (tried
last, and the error Go prefers) gets NXDOMAIN there too, as on a real cluster.

The timeline's DNS intervals become fault rules, windows on the server's clock:

- ``refused`` -> ``refused`` (rcode REFUSED).  In the field the ClusterIP without a
  CoreDNS pod behind it answers with ICMP port unreachable (``read: connection
  refused``); our resolver classifies both as temporary errors, so the retry decision
  is the same.
- ``timeout`` -> ``drop``: the query costs the resolver's full timeout.
- ``nxdomain`` -> ``nxdomain``.
- ``ok`` -> no rule for the repo name (the zone answers); for ``*`` (every other name)
  ``ok`` and ``nxdomain`` are the same thing, the zone's NXDOMAIN.

Rules are first-match, so the repo name's rules come first; where the repo name is
``ok`` while ``*`` is down, explicit rules answer the repo name as the zone would (A
record, AAAA no data) so the catch-all rule cannot swallow it.
"""

from __future__ import annotations

import asyncio
import fcntl
import math
import socket
import struct
import termios
import weakref
from collections.abc import Callable, Iterable

import faultdns
from faultdns import FaultDNSServer, FaultRule
from sim._timeline import OTHER_NAMES, Interval, Timeline

__all__ = ["REPO_ADDRESS", "DNSPeer", "dns_rules", "make_dns_server"]

REPO_ADDRESS = "127.0.0.1"
_ACTIONS = {"refused": "refused", "timeout": "drop", "nxdomain": "nxdomain"}


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
    target = end - origin
    length = target - after
    for _ in range(4):
        got = after + length
        if got == target:
            break
        length = math.nextafter(length, math.inf if got < target else -math.inf)
    return after, max(length, 0.0)


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
        action: str,
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
    others_down = [iv for iv in others if iv.state in ("refused", "timeout")]
    for key, intervals in sorted(timeline.dns.items()):
        if key == OTHER_NAMES:
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
        add(_ACTIONS[iv.state], "*", iv.start, iv.end, f"all-{iv.state}")
    return rules


def _addr(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def _unread(sock: socket.socket) -> int:
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    return int(struct.unpack("i", raw)[0])


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
    """

    _TCP_ROUNDS = 6

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

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> DNSPeer:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.server.astart())
        except BaseException:
            loop.close()
            raise
        self._loop = loop
        return self

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        try:
            loop.run_until_complete(self.server.astop())
        finally:
            loop.close()

    def restart(self) -> None:
        """Forget the previous world's bookkeeping (call after ``server.reset()``)."""
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
            key = _addr(sock.getsockname())
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
        key = _addr(sock.getsockname())
        sent = sum(1 for seq, client in self._sent if seq > book.base and client == key)
        return sent > book.taken and _unread(sock) == 0

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
            if _unread(sock):
                return True
        return False

    def wait_ended(self, sock: socket.socket, ready: bool) -> None:
        book = self._book(sock)
        if book is not None and ready:
            book.taken += 1
        self._mark = self._seq

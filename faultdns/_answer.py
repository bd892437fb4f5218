"""The answering path: a query becomes a reply by the zone and the rules, now or later.

UDP (the cold and slow steps of :mod:`faultdns._server`'s hot path) and TCP
(:class:`faultdns._tcp.TCPConnection`, through :func:`handle_tcp`) share it; the UDP hot
path repeats only its cheapest step inline, for speed: a cache hit whose reply is built
(the zone's, or a fault reply already made for the entry).  Read top to bottom:

1. **The answer cache.**  A reply depends only on the query bytes after the 2-byte ID
   (flags, question, EDNS options), the zone and the rules.  So the cache key is
   ``data[2:]`` and the value is an :class:`Entry` with the packed reply minus its ID,
   the query's name/type for the log, and the rules that could ever match it.  0x20
   case variants are different bytes, hence different entries, so the question is
   always echoed exactly as asked.  The cache is bounded (``cache_size``: the oldest
   entry goes first).
2. **Rules.**  The server keeps its rules in a copy-on-write tuple; any change (and
   ``reset``) swaps in a new cache dict, and entries remember the zone generation they
   were built from, so an entry's candidate list is never stale (:func:`make_entry`
   stores an entry only if neither changed while it was built).
3. **The first active rule** (:func:`respond`): :func:`faultdns._select.select_rule`
   picks it against the clock reading taken when the query arrived (the one copy of
   that rule).  :func:`fire` carries it out: ``drop`` sends nothing, ``delay`` holds the
   normal reply (:mod:`faultdns._held`; past ``max_pending_delays`` it is dropped),
   ``frame`` sends the zone's TCP reply under a wrong length prefix
   (:meth:`faultdns._tcp.TCPConnection.send_framed`), any other action sends the
   fault's reply, built once per entry and rule
   (:func:`faultdns._wire.fault_reply`) and then sent from the hot path as well.
4. **Cold path** (:mod:`faultdns._wire`): dnslib parses and builds the reply for cache
   misses; a message :mod:`faultdns._wire` will not answer normally
   (:class:`~faultdns._wire.WireError`) is logged with its rcode and gets the reply it
   carries, if any.
5. **The log.**  Every query, answered or not, is logged once (:func:`log_query`,
   :mod:`faultdns._querylog`) before its reply is sent, so a client that got its answer
   finds it in the log; a held reply is logged when it is released or lost.

The functions take the server and read the state they share with its hot path
(``_cache``, ``_rules``, ``_rule_index``, ``zone``, ``_log``, ``_origin``, ``_held``)
as :mod:`faultdns._idle` and :mod:`faultdns._tcp` do; they run on the loop thread
(:mod:`faultdns._loop`).  ``t0`` is the server clock's reading when the query arrived;
``send`` puts a whole reply (ID included) on the wire of the query's transport.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from faultdns import _batchio
from faultdns._faults import Action, rcode_name
from faultdns._held import Held
from faultdns._querylog import Transport
from faultdns._select import RuleIndex, RuleState, rule_matches, select_rule
from faultdns._wire import (
    Query,
    WireError,
    decode,
    fault_reply,
    fit_tcp,
    fit_udp,
    mismatched,
    zone_reply,
)

if TYPE_CHECKING:
    from faultdns._server import FaultDNSServer
    from faultdns._tcp import TCPConnection

__all__ = ["Entry", "fire", "handle_tcp", "log_query", "make_entry", "respond"]


class Entry:
    """A cached reply for one exact query (minus its ID) under one rule set and zone."""

    __slots__ = (
        "faults",
        "name",
        "qtype",
        "query",
        "rcode",
        "tcp",
        "tcp_rules",
        "udp",
        "udp_ptr",
        "udp_rules",
        "zgen",
    )

    def __init__(
        self,
        query: Query,
        udp: bytes,
        tcp: bytes,
        rcode: str,
        udp_rules: tuple[RuleState, ...],
        tcp_rules: tuple[RuleState, ...],
        zgen: int,
    ) -> None:
        self.query = query
        self.name = query.name
        self.qtype = query.qtype_name
        self.udp = udp  # reply without its 2-byte ID, fitted to the client's UDP limit
        self.udp_ptr = _batchio.buffer_address(udp)  # where sendmmsg finds it
        self.tcp = tcp  # full reply without its ID
        self.rcode = rcode
        self.udp_rules = udp_rules
        self.tcp_rules = tcp_rules
        self.zgen = zgen
        # rule id -> (udp tail, tcp tail, rcode, udp tail address): fault replies,
        # built on first use
        self.faults: dict[str, tuple[bytes, bytes, str, int]] = {}


def handle_tcp(server: FaultDNSServer, data: bytes, conn: TCPConnection) -> None:
    """Answer one DNS message that came over ``conn`` (its 2-byte framing removed)."""
    t0 = server._now()
    try:
        entry = server._cache.get(data[2:])
        if entry is None or entry.zgen != server.zone.generation:
            entry = make_entry(server, data, conn.peer, "tcp", t0, conn.send)
            if entry is None:
                return
        respond(server, entry, data, conn.peer, "tcp", t0, conn.send, conn)
    except Exception:  # never let one message stop the server
        server._count_error()


def make_entry(
    server: FaultDNSServer,
    data: bytes,
    addr: Any,
    proto: Transport,
    t0: float,
    send: Callable[[bytes], None] | None = None,
) -> Entry | None:
    """Decode and answer from the zone, caching the result; None if already handled.

    A query that does not decode (:class:`faultdns._wire.WireError`) is logged with the
    error's rcode and answered with its reply, if it has one (``send``, or the UDP
    socket when ``send`` is None); None is returned for it.
    """
    cache, rules, zgen = server._cache, server._rules, server.zone.generation
    try:
        query = decode(data)
    except WireError as exc:
        log_query(server, t0, addr, proto, "", "", None, None, exc.rcode)
        if exc.reply is not None:
            if send is not None:
                send(exc.reply)
            elif server._udp is not None:
                with contextlib.suppress(OSError):
                    server._udp.sendto(exc.reply, addr)
        return None
    resolution = server.zone.resolve(query.key, query.qtype, query.record.q.qname)
    full = fit_tcp(query, resolution, zone_reply(query, resolution))
    index = server._rule_index
    if index.rules is not rules:
        index = server._rule_index = RuleIndex(rules)
    candidates = index.candidates(query.key)
    key, qtype = query.key, query.qtype_name
    udp_rules = tuple(s for s in candidates if rule_matches(s.rule, key, qtype, "udp"))
    tcp_rules = tuple(s for s in candidates if rule_matches(s.rule, key, qtype, "tcp"))
    entry = Entry(
        query,
        fit_udp(query, full)[2:],
        full[2:],
        rcode_name(resolution.rcode),
        udp_rules,
        tcp_rules,
        zgen,
    )
    if server._cache is cache and server._rules is rules:
        if len(cache) >= server.cache_size:
            # Evict the oldest entry: bounded memory whatever the clients send.
            with contextlib.suppress(KeyError, StopIteration, RuntimeError):
                del cache[next(iter(cache))]
        cache[data[2:]] = entry
    return entry


def respond(
    server: FaultDNSServer,
    entry: Entry,
    data: bytes,
    addr: Any,
    proto: Transport,
    t0: float,
    send: Callable[[bytes], None],
    conn: TCPConnection | None,
) -> None:
    """Apply the first active rule (if any) and send, hold or drop the reply."""
    rules = entry.udp_rules if proto == "udp" else entry.tcp_rules
    state = select_rule(rules, t0 - server._origin) if rules else None
    if state is None:
        log_query(server, t0, addr, proto, entry.name, entry.qtype, None, None, entry.rcode)
        send(data[:2] + (entry.udp if proto == "udp" else entry.tcp))
        return
    fire(server, state, entry, data, addr, proto, t0, send, conn)


def fire(
    server: FaultDNSServer,
    state: RuleState,
    entry: Entry,
    data: bytes,
    addr: Any,
    proto: Transport,
    t0: float,
    send: Callable[[bytes], None],
    conn: TCPConnection | None,
) -> None:
    """Carry out the rule that fired: drop, hold, or send the fault's reply.

    ``conn`` is the TCP connection a held reply belongs to (None for UDP): losing the
    connection drops the reply (:class:`faultdns._held.Held`).
    """
    rule = state.rule
    action = rule.action
    if action == "drop":
        log_query(server, t0, addr, proto, entry.name, entry.qtype, rule.id, action, "drop")
        return
    if action == "delay":
        assert rule.delay is not None
        if len(server._held) >= server.max_pending_delays:
            # Held replies are memory: past the cap, a delayed reply is dropped.
            log_query(server, t0, addr, proto, entry.name, entry.qtype, rule.id, action, "drop")
            return
        normal = data[:2] + (entry.udp if proto == "udp" else entry.tcp)

        def release() -> None:
            log_query(
                server, t0, addr, proto, entry.name, entry.qtype, rule.id, action, entry.rcode
            )
            send(normal)

        def lost() -> None:
            log_query(server, t0, addr, proto, entry.name, entry.qtype, rule.id, action, "drop")

        server._held.hold(t0 + rule.delay, rule.delay, Held(release, conn, lost))
        return
    if action == "frame":
        # frame= matches TCP only (FaultRule.matches), so the reply has a connection
        assert conn is not None and rule.frame is not None
        log_query(server, t0, addr, proto, entry.name, entry.qtype, rule.id, action, entry.rcode)
        conn.send_framed(data[:2] + entry.tcp, rule.frame)
        return
    if action == "mismatch" and rule.mismatch == "id":
        # The hot paths send the query's ID ahead of a cached reply, so a reply with
        # another ID is never cached: built and sent here each time.
        udp, tcp, rcode = fault_reply(entry.query, rule, server.zone)
        log_query(server, t0, addr, proto, entry.name, entry.qtype, rule.id, action, rcode)
        send(mismatched(data[:2] + (udp if proto == "udp" else tcp)[2:], "id"))
        return
    built = entry.faults.get(rule.id)
    if built is None:
        udp, tcp, rcode = fault_reply(entry.query, rule, server.zone)
        udp_tail = udp[2:]
        built = (udp_tail, tcp[2:], rcode, _batchio.buffer_address(udp_tail))
        entry.faults[rule.id] = built
    log_query(server, t0, addr, proto, entry.name, entry.qtype, rule.id, action, built[2])
    send(data[:2] + (built[0] if proto == "udp" else built[1]))


def log_query(
    server: FaultDNSServer,
    t0: float,
    addr: Any,
    proto: Transport,
    name: str,
    qtype: str,
    rule_id: str | None,
    action: Action | None,
    rcode: str,
) -> None:
    """Log one query (:meth:`faultdns._querylog.QueryLog.add`): its time since the
    server's origin and the time spent on it, both in seconds on the server clock.
    The UDP hot path appends the same row inline."""
    server._log.add(
        t0 - server._origin, addr, proto, name, qtype, rule_id, action, rcode, server._now() - t0
    )

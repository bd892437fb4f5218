"""FaultDNSServer: UDP and TCP on one port, a zone, fault rules and a query log.

This module is the object a user holds, one idea: its sockets and event loop
(lifecycle), the UDP drain that reads them (the hot path, measured with them in
bench/README.md), and the thread-safe methods over the state both share.  How a
query becomes a reply is :mod:`faultdns._answer`; TCP clients, held replies, idle
detection and the query log are in their own modules (named below).

How a query travels (read this first):

1. **UDP hot path** (:meth:`FaultDNSServer._on_udp_batch`, or
   :meth:`FaultDNSServer._on_udp_readable` where batching is unavailable).  The UDP
   socket is non-blocking and registered with ``loop.add_reader``; each wake-up drains
   up to ``_UDP_BATCH`` datagrams in a tight loop.  asyncio's datagram endpoint costs a
   callback, a transport and a protocol call per packet and tops out far below what a
   DNS benchmark needs; a plain drain loop does not.  On Linux the loop receives and
   sends 64 datagrams per system call (:mod:`faultdns._batchio`), which is what puts
   it ahead of dnsmasq.
2. **A cache hit** costs a dict lookup, an ID patch and a ``sendto``: the cache key
   is the query after its 2-byte ID, and an entry's rules that could ever match are
   looked at with :func:`faultdns._select.select_rule` against the clock reading
   taken when the datagram arrived (the one copy of that rule; the call costs nothing
   measurable, bench/README.md).  A fault reply already built for the entry is sent
   from here as well.
3. **Everything else** (a cache miss, malformed input, a rule that drops or delays,
   a fault reply not built yet) leaves the hot path for the answering path shared
   with TCP, :mod:`faultdns._answer` (the cache, the rules and their actions, the
   log; its docstring goes on from here).  The two drain loops repeat only its
   cheapest step inline, for speed.
4. **Rules, zone and state** change through the thread-safe methods below
   (:meth:`FaultDNSServer.add_faults`, :meth:`~FaultDNSServer.reset`, ...): rules
   live in a copy-on-write tuple and any change swaps in a new cache dict, so the
   loop thread never sees a half-made change.
5. **TCP** uses the same answering path (:func:`faultdns._answer.handle_tcp`) through
   an asyncio protocol (:class:`faultdns._tcp.TCPConnection`, one per client): 2-byte length
   framing, many messages per connection, and the guards of RFC 7766 section 6 so a
   new client is always served: at the connection cap the least recently useful
   connection is evicted, idleness counts from the last complete message, replies
   left unread past a write timeout abort the connection, both timeouts shrink under
   pressure (:class:`faultdns._tcp.TCPSweeper` enforces them), and
   reading pauses while the client is not reading our replies.  A reply too big for
   a TCP message is cut to what fits, with TC set (:func:`faultdns._wire.fit_tcp`).

Time: fault windows and ``delay=`` use the injected clock (:mod:`faultdns._clock`).
With a :class:`~faultdns.ListenerClock` (:class:`faultdns.testing.ManualClock`, or a
simulation's virtual clock) delayed replies are held in a heap
(:mod:`faultdns._held`) and released when the clock reaches them (before the clock's
``advance``/``set`` returns); with any other clock they are event-loop timers;
``reset`` drops them.  The TCP timeouts are resource guards and run on the
event loop's real time.

Every query, answered or not, is logged (:mod:`faultdns._querylog`): a row per query
in a bounded ring, read back as :class:`~faultdns.QueryRecord`.

:meth:`FaultDNSServer.idle` (has every query sent so far been handled?) is answered
from the sockets and the loop thread by :mod:`faultdns._idle`.

Threads: in sync use the server runs its own event-loop thread; in ``async with`` it
runs in the caller's loop.  Public methods may be called from any thread: mutations
take a lock and publish new immutable objects; all sending and logging happens on
the loop thread (:mod:`faultdns._loop`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import random
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import retrylab_entry
from faultdns import _batchio, _idle
from faultdns._answer import Entry, fire, make_entry, respond
from faultdns._clock import Clock, MonotonicClock
from faultdns._faults import Action, FaultRule, coerce_rule
from faultdns._held import HeldReplies
from faultdns._loop import in_loop
from faultdns._plan import load_plan
from faultdns._querylog import QueryLog, QueryRecord
from faultdns._select import RuleIndex, RuleState, select_rule
from faultdns._tcp import TCPConnection, TCPSweeper
from faultdns._unreachable import set_port_unreachable
from faultdns._zone import Zone

__all__ = ["FaultDNSServer"]

_UDP_BATCH = 512  # datagrams per wake-up before letting TCP and timers run
_MMSG_BATCH = 64  # datagrams per recvmmsg call (8 calls per wake-up at most)
_UDP_RECV = 65535
_CACHE_SIZE = 20000
_RCVBUF = 4 << 20
_BIND_ATTEMPTS = 64
_TCP_BACKLOG = 1024


class FaultDNSServer:
    """A DNS server answering from a :class:`Zone` and injecting :class:`FaultRule` faults.

    Use it as a context manager from sync code (it runs its own event-loop thread) or
    with ``async with`` from async code (it runs in the running loop)::

        with FaultDNSServer(
            records=["a.test=10.0.0.1"], faults=["nxdomain for=30s"], clock=MonotonicClock()
        ) as dns:
            host, port = dns.address

    ``clock`` (required, as everywhere below the command line: one forgotten ``clock=``
    would otherwise mix real and virtual time without an error) measures fault windows
    and ``delay=`` (:mod:`faultdns._clock`): :class:`~faultdns.MonotonicClock` for a
    real server (the CLI and the pytest fixtures pass it),
    :class:`faultdns.testing.ManualClock` or a simulation's clock to move time by hand.

    ``seed`` seeds ``p=`` rules (a random seed is chosen and shown in :meth:`stats`
    when omitted).  ``ttl`` overrides the zone's default TTL.  ``log_size`` bounds the
    query log (a ring buffer); ``cache_size`` the answer cache and
    ``max_pending_delays`` the replies held by ``delay=`` (beyond it they are dropped),
    so memory stays bounded under any load.  TCP: ``max_tcp_connections`` (at the cap
    the least recently useful connection is evicted), ``tcp_idle_timeout`` (seconds
    without a complete message), ``tcp_write_timeout`` (seconds replies may stay
    unread before the connection is aborted) and ``tcp_busy_timeout`` (both timeouts
    from 3/4 of the cap in use); ValueError for a timeout <= 0 or a cap < 1.
    ``batch_io`` uses Linux ``recvmmsg``/``sendmmsg`` for UDP where available (see
    :mod:`faultdns._batchio`).
    """

    def __init__(
        self,
        zone: Zone | None = None,
        *,
        records: Iterable[str | Mapping[str, Any]] = (),
        origins: Iterable[str] = (),
        faults: Iterable[str | Mapping[str, Any] | FaultRule] = (),
        plan: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock,
        seed: int | str | None = None,
        ttl: int | None = None,
        log_size: int = 10000,
        tcp_idle_timeout: float = 10.0,
        max_tcp_connections: int = 256,
        tcp_write_timeout: float = 5.0,
        tcp_busy_timeout: float = 1.0,
        cache_size: int = _CACHE_SIZE,
        max_pending_delays: int = 10000,
        batch_io: bool = True,
    ) -> None:
        self.zone = zone if zone is not None else Zone()
        for origin in origins:
            self.zone.add_origin(origin)
        for record in records:
            if isinstance(record, str):
                self.zone.add(record)
            else:
                self.zone.add_dict(record)
        if ttl is not None:
            self.zone.ttl = ttl
        self.host = host
        self.port = port
        self.clock: Clock = clock
        self.seed: int | str = seed if seed is not None else random.SystemRandom().getrandbits(32)
        self.tcp_idle_timeout = float(tcp_idle_timeout)
        self.max_tcp_connections = int(max_tcp_connections)
        self.tcp_write_timeout = float(tcp_write_timeout)
        self.tcp_busy_timeout = float(tcp_busy_timeout)
        for what, value in (
            ("tcp_idle_timeout", self.tcp_idle_timeout),
            ("tcp_write_timeout", self.tcp_write_timeout),
            ("tcp_busy_timeout", self.tcp_busy_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{what}: expected seconds > 0, got {value}")
        if self.max_tcp_connections < 1:
            raise ValueError(f"max_tcp_connections: expected >= 1, got {max_tcp_connections}")
        self.max_pending_delays = int(max_pending_delays)
        self.batch_io = batch_io and _batchio.available()
        self._bio: _batchio.BatchIO | None = None
        self.cache_size = max(int(cache_size), 1)

        # The clock read on every query: skip a method call for the default clock.
        self._now: Callable[[], float] = (
            time.monotonic if type(self.clock) is MonotonicClock else self.clock.now
        )
        self._lock = threading.RLock()
        self._rules: tuple[RuleState, ...] = ()
        self._rule_index = RuleIndex(())  # rebuilt lazily when _rules changes (loop thread)
        self._rule_numbers = itertools.count(1)
        self._cache: dict[bytes, Entry] = {}
        self._origin = self._now()
        self._log = QueryLog(log_size)
        self._errors = 0
        # Open TCP connections, least recently useful first (see TCPConnection).
        self._tcp_conns: OrderedDict[TCPConnection, None] = OrderedDict()
        self._tcp_total = 0
        self._tcp_evicted = 0
        self._sweeper = TCPSweeper(self)  # the idle and write timeouts
        # replies held by delay=, on the loop current at the time
        self._held = HeldReplies(self.clock, lambda: self._loop, self._count_error)
        self._busy = False  # the loop thread is inside a UDP wake-up (see idle())
        self._udp_handler: Callable[[], None] = self._on_udp_readable

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._tcp_server: asyncio.Server | None = None
        self._address: tuple[str, int] | None = None
        self._running = False
        self._unreachable = False

        initial = list(faults)
        if plan is not None:
            initial.extend(load_plan(plan))
        self.add_faults(initial)

    # -- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> FaultDNSServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FaultDNSServer:
        await self.astart()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    def start(self) -> FaultDNSServer:
        """Bind and serve from a new event-loop thread; returns once queries are answered.

        Called in the main thread, a SIGINT that arrives meanwhile is delivered to the
        handler in place when ``start`` returns or raises
        (``retrylab_entry.sigint_deferred``): a ``KeyboardInterrupt`` then comes from a
        whole server, never from inside its event loop's constructor.
        """
        if self._running:
            raise RuntimeError("server already started")
        # In the main thread, SIGINT is held until the server serves (or start failed
        # and cleaned up): a KeyboardInterrupt inside ``new_event_loop`` left a
        # half-built loop whose ``__del__`` printed a traceback at exit, and one while
        # waiting for ``ready`` joined a thread that serves forever (a hang).
        with retrylab_entry.sigint_deferred():
            return self._start()

    def _start(self) -> FaultDNSServer:
        self._bind()
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(loop))
            except BaseException as exc:
                ready.set_exception(exc)
                loop.close()
                return
            ready.set_result(None)
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="faultdns", daemon=True)
        self._thread.start()
        try:
            ready.result()
        except BaseException:
            self._close_sockets()
            self._thread.join()
            self._thread = None
            self._loop = None
            raise
        return self

    async def astart(self) -> FaultDNSServer:
        """Bind and serve in the running event loop."""
        if self._running:
            raise RuntimeError("server already started")
        self._bind()
        try:
            await self._serve(asyncio.get_running_loop())
        except BaseException:
            self._close_sockets()
            raise
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice or from any thread."""
        loop = self._loop
        if loop is None:
            return
        if self._thread is not None:
            if loop.is_running() and threading.current_thread() is not self._thread:
                with contextlib.suppress(RuntimeError):
                    done = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
                    done.result(timeout=10)
                    loop.call_soon_threadsafe(loop.stop)
                self._thread.join(timeout=10)
            self._thread = None
        elif in_loop(loop):
            self._close_now()
        else:
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        self._loop = None

    async def astop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.stop)
            return
        await self._shutdown()
        self._loop = None

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the server listens on (UDP and TCP)."""
        if self._address is None:
            raise RuntimeError("server not started")
        return self._address

    def _bind(self) -> None:
        """Bind UDP and TCP to one port; with port 0, find a port free for both."""
        infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        family = infos[0][0]
        for attempt in range(_BIND_ATTEMPTS):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                udp.bind((self.host, self.port))
                port = udp.getsockname()[1]
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self.host, port))
            except OSError:
                udp.close()
                tcp.close()
                if self.port != 0 or attempt == _BIND_ATTEMPTS - 1:
                    raise
                continue
            break
        # A deep accept queue: under a flood of connects a newcomer's SYN must not be
        # dropped (it would retry a second later); the cap is enforced after accept.
        tcp.listen(_TCP_BACKLOG)
        for sock in (udp, tcp):
            sock.setblocking(False)
        with contextlib.suppress(OSError):
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _RCVBUF)
        self._udp, self._tcp = udp, tcp
        self._address = (self.host, port)

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._udp is not None and self._tcp is not None
        self._loop = loop
        self._tcp_server = await loop.create_server(
            lambda: TCPConnection(self), sock=self._tcp, backlog=_TCP_BACKLOG
        )
        if self.batch_io:
            self._bio = _batchio.BatchIO(self._udp, batch=_MMSG_BATCH)
            self._udp_handler = self._on_udp_batch
        else:
            self._udp_handler = self._on_udp_readable
        loop.add_reader(self._udp.fileno(), self._on_udp_wakeup)
        self._held.listen()
        with self._lock:
            self._origin = self._now()
        self._running = True

    async def _shutdown(self) -> None:
        server = self._tcp_server
        self._close_now()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    def _close_now(self) -> None:
        """Stop everything, synchronously, on the loop thread."""
        self._running = False
        loop = self._loop
        self._held.unlisten()
        if loop is not None and self._udp is not None:
            with contextlib.suppress(Exception):
                loop.remove_reader(self._udp.fileno())
        if self._tcp_server is not None:
            self._tcp_server.close()
        for conn in list(self._tcp_conns):
            if conn.transport is not None:
                conn.transport.abort()
        self._tcp_conns.clear()
        self._sweeper.cancel()
        self._held.drop_all()
        self._close_sockets()

    def _close_sockets(self) -> None:
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()
        self._udp = self._tcp = None
        self._unreachable = False
        self._bio = None

    def _count_error(self) -> None:
        """Count a query whose handling raised (``stats()["errors"]``)."""
        self._errors += 1

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            raise RuntimeError("server not running")
        return loop

    # -- rules, zone and state (thread-safe) ------------------------------------------

    @property
    def faults(self) -> list[FaultRule]:
        """The active rules, in evaluation order."""
        return [state.rule for state in self._rules]

    def add_fault(self, rule: str | Mapping[str, Any] | FaultRule) -> str:
        """Add a rule at the end of the list; returns its id (``r1``, ``r2``, ...)."""
        return self.add_faults([rule])[0]

    def add_faults(self, rules: Iterable[str | Mapping[str, Any] | FaultRule]) -> list[str]:
        """Add rules at the end of the list, in order; returns their ids.

        All or nothing: a bad spec raises (FaultSpecError, a ValueError) before any rule
        is added.  Linear in the number of rules, so a plan of tens of thousands loads in
        about a second (adding them one by one would copy the list each time).
        """
        parsed = [coerce_rule(rule) for rule in rules]
        ids: list[str] = []
        with self._lock:
            taken = {state.rule.id for state in self._rules}
            states = []
            for rule in parsed:
                rule_id = rule.id
                if not rule_id or rule_id in taken:
                    rule_id = f"r{next(self._rule_numbers)}"
                    while rule_id in taken:
                        rule_id = f"r{next(self._rule_numbers)}"
                    rule = rule.with_id(rule_id)
                taken.add(rule_id)
                ids.append(rule_id)
                states.append(RuleState(rule, self.seed))
            self._rules = (*self._rules, *states)
            self._cache = {}
        return ids

    def remove_fault(self, rule_id: str) -> FaultRule:
        """Remove a rule by id (KeyError if there is none); returns it."""
        with self._lock:
            found = [s for s in self._rules if s.rule.id == rule_id]
            if not found:
                raise KeyError(rule_id)
            self._rules = tuple(s for s in self._rules if s.rule.id != rule_id)
            self._cache = {}
        return found[0].rule

    @property
    def unreachable(self) -> bool:
        """True while UDP queries meet ICMP port unreachable (:meth:`set_unreachable`)."""
        return self._unreachable

    def set_unreachable(self, on: bool) -> None:
        """Answer every UDP query with ICMP port unreachable (``on``), or serve again.

        What a client sees when a DNS Service has no ready backend (kube-proxy rejects):
        its connected UDP socket reads ``ECONNREFUSED`` (Go: ``read udp L->S: read:
        connection refused``).  The port stays bound and every rule, counter and the
        query log stay as they are; TCP is not affected.  See ``faultdns._unreachable``
        for how.  Raises ``RuntimeError`` when the server is not running, and
        ``ValueError`` when it was started on port 0: Linux gives an ephemeral port back
        when the socket is disconnected again, so start it on an explicit port
        (``faultdns._unreachable.free_udp_port``).
        """
        udp = self._udp
        if udp is None:
            raise RuntimeError("server not started")
        if on == self._unreachable:
            return
        if on and self.port == 0:
            raise ValueError(
                "set_unreachable needs a server started on an explicit port, not port 0"
                " (undoing it would give an ephemeral port back to the kernel)"
            )
        set_port_unreachable(udp, on)
        self._unreachable = on

    def reset(self) -> None:
        """Forget rules, rule counters, the query log and stats; restart the clock origin.

        Rule ids start again at ``r1`` so a replayed run gets the same ids (and, with
        the same seed, the same ``p=`` draws).  Replies held by ``delay=`` are dropped
        (never sent): they belong to the fault picture being reset, and they count
        against ``max_pending_delays``.
        """
        with self._lock:
            self._held.drop_all()  # at once; dropped on the loop thread (see drop_all)
            self._rules = ()
            self._rule_numbers = itertools.count(1)
            self._cache = {}
            self._origin = self._now()
            self._log.clear()
            self._errors = 0
            self._tcp_total = 0
            self._tcp_evicted = 0
            self._sweeper.timed_out = 0

    def add_record(self, spec: str | Mapping[str, Any]) -> dict[str, Any]:
        """Add a zone record (``NAME=ADDR`` / ``NAME TYPE VALUE [TTL]`` / dict)."""
        if isinstance(spec, str):
            return self.zone.add(spec)
        return self.zone.add_dict(spec)

    def records(self) -> list[dict[str, Any]]:
        return self.zone.records()

    def elapsed(self) -> float:
        """Seconds on the server clock since start or the last reset."""
        return self._now() - self._origin

    @property
    def queries(self) -> list[QueryRecord]:
        """The query log (oldest first, at most ``log_size`` records)."""
        return self.queries_since(0)

    def queries_since(self, seq: int) -> list[QueryRecord]:
        """Records with ``seq`` greater than the given one."""
        return self._log.since(seq)

    def pending_delays(self) -> list[float]:
        """Clock times at which replies held by ``delay=`` are due, soonest first.

        Only meaningful with a :class:`~faultdns.ListenerClock` (e.g. ManualClock): a
        simulation advances its clock to :meth:`next_due` to release the next held reply.
        """
        return self._held.due_times()

    def next_due(self) -> float | None:
        """The soonest clock time a held reply is due (listener clocks), or None."""
        return self._held.next_due()

    def idle(self) -> bool:
        """True when every query clients have sent so far has been handled.

        That is: nothing waits in the UDP socket's receive queue, the loop thread is not
        in the middle of a UDP wake-up, no TCP connection waits to be accepted and no
        accepted one has unread bytes.  Loopback sends land in the receiver's queue
        before the sender's call returns, so once a client's send has returned and the
        server is idle, the reply (if the rules allow one) is in the client's socket: a
        simulation or a test can then decide "no answer" without waiting in real time.
        Replies held by ``delay=`` do not count (see :meth:`next_due`).

        Caveat: "before the sender's call returns" is what Linux usually does, not a
        guarantee.  On a loaded machine the kernel may leave loopback delivery to
        ``ksoftirqd``, and a datagram sent a moment ago is then neither here nor in the
        client's socket yet.  A caller that must be certain first makes sure the kernel
        delivered what was sent (``sim._loopback.LoopbackBarrier`` does that for the
        simulation) and then asks.  How it is answered: :mod:`faultdns._idle`.
        """
        return _idle.idle(self)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Return once :meth:`idle` is true; TimeoutError after ``timeout`` real seconds.

        Only for a server running in its own thread (sync use); in ``async with`` use,
        the caller's loop must run for the server to make progress (RuntimeError when
        called on that loop).  How both are answered: :mod:`faultdns._idle`.
        """
        _idle.wait_idle(self, timeout)

    def stats(self) -> dict[str, Any]:
        """JSON-able counters for dashboards and assertions."""
        rules = [state.snapshot() for state in self._rules]
        rcodes = dict(self._log.rcodes)
        return {
            "queries": sum(rcodes.values()),
            "rcodes": rcodes,
            "dropped": rcodes.get("drop", 0),
            "rules": rules,
            "fired": {r["id"]: r["fired"] for r in rules},
            "errors": self._errors,
            "tcp_connections": len(self._tcp_conns),
            "tcp_connections_total": self._tcp_total,
            "tcp_evicted": self._tcp_evicted,
            "tcp_timed_out": self._sweeper.timed_out,
            "pending_delays": len(self._held),
            "cache_entries": len(self._cache),
            "log_records": len(self._log.rows),
            "uptime": self.elapsed(),
            "seed": self.seed,
            "address": list(self._address) if self._address else None,
        }

    # -- the UDP hot path ---------------------------------------------------------------

    def _on_udp_wakeup(self) -> None:
        """The UDP reader: marks the loop busy (for :meth:`idle`) around the drain."""
        self._busy = True
        try:
            self._udp_handler()
        finally:
            self._busy = False

    def _on_udp_readable(self) -> None:
        sock = self._udp
        if sock is None:
            return
        recvfrom = sock.recvfrom
        sendto = sock.sendto
        now = self._now
        qlog = self._log
        log = qlog.rows.append
        rcodes = qlog.rcodes
        zone = self.zone
        for _ in range(_UDP_BATCH):
            try:
                data, addr = recvfrom(_UDP_RECV)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            t0 = now()
            entry = self._cache.get(data[2:])
            if entry is None or entry.zgen != zone.generation:
                try:
                    entry = make_entry(self, data, addr, "udp", t0)
                    if entry is not None:
                        respond(self, entry, data, addr, "udp", t0, self._udp_sender(addr), None)
                except Exception:  # never let one datagram stop the server
                    self._errors += 1
                continue
            rule_id: str | None = None
            action: Action | None = None
            rcode, tail = entry.rcode, entry.udp
            rules = entry.udp_rules
            if rules:
                winner = select_rule(rules, t0 - self._origin)
                if winner is not None:
                    rule = winner.rule
                    built = entry.faults.get(rule.id)
                    if built is None:  # drop, delay, or a fault reply not built yet
                        try:
                            fire(
                                self,
                                winner,
                                entry,
                                data,
                                addr,
                                "udp",
                                t0,
                                self._udp_sender(addr),
                                None,
                            )
                        except Exception:
                            self._errors += 1
                        continue
                    rule_id, action, rcode, tail = rule.id, rule.action, built[2], built[0]
            # Log before sending, so a client that got its answer finds it in the log.
            qlog.seq = seq = qlog.seq + 1
            elapsed = t0 - self._origin
            spent = now() - t0
            log((seq, elapsed, addr, "udp", entry.name, entry.qtype, rule_id, action, rcode, spent))
            rcodes[rcode] = rcodes.get(rcode, 0) + 1
            # try/except, not contextlib.suppress(): that costs an object per query.
            try:  # noqa: SIM105
                sendto(data[:2] + tail, addr)
            except OSError:
                pass

    def _on_udp_batch(self) -> None:
        """The hot path with recvmmsg/sendmmsg: the same steps as _on_udp_readable.

        Datagram *i* sits in buffer slot *i*; its reply is queued by pointing send
        iovec *i* at the cached reply bytes (kept alive in ``keep`` until sent), and
        runs of queued replies go out with one sendmmsg.  Anything off the fast path
        first flushes the run before it, then takes the ordinary slow path.
        """
        bio = self._bio
        if bio is None or self._udp is None:
            return
        receive, lengths, send = bio.receive, bio.lengths, bio.send
        pack_into, iov_view, first, step = bio.reply_layout
        buffers, names = bio.buffer_view, bio.name_view
        slot, name_len = bio.slot, bio.name_len
        name_size = _batchio.NAME_SIZE
        batch = bio.batch
        now = self._now
        qlog = self._log
        log = qlog.rows.append
        rcodes = qlog.rcodes
        zone = self.zone
        for _ in range(_UDP_BATCH // batch):
            count = receive()
            if not count:
                return
            start = 0
            keep = []
            for i, (length,) in enumerate(lengths(count)):
                t0 = now()
                offset = i * slot
                key = buffers[offset + 2 : offset + length].tobytes()
                entry = self._cache.get(key) if length >= 12 else None
                winner = None
                if entry is not None and entry.zgen == zone.generation:
                    rule_id: str | None = None
                    action: Action | None = None
                    rcode, tail, pointer = entry.rcode, entry.udp, entry.udp_ptr
                    rules = entry.udp_rules
                    if rules:
                        winner = select_rule(rules, t0 - self._origin)
                        if winner is not None:
                            rule = winner.rule
                            built = entry.faults.get(rule.id)
                            if built is not None:
                                rule_id, action, rcode = rule.id, rule.action, built[2]
                                tail, pointer = built[0], built[3]
                                winner = None  # handled here
                    if winner is None:
                        keep.append(tail)
                        qlog.seq = seq = qlog.seq + 1
                        sender = names[i * name_size : i * name_size + name_len].tobytes()
                        spent = now() - t0
                        elapsed = t0 - self._origin
                        log(
                            (
                                seq,
                                elapsed,
                                sender,
                                "udp",
                                entry.name,
                                entry.qtype,
                                rule_id,
                                action,
                                rcode,
                                spent,
                            )
                        )
                        rcodes[rcode] = rcodes.get(rcode, 0) + 1
                        pack_into(iov_view, first + i * step, pointer, len(tail))
                        continue
                # Off the fast path: send what is queued, then answer this one alone.
                send(start, i)
                start = i + 1
                data = bio.data(i, length)
                addr = _batchio.sockaddr_to_tuple(bio.sender(i))
                try:
                    if winner is not None and entry is not None:
                        fire(
                            self, winner, entry, data, addr, "udp", t0, self._udp_sender(addr), None
                        )
                        continue
                    entry = make_entry(self, data, addr, "udp", t0)
                    if entry is not None:
                        respond(self, entry, data, addr, "udp", t0, self._udp_sender(addr), None)
                except Exception:  # never let one datagram stop the server
                    self._errors += 1
            send(start, count)
            if count < batch:
                return

    def _udp_sender(self, addr: Any) -> Callable[[bytes], None]:
        sock = self._udp

        def send(reply: bytes) -> None:
            if sock is not None and sock.fileno() >= 0:
                with contextlib.suppress(OSError):
                    sock.sendto(reply, addr)

        return send

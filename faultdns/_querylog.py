"""The query log: what the server did with each query, as :class:`QueryRecord`.

The server appends a :data:`Row` per query to a ring buffer (:class:`QueryLog`) from
its hot path: a plain tuple, because building a record object per query would cost
more than answering it.  A row holds :class:`QueryRecord`'s fields in their declared
order, the client still raw (a ``(host, port)`` tuple or, from the batched UDP path,
a sockaddr); :meth:`QueryLog.since` turns rows into records when someone asks.  The
field list is :data:`FIELDS`, derived from the dataclass; the JSON forms
(:meth:`QueryRecord.to_dict`, :func:`json_line`) follow it.  ``--log-queries``
(``faultdns serve`` and ``run``) writes the log out as JSON lines from a side thread
(:class:`QueryLogWriter`), off the hot path.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import IO, Any, Final, Literal

from faultdns import _batchio
from faultdns._faults import Action

__all__ = [
    "FIELDS",
    "QueryLog",
    "QueryLogWriter",
    "QueryRecord",
    "Row",
    "Transport",
    "client_text",
    "json_line",
]

#: how a query came in
Transport = Literal["udp", "tcp"]


@dataclass(frozen=True, slots=True)
class QueryRecord:
    """One logged query.

    ``time`` is seconds on the server clock since start/reset (the same scale as
    ``after=``/``for=``); ``duration`` is receipt to reply on that clock (0 on a manual
    clock unless delayed).  ``client`` is ``host:port`` (``[host]:port`` for IPv6).
    ``rule``/``action`` name the fault that fired, or None.  ``rcode`` is the reply's
    rcode name, or ``"drop"`` when nothing was sent.  ``seq`` increases across resets,
    so ``queries_since(seq)`` never repeats a record.
    """

    seq: int
    time: float
    client: str
    transport: Transport
    name: str
    qtype: str
    rule: str | None
    action: Action | None
    rcode: str
    duration: float

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-able dict, keys in :data:`FIELDS` order."""
        return {name: getattr(self, name) for name in FIELDS}


#: the record's field names, in order: the row layout and the JSON keys
FIELDS: Final[tuple[str, ...]] = tuple(f.name for f in fields(QueryRecord))

#: one query as the server appends it: QueryRecord's fields in order, client raw
Row = tuple[int, float, Any, Transport, str, str, str | None, Action | None, str, float]


def client_text(addr: Any) -> str:
    """A client address as the log shows it: ``host:port``, ``[v6host]:port``."""
    if isinstance(addr, bytes):  # a raw sockaddr from the batched UDP path
        addr = _batchio.sockaddr_to_tuple(addr)
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"[{host}]:{addr[1]}" if ":" in str(host) else f"{host}:{addr[1]}"
    return str(addr)


class QueryLog:
    """A ring of :data:`Row`, numbered by ``seq``, with counts per rcode.

    ``rows`` keeps the last ``size`` rows; ``seq`` is the number of the last row
    appended and never goes back (so a reader asking for rows after its last ``seq``
    sees a gap, not a repeat, when the ring overran); ``rcodes`` counts replies by
    rcode name (``drop`` included).  The server's hot path writes ``rows``, ``seq``
    and ``rcodes`` directly; everything else goes through the methods.
    """

    __slots__ = ("rcodes", "rows", "seq")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"log_size: expected >= 1, got {size}")
        self.rows: deque[Row] = deque(maxlen=size)
        self.seq = 0
        self.rcodes: dict[str, int] = {}

    def add(
        self,
        time: float,
        client: Any,
        transport: Transport,
        name: str,
        qtype: str,
        rule: str | None,
        action: Action | None,
        rcode: str,
        duration: float,
    ) -> None:
        """Append one query (the slow paths; the hot path inlines this)."""
        self.seq = seq = self.seq + 1
        self.rows.append((seq, time, client, transport, name, qtype, rule, action, rcode, duration))
        self.rcodes[rcode] = self.rcodes.get(rcode, 0) + 1

    def clear(self) -> None:
        """Forget the rows and counts; ``seq`` keeps counting."""
        self.rows.clear()
        self.rcodes.clear()

    def since(self, seq: int) -> list[QueryRecord]:
        """Records with a ``seq`` greater than the given one, oldest first.

        Safe from any thread: the loop thread may append while this copies.
        """
        for _ in range(10):
            try:
                rows = list(self.rows)
                break
            except RuntimeError:  # mutated while copying; copy again
                continue
        else:
            rows = []
        return [QueryRecord(r[0], r[1], client_text(r[2]), *r[3:]) for r in rows if r[0] > seq]


_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii


def json_line(r: QueryRecord) -> str:
    """``json.dumps(r.to_dict(), separators=(",", ":"))`` at a third of the cost.

    Under a query flood the log writer's encoding competes with the DNS thread for the
    GIL, so it is spelled out here, beside the dataclass it encodes
    (tests/faultdns/test_cli.py holds it equal to ``json.dumps`` for every field).
    """
    rule = "null" if r.rule is None else _quote(r.rule)
    action = "null" if r.action is None else _quote(r.action)
    return (
        f'{{"seq":{r.seq:d},"time":{r.time!r},"client":{_quote(r.client)},'
        f'"transport":{_quote(r.transport)},"name":{_quote(r.name)},'
        f'"qtype":{_quote(r.qtype)},"rule":{rule},"action":{action},'
        f'"rcode":{_quote(r.rcode)},"duration":{r.duration!r}}}'
    )


#: How often ``--log-queries`` drains the server's query ring buffer when idle.
#: Draining in batches from a side thread keeps JSON encoding and I/O off the DNS hot
#: path; under a flood the writer drains back to back and reports what the ring lost.
_DRAIN_INTERVAL = 0.1


class QueryLogWriter:
    """Copies new query-log records to a stream as JSON lines, from a side thread.

    The server keeps the log in a ring buffer numbered by ``seq``; this thread asks for
    everything after the last ``seq`` it wrote, in batches, so the DNS path never waits
    on JSON encoding or a slow terminal. When a batch fills half the ring it drains
    again at once instead of sleeping. If the ring still overran (more queries per
    drain than it holds), the gap is counted and reported on stderr, at most once a
    second, never silently skipped.
    """

    def __init__(self, server: Any, stream: IO[str], ring_size: int) -> None:
        self._server = server
        self._stream = stream
        self._busy = max(ring_size // 2, 1)
        self._last = 0
        self._lost = 0
        self._warned_at = -1.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faultdns-log", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def drain(self) -> int:
        """Write what is new; return how many records that was."""
        records = self._server.queries_since(self._last)
        if not records:
            return 0
        self._lost += max(records[0].seq - self._last - 1, 0)
        lines = [json_line(r) for r in records]
        self._last = records[-1].seq
        self._stream.write("\n".join(lines) + "\n")
        self._stream.flush()
        return len(records)

    def _report_lost(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._lost and (force or now - self._warned_at >= 1.0):
            print(
                f"faultdns: query log overran; {self._lost} records not written (raise --log-size)",
                file=sys.stderr,
                flush=True,
            )
            self._lost = 0
            self._warned_at = now

    def _run(self) -> None:
        wait = _DRAIN_INTERVAL
        while not self._stop.wait(wait):
            try:
                wait = 0.0 if self.drain() >= self._busy else _DRAIN_INTERVAL
            except BrokenPipeError:
                return
            self._report_lost()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(BrokenPipeError, ValueError):
            self.drain()
        self._report_lost(force=True)

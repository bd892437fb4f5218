"""Lanes: the loopback addresses one side of a case runs on.

Go and our side run each case concurrently, so each gets a lane: ``127.53.L.0/24`` for
a lane number ``L``, holding

- faultdns servers on ``127.53.L.10`` .. ``127.53.L.15`` port 53 (``{ns0}``..``{ns5}``
  when that nameserver is up).  Port 53, because resolv.conf has no port: Go and we read
  the very same text;
- nothing on ``127.53.L.110`` .. ``127.53.L.115`` (``{nsI}`` when that nameserver is
  down: a UDP query there gets ICMP port unreachable, a TCP connect a reset);
- the scripted HTTP server on ``127.53.L.200:80`` (``{http}``), nothing on
  ``127.53.L.201:80`` (``{refused}``) and a listener with a full accept queue on
  ``127.53.L.202:80`` (``{blackhole}``: the kernel drops SYNs, silence at connect).

Lane numbers are claimed by binding: a bind that fails (another pytest process, another
program) moves on to the next ``L``.  Serving port 53 and 80 needs root.  Comparisons
normalise ``127.53.L.`` to ``127.53.*.``: both sides' addresses differ in ``L`` only.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from dataclasses import dataclass, field

import faultdns
from sim._fidelity._case import MAX_SERVERS, Case
from sim._fidelity._http import ScriptedHTTPServer

__all__ = ["LANE_PATTERN", "Lane", "LaneUnavailable", "QueryLine", "open_lane"]

LANE_PATTERN = re.compile(r"127\.53\.[0-9]{1,3}\.")
_FIRST_LANE = 1
_LAST_LANE = 250


class LaneUnavailable(RuntimeError):
    """No lane could be claimed (not root, or every 127.53.L.0/24 busy)."""


@dataclass(frozen=True)
class QueryLine:
    """One query a lane's faultdns saw: ``server`` is the nameserver index (``ns0``...)."""

    time: float  # monotonic seconds, comparable across the lane's servers
    server: str
    transport: str
    name: str
    qtype: str


@dataclass
class Lane:
    """One claimed lane: its servers, and the addresses its placeholders stand for."""

    number: int
    dns: list[faultdns.FaultDNSServer]
    http: ScriptedHTTPServer
    blackhole: list[socket.socket] = field(default_factory=list)

    def ip(self, last: int) -> str:
        return f"127.53.{self.number}.{last}"

    def addresses(self, case: Case) -> dict[str, str]:
        """Placeholder -> address for ``case`` on this lane."""
        out = {"http": self.ip(200), "refused": self.ip(201), "blackhole": self.ip(202)}
        for i, plan in enumerate(case.servers):
            out[f"ns{i}"] = self.ip(110 + i if plan.down else 10 + i)
        return out

    def prepare(self, case: Case) -> str:
        """Load ``case`` (zone, faults, HTTP behaviour); returns the rendered resolv.conf."""
        resolv_conf, records = case.render(self.addresses(case))
        for i, server in enumerate(self.dns):
            plan = case.servers[i] if i < len(case.servers) else None
            zone = faultdns.Zone()
            for record in records:
                zone.add(record)
            server.zone = zone
            server.reset()
            if plan is not None and not plan.down:
                for rule in plan.faults:
                    server.add_fault(rule)
        self.http.set_behaviour(case.http)
        return resolv_conf

    def rearm(self, case: Case) -> None:
        """Reset rule counters and query logs for another run of the same case."""
        for i, server in enumerate(self.dns):
            server.reset()
            if i < len(case.servers) and not case.servers[i].down:
                for rule in case.servers[i].faults:
                    server.add_fault(rule)
        self.http.reset()

    def queries(self) -> list[QueryLine]:
        """Every query since the last reset, in arrival order across servers."""
        lines: list[QueryLine] = []
        for i, server in enumerate(self.dns):
            origin = time.monotonic() - server.elapsed()
            for q in server.queries:
                lines.append(QueryLine(origin + q.time, f"ns{i}", q.transport, q.name, q.qtype))
        lines.sort(key=lambda q: q.time)
        return lines

    def settle(self, timeout: float = 2.0) -> None:
        """Wait until the servers hold no delayed replies, so nothing leaks into a next run."""
        for server in self.dns:
            with contextlib.suppress(Exception):
                server.wait_idle(timeout)

    def close(self) -> None:
        for server in self.dns:
            server.stop()
        self.http.close()
        for sock in self.blackhole:
            sock.close()


def _blackhole(host: str) -> list[socket.socket]:
    """A listener whose accept queue (backlog 0: one slot) is filled by a connection of ours."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 80))
    listener.listen(0)
    filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    filler.connect((host, 80))
    return [listener, filler]


def _free(host: str, port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True


def open_lane(exclude: set[int] | None = None) -> Lane:
    """Claim the first free lane (not in ``exclude``); raises :class:`LaneUnavailable`."""
    errors: list[str] = []
    for number in range(_FIRST_LANE, _LAST_LANE + 1):
        if exclude and number in exclude:
            continue
        servers: list[faultdns.FaultDNSServer] = []
        http: ScriptedHTTPServer | None = None
        try:
            base = f"127.53.{number}."
            if not all(_free(base + str(110 + i), 53) for i in range(MAX_SERVERS)):
                raise OSError("a 'down' address is in use")
            if not _free(base + "201", 80):
                raise OSError("the 'refused' address is in use")
            for i in range(MAX_SERVERS):
                server = faultdns.FaultDNSServer(host=base + str(10 + i), port=53, log_size=4096)
                servers.append(server.start())
            http = ScriptedHTTPServer(base + "200", 80)
            hole = _blackhole(base + "202")
            return Lane(number, servers, http, hole)
        except OSError as exc:
            errors.append(f"lane {number}: {exc}")
            for server in servers:
                server.stop()
            if http is not None:
                http.close()
            if isinstance(exc, PermissionError):
                break
    raise LaneUnavailable(
        "cannot serve DNS on 127.53.L.x:53 and HTTP on :80 (needs root): " + "; ".join(errors[-3:])
    )

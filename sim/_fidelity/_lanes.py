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
program) moves on to the next ``L``.  Comparisons normalise ``127.53.L.`` to
``127.53.*.``: both sides' addresses differ in ``L`` only.

Serving ports 53 and 80 needs root.  Without it, both lanes serve DNS and HTTP on one
shared unprivileged port ``P`` instead (*mapped* mode): resolv.conf still says
``nameserver 127.53.L.10`` (port 53), the probe's ``-dnsmap`` dial hook sends Go's
queries for ``127.53.L.10:53`` to ``:P`` and our resolver's parsed server list gets the
same mapping (:meth:`Lane.port_map`); the URL carries ``:P``, the same on both sides;
comparisons turn a mapped ``127.53.L.10:P`` back into ``:53``.  Down nameservers stay on
port 53 either way (nothing listens there).
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from dataclasses import dataclass, field

import faultdns
from sim._fidelity._case import MAX_SERVERS, REPO_PATH, Case
from sim._fidelity._http import ScriptedHTTPServer

__all__ = ["LANE_PATTERN", "Lane", "LaneUnavailable", "QueryLine", "open_lane", "open_lane_pair"]

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
    port: int = 53  # the DNS port; HTTP is on 80 when this is 53, else on this port too

    @property
    def mapped(self) -> bool:
        return self.port != 53

    def port_map(self, case: Case) -> dict[str, str]:
        """``"IP:53" -> "IP:P"`` for each nameserver of ``case`` that is up (mapped mode)."""
        if not self.mapped:
            return {}
        return {
            f"{self.ip(10 + i)}:53": f"{self.ip(10 + i)}:{self.port}"
            for i, plan in enumerate(case.servers)
            if not plan.down
        }

    def repo_url(self, case: Case) -> str:
        """The repo URL of ``case`` on this lane (with ``:P`` in mapped mode)."""
        assert case.get is not None
        return case.get + (f":{self.port}" if self.mapped else "")

    def url(self, case: Case) -> str:
        """The URL both sides GET for ``case``."""
        return self.repo_url(case) + REPO_PATH

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


def _blackhole(host: str, port: int) -> list[socket.socket]:
    """A listener whose accept queue (backlog 0: one slot) is filled by a connection of ours."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(0)
    filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    filler.connect((host, port))
    return [listener, filler]


def _free(host: str, port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return False
    return True


def _claim(number: int, port: int | None) -> Lane:
    """Lane ``number`` with DNS on 53 and HTTP on 80 (``port`` None), or all on ``port``
    (0: pick one).  Raises ``OSError`` when anything is taken or not allowed."""
    servers: list[faultdns.FaultDNSServer] = []
    http: ScriptedHTTPServer | None = None
    base = f"127.53.{number}."
    try:
        web = 80 if port is None else port
        if not all(_free(base + str(110 + i), 53) for i in range(MAX_SERVERS)):
            raise OSError(f"lane {number}: a 'down' address is in use")
        dns_port = 53 if port is None else port
        for i in range(MAX_SERVERS):
            server = faultdns.FaultDNSServer(
                host=base + str(10 + i),
                port=dns_port,
                log_size=4096,
                clock=faultdns.MonotonicClock(),
            )
            servers.append(server.start())
            dns_port = server.address[1]  # port 0: the first server picks, the rest follow
        if port is not None:
            web = dns_port
        if not _free(base + "201", web):
            raise OSError(f"lane {number}: the 'refused' address is in use")
        http = ScriptedHTTPServer(base + "200", web)
        hole = _blackhole(base + "202", web)
        return Lane(number, servers, http, hole, port=dns_port)
    except BaseException:
        for started in servers:
            started.stop()
        if http is not None:
            http.close()
        raise


def open_lane(exclude: set[int] | None = None, port: int | None = None) -> Lane:
    """Claim the first free lane (not in ``exclude``).

    ``port`` None: DNS on 53 and HTTP on 80 (needs root); otherwise mapped mode on that
    port (0: any free one).  Raises :class:`LaneUnavailable` (``PermissionError`` as its
    cause when the ports need root).
    """
    errors: list[str] = []
    for number in range(_FIRST_LANE, _LAST_LANE + 1):
        if exclude and number in exclude:
            continue
        try:
            return _claim(number, port)
        except PermissionError as exc:
            raise LaneUnavailable(f"serving DNS on port 53 needs root: {exc}") from exc
        except OSError as exc:
            errors.append(str(exc))
    raise LaneUnavailable("no free lane in 127.53.1-250.0/24: " + "; ".join(errors[-3:]))


def open_lane_pair(*, mapped: bool = False) -> tuple[Lane, Lane]:
    """Go's lane and ours: on ports 53/80 as root, else (or with ``mapped``) both mapped
    on one shared unprivileged port."""
    try:
        if mapped:
            raise LaneUnavailable("mapped mode asked for") from PermissionError()
        first = open_lane()
    except LaneUnavailable as exc:
        if not isinstance(exc.__cause__, PermissionError):
            raise
        first = open_lane(port=0)
        try:
            return first, open_lane({first.number}, port=first.port)
        except BaseException:
            first.close()
            raise
    try:
        return first, open_lane({first.number})
    except BaseException:
        first.close()
        raise

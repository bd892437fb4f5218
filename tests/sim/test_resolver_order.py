"""The stub resolver's completion order in virtual time (issue 8, deviation 3).

On ``SimClock`` replies arrive at the same virtual instant; the resolver must still
finish its queries in Go's order: a lane's retry cannot overtake the other lane's first
reply, so the A query that got SERVFAIL twice completes after AAAA's single NXDOMAIN.
"""

from __future__ import annotations

import errno
import os
import random
import re
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import cleanup
import faultdns
from cleanup._dnsrules import QueryOutcome, candidate_names, simulate_lookup
from faultdns.testing import ClosedPort
from sim._clock import SimClock
from sim._dns import DNSPeer
from sim._fidelity._lanes import _free  # bound and released at once: a look, not a hold
from tests.sim.nameservers import nameservers_on_a_sim_clock

SEARCH = ["harvester-system.svc.cluster.local", "svc.cluster.local", "cluster.local"]
NAME = "upgrade-repo-x.harvester-system"


@pytest.fixture
def served() -> Iterator[tuple[SimClock, faultdns.FaultDNSServer]]:
    clock = SimClock()
    server = faultdns.FaultDNSServer(origins=["cluster.local", "."], ttl=0, clock=clock, seed=0)
    peer = DNSPeer(server).start()
    clock.add_peer(peer)
    clock.call_listener = peer.call_listener
    yield clock, server
    peer.stop()
    clock.close()


def resolver(
    clock: SimClock, server: faultdns.FaultDNSServer, **kwargs: object
) -> cleanup.StubResolver:
    host, port = server.address
    return cleanup.StubResolver(
        [f"{host}:{port}"],
        search=SEARCH,
        ndots=5,
        clock=clock,
        rng=random.Random(0),
        **kwargs,  # type: ignore[arg-type]
    )


def test_deviation_3_on_the_sim_clock(served: tuple[SimClock, faultdns.FaultDNSServer]) -> None:
    clock, server = served
    server.add_fault(f"servfail match={NAME} qtype=A")
    server.add_fault("nxdomain")
    for _ in range(5):  # deterministic: the same answer every time
        with pytest.raises(cleanup.DNSError) as info:
            resolver(clock, server).resolve(NAME)
        err = info.value
        assert err.err == "server misbehaving" and err.is_temporary and not err.is_not_found
    assert clock.now() == 0.0


def test_timeouts_order_by_deadline_on_the_sim_clock(
    served: tuple[SimClock, faultdns.FaultDNSServer],
) -> None:
    """AAAA delayed 1.5 s (answers NXDOMAIN late), A SERVFAIL at once twice: AAAA
    completes last, so "no such host" wins, after 1.5 s of virtual time."""
    clock, server = served
    server.add_fault(f"delay=1.5s match={NAME} qtype=AAAA")
    server.add_fault(f"servfail match={NAME} qtype=A")
    server.add_fault("nxdomain")
    with pytest.raises(cleanup.DNSError) as info:
        resolver(clock, server, timeout=5).resolve(NAME)
    assert info.value.is_not_found
    assert clock.now() == pytest.approx(1.5)
    names = [q.name for q in server.queries]
    assert names.count(NAME) == 3
    assert len({n for n in names}) == len(candidate_names(NAME, SEARCH, 5))


def test_tcp_fallback_takes_two_rounds_on_the_sim_clock() -> None:
    """Oracle case, Go 1.23.9 3/3: on ns0 every UDP reply is truncated and AAAA over
    TCP is REFUSED; AAAA then gets NXDOMAIN from ns1 and completes last, so the error
    names ns1."""
    zone = ["cnamev4.repo.test CNAME t.repo.test", "t.repo.test A 10.0.0.4"]
    with nameservers_on_a_sim_clock(4, origins=["test"], records=zone) as world:
        clock, servers, down = world
        for server, faults in zip(
            servers,
            (
                ["refused qtype=A", "truncate qtype=AAAA"],
                ["servfail proto=udp qtype=A"],
                [],
                ["nxdomain qtype=A"],
            ),
            strict=True,
        ):
            for fault in faults:
                server.add_fault(fault)
        names = [f"{s.address[0]}:{s.address[1]}" for s in servers]
        names[2] = down  # nothing listens there: ICMP port unreachable
        for _ in range(3):
            resolver = cleanup.StubResolver(
                names, attempts=1, timeout=1, clock=clock, hosts=None, rng=random.Random(0)
            )
            with pytest.raises(cleanup.DNSError) as info:
                resolver.resolve("cnamev4.repo.test")
            assert str(info.value) == f"lookup cnamev4.repo.test on {names[3]}: no such host"
            assert info.value.is_not_found
        assert clock.now() == 0.0


# -- the resolver and the pure rules agree, to the last bit, in virtual time ---------------

ACTIONS = ("answer", "nxdomain", "nodata", "servfail", "refused", "drop", "truncate")
_SPEC = {"answer": "answer={addr}", "nxdomain": "nxdomain", "nodata": "nodata",
         "servfail": "servfail", "refused": "refused", "drop": "drop",
         "truncate": "truncate"}  # fmt: skip
_OUTCOME: dict[str, QueryOutcome] = {"answer": "answer", "nxdomain": "nxdomain", "nodata": "nodata",
            "servfail": "servfail", "refused": "rcode", "drop": "timeout"}  # fmt: skip
_ADDRESS = {"A": "10.0.0.1", "AAAA": "fd00::1"}


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[SimClock, list[faultdns.FaultDNSServer], str]]:
    with nameservers_on_a_sim_clock(2, origins=["."]) as world:
        yield world


@st.composite
def plans(draw: st.DrawFn) -> dict[str, object]:
    search = draw(st.lists(st.sampled_from(["a.test", "b.test", "x" * 64]), max_size=2))
    name = draw(st.sampled_from(["repo", "repo.ns", "repo.ns.", "b.c.d"]))
    layout = draw(st.lists(st.sampled_from(["s0", "s1", "down"]), min_size=1, max_size=4))
    candidates = candidate_names(name, [s for s in search], 2)
    faults: dict[tuple[str, str, str], str] = {}
    for server in ("s0", "s1"):
        for fqdn in candidates:
            for qtype in ("A", "AAAA"):
                faults[(server, fqdn, qtype)] = draw(st.sampled_from(ACTIONS))
    return {
        "search": search,
        "name": name,
        "layout": layout,
        "faults": faults,
        "attempts": draw(st.integers(1, 2)),
        "timeout": draw(st.sampled_from([1.0, 2.0])),
        "rotate": draw(st.booleans()),
        "single_request": draw(st.booleans()),
        "use_tcp": draw(st.booleans()),
        "deadline": draw(st.sampled_from([None, 3.0])),
    }


def _norm(err: cleanup.DNSError | None) -> object:
    if err is None:
        return None
    text = re.sub(r"(udp|tcp) [0-9.]+:\d+->", r"\1 ->", err.err)
    return (err.name, text, err.server, err.is_not_found, err.is_timeout, err.is_temporary)


#: A TCP fallback against UDP retries at one instant (the kind of
#: ``test_truncated_aaaa_against_four_servers_of_a_on_the_sim_clock``): A gets REFUSED,
#: SERVFAIL, ICMP port unreachable, SERVFAIL (four rounds), AAAA a truncated reply, then
#: NXDOMAIN over TCP (three rounds), so A completes last: "server misbehaving" from s1.
#: The resolver once read AAAA's TCP reply after all of A's (the harness's faultdns serves
#: TCP over several loop turns, and an ICMP error gives it none) and reported s0's
#: "no such host", unlike the model.
TCP_AGAINST_RETRIES: dict[str, object] = {
    "search": [],
    "name": "repo.ns",
    "layout": ["s0", "s1", "down", "s1"],
    "faults": {
        ("s0", "repo.ns.", "A"): "refused",
        ("s1", "repo.ns.", "A"): "servfail",
        ("s0", "repo.ns.", "AAAA"): "truncate",
        ("s1", "repo.ns.", "AAAA"): "nxdomain",
    },
    "attempts": 1,
    "timeout": 1.0,
    "rotate": False,
    "single_request": False,
    "deadline": None,
}


#: Every server down (the closed port twice), ``rotate``, ``single-request``, a deadline:
#: every query is refused at once, so the lookup fails with "connection refused" at t=0.
#: The resolver once said ``read udp ->P: i/o timeout`` after 1 s now and then (5 runs
#: in about 16,000 of this world): the closed port was a port bound and released, so the
#: kernel could give it to the resolver's own socket (see
#: :func:`clients_may_draw_the_closed_port`).
ALL_DOWN: dict[str, object] = {
    "search": ["a.test", "x" * 64],
    "name": "repo.ns",
    "layout": ["down", "down"],
    "faults": {},
    "attempts": 1,
    "timeout": 1.0,
    "rotate": True,
    "single_request": True,
    "deadline": 3.0,
}


#: ``use-vc`` against servers that are down: Go dials TCP, and the dial is refused, so the
#: error is ``dial tcp S: connect: connection refused`` (no read ever starts).
#: ``simulate_lookup`` once said ``read tcp ->S: read: connection refused``.
ALL_DOWN_OVER_TCP: dict[str, object] = {**ALL_DOWN, "use_tcp": True}


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(plan=plans())
@example(plan=TCP_AGAINST_RETRIES)
@example(plan=ALL_DOWN)
@example(plan=ALL_DOWN_OVER_TCP)
def test_resolver_and_simulate_lookup_agree(
    world: tuple[SimClock, list[faultdns.FaultDNSServer], str], plan: dict[str, object]
) -> None:
    agree(world, plan)


def agree(
    world: tuple[SimClock, list[faultdns.FaultDNSServer], str], plan: dict[str, object]
) -> None:
    """The real resolver on ``world`` (faultdns servers ``s0``, ``s1`` and the closed
    port ``down``) and ``simulate_lookup`` give the same result, error text and time
    for ``plan`` (see :func:`plans`)."""
    clock, servers, down = world
    texts = {"s0": f"{servers[0].address[0]}:{servers[0].address[1]}", "down": down}
    texts["s1"] = f"{servers[1].address[0]}:{servers[1].address[1]}"
    layout: list[str] = plan["layout"]  # type: ignore[assignment]
    faults: dict[tuple[str, str, str], str] = plan["faults"]  # type: ignore[assignment]
    for index, server in enumerate(servers):
        server.reset()
        for (label, fqdn, qtype), action in faults.items():
            if label == f"s{index}":
                spec = _SPEC[action].format(addr=_ADDRESS[qtype])
                server.add_fault(f"{spec} match={fqdn.rstrip('.')} qtype={qtype}")
    settings_ = {
        "search": plan["search"],
        "ndots": 2,
        "attempts": plan["attempts"],
        "timeout": plan["timeout"],
        "rotate": plan["rotate"],
        "single_request": plan["single_request"],
        "use_tcp": plan.get("use_tcp", False),
    }
    resolver = cleanup.StubResolver(
        [texts[label] for label in layout],
        clock=clock,
        rng=random.Random(1),
        **settings_,  # type: ignore[arg-type]
    )
    start = clock.now()
    limit: float | None = plan["deadline"]  # type: ignore[assignment]
    try:
        got: object = sorted(resolver.resolve(str(plan["name"]), timeout=limit))
    except cleanup.DNSError as exc:
        got = _norm(exc)
    took = clock.now() - start

    def outcome_of(fqdn: str, qtype: str, server: int, transport: str, t: float) -> QueryOutcome:
        label = layout[server]
        if label == "down":
            return "refused"
        action = faults[(label, fqdn, qtype)]
        if action == "truncate":  # TC over UDP; over TCP the zone (empty): NXDOMAIN
            return "truncated" if transport == "udp" else "nxdomain"
        return _OUTCOME[action]

    run = simulate_lookup(
        str(plan["name"]),
        outcome_of,
        servers=[texts[label] for label in layout],
        start=0.0,
        answer_of=lambda _fqdn, qtype: (_ADDRESS[qtype],),
        deadline=limit,
        **settings_,  # type: ignore[arg-type]
    )
    want = sorted(run.addresses) if run.error is None else _norm(run.error)
    assert got == want
    assert took == pytest.approx(run.finished)


#: Linux ``IP_LOCAL_PORT_RANGE`` (include/uapi/linux/in.h; Linux >= 6.3): the range a
#: socket's own ephemeral port is drawn from, ``high << 16 | low``
_IP_LOCAL_PORT_RANGE = 51


#: what ``connect`` raises when the narrowed range has no port left (UDP autobind:
#: EAGAIN; TCP ``__inet_hash_connect``: EADDRNOTAVAIL)
_NO_PORT_LEFT = (errno.EAGAIN, errno.EADDRNOTAVAIL)


def _ports_around(host: str, port: int) -> tuple[int, int] | None:
    """Four ports ``[low, low + 3]`` of the ephemeral range, ``port`` among them and
    the other three free now (:func:`_free`); None when no such four exist."""
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        first, last = (int(word) for word in text.split()[:2])
    except (OSError, ValueError):
        first, last = 32768, 60999  # Linux's default
    for low in range(port - 3, port + 1):
        others = [p for p in range(low, low + 4) if p != port]
        if low >= first and low + 3 <= last and all(_free(host, p) for p in others):
            return low, low + 3
    return None


@pytest.fixture
def clients_may_draw_the_closed_port(
    world: tuple[SimClock, list[faultdns.FaultDNSServer], str], monkeypatch: pytest.MonkeyPatch
) -> tuple[SimClock, list[faultdns.FaultDNSServer], str]:
    """``world``, where every socket that dials the closed port draws its own local port
    from four ports, the closed one among them (``IP_LOCAL_PORT_RANGE``; skips where
    the kernel has no such option).  The other three are chosen free; should another
    socket of the machine take all three before a connect, that connect finds no port
    (EAGAIN/EADDRNOTAVAIL) and the test skips, saying so, rather than fail.

    Linux gives a socket a free port of ``ip_local_port_range`` when it connects; a
    closed port made by binding a port and releasing it is free, so now and then (1
    socket in about 28,000) the resolver's socket was given the closed port itself.
    Connected to itself, it read its own UDP query (not a reply: ignored, as Go does)
    and timed out after 1 s where ``simulate_lookup`` is refused at once.  Here that
    rare draw is common (TCP's side of it: tests/faultdns/test_unreachable.py).
    """
    _clock, _servers, down = world
    host, _, port_text = down.rpartition(":")
    port = int(port_text)
    window = _ports_around(host, port)
    if window is None:
        pytest.skip(f"no three free ports next to the closed port {port} to narrow to")
    low, high = window
    narrow = struct.pack("=I", high << 16 | low)

    def no_port_left(code: int) -> None:
        if code in _NO_PORT_LEFT:
            pytest.skip(
                f"the narrowed range {low}-{high} had no free port at connect "
                f"(taken by another socket of the machine): {os.strerror(code)}"
            )

    class Narrowed(socket.socket):
        def _narrow(self, address: Any) -> None:
            if tuple(address[:2]) == (host, port) and self.getsockname()[1] == 0:
                try:
                    self.setsockopt(socket.IPPROTO_IP, _IP_LOCAL_PORT_RANGE, narrow)
                except OSError as exc:
                    pytest.skip(f"no per-socket port range here (IP_LOCAL_PORT_RANGE): {exc}")

        def connect(self, address: Any) -> None:
            self._narrow(address)
            try:
                super().connect(address)
            except OSError as exc:
                no_port_left(exc.errno or 0)
                raise

        def connect_ex(self, address: Any) -> int:
            self._narrow(address)
            code = super().connect_ex(address)
            no_port_left(code)
            return code

    monkeypatch.setattr(socket, "socket", Narrowed)
    return world


def test_a_down_server_is_refused_even_where_the_client_could_be_given_its_port(
    clients_may_draw_the_closed_port: tuple[SimClock, list[faultdns.FaultDNSServer], str],
) -> None:
    """Every query to a server that is down meets ICMP port unreachable, whatever local
    port the client's socket is given: ``ALL_DOWN`` fails with "connection refused" at
    once, as ``simulate_lookup`` says.  With the closed port bound and released
    (before ``tests/sim/nameservers.py`` held it with ``faultdns.testing.ClosedPort``)
    this failed 20 runs in 20; without the narrowed range ``ALL_DOWN`` failed 5 times
    in about 16,000 runs (8 sockets a run, each given the closed port with odds of 1 in
    28,232, the default ephemeral range), and now 0 in 9,000."""
    for _ in range(12):  # each run dials the closed port 8 times
        agree(clients_may_draw_the_closed_port, ALL_DOWN)


def test_truncated_aaaa_against_four_servers_of_a_on_the_sim_clock() -> None:
    """The world of tests/cleanup/test_dnsrules.py's test of this name, on the harness's
    clock (faultdns served by ``DNSPeer``, which serves a TCP query over several loop
    turns, so AAAA's TCP reply reached the resolver after all four of A's replies).  Go's
    rule (``goLookupIPCNAMEOrder``: the lane received last keeps its error) with A
    taking four rounds and AAAA three gives A's "no such host" from server 3, as
    ``simulate_lookup`` does on the same world."""
    clock = SimClock()
    servers, peers = [], []
    for faults in (
        ["refused qtype=A", "truncate qtype=AAAA"],
        ["servfail proto=udp qtype=A"],
        [],
        ["nxdomain qtype=A"],
    ):
        server = faultdns.FaultDNSServer(origins=["test"], ttl=0, clock=clock, seed=0)
        server.add_record("cnamev4.repo.test CNAME t.repo.test")
        server.add_record("t.repo.test A 10.0.0.4")
        for fault in faults:
            server.add_fault(fault)
        peer = DNSPeer(server).start()
        clock.add_peer(peer)
        clock.call_listener = peer.call_listener
        servers.append(server)
        peers.append(peer)
    closed = ClosedPort()  # nothing listens there: ICMP port unreachable
    names = [f"{s.address[0]}:{s.address[1]}" for s in servers]
    names[2] = closed.hostport
    try:
        for _ in range(3):
            resolver = cleanup.StubResolver(
                names, attempts=1, timeout=1, clock=clock, hosts=None, rng=random.Random(0)
            )
            with pytest.raises(cleanup.DNSError) as info:
                resolver.resolve("cnamev4.repo.test")
            assert str(info.value) == f"lookup cnamev4.repo.test on {names[3]}: no such host"
            assert info.value.is_not_found
        assert clock.now() == 0.0
    finally:
        for peer in peers:
            peer.stop()
        clock.close()
        closed.close()

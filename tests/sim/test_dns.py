"""Timeline DNS states as faultdns rules, and faultdns served in the harness thread."""

from __future__ import annotations

import math
import random
import socket
from collections.abc import Iterator

import dnslib
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cleanup
import faultdns
from sim._clock import SimClock
from sim._dns import DNSPeer, dns_rules, make_dns_server, refusal_changes
from sim._scenario import load_scenario
from sim._timeline import QTYPE_MARK, DNSState, Interval, Timeline

SINGLE = load_scenario("single-node")
REPO = SINGLE.repo_host
SEARCH = list(SINGLE.client.search)


def intervals(*points: tuple[float, DNSState]) -> tuple[Interval[DNSState], ...]:
    ends = [t for t, _ in points[1:]] + [math.inf]
    return tuple(Interval(t, e, s) for (t, s), e in zip(points, ends, strict=True))


def timeline(
    repo: tuple[Interval[DNSState], ...], others: tuple[Interval[DNSState], ...]
) -> Timeline:
    path = SINGLE.list_path("current")
    return Timeline("t", 0, 0.0, REPO, {REPO: repo, "*": others},
                    {path: (Interval(0.0, math.inf, "ok"),)}, ())  # fmt: skip


@pytest.fixture
def served() -> Iterator[tuple[SimClock, DNSPeer, faultdns.FaultDNSServer]]:
    clock = SimClock()
    server = make_dns_server(REPO, clock)
    peer = DNSPeer(server).start()
    clock.add_peer(peer)
    clock.call_listener = peer.call_listener
    yield clock, peer, server
    peer.stop()


def lookup(clock: SimClock, server: faultdns.FaultDNSServer) -> list[str]:
    host, port = server.address
    resolver = cleanup.StubResolver([f"{host}:{port}"], search=SEARCH, ndots=5, clock=clock,
                                    rng=random.Random(0))  # fmt: skip
    return resolver.resolve(SINGLE.repo_service)


def test_states_become_rules_in_priority_order() -> None:
    rules = dns_rules(
        timeline(
            repo=intervals((0.0, "conn-refused"), (5.0, "timeout"), (10.0, "ok")),
            others=intervals((0.0, "conn-refused"), (5.0, "timeout"), (20.0, "servfail")),
        )
    )
    summary = [(r.action, r.match, r.qtype, r.after, r.for_) for r in rules]
    assert summary == [
        # conn-refused makes no rule: nothing reaches the server (DNSPeer.refuse)
        ("drop", REPO, None, 5.0, 5.0),
        # the repo name is up while every other name still times out or fails: answer it
        # as the zone would, before the catch-all rule can swallow it
        ("answer", REPO, None, 10.0, 10.0),
        ("nodata", REPO, "AAAA", 10.0, 10.0),
        ("answer", REPO, None, 20.0, None),
        ("nodata", REPO, "AAAA", 20.0, None),
        ("drop", "*", None, 5.0, 15.0),
        ("servfail", "*", None, 20.0, None),
    ]


def test_the_name_as_given_has_rules_of_its_own() -> None:
    world = timeline(intervals((0.0, "ok")), intervals((0.0, "timeout"), (9.0, "nxdomain")))
    as_given = SINGLE.repo_service
    world = Timeline("t", 0, 0.0, REPO, {**world.dns, as_given: intervals((0.0, "ok"),
                     (3.0, "servfail"))}, world.http, ())  # fmt: skip
    summary = [(r.action, r.match, r.after, r.for_) for r in dns_rules(world)]
    # ok while "*" times out: the zone's NXDOMAIN, explicitly; then the upstream's SERVFAIL
    assert ("nxdomain", as_given, 0.0, 3.0) in summary
    assert ("servfail", as_given, 3.0, None) in summary


def test_conn_refused_is_the_whole_servers_state() -> None:
    world = timeline(
        repo=intervals((0.0, "conn-refused"), (4.0, "nxdomain"), (6.0, "ok")),
        others=intervals((0.0, "conn-refused"), (4.0, "nxdomain")),
    )
    assert refusal_changes(world) == [(0.0, True), (4.0, False)]
    forever = timeline(intervals((0.0, "conn-refused")), intervals((0.0, "conn-refused")))
    assert refusal_changes(forever) == [(0.0, True)]
    some = timeline(intervals((0.0, "conn-refused"), (4.0, "ok")), intervals((0.0, "nxdomain")))
    with pytest.raises(ValueError, match="must hold for every name at once"):
        refusal_changes(some)


def test_a_dns_service_without_backend_refuses_every_query_at_once(
    served: tuple[SimClock, DNSPeer, faultdns.FaultDNSServer],
) -> None:
    clock, peer, server = served
    peer.refuse(True)
    for _ in range(20):  # deterministic: the ICMP error is there before time may move
        with pytest.raises(cleanup.DNSError) as refused:
            lookup(clock, server)
        err = refused.value
        assert err.is_temporary and not err.is_timeout and not err.is_not_found
        assert err.err.endswith("read: connection refused"), err.err
        assert clock.now() == 0.0
    assert peer.records == []  # no query reached the server
    port = server.address[1]
    peer.refuse(False)
    assert server.address[1] == port  # the port stayed bound all along
    assert lookup(clock, server) == ["127.0.0.1"]
    assert clock.now() == 0.0


def test_a_dns_service_ip_not_routed_yet_is_silence(
    served: tuple[SimClock, DNSPeer, faultdns.FaultDNSServer],
) -> None:
    clock, peer, server = served
    down = intervals((0.0, "timeout"), (60.0, "nxdomain"))
    for rule in dns_rules(timeline(intervals((0.0, "timeout"), (60.0, "ok")), down)):
        server.add_fault(rule)
    with pytest.raises(cleanup.DNSError) as silent:
        lookup(clock, server)
    assert silent.value.is_timeout and "i/o timeout" in silent.value.err
    assert clock.now() == 4 * 2 * 5.0
    assert {r.rcode for r in peer.records} == {"drop"}


@given(
    start=st.floats(min_value=0, max_value=1e5, allow_nan=False),
    length=st.floats(min_value=1e-6, max_value=1e5, allow_nan=False),
)
def test_rule_windows_end_exactly_where_the_interval_does(start: float, length: float) -> None:
    end = start + length
    if not end > start:
        return
    repo = (
        intervals((0.0, "ok"), (start, "nxdomain"), (end, "ok"))
        if start > 0
        else intervals((0.0, "nxdomain"), (end, "ok"))
    )
    (rule,) = dns_rules(timeline(repo, intervals((0.0, "nxdomain"))))
    assert rule.after == start
    assert rule.after is not None and rule.for_ is not None
    assert rule.after + rule.for_ == end  # the server's window is [after, after + for)


def test_resolution_follows_the_timeline_in_virtual_time(
    served: tuple[SimClock, DNSPeer, faultdns.FaultDNSServer],
) -> None:
    clock, peer, server = served
    world = timeline(
        repo=intervals((0.0, "timeout"), (100.0, "nxdomain"), (200.0, "ok")),
        others=intervals((0.0, "timeout"), (100.0, "nxdomain")),
    )
    for rule in dns_rules(world):
        server.add_fault(rule)
    with pytest.raises(cleanup.DNSError) as dropped:
        lookup(clock, server)
    assert dropped.value.is_timeout
    assert clock.now() == 4 * 2 * 5.0  # 4 candidates x 2 tries x 5 s, all virtual
    clock.advance_to(100.0)
    with pytest.raises(cleanup.DNSError) as missing:
        lookup(clock, server)
    assert missing.value.is_not_found and clock.now() == 100.0
    clock.advance_to(200.0)
    assert lookup(clock, server) == ["127.0.0.1"]
    assert clock.now() == 200.0
    assert [r.rcode for r in peer.records[:2]] == ["drop", "drop"]


def test_delayed_replies_arrive_at_their_virtual_time(
    served: tuple[SimClock, DNSPeer, faultdns.FaultDNSServer],
) -> None:
    clock, _peer, server = served
    server.add_fault("delay=2.5s")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect(server.address)
        sock.setblocking(False)
        sock.send(dnslib.DNSRecord.question(REPO, "A").pack())
        assert clock.wait_readable(sock, 5.0) is True
        assert clock.now() == 2.5  # released by the clock listener, inside the loop
        reply = dnslib.DNSRecord.parse(sock.recv(4096))
        assert str(reply.rr[0].rdata) == "127.0.0.1"
    finally:
        sock.close()


def test_truncated_replies_fall_back_to_tcp_without_losing_time(
    served: tuple[SimClock, DNSPeer, faultdns.FaultDNSServer],
) -> None:
    clock, peer, server = served
    server.add_fault(f"truncate match={REPO}")
    assert lookup(clock, server) == ["127.0.0.1"]
    assert clock.now() == 0.0  # the TCP exchange was answered, not timed out
    transports = [(r.name, r.transport) for r in peer.records if r.name == REPO]
    assert ("upgrade-repo-hvst-upgrade-nv76q.harvester-system.svc.cluster.local", "tcp") in (
        transports
    )


def test_an_aaaa_key_gives_the_names_aaaa_queries_states_of_their_own(
    served: tuple[SimClock, DNSPeer, faultdns.FaultDNSServer],
) -> None:
    """``name#AAAA`` (issue 11: A and AAAA in different states): its rules come first,
    for AAAA only, and its ``ok`` is stated (the repo name's AAAA: no data) so the
    name's own rules cannot answer it; the A queries follow the name's key."""
    world = timeline(intervals((0.0, "nxdomain"), (4.0, "ok")), intervals((0.0, "ok")))
    key = REPO + QTYPE_MARK + "AAAA"
    world = Timeline("t", 0, 0.0, REPO, {**world.dns, key: intervals((0.0, "ok"),
                     (2.0, "servfail"))}, world.http, ())  # fmt: skip
    summary = [(r.action, r.match, r.qtype, r.after, r.for_) for r in dns_rules(world)]
    assert summary[:2] == [
        ("nodata", REPO, "AAAA", 0.0, 2.0),
        ("servfail", REPO, "AAAA", 2.0, None),
    ]
    assert ("nxdomain", REPO, None, 0.0, 4.0) in summary[2:]
    clock, peer, server = served
    for rule in dns_rules(world):
        server.add_fault(rule)
    # from t = 4 the A query answers: the lookup succeeds whatever AAAA says (Go: any
    # address ends the walk)
    clock.advance_to(4.0)
    assert lookup(clock, server) == ["127.0.0.1"]
    answered = {(r.qtype, r.rcode) for r in peer.records if r.name.rstrip(".").lower() == REPO}
    assert ("AAAA", "SERVFAIL") in answered and ("A", "NOERROR") in answered

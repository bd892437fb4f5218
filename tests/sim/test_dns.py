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
from sim._dns import DNSPeer, dns_rules, make_dns_server
from sim._scenario import load_scenario
from sim._timeline import Interval, Timeline

SINGLE = load_scenario("single-node")
REPO = SINGLE.repo_host
SEARCH = list(SINGLE.client.search)


def intervals(*points: tuple[float, str]) -> tuple[Interval, ...]:
    ends = [t for t, _ in points[1:]] + [math.inf]
    return tuple(Interval(t, e, s) for (t, s), e in zip(points, ends, strict=True))


def timeline(repo: tuple[Interval, ...], others: tuple[Interval, ...]) -> Timeline:
    path = SINGLE.list_path("current")
    return Timeline("t", 0, 0.0, REPO, {REPO: repo, "*": others},
                    {path: intervals((0.0, "ok"))}, ())  # fmt: skip


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
            repo=intervals((0.0, "refused"), (10.0, "ok")),
            others=intervals((0.0, "refused"), (5.0, "timeout"), (20.0, "nxdomain")),
        )
    )
    summary = [(r.action, r.match, r.qtype, r.after, r.for_) for r in rules]
    assert summary == [
        ("refused", REPO, None, 0.0, 10.0),
        # the repo name is up while every other name still times out: answer it as the
        # zone would, before the catch-all rule can swallow it
        ("answer", REPO, None, 10.0, 10.0),
        ("nodata", REPO, "AAAA", 10.0, 10.0),
        ("refused", "*", None, 0.0, 5.0),
        ("drop", "*", None, 5.0, 15.0),
    ]


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

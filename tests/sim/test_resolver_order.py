"""The stub resolver's completion order in virtual time (issue 8, deviation 3).

On ``SimClock`` replies arrive at the same virtual instant; the resolver must still
finish its queries in Go's order: a lane's retry cannot overtake the other lane's first
reply, so the A query that got SERVFAIL twice completes after AAAA's single NXDOMAIN.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

import cleanup
import faultdns
from cleanup._dnsrules import candidate_names
from sim._clock import SimClock
from sim._dns import DNSPeer

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
    clock = SimClock()
    servers, peers = [], []
    for faults in (["truncate", "refused qtype=AAAA"], []):
        server = faultdns.FaultDNSServer(origins=["."], ttl=0, clock=clock, seed=0)
        for fault in faults:
            server.add_fault(fault)
        peer = DNSPeer(server).start()
        clock.add_peer(peer)
        clock.call_listener = peer.call_listener
        servers.append(server)
        peers.append(peer)
    try:
        names = [f"{s.address[0]}:{s.address[1]}" for s in servers]
        for _ in range(3):
            resolver = cleanup.StubResolver(names, attempts=1, ndots=5, clock=clock)
            with pytest.raises(cleanup.DNSError) as info:
                resolver.resolve("harvester-system")
            assert (info.value.err, info.value.server) == ("no such host", names[1])
    finally:
        for peer in peers:
            peer.stop()
        clock.close()

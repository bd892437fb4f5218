"""Real faultdns servers on one simulation clock, for tests that drive the real
``cleanup.StubResolver`` against several nameservers outside the harness."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import faultdns
from faultdns.testing import ClosedPort
from sim._clock import SimClock
from sim._dns import DNSPeer


@contextlib.contextmanager
def nameservers_on_a_sim_clock(
    count: int, *, origins: list[str], records: Iterable[str] = ()
) -> Iterator[tuple[SimClock, list[faultdns.FaultDNSServer], str]]:
    """``count`` faultdns servers (``origins``, ``records``, TTL 0) served on one
    ``SimClock``, and ``HOST:PORT`` of a closed port (a server that is down: a UDP query
    meets ICMP port unreachable, a TCP connect a reset).  The port is held
    (``faultdns.testing.ClosedPort``), so no socket, not even the resolver's own, is
    ever given it.  Peers, clock and port are released on exit."""
    zone = list(records)
    clock = SimClock()
    peers: list[DNSPeer] = []
    closed = ClosedPort()
    try:
        servers: list[faultdns.FaultDNSServer] = []
        for _ in range(count):
            server = faultdns.FaultDNSServer(origins=origins, ttl=0, clock=clock, seed=0)
            for record in zone:
                server.add_record(record)
            peer = DNSPeer(server).start()
            clock.add_peer(peer)
            clock.call_listener = peer.call_listener
            servers.append(server)
            peers.append(peer)
        yield clock, servers, closed.hostport
    finally:
        for peer in peers:
            peer.stop()
        clock.close()
        closed.close()

"""Real faultdns servers on one simulation clock, for tests that drive the real
``cleanup.StubResolver`` against several nameservers outside the harness."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterable, Iterator

import faultdns
from sim._clock import SimClock
from sim._dns import DNSPeer


@contextlib.contextmanager
def nameservers_on_a_sim_clock(
    count: int, *, origins: list[str], records: Iterable[str] = ()
) -> Iterator[tuple[SimClock, list[faultdns.FaultDNSServer], str]]:
    """``count`` faultdns servers (``origins``, ``records``, TTL 0) served on one
    ``SimClock``, and ``HOST:PORT`` of a closed UDP port (nothing listens there: a query
    sent to it meets ICMP port unreachable).  Peers and clock are stopped on exit."""
    zone = list(records)
    clock = SimClock()
    peers: list[DNSPeer] = []
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
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        down = f"127.0.0.1:{probe.getsockname()[1]}"
        probe.close()
        yield clock, servers, down
    finally:
        for peer in peers:
            peer.stop()
        clock.close()

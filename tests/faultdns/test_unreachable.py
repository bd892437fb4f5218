"""``FaultDNSServer.set_unreachable``: a DNS Service without ready backend, as a client sees it.

The client here is a plain connected UDP socket, as Go's resolver uses one per exchange:
while the server is unreachable its read fails with ``ECONNREFUSED`` (the kernel's ICMP
port unreachable), and afterwards the same port answers again.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import dns.message
import dns.query
import dns.rcode
import pytest

from faultdns import FaultDNSServer, MonotonicClock, free_udp_port


def _query_bytes(name: str) -> bytes:
    return dns.message.make_query(name, "A").to_wire()


def _exchange(address: tuple[str, int]) -> bytes:
    """One query on a fresh connected UDP socket; the raw reply (or the OSError)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.connect(address)
        sock.send(_query_bytes("a.test"))
        return sock.recv(4096)


@pytest.fixture
def server() -> Iterator[FaultDNSServer]:
    srv = FaultDNSServer(
        records=["a.test=10.0.0.1"], port=free_udp_port("127.0.0.1"), clock=MonotonicClock()
    )
    srv.start()
    yield srv
    srv.stop()


def test_unreachable_server_is_refused_by_the_kernel_and_comes_back(server: FaultDNSServer) -> None:
    reply = dns.message.from_wire(_exchange(server.address))
    assert reply.rcode() == dns.rcode.NOERROR
    server.set_unreachable(True)
    assert server.unreachable
    for _ in range(3):  # every query, not just the first
        with pytest.raises(ConnectionRefusedError):
            _exchange(server.address)
    server.set_unreachable(False)
    assert not server.unreachable
    reply = dns.message.from_wire(_exchange(server.address))
    assert [str(r) for rrset in reply.answer for r in rrset] == ["10.0.0.1"]
    # the port stayed the server's the whole time
    assert server.address[1] == server.port


def test_rules_and_query_log_survive_unreachable(server: FaultDNSServer) -> None:
    server.add_fault("servfail")
    server.set_unreachable(True)
    with pytest.raises(ConnectionRefusedError):
        _exchange(server.address)
    server.set_unreachable(False)
    reply = dns.message.from_wire(_exchange(server.address))
    assert reply.rcode() == dns.rcode.SERVFAIL
    # the refused query never reached the server: only the last one is logged
    assert len(server.queries) == 1


def test_tcp_still_answers_while_udp_is_unreachable(server: FaultDNSServer) -> None:
    server.set_unreachable(True)
    reply = dns.query.tcp(dns.message.make_query("a.test", "A"), "127.0.0.1", port=server.port)
    assert reply.rcode() == dns.rcode.NOERROR


def test_unreachable_needs_an_explicit_port() -> None:
    with FaultDNSServer(records=["a.test=10.0.0.1"], clock=MonotonicClock()) as srv:
        with pytest.raises(ValueError, match="explicit port"):
            srv.set_unreachable(True)
        assert not srv.unreachable


def test_unreachable_needs_a_running_server() -> None:
    srv = FaultDNSServer(port=free_udp_port("127.0.0.1"), clock=MonotonicClock())
    with pytest.raises(RuntimeError, match="not started"):
        srv.set_unreachable(True)

"""``FaultDNSServer.set_unreachable``: a DNS Service without ready backend, as a client sees it.

The client here is a plain connected UDP socket, as Go's resolver uses one per exchange:
while the server is unreachable its read fails with ``ECONNREFUSED`` (the kernel's ICMP
port unreachable), and afterwards the same port answers again.  ``ClosedPort``, the
same trick for a server that is down in a test, refuses UDP and TCP alike and gives its
port to nobody, not even to the client that dials it.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Iterator

import dns.message
import dns.query
import dns.rcode
import pytest

from faultdns import FaultDNSServer, MonotonicClock, free_udp_port
from faultdns.testing import ClosedPort


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


# -- ClosedPort: a server that is down, held so that nobody is given its port -------------

#: Linux ``IP_LOCAL_PORT_RANGE`` (include/uapi/linux/in.h; Linux >= 6.3): the range a
#: socket's own ephemeral port is drawn from, ``high << 16 | low``
_IP_LOCAL_PORT_RANGE = 51


def _client_forced_onto(kind: int, port: int) -> socket.socket:
    """A client socket whose ephemeral port can only be ``port`` (skips where the
    kernel has no per-socket range)."""
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.setsockopt(
            socket.IPPROTO_IP, _IP_LOCAL_PORT_RANGE, struct.pack("=I", port << 16 | port)
        )
    except OSError as exc:
        sock.close()
        pytest.skip(f"no per-socket port range here (IP_LOCAL_PORT_RANGE): {exc}")
    sock.settimeout(2.0)
    return sock


def _released_port() -> int:
    """The old recipe for a closed port: bind one, note it, close it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_closed_port_refuses_every_udp_query_and_tcp_connect() -> None:
    with ClosedPort() as closed:
        assert closed.hostport == f"127.0.0.1:{closed.port}"
        for _ in range(3):
            with pytest.raises(ConnectionRefusedError):
                _exchange(closed.address)
            with socket.socket() as tcp:
                assert tcp.connect_ex(closed.address) == errno.ECONNREFUSED
    with ClosedPort("::1") as closed:
        assert closed.hostport == f"[::1]:{closed.port}"
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp:
            udp.connect(closed.address)
            udp.send(_query_bytes("a.test"))
            with pytest.raises(ConnectionRefusedError):
                udp.recv(512)


@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM], ids=["udp", "tcp"])
def test_no_socket_is_given_a_closed_port(kind: int) -> None:
    """Not by ``bind``, and not as the ephemeral port of a client that dials it: a
    client that could only be given the closed port's number cannot connect at all
    (UDP ``EAGAIN``, TCP ``EADDRNOTAVAIL``), rather than be connected to itself."""
    with ClosedPort() as closed:
        with socket.socket(socket.AF_INET, kind) as other:
            with pytest.raises(OSError) as info:
                other.bind(closed.address)
            assert info.value.errno == errno.EADDRINUSE
        with _client_forced_onto(kind, closed.port) as client:
            code = client.connect_ex(closed.address)
            assert code in (errno.EAGAIN, errno.EADDRNOTAVAIL)


@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM], ids=["udp", "tcp"])
def test_a_released_port_may_be_given_to_the_client_that_dials_it(kind: int) -> None:
    """Why :class:`ClosedPort` holds its port: a port bound and released is free, and
    the kernel may make it the local port of the very socket that dials it (on its
    own, about 1 socket in 28,000; here the only port the client may have).  Connected
    to itself, a UDP client reads back its own query instead of ``ECONNREFUSED``; a
    TCP connect succeeds, a simultaneous open with itself (golang.org/issue/2690).
    This was how the property suite's closed nameserver now and then timed out."""
    port = _released_port()
    with _client_forced_onto(kind, port) as client:
        assert client.connect_ex(("127.0.0.1", port)) == 0
        assert client.getsockname() == client.getpeername() == ("127.0.0.1", port)
        if kind == socket.SOCK_DGRAM:
            query = _query_bytes("a.test")
            client.send(query)
            assert client.recv(512) == query

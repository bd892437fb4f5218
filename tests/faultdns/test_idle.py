"""FaultDNSServer.idle()/wait_idle(): once the server is idle, every reply is delivered.

The promise a simulation builds on: after a client's sends have returned and
``wait_idle()`` has returned, each query the rules answer has its reply in the client's
socket, so "nothing there" means "no answer", with no real-time grace period.
"""

from __future__ import annotations

import asyncio
import select
import socket
import struct
from collections.abc import Iterator

import dnslib
import pytest

import faultdns
from faultdns.testing import client_text

NAME = "a.test"


def _with_id(name: str, qid: int, qtype: str) -> bytes:
    record = dnslib.DNSRecord.question(name, qtype)
    record.header.id = qid
    return bytes(record.pack())


def drain(sock: socket.socket) -> list[dnslib.DNSRecord]:
    replies: list[dnslib.DNSRecord] = []
    while True:
        try:
            data = sock.recv(65535)
        except BlockingIOError:
            return replies
        replies.append(dnslib.DNSRecord.parse(data))


@pytest.fixture(params=[True, False], ids=["batched", "plain"])
def server(request: pytest.FixtureRequest) -> Iterator[faultdns.FaultDNSServer]:
    clock = faultdns.ManualClock()
    with faultdns.FaultDNSServer(
        records=[f"{NAME}=10.0.0.1", "b.test=10.0.0.2"],
        clock=clock,
        batch_io=request.param,
    ) as dns:
        yield dns


@pytest.fixture
def client(server: faultdns.FaultDNSServer) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(server.address)
    sock.setblocking(False)
    yield sock
    sock.close()


def test_a_fresh_server_is_idle(server: faultdns.FaultDNSServer) -> None:
    assert server.idle()
    server.wait_idle(timeout=1)


def test_every_reply_is_in_the_client_socket_once_idle(
    server: faultdns.FaultDNSServer, client: socket.socket
) -> None:
    for round_ in range(20):
        sent = 1 + round_ % 7
        for i in range(sent):
            client.send(_with_id(NAME if i % 2 else "b.test", 100 * round_ + i, "A"))
        server.wait_idle()
        replies = drain(client)  # no waiting: they must be there already
        assert sorted(r.header.id for r in replies) == [100 * round_ + i for i in range(sent)]
    assert server.idle()


def test_dropped_queries_are_handled_too(
    server: faultdns.FaultDNSServer, client: socket.socket
) -> None:
    server.add_fault(f"drop match={NAME}")
    client.send(_with_id(NAME, 7, "A"))
    client.send(_with_id("b.test", 8, "A"))
    server.wait_idle()
    assert [r.header.id for r in drain(client)] == [8]
    assert [(q.name, q.rcode) for q in server.queries] == [(NAME, "drop"), ("b.test", "NOERROR")]


def test_a_tcp_query_is_answered_once_idle(server: faultdns.FaultDNSServer) -> None:
    with socket.create_connection(server.address, timeout=5) as conn:
        wire = _with_id(NAME, 9, "A")
        conn.sendall(struct.pack("!H", len(wire)) + wire)
        server.wait_idle()
        assert select.select([conn], [], [], 0)[0], "reply not there after wait_idle()"
        conn.settimeout(5)
        (length,) = struct.unpack("!H", conn.recv(2))
        reply = dnslib.DNSRecord.parse(conn.recv(length))
    assert reply.header.id == 9 and str(reply.rr[0].rdata) == "10.0.0.1"


def test_a_stopped_server_is_idle() -> None:
    dns = faultdns.FaultDNSServer(
        records=[f"{NAME}=10.0.0.1"], clock=faultdns.MonotonicClock()
    ).start()
    dns.stop()
    assert dns.idle()
    dns.wait_idle(timeout=0.1)


def test_wait_idle_refuses_to_block_its_own_loop() -> None:
    async def inside() -> None:
        async with faultdns.FaultDNSServer(
            records=[f"{NAME}=10.0.0.1"], clock=faultdns.MonotonicClock()
        ) as dns:
            assert dns.idle()
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.sendto(_with_id(NAME, 1, "A"), dns.address)
                assert not dns.idle()  # queued, and only this loop can handle it
                with pytest.raises(RuntimeError, match="own event loop"):
                    dns.wait_idle(timeout=0.1)
                for _ in range(100):
                    await asyncio.sleep(0)
                    if dns.idle():
                        break
                assert dns.idle()
            finally:
                sock.close()

    asyncio.run(inside())


def test_client_text_names_a_socket_as_the_query_log_does(
    server: faultdns.FaultDNSServer, client: socket.socket
) -> None:
    """``faultdns.testing.client_text`` of a client socket's own name is the
    ``QueryRecord.client`` of its queries (batched or not): the one rule the
    simulation's peers key their client sockets by (issue 12)."""
    client.send(_with_id(NAME, 9, "A"))
    server.wait_idle()
    assert [q.client for q in server.queries] == [client_text(client.getsockname())]
    assert client_text(("::1", 53, 0, 0)) == "[::1]:53"  # bracketed, as Go prints it

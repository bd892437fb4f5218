"""The recvmmsg/sendmmsg layer on its own (faultdns._batchio), over loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from faultdns import _batchio

pytestmark = pytest.mark.skipif(not _batchio.available(), reason="needs Linux recvmmsg")


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.setblocking(False)
    client.bind(("127.0.0.1", 0))
    client.settimeout(2)
    with server, client:
        yield server, client


def test_receive_then_reply_to_each_sender(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    bio = _batchio.BatchIO(server, batch=4, slot=64)
    assert bio.receive() == 0  # nothing waiting: no blocking, no error
    messages = [b"\x00\x01first", b"\x00\x02second", b"\x00\x03third"]
    for message in messages:
        client.sendto(message, server.getsockname())
    count = bio.receive()
    assert count == 3
    lengths = [length for (length,) in bio.lengths(count)]
    assert lengths == [len(m) for m in messages]
    assert [bio.data(i, n) for i, n in enumerate(lengths)] == messages
    assert _batchio.sockaddr_to_tuple(bio.sender(1)) == client.getsockname()
    # Reply to 0 and 2 only: each reply is the query's own ID + our bytes.
    pack_into, view, first, step = bio.reply_layout
    tails = [b"-zero", b"-two"]
    for i, tail in zip((0, 2), tails, strict=True):
        pack_into(view, first + i * step, _batchio.buffer_address(tail), len(tail))
    bio.send(0, 1)
    bio.send(2, 3)
    assert [client.recv(100) for _ in range(2)] == [b"\x00\x01-zero", b"\x00\x03-two"]


def test_more_datagrams_than_slots_wait_for_the_next_call(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    bio = _batchio.BatchIO(server, batch=2, slot=16)
    for n in range(5):
        client.sendto(bytes([n]) * 40, server.getsockname())  # longer than a slot
    assert bio.receive() == 2
    # Cut to the slot size: the server then answers FORMERR or drops, never overflows.
    assert [length for (length,) in bio.lengths(2)] == [16, 16]
    assert bio.data(1, 16) == b"\x01" * 16
    assert [bio.receive() for _ in range(3)] == [2, 1, 0]


def test_ipv6_sender() -> None:
    try:
        server = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        server.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    with server, socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as client:
        server.setblocking(False)
        client.bind(("::1", 0))
        bio = _batchio.BatchIO(server, batch=2)
        client.sendto(b"\x00\x09hello", server.getsockname()[:2])
        assert bio.receive() == 1
        assert _batchio.sockaddr_to_tuple(bio.sender(0)) == client.getsockname()[:2]

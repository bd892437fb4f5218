"""Nothing a client sends may crash or wedge the server (hypothesis-generated input).

After every generated datagram or TCP stream the server must still answer a proper
query, and its internal error counter must stay at zero: malformed input is answered
with FORMERR (when a header can be read) or dropped, never an exception.
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator

import dns.message
import dns.query
import pytest
from dnslib import QTYPE, DNSLabel, DNSQuestion, DNSRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultdns import FaultDNSServer, MonotonicClock

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
_ids = itertools.count(1)


@pytest.fixture(scope="module", params=[True, False], ids=["batch-io", "recvfrom"])
def server(request: pytest.FixtureRequest) -> Iterator[FaultDNSServer]:
    with FaultDNSServer(
        batch_io=request.param,
        records=["a.test=10.0.0.1", "*.w.test TXT hi", "c.test CNAME a.test"],
        origins=["test"],
        faults=["truncate match=t.test", "servfail match=s.test p=0.5", "delay=1ms match=d.test"],
        tcp_idle_timeout=2.0,
        log_size=100,
        cache_size=64,
        clock=MonotonicClock(),
    ) as dns_server:
        yield dns_server


@pytest.fixture(scope="module")
def udp(server: FaultDNSServer) -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.connect(server.address)
        yield sock


def probe_udp(sock: socket.socket) -> None:
    """Ask a proper question and wait for its answer, skipping replies to earlier junk."""
    query = dns.message.make_query("a.test", "A")
    query.id = next(_ids) % 65536
    sock.send(query.to_wire())
    while True:
        data = sock.recv(65535)
        if data[:2] == query.id.to_bytes(2, "big") and len(data) > 12:
            reply = dns.message.from_wire(data)
            if reply.question and reply.question[0].name.to_text() == "a.test.":
                assert [rd.to_text() for rrset in reply.answer for rd in rrset] == ["10.0.0.1"]
                return


def probe_tcp(server: FaultDNSServer) -> None:
    host, port = server.address
    reply = dns.query.tcp(dns.message.make_query("a.test", "A"), host, port=port, timeout=3)
    assert [rd.to_text() for rrset in reply.answer for rd in rrset] == ["10.0.0.1"]


def _valid_query() -> bytes:
    return bytes(DNSRecord.question("a.test", "A").pack())


@SETTINGS
@given(st.binary(max_size=700))
def test_garbage_datagrams(server: FaultDNSServer, udp: socket.socket, data: bytes) -> None:
    udp.send(data)
    probe_udp(udp)
    assert server.stats()["errors"] == 0


@SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=8),
    st.integers(0, 64),
    st.binary(max_size=40),
)
def test_mutated_queries(
    server: FaultDNSServer,
    udp: socket.socket,
    flips: list[tuple[int, int]],
    cut: int,
    tail: bytes,
) -> None:
    """Valid queries with bytes changed, cut short or extended: deep parser paths."""
    base = bytearray(dns.message.make_query("x.w.test", "TXT", use_edns=0, payload=4096).to_wire())
    for index, value in flips:
        if index < len(base):
            base[index] = value
    data = bytes(base[: len(base) - cut]) + tail
    udp.send(data)
    probe_udp(udp)
    assert server.stats()["errors"] == 0


names = st.one_of(
    st.lists(st.binary(min_size=1, max_size=20), min_size=0, max_size=5),
    # names the fixture's rules and records are about: fault paths, CNAME, wildcard
    st.sampled_from([[b"t", b"test"], [b"S", b"test"], [b"d", b"test"], [b"c", b"TEST"]]),
    st.sampled_from([[b"x", b"w", b"test"], [b"a", b"test"]]),
)


@SETTINGS
@given(names, st.integers(0, 65535), st.sampled_from([1, 3, 255, 254, 4]), st.booleans())
def test_well_formed_queries_for_any_name_are_answered(
    server: FaultDNSServer,
    udp: socket.socket,
    labels: list[bytes],
    qtype: int,
    qclass: int,
    rd: bool,
) -> None:
    record = DNSRecord(q=DNSQuestion(DNSLabel(labels), qtype, qclass))
    record.header.id = next(_ids) % 65536
    record.header.rd = int(rd)
    udp.send(record.pack())
    deadline = time.monotonic() + 3
    while True:
        data = udp.recv(65535)
        if data[:2] == record.header.id.to_bytes(2, "big"):
            break
        assert time.monotonic() < deadline
    reply = DNSRecord.parse(data)
    assert reply.header.qr == 1 and reply.header.rd == int(rd)
    try:
        for label in labels:
            label.decode()
    except UnicodeDecodeError:
        # dnslib only parses UTF-8 labels: the rest get FORMERR (header only).
        assert (reply.header.rcode, reply.questions) == (1, [])
        return
    # The question comes back byte for byte (labels, type, class).
    assert reply.q.qname.label == tuple(labels)
    assert (reply.q.qtype, reply.q.qclass) == (qtype, qclass)
    assert server.stats()["errors"] == 0


@SETTINGS
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=300).map(lambda b: len(b).to_bytes(2, "big") + b),  # framed junk
            st.just(len(_valid_query()).to_bytes(2, "big") + _valid_query()),
            st.binary(max_size=64),  # unframed junk, may leave a frame half-read
        ),
        max_size=6,
    ),
    st.booleans(),
)
def test_garbage_tcp_streams(server: FaultDNSServer, chunks: list[bytes], reset: bool) -> None:
    with socket.create_connection(server.address, timeout=3) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
        if reset:  # slam the door: RST instead of FIN
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    probe_tcp(server)
    assert server.stats()["errors"] == 0


def test_memory_stays_bounded(server: FaultDNSServer, udp: socket.socket) -> None:
    # Many distinct questions: the cache and the log keep to their sizes.
    for i in range(300):
        udp.send(DNSRecord.question(f"n{i}.test", QTYPE[1]).pack())
        if i % 50 == 49:
            probe_udp(udp)  # read the replies so far: our receive buffer is finite
    stats = server.stats()
    assert stats["cache_entries"] <= 64
    assert stats["log_records"] <= 100
    assert stats["errors"] == 0


def test_tcp_client_that_never_reads_does_not_wedge_the_server(
    server: FaultDNSServer, udp: socket.socket
) -> None:
    """Replies pile up for a client that only writes: the server stops reading it
    (back-pressure) and keeps serving everyone else."""
    frame = len(_valid_query()).to_bytes(2, "big") + _valid_query()
    with socket.create_connection(server.address, timeout=3) as hog:
        hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hog.setblocking(False)
        sent = 0
        try:
            for _ in range(200_000):  # until the kernel buffers are full both ways
                sent += hog.send(frame * 64)
        except BlockingIOError:
            pass
        assert sent > 0
        probe_udp(udp)
        probe_tcp(server)
    probe_tcp(server)
    assert server.stats()["errors"] == 0

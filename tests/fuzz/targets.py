"""Fuzz targets for faultdns: each takes one input (bytes) and raises on a bug.

Used by ``tests/fuzz/run.py`` (atheris, coverage-guided), by ``test_fuzz.py`` (which
replays the corpus in ``tests/fuzz/corpus/TARGET/`` on every run and fuzzes each
target for a bounded time when atheris is installed) and by ``bench/fuzz_bench.py``
(longer runs).  A target fails by raising anything but the errors its input may
legitimately cause; "no crash" is the assertion, and libFuzzer's ``-timeout`` and
``-rss_limit_mb`` check "no hang" and "bounded memory".

* ``wire``: the server's request path as pure functions: decode a datagram, answer it
  from the zone and under every fault action, and check each reply parses, carries the
  query's ID and fits UDP (the client's limit) and TCP (65,535 bytes).
* ``server``: a live FaultDNSServer: the input goes out as a UDP datagram and as a TCP
  stream cut into chunks; the server must log no internal error and keep answering.
* ``control``: the control API's request parsing: the input is a raw HTTP request
  handled in process; the reply is nothing or a JSON error/result, never a 500.
* ``specs``: the fault-spec, record and plan parsers: an input either raises their
  documented error or gives a rule whose canonical spec parses back to it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from typing import Any

import dnslib

from faultdns import (
    FaultDNSServer,
    FaultRule,
    FaultSpecError,
    MonotonicClock,
    Zone,
    ZoneError,
    parse_fault,
    parse_plan,
)
from faultdns._control import _Handler, _HTTPServer
from faultdns._wire import (
    MAX_TCP_MESSAGE,
    WireError,
    decode,
    fault_reply,
    fit_tcp,
    fit_udp,
    zone_reply,
)
from tests.fuzz import cleanup_targets

RECORDS = [
    "a.test=10.0.0.1",
    "a.test=::1",
    "t.test TXT " + "x" * 300,
    "c.test CNAME a.test",
    "loop1.test CNAME loop2.test",
    "loop2.test CNAME loop1.test",
    "*.w.test TXT wild",
    "f.*.e.test=10.0.0.6",
    "_srv._tcp.test SRV 0 0 80 a.test",
    "big.test TXT " + "b" * 40_000,
    "big.test TXT " + "c" * 40_000,
]
ORIGINS = ["test"]
RULES = [
    parse_fault(spec)
    for spec in (
        "nxdomain",
        "nodata",
        "servfail",
        "refused",
        "answer=192.0.2.1",
        "answer=2001:db8::1",
        "truncate",
        "truncate=20",
        "lame",
        "rcode=BADCOOKIE",
        "rcode=NOTAUTH",
    )
]


def _zone() -> Zone:
    return Zone(RECORDS, origins=ORIGINS)


_ZONE = _zone()


def _check_reply(reply: bytes, query: bytes, limit: int) -> None:
    assert len(reply) <= limit, (len(reply), limit)
    assert reply[:2] == query[:2], "reply ID differs from the query's"
    assert reply[2] & 0x80, "QR clear in a reply"
    dnslib.DNSRecord.parse(reply)


def wire(data: bytes) -> None:
    """Decode and answer ``data`` as the cold path does; check every reply."""
    try:
        query = decode(data)
    except WireError as exc:
        if exc.reply is not None:
            _check_reply(exc.reply, data, MAX_TCP_MESSAGE)
        return
    resolution = _ZONE.resolve(query.key, query.qtype, query.record.q.qname)
    full = fit_tcp(query, resolution, zone_reply(query, resolution))
    _check_reply(full, data, MAX_TCP_MESSAGE)
    _check_reply(fit_udp(query, full), data, query.udp_limit)
    for rule in RULES:
        if not rule.matches(query.key, query.qtype_name, "udp"):
            continue  # as the server: e.g. answer=IPv4 only for A questions
        udp, tcp, _ = fault_reply(query, rule, _ZONE)
        if rule.truncate is not None:  # a middlebox's cut: deliberately not parseable
            assert len(udp) <= rule.truncate and udp[:2] == data[:2]
            continue
        _check_reply(udp, data, query.udp_limit)
        _check_reply(tcp, data, MAX_TCP_MESSAGE)


class _Live:
    """One FaultDNSServer for the whole fuzzing process, started on first use."""

    server: FaultDNSServer | None = None
    runs = 0

    @classmethod
    def get(cls) -> FaultDNSServer:
        if cls.server is None:
            cls.server = FaultDNSServer(
                _zone(),
                faults=["servfail match=s.test p=0.5", "delay=1ms match=d.test"],
                tcp_idle_timeout=1.0,
                log_size=100,
                cache_size=256,
                clock=MonotonicClock(),
            ).start()
        return cls.server


def _probe(server: FaultDNSServer) -> None:
    query = dnslib.DNSRecord.question("a.test", "A")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(bytes(query.pack()), server.address)
        while True:
            reply = dnslib.DNSRecord.parse(sock.recv(65535))
            if reply.header.id == query.header.id:
                assert [str(rr.rdata) for rr in reply.rr] == ["10.0.0.1"]
                return


def server(data: bytes) -> None:
    """``data`` as a datagram and as a TCP stream to a live server."""
    live = _Live.get()
    address = live.address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(data[:65507], address)
    # The first byte says where to cut the stream: frames may arrive split anywhere.
    cut = data[0] if data else 0
    with socket.create_connection(address, timeout=5) as tcp:
        tcp.setblocking(False)
        for chunk in (data[1 : 1 + cut], data[1 + cut :]):
            try:
                tcp.send(chunk)
            except (BlockingIOError, OSError):
                break
    live.wait_idle(timeout=30)
    assert live.stats()["errors"] == 0, "the server counted an internal error"
    _Live.runs += 1
    if _Live.runs % 200 == 0:
        _probe(live)


class _Control:
    httpd: _HTTPServer | None = None
    runs = 0


def _httpd() -> _HTTPServer:
    if _Control.httpd is None:
        # Bound but never serving: each input is handled in this thread.
        _Control.httpd = _HTTPServer(("127.0.0.1", 0), _Live.get(), None, frozenset())
    return _Control.httpd


def control(data: bytes) -> None:
    """``data`` as one raw HTTP request to the control API, handled in process."""
    httpd = _httpd()
    ours, theirs = socket.socketpair()
    received: list[bytes] = []
    with ours, theirs:
        theirs.settimeout(30)
        writer = threading.Thread(target=_send_all, args=(theirs, data))
        reader = threading.Thread(target=_receive_all, args=(theirs, received))
        writer.start()
        reader.start()
        _Handler(ours, ("127.0.0.1", 1), httpd)
        ours.shutdown(socket.SHUT_WR)
        writer.join()
        reader.join()
    _check_http(b"".join(received))
    _Control.runs += 1
    if _Control.runs % 500 == 0:  # changes accumulate: start over now and then
        live = _Live.get()
        live.reset()
        live.zone = _zone()


def _send_all(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the handler closed early (headers too large)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)


def _receive_all(sock: socket.socket, into: list[bytes]) -> None:
    while chunk := sock.recv(65536):
        into.append(chunk)


def _check_http(reply: bytes) -> None:
    if not reply:
        return  # closed without a request (empty input, or no request line)
    head, sep, body = reply.partition(b"\r\n\r\n")
    assert sep, f"no end of headers in {reply[:200]!r}"
    status_line = head.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.0 "), status_line
    status = int(status_line.split()[1])
    assert status != 500, body
    if body:
        payload = json.loads(body)
        if status >= 400:
            assert isinstance(payload, dict) and isinstance(payload.get("error"), str)


def specs(data: bytes) -> None:
    """The fault-spec, record and plan parsers on ``data`` (as UTF-8 text)."""
    text = data.decode("utf-8", "replace")
    try:
        rule = parse_fault(text)
    except ValueError:  # FaultSpecError, or a ValueError it documents
        pass
    else:
        again = parse_fault(rule.spec)
        assert again == rule and again.spec == rule.spec, (text, rule.spec)
        assert FaultRule.from_dict(rule.to_dict()) == rule
    with contextlib.suppress(ZoneError):
        Zone().add(text)
    try:
        rules = parse_plan(text)
    except FaultSpecError:
        pass
    else:
        for rule in rules:
            assert parse_fault(rule.spec) == rule


TARGETS: dict[str, Callable[[bytes], None]] = {
    "wire": wire,
    "server": server,
    "control": control,
    "specs": specs,
}
# cleanup's parsers (issue 9): image_list, resolv_conf, policy
TARGETS.update(cleanup_targets.TARGETS)


def stop() -> None:
    """Stop what the targets started (for replay in one process)."""
    if _Control.httpd is not None:
        _Control.httpd.server_close()
        _Control.httpd = None
    if _Live.server is not None:
        _Live.server.stop()
        _Live.server = None


def describe() -> dict[str, Any]:
    return {name: (fn.__doc__ or "").strip().splitlines()[0] for name, fn in TARGETS.items()}

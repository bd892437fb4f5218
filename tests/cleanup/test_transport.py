"""The httpx client that resolves through our resolver and waits on our clock.

Real sockets on loopback: faultdns for names, a stdlib HTTP server for content.
Timeouts are charged to the manual clock, never slept.
"""

from __future__ import annotations

import gzip
import http.server
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cleanup import (
    ConnectError,
    DialDNSError,
    DNSError,
    ProtocolError,
    RequestTimeout,
    retriable_v14,
    retriable_v15,
)
from cleanup._classify import error_kind, to_error
from cleanup._http_errors import go_response_head_error
from cleanup._resolver import QueryEvent, StubResolver
from cleanup._transport import make_http_client
from cleanup.testing import FastForwardClock
from tests.cleanup.conftest import ListServer, Route, closed_port
from tests.tools import require_tool

NAME = "repo.harvester-system.svc.cluster.local"
# Go's texts (net/http/client.go) for a Client.Timeout before / after the headers
AWAITING_HEADERS = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
BODY_TIMEOUT = (
    "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
)


def nameserver(server: object) -> str:
    host, port = server.address  # type: ignore[attr-defined]
    return f"{host}:{port}"


def resolver_for(
    dns: object, clock: FastForwardClock, events: list[QueryEvent] | None = None
) -> StubResolver:
    return StubResolver(
        [nameserver(dns)],
        clock=clock,
        on_query=events.append if events is not None else None,
    )


def test_get_by_name_keeps_the_name_in_host_and_pools_connections(
    faultdns_factory: object, list_server: ListServer, clock: FastForwardClock
) -> None:
    dns = faultdns_factory(records=[f"{NAME}=127.0.0.1"])  # type: ignore[operator]
    list_server.routes["/a"] = Route(body=b"first\n")
    list_server.routes["/b"] = Route(body=b"second\n")
    with make_http_client(resolver_for(dns, clock), clock=clock) as client:
        first = client.get(list_server.url(NAME, "/a"))
        second = client.get(list_server.url(NAME, "/b"))
    assert (first.status_code, first.text, second.text) == (200, "first\n", "second\n")
    assert [r.host for r in list_server.requests] == [f"{NAME}:{list_server.port}"] * 2
    # one connection (same client port) and one lookup (A + AAAA) for both requests
    assert len({r.client_port for r in list_server.requests}) == 1
    assert [(q.name, q.qtype) for q in dns.queries] == [(NAME, "A"), (NAME, "AAAA")]


def test_dns_not_found_reads_as_go_and_keeps_the_dns_error(
    faultdns_factory: object, list_server: ListServer, clock: FastForwardClock
) -> None:
    dns = faultdns_factory(records=[f"{NAME}=127.0.0.1"], faults=["nxdomain"])  # type: ignore[operator]
    url = list_server.url(NAME, "/a")
    with (
        make_http_client(resolver_for(dns, clock), clock=clock) as client,
        pytest.raises(httpx.ConnectError) as info,
    ):
        client.get(url)
    cause = info.value.__cause__
    # Go: url.Error{OpError{"dial", "tcp", *net.DNSError}}; errors.As finds the DNSError
    assert isinstance(cause, DialDNSError) and isinstance(cause, DNSError)
    assert cause.is_not_found and not cause.is_timeout and not cause.is_temporary
    lookup = f"lookup {NAME} on {nameserver(dns)}: no such host"
    assert str(cause) == f'Get "{url}": dial tcp: {lookup}'
    assert isinstance(cause.__cause__, DNSError) and str(cause.__cause__) == lookup
    assert to_error(info.value, url=url) is cause
    assert (retriable_v14(cause), retriable_v15(cause)) == (False, True)
    assert list_server.requests == []


def test_dns_silence_cut_by_the_client_timeout_is_a_client_timeout(
    faultdns_factory: object, list_server: ListServer, quick_clock: FastForwardClock
) -> None:
    """Go checks its deadline after the failure (``didTimeout``): a lookup the client's
    timeout cuts short is a Client.Timeout (os.IsTimeout), not a DNSError."""
    dns = faultdns_factory(faults=["drop"])  # type: ignore[operator]
    resolver = StubResolver([nameserver(dns)], clock=quick_clock, timeout=5, attempts=2)
    url = list_server.url(NAME, "/a")
    with (
        make_http_client(resolver, clock=quick_clock, timeout=7) as client,
        pytest.raises(httpx.ConnectTimeout) as info,
    ):
        client.get(url)
    cause = info.value.__cause__
    assert isinstance(cause, RequestTimeout) and cause.phase == "lookup"
    assert str(cause) == f'Get "{url}": {AWAITING_HEADERS}'
    assert quick_clock.now() == 7.0  # not the resolver's own 2 x 5 s
    assert error_kind(to_error(info.value)) == "timeout"
    assert retriable_v14(cause) and retriable_v15(cause)


def test_dns_timeout_before_the_client_timeout_stays_a_dns_error(
    faultdns_factory: object, list_server: ListServer, quick_clock: FastForwardClock
) -> None:
    dns = faultdns_factory(faults=["drop"])  # type: ignore[operator]
    resolver = StubResolver([nameserver(dns)], clock=quick_clock, timeout=1, attempts=2)
    url = list_server.url(NAME, "/a")
    with (
        make_http_client(resolver, clock=quick_clock, timeout=30) as client,
        pytest.raises(httpx.ConnectError) as info,
    ):
        client.get(url)
    cause = info.value.__cause__
    assert isinstance(cause, DialDNSError) and cause.is_timeout
    assert str(cause).startswith(f'Get "{url}": dial tcp: lookup {NAME} on {nameserver(dns)}: ')
    assert quick_clock.now() < 30.0
    assert error_kind(to_error(info.value)) == "dns timeout"


def test_connection_refused_reads_as_go(clock: FastForwardClock) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/list"
    with (
        make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client,
        pytest.raises(httpx.ConnectError) as info,
    ):
        client.get(url)
    cause = info.value.__cause__
    assert isinstance(cause, ConnectError)
    assert (cause.reason, cause.op, cause.url, cause.address) == (
        "refused",
        "dial",
        url,
        f"127.0.0.1:{port}",
    )
    assert isinstance(cause.__cause__, ConnectionRefusedError)
    assert str(cause) == f'Get "{url}": dial tcp 127.0.0.1:{port}: connect: connection refused'
    assert error_kind(to_error(info.value)) == "connection refused"
    assert clock.now() == 0.0


def test_next_address_is_dialled_when_the_first_refuses(
    faultdns_factory: object, list_server: ListServer, clock: FastForwardClock
) -> None:
    # 127.0.0.2 has nothing on the port (the server binds 127.0.0.1 only)
    dns = faultdns_factory(records=[f"{NAME}=127.0.0.2", f"{NAME}=127.0.0.1"])  # type: ignore[operator]
    list_server.routes["/a"] = Route(body=b"ok")
    with make_http_client(resolver_for(dns, clock), clock=clock) as client:
        assert client.get(list_server.url(NAME, "/a")).text == "ok"


def test_server_that_never_answers_is_a_client_timeout_on_the_clock(
    faultdns_factory: object, list_server: ListServer, quick_clock: FastForwardClock
) -> None:
    dns = faultdns_factory(records=[f"{NAME}=127.0.0.1"])  # type: ignore[operator]
    list_server.routes["/hang"] = Route(hang=True)
    url = list_server.url(NAME, "/hang")
    with (
        make_http_client(resolver_for(dns, quick_clock), clock=quick_clock, timeout=30) as client,
        pytest.raises(httpx.ReadTimeout) as info,
    ):
        client.get(url)
    cause = info.value.__cause__
    assert isinstance(cause, RequestTimeout)
    assert (cause.url, cause.phase, cause.timeout) == (url, "headers", 30.0)
    assert str(cause) == f'Get "{url}": {AWAITING_HEADERS}'
    assert quick_clock.now() == 30.0
    assert error_kind(to_error(info.value)) == "timeout"


# -- one deadline for the whole request (issue 8, deviation 7) -------------------------------


class SlowResolver:
    """Answers after ``delay`` seconds of the clock, or times out at its ``timeout`` as
    a real resolver does; records the budget it was given."""

    def __init__(self, clock: FastForwardClock, delay: float, addresses: list[str]) -> None:
        self.clock = clock
        self.delay = delay
        self.addresses = addresses
        self.timeouts: list[float | None] = []

    def resolve(self, host: str, *, timeout: float | None = None) -> list[str]:
        self.timeouts.append(timeout)
        if timeout is not None and timeout < self.delay:
            self.clock.advance(timeout)
            raise DNSError(host, "i/o timeout", is_timeout=True, is_temporary=True)
        self.clock.advance(self.delay)
        return list(self.addresses)


class PacedClock(FastForwardClock):
    """Virtual time where the peer's next bytes arrive ``pace`` seconds after a read
    starts waiting for them (a server dribbling its reply), whatever real time says."""

    def __init__(self, pace: float) -> None:
        super().__init__(grace=2.0)
        self.pace = pace

    def wait_readable(self, sock: socket.socket, timeout: float | None) -> bool:
        if timeout is not None and timeout < self.pace:
            self.advance(timeout)
            return False
        if not super().wait_readable(sock, None if timeout is None else timeout):
            return False
        self.advance(self.pace)
        return True


def dribble(data: bytes) -> Callable[[http.server.BaseHTTPRequestHandler], None]:
    """A route that writes ``data`` one byte at a time until the client goes away."""

    def write(handler: http.server.BaseHTTPRequestHandler) -> None:
        try:
            for byte in data:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.01)
        except OSError:
            pass

    return write


def test_issue8_dns_delay_and_silent_server_share_one_deadline(
    list_server: ListServer, quick_clock: FastForwardClock
) -> None:
    """Timeout 1 s, DNS answers after 0.8 s, the server never answers: Go fails after
    1.0 s (one deadline), not 1.8 s (a fresh 1 s after the lookup)."""
    list_server.routes["/hang"] = Route(hang=True)
    resolver = SlowResolver(quick_clock, 0.8, ["127.0.0.1"])
    url = list_server.url(NAME, "/hang")
    with (
        make_http_client(resolver, clock=quick_clock, timeout=1) as client,
        pytest.raises(httpx.ReadTimeout) as info,
    ):
        client.get(url)
    assert quick_clock.now() == pytest.approx(1.0)
    assert resolver.timeouts == [1.0]  # the lookup gets the whole budget, no more
    cause = info.value.__cause__
    assert isinstance(cause, RequestTimeout) and cause.phase == "headers"
    assert str(cause) == f'Get "{url}": {AWAITING_HEADERS}'


def test_issue8_headers_dribbled_fail_at_the_deadline_not_per_byte(
    list_server: ListServer,
) -> None:
    """Headers one byte per 0.5 s, timeout 3 s: Go fails after 3 s (the old per-phase
    read timeout restarted with every byte and took 31 s)."""
    head = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 60 + b"\r\nContent-Length: 0\r\n\r\n"
    list_server.routes["/slow"] = Route(custom=dribble(head))
    clock = PacedClock(0.5)
    url = list_server.url("127.0.0.1", "/slow")
    with (
        make_http_client(
            StubResolver(["127.0.0.1:1"], clock=clock), clock=clock, timeout=3
        ) as client,
        pytest.raises(httpx.ReadTimeout) as info,
    ):
        client.get(url)
    assert clock.now() == 3.0
    cause = info.value.__cause__
    assert isinstance(cause, RequestTimeout) and cause.phase == "headers"
    assert str(cause) == f'Get "{url}": {AWAITING_HEADERS}'


def test_body_dribbled_past_the_deadline_is_go_s_body_timeout(list_server: ListServer) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.wfile.write(head)
        dribble(b"a\n" * 50)(handler)

    list_server.routes["/slow"] = Route(custom=respond)
    clock = PacedClock(0.5)
    url = list_server.url("127.0.0.1", "/slow")
    with (
        make_http_client(
            StubResolver(["127.0.0.1:1"], clock=clock), clock=clock, timeout=3
        ) as client,
        client.stream("GET", url) as response,
        pytest.raises(httpx.ReadTimeout) as info,
    ):
        response.read()
    assert clock.now() == 3.0
    cause = info.value.__cause__
    assert isinstance(cause, RequestTimeout) and cause.phase == "body"
    # Go returns the body's error unwrapped: no 'Get "URL":'
    assert str(cause) == BODY_TIMEOUT
    assert retriable_v14(cause) and retriable_v15(cause)  # os.IsTimeout


@pytest.fixture
def full_listener() -> Iterator[int]:
    """A port whose accept queue is full: a new connection's SYN is never answered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=5)
    yield port
    filler.close()
    listener.close()


def test_connect_that_hangs_is_a_connect_timeout_on_the_clock(
    full_listener: int, quick_clock: FastForwardClock
) -> None:
    url = f"http://127.0.0.1:{full_listener}/"
    resolver = StubResolver(["127.0.0.1:1"], clock=quick_clock)
    with (
        make_http_client(resolver, clock=quick_clock, timeout=4) as client,
        pytest.raises(httpx.ConnectTimeout) as info,
    ):
        client.get(url)
    cause = info.value.__cause__
    assert isinstance(cause, RequestTimeout) and cause.phase == "connect"
    assert str(cause) == f'Get "{url}": {AWAITING_HEADERS}'  # Go names no phase
    assert quick_clock.now() == 4.0


def test_the_dialer_s_own_timeout_is_go_s_dial_i_o_timeout(
    full_listener: int, quick_clock: FastForwardClock
) -> None:
    """http.DefaultTransport's Dialer has its own Timeout (30 s); when it ends the dial
    before the client's deadline Go says ``dial tcp ADDR: i/o timeout``, a timeout
    (os.IsTimeout) but not the Client.Timeout."""
    url = f"http://127.0.0.1:{full_listener}/"
    resolver = StubResolver(["127.0.0.1:1"], clock=quick_clock)
    with (
        make_http_client(resolver, clock=quick_clock, timeout=60, dial_timeout=2) as client,
        pytest.raises(httpx.ConnectTimeout) as info,
    ):
        client.get(url)
    cause = info.value.__cause__
    assert isinstance(cause, RequestTimeout) and cause.phase == "connect"
    assert str(cause) == f'Get "{url}": dial tcp 127.0.0.1:{full_listener}: i/o timeout'
    assert quick_clock.now() == 2.0
    assert retriable_v14(cause) and retriable_v15(cause)


class FixedResolver:
    """Answers ``addresses`` at once (a name with several A records)."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    def resolve(self, host: str, *, timeout: float | None = None) -> list[str]:
        return list(self.addresses)


@pytest.fixture
def second_address(full_listener: int) -> Iterator[tuple[int, ListServer]]:
    """``full_listener``'s port on 127.0.0.2 with a list server behind it: a name whose
    first address (127.0.0.1) never answers a SYN and whose second does."""
    server = ListServer(host="127.0.0.2", port=full_listener)
    server.routes["/x"] = Route(body=b"second")
    try:
        yield full_listener, server
    finally:
        server.close()


@pytest.mark.parametrize("timeout", [3.0, 4.5, 6.0])
def test_review_1_silent_first_address_second_answers_is_client_timeout(
    second_address: tuple[int, ListServer], quick_clock: FastForwardClock, timeout: float
) -> None:
    """Review finding 1: Go 1.23.9 dials detached from the request (transport.go
    getConn, context.WithoutCancel), so the silent first address gets half the dialer's
    30 s (partialDeadline), not half the request's; the request ends at Client.Timeout
    before the second address is tried (Go: 3.0 s, not a 200 at 2 s)."""
    port, server = second_address
    url = f"http://repo.test:{port}/x"
    resolver = FixedResolver(["127.0.0.1", "127.0.0.2"])
    with (
        make_http_client(resolver, clock=quick_clock, timeout=timeout) as client,
        pytest.raises(httpx.ConnectTimeout) as info,
    ):
        client.get(url)
    cause = info.value.__cause__
    assert isinstance(cause, RequestTimeout)
    assert str(cause) == f'Get "{url}": {AWAITING_HEADERS}'
    assert quick_clock.now() == timeout
    assert retriable_v14(cause) and retriable_v15(cause)
    assert server.requests == []


def test_review_1_silent_first_address_second_refuses_is_client_timeout(
    full_listener: int, quick_clock: FastForwardClock
) -> None:
    """Review finding 1, second example: the refusing second address is never reached
    within a 3 s Client.Timeout (ours said ``dial tcp ...: i/o timeout`` at 2 s)."""
    url = f"http://repo.test:{full_listener}/x"
    resolver = FixedResolver(["127.0.0.1", "127.0.0.3"])
    with (
        make_http_client(resolver, clock=quick_clock, timeout=3) as client,
        pytest.raises(httpx.ConnectTimeout) as info,
    ):
        client.get(url)
    cause = info.value.__cause__
    assert isinstance(cause, RequestTimeout)
    assert str(cause) == f'Get "{url}": {AWAITING_HEADERS}'
    assert quick_clock.now() == 3.0


def test_each_address_gets_a_share_of_the_dialer_s_30_s(
    second_address: tuple[int, ListServer], quick_clock: FastForwardClock
) -> None:
    """Under a 60 s Client.Timeout, the silent first address gets its share of the
    dialer's own 30 s (15 s of 2 addresses), then the second answers."""
    port, _server = second_address
    resolver = FixedResolver(["127.0.0.1", "127.0.0.2"])
    with make_http_client(resolver, clock=quick_clock, timeout=60) as client:
        assert client.get(f"http://repo.test:{port}/x").text == "second"
    assert quick_clock.now() == 15.0


def test_first_error_is_reported_when_every_address_fails_within_the_request(
    full_listener: int, quick_clock: FastForwardClock
) -> None:
    """dialSerial reports the first address's error: its i/o timeout at 15 s, although
    the second refused."""
    url = f"http://repo.test:{full_listener}/x"
    resolver = FixedResolver(["127.0.0.1", "127.0.0.3"])
    with (
        make_http_client(resolver, clock=quick_clock, timeout=60) as client,
        pytest.raises(httpx.ConnectTimeout) as info,
    ):
        client.get(url)
    cause = info.value.__cause__
    assert str(cause) == f'Get "{url}": dial tcp 127.0.0.1:{full_listener}: i/o timeout'
    assert quick_clock.now() == 15.0


def test_ip_literal_bypasses_the_resolver(list_server: ListServer, clock: FastForwardClock) -> None:
    events: list[QueryEvent] = []
    resolver = StubResolver(["127.0.0.1:1"], clock=clock, on_query=events.append)
    list_server.routes["/x"] = Route(body=b"direct")
    with make_http_client(resolver, clock=clock) as client:
        assert client.get(list_server.url("127.0.0.1", "/x")).text == "direct"
    assert events == []


def test_ipv4_mapped_literal_dials_ipv4_as_go_does(
    list_server: ListServer, clock: FastForwardClock
) -> None:
    """Go 1.23 (checked with a Go program): ``http://[::ffff:127.0.0.1]:P/`` sends no
    query, dials 127.0.0.1 and, refused, says ``dial tcp 127.0.0.1:P: connect: connection
    refused`` (an IPv4-mapped address is IPv4 to Go, RFC 4291 2.5.5.2)."""
    events: list[QueryEvent] = []
    resolver = StubResolver(["127.0.0.1:1"], clock=clock, on_query=events.append)
    list_server.routes["/x"] = Route(body=b"mapped")
    port = closed_port()
    with make_http_client(resolver, clock=clock) as client:
        assert client.get(f"http://[::ffff:127.0.0.1]:{list_server.port}/x").text == "mapped"
        url = f"http://[::FFFF:127.0.0.1]:{port}/x"
        with pytest.raises(httpx.ConnectError) as caught:
            client.get(url)
    assert events == []
    assert str(caught.value) == (
        f'Get "{url}": dial tcp 127.0.0.1:{port}: connect: connection refused'
    )


def test_proxies_from_the_environment_are_ignored(
    monkeypatch: pytest.MonkeyPatch, list_server: ListServer, clock: FastForwardClock
) -> None:
    dead_proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    list_server.routes["/x"] = Route(body=b"no proxy")
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        assert client.get(list_server.url("127.0.0.1", "/x")).text == "no proxy"


def test_connection_reset_while_reading(faultdns_factory: object, clock: FastForwardClock) -> None:
    """A server that accepts, reads the request and resets: a read error with reason reset."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()  # linger 0: RST instead of FIN

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    dns = faultdns_factory(records=[f"{NAME}=127.0.0.1"])  # type: ignore[operator]
    url = f"http://{NAME}:{port}/x"
    try:
        with (
            make_http_client(resolver_for(dns, clock), clock=clock) as client,
            pytest.raises(httpx.ReadError) as info,
        ):
            client.get(url)
    finally:
        thread.join(5)
        listener.close()
    cause = info.value.__cause__
    assert isinstance(cause, ConnectError)
    assert (cause.reason, cause.op, cause.address) == ("reset", "read", f"127.0.0.1:{port}")
    assert cause.source.startswith("127.0.0.1:")  # Go's OpError names both ends
    where = f"{cause.source}->127.0.0.1:{port}"
    assert str(cause) == f'Get "{url}": read tcp {where}: read: connection reset by peer'
    assert error_kind(to_error(info.value)) == "connection reset"
    assert retriable_v14(cause) and retriable_v15(cause)  # ECONNRESET


# -- EOF, resets in the body, redirects: Go's texts and verdicts --------------------------------


def raw(
    data: bytes, *, reset: bool = False
) -> Callable[[http.server.BaseHTTPRequestHandler], None]:
    """A route that writes ``data`` and closes (FIN, or RST with ``reset``)."""

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.wfile.write(data)
        handler.wfile.flush()
        if reset:
            time.sleep(0.05)  # let the client read what was sent first
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
            handler.connection.close()

    return respond


LINGER_0 = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # struct linger {on, 0 s}: close sends RST


def fetch(client: httpx.Client, url: str) -> bytes:
    """What the controller does: GET, then read the whole body."""
    with client.stream("GET", url) as response:
        return response.read()


def failure(client: httpx.Client, url: str) -> BaseException:
    with pytest.raises(httpx.HTTPError) as info:
        fetch(client, url)
    cause = info.value.__cause__
    assert cause is not None
    return cause


def test_close_before_the_response_is_go_s_eof_and_not_retried(
    list_server: ListServer, clock: FastForwardClock
) -> None:
    list_server.routes["/x"] = Route(custom=raw(b""))
    url = list_server.url("127.0.0.1", "/x")
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        cause = failure(client, url)
    assert isinstance(cause, ProtocolError) and str(cause) == f'Get "{url}": EOF'
    assert error_kind(cause) == "eof"
    assert not retriable_v14(cause) and not retriable_v15(cause)
    assert len(list_server.requests) == 1  # a fresh connection's failure is final


@pytest.mark.parametrize(
    ("reply", "go"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", 'malformed HTTP response "SSH-2.0-OpenSSH"'),
        (b"HTTP/1.1 abc OK\r\n\r\n", 'malformed HTTP status code "abc"'),
    ],
    ids=["not-http", "bad-code"],
)
def test_malformed_response_reads_as_go(
    list_server: ListServer, clock: FastForwardClock, reply: bytes, go: str
) -> None:
    list_server.routes["/x"] = Route(custom=raw(reply))
    url = list_server.url("127.0.0.1", "/x")
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        cause = failure(client, url)
    assert isinstance(cause, ProtocolError)
    assert str(cause) == f'Get "{url}": net/http: HTTP/1.x transport connection broken: {go}'
    assert not retriable_v14(cause) and not retriable_v15(cause)


@pytest.mark.parametrize(
    ("head", "go"),
    [  # each checked against Go 1.23's http.Client: the server sends head, then closes
        (b"", "EOF"),
        (b"HTTP/1.1 20", 'malformed HTTP status code "20"'),
        (b"HTTP/1.1 200 OK", "unexpected EOF"),
        (b"HTTP/1.1 200 OK\r\n", "unexpected EOF"),
        (b"HTTP/1.1 200 OK\r\nA: b\r\n", "unexpected EOF"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", 'malformed MIME header: missing colon: "Content-Le"'),
        (b"SSH-2.0-OpenSSH\r\n", 'malformed HTTP response "SSH-2.0-OpenSSH"'),
        (b"HTTP/1.1 abc OK\r\n", 'malformed HTTP status code "abc"'),
        (b"HTTP/x 200 OK\r\n", 'malformed HTTP version "HTTP/x"'),
        (b"HTTP/1.1 200 OK\r\nA b: c\r\n", "unexpected EOF"),  # Go takes the space
        (b"HTTP/1.1 200 OK\r\nA@b: c\r\n", "malformed MIME header line: A@b: c"),
        (b"HTTP/1.1 200 OK\r\n x: y\r\n", "malformed MIME header initial line:  x: y"),
    ],
)
def test_go_response_head_error(head: bytes, go: str) -> None:
    assert go_response_head_error(head) == go


@pytest.mark.parametrize(
    ("head", "go"),
    [
        (b"HTTP/1.1 20", 'malformed HTTP status code "20"'),
        (b"HTTP/1.1 200 OK\r\nA: b\r\n", "unexpected EOF"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", 'malformed MIME header: missing colon: "Content-Le"'),
    ],
    ids=["status-line", "headers", "header-line"],
)
def test_head_cut_short_reads_as_go(
    list_server: ListServer, clock: FastForwardClock, head: bytes, go: str
) -> None:
    list_server.routes["/x"] = Route(custom=raw(head))
    url = list_server.url("127.0.0.1", "/x")
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        cause = failure(client, url)
    assert isinstance(cause, ProtocolError)
    assert str(cause) == f'Get "{url}": net/http: HTTP/1.x transport connection broken: {go}'
    assert not retriable_v14(cause) and not retriable_v15(cause)


@pytest.mark.parametrize(
    ("reply", "go"),
    [  # each checked against Go 1.23
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello",
            'GET: net/http: HTTP/1.x transport connection broken: bad Content-Length "abc"',
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello",
            "GET: net/http: HTTP/1.x transport connection broken:"
            ' unsupported transfer encoding: "gzip"',
        ),
        (  # a body error: unwrapped, the chunked reader's words
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello",
            "invalid byte in chunk length",
        ),
    ],
    ids=["content-length", "transfer-encoding", "chunk-size"],
)
def test_framing_errors_read_as_go(
    list_server: ListServer, clock: FastForwardClock, reply: bytes, go: str
) -> None:
    list_server.routes["/x"] = Route(custom=raw(reply))
    url = list_server.url("127.0.0.1", "/x")
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        cause = failure(client, url)
    assert isinstance(cause, ProtocolError)
    assert str(cause) == go.replace("GET", f'Get "{url}"')


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\na\nb\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\na\nb\n",
    ],
    ids=["content-length", "chunked"],
)
def test_close_in_the_body_is_an_unwrapped_unexpected_eof(
    list_server: ListServer, clock: FastForwardClock, reply: bytes
) -> None:
    list_server.routes["/x"] = Route(custom=raw(reply))
    url = list_server.url("127.0.0.1", "/x")
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        cause = failure(client, url)
    # bufio.Scanner.Err() hands the controller io.ErrUnexpectedEOF as it is
    assert isinstance(cause, ProtocolError) and str(cause) == "unexpected EOF"
    assert error_kind(cause) == "unexpected eof"
    assert not retriable_v14(cause) and not retriable_v15(cause)


def test_reset_in_the_body_is_an_unwrapped_read_error(
    list_server: ListServer, clock: FastForwardClock
) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\na\nb\n"
    list_server.routes["/x"] = Route(custom=raw(reply, reset=True))
    url = list_server.url("127.0.0.1", "/x")
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        cause = failure(client, url)
    assert isinstance(cause, ConnectError) and (cause.reason, cause.op) == ("reset", "read")
    assert cause.in_body
    port = list_server.port
    assert (
        str(cause) == f"read tcp {cause.source}->127.0.0.1:{port}: read: connection reset by peer"
    )
    assert retriable_v14(cause) and retriable_v15(cause)  # ECONNRESET is in the chain


def test_a_reused_connection_closed_by_the_server_is_retried_once_on_a_fresh_one(
    list_server: ListServer, clock: FastForwardClock
) -> None:
    """Go's ``shouldRetryRequest``: a GET that fails on a reused keep-alive connection
    before any response byte is sent again; on a fresh connection the failure stands."""
    list_server.routes["/first"] = Route(body=b"one\n")
    list_server.routes["/second"] = Route(custom=raw(b""))
    url = list_server.url("127.0.0.1", "/second")
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        assert fetch(client, list_server.url("127.0.0.1", "/first")) == b"one\n"
        cause = failure(client, url)
    assert str(cause) == f'Get "{url}": EOF'
    paths = [r.path for r in list_server.requests]
    assert paths == ["/first", "/second", "/second"]
    ports = [r.client_port for r in list_server.requests]
    assert ports[0] == ports[1] != ports[2]


def redirect_chain(server: ListServer, hops: int) -> str:
    for hop in range(hops):
        server.routes[f"/r{hop}"] = Route(302, headers={"Location": f"/r{hop + 1}"})
    server.routes[f"/r{hops}"] = Route(body=b"end\n")
    return server.url("127.0.0.1", "/r0")


def test_go_follows_nine_redirects_and_stops_at_the_tenth(
    list_server: ListServer, clock: FastForwardClock
) -> None:
    """Go's defaultCheckRedirect allows 10 requests; the 10th redirect is an error that
    names the raw Location it did not follow."""
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        assert fetch(client, redirect_chain(list_server, 9)) == b"end\n"
        assert len(list_server.requests) == 10
        list_server.requests.clear()
        cause = failure(client, redirect_chain(list_server, 10))
    assert len(list_server.requests) == 10
    assert isinstance(cause, ProtocolError)
    assert str(cause) == 'Get "/r10": stopped after 10 redirects'
    assert error_kind(cause) == "too many redirects" and not retriable_v15(cause)


def test_redirect_to_another_host_is_followed_within_the_same_deadline(
    list_server: ListServer, quick_clock: FastForwardClock
) -> None:
    other = ListServer()
    try:
        other.routes["/hang"] = Route(hang=True)
        target = other.url(NAME, "/hang")
        list_server.routes["/x"] = Route(302, headers={"Location": target})
        resolver = SlowResolver(quick_clock, 0.8, ["127.0.0.1"])
        with make_http_client(resolver, clock=quick_clock, timeout=1) as client:
            cause = failure(client, list_server.url(NAME, "/x"))
    finally:
        other.close()
    # two lookups (one per host), 0.8 s each: the second already ends past the deadline
    assert resolver.timeouts == [1.0, pytest.approx(0.2)]
    assert isinstance(cause, RequestTimeout) and cause.phase == "lookup"
    assert str(cause) == f'Get "{target}": {AWAITING_HEADERS}'  # the hop that failed


# -- TLS: SNI and certificate check by name --------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, list[str | None], Path]]:
    openssl = require_tool("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={NAME}",
         "-addext", f"subjectAltName=DNS:{NAME}"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"tls host={self.headers['Host']}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], names, cert
    httpd.shutdown()
    httpd.server_close()


def test_https_sends_the_name_as_sni_and_verifies_it(
    faultdns_factory: object,
    tls_server: tuple[int, list[str | None], Path],
    clock: FastForwardClock,
) -> None:
    port, sni_names, cert = tls_server
    dns = faultdns_factory(records=[f"{NAME}=127.0.0.1"])  # type: ignore[operator]
    trust = ssl.create_default_context(cafile=str(cert))
    with make_http_client(resolver_for(dns, clock), clock=clock, verify=trust) as client:
        response = client.get(f"https://{NAME}:{port}/x")
    assert response.text == f"tls host={NAME}:{port}"
    assert sni_names == [NAME]
    # the certificate names NAME, not the address: dialling the IP literal must fail
    with (
        make_http_client(resolver_for(dns, clock), clock=clock, verify=trust) as client,
        pytest.raises(httpx.ConnectError, match=r"certificate|IP address mismatch"),
    ):
        client.get(f"https://127.0.0.1:{port}/x")


def test_default_verification_uses_the_system_s_trust_and_rejects_a_self_signed_repo(
    faultdns_factory: object,
    tls_server: tuple[int, list[str | None], Path],
    clock: FastForwardClock,
) -> None:
    """``verify=True`` (no context built up front: plain http pays nothing) still checks
    certificates when a TLS connection is made."""
    port, _, _ = tls_server
    dns = faultdns_factory(records=[f"{NAME}=127.0.0.1"])  # type: ignore[operator]
    with (
        make_http_client(resolver_for(dns, clock), clock=clock) as client,
        pytest.raises(httpx.ConnectError, match="certificate"),
    ):
        client.get(f"https://{NAME}:{port}/x")


class NoSuchHost:
    """A resolver where no name exists; records the names it was asked."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def resolve(self, host: str, *, timeout: float | None = None) -> list[str]:
        self.names.append(host)
        raise DNSError(host, "no such host", is_not_found=True)


def test_the_host_is_looked_up_and_printed_as_written(clock: FastForwardClock) -> None:
    """httpx lower-cases the host; Go keeps ``Repo.Test`` in the name it asks for (the
    resolver sends it as given) and in the URL its error prints."""
    resolver = NoSuchHost()
    url = f"http://Repo.Test:{closed_port()}/x"
    with make_http_client(resolver, clock=clock) as client:
        cause = failure(client, url)
    assert resolver.names == ["Repo.Test"]
    assert str(cause) == f'Get "{url}": dial tcp: lookup Repo.Test: no such host'


# -- review finding 7: rare failures in Go's words (texts asked of Go 1.23.9) ---------------


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://[::1", "parse \"http://[::1\": missing ']' in host"),
        ("%zz", 'parse "%zz": invalid URL escape "%zz"'),
        ("http://host:abc/", 'parse "http://host:abc/": invalid port ":abc" after host'),
    ],
    ids=["redir302-bad-location", "bad-escape", "bad-port"],
)
def test_review_7_location_that_does_not_parse_reads_as_go(
    list_server: ListServer, clock: FastForwardClock, location: str, reason: str
) -> None:
    """Go's Client.do parses Location with url.Parse; httpx took ``%zz`` and followed it,
    and said ``httpx.RemoteProtocolError`` inside a ``dial tcp`` text for the others."""
    reply = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
    list_server.routes["/x"] = Route(custom=raw(reply.encode()))
    url = list_server.url("127.0.0.1", "/x")
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        cause = failure(client, url)
    assert isinstance(cause, ProtocolError)
    go = f'Get "{url}": failed to parse Location header "{location}": {reason}'
    assert str(cause) == go
    assert error_kind(cause) == "protocol error"
    assert not retriable_v14(cause) and not retriable_v15(cause)
    assert len(list_server.requests) == 1


@pytest.mark.parametrize("scheme", ["ftp", "FTP"])
def test_review_7_redirect_to_ftp_is_go_s_unsupported_protocol_scheme(
    list_server: ListServer, clock: FastForwardClock, scheme: str
) -> None:
    """Go's Transport.roundTrip refuses the hop, named by its URL (scheme lower-cased,
    as url.Parse does); not an unexpected error, never retried."""
    reply = f"HTTP/1.1 302 Found\r\nLocation: {scheme}://127.0.0.2/x\r\nContent-Length: 0\r\n\r\n"
    list_server.routes["/x"] = Route(custom=raw(reply.encode()))
    url = list_server.url("127.0.0.1", "/x")
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        cause = failure(client, url)
    assert isinstance(cause, ProtocolError)
    assert str(cause) == 'Get "ftp://127.0.0.2/x": unsupported protocol scheme "ftp"'
    assert not retriable_v14(cause) and not retriable_v15(cause)


def test_review_7_differing_content_lengths_read_as_go(
    list_server: ListServer, clock: FastForwardClock
) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"
    list_server.routes["/x"] = Route(custom=raw(reply))
    url = list_server.url("127.0.0.1", "/x")
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        cause = failure(client, url)
    assert isinstance(cause, ProtocolError)
    assert str(cause) == (
        f'Get "{url}": net/http: HTTP/1.x transport connection broken: http: message'
        ' cannot contain multiple Content-Length headers; got ["5" "6"]'
    )
    assert not retriable_v14(cause) and not retriable_v15(cause)


def test_equal_content_lengths_are_one(list_server: ListServer, clock: FastForwardClock) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
    list_server.routes["/x"] = Route(custom=raw(reply))
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        assert fetch(client, list_server.url("127.0.0.1", "/x")) == b"hello"


GZIP_LIST = gzip.compress(b"a\nb\n", mtime=0)


@pytest.mark.parametrize(
    ("body", "go"),
    [
        (b"notgzip!!!", "gzip: invalid header"),  # the review's gzip-corrupt
        (b"\x1f\x8b\x08\x00", "unexpected EOF"),  # cut in the header
        (GZIP_LIST[:-3], "unexpected EOF"),  # cut in the trailer
        (GZIP_LIST[:-8] + b"\0\0\0\0" + GZIP_LIST[-4:], "gzip: invalid checksum"),
        (
            GZIP_LIST[:10] + b"\xff\xff\xff\xff" + GZIP_LIST[14:],
            "flate: corrupt input before offset 1",
        ),
        (GZIP_LIST + b"0123456789abc", "gzip: invalid header"),  # garbage after a member
    ],
    ids=["gzip-corrupt", "cut-header", "cut-trailer", "checksum", "deflate", "trailing"],
)
def test_review_7_gzip_body_errors_read_as_go(
    list_server: ListServer, clock: FastForwardClock, body: bytes, go: str
) -> None:
    """Go asks for gzip and decodes it (transport.go gzipReader); its errors come
    unwrapped, as body errors, and are never retried."""
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
    list_server.routes["/x"] = Route(custom=raw(head.encode() + body))
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        cause = failure(client, list_server.url("127.0.0.1", "/x"))
    assert isinstance(cause, ProtocolError) and cause.in_body
    assert str(cause) == go
    assert not retriable_v14(cause) and not retriable_v15(cause)


def test_gzip_is_asked_for_and_decoded_as_go_does(
    list_server: ListServer, clock: FastForwardClock
) -> None:
    """Two members (multistream), Content-Encoding and Content-Length gone, as Go's
    Transport does when it added ``Accept-Encoding: gzip`` itself."""
    body = GZIP_LIST + gzip.compress(b"c\n", mtime=0)
    list_server.routes["/x"] = Route(
        body=body, headers={"Content-Encoding": "GZIP", "Content-Length": str(len(body))}
    )
    with (
        make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client,
        client.stream("GET", list_server.url("127.0.0.1", "/x")) as response,
    ):
        assert response.read() == b"a\nb\nc\n"
        assert "content-encoding" not in response.headers
        assert "content-length" not in response.headers
        assert response.request.headers["accept-encoding"] == "gzip"


def test_a_request_naming_its_encoding_gets_the_raw_body(
    list_server: ListServer, clock: FastForwardClock
) -> None:
    """Go decodes only what it asked for itself (``addedGzip``)."""
    list_server.routes["/x"] = Route(body=GZIP_LIST, headers={"Content-Encoding": "gzip"})
    with (
        make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client,
        client.stream(
            "GET", list_server.url("127.0.0.1", "/x"), headers={"Accept-Encoding": "gzip"}
        ) as response,
    ):
        assert b"".join(response.iter_raw()) == GZIP_LIST


# -- review finding 6 (HTTP side): an IPv6 literal in the URL never reaches the resolver ----


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


class RecordingResolver:
    """Refuses every name, remembering it (a bracketed name would be Go's not-found)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def resolve(self, host: str, *, timeout: float | None = None) -> list[str]:
        self.names.append(host)
        raise DNSError(host, "no such host", is_not_found=True)


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_review_6_ipv6_literal_url_is_dialled_without_the_resolver(clock: FastForwardClock) -> None:
    """``http://[::1]:PORT/`` is a literal to Go's http.Client (the dialer gets
    ``[::1]:PORT`` and parses it); only a *name* goes to the resolver, which says "no
    such host" for ``[::1]``."""
    server = ListServer(host="::1")
    server.routes["/x"] = Route(body=b"six")
    resolver = RecordingResolver()
    try:
        with make_http_client(resolver, clock=clock) as client:
            assert client.get(f"http://[::1]:{server.port}/x").text == "six"
    finally:
        server.close()
    assert resolver.names == []
    assert server.requests[0].host == f"[::1]:{server.port}"

"""The httpx client that resolves through our resolver and waits on our clock.

Real sockets on loopback: faultdns for names, a stdlib HTTP server for content.
Timeouts are charged to the manual clock, never slept.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cleanup import ConnectError, DNSError, ManualClock, RequestTimeout
from cleanup._classify import error_kind, to_error
from cleanup._resolver import QueryEvent, StubResolver
from cleanup._transport import make_http_client
from tests.cleanup.conftest import ListServer, Route, closed_port
from tests.tools import require_tool

NAME = "repo.harvester-system.svc.cluster.local"


def nameserver(server: object) -> str:
    host, port = server.address  # type: ignore[attr-defined]
    return f"{host}:{port}"


def resolver_for(
    dns: object, clock: ManualClock, events: list[QueryEvent] | None = None
) -> StubResolver:
    return StubResolver(
        [nameserver(dns)],
        clock=clock,
        on_query=events.append if events is not None else None,
    )


def test_get_by_name_keeps_the_name_in_host_and_pools_connections(
    faultdns_factory: object, list_server: ListServer, clock: ManualClock
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


def test_dns_not_found_is_a_connect_error_caused_by_our_dns_error(
    faultdns_factory: object, list_server: ListServer, clock: ManualClock
) -> None:
    dns = faultdns_factory(records=[f"{NAME}=127.0.0.1"], faults=["nxdomain"])  # type: ignore[operator]
    url = list_server.url(NAME, "/a")
    with (
        make_http_client(resolver_for(dns, clock), clock=clock) as client,
        pytest.raises(httpx.ConnectError) as info,
    ):
        client.get(url)
    cause = info.value.__cause__
    assert isinstance(cause, DNSError) and cause.is_not_found
    assert str(cause) == f"lookup {NAME} on {nameserver(dns)}: no such host"
    assert to_error(info.value, url=url) is cause
    assert list_server.requests == []


def test_dns_timeout_is_bounded_by_the_connect_timeout(
    faultdns_factory: object, list_server: ListServer, quick_clock: ManualClock
) -> None:
    dns = faultdns_factory(faults=["drop"])  # type: ignore[operator]
    resolver = StubResolver([nameserver(dns)], clock=quick_clock, timeout=5, attempts=2)
    with (
        make_http_client(resolver, clock=quick_clock, timeout=7) as client,
        pytest.raises(httpx.ConnectError) as info,
    ):
        client.get(list_server.url(NAME, "/a"))
    cause = info.value.__cause__
    assert isinstance(cause, DNSError) and cause.is_timeout
    assert quick_clock.now() == 7.0  # not the resolver's own 2 x 5 s
    assert error_kind(to_error(info.value)) == "dns timeout"


def test_connection_refused_names_url_and_address(clock: ManualClock) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/list"
    with (
        make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client,
        pytest.raises(httpx.ConnectError) as info,
    ):
        client.get(url)
    cause = info.value.__cause__
    assert isinstance(cause, ConnectError)
    assert (cause.reason, cause.url, cause.address) == ("refused", url, f"127.0.0.1:{port}")
    assert isinstance(cause.__cause__, ConnectionRefusedError)
    assert str(cause) == f"Get {url!r}: dial tcp 127.0.0.1:{port}: connection refused"
    assert error_kind(to_error(info.value)) == "connection refused"
    assert clock.now() == 0.0


def test_next_address_is_dialled_when_the_first_refuses(
    faultdns_factory: object, list_server: ListServer, clock: ManualClock
) -> None:
    # 127.0.0.2 has nothing on the port (the server binds 127.0.0.1 only)
    dns = faultdns_factory(records=[f"{NAME}=127.0.0.2", f"{NAME}=127.0.0.1"])  # type: ignore[operator]
    list_server.routes["/a"] = Route(body=b"ok")
    with make_http_client(resolver_for(dns, clock), clock=clock) as client:
        assert client.get(list_server.url(NAME, "/a")).text == "ok"


def test_server_that_never_answers_is_a_read_timeout_on_the_clock(
    faultdns_factory: object, list_server: ListServer, quick_clock: ManualClock
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
    assert (cause.url, cause.phase, cause.timeout) == (url, "read", 30.0)
    assert isinstance(cause.__cause__, TimeoutError)
    assert quick_clock.now() == 30.0
    assert error_kind(to_error(info.value)) == "timeout"


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
    full_listener: int, quick_clock: ManualClock
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
    assert quick_clock.now() == 4.0


def test_ip_literal_bypasses_the_resolver(list_server: ListServer, clock: ManualClock) -> None:
    events: list[QueryEvent] = []
    resolver = StubResolver(["127.0.0.1:1"], clock=clock, on_query=events.append)
    list_server.routes["/x"] = Route(body=b"direct")
    with make_http_client(resolver, clock=clock) as client:
        assert client.get(list_server.url("127.0.0.1", "/x")).text == "direct"
    assert events == []


def test_proxies_from_the_environment_are_ignored(
    monkeypatch: pytest.MonkeyPatch, list_server: ListServer, clock: ManualClock
) -> None:
    dead_proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    list_server.routes["/x"] = Route(body=b"no proxy")
    with make_http_client(StubResolver(["127.0.0.1:1"], clock=clock), clock=clock) as client:
        assert client.get(list_server.url("127.0.0.1", "/x")).text == "no proxy"


def test_connection_reset_while_reading(faultdns_factory: object, clock: ManualClock) -> None:
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
    assert (cause.reason, cause.address) == ("reset", f"127.0.0.1:{port}")
    assert error_kind(to_error(info.value)) == "connection reset"


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
    faultdns_factory: object, tls_server: tuple[int, list[str | None], Path], clock: ManualClock
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

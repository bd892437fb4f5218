"""The control API lets no web page in, stays up for its real clients, and answers every
error as JSON with a fitting status (issue 10).

Kinds, each with the issue's example as a named test: cross-site requests and DNS
rebinding (Host, Origin, forgeable changes), slow clients (header and body read
deadlines, eviction at the connection cap, the CLI's "timed out"), errors (405, 414,
431, 400 for a short body) and records that can never be answered (400 / exit 64).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import httpx
import pytest

from faultdns import FaultDNSServer, MonotonicClock
from faultdns._control import BODY_TIMEOUT, HEADER_TIMEOUT, MAX_CONNECTIONS, ControlServer
from faultdns._control_client import ControlClient, ControlTimeout

FAULTDNS = [sys.executable, "-m", "faultdns"]
GENEROUS = 30.0  # a bound on waiting, never a latency claim


@pytest.fixture
def dns_server() -> Iterator[FaultDNSServer]:
    with FaultDNSServer(records=["a.test=10.0.0.1"], clock=MonotonicClock()) as server:
        yield server


@pytest.fixture
def control(dns_server: FaultDNSServer) -> Iterator[ControlServer]:
    with ControlServer(dns_server, port=0) as server:
        yield server


def answer(server: FaultDNSServer, name: str = "a.test") -> list[str]:
    host, port = server.address
    reply = dns.query.udp(dns.message.make_query(name, "A"), host, port=port, timeout=5)
    return [rd.to_text() for rrset in reply.answer for rd in rrset]


def raw(control: ControlServer, request: bytes, *, shut: bool = False) -> tuple[int, bytes]:
    """Send raw bytes, read the whole reply; (status, body)."""
    with socket.create_connection(control.address, timeout=GENEROUS) as sock:
        sock.sendall(request)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def json_error(body: bytes) -> str:
    import json

    payload = json.loads(body)
    assert isinstance(payload, dict) and isinstance(payload["error"], str)
    return payload["error"]


# -- cross-site requests and DNS rebinding ----------------------------------------------


def test_a_cross_site_simple_request_cannot_add_a_fault(
    control: ControlServer, dns_server: FaultDNSServer
) -> None:
    """The issue's curl: foreign Origin and Host, text/plain, no token: refused."""
    _, port = control.address
    reply = httpx.post(
        f"{control.url}/faults",
        content="answer=6.6.6.6 match=a.test",
        headers={
            "Origin": "http://evil.example",
            "Host": f"evil.example:{port}",
            "Content-Type": "text/plain",
        },
        timeout=GENEROUS,
    )
    assert reply.status_code == 403
    assert dns_server.faults == []
    assert answer(dns_server) == ["10.0.0.1"]


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:5380", "localhost.evil.example", "10.1.2.3", "[2001:db8::1]"],
)
def test_a_foreign_host_is_refused_even_for_reads(control: ControlServer, host: str) -> None:
    """DNS rebinding: a page whose name now points at 127.0.0.1 sends its own Host."""
    for path in ("/queries", "/stats", "/faults"):
        reply = httpx.get(f"{control.url}{path}", headers={"Host": host}, timeout=GENEROUS)
        assert reply.status_code == 403, path
        assert "Host" in reply.json()["error"]


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:{port}", "127.0.0.1:{port}", "LOCALHOST.", "app.localhost"]
)
def test_the_served_address_and_loopback_names_are_accepted(
    control: ControlServer, host: str
) -> None:
    _, port = control.address
    reply = httpx.get(
        f"{control.url}/stats", headers={"Host": host.format(port=port)}, timeout=GENEROUS
    )
    assert reply.status_code == 200


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "null", "https://evil.example:443", "file://", "http://[", "x"],
)
def test_a_foreign_origin_is_refused(
    control: ControlServer, dns_server: FaultDNSServer, origin: str
) -> None:
    headers = {"Origin": origin, "X-FaultDNS": "1"}
    assert httpx.get(f"{control.url}/queries", headers=headers).status_code == 403
    post = httpx.post(f"{control.url}/faults", json="drop", headers=headers, timeout=GENEROUS)
    assert post.status_code == 403
    assert "Origin" in post.json()["error"]
    assert dns_server.faults == []


def test_a_same_origin_request_is_accepted(control: ControlServer) -> None:
    reply = httpx.post(
        f"{control.url}/faults", json="drop match=x.test", headers={"Origin": control.url}
    )
    assert reply.status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "content_type", "body"),
    [
        ("POST", "/faults", "text/plain", b"answer=6.6.6.6 match=a.test"),
        ("POST", "/faults", "application/x-www-form-urlencoded", b'"drop"'),
        ("POST", "/faults", "multipart/form-data; boundary=x", b"--x--"),
        ("POST", "/faults", None, b"drop"),
        ("POST", "/records", "text/plain", b"a.test=6.6.6.6"),
        ("POST", "/reset", None, b""),
        ("DELETE", "/faults/r1", None, b""),
    ],
)
def test_a_change_a_page_could_forge_is_refused(
    control: ControlServer,
    dns_server: FaultDNSServer,
    method: str,
    path: str,
    content_type: str | None,
    body: bytes,
) -> None:
    """Simple requests (CORS: no preflight) cannot change anything, even same-host."""
    dns_server.add_fault("drop match=keep.test")
    headers = {"Content-Type": content_type} if content_type else {}
    reply = httpx.request(
        method, f"{control.url}{path}", content=body, headers=headers, timeout=GENEROUS
    )
    assert reply.status_code == 403
    assert "X-FaultDNS" in reply.json()["error"]
    assert [r.id for r in dns_server.faults] == ["r1"]
    assert answer(dns_server) == ["10.0.0.1"]


def test_json_or_the_client_header_allows_changes(
    control: ControlServer, dns_server: FaultDNSServer
) -> None:
    url = control.url
    assert httpx.post(f"{url}/faults", json="nxdomain match=b.test").status_code == 201
    plain = httpx.post(
        f"{url}/faults",
        content="servfail match=c.test",
        headers={"Content-Type": "text/plain", "X-FaultDNS": "1"},
    )
    assert plain.status_code == 201
    assert httpx.post(f"{url}/reset", headers={"X-FaultDNS": "1"}).status_code == 200
    assert dns_server.faults == []


def test_allowed_hosts_and_a_wildcard_bind(dns_server: FaultDNSServer) -> None:
    with ControlServer(dns_server, "0.0.0.0", 0, allowed_hosts=["faultdns.svc"]) as wide:
        _, port = wide.address
        url = f"http://127.0.0.1:{port}"
        for host, status in [
            ("faultdns.svc", 200),
            (f"192.0.2.7:{port}", 200),  # any IP literal: rebinding needs a name
            ("evil.example", 403),
        ]:
            reply = httpx.get(f"{url}/stats", headers={"Host": host}, timeout=GENEROUS)
            assert reply.status_code == status, host


@pytest.mark.parametrize("path", ["/faults", "/records"])
@pytest.mark.parametrize(
    ("ctype", "body"),
    [("application/json", b"[" * 60000), ("", b'{"a":' * 12000)],
    ids=["arrays", "objects"],
)
def test_json_nested_too_deeply_is_400_not_500(
    control: ControlServer, path: str, ctype: str, body: bytes
) -> None:
    """Issue 10 review: '[' * 60000 was a 500 RecursionError."""
    headers = f"Content-Type: {ctype}\r\n" if ctype else ""
    request = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nX-FaultDNS: 1\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    status, reply = raw(control, request)
    assert status == 400
    assert "nested too deeply" in json_error(reply)


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback (::1)")


@needs_ipv6
@pytest.mark.parametrize("host", ["::1", "::"])
def test_the_control_api_listens_on_ipv6(dns_server: FaultDNSServer, host: str) -> None:
    """Issue 10 review: `--control [::1]:PORT` (and `[::]:PORT`) exited 71 "Address
    family for hostname not supported": the stdlib's HTTPServer is IPv4 only."""
    with ControlServer(dns_server, host, 0) as server:
        _, port = server.address
        assert server.address[0] == host
        with ControlClient(f"http://[::1]:{port}", timeout=GENEROUS) as client:
            assert "queries" in client.stats()
            client.add_fault("drop match=x.test")
        assert [r.spec for r in dns_server.faults] == ["drop match=x.test"]


@needs_ipv6
def test_serve_on_ipv6_prints_bracketed_addresses_and_their_errors(tmp_path: Path) -> None:
    """`faultdns serve --host ::1 --control [::1]:PORT` serves; a control port in use is
    named `[::1]:PORT` in the exit-71 message (it read `:::PORT`)."""
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as busy:
        busy.bind(("::1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        proc = subprocess.run(
            [*FAULTDNS, "serve", "--host", "::1", "--port", "0", "--control", f"[::1]:{taken}"],
            capture_output=True,
            text=True,
            timeout=GENEROUS,
            stdin=subprocess.DEVNULL,
        )
    assert proc.returncode == 71, proc.stderr
    assert f"cannot start the control API on [::1]:{taken}:" in proc.stderr
    serve = subprocess.Popen(
        [*FAULTDNS, "serve", "--host", "::1", "--port", "0", "--control", "[::1]:0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stdout is not None
        assert serve.stdout.readline().startswith("listening on udp+tcp [::1]:")
        url = serve.stdout.readline().strip().removeprefix("control on ")
        assert url.startswith("http://[::1]:")
        stats = subprocess.run(
            [*FAULTDNS, "stats", "--control", url],
            capture_output=True,
            text=True,
            timeout=GENEROUS,
            stdin=subprocess.DEVNULL,
        )
        assert stats.returncode == 0, stats.stderr
    finally:
        serve.terminate()
        serve.wait(timeout=GENEROUS)


# -- slow clients ----------------------------------------------------------------------


def test_header_dribblers_do_not_block_the_api(control: ControlServer) -> None:
    """32 connections sending a header byte every 4 s (issue 10), scaled: every 0.5 s.
    A real client is served at once (a newcomer replaces the oldest unfinished
    request), and each dribbler is cut off at HEADER_TIMEOUT whatever its pace."""
    dribblers = [
        socket.create_connection(control.address, timeout=GENEROUS) for _ in range(MAX_CONNECTIONS)
    ]
    stop = threading.Event()

    def dribble() -> None:
        while not stop.wait(0.5):
            for sock in dribblers:
                with contextlib.suppress(OSError):
                    sock.send(b"G")

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)
        with ControlClient(control.url, timeout=GENEROUS) as client:
            assert "queries" in client.stats()
            client.add_fault("drop match=x.test")
        # Every dribbler ends (408 or shut down) within the header deadline.
        limit = time.monotonic() + HEADER_TIMEOUT + GENEROUS
        for sock in dribblers:
            sock.settimeout(max(limit - time.monotonic(), 0.1))
            data = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(4096):
                    data += chunk
            assert data == b"" or data.startswith(b"HTTP/1.0 408")
    finally:
        stop.set()
        thread.join()
        for sock in dribblers:
            sock.close()


def test_body_tricklers_do_not_block_the_api(control: ControlServer) -> None:
    """Issue 10 review: 32 connections send complete headers plus 1 byte of a
    1000-byte body and reconnect whenever the body timeout answers them. A body-phase
    connection is still sending its request, so a newcomer evicts it: the real client
    is served every time (before the fix `faultdns stats` failed 11/11, exit 69)."""
    head = (
        b"POST /faults HTTP/1.1\r\nHost: 127.0.0.1\r\nX-FaultDNS: 1\r\n"
        b"Content-Length: 1000\r\n\r\nx"
    )

    def trickler() -> socket.socket:
        sock = socket.create_connection(control.address, timeout=GENEROUS)
        sock.sendall(head)
        sock.setblocking(False)
        return sock

    socks = [trickler() for _ in range(MAX_CONNECTIONS)]
    stop = threading.Event()

    def reopen() -> None:
        while not stop.wait(0.05):
            for i, sock in enumerate(socks):
                try:
                    sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                sock.close()
                with contextlib.suppress(OSError):
                    socks[i] = trickler()

    thread = threading.Thread(target=reopen, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        served = 0
        end = time.monotonic() + 2 * BODY_TIMEOUT + 1  # across several reopen waves
        with ControlClient(control.url, timeout=GENEROUS) as client:
            while time.monotonic() < end:
                assert "queries" in client.stats()
                served += 1
                time.sleep(0.2)
        assert served >= 5
    finally:
        stop.set()
        thread.join()
        for sock in socks:
            sock.close()


class _SlowStats:
    """A Controllable whose ``stats()`` blocks until released: connections past their
    request that hold their slot."""

    def __init__(self, dns: FaultDNSServer) -> None:
        self._dns = dns
        self.release = threading.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._dns, name)

    def stats(self) -> dict[str, object]:
        self.release.wait(GENEROUS)
        return dict(self._dns.stats())


def test_a_newcomer_with_no_room_gets_503_and_the_cli_says_busy(
    dns_server: FaultDNSServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every slot held by a request already being answered: nothing to evict, so the
    newcomer is told 503 JSON, and the CLI says busy (exit 75), not "not running"."""
    from faultdns._cli import EX_TEMPFAIL, main

    slow = _SlowStats(dns_server)
    with ControlServer(slow, port=0) as server:  # type: ignore[arg-type]
        held = []
        try:
            for _ in range(MAX_CONNECTIONS):
                sock = socket.create_connection(server.address, timeout=GENEROUS)
                sock.sendall(b"GET /stats HTTP/1.1\r\nHost: localhost\r\n\r\n")
                held.append(sock)
            time.sleep(0.5)  # every request read and blocked in stats()
            status, body = raw(server, b"GET /faults HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert status == 503
            assert "busy" in json_error(body)
            assert main(["fault", "ls", "--control", server.url]) == EX_TEMPFAIL
            assert "busy" in capsys.readouterr().err
        finally:
            slow.release.set()
            for sock in held:
                sock.close()


def test_expect_100_continue_gets_100_before_the_body(
    control: ControlServer, dns_server: FaultDNSServer
) -> None:
    """Issue 10 review: a client sending `Expect: 100-continue` (curl, for bodies over
    1 KiB) waited in vain for the 100; it is sent once the guards have passed."""
    body = b"drop match=x.test"
    with socket.create_connection(control.address, timeout=GENEROUS) as sock:
        sock.sendall(
            b"POST /faults HTTP/1.1\r\nHost: localhost\r\nX-FaultDNS: 1\r\n"
            b"Content-Type: text/plain\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            chunk = sock.recv(1)
            assert chunk, interim
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.0 201")
    assert [r.spec for r in dns_server.faults] == ["drop match=x.test"]


def test_a_refused_expect_100_request_gets_its_final_status_without_100(
    control: ControlServer,
) -> None:
    status, body = raw(
        control,
        b"POST /faults HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
        b"Expect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    )
    assert status == 403 and b"100 Continue" not in body


def test_headers_not_sent_in_time_are_408(control: ControlServer) -> None:
    with socket.create_connection(control.address, timeout=GENEROUS) as sock:
        sock.sendall(b"GET /stats HTTP/1.1\r\nHost: localhost\r\n")  # no blank line
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 408")
    assert "headers" in json_error(body)


def test_a_body_shorter_than_its_content_length_is_400(
    control: ControlServer, dns_server: FaultDNSServer
) -> None:
    """After BODY_TIMEOUT (a short wait), not the 500 of a read timeout (issue 10)."""
    request = (
        b"POST /faults HTTP/1.1\r\nHost: localhost\r\nX-FaultDNS: 1\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 100\r\n\r\ndrop"
    )
    start = time.monotonic()
    status, body = raw(control, request)
    assert status == 400
    assert "shorter than its Content-Length: 4 of 100" in json_error(body)
    assert time.monotonic() - start >= BODY_TIMEOUT * 0.9
    # A client that closes its side early gets the same answer, without the wait.
    status, body = raw(control, request, shut=True)
    assert status == 400
    assert dns_server.faults == []


@pytest.mark.parametrize("method", ["BREW", "OPTIONS", "TRACE", "CONNECT"])
def test_unknown_methods_are_405_json(control: ControlServer, method: str) -> None:
    status, body = raw(control, f"{method} /faults HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    assert status == 405
    assert method in json_error(body)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"X-Big: " + b"a" * 40_000 + b"\r\n", 431),  # over MAX_HEADER_BYTES in total
        (b"".join(b"X-%d: 1\r\n" % i for i in range(101)), 431),  # over 100 headers
        (b"X-Line: " + b"a" * 70_000 + b"\r\n", 431),  # one line over 64 KiB
    ],
    ids=["total", "count", "line"],
)
def test_oversized_headers_are_431_json(
    control: ControlServer, headers: bytes, status: int
) -> None:
    got, body = raw(control, b"GET /stats HTTP/1.1\r\nHost: localhost\r\n" + headers + b"\r\n")
    assert got == status
    json_error(body)


@pytest.mark.parametrize(
    ("request_line", "status"),
    [(b"GET /" + b"a" * 70_000 + b" HTTP/1.1", 414), (b"NONSENSE", 400), (b"GET / HTTP/9.9", 505)],
    ids=["uri-too-long", "garbage", "version"],
)
def test_malformed_request_lines_are_json(
    control: ControlServer, request_line: bytes, status: int
) -> None:
    got, body = raw(control, request_line + b"\r\nHost: localhost\r\n\r\n")
    assert got == status
    json_error(body)


def test_an_http_0_9_request_gets_a_status_line_and_json(control: ControlServer) -> None:
    """Found by the control fuzz target: "GET /path" alone (HTTP/0.9) got a bare body."""
    status, body = raw(control, b"GET \x01\x00avil.example\r\n\r\n")
    assert status == 404
    assert "no endpoint" in json_error(body)
    status, body = raw(control, b"GET /stats\r\n\r\n")
    assert status == 200


@pytest.mark.parametrize("path", ["//(\x00\x00\x80]\x12", "//[", "//evil.example/faults"])
def test_a_path_that_looks_like_a_url_is_404_not_500(control: ControlServer, path: str) -> None:
    """Found by the control fuzz target: a request target starting "//[" was a 500."""
    status, body = raw(control, f"GET {path} HTTP/1.0\r\n\r\n".encode("latin-1"))
    assert status == 404
    assert "no endpoint" in json_error(body)


def _silent_listener() -> socket.socket:
    """A TCP listener that accepts (in the kernel) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


def test_the_client_says_timed_out_not_unreachable() -> None:
    with _silent_listener() as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with ControlClient(url, timeout=0.5) as client, pytest.raises(ControlTimeout) as info:
            client.stats()
        assert "timed out" in str(info.value)


def test_the_cli_says_timed_out_and_exits_75() -> None:
    """Issue 10: under slow clients the CLI said the server was not running (69)."""
    with _silent_listener() as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        proc = subprocess.run(
            [*FAULTDNS, "stats", "--control", url, "--timeout", "0.5"],
            capture_output=True,
            text=True,
            timeout=GENEROUS,
            check=False,
        )
    assert proc.returncode == 75
    assert "timed out" in proc.stderr
    assert "is `faultdns serve` running" not in proc.stderr


# -- records that can never be answered ---------------------------------------------------


NEVER_ANSWERED = [
    ("ü.test=10.0.0.9", "xn--tda"),
    ("a!b.test=10.0.0.9", "'!'"),
    ("x" * 64 + ".test=10.0.0.9", "longer than 63 bytes"),
    # 65,400 characters in 257 strings of up to 255 bytes: 65,657 bytes of rdata
    ("big.test TXT " + "t" * 65_400, "over the 65535"),
]


@pytest.mark.parametrize(("spec", "reason"), NEVER_ANSWERED, ids=["idn", "bang", "long", "txt"])
def test_records_that_can_never_be_answered_are_400_naming_them(
    control: ControlServer, dns_server: FaultDNSServer, spec: str, reason: str
) -> None:
    reply = httpx.post(f"{control.url}/records", json=spec, timeout=GENEROUS)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert reason in error
    assert spec.split("=")[0].split(" ")[0][:20] in error
    assert len(dns_server.records()) == 1


@pytest.mark.parametrize(("spec", "reason"), NEVER_ANSWERED[:3], ids=["idn", "bang", "long"])
def test_the_cli_refuses_them_with_exit_64(spec: str, reason: str) -> None:
    proc = subprocess.run(
        [*FAULTDNS, "serve", "--port", "0", "--no-control", "--record", spec],
        capture_output=True,
        text=True,
        timeout=GENEROUS,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 64
    assert reason in proc.stderr and "--record" in proc.stderr


def test_record_add_refuses_them_with_exit_64(control: ControlServer) -> None:
    proc = subprocess.run(
        [*FAULTDNS, "record", "add", "a!b.test=10.0.0.9", "--control", control.url],
        capture_output=True,
        text=True,
        timeout=GENEROUS,
        check=False,
    )
    assert proc.returncode == 64
    assert "a!b.test" in proc.stderr and "could never be answered" in proc.stderr


def test_a_record_outside_every_origin_is_refused_naming_it(tmp_path: Path) -> None:
    """Issue 10 review: `record add x.other=...` on a server authoritative for `test`
    was accepted, though every query for it is answered REFUSED. Now: 400 through the
    API (exit 64 from `record add`), exit 64 from `serve --record` and `--zone`."""
    with FaultDNSServer(
        records=["a.test=10.0.0.1"], origins=["test"], clock=MonotonicClock()
    ) as dns_server:
        with ControlServer(dns_server, port=0) as control:
            reply = httpx.post(f"{control.url}/records", json="x.other=10.0.0.9", timeout=GENEROUS)
            assert reply.status_code == 400
            assert "'x.other' is outside every origin (test)" in reply.json()["error"]
            proc = subprocess.run(
                [*FAULTDNS, "record", "add", "x.other=10.0.0.9", "--control", control.url],
                capture_output=True,
                text=True,
                timeout=GENEROUS,
                check=False,
            )
            assert proc.returncode == 64 and "x.other" in proc.stderr
            # Inside an origin (the origin itself, a wildcard below it) is fine.
            for spec in ("test TXT apex", "*.w.test=10.0.0.8"):
                assert httpx.post(f"{control.url}/records", json=spec).status_code == 201
        assert len(dns_server.records()) == 3
    zone = tmp_path / "zone.toml"
    zone.write_text('origins = ["test"]\nrecords = ["a.test=10.0.0.1", "x.other=10.0.0.9"]\n')
    for flags in (["--origin", "test", "--record", "x.other=10.0.0.9"], ["--zone", str(zone)]):
        proc = subprocess.run(
            [*FAULTDNS, "serve", "--port", "0", "--no-control", *flags],
            capture_output=True,
            text=True,
            timeout=GENEROUS,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 64, proc.stderr
        assert "x.other" in proc.stderr and "outside every origin" in proc.stderr


# -- big plans ---------------------------------------------------------------------------


def _plan(path: Path, rules: int) -> Path:
    path.write_text(
        "".join(f'[[fault]]\naction = "nxdomain"\nmatch = "n{i}.test"\n\n' for i in range(rules))
    )
    return path


def test_add_faults_adds_a_plan_in_one_step_with_fresh_ids() -> None:
    with FaultDNSServer(faults=["drop match=x.test"], clock=MonotonicClock()) as server:
        ids = server.add_faults(["nxdomain match=a.test", {"action": "servfail", "id": "r1"}])
        assert ids == ["r2", "r3"]  # r1 taken: renumbered, as add_fault does
        assert [r.id for r in server.faults] == ["r1", "r2", "r3"]
        with pytest.raises(ValueError):
            server.add_faults(["drop", "nonsense"])
        assert len(server.faults) == 3  # all or nothing


def _catches_sigterm(pid: int) -> bool:
    """The process has installed a SIGTERM handler (SigCgt in /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_sigterm_while_loading_a_32000_rule_plan_exits_0(tmp_path: Path) -> None:
    plan = _plan(tmp_path / "plan.toml", 32_000)
    proc = subprocess.Popen(
        [*FAULTDNS, "serve", "--port", "0", "--no-control", "--plan", str(plan)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        limit = time.monotonic() + GENEROUS
        while not _catches_sigterm(proc.pid):
            assert proc.poll() is None and time.monotonic() < limit
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=GENEROUS)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    # Caught while still loading: it never started listening.
    assert "listening" not in out

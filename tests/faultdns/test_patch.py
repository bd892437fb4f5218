"""faultdns.patch_getaddrinfo in-process: the clients of the README, the fixture, and
what stays unpatched.  The glibc codes themselves are checked against glibc in
test_patch_glibc.py; here they are the documented constants of Python's socket module."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

import faultdns
from faultdns._glibc import Candidate, HErrno, search_walk

FAST = ["timeout:1", "attempts:1"]


@pytest.fixture(scope="module")
def web_port() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")  # aiohttp reads to the length
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.mark.faultdns(records=["repo.test=127.0.0.1"], faults=["nxdomain match=repo.test"])
@pytest.mark.faultdns_getaddrinfo(options=FAST)
def test_requests_fails_then_recovers(
    faultdns_getaddrinfo: faultdns.FaultDNSServer, web_port: int
) -> None:
    import requests

    with pytest.raises(requests.ConnectionError, match="Name or service not known"):
        requests.get(f"http://repo.test:{web_port}/", timeout=5)
    faultdns_getaddrinfo.remove_fault("r1")
    assert requests.get(f"http://repo.test:{web_port}/", timeout=5).text == "ok"


@pytest.mark.faultdns(records=["repo.test=127.0.0.1"], faults=["servfail match=repo.test"])
@pytest.mark.faultdns_getaddrinfo(options=FAST)
def test_httpx_fails_then_recovers(
    faultdns_getaddrinfo: faultdns.FaultDNSServer, web_port: int
) -> None:
    with pytest.raises(httpx.ConnectError, match="Temporary failure in name resolution"):
        httpx.get(f"http://repo.test:{web_port}/", timeout=5)
    faultdns_getaddrinfo.remove_fault("r1")
    assert httpx.get(f"http://repo.test:{web_port}/", timeout=5).text == "ok"


@pytest.mark.faultdns(records=["repo.test=127.0.0.1"], faults=["nodata match=repo.test"])
@pytest.mark.faultdns_getaddrinfo(options=FAST)
def test_aiohttp_fails_then_recovers(
    faultdns_getaddrinfo: faultdns.FaultDNSServer, web_port: int
) -> None:
    import aiohttp

    async def get() -> str:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://repo.test:{web_port}/") as response,
        ):
            return await response.text()

    with pytest.raises(aiohttp.ClientConnectorError) as caught:
        asyncio.run(get())
    assert isinstance(caught.value.os_error, socket.gaierror)
    assert caught.value.os_error.errno == socket.EAI_NODATA
    faultdns_getaddrinfo.remove_fault("r1")
    assert asyncio.run(get()) == "ok"


@pytest.mark.faultdns(records=["repo.test=127.0.0.1"], faults=["drop"])
@pytest.mark.faultdns_getaddrinfo(options=FAST)
def test_asyncio_loop_getaddrinfo_is_patched(faultdns_getaddrinfo: faultdns.FaultDNSServer) -> None:
    async def resolve() -> object:
        return await asyncio.get_running_loop().getaddrinfo("repo.test", 80)

    with pytest.raises(socket.gaierror) as caught:
        asyncio.run(resolve())
    assert caught.value.errno == socket.EAI_AGAIN


@pytest.mark.faultdns(faults=["nxdomain"])
@pytest.mark.faultdns_getaddrinfo(options=FAST)
def test_numeric_hosts_and_localhost_are_unpatched(
    faultdns_getaddrinfo: faultdns.FaultDNSServer,
) -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        assert socket.getaddrinfo(host, 80)
    assert faultdns_getaddrinfo.queries == []


def test_patch_is_undone_on_exit(faultdns_factory: object) -> None:
    original = socket.getaddrinfo
    with (
        faultdns.FaultDNSServer(port=0, clock=faultdns.MonotonicClock()) as server,
        faultdns.patch_getaddrinfo(server),
    ):
        assert socket.getaddrinfo is not original
    assert socket.getaddrinfo is original


def test_search_walk_asks_glibc_order() -> None:
    walk = search_walk("x.y", ["s1", "s2"], ndots=2)
    asked = [next(walk)]
    nx = Candidate(HErrno.HOST_NOT_FOUND)
    with pytest.raises(StopIteration) as stop:
        while True:
            asked.append(walk.send(nx))
    assert asked == ["x.y.s1", "x.y.s2", "x.y"]
    assert stop.value.value == (HErrno.HOST_NOT_FOUND, None)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"search": "s1"}, TypeError, "search='s1'"),  # would be the domains "s" and "1"
        ({"options": "timeout:1"}, TypeError, "options='timeout:1'"),
        ({"options": ["atempts:1"]}, ValueError, "'atempts:1': unknown option"),
        ({"options": ["timeout"]}, ValueError, "'timeout': expected timeout:N"),
        ({"options": ["timeout:1s"]}, ValueError, "'timeout:1s': expected timeout:N"),
        ({"options": ["rotate:1"]}, ValueError, "rotate takes no value"),
    ],
)
def test_bad_search_or_options_are_refused_naming_them(
    kwargs: dict[str, object], error: type[Exception], words: str
) -> None:
    before = socket.getaddrinfo
    with (
        pytest.raises(error, match=words),
        faultdns.patch_getaddrinfo(("127.0.0.1", 53), **kwargs),  # type: ignore[arg-type]
    ):
        pass
    assert socket.getaddrinfo is before

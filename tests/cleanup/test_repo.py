"""The repo client against a local HTTP server reached by name through faultdns."""

from __future__ import annotations

import gzip
import http.server
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from cleanup import (
    ConnectError,
    DNSError,
    HTTPStatusError,
    ImageListError,
    RequestTimeout,
    StubResolver,
    make_http_client,
    retriable_v15,
)
from cleanup._classify import error_kind
from cleanup._repo import LIST_PATH, RepoClient
from cleanup.testing import FastForwardClock
from tests.cleanup.conftest import ListServer, Route, closed_port

NAME = "upgrade-repo-hvst-upgrade-nv76q.harvester-system"
FQDN = f"{NAME}.svc.cluster.local"
SEARCH = ["harvester-system.svc.cluster.local", "svc.cluster.local", "cluster.local"]

PREVIOUS = b"""\
docker.io/rancher/harvester:v1.4.1
docker.io/longhornio/longhorn-engine:v1.7.2
registry.suse.com/suse/sles/15.6/virt-operator:1.3.1
"""
CURRENT = b"""\
# images of this version
docker.io/rancher/harvester:v1.5.0

docker.io/longhornio/longhorn-engine:v1.8.1
"""


def path(version: str) -> str:
    return "/" + LIST_PATH.format(version=version)


@pytest.fixture
def dns(faultdns_factory: Callable[..., object]) -> object:
    return faultdns_factory(records=[f"{FQDN}=127.0.0.1"])


def make_repo(
    dns: object, server: ListServer, clock: FastForwardClock, **kwargs: object
) -> Iterator[RepoClient]:
    host, port = dns.address  # type: ignore[attr-defined]
    resolver = StubResolver([f"{host}:{port}"], search=SEARCH, ndots=5, clock=clock)
    client = make_http_client(resolver, clock=clock)
    try:
        yield RepoClient(f"http://{NAME}:{server.port}", client, **kwargs)  # type: ignore[arg-type]
    finally:
        client.close()


@pytest.fixture
def repo(dns: object, list_server: ListServer, clock: FastForwardClock) -> Iterator[RepoClient]:
    yield from make_repo(dns, list_server, clock)


def test_list_url_is_the_archive_path() -> None:
    client = RepoClient("http://upgrade-repo-x.harvester-system/", httpx.Client())
    assert client.list_url("v1.4.1") == (
        "http://upgrade-repo-x.harvester-system/harvester-iso/bundle/harvester/"
        "images-lists-archive/v1.4.1/image_list_all.txt"
    )
    assert client.list_url("current").endswith("/images-lists-archive/current/image_list_all.txt")


@pytest.mark.parametrize("version", ["", "..", "v1/../../etc", "v1.4.1?x=1", "v 1", "v1#a"])
def test_versions_that_would_change_the_url_are_refused(version: str) -> None:
    client = RepoClient("http://repo.test", httpx.Client())
    with pytest.raises(ValueError, match="cannot be part of a list URL"):
        client.list_url(version)


@pytest.mark.parametrize("url", ["repo.test", "ftp://repo.test", "http://", "http://a/?q=1"])
def test_bad_repo_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="repo URL"):
        RepoClient(url, httpx.Client())


@pytest.mark.parametrize(
    ("url", "go_says"),
    [
        # the review's examples: httpx read the first as port 10 and the last as a host
        # "a%20b", so the run failed only at its lookups, after every retry (exit 1)
        ("http://x:1_0", 'invalid port ":1_0" after host'),
        ("http://x:+80", 'invalid port ":+80" after host'),
        ("http://x:\u0663", 'invalid port ":\u0663" after host'),
        ("http://a b/", 'invalid character " " in host name'),
    ],
)
def test_a_repo_url_gos_url_parse_refuses_is_refused_with_gos_words(url: str, go_says: str) -> None:
    with pytest.raises(ValueError) as caught:
        RepoClient(url, httpx.Client())
    want = f'repo URL {url!r} is not a valid URL: parse "{url}": {go_says}'
    assert str(caught.value) == want


def test_fetch_lists_fetches_previous_then_current_by_name(
    repo: RepoClient, list_server: ListServer
) -> None:
    list_server.routes[path("v1.4.1")] = Route(body=PREVIOUS)
    list_server.routes[path("current")] = Route(body=CURRENT)
    previous, current = repo.fetch_lists("v1.4.1")
    assert previous == [
        "docker.io/rancher/harvester:v1.4.1",
        "docker.io/longhornio/longhorn-engine:v1.7.2",
        "registry.suse.com/suse/sles/15.6/virt-operator:1.3.1",
    ]
    assert current == [
        "docker.io/rancher/harvester:v1.5.0",
        "docker.io/longhornio/longhorn-engine:v1.8.1",
    ]
    assert [r.path for r in list_server.requests] == [path("v1.4.1"), path("current")]
    assert {r.host for r in list_server.requests} == {f"{NAME}:{list_server.port}"}


def test_404_is_the_controller_s_unexpected_status(
    repo: RepoClient, list_server: ListServer
) -> None:
    list_server.routes[path("current")] = Route(body=CURRENT)
    with pytest.raises(HTTPStatusError) as info:
        repo.fetch_lists("v1.3.9")
    err = info.value
    assert (err.status, err.version) == (404, "v1.3.9")
    assert err.url == repo.list_url("v1.3.9")
    # the controller's fmt.Errorf("unexpected status: %s", resp.Status)
    assert str(err) == "unexpected status: 404 Not Found"
    assert error_kind(err) == "http status 404"
    # the current list is not fetched once the previous one failed
    assert [r.path for r in list_server.requests] == [path("v1.3.9")]


def test_503_is_an_http_status_error(repo: RepoClient, list_server: ListServer) -> None:
    list_server.routes[path("v1.4.1")] = Route(503, b"<html>Service Unavailable</html>")
    with pytest.raises(HTTPStatusError) as info:
        repo.fetch_list("v1.4.1")
    assert info.value.status == 503
    assert str(info.value) == "unexpected status: 503 Service Unavailable"
    assert not retriable_v15(info.value)


def test_status_is_checked_on_the_final_response_after_redirects(
    repo: RepoClient, list_server: ListServer
) -> None:
    """Go follows the redirect (any host) and the controller checks the final status; a
    3xx without a Location is final, so it is the unexpected status."""
    list_server.routes[path("v1.4.1")] = Route(302, headers={"Location": "/moved"})
    list_server.routes["/moved"] = Route(body=PREVIOUS)
    assert repo.fetch_list("v1.4.1")[0] == "docker.io/rancher/harvester:v1.4.1"
    list_server.routes[path("current")] = Route(301, headers={"Location": "/gone"})
    with pytest.raises(HTTPStatusError) as info:
        repo.fetch_list("current")
    assert str(info.value) == "unexpected status: 404 Not Found"
    list_server.routes[path("current")] = Route(302)
    with pytest.raises(HTTPStatusError) as info:
        repo.fetch_list("current")
    assert str(info.value) == "unexpected status: 302 Found"


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (b"<!DOCTYPE html>\n<html><body>Welcome to nginx!</body></html>\n", 1),
        (b"docker.io/rancher/harvester:v1.4.1\n\x00\x01\x02\xff\xfe binary\n", 2),
        (b"docker.io/rancher/harvester:v1.4.1\nnot a valid//reference:\n", 2),
    ],
)
def test_invalid_lists_name_the_line(
    repo: RepoClient, list_server: ListServer, body: bytes, line: int
) -> None:
    list_server.routes[path("v1.4.1")] = Route(body=body)
    with pytest.raises(ImageListError) as info:
        repo.fetch_list("v1.4.1")
    err = info.value
    assert err.url == repo.list_url("v1.4.1")
    assert err.line == line
    assert error_kind(err) == "invalid list"


@pytest.mark.parametrize("body", [b"", b"\n\n# only comments\n\n"])
def test_empty_lists_are_refused(repo: RepoClient, list_server: ListServer, body: bytes) -> None:
    list_server.routes[path("current")] = Route(body=body)
    with pytest.raises(ImageListError, match=r"empty|no image"):
        repo.fetch_list("current")


def test_oversize_list_by_content_length_is_refused_before_reading(
    dns: object, list_server: ListServer, clock: FastForwardClock
) -> None:
    list_server.routes[path("current")] = Route(body=CURRENT * 100)
    for repo in make_repo(dns, list_server, clock, max_bytes=1000):
        with pytest.raises(ImageListError) as info:
            repo.fetch_list("current")
        assert info.value.line == 0
        assert f"{len(CURRENT) * 100} bytes, more than the 1000-byte limit" in str(info.value)


def endless_chunked(handler: http.server.BaseHTTPRequestHandler) -> None:
    """A body with no length that would go on for 1 GiB: only a limit stops it."""
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"docker.io/rancher/harvester:v1.4.1\n" * 1800  # ~64 KiB
    try:
        for _ in range(16384):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        pass  # the client hung up, as it should


def test_oversize_streamed_list_stops_reading_at_the_limit(
    dns: object, list_server: ListServer, clock: FastForwardClock
) -> None:
    list_server.routes[path("current")] = Route(custom=endless_chunked)
    for repo in make_repo(dns, list_server, clock, max_bytes=200_000):
        with pytest.raises(ImageListError) as info:
            repo.fetch_list("current")
        assert info.value.line == 0 and "200000-byte limit" in str(info.value)


class SlowClock(FastForwardClock):
    """Every socket wait that ends with data costs ``step`` seconds of virtual time:
    a server that trickles its body."""

    def __init__(self, step: float) -> None:
        super().__init__(grace=1.0)
        self.step = step

    def wait_readable(self, sock: socket.socket, timeout: float | None) -> bool:
        if timeout is not None and timeout < self.step:  # the next chunk comes too late
            self.advance(timeout)
            return False
        ready = super().wait_readable(sock, timeout)
        if ready:
            self.advance(self.step)
        return ready


def trickle(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    line = b"docker.io/rancher/harvester:v1.4.1\n"
    try:
        for _ in range(40):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            handler.wfile.flush()
            time.sleep(0.02)
        handler.wfile.write(b"0\r\n\r\n")
    except OSError:
        pass


def test_overall_timeout_covers_a_trickling_body(dns: object, list_server: ListServer) -> None:
    clock = SlowClock(step=4.0)
    list_server.routes[path("current")] = Route(custom=trickle)
    for repo in make_repo(dns, list_server, clock):
        with pytest.raises(RequestTimeout) as info:
            repo.fetch_list("current")
        assert (info.value.phase, info.value.timeout) == ("body", 30.0)
        # each chunk came within 4 s, but Go's Client.Timeout covers the whole GET
        assert clock.now() == 30.0
        assert str(info.value) == (
            "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
        )


def test_dns_not_found_is_a_dns_error(
    faultdns_factory: Callable[..., object], list_server: ListServer, clock: FastForwardClock
) -> None:
    dns = faultdns_factory(records=[f"{FQDN}=127.0.0.1"], faults=["nxdomain"])
    for repo in make_repo(dns, list_server, clock):
        with pytest.raises(DNSError) as info:
            repo.fetch_lists("v1.4.1")
        assert info.value.is_not_found and info.value.name == NAME
        assert error_kind(info.value) == "dns not-found"


def test_connection_refused_is_a_connect_error(dns: object, clock: FastForwardClock) -> None:
    host, port = dns.address  # type: ignore[attr-defined]
    resolver = StubResolver([f"{host}:{port}"], search=SEARCH, ndots=5, clock=clock)
    dead = closed_port()
    with make_http_client(resolver, clock=clock) as client:
        repo = RepoClient(f"http://{NAME}:{dead}", client)
        with pytest.raises(ConnectError) as info:
            repo.fetch_list("v1.4.1")
    assert info.value.reason == "refused"
    assert info.value.address == f"127.0.0.1:{dead}"
    assert info.value.url == repo.list_url("v1.4.1")
    dialled = f"dial tcp 127.0.0.1:{dead}: connect: connection refused"
    assert str(info.value) == f'Get "{repo.list_url("v1.4.1")}": {dialled}'


def test_server_that_never_answers_times_out_after_the_http_timeout(
    dns: object, list_server: ListServer, quick_clock: FastForwardClock
) -> None:
    list_server.routes[path("v1.4.1")] = Route(hang=True)
    for repo in make_repo(dns, list_server, quick_clock, timeout=12.5):
        with pytest.raises(RequestTimeout) as info:
            repo.fetch_list("v1.4.1")
        assert (info.value.phase, info.value.timeout) == ("headers", 12.5)
        assert quick_clock.now() == 12.5
        assert str(info.value) == (
            f'Get "{repo.list_url("v1.4.1")}": context deadline exceeded'
            " (Client.Timeout exceeded while awaiting headers)"
        )


def test_cluster_dns_down_is_a_temporary_dns_error(
    list_server: ListServer, clock: FastForwardClock
) -> None:
    """CoreDNS not started yet: the DNS port answers ICMP port unreachable, as in the
    field's ``read udp ...->10.53.0.10:53: read: connection refused``."""
    dead_dns = f"127.0.0.1:{closed_port()}"
    resolver = StubResolver([dead_dns], search=SEARCH, ndots=5, clock=clock)
    with make_http_client(resolver, clock=clock) as client:
        repo = RepoClient(f"http://{NAME}:{list_server.port}", client)
        with pytest.raises(DNSError) as info:
            repo.fetch_list("v1.4.1")
    err = info.value
    assert err.is_temporary and not (err.is_not_found or err.is_timeout)
    lookup = f"lookup {NAME} on {dead_dns}: read udp 127.0.0.1:"
    assert str(err).startswith(f'Get "{repo.list_url("v1.4.1")}": dial tcp: {lookup}')
    assert str(err).endswith(f"->{dead_dns}: read: connection refused")
    assert error_kind(err) == "dns temporary"
    assert list_server.requests == []


def test_gzip_list_is_decoded_and_a_gzip_bomb_stops_at_the_limit(
    dns: object, list_server: ListServer, clock: FastForwardClock
) -> None:
    """The controller's Go client asks for gzip and decodes it; the size limit counts
    decoded bytes, so 8 MiB of zeros squeezed into ~8 KiB is refused at the limit."""
    list_server.routes[path("v1.4.1")] = Route(
        body=gzip.compress(PREVIOUS), headers={"Content-Encoding": "gzip"}
    )
    list_server.routes[path("current")] = Route(
        body=gzip.compress(b"\n" * (8 << 20)), headers={"Content-Encoding": "gzip"}
    )
    for repo in make_repo(dns, list_server, clock, max_bytes=200_000):
        assert repo.fetch_list("v1.4.1")[0] == "docker.io/rancher/harvester:v1.4.1"
        with pytest.raises(ImageListError) as info:
            repo.fetch_list("current")
        assert "200000-byte limit" in str(info.value)

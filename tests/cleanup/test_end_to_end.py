"""The whole cleanup over real sockets: faultdns for names, a local HTTP server for lists.

Nothing sleeps for real: the cleanup runs on a FastForwardClock whose sleeps and socket
timeouts also move the faultdns server's FastForwardClock (:class:`LinkedClock`), so a
"30 s NXDOMAIN window" is 30 s of virtual time on both sides.  The HTTP server is real
(stdlib, own thread) and serves what each test scripts.
"""

from __future__ import annotations

import io
import json
import random
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import cleanup
import cleanup.testing
import faultdns
from cleanup import MemoryStore, get_policy
from cleanup._cli import main as cli_main
from cleanup._repo import RepoClient
from cleanup._resolver import StubResolver
from cleanup._run import CleanupReport, run_cleanup
from cleanup._transport import make_http_client
from faultdns.testing import ClosedPort

SERVICE = "upgrade-repo-hvst-upgrade-nv76q.harvester-system"
SEARCH = ["harvester-system.svc.cluster.local", "svc.cluster.local", "cluster.local"]
FQDN = f"{SERVICE}.svc.cluster.local"
ARCHIVE = "/harvester-iso/bundle/harvester/images-lists-archive"

PREVIOUS = [
    "docker.io/rancher/harvester:v1.4.1",
    "docker.io/rancher/harvester-webhook:v1.4.1",
    "docker.io/rancher/harvester-upgrade:v1.4.1",
    "docker.io/longhornio/longhorn-engine:v1.7.2",
    "docker.io/rancher/old-tool:v0.9",
    "docker.io/rancher/shared:v1",
]
CURRENT = [
    "docker.io/rancher/harvester:v1.5.0",
    "docker.io/rancher/harvester-webhook:v1.5.0",
    "docker.io/rancher/harvester-upgrade:v1.5.0",
    "docker.io/longhornio/longhorn-engine:v1.8.1",
    "docker.io/rancher/shared:v1",
]
NODE_IN_USE = ["docker.io/rancher/harvester-webhook:v1.4.1"]
# what the plan must delete: previous - current - retained - in use
EXPECTED_DELETE = ["docker.io/rancher/harvester:v1.4.1", "docker.io/rancher/old-tool:v0.9"]


def list_text(images: list[str]) -> bytes:
    return ("# image list\n" + "\n".join(images) + "\n").encode()


# --------------------------------------------------------------------------- clocks


class LinkedClock(cleanup.testing.FastForwardClock):
    """The cleanup's virtual clock; every move also moves the DNS server's clock."""

    def __init__(self, dns_clock: faultdns.ManualClock, *, grace: float = 0.5) -> None:
        super().__init__(start=0.0, grace=grace)
        self.dns_clock = dns_clock

    def _sync(self) -> None:
        behind = self.now() - self.dns_clock.now()
        if behind > 0:
            self.dns_clock.advance(behind)

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        self._sync()

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self._sync()

    def wait_readable(self, sock: socket.socket, timeout: float | None) -> bool:
        ready = super().wait_readable(sock, timeout)
        self._sync()
        return ready

    def wait_writable(self, sock: socket.socket, timeout: float | None) -> bool:
        ready = super().wait_writable(sock, timeout)
        self._sync()
        return ready


# --------------------------------------------------------------------------- HTTP


class ListServer:
    """A repo serving image lists; per path, a queue of (status, body), the last repeats."""

    def __init__(self, port: int = 0) -> None:
        self.routes: dict[str, list[tuple[int, bytes]]] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Host header)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Host")))
                queue = server.routes.get(self.path)
                if not queue:
                    status, body = 404, b"404 page not found\n"
                else:
                    status, body = queue[0] if len(queue) == 1 else queue.pop(0)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serve(self, version: str, *responses: tuple[int, bytes]) -> None:
        self.routes[f"{ARCHIVE}/{version}/image_list_all.txt"] = list(responses)

    def list_requests(self, version: str) -> int:
        path = f"{ARCHIVE}/{version}/image_list_all.txt"
        return sum(1 for p, _ in self.requests if p == path)

    def __enter__(self) -> ListServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def dns_clock() -> faultdns.ManualClock:
    return faultdns.ManualClock()


@pytest.fixture
def dns(dns_clock: faultdns.ManualClock) -> Iterator[faultdns.FaultDNSServer]:
    # no origins: authoritative for every name, so the bare service name is NXDOMAIN
    # (as CoreDNS's upstream would say), not REFUSED
    with faultdns.FaultDNSServer(records=[f"{FQDN}=127.0.0.1"], clock=dns_clock) as server:
        yield server


@pytest.fixture
def repo_server() -> Iterator[ListServer]:
    with ListServer() as server:
        server.serve("v1.4.1", (200, list_text(PREVIOUS)))
        server.serve("current", (200, list_text(CURRENT)))
        yield server


@pytest.fixture
def node(tmp_path: Path) -> MemoryStore:
    images = sorted(set(PREVIOUS) | set(CURRENT))
    return MemoryStore.create(tmp_path / "node.json", images, in_use=NODE_IN_USE)


class World:
    """Builds the real stack (StubResolver -> transport -> RepoClient) on a LinkedClock."""

    def __init__(
        self, dns: faultdns.FaultDNSServer, dns_clock: faultdns.ManualClock, port: int
    ) -> None:
        self.dns = dns
        self.clock = LinkedClock(dns_clock)
        self.port = port
        self.nameserver = "{}:{}".format(*dns.address)

    def resolver(self, *, search: list[str] | None = None, ndots: int = 5) -> StubResolver:
        return StubResolver(
            [self.nameserver],
            search=SEARCH if search is None else search,
            ndots=ndots,
            timeout=5.0,
            attempts=2,
            clock=self.clock,
            rng=random.Random(1),
        )

    def run(
        self,
        policy: str,
        store: MemoryStore,
        *,
        port: int | None = None,
        on_event: Any = None,
        search: list[str] | None = None,
        **overrides: Any,
    ) -> CleanupReport:
        client = make_http_client(self.resolver(search=search), clock=self.clock, timeout=30.0)
        with client:
            repo = RepoClient(f"http://{SERVICE}:{port or self.port}", client)
            return run_cleanup(
                repo,
                previous_version="v1.4.1",
                policy=get_policy(policy, **overrides),
                store=store,
                clock=self.clock,
                rng=random.Random(42),
                on_event=on_event,
            )


@pytest.fixture
def world(
    dns: faultdns.FaultDNSServer, dns_clock: faultdns.ManualClock, repo_server: ListServer
) -> World:
    return World(dns, dns_clock, repo_server.port)


def assert_untouched(store: MemoryStore) -> None:
    assert sorted(store.images()) == sorted(set(PREVIOUS) | set(CURRENT))


# --------------------------------------------------------------------------- NXDOMAIN


def test_v15_rides_out_an_nxdomain_window(world: World, node: MemoryStore) -> None:
    world.dns.add_fault("nxdomain match=upgrade-repo-* for=30s")
    report = world.run("harvester-v1.5", node)
    assert report.outcome == "success", report.error
    failed = [a for a in report.attempts if not a.ok]
    assert failed and all(a.kind == "dns not-found" and a.retriable for a in failed)
    # attempts every 10-11 s: the first one after the 30 s window succeeds
    assert len(failed) == 3
    assert report.attempts[-1].ok and report.attempts[-1].at >= 30.0
    assert sorted(report.deleted) == EXPECTED_DELETE
    assert sorted(node.images()) == sorted((set(PREVIOUS) | set(CURRENT)) - set(EXPECTED_DELETE))


def test_v14_stops_at_the_first_nxdomain(world: World, node: MemoryStore) -> None:
    world.dns.add_fault("nxdomain match=upgrade-repo-* for=30s")
    report = world.run("harvester-v1.4", node)
    assert report.outcome == "not-retriable" and report.exit_code == 2
    assert len(report.attempts) == 1 and report.attempts[0].kind == "dns not-found"
    assert f"lookup {SERVICE}" in (report.error or "")
    assert "no such host" in (report.error or "")
    assert report.deleted == []
    assert_untouched(node)


def test_v14_exit_code_2_through_the_cli(
    world: World, node: MemoryStore, repo_server: ListServer
) -> None:
    world.dns.add_fault("nxdomain match=upgrade-repo-* for=30s")
    out, err = io.StringIO(), io.StringIO()
    argv = [
        "run",
        f"--repo-url=http://{SERVICE}:{repo_server.port}",
        "--previous-version=v1.4.1",
        f"--nameserver={world.nameserver}",
        *[f"--search={s}" for s in SEARCH],
        "--ndots=5",
        "--policy=harvester-v1.4",
        f"--store=memory:{node.path}",
        "--json",
        "--seed=3",
    ]
    code = cli_main(argv, clock=world.clock, stdout=out, stderr=err)
    assert code == 2
    lines = err.getvalue().splitlines()
    assert lines[0].startswith('attempt 1/30 failed: dns not-found: Get "http://')
    assert f'": dial tcp: lookup {SERVICE} on ' in lines[0] and "no such host" in lines[0]
    assert lines[-1].startswith('Unable to cleanup images: Get "http://')
    doc = json.loads(out.getvalue())
    assert doc["outcome"] == "not-retriable" and doc["deleted"] == [] and doc["seed"] == 3
    assert_untouched(node)
    assert repo_server.requests == []


def test_cli_log_line_per_attempt_then_success(
    world: World, node: MemoryStore, repo_server: ListServer
) -> None:
    world.dns.add_fault("nxdomain match=upgrade-repo-* for=15s")
    err = io.StringIO()
    argv = [
        "run",
        "--repo-url",
        f"http://{SERVICE}:{repo_server.port}",
        "--previous-version",
        "v1.4.1",
        "--nameserver",
        world.nameserver,
        "--search",
        "svc.cluster.local",
        "--ndots",
        "5",
        "--store",
        f"memory:{node.path}",
        "--seed",
        "1",
    ]
    code = cli_main(argv, clock=world.clock, stdout=io.StringIO(), stderr=err)
    assert code == 0
    lines = err.getvalue().splitlines()
    assert lines[0].startswith('attempt 1/30 failed: dns not-found: Get "http://')
    assert '": dial tcp: lookup ' in lines[0]
    assert lines[0].endswith("s") and "; retrying in 1" in lines[0]
    assert any(line.startswith("attempt 3 succeeded") for line in lines)
    assert lines[-1] == "cleanup done: deleted 2 image(s), kept 4, 0 could not be deleted"


# --------------------------------------------------------------------------- other DNS faults


def test_servfail_window_is_retried_by_both_policies(
    world: World, node: MemoryStore, dns_clock: faultdns.ManualClock
) -> None:
    world.dns.add_fault("servfail match=upgrade-repo-* for=12s")
    report = world.run("harvester-v1.4", node)
    assert report.outcome == "success"
    assert [a.kind for a in report.attempts if not a.ok] == ["dns temporary", "dns temporary"]
    assert sorted(report.deleted) == EXPECTED_DELETE


@pytest.mark.parametrize("policy", ["harvester-v1.5", "harvester-v1.4"])
def test_dropped_queries_time_out_and_are_retried(
    world: World, node: MemoryStore, policy: str
) -> None:
    """A DNS timeout is retried by both presets: Harvester's check starts with
    os.IsTimeout, which sees DNSError.Timeout(), so even v1.4 retried it."""
    # two candidates (the FQDN via the search list, then the name as given), each asked
    # twice with a 5 s timeout: the first attempt times out at t=20, inside the window
    world.dns.add_fault("drop match=upgrade-repo-* for=25s")
    report = world.run(policy, node, search=["svc.cluster.local"])
    assert report.outcome == "success"
    failed = [a for a in report.attempts if not a.ok]
    assert [a.kind for a in failed] == ["dns timeout"]
    assert "i/o timeout" in (failed[0].error or "")
    assert report.attempts[-1].ok and report.attempts[-1].at > 25.0
    assert sorted(report.deleted) == EXPECTED_DELETE


def test_truncated_udp_answer_is_fetched_over_tcp(world: World, node: MemoryStore) -> None:
    world.dns.add_fault("truncate match=upgrade-repo-*")
    report = world.run("harvester-v1.4", node)
    assert report.outcome == "success"
    assert len(report.attempts) == 1
    transports = {q.transport for q in world.dns.queries}
    assert transports == {"udp", "tcp"}
    assert sorted(report.deleted) == EXPECTED_DELETE


def test_search_list_and_ndots_give_glibc_query_order(world: World, node: MemoryStore) -> None:
    world.dns.add_fault("nxdomain match=upgrade-repo-* for=1s")
    report = world.run("harvester-v1.4", node)
    assert report.outcome == "not-retriable"
    names = [q.name.rstrip(".") for q in world.dns.queries]
    # one dot < ndots 5: every search suffix first, the name as given last; A and AAAA each
    expected = [f"{SERVICE}.{s}" for s in SEARCH] + [SERVICE]
    assert list(dict.fromkeys(names)) == expected
    # an A and an AAAA query per candidate, each asked once: NXDOMAIN is final, no
    # other server or retry is tried for it
    pairs = sorted((q.name.rstrip("."), q.qtype) for q in world.dns.queries)
    assert pairs == sorted((name, qtype) for name in expected for qtype in ("A", "AAAA"))
    assert {q.transport for q in world.dns.queries} == {"udp"}


def test_name_with_enough_dots_is_tried_as_given_first(world: World, node: MemoryStore) -> None:
    world.dns.add_fault("nxdomain match=upgrade-repo-* for=1s")
    client = make_http_client(world.resolver(ndots=1), clock=world.clock)
    with client:
        repo = RepoClient(f"http://{SERVICE}:{world.port}", client)
        run_cleanup(
            repo,
            previous_version="v1.4.1",
            policy=get_policy("harvester-v1.4"),
            store=node,
            clock=world.clock,
            rng=random.Random(1),
        )
    names = list(dict.fromkeys(q.name.rstrip(".") for q in world.dns.queries))
    assert names == [SERVICE] + [f"{SERVICE}.{s}" for s in SEARCH]


# --------------------------------------------------------------------------- HTTP


def test_connection_refused_until_the_repo_comes_up(world: World, node: MemoryStore) -> None:
    closed = ClosedPort()  # held, so that no socket is given it while it refuses
    port = closed.port
    late: list[ListServer] = []

    def start_repo_after_third_failure(event: object) -> None:
        if type(event).__name__ == "AttemptFailed" and getattr(event, "attempt", 0) == 3:
            closed.close()
            server = ListServer(port)
            server.serve("v1.4.1", (200, list_text(PREVIOUS)))
            server.serve("current", (200, list_text(CURRENT)))
            late.append(server.__enter__())

    try:
        report = world.run(
            "harvester-v1.4", node, port=port, on_event=start_repo_after_third_failure
        )
    finally:
        closed.close()
        for server in late:
            server.__exit__(None, None, None)
    assert report.outcome == "success", report.error
    assert [a.kind for a in report.attempts if not a.ok] == ["connection refused"] * 3
    assert "connection refused" in (report.attempts[0].error or "")
    assert sorted(report.deleted) == EXPECTED_DELETE


def test_connection_refused_for_the_whole_schedule_gives_up(
    world: World, node: MemoryStore
) -> None:
    with ClosedPort() as closed:
        report = world.run("harvester-v1.5", node, port=closed.port, steps=4)
    assert report.outcome == "gave-up" and report.exit_code == 1
    assert len(report.attempts) == 4
    assert report.error_kind == "connection refused"
    assert_untouched(node)


def test_503_is_not_retried(world: World, node: MemoryStore, repo_server: ListServer) -> None:
    # the reference: any status other than 200 is an error that is NOT retried
    repo_server.serve("v1.4.1", (503, b"upstream not ready\n"), (200, list_text(PREVIOUS)))
    report = world.run("harvester-v1.5", node)
    assert report.outcome == "not-retriable" and report.exit_code == 2
    assert report.error_kind == "http status 503"
    assert len(report.attempts) == 1
    assert repo_server.list_requests("v1.4.1") == 1
    assert_untouched(node)


def test_404_is_the_controller_s_unexpected_status(
    world: World, node: MemoryStore, repo_server: ListServer
) -> None:
    repo_server.routes.clear()
    repo_server.serve("current", (200, list_text(CURRENT)))
    report = world.run("harvester-v1.5", node)
    assert report.outcome == "not-retriable"
    assert report.error_kind == "http status 404"
    assert report.error == "unexpected status: 404 Not Found"
    assert report.previous_version == "v1.4.1"
    assert_untouched(node)


def test_missing_current_list_deletes_nothing(
    world: World, node: MemoryStore, repo_server: ListServer
) -> None:
    repo_server.routes.pop(f"{ARCHIVE}/current/image_list_all.txt")
    report = world.run("harvester-v1.5", node)
    assert report.outcome == "not-retriable" and report.error_kind == "http status 404"
    assert repo_server.list_requests("v1.4.1") == 1  # the first list was fine...
    assert_untouched(node)  # ...and still nothing was deleted


def test_host_header_is_the_service_name(
    world: World, node: MemoryStore, repo_server: ListServer
) -> None:
    world.run("harvester-v1.5", node)
    assert {host for _, host in repo_server.requests} == {f"{SERVICE}:{repo_server.port}"}


@pytest.mark.parametrize(
    ("which", "body", "reason"),
    [
        ("v1.4.1", b"<!DOCTYPE html>\n<html><body>Welcome</body></html>\n", "html"),
        ("current", b"\x00\x01\x02\xff\xfe binary", "binary"),
        ("current", b"", "empty"),
        ("current", b"# only a comment\n\n", "empty"),
        ("v1.4.1", b"docker.io/rancher/a:v1\nNot A Valid Ref!!\n", "bad reference"),
        ("current", b"docker.io/rancher/a:v1\n" * 400_000, "over-size"),
    ],
)
def test_invalid_lists_delete_nothing(
    world: World,
    node: MemoryStore,
    repo_server: ListServer,
    which: str,
    body: bytes,
    reason: str,
) -> None:
    repo_server.serve(which, (200, body))
    report = world.run("harvester-v1.5", node)
    assert report.outcome == "not-retriable", reason
    assert report.error_kind == "invalid list"
    assert "invalid image list" in (report.error or "")
    assert len(report.attempts) == 1
    assert_untouched(node)


# --------------------------------------------------------------------------- real process


def test_real_process_success_and_usage_errors(
    world: World, node: MemoryStore, repo_server: ListServer
) -> None:
    """A subprocess on the system clock: no faults, so nothing waits."""
    base = [sys.executable, "-m", "cleanup", "run"]
    args = [
        f"--repo-url=http://{SERVICE}:{repo_server.port}",
        "--previous-version=v1.4.1",
        f"--nameserver={world.nameserver}",
        *[f"--search={s}" for s in SEARCH],
        "--ndots=5",
        f"--store=memory:{node.path}",
        "--json",
    ]
    proc = subprocess.run([*base, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert sorted(doc["deleted"]) == EXPECTED_DELETE
    assert sorted(node.images()) == sorted((set(PREVIOUS) | set(CURRENT)) - set(EXPECTED_DELETE))

    bad = subprocess.run(
        [*base, *args, "--steps=zero"], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 64
    assert "--steps" in bad.stderr

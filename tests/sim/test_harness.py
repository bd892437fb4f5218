"""The harness runs the real cleanup against timelines: outcomes, virtual time, determinism.

Every test here goes through real sockets (faultdns over UDP, the repo over TCP) and the
real cleanup module; assertions are on virtual time and on traces only, never on how
long anything took for real.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest

import cleanup
import faultdns
import sim._harness
from sim._harness import Harness, ScenarioResult
from sim._report import attempt_rows
from sim._scenario import ClientSettings, load_scenario, parse_scenario
from sim._timeline import DNSState, HTTPState, Interval, Timeline
from sim._world import generate_timeline

S = TypeVar("S", bound=str)

SINGLE = load_scenario("single-node")
V14 = cleanup.get_policy("harvester-v1.4")
V15 = cleanup.get_policy("harvester-v1.5")
PATHS = [SINGLE.list_path(SINGLE.previous_version), SINGLE.list_path("current")]
# what the default scenario's node loses: previous - current - retained - in use
EXPECTED_DELETED = {
    "docker.io/rancher/harvester:v1.4.1",
    "docker.io/rancher/harvester-webhook:v1.4.1",
    "docker.io/rancher/mirrored-coredns-coredns:1.10.1",
}


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with Harness() as h:
        yield h


def intervals(*points: tuple[float, S]) -> tuple[Interval[S], ...]:
    ends = [t for t, _ in points[1:]] + [math.inf]
    return tuple(
        Interval(float(t), float(end), state) for (t, state), end in zip(points, ends, strict=True)
    )


def hand_timeline(
    repo: list[tuple[float, DNSState]],
    others: list[tuple[float, DNSState]],
    http: list[tuple[float, HTTPState]],
    *,
    start: float = 0.0,
    previous_http: list[tuple[float, HTTPState]] | None = None,
) -> Timeline:
    return Timeline(
        scenario="hand-made",
        seed=0,
        cleanup_start=start,
        repo_host=SINGLE.repo_host,
        dns={SINGLE.repo_host: intervals(*repo), "*": intervals(*others)},
        http={
            PATHS[0]: intervals(*(previous_http or http)),
            PATHS[1]: intervals(*http),
        },
        events=(),
    )


def entries(result: ScenarioResult, kind: str) -> list[dict[str, Any]]:
    return [e for e in result.trace if e["type"] == kind]


def the_seed_bug_seed(harness: Harness) -> int:
    """The first seed whose world makes v1.4 stop on "no such host" while v1.5 succeeds."""
    for seed in range(40):
        timeline = generate_timeline(SINGLE, seed)
        old = harness.run_timeline(timeline, V14, seed=seed)
        if old.outcome == "not-retriable":
            return seed
    raise AssertionError("no seed in 0..39 shows the v1.4 failure")


def test_the_pods_resolv_conf_is_what_kubelet_writes() -> None:
    """The harness's resolver reads the text a ClusterFirst pod gets (issue 11): the
    cluster DNS, the search list, ``ndots``, and the dnsConfig options that differ from
    Go's defaults; resolv.conf holds no fraction of a second."""
    settings = ClientSettings()
    assert settings.resolv_conf() == (
        "nameserver 10.53.0.10\n"
        "search harvester-system.svc.cluster.local svc.cluster.local cluster.local\n"
        "options ndots:5\n"
    )
    tuned = dataclasses.replace(settings, search=(), ndots=1, dns_timeout=2.0, dns_attempts=3)
    assert tuned.resolv_conf("127.0.0.1") == (
        "nameserver 127.0.0.1\noptions ndots:1 timeout:2 attempts:3\n"
    )
    with pytest.raises(ValueError, match=re.escape("client.dns_timeout: resolv.conf's timeout")):
        dataclasses.replace(settings, dns_timeout=0.5).resolv_conf()


def test_the_harness_resolver_reads_ndots_from_resolv_conf(harness: Harness) -> None:
    """The reviewer's example (issue 11): ``options ndots:5`` read as 0 would ask the
    repo Service's one-dot name as given first; with Go's 5 the search list comes
    first, so the first query of the run is the first search candidate."""
    result = harness.run("single-node", 1, "harvester-v1.5")
    first = next(entry for entry in result.trace if entry["type"] == "dns")
    service = result.timeline.repo_service
    assert first["name"].rstrip(".") == f"{service}.harvester-system.svc.cluster.local"


def test_v14_fails_and_v15_succeeds_in_the_same_world(harness: Harness) -> None:
    seed = the_seed_bug_seed(harness)
    old = harness.run("single-node", seed, V14)
    new = harness.run("single-node", seed, V15)
    assert old.timeline == new.timeline

    assert old.outcome == "not-retriable"
    assert old.report.error_kind == "dns not-found"
    assert "no such host" in (old.report.error or "")
    assert old.deleted == [] and old.report.planned == []
    assert entries(old, "http") == []  # it never got past the name
    # it stopped while the repo name was NXDOMAIN, before the world healed
    assert old.timeline.dns_state(old.timeline.repo_host, old.completion_time) == "nxdomain"

    assert new.outcome == "success"
    assert set(new.deleted) == EXPECTED_DELETED
    assert set(old.node_images) - set(new.node_images) == EXPECTED_DELETED
    assert set(old.node_images) == set(SINGLE.images.node_images)
    kinds = [row.kind for row in attempt_rows(new)]
    assert "dns not-found" in kinds and kinds[-1] == "ok"
    # v1.5 succeeded at its first attempt after the world became healthy
    healthy = new.timeline.healthy_from()
    last_fail = max(row.at for row in attempt_rows(new) if not row.ok)
    assert last_fail < healthy <= attempt_rows(new)[-1].at
    # common random numbers: the same jitter draws while both were failing
    for a, b in zip(attempt_rows(old), attempt_rows(new), strict=False):
        assert a.at == b.at


def test_same_seed_gives_a_byte_identical_trace(harness: Harness) -> None:
    seed = the_seed_bug_seed(harness)
    first = harness.run("single-node", seed, V15)
    again = harness.run("single-node", seed, V15)
    assert first.trace_lines() == again.trace_lines()
    with Harness() as fresh:  # other ports, other threads: the same bytes
        assert fresh.dns_address != harness.dns_address
        other = fresh.run("single-node", seed, V15)
    assert other.trace_lines() == first.trace_lines()
    assert harness.run("single-node", seed + 1, V15).trace_lines() != first.trace_lines()


def test_traces_are_json_lines_without_ports_or_real_times(harness: Harness) -> None:
    result = harness.run("single-node", 3, V15)
    lines = result.trace_lines().splitlines()
    assert len(lines) == len(result.trace) > 10
    parsed = [json.loads(line) for line in lines]
    assert [(e["t"], e["seq"]) for e in parsed] == sorted((e["t"], e["seq"]) for e in parsed)
    text = result.trace_lines()
    for port in (harness.dns_address[1], harness.repo_address[1]):
        assert not re.search(rf"\b{port}\b", text)
    dns = entries(result, "dns")
    assert len(dns) == result.dns_queries
    assert set(dns[0]) == {"t", "seq", "type", "name", "qtype", "transport", "rule", "rcode"}


def test_dropped_queries_cost_their_timeouts_in_virtual_time(harness: Harness) -> None:
    # the cluster DNS swallows every query for 100 s; the lists are there all along
    timeline = hand_timeline(
        repo=[(0, "timeout"), (100, "ok")],
        others=[(0, "timeout"), (100, "nxdomain")],
        http=[(0, "ok")],
    )
    result = harness.run_timeline(timeline, V15, seed=1)
    rows = attempt_rows(result)
    first = rows[0]
    # the lookup is bounded by the dial timeout (30 s): 3 candidates x 2 tries x 5 s
    # would be longer, so it ends at exactly 30 s of virtual time, when the request's
    # Client.Timeout (30 s) has run out too: Go reports that, not the DNS error
    assert first.kind == "timeout" and "Client.Timeout exceeded" in first.error
    fail = next(e for e in result.trace if e["type"] == "attempt-failed")
    assert fail["t"] == 30.0
    drops = [e for e in entries(result, "dns") if e["t"] < 30.0]
    assert drops and all(e["rcode"] == "drop" for e in drops)
    # a dropped try costs 5 s: queries are sent at 0, 5, 10, ...
    assert sorted({e["t"] for e in drops}) == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    assert result.outcome == "success"
    assert rows[-1].at >= 100.0
    assert max(r.at for r in rows if not r.ok) < 100.0 or rows[-2].kind == "dns not-found"


def test_connections_are_refused_until_the_service_has_endpoints(harness: Harness) -> None:
    timeline = hand_timeline(
        repo=[(0, "ok")], others=[(0, "nxdomain")], http=[(0, "refused"), (50, "ok")]
    )
    result = harness.run_timeline(timeline, V15, seed=2)
    rows = attempt_rows(result)
    assert result.outcome == "success"
    assert [r.kind for r in rows[:-1]] == ["connection refused"] * (len(rows) - 1)
    assert all(r.at < 50 for r in rows[:-1]) and rows[-1].at >= 50
    assert all(r.dns_queries == 4 for r in rows)  # candidate 2 resolves: 2 x (A, AAAA)
    assert [e["t"] >= 50 for e in entries(result, "http")] == [True, True]


def test_a_hung_request_costs_the_http_timeout_in_virtual_time(harness: Harness) -> None:
    timeline = hand_timeline(
        repo=[(0, "ok")], others=[(0, "nxdomain")], http=[(0, "hang"), (60, "ok")]
    )
    result = harness.run_timeline(timeline, V15, seed=4)
    rows = attempt_rows(result)
    assert rows[0].kind == "timeout" and rows[0].http_requests == 1
    fail = next(e for e in result.trace if e["type"] == "attempt-failed")
    assert fail["t"] == 30.0  # the controller's 30 s http.Client timeout, all virtual
    assert [e["result"] for e in entries(result, "http")][:1] == ["hang"]
    assert result.outcome == "success" and rows[-1].at >= 60


def test_a_missing_list_ends_the_cleanup_at_once(harness: Harness) -> None:
    timeline = hand_timeline(
        repo=[(0, "ok")],
        others=[(0, "nxdomain")],
        http=[(0, "refused"), (20, "ok")],
        previous_http=[(0, "refused"), (20, "missing")],
    )
    for policy in (V14, V15):
        result = harness.run_timeline(timeline, policy, seed=3)
        assert result.outcome == "not-retriable"
        assert result.report.error_kind == "http status 404"
        assert "404" in (result.report.error or "")
        assert result.deleted == []
        http = entries(result, "http")
        assert [e["result"] for e in http] == ["404"]  # one request, never retried
        assert attempt_rows(result)[-1].at >= 20


def test_a_scenario_with_the_list_missing_stops_on_404(harness: Harness) -> None:
    data = {
        "name": "missing-list",
        "world": {"topology": "multi-node", "list_missing": True},
        "durations": {k: 1 for k in ("node_boot", "coredns_start", "service_sync",
                                     "controller_start", "vm_boot", "endpoint_lag")},
    }  # fmt: skip
    scenario = parse_scenario(data)
    result = harness.run(scenario, 0, V15)
    assert result.outcome == "not-retriable"
    assert result.report.error_kind == "http status 404"


def test_another_upgrade_name_is_served_too(harness: Harness) -> None:
    data = {
        "name": "other-upgrade",
        "world": {"topology": "multi-node", "upgrade_name": "hvst-upgrade-abcde"},
        "durations": {k: 2 for k in ("node_boot", "coredns_start", "service_sync",
                                     "controller_start", "vm_boot", "endpoint_lag")},
    }  # fmt: skip
    scenario = parse_scenario(data)
    result = harness.run(scenario, 0, V15)
    assert result.outcome == "success"
    assert {e["name"] for e in entries(result, "dns") if e["rcode"] == "NOERROR"} >= {
        "upgrade-repo-hvst-upgrade-abcde.harvester-system.svc.cluster.local"
    }


def test_a_timeline_the_servers_cannot_play_is_refused(harness: Harness) -> None:
    # An HTTP state in a DNS table: mypy refuses it in code, so it comes as a world read
    # from a file would, as text nobody has checked (Timeline.from_dict).
    fine = hand_timeline(repo=[(0, "ok")], others=[(0, "nxdomain")], http=[(0, "ok")])
    odd_dns = Timeline.from_dict(
        {
            **fine.to_dict(),
            "dns": {SINGLE.repo_host: [[0, None, "hang"]], "*": [[0, None, "nxdomain"]]},
        }
    )
    # the message lists every DNS state the servers play (the rcode REFUSED and a lame
    # referral among them: "refused" in a DNS table is the rcode, not a connection)
    states = "conn-refused, timeout, nxdomain, servfail, lame, refused, ok"
    with pytest.raises(
        ValueError, match=rf"dns\[.*\] at 0s: unknown state 'hang' \(expected one of {states}\)"
    ):
        harness.run_timeline(odd_dns, V15)
    # a Service without backend refuses every name: one name alone cannot be refused
    one_name = hand_timeline(
        repo=[(0, "conn-refused"), (5, "ok")], others=[(0, "nxdomain")], http=[(0, "ok")]
    )
    with pytest.raises(ValueError, match="must hold for every name at once"):
        harness.run_timeline(one_name, V15)
    # an unknown HTTP state never reaches the harness: mypy refuses it in code and
    # Timeline itself when read (tests/sim/test_timeline.py)
    assert harness.run_timeline(
        hand_timeline(repo=[(0, "ok")], others=[(0, "nxdomain")], http=[(0, "ok")]), V15
    ).ok  # and the harness is still fine


def test_dns_queries_per_attempt_stay_within_the_resolver_bounds(harness: Harness) -> None:
    result = harness.run("single-node", 5, V15)
    settings = SINGLE.client
    candidates = len(settings.search) + 1
    bound = candidates * 2 * settings.dns_attempts  # A and AAAA
    rows = attempt_rows(result)
    assert all(row.dns_queries <= bound for row in rows)
    # while the DNS Service has no backend no query reaches the server; afterwards some do
    refused = [row for row in rows if row.error.endswith("read: connection refused")]
    assert refused and all(row.dns_queries == 0 for row in refused)
    assert any(row.dns_queries > 0 for row in rows)


@pytest.mark.parametrize(
    ("dns_down", "kind", "text", "per_try"),
    [
        ("conn-refused", "dns temporary", "read: connection refused", 0.0),
        # 8 tries x 5 s outlast the 30 s Client.Timeout, which Go then reports
        ("timeout", "timeout", "(Client.Timeout exceeded while awaiting headers)", 5.0),
    ],
)
def test_cluster_dns_down_both_ways_as_the_pod_sees_it(
    harness: Harness, dns_down: DNSState, kind: str, text: str, per_try: float
) -> None:
    """No ready backend: every query is refused at once (ECONNREFUSED) and none reaches
    the server; the Service IP not routed yet: every try waits its 5 s.  Both are
    retried by v1.4 and v1.5."""
    world = hand_timeline(
        repo=[(0, dns_down), (1000, "ok")],
        others=[(0, dns_down), (1000, "nxdomain")],
        http=[(0, "ok")],
    )
    for policy in (V14, V15):
        result = harness.run_timeline(world, policy, seed=3)
        first = entries(result, "attempt-failed")[0]
        assert first["kind"] == kind and first["retriable"]
        assert first["error"].endswith(text)
        # 4 candidates x 2 tries, each refused at once or waiting out its timeout
        # (within the 30 s connect timeout that bounds lookup and dial)
        assert first["t"] == min(4 * 2 * per_try, 30.0)
        if per_try == 0:
            assert result.dns_queries == 0
    refused_run = harness.run_timeline(world, V15, seed=3)
    again = harness.run_timeline(world, V15, seed=3)
    assert refused_run.trace_digest() == again.trace_digest()


def test_a_modified_cleanup_can_be_injected(harness: Harness) -> None:
    calls: list[dict[str, Any]] = []

    def dry(repo: cleanup.RepoClient, **kwargs: Any) -> cleanup.CleanupReport:
        calls.append(kwargs)
        return cleanup.run_cleanup(repo, **{**kwargs, "dry_run": True})

    result = harness.run("multi-node", 4, V15, cleanup_fn=dry)
    assert len(calls) == 1 and calls[0]["policy"] is V15
    assert result.outcome == "success"
    assert set(result.report.planned[i].image for i in range(len(result.report.planned))) == (
        EXPECTED_DELETED
    )
    assert result.deleted == [] and entries(result, "removed") == []


def _slow(server: faultdns.FaultDNSServer) -> faultdns.FaultDNSServer:
    """The same server, but its loop thread dawdles before handling each wake-up."""
    base = type(server)

    def dawdle(name: str) -> Any:
        handler = getattr(base, name)

        def slow(self: faultdns.FaultDNSServer) -> None:
            threading.Event().wait(0.003)
            handler(self)

        return slow

    handlers = [n for n in ("_on_udp_readable", "_on_udp_batch") if hasattr(base, n)]
    server.__class__ = type("SlowDNS", (base,), {n: dawdle(n) for n in handlers})
    read_clock = server.clock.now

    def slow_now() -> float:  # and dawdles again between taking a query and answering
        threading.Event().wait(0.001)
        return read_clock()

    server._now = slow_now
    return server


def test_results_do_not_depend_on_real_timing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = the_seed_bug_seed(harness)
    reference = [harness.run("single-node", seed, p).trace_lines() for p in (V14, V15)]
    # and worlds with a hung request and keep-alive connections reset under the client
    hand = _late_delivery_cases()[-2:]
    reference += [harness.run_timeline(t, p, seed=s).trace_lines() for t, p, s in hand]
    original = sim._harness.make_dns_server  # type: ignore[attr-defined]
    monkeypatch.setattr(
        sim._harness,
        "make_dns_server",
        lambda host, clock, port=0: _slow(original(host, clock, port=port)),
    )
    stop = threading.Event()

    def burn() -> None:  # CPU and GIL pressure from a busy thread
        n = 0
        while not stop.is_set():
            n += 1

    hog = threading.Thread(target=burn, daemon=True)
    hog.start()
    try:
        with Harness() as slow:
            assert type(slow._dns).__name__ == "SlowDNS"
            again = [slow.run("single-node", seed, p).trace_lines() for p in (V14, V15)]
            again += [slow.run_timeline(t, p, seed=s).trace_lines() for t, p, s in hand]
    finally:
        stop.set()
        hog.join()
    assert again == reference


# -- the kernel delivering late -----------------------------------------------------------

#: a private network namespace whose loopback releases packets from a token bucket: most
#: are delivered by a kernel timer after ``send()`` returned, as ``ksoftirqd`` delivers
#: them when a loaded machine squeezes the network softirq
_SHAPED = (
    "ip link set lo up && ip link set lo mtu 1500 && "
    'tc qdisc add dev lo root tbf rate 4mbit burst 1600 latency 2s && exec "$@"'
)

_CHILD = """
import hashlib, json, sys
import cleanup
from sim import Harness
from sim._timeline import Timeline
out = []
with Harness() as harness:
    for case in json.loads(sys.stdin.read()):
        timeline = Timeline.from_dict(case["timeline"])
        result = harness.run_timeline(
            timeline, cleanup.get_policy(case["policy"]), seed=case["seed"]
        )
        out.append(result.trace_lines())
print(json.dumps(out))
"""


def _shaping_unavailable() -> str | None:
    if shutil.which("unshare") is None or shutil.which("tc") is None:
        return "needs unshare and tc (util-linux, iproute2)"
    probe = subprocess.run(
        ["unshare", "-rn", "sh", "-c", _SHAPED, "sh", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return f"cannot shape a private loopback here: {probe.stderr.strip()}"
    return None


def _late_delivery_cases() -> list[tuple[Timeline, str, int]]:
    cases = [
        (generate_timeline(SINGLE, seed), policy, seed)
        for seed in (0, 1, 2)
        for policy in ("harvester-v1.4", "harvester-v1.5")
    ]
    # DNS that swallows queries (every lookup runs into the dial deadline); a hung
    # request; a hung request whose connection is reset when the Service loses its
    # endpoints (the repo's reset must reach the waiting client, not its 30 s timeout)
    cases.append(
        (
            hand_timeline(
                [(0, "timeout"), (40, "ok")], [(0, "timeout"), (40, "nxdomain")], [(0, "ok")]
            ),
            "harvester-v1.5",
            7,
        )
    )
    cases.append(
        (
            hand_timeline([(0, "ok")], [(0, "nxdomain")], [(0, "hang"), (45, "ok")]),
            "harvester-v1.5",
            8,
        )
    )
    cases.append(
        (
            hand_timeline(
                [(0, "ok")], [(0, "nxdomain")], [(0, "hang"), (10, "refused"), (40, "ok")]
            ),
            "harvester-v1.5",
            9,
        )
    )
    return cases


def test_results_do_not_depend_on_when_the_kernel_delivers(harness: Harness) -> None:
    """The same runs, once on the normal loopback and once where the kernel delivers most
    packets late: the traces must be byte-identical.  Before the clock drained the
    kernel before concluding "no answer", every one of these runs differed (a query
    still in the kernel was charged its 5 s timeout)."""
    why = _shaping_unavailable()
    if why is not None:
        pytest.skip(why)
    cases = _late_delivery_cases()
    expected = [harness.run_timeline(t, p, seed=s).trace_lines() for t, p, s in cases]
    payload = json.dumps([{"timeline": t.to_dict(), "policy": p, "seed": s} for t, p, s in cases])
    proc = subprocess.run(
        ["unshare", "-rn", "sh", "-c", _SHAPED, "sh", sys.executable, "-c", _CHILD],
        input=payload,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout)
    differ = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    digests = [hashlib.sha256(x.encode()).hexdigest()[:12] for x in got]
    assert differ == [], f"cases {differ} differ under late delivery ({digests})"


def test_air_gapped_upstream_decides_whether_v14_gives_up(harness: Harness) -> None:
    """Go reports the error of the name as given (tried last with ndots 5; of its A and
    AAAA the one completing last).  CoreDNS forwards that name upstream: on a connected
    cluster the upstream says NXDOMAIN, "no such host", and v1.4 gives up in the
    repo-name NXDOMAIN window; air-gapped, the forward plugin answers SERVFAIL, "server
    misbehaving" (temporary), and the same v1.4 retries through it."""
    connected = harness.run("single-node", 0, V14)
    assert connected.outcome == "not-retriable"
    (given_up,) = entries(connected, "gave-up")
    assert given_up["error"].endswith(": no such host")
    airgapped = harness.run("single-node-airgapped", 0, V14)
    assert airgapped.outcome == "success"
    kinds = {e["kind"] for e in entries(airgapped, "attempt-failed")}
    assert "dns temporary" in kinds and "dns not-found" not in kinds
    misbehaving = [e for e in entries(airgapped, "attempt-failed")
                   if e["error"].endswith(": server misbehaving")]  # fmt: skip
    assert misbehaving  # the NXDOMAIN window, masked by the upstream's SERVFAIL
    # the same world otherwise: the repo name's states are the same draws
    assert connected.timeline.dns[SINGLE.repo_host] == airgapped.timeline.dns[SINGLE.repo_host]


def test_negative_cache_keeps_the_repo_name_nxdomain_after_the_sync(harness: Harness) -> None:
    result = harness.run("single-node", 0, V15)
    events = {e["what"]: e["t"] for e in entries(result, "world")}
    synced = events["CoreDNS knows the repo Service"]
    expired = events["cached NXDOMAIN expired: the repo name resolves"]
    assert 0 < expired - synced <= 30  # the cache plugin's denial TTL in RKE2 (cache 30)
    served = [e for e in entries(result, "dns") if e["name"].rstrip(".") == SINGLE.repo_host]
    # the controller asks between the sync and the expiry and still gets NXDOMAIN
    between = [e["rcode"] for e in served if synced <= e["t"] < expired]
    assert between and set(between) == {"NXDOMAIN"}
    after = [e["rcode"] for e in served if e["t"] >= expired and e["qtype"] == "A"]
    assert after and set(after) == {"NOERROR"}


@pytest.mark.parametrize("literal", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]"])
def test_a_repo_url_naming_the_service_by_ip_literal_needs_no_dns(
    harness: Harness, literal: str
) -> None:
    """Go dials an IP-literal host without a lookup: with every name NXDOMAIN for good,
    v1.4 (which stops on "no such host") still meets the refused Service, retries it and
    succeeds once it has endpoints, and no query is sent; a refused dial of
    ``[::ffff:127.0.0.1]`` is named ``127.0.0.1:P`` as Go names it."""
    timeline = hand_timeline([(0, "nxdomain")], [(0, "nxdomain")], [(0, "refused"), (5, "ok")])
    scenario = dataclasses.replace(SINGLE, repo_literal=literal)
    result = harness.run_timeline(timeline, V14, seed=3, scenario=scenario)
    assert result.outcome == "success" and result.attempts == 2, result.report.error
    assert result.dns_queries == 0 and not entries(result, "dns")
    assert set(result.deleted) == EXPECTED_DELETED
    first = result.report.attempts[0].error or ""
    dialled = "[::1]" if literal == "[::1]" else "127.0.0.1"
    assert f'Get "http://{literal}:' in first and f"dial tcp {dialled}:" in first, first
    # the next world by name runs on the IPv4 server again
    by_name = harness.run_timeline(timeline, V15, seed=3)
    assert by_name.dns_queries > 0 and not by_name.ok


def test_a_repo_literal_the_harness_does_not_serve_is_refused(harness: Harness) -> None:
    timeline = hand_timeline([(0, "ok")], [(0, "ok")], [(0, "ok")])
    scenario = dataclasses.replace(SINGLE, repo_literal="10.0.0.1")
    with pytest.raises(ValueError, match=r"repo_literal '10\.0\.0\.1'.*127\.0\.0\.1"):
        harness.run_timeline(timeline, V15, seed=0, scenario=scenario)

"""The stub resolver against a real faultdns server, on virtual time.

Expected query sequences come from the glibc/Go algorithm (search list, ndots, A and
AAAA per candidate), and are compared with what the *server* logged, so the test sees
the wire, not the resolver's own idea of what it sent.
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator

import dnslib
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cleanup import DNSError, SystemClock
from cleanup._classify import error_kind, to_error
from cleanup._resolvconf import ResolvConfError, parse_resolv_conf
from cleanup._resolver import (
    QueryEvent,
    StubResolver,
    candidate_names,
    is_domain_name,
)
from cleanup._sysresolver import SystemResolver
from cleanup.testing import FastForwardClock
from tests.cleanup.conftest import closed_port

REPO = "upgrade-repo-hvst-upgrade-nv76q.harvester-system"
POD_SEARCH = ["harvester-system.svc.cluster.local", "svc.cluster.local", "cluster.local"]
REPO_FQDN = f"{REPO}.svc.cluster.local"


def ns(server: object) -> str:
    host, port = server.address  # type: ignore[attr-defined]
    return f"{host}:{port}"


def wire(server: object) -> list[tuple[str, str, str]]:
    """What the server saw: (name, qtype, transport) in arrival order."""
    return [(q.name, q.qtype, q.transport) for q in server.queries]  # type: ignore[attr-defined]


def both(*names: str) -> list[tuple[str, str, str]]:
    """Each name's queries in the order we send them (A first; a race in Go)."""
    return [(n, t, "udp") for n in names for t in ("A", "AAAA")]


# -- candidate order (pure) ---------------------------------------------------------------


def test_few_dots_tries_search_list_first_then_the_name() -> None:
    assert candidate_names(REPO, POD_SEARCH, 5) == [
        f"{REPO}.harvester-system.svc.cluster.local.",
        f"{REPO}.svc.cluster.local.",
        f"{REPO}.cluster.local.",
        f"{REPO}.",
    ]


def test_enough_dots_tries_the_name_first() -> None:
    assert candidate_names("a.b.c", ["x", "y."], 2) == ["a.b.c.", "a.b.c.x.", "a.b.c.y."]
    # exactly ndots dots counts as "enough" (>=), as in glibc and Go
    assert candidate_names("a.b", ["x"], 1) == ["a.b.", "a.b.x."]
    assert candidate_names("a", ["x"], 1) == ["a.x.", "a."]
    assert candidate_names("a", ["x"], 0) == ["a.", "a.x."]


def test_trailing_dot_is_absolute_only() -> None:
    assert candidate_names("repo.svc.", POD_SEARCH, 5) == ["repo.svc."]


def test_onion_and_overlong_names_are_never_queried() -> None:
    # the .onion name itself is never sent (RFC 7686); a search suffix makes it another name
    assert candidate_names("hidden.onion", ["x"], 1) == ["hidden.onion.x."]
    assert candidate_names("hidden.onion", ["x"], 2) == ["hidden.onion.x."]
    assert candidate_names("hidden.onion.", ["x"], 1) == []
    long_label = "a" * 60
    name = ".".join([long_label] * 4)  # 243 chars
    # the name itself fits; a suffix making it longer than 254 is skipped
    assert candidate_names(name, ["b" * 20], 1) == [name + "."]
    assert candidate_names("a" * 255, [], 1) == []


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        (REPO, True),
        ("a_b.example", True),
        ("-a.example", False),
        ("a-.example", False),
        ("a..b", False),
        ("1.2.3", False),  # all numeric
        ("ex ample.com", False),
        ("ünïcode.test", False),
        ("a" * 64 + ".test", False),
        ("", False),
    ],
)
def test_is_domain_name(name: str, ok: bool) -> None:
    assert is_domain_name(name) is ok


# -- against faultdns ----------------------------------------------------------------------


@pytest.fixture
def cluster_dns(faultdns_factory: object) -> object:
    """Cluster DNS answering the repo Service; authoritative for every name (like
    CoreDNS forwarding the bare ``harvester-system.`` upstream and getting NXDOMAIN)."""
    return faultdns_factory(records=[f"{REPO_FQDN}=10.53.1.20"])  # type: ignore[operator]


def pod_resolver(server: object, clock: FastForwardClock, **kwargs: object) -> StubResolver:
    events: list[QueryEvent] = []
    settings: dict[str, object] = {"search": POD_SEARCH, "ndots": 5, "on_query": events.append}
    settings.update(kwargs)
    resolver = StubResolver([ns(server)], clock=clock, **settings)  # type: ignore[arg-type]
    resolver.events = events  # type: ignore[attr-defined]
    return resolver


def test_pod_lookup_sends_the_queries_glibc_would(
    cluster_dns: object, clock: FastForwardClock
) -> None:
    resolver = pod_resolver(cluster_dns, clock)
    assert resolver.resolve(REPO) == ["10.53.1.20"]
    # harvester-system.svc.cluster.local first (NXDOMAIN), then svc.cluster.local hits
    assert wire(cluster_dns) == both(f"{REPO}.harvester-system.svc.cluster.local", REPO_FQDN)
    outcomes = [(e.name, e.qtype, e.outcome) for e in resolver.events]  # type: ignore[attr-defined]
    assert outcomes == [
        (f"{REPO}.harvester-system.svc.cluster.local.", "A", "nxdomain"),
        (f"{REPO}.harvester-system.svc.cluster.local.", "AAAA", "nxdomain"),
        (f"{REPO_FQDN}.", "A", "answer"),
        (f"{REPO_FQDN}.", "AAAA", "nodata"),
    ]
    assert clock.now() == 0.0


def test_nxdomain_everywhere_is_not_found_after_every_candidate(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    dns = faultdns_factory(records=[f"{REPO_FQDN}=10.53.1.20"], faults=["nxdomain"])  # type: ignore[operator]
    resolver = pod_resolver(dns, clock)
    with pytest.raises(DNSError) as info:
        resolver.resolve(REPO)
    err = info.value
    assert (err.is_not_found, err.is_temporary, err.is_timeout) == (True, False, False)
    assert str(err) == f"lookup {REPO} on {ns(dns)}: no such host"
    assert err.name == REPO
    assert wire(dns) == both(*[n.rstrip(".") for n in candidate_names(REPO, POD_SEARCH, 5)])
    assert error_kind(to_error(err)) == "dns not-found"


def test_name_with_enough_dots_is_tried_as_given_first(
    cluster_dns: object, clock: FastForwardClock
) -> None:
    resolver = pod_resolver(cluster_dns, clock, ndots=1)
    assert resolver.resolve(REPO) == ["10.53.1.20"]
    assert wire(cluster_dns) == both(REPO, f"{REPO}.harvester-system.svc.cluster.local", REPO_FQDN)


def test_absolute_name_ignores_the_search_list(
    cluster_dns: object, clock: FastForwardClock
) -> None:
    resolver = pod_resolver(cluster_dns, clock)
    assert resolver.resolve(REPO_FQDN + ".") == ["10.53.1.20"]
    assert wire(cluster_dns) == both(REPO_FQDN)
    with pytest.raises(DNSError, match="no such host"):
        resolver.resolve(REPO + ".")
    assert wire(cluster_dns)[2:] == both(REPO)


def test_nodata_moves_on_like_nxdomain(faultdns_factory: object, clock: FastForwardClock) -> None:
    dns = faultdns_factory(  # type: ignore[operator]
        records=[f"{REPO_FQDN}=10.53.1.20"],
        faults=[f"nodata match={REPO}.harvester-system.svc.cluster.local"],
    )
    resolver = pod_resolver(dns, clock)
    assert resolver.resolve(REPO) == ["10.53.1.20"]
    outcomes = [e.outcome for e in resolver.events]  # type: ignore[attr-defined]
    assert outcomes == ["nodata", "nodata", "answer", "nodata"]


def test_aaaa_and_a_addresses_are_both_returned(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    dns = faultdns_factory(records=["dual.test=10.0.0.7", "dual.test=fd00::7"])  # type: ignore[operator]
    resolver = StubResolver([ns(dns)], clock=clock)
    # completion order (Go sorts by RFC 6724 with the node's routes; compare as sets)
    assert sorted(resolver.resolve("dual.test")) == ["10.0.0.7", "fd00::7"]
    only_a = StubResolver([ns(dns)], clock=clock, qtypes=("A",))
    assert only_a.resolve("dual.test") == ["10.0.0.7"]
    assert [q.qtype for q in dns.queries][-1:] == ["A"]


def test_servfail_is_temporary_and_every_candidate_is_tried(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    dns = faultdns_factory(records=[f"{REPO_FQDN}=10.53.1.20"], faults=["servfail"])  # type: ignore[operator]
    resolver = pod_resolver(dns, clock)
    with pytest.raises(DNSError) as info:
        resolver.resolve(REPO)
    err = info.value
    assert (err.is_temporary, err.is_not_found, err.is_timeout) == (True, False, False)
    assert str(err) == f"lookup {REPO} on {ns(dns)}: server misbehaving"
    # Go's tryOneName: a SERVFAIL moves to the next try (attempts x servers), then Go
    # goes on with the next candidate: 4 candidates x 2 attempts x (A + AAAA).
    names = [n.rstrip(".") for n in candidate_names(REPO, POD_SEARCH, 5)]
    assert wire(dns) == [(n, t, "udp") for n in names for _ in range(2) for t in ("A", "AAAA")]
    assert error_kind(to_error(err)) == "dns temporary"


@pytest.mark.parametrize("fault", ["refused", "rcode=NOTIMP", "rcode=FORMERR", "rcode=YXDOMAIN"])
def test_deviation_1_refused_and_other_rcodes_are_misbehaving_not_temporary_next_server(
    faultdns_factory: object, clock: FastForwardClock, fault: str
) -> None:
    """Go ``checkHeader``: every rcode but SERVFAIL/NXDOMAIN is errServerMisbehaving,
    which is not temporary; ``tryOneName`` goes on to the next server."""
    dns = faultdns_factory(records=["a.test=10.0.0.1"], faults=[fault])  # type: ignore[operator]
    with pytest.raises(DNSError) as info:
        StubResolver([ns(dns)], clock=clock).resolve("a.test")
    err = info.value
    assert str(err) == f"lookup a.test on {ns(dns)}: server misbehaving"
    assert not (err.is_temporary or err.is_not_found or err.is_timeout)
    assert len(dns.queries) == 2 * 2  # two attempts each for A and AAAA
    good = faultdns_factory(records=["a.test=10.0.0.2"])  # type: ignore[operator]
    resolver = StubResolver([ns(dns), ns(good)], clock=clock, attempts=1)
    assert resolver.resolve("a.test") == ["10.0.0.2"]


def test_go_prefers_the_error_for_the_name_as_given(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    """SERVFAIL for the search candidates but NXDOMAIN for the name as given: Go
    reports "no such host" (goLookupIPCNAME: "Prefer error for original name")."""
    dns = faultdns_factory(faults=["servfail match=*.cluster.local"])  # type: ignore[operator]
    with pytest.raises(DNSError) as info:
        pod_resolver(dns, clock).resolve(REPO)
    assert info.value.is_not_found
    # With StrictErrors the first temporary error ends the lookup at once.
    before = len(dns.queries)
    with pytest.raises(DNSError) as info:
        pod_resolver(dns, clock, strict_errors=True).resolve(REPO)
    assert info.value.is_temporary and not info.value.is_not_found
    first = f"{REPO}.harvester-system.svc.cluster.local"
    assert wire(dns)[before:] == [(first, t, "udp") for _ in range(2) for t in ("A", "AAAA")]


def test_first_error_is_kept_when_the_name_as_given_is_not_tried_last(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    # ndots:1 -> the name as given goes first; its SERVFAIL stays the reported error
    # even though every later candidate says NXDOMAIN.
    dns = faultdns_factory(faults=[f"servfail match={REPO}"])  # type: ignore[operator]
    with pytest.raises(DNSError) as info:
        pod_resolver(dns, clock, ndots=1).resolve(REPO)
    assert info.value.is_temporary and not info.value.is_not_found


def test_drop_times_out_after_attempts_times_timeout_of_virtual_time(
    faultdns_factory: object, quick_clock: FastForwardClock
) -> None:
    dns = faultdns_factory(records=["a.test=10.0.0.1"], faults=["drop"])  # type: ignore[operator]
    resolver = StubResolver([ns(dns)], clock=quick_clock, timeout=5, attempts=3)
    with pytest.raises(DNSError) as info:
        resolver.resolve("a.test")
    err = info.value
    # deviation 2: Go's timeout is IsTimeout *and* IsTemporary
    assert (err.is_timeout, err.is_not_found, err.is_temporary) == (True, False, True)
    assert f"lookup a.test on {ns(dns)}: read udp 127.0.0.1:" in str(err)
    assert str(err).endswith(f"->{ns(dns)}: i/o timeout")
    # A and AAAA run concurrently, so each try costs one timeout: 3 x 5 s.
    assert quick_clock.now() == 15.0
    assert wire(dns) == both("a.test") * 3
    assert error_kind(to_error(err)) == "dns timeout"


def test_drop_over_the_whole_search_list(
    faultdns_factory: object, quick_clock: FastForwardClock
) -> None:
    dns = faultdns_factory(faults=["drop"])  # type: ignore[operator]
    resolver = pod_resolver(dns, quick_clock, timeout=2, attempts=2)
    with pytest.raises(DNSError) as info:
        resolver.resolve(REPO)
    assert info.value.is_timeout
    assert quick_clock.now() == 4 * 2 * 2.0  # candidates x attempts x timeout
    assert len(dns.queries) == 4 * 2 * 2


def test_overall_timeout_bounds_the_lookup(
    faultdns_factory: object, quick_clock: FastForwardClock
) -> None:
    dns = faultdns_factory(faults=["drop"])  # type: ignore[operator]
    resolver = pod_resolver(dns, quick_clock, timeout=5, attempts=2)
    with pytest.raises(DNSError) as info:
        resolver.resolve(REPO, timeout=12)
    assert str(info.value) == f"lookup {REPO}: i/o timeout"  # Go: ctx.Done(), no server
    assert info.value.is_timeout and info.value.is_temporary
    assert quick_clock.now() == 12.0
    assert len(dns.queries) == 3 * 2  # tries at 0, 5, 10 s


def test_truncation_falls_back_to_tcp(faultdns_factory: object, clock: FastForwardClock) -> None:
    dns = faultdns_factory(records=["big.test=10.0.0.9"], faults=["truncate"])  # type: ignore[operator]
    resolver = StubResolver([ns(dns)], clock=clock)
    assert resolver.resolve("big.test") == ["10.0.0.9"]
    assert sorted(wire(dns)) == sorted(
        [("big.test", t, p) for t in ("A", "AAAA") for p in ("udp", "tcp")]
    )
    assert [q.action for q in dns.queries if q.transport == "tcp"] == [None, None]


def test_tcp_fallback_failure_is_temporary(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    dns = faultdns_factory(records=["big.test=10.0.0.9"], faults=["truncate", "servfail proto=tcp"])  # type: ignore[operator]
    with pytest.raises(DNSError) as info:
        StubResolver([ns(dns)], clock=clock, attempts=1).resolve("big.test")
    assert info.value.is_temporary


def test_second_server_answers_when_the_first_drops(
    faultdns_factory: object, quick_clock: FastForwardClock
) -> None:
    dead = faultdns_factory(records=["a.test=10.0.0.1"], faults=["drop"])  # type: ignore[operator]
    alive = faultdns_factory(records=["a.test=10.0.0.2"])  # type: ignore[operator]
    resolver = StubResolver([ns(dead), ns(alive)], clock=quick_clock, timeout=3)
    assert resolver.resolve("a.test") == ["10.0.0.2"]
    assert quick_clock.now() == 3.0
    assert len(dead.queries) == 2 and len(alive.queries) == 2


def test_rotate_starts_each_lookup_at_the_next_server(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    one = faultdns_factory(records=["a.test=10.0.0.1"])  # type: ignore[operator]
    two = faultdns_factory(records=["a.test=10.0.0.2"])  # type: ignore[operator]
    fixed = StubResolver([ns(one), ns(two)], clock=clock)
    assert [fixed.resolve("a.test") for _ in range(3)] == [["10.0.0.1"]] * 3
    rotating = StubResolver([ns(one), ns(two)], clock=clock, rotate=True)
    got = [rotating.resolve("a.test")[0] for _ in range(4)]
    # Go's serverOffset advances once per query (tryOneName), in start order: AAAA
    # takes 0, 2, 4..., A takes 1, 3, 5...; with two servers A always starts at two.
    assert got == ["10.0.0.2"] * 4
    assert [q.qtype for q in one.queries][6:] == ["AAAA"] * 4
    assert [q.qtype for q in two.queries] == ["A"] * 4


def test_icmp_refused_is_temporary_and_costs_no_time(clock: FastForwardClock) -> None:
    port = closed_port()
    events: list[QueryEvent] = []
    resolver = StubResolver([f"127.0.0.1:{port}"], clock=clock, on_query=events.append)
    with pytest.raises(DNSError) as info:
        resolver.resolve("a.test")
    err = info.value
    assert err.is_temporary and not err.is_timeout
    assert f"on 127.0.0.1:{port}: read udp 127.0.0.1:" in str(err)
    assert str(err).endswith(f"->127.0.0.1:{port}: read: connection refused")
    assert clock.now() == 0.0
    assert {e.outcome for e in events} == {"refused"}
    assert len(events) == 2 * 2  # A and AAAA, two attempts


def test_onion_names_give_no_address_and_no_error(
    cluster_dns: object, clock: FastForwardClock
) -> None:
    """Go 1.23.9: LookupIPAddr("a.onion.") and ("a.onion") return nothing, no error."""
    resolver = StubResolver([ns(cluster_dns)], clock=clock)
    assert resolver.resolve("a.onion.") == [] and resolver.resolve("a.onion") == []
    assert cluster_dns.queries == []  # type: ignore[attr-defined]


def test_ip_literals_and_invalid_names_send_nothing(
    cluster_dns: object, clock: FastForwardClock
) -> None:
    resolver = pod_resolver(cluster_dns, clock)
    assert resolver.resolve("10.1.2.3") == ["10.1.2.3"]
    assert resolver.resolve("::1") == ["::1"]
    assert resolver.resolve("fe80::1%eth0") == ["fe80::1%eth0"]
    assert resolver.resolve("::ffff:10.1.2.3") == ["10.1.2.3"]  # Go's IP.String
    with pytest.raises(DNSError) as info:
        resolver.resolve("bad name")
    assert info.value.is_not_found
    assert cluster_dns.queries == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("host", ["[::1]", "[fd00::1]", "[127.0.0.1]", "[fe80::1%lo]", ""])
def test_finding_6_bracketed_ip_is_no_such_host(
    host: str, cluster_dns: object, clock: FastForwardClock
) -> None:
    """Go 1.23.9: ``LookupIPAddr("[::1]")`` is ``lookup [::1]: no such host`` (not
    found, no server, nothing sent): only a bare literal is an address."""
    resolver = pod_resolver(cluster_dns, clock)
    with pytest.raises(DNSError) as info:
        resolver.resolve(host)
    assert str(info.value) == f"lookup {host}: no such host"
    assert info.value.is_not_found and not info.value.is_temporary
    assert info.value.server == ""
    assert cluster_dns.queries == []  # type: ignore[attr-defined]


POD_RESOLV_CONF = """\
# written by kubelet
search harvester-system.svc.cluster.local svc.cluster.local cluster.local
nameserver 10.53.0.10
options ndots:5
"""


def test_from_resolv_conf_text_and_overrides(cluster_dns: object, clock: FastForwardClock) -> None:
    text = POD_RESOLV_CONF.replace("10.53.0.10", ns(cluster_dns))
    resolver = StubResolver.from_resolv_conf(text, clock=clock, ports=True)
    assert (resolver.ndots, resolver.search, resolver.nameservers) == (
        5,
        tuple(s + "." for s in POD_SEARCH),
        [ns(cluster_dns)],
    )
    assert resolver.resolve(REPO) == ["10.53.1.20"]
    tuned = StubResolver.from_resolv_conf(text, clock=clock, ports=True, ndots=1, attempts=4)
    assert (tuned.ndots, tuned.attempts) == (1, 4)


def test_constructor_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        StubResolver(["dns.example:53"], clock=SystemClock())
    with pytest.raises(ValueError, match="at least one nameserver"):
        StubResolver([], clock=SystemClock())
    with pytest.raises(ValueError, match="attempts"):
        StubResolver(["127.0.0.1"], attempts=0, clock=SystemClock())
    with pytest.raises(ValueError, match="qtype 'MX'"):
        StubResolver(["127.0.0.1"], qtypes=("MX",), clock=SystemClock())


def test_query_ids_come_from_the_rng(cluster_dns: object, clock: FastForwardClock) -> None:
    seen: list[int] = []

    class Recording(random.Random):
        def getrandbits(self, k: int) -> int:
            value = super().getrandbits(k)
            seen.append(value)
            return value

    StubResolver([ns(cluster_dns)], clock=clock, rng=Recording(7)).resolve(REPO_FQDN)
    expected = random.Random(7)
    assert seen == [expected.getrandbits(16), expected.getrandbits(16)]


# -- replies that must be ignored, with a scripted server ------------------------------------


class ScriptedDNS:
    """A UDP server that answers each query with a scripted list of datagrams."""

    def __init__(self, script: object) -> None:
        self.script = script
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            query = dnslib.DNSRecord.parse(data)
            for packet in self.script(query):  # type: ignore[operator]
                self.sock.sendto(packet, peer)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def scripted() -> Iterator[list[ScriptedDNS]]:
    servers: list[ScriptedDNS] = []
    yield servers
    for server in servers:
        server.close()


def answer(query: dnslib.DNSRecord, address: str = "10.0.0.5") -> dnslib.DNSRecord:
    reply = query.reply()
    if query.q.qtype == dnslib.QTYPE.A:
        reply.add_answer(dnslib.RR(query.q.qname, dnslib.QTYPE.A, rdata=dnslib.A(address)))
    return reply


def test_mismatched_and_garbage_replies_are_ignored(
    scripted: list[ScriptedDNS], clock: FastForwardClock
) -> None:
    def script(query: dnslib.DNSRecord) -> list[bytes]:
        wrong_id = answer(query, "6.6.6.6")
        wrong_id.header.id = (query.header.id + 1) % 65536
        wrong_name = answer(dnslib.DNSRecord.question("evil.test", "A"), "6.6.6.6")
        wrong_name.header.id = query.header.id
        not_a_reply = answer(query, "6.6.6.6")
        not_a_reply.header.qr = 0
        return [
            b"\x00garbage",
            wrong_id.pack(),
            wrong_name.pack(),
            not_a_reply.pack(),
            answer(query).pack(),
        ]

    server = ScriptedDNS(script)
    scripted.append(server)
    assert StubResolver([server.address], clock=clock).resolve("ok.test") == ["10.0.0.5"]
    assert clock.now() == 0.0


def test_lame_referral_moves_to_the_next_server(
    scripted: list[ScriptedDNS], clock: FastForwardClock
) -> None:
    def lame(query: dnslib.DNSRecord) -> list[bytes]:
        reply = dnslib.DNSRecord(dnslib.DNSHeader(id=query.header.id, qr=1, rd=1), q=query.q)
        return [reply.pack()]  # NOERROR, not authoritative, no recursion, nothing in it

    def good(query: dnslib.DNSRecord) -> list[bytes]:
        return [answer(query, "10.0.0.8").pack()]

    first, second = ScriptedDNS(lame), ScriptedDNS(good)
    scripted.extend([first, second])
    events: list[QueryEvent] = []
    resolver = StubResolver([first.address, second.address], clock=clock, on_query=events.append)
    assert resolver.resolve("ok.test") == ["10.0.0.8"]
    # each query got "lame referral" from the first server, then its answer (the two
    # queries run concurrently, so how their events interleave is up to the network)
    assert sorted((e.qtype, e.server, e.outcome) for e in events) == sorted(
        [
            ("A", first.address, "lame"),
            ("A", second.address, "answer"),
            ("AAAA", first.address, "lame"),
            ("AAAA", second.address, "nodata"),
        ]
    )
    with pytest.raises(DNSError) as info:
        StubResolver([first.address], clock=clock).resolve("ok.test")
    assert "lame referral" in str(info.value)
    assert not (info.value.is_temporary or info.value.is_not_found or info.value.is_timeout)


# -- the system resolver -------------------------------------------------------------------


def test_system_resolver_resolves_localhost() -> None:
    assert "127.0.0.1" in SystemResolver().resolve("localhost")
    assert SystemResolver().resolve("10.9.8.7") == ["10.9.8.7"]


@pytest.mark.parametrize(
    ("code", "flag"),
    [
        (socket.EAI_NONAME, "is_not_found"),
        (socket.EAI_AGAIN, "is_temporary"),
        (socket.EAI_FAIL, None),  # Go's cgo resolver: not temporary
    ],
)
def test_system_resolver_maps_getaddrinfo_errors(
    monkeypatch: pytest.MonkeyPatch, code: int, flag: str | None
) -> None:
    def fail(*args: object, **kwargs: object) -> object:
        raise socket.gaierror(code, "from the test")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(DNSError) as info:
        SystemResolver().resolve("repo.test")
    flags = {"is_not_found", "is_timeout", "is_temporary"}
    assert {f for f in flags if getattr(info.value, f)} == ({flag} if flag else set())
    assert info.value.name == "repo.test"
    assert isinstance(info.value.__cause__, socket.gaierror)


# -- generated inputs ------------------------------------------------------------------------

LABELS = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
NAMES = st.lists(LABELS, min_size=1, max_size=5).map(".".join)


@given(NAMES, st.lists(NAMES, max_size=6), st.integers(min_value=0, max_value=15))
def test_candidate_order_properties(name: str, search: list[str], ndots: int) -> None:
    names = candidate_names(name, search, ndots)
    assert names[0 if name.count(".") >= ndots else -1] == name + "."
    assert [n for n in names if n != name + "."] == [f"{name}.{s}." for s in search]
    assert candidate_names(name + ".", search, ndots) == [name + "."]


@given(st.text(max_size=300))
def test_resolv_conf_parser_accepts_or_names_the_line(text: str) -> None:
    # Go never rejects a resolv.conf: the default reading never raises
    conf = parse_resolv_conf(text, source="generated", hostname="node")
    assert 1 <= len(conf.nameservers) <= 3
    try:
        conf = parse_resolv_conf(text, source="generated", hostname="node", ports=True)
    except ResolvConfError as exc:
        assert str(exc).startswith("generated line ")
    else:
        assert 1 <= len(conf.nameservers) <= 3
        assert 0 <= conf.ndots <= 15 and conf.timeout >= 1 and conf.attempts >= 1


# -- issue 8: every deviation from Go as a named case ---------------------------------------

DEV3_SEARCH = ["harvester-system.svc.cluster.local", "svc.cluster.local", "cluster.local"]
DEV3_NAME = "upgrade-repo-x.harvester-system"
DEV3_FAULTS = [f"servfail match={DEV3_NAME} qtype=A", "nxdomain"]


@pytest.mark.parametrize("clock_kind", ["system", "manual"])
def test_deviation_3_error_that_completes_last_wins_for_the_name_as_given(
    faultdns_factory: object, clock_kind: str
) -> None:
    """Go 1.23.9 (10/10 runs): "server misbehaving", temporary.  For the name as given
    A gets SERVFAIL twice (two attempts) while AAAA gets one NXDOMAIN, so A completes
    last and its error replaces "no such host" (``goLookupIPCNAME``)."""
    dns = faultdns_factory(origins=["cluster.local", "harvester-system"], faults=DEV3_FAULTS)  # type: ignore[operator]
    clock = cleanup_clock(clock_kind)
    resolver = StubResolver([ns(dns)], search=DEV3_SEARCH, ndots=5, clock=clock)
    with pytest.raises(DNSError) as info:
        resolver.resolve(DEV3_NAME)
    err = info.value
    assert str(err) == f"lookup {DEV3_NAME} on {ns(dns)}: server misbehaving"
    assert (err.is_temporary, err.is_not_found, err.is_timeout) == (True, False, False)
    assert wire(dns)[-3:] == [
        (DEV3_NAME, "A", "udp"),
        (DEV3_NAME, "AAAA", "udp"),
        (DEV3_NAME, "A", "udp"),
    ]


def cleanup_clock(kind: str) -> FastForwardClock | SystemClock:
    return SystemClock() if kind == "system" else FastForwardClock()


def test_deviation_3_a_timeout_completes_after_an_immediate_answer(
    faultdns_factory: object, quick_clock: FastForwardClock
) -> None:
    """Completion order follows time (Go 1.23.9, 3/3 runs, 2.0 s each): A dropped
    (times out after 2 x 1 s), AAAA SERVFAIL at once: the timeout completes last and
    is the error for the name as given."""
    dns = faultdns_factory(faults=["drop match=a.test qtype=A", "servfail match=a.test"])  # type: ignore[operator]
    resolver = StubResolver([ns(dns)], clock=quick_clock, timeout=1)
    with pytest.raises(DNSError) as info:
        resolver.resolve("a.test")
    assert info.value.is_timeout and info.value.is_temporary
    assert quick_clock.now() == 2.0  # A's two tries; AAAA's ran at the same time
    # A rooted name is never "the name as given" in Go's check (fqdn == name + "."):
    # the first error met stays, here AAAA's SERVFAIL (Go 1.23.9: 3/3 runs)
    with pytest.raises(DNSError) as info:
        resolver.resolve("a.test.")
    assert str(info.value) == f"lookup a.test. on {ns(dns)}: server misbehaving"
    assert quick_clock.now() == 4.0


def test_deviation_4_tc_reply_cut_mid_record_goes_to_tcp_at_once(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    """A UDP reply with TC cut at 512 bytes in the middle of a record: Go reads header
    and question only and asks again over TCP at once, with a fresh timeout."""
    records = [f"big.test=10.0.{i // 250}.{i % 250 + 1}" for i in range(60)]
    dns = faultdns_factory(records=records, faults=["truncate=512 match=big.test"])  # type: ignore[operator]
    events: list[QueryEvent] = []
    resolver = StubResolver([ns(dns)], clock=clock, on_query=events.append)
    addresses = resolver.resolve("big.test")
    assert sorted(addresses) == sorted(r.split("=")[1] for r in records)
    assert clock.now() == 0.0  # no timeout was waited for
    a_events = [(e.transport, e.outcome) for e in events if e.qtype == "A"]
    assert a_events == [("udp", "truncated"), ("tcp", "answer")]
    assert ("big.test", "A", "tcp") in wire(dns)


def test_deviation_5_extended_rcode_badvers_is_misbehaving(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    """Header NOERROR, OPT extended rcode 1 (BADVERS = 16): Go 1.23's checkHeader uses
    the extended rcode: "server misbehaving", not temporary, next server."""
    dns = faultdns_factory(records=["a.test=10.0.0.1"], faults=["rcode=BADVERS match=a.test"])  # type: ignore[operator]
    events: list[QueryEvent] = []
    with pytest.raises(DNSError) as info:
        StubResolver([ns(dns)], clock=clock, on_query=events.append).resolve("a.test")
    err = info.value
    assert str(err) == f"lookup a.test on {ns(dns)}: server misbehaving"
    assert not (err.is_temporary or err.is_timeout or err.is_not_found)
    assert {(e.outcome, e.detail) for e in events} == {("rcode", "16")}


def test_deviation_6_single_request_asks_a_then_aaaa(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    """Go 1.23.9 with ``options single-request``: A, then AAAA, one after the other."""
    dns = faultdns_factory(records=["a.test=10.0.0.1"])  # type: ignore[operator]
    text = f"nameserver {ns(dns)}\noptions single-request\n"
    resolver = StubResolver.from_resolv_conf(text, clock=clock, hostname="node", ports=True)
    assert resolver.resolve("a.test.") == ["10.0.0.1"]
    assert wire(dns) == [("a.test", "A", "udp"), ("a.test", "AAAA", "udp")]


def test_deviation_6_use_vc_asks_over_tcp_only(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    dns = faultdns_factory(records=["a.test=10.0.0.1"])  # type: ignore[operator]
    text = f"nameserver {ns(dns)} # our dns\noptions use-vc ndots:five\n"
    resolver = StubResolver.from_resolv_conf(text, clock=clock, hostname="node", ports=True)
    assert resolver.resolve("a.test") == ["10.0.0.1"]
    assert {t for _n, _q, t in wire(dns)} == {"tcp"}


def test_deviation_6_search_domain_with_a_long_label_is_skipped(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    """Go: the candidate fails with "cannot marshal DNS message" without a packet and
    the lookup goes on to the next candidate."""
    dns = faultdns_factory(records=["a.ok.test=10.0.0.3"])  # type: ignore[operator]
    long = "x" * 64 + ".test"
    events: list[QueryEvent] = []
    resolver = StubResolver(
        [ns(dns)], search=[long, "ok.test"], ndots=2, clock=clock, on_query=events.append
    )
    assert resolver.resolve("a") == ["10.0.0.3"]
    assert wire(dns) == both("a.ok.test")
    assert [e.outcome for e in events][:4] == ["marshal"] * 4  # 2 queries x 2 attempts
    only_long = StubResolver([ns(dns)], search=[long], ndots=2, clock=clock)
    with pytest.raises(DNSError) as info:
        only_long.resolve("zz.test")  # the name as given answers NXDOMAIN: it wins
    assert info.value.is_not_found


def test_cannot_marshal_is_reported_when_nothing_else_was_asked(clock: FastForwardClock) -> None:
    resolver = StubResolver(["127.0.0.1:9"], search=["x" * 64], ndots=5, clock=clock)
    with pytest.raises(DNSError) as info:
        resolver.resolve("a" * 63 + "." + "b")  # the name as given is tried last...
    # ...and is sent to a closed port: its error, not the marshal one, is reported
    assert "connection refused" in str(info.value)
    rooted = StubResolver(["127.0.0.1:9"], clock=clock)
    with pytest.raises(DNSError) as info:
        rooted.resolve("a..b.")
    assert info.value.is_not_found  # not a domain name: nothing is tried


def test_lame_referral_from_faultdns(faultdns_factory: object, clock: FastForwardClock) -> None:
    dns = faultdns_factory(records=["a.test=10.0.0.1"], faults=["lame match=a.test"])  # type: ignore[operator]
    with pytest.raises(DNSError) as info:
        StubResolver([ns(dns)], clock=clock).resolve("a.test")
    assert str(info.value) == f"lookup a.test on {ns(dns)}: lame referral"
    assert not (info.value.is_temporary or info.value.is_not_found)


def test_tcponly_answers_after_a_question_only_tc_reply(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    dns = faultdns_factory(records=["a.test=10.0.0.1"], faults=["tcponly match=a.test"])  # type: ignore[operator]
    assert StubResolver([ns(dns)], clock=clock).resolve("a.test") == ["10.0.0.1"]
    assert sorted(wire(dns)) == sorted(
        ("a.test", t, p) for t in ("A", "AAAA") for p in ("udp", "tcp")
    )


def test_tcp_fallback_gets_a_fresh_timeout(
    faultdns_factory: object, quick_clock: FastForwardClock
) -> None:
    """Go ``exchange``: the TCP retry of a truncated reply gets its own ``timeout``."""
    dns = faultdns_factory(
        records=["a.test=10.0.0.1"], faults=["truncate match=a.test", "drop proto=tcp"]
    )  # type: ignore[operator]
    resolver = StubResolver([ns(dns)], clock=quick_clock, timeout=3, attempts=1)
    with pytest.raises(DNSError) as info:
        resolver.resolve("a.test.")
    assert quick_clock.now() == 3.0
    assert info.value.is_timeout and "read tcp 127.0.0.1:" in str(info.value)


@pytest.mark.parametrize("spelling", ["{ip}:{port}", "[{ip}]:{port}", "{ip}:abc", "{ip}:99999"])
def test_finding_4_nameserver_with_a_port_is_skipped_as_go_skips_it(
    spelling: str, faultdns_factory: object, clock: FastForwardClock
) -> None:
    """Go 1.23.9 keeps a resolv.conf nameserver only when netip.ParseAddr takes it
    (review finding 4, h1.py ns-with-port, h2.py ns-bad-port): the server on the port is
    never asked, the next line's server (port 53) is, and nothing is rejected."""
    dns = faultdns_factory(records=["a.test=10.0.0.1"])  # type: ignore[operator]
    ip, port = dns.address
    text = f"nameserver {spelling.format(ip=ip, port=port)}\nnameserver 127.0.0.2\n"
    resolver = StubResolver.from_resolv_conf(text + "options attempts:1\n", clock=clock)
    assert resolver.nameservers == ["127.0.0.2:53"]
    with pytest.raises(DNSError) as info:
        resolver.resolve("a.test.")
    assert str(info.value).startswith("lookup a.test. on 127.0.0.2:53: read udp ")
    assert info.value.server == "127.0.0.2:53"
    assert wire(dns) == []
    if spelling == "{ip}:{port}":  # the opt-in the tests use reaches the server
        opted = StubResolver.from_resolv_conf(text, clock=clock, ports=True)
        assert opted.resolve("a.test.") == ["10.0.0.1"]


def test_truncated_aaaa_against_four_servers_of_a(
    faultdns_factory: object, clock: FastForwardClock
) -> None:
    """The world of tests/cleanup/test_dnsrules.py's test of this name, on real servers.

    All at one virtual instant.  A: REFUSED (server 0), SERVFAIL over UDP (1), ICMP port
    unreachable (2, nothing listens), NXDOMAIN (3): four rounds.  AAAA: truncated, then
    NODATA over TCP from server 0: three rounds (a TCP exchange is connect, then reply).
    Go keeps the error of the lane it receives last (``goLookupIPCNAMEOrder``), here A's:
    "no such host" from server 3, whatever order the replies reach our sockets in (this
    resolver once took its waits' order and reported server 0)."""
    records = ["cnamev4.repo.test CNAME t.repo.test", "t.repo.test A 10.0.0.4"]
    faults = [
        ["refused qtype=A", "truncate qtype=AAAA"],
        ["servfail proto=udp qtype=A"],
        None,
        ["nxdomain qtype=A"],
    ]
    names = [
        ns(faultdns_factory(origins=["test"], records=records, faults=f))  # type: ignore[operator]
        if f is not None
        else f"127.0.0.1:{closed_port()}"
        for f in faults
    ]
    for _ in range(3):
        events: list[QueryEvent] = []
        resolver = StubResolver(
            names, attempts=1, timeout=1, clock=clock, hosts=None, on_query=events.append
        )
        with pytest.raises(DNSError) as info:
            resolver.resolve("cnamev4.repo.test")
        assert str(info.value) == f"lookup cnamev4.repo.test on {names[3]}: no such host"
        assert info.value.is_not_found and not info.value.is_temporary
        assert [(e.qtype, e.transport, e.outcome) for e in events if e.qtype == "AAAA"] == [
            ("AAAA", "udp", "truncated"),
            ("AAAA", "tcp", "nodata"),
        ]
        assert [e.outcome for e in events if e.qtype == "A"] == [
            "rcode",
            "servfail",
            "refused",
            "nxdomain",
        ]
    assert clock.now() == 0.0

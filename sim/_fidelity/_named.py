"""Named differential cases: the deviations listed in issue 8, and plain ones.

One table, used by ``tests/fidelity/test_named.py`` (one test each, some with extra
assertions about Go's side), by ``sim fidelity`` (run before the generated cases) and
by ``bench/fidelity_bench.py``.  A case that needs a faultdns action this faultdns
does not understand yet lists it in :attr:`Named.needs`; :func:`runnable` says whether
it can run here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim._fidelity._case import Case, ServerPlan
from sim._fidelity._strategies import supported_action

__all__ = ["NAMED", "Named", "runnable"]

# What a Harvester pod's resolv.conf says (the reference file).
CLUSTER = (
    "search harvester-system.svc.cluster.local svc.cluster.local cluster.local\n"
    "nameserver {ns0}\n"
    "options ndots:5\n"
)
CLUSTER_QUICK = CLUSTER.replace("ndots:5", "ndots:5 timeout:1 attempts:1")
# One server, a 1 s timeout and one attempt: a silent server costs 1 s, not 10.
QUICK = "nameserver {ns0}\noptions timeout:1 attempts:1\n"
SEARCH_A = "search a.test\nnameserver {ns0}\noptions timeout:1 attempts:1\n"
TWO = "nameserver {ns0}\nnameserver {ns1}\noptions timeout:1 attempts:1\n"
REPO = "upgrade-repo-x.harvester-system"
REPO_FQDN = "upgrade-repo-x.harvester-system.svc.cluster.local"
DOWN = ServerPlan(down=True)


#: a host name of 253 bytes (63-byte labels): rooted it is 254, as is one more letter
_NAME_253 = ".".join(["a" * 63] * 3 + ["a" * 61])


def up(*faults: str) -> ServerPlan:
    return ServerPlan(tuple(faults))


@dataclass(frozen=True)
class Named:
    """A named case, the faultdns actions it needs, and where it comes from."""

    case: Case
    needs: tuple[str, ...] = ()
    why: str = ""


def _http(behaviour: str = "ok", target: str = "{http}", **kw: object) -> Case:
    return Case(
        CLUSTER,
        (up(),),
        get=f"http://{REPO}",
        records=(f"{REPO_FQDN}={target}",),
        http=behaviour,
        label=f"http {behaviour} {target}",
        **kw,  # type: ignore[arg-type]
    )


NAMED: dict[str, Named] = {
    # plain cases
    "answer": Named(
        Case(CLUSTER, (up(),), lookup=REPO, records=(f"{REPO_FQDN}=10.53.1.7",), label="answer")
    ),
    "nxdomain": Named(Case(CLUSTER, (up(),), lookup=REPO, label="NXDOMAIN for every candidate")),
    "nodata": Named(Case(CLUSTER, (up("nodata"),), lookup=REPO, label="NODATA everywhere")),
    "servfail": Named(Case(CLUSTER, (up("servfail"),), lookup=REPO, label="SERVFAIL")),
    "down-then-answer": Named(
        Case(
            TWO,
            (DOWN, up()),
            lookup="repo.test.",
            records=("repo.test=10.0.0.9",),
            label="down, then answer",
        )
    ),
    "all-down": Named(Case(QUICK, (DOWN,), lookup="repo.test.", label="nameserver down")),
    "cname-chain": Named(
        Case(
            QUICK,
            (up(),),
            lookup="a.test.",
            records=("a.test CNAME b.test", "b.test CNAME c.test", "c.test=10.0.0.3"),
            label="CNAME chain",
        )
    ),
    "ip-literal": Named(Case(QUICK, (up(),), lookup="10.1.2.3", label="IP literal")),
    # TCP replies under a length prefix that disagrees with them (faultdns frame=, after
    # tcponly sends the client to TCP): Go reads exactly the announced bytes
    **{
        f"tcp-frame-{shape}": Named(
            Case(
                TWO,
                (up("tcponly", f"frame={shape}"), up()),
                lookup="repo.test.",
                records=("repo.test=10.0.0.10",),
                label=f"TCP reply framed {shape}, then an answer",
            ),
            needs=(f"frame={shape}",),
            why=why,
        )
        for shape, why in (
            ("short", "the header alone: cannot unmarshal DNS message, next server"),
            ("0", "nothing announced: cannot unmarshal DNS message, next server"),
            ("long", "one byte past the reply, then FIN: unexpected EOF, next server"),
            ("hang", "one byte past the reply, then silence: read timeout, next server"),
        )
    },
    **{
        f"tcp-frame-{shape}-next-name": Named(
            Case(
                SEARCH_A,
                (up("tcponly match=repo.a.test", f"frame={shape} match=repo.a.test"),),
                lookup="repo",
                records=("repo.a.test=10.0.0.1", "repo=10.0.0.2"),
                label=f"TCP reply framed {shape} for the first candidate, then the next name",
            ),
            needs=(f"frame={shape}",),
            why="Go goes on to the next candidate name after the framing error",
        )
        for shape in ("short", "long")
    },
    "tcp-frame-long-everywhere": Named(
        Case(
            QUICK,
            (up("tcponly", "frame=long"),),
            lookup="repo.test.",
            records=("repo.test=10.0.0.11",),
            label="TCP reply one byte short of its prefix, then FIN",
        ),
        needs=("frame=long",),
        why="Go: unexpected EOF, no flag",
    ),
    # DNS's length limit (issue 11, seed 22; Go's nameList and isDomainName): a rooted
    # name of 254 bytes is asked, the same name unrooted never
    "name-254-rooted": Named(
        Case(
            QUICK,
            (up(),),
            lookup=_NAME_253 + ".",
            records=(f"{_NAME_253}=10.0.0.15",),
            label="a rooted name of 254 bytes",
        ),
        why="asked as it is: its address",
    ),
    "name-254-unrooted": Named(
        Case(
            QUICK,
            (up(),),
            lookup=_NAME_253 + "a",
            records=(f"{_NAME_253}=10.0.0.15",),
            label="an unrooted name of 254 bytes",
        ),
        why="never asked: no such host",
    ),
    # a whole reply with TC set over TCP (issue 11, seed 22): Go's exchange sends only a
    # UDP reply with TC to TCP, and takes a TCP one as it is
    "tc-whole-over-tcp": Named(
        Case(
            QUICK,
            (up("tcponly", "truncate=65535 proto=tcp"),),
            lookup="repo.test.",
            records=("repo.test=10.0.0.14",),
            label="TC over UDP, then the whole reply with TC over TCP",
        ),
        needs=("tcponly", "truncate=65535"),
        why="TCP: the reply is taken as it is, its address the answer",
    ),
    # replies whose header counts other than one question (faultdns qdcount=,
    # mismatch=qdcount; issue 11, seed 20): Go's exchange ignores one counting none over
    # UDP and calls one counting two "invalid DNS response", parsable second or not
    "qdcount-none-then-answer": Named(
        Case(
            TWO,
            (up("mismatch=qdcount"), up()),
            lookup="repo.test.",
            records=("repo.test=10.0.0.12",),
            label="a reply counting no question, then an answer",
        ),
        needs=("mismatch=qdcount",),
        why="UDP: not ours, read past until the timeout; the next server answers",
    ),
    "qdcount-two-everywhere": Named(
        Case(
            QUICK,
            (up("mismatch=qdcount:2"),),
            lookup="repo.test.",
            records=("repo.test=10.0.0.13",),
            label="the zone's reply counting two questions",
        ),
        needs=("mismatch=qdcount:2",),
        why="the second question parses from the answer: invalid DNS response, no flag",
    ),
    "qdcount-two-cut-everywhere": Named(
        Case(
            QUICK,
            (up("lame qdcount=2"),),
            lookup="repo.test.",
            label="a reply counting two questions with no byte left for the second",
        ),
        needs=("lame qdcount=2",),
        why="SkipQuestion fails: invalid DNS response, no flag",
    ),
    "qdcount-two-tc-then-answer": Named(
        Case(
            TWO,
            (up("truncate qdcount=2"), up()),
            lookup="repo.test.",
            records=("repo.test=10.0.0.14",),
            label="a TC reply counting two questions, then an answer",
        ),
        needs=("truncate qdcount=2",),
        why="invalid DNS response before the TC test: no TCP retry, the next server answers",
    ),
    "http-ok": Named(_http()),
    "http-refused": Named(_http(target="{refused}")),
    "http-404": Named(_http("status=404")),
    "http-redirect": Named(_http("redirect")),
    "http-reset": Named(_http("reset")),
    "http-eof-body": Named(_http("eof-body")),
    "http-silent-connect": Named(_http(target="{blackhole}")),
    "http-redirect-301": Named(_http("redirect=301")),
    "http-redirect-303": Named(_http("redirect=303")),
    "http-redirect-307": Named(_http("redirect=307")),
    "http-redirect-308": Named(_http("redirect=308")),
    # review finding 3: the controller checks the status before reading any body
    "finding-3-status500-reset-in-body": Named(
        _http("status-reset=500"),
        why="Go: 'unexpected status 500', not retried; the body (reset) is never read",
    ),
    "finding-3-status404-silent-body": Named(
        _http("status-silent=404", timeout=2.0),
        why="Go: 'unexpected status 404' at once, not retried; no wait for the silent body",
    ),
    # review finding 1: Go cuts each address's dial share from the dialer's own 30 s
    "finding-1-blackhole-then-http": Named(
        Case(
            QUICK,
            (up(),),
            get="http://repo.test",
            records=("repo.test={blackhole}", "repo.test={http}"),
            timeout=3.0,
            label="finding 1: first address silent at connect, second answers; timeout 3 s",
        ),
        why="Go: Client.Timeout at 3.0 s (retriable); the 2 s dial share is not cut to 3 s",
    ),
    "finding-1-blackhole-then-refused": Named(
        Case(
            QUICK,
            (up(),),
            get="http://repo.test",
            records=("repo.test={blackhole}", "repo.test={refused}"),
            timeout=3.0,
            label="finding 1: first address silent at connect, second refuses; timeout 3 s",
        ),
        why="Go: Client.Timeout at 3.0 s, not 'dial tcp ...: i/o timeout' at 2.0 s",
    ),
    # review finding 4: Go's dnsReadConfig ignores a nameserver line netip cannot parse
    "finding-4-nameserver-with-port": Named(
        Case(
            "nameserver {ns0}:53\nnameserver {ns1}\n" + QUICK.split("\n", 1)[1],
            (up(), up("servfail")),
            lookup="repo.test.",
            records=("repo.test=10.0.0.4",),
            label="finding 4: nameserver IP:PORT is ignored (Go asks only the second)",
        )
    ),
    "finding-4-nameserver-bad-port": Named(
        Case(
            "nameserver {ns0}:abc\nnameserver {ns0}\n" + QUICK.split("\n", 1)[1],
            (up(),),
            lookup="repo.test.",
            records=("repo.test=10.0.0.4",),
            label="finding 4: nameserver IP:abc is ignored, not an error",
        )
    ),
    "finding-4-nameserver-garbage": Named(
        Case(
            "nameserver dns.example\nnameserver {ns0}\n" + QUICK.split("\n", 1)[1],
            (up(),),
            lookup="repo.test.",
            records=("repo.test=10.0.0.4",),
            label="finding 4: nameserver that is not an address is ignored",
        )
    ),
    # review finding 5: hosts: files dns answers localhost from /etc/hosts
    "finding-5-localhost": Named(
        Case(
            SEARCH_A,
            (up(),),
            lookup="localhost",
            records=("localhost.a.test=10.9.9.9", "localhost=10.9.9.8"),
            label="finding 5: localhost from /etc/hosts, no DNS",
        )
    ),
    "finding-5-localhost-mixed-case": Named(
        Case(
            SEARCH_A,
            (up(),),
            lookup="LocalHost",
            records=("localhost.a.test=10.9.9.9", "localhost=10.9.9.8"),
            label="finding 5: LocalHost from /etc/hosts (case-insensitive)",
        )
    ),
    # review finding 6
    "finding-6-ipv6-bracket": Named(
        Case(SEARCH_A, (up(),), lookup="[::1]", label="finding 6: [::1] is not an address")
    ),
    # review finding 2: a true A/AAAA tie; Go's outcome is a near coin flip, so agreement
    # is "ours equals one of Go's outcomes" (both sides rerun, see _oracle)
    "finding-2-tie-a-servfail": Named(
        Case(
            CLUSTER_QUICK,
            (up(f"servfail match={REPO} qtype=A"),),
            lookup=REPO,
            label="finding 2: tie, A SERVFAIL for the name as given, the rest NXDOMAIN",
        ),
        why="Go: 'server misbehaving' or 'no such host', by which of A/AAAA completes last",
    ),
    "finding-2-tie-aaaa-servfail": Named(
        Case(
            CLUSTER_QUICK,
            (up(f"servfail match={REPO} qtype=AAAA"),),
            lookup=REPO,
            label="finding 2: tie, AAAA SERVFAIL for the name as given, the rest NXDOMAIN",
        ),
        why="Go: 'server misbehaving' or 'no such host', by which of A/AAAA completes last",
    ),
    # review finding 8: an empty name gets a verdict, not an exception
    "finding-8-empty-name": Named(
        Case(SEARCH_A, (up(),), lookup="", label="finding 8: empty name")
    ),
    # review finding 7: rare HTTP failures, worded as Go words them
    "finding-7-redirect-bad-location": Named(_http("redirect-bad-location")),
    "finding-7-redirect-ftp": Named(_http("redirect-ftp")),
    # the deviations of issue 8
    "deviation-1-refused": Named(
        Case(
            TWO, (up("refused"), up("refused")), lookup="repo.test.", label="deviation 1: REFUSED"
        ),
        why="Go: REFUSED is 'server misbehaving', not temporary; the next server is tried",
    ),
    "deviation-1-notimp": Named(
        Case(TWO, (up("rcode=NOTIMP"),) * 2, lookup="repo.test.", label="deviation 1: NOTIMP"),
        needs=("rcode=NOTIMP",),
    ),
    "deviation-1-formerr-next-server": Named(
        Case(
            TWO,
            (up("rcode=FORMERR"), up()),
            lookup="repo.test.",
            records=("repo.test=10.0.0.4",),
            label="deviation 1: FORMERR, then an answer",
        ),
        needs=("rcode=FORMERR",),
    ),
    "deviation-2-timeout": Named(
        Case(QUICK, (up("drop"),), lookup="repo.test.", label="deviation 2: DNS timeout"),
        why="Go: a timeout sets IsTimeout and IsTemporary",
    ),
    "deviation-3-last-completing-error": Named(
        Case(
            CLUSTER,
            (up(f"servfail match={REPO} qtype=A", "nxdomain"),),
            lookup=REPO,
            label="deviation 3: A SERVFAIL, AAAA NXDOMAIN for the name as given",
        ),
        why="Go keeps the error of the query that completes last: 'server misbehaving'",
    ),
    "deviation-4-tc-cut-at-512": Named(
        Case(
            QUICK,
            (up("truncate=512"),),
            lookup="big.test.",
            records=tuple(f"big.test=10.0.{i // 250}.{i % 250 + 1}" for i in range(60)),
            label="deviation 4: TC reply cut mid-record at 512 bytes",
        ),
        needs=("truncate=512",),
    ),
    "deviation-5-extended-rcode": Named(
        Case(
            QUICK,
            (up("rcode=16"),),
            lookup="repo.test.",
            records=("repo.test=10.0.0.5",),
            label="deviation 5: extended RCODE 16 (BADVERS) in OPT",
        ),
        needs=("rcode=16",),
    ),
    "deviation-6-comment-after-nameserver": Named(
        Case(
            "nameserver {ns0} # cluster dns\noptions timeout:1 attempts:1\n",
            (up(),),
            lookup="repo.test.",
            records=("repo.test=10.0.0.6",),
            label="deviation 6: comment after a value",
        )
    ),
    "deviation-6-ndots-five": Named(
        Case(
            "search svc.cluster.local\nnameserver {ns0}\noptions ndots:five timeout:1\n",
            (up(),),
            lookup="a.b",
            records=("a.b.svc.cluster.local=10.0.0.8",),
            label="deviation 6: ndots:five",
        )
    ),
    "deviation-6-empty-search": Named(
        Case(
            "search\nnameserver {ns0}\noptions timeout:1 attempts:1\n",
            (up(),),
            lookup="repo",
            records=("repo=10.0.0.2",),
            label="deviation 6: empty search",
        )
    ),
    "deviation-6-single-request": Named(
        Case(
            "search a.test b.test\nnameserver {ns0}\noptions ndots:2 single-request timeout:1\n",
            (up(),),
            lookup="repo",
            label="deviation 6: single-request",
        )
    ),
    "deviation-6-single-request-silence": Named(
        Case(
            "nameserver {ns0}\noptions single-request timeout:1 attempts:1\n",
            (up("drop"),),
            lookup="repo.test.",
            label="deviation 6: single-request, silent server (A, then AAAA: 2 s)",
        )
    ),
    "deviation-6-use-vc": Named(
        Case(
            "nameserver {ns0}\noptions use-vc timeout:1 attempts:1\n",
            (up(),),
            lookup="repo.test.",
            records=("repo.test=10.0.0.1",),
            label="deviation 6: use-vc",
        )
    ),
    "deviation-6-long-search-label": Named(
        Case(
            f"search {'x' * 64}.test ok.test\nnameserver {{ns0}}\noptions ndots:2 timeout:1\n",
            (up(),),
            lookup="repo",
            records=("repo.ok.test=10.0.0.3",),
            label="deviation 6: search domain with a label over 63 bytes",
        )
    ),
    "deviation-7-lookup-and-silence": Named(
        Case(
            QUICK,
            (up("delay=800ms"),),
            get="http://repo.test.",
            records=("repo.test={http}",),
            http="silent-headers",
            timeout=1.0,
            label="deviation 7: timeout 1 s, DNS delay 0.8 s, silent server",
        ),
        why="Go's Client.Timeout is one deadline: fails at 1.0 s (ours: 1.8 s)",
    ),
    "deviation-7-dribbled-headers": Named(
        Case(
            QUICK,
            (up(),),
            get="http://repo.test.",
            records=("repo.test={http}",),
            http="dribble-headers=0.5x62",
            timeout=3.0,
            label="deviation 7: headers one byte per 0.5 s, timeout 3 s",
        ),
        why="Go gives up at 3 s (ours took 31 s)",
    ),
}


def runnable(named: Named) -> str:
    """ "" when ``named`` can run here, else why not (the faultdns action it lacks)."""
    missing = [spec for spec in named.needs if not supported_action(spec)]
    return f"faultdns does not understand {', '.join(map(repr, missing))} yet" if missing else ""

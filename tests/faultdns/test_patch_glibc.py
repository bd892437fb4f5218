"""faultdns.patch_getaddrinfo against real glibc, fault by fault.

Each case runs Python's real `socket.getaddrinfo` (glibc) in a subprocess under
`faultdns run`, and the patch in this process against a server with the same zone and
faults, and asserts the same outcome: the addresses, or the same gaierror code and
message.  The cases are the kinds glibc tells apart: NXDOMAIN, NODATA, SERVFAIL,
REFUSED/NOTIMP/lame, a timeout, truncation with and without a TCP answer, one family
failing, and the search/ndots walk where candidates fail differently.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import faultdns
from faultdns._sandbox import sandbox_status
from faultdns.testing import ClosedPort

pytestmark = pytest.mark.skipif(
    not sandbox_status().available, reason=f"no mount namespace: {sandbox_status().reason}"
)

GAI = (
    "import json,socket,sys\n"
    "try:\n"
    "    r = socket.getaddrinfo(sys.argv[1], 80, type=socket.SOCK_STREAM)\n"
    "    print(json.dumps(['ok', sorted({x[4][0] for x in r})]))\n"
    "except socket.gaierror as e:\n"
    "    print(json.dumps(['err', e.errno, e.strerror]))\n"
)
RECORDS = ["x.s2=10.0.0.2", "y=10.0.0.9", "a.b.c=10.0.0.3"]
FAST = ("timeout:1", "attempts:1")
S12 = ("s1", "s2")

# name, faults, search list, ndots, options
CASES = {
    "search-walk-answers-second": ("x", [], S12, 1, FAST),
    "nxdomain": ("y", ["nxdomain"], (), 1, FAST),
    "nodata": ("y", ["nodata"], (), 1, FAST),
    "servfail": ("y", ["servfail"], (), 1, FAST),
    "refused": ("y", ["refused"], (), 1, FAST),
    "notimp": ("y", ["rcode=NOTIMP"], (), 1, FAST),
    "formerr": ("y", ["rcode=FORMERR"], (), 1, FAST),
    "lame": ("y", ["lame"], (), 1, FAST),
    "timeout": ("y", ["drop"], (), 1, FAST),
    "timeout-two-attempts-single-request": (
        "y",
        ["drop"],
        (),
        1,
        ("timeout:1", "attempts:2", "single-request"),
    ),
    "truncated-then-tcp-answers": ("y", ["truncate"], (), 1, FAST),
    "truncated-and-tcp-dropped": ("y", ["truncate", "drop proto=tcp"], (), 1, FAST),
    "use-vc": ("y", [], (), 1, (*FAST, "use-vc")),
    "aaaa-servfail-a-answers": ("y", ["servfail qtype=AAAA"], (), 1, FAST),
    "aaaa-dropped-a-answers": ("y", ["drop qtype=AAAA"], (), 1, FAST),
    "aaaa-dropped-a-nxdomain": ("y", ["drop qtype=AAAA", "nxdomain qtype=A"], (), 1, FAST),
    "a-dropped-aaaa-nodata": ("y", ["drop qtype=A"], (), 1, FAST),
    "aaaa-dropped-a-servfail": ("y", ["drop qtype=AAAA", "servfail qtype=A"], (), 1, FAST),
    "aaaa-dropped-single-request": ("y", ["drop qtype=AAAA"], (), 1, (*FAST, "single-request")),
    "aaaa-dropped-in-search": ("x", ["drop qtype=AAAA"], S12, 1, FAST),
    "servfail-candidate-walk-goes-on": ("x", ["servfail match=x.s1"], S12, 1, FAST),
    "timeout-candidate-ends-search-tries-as-is": ("x", ["drop match=x.s1"], S12, 1, FAST),
    "refused-candidate-ends-search": ("x", ["refused match=x.s1"], S12, 1, FAST),
    "formerr-candidate-ends-search": ("x", ["rcode=FORMERR match=x.s1"], S12, 1, FAST),
    "nodata-wins-over-later-nxdomain": (
        "x",
        ["nodata match=x.s1", "nxdomain match=x.s2"],
        S12,
        1,
        FAST,
    ),
    "servfail-wins-over-later-nxdomain": (
        "x",
        ["servfail match=x.s1", "nxdomain match=x.s2"],
        S12,
        1,
        FAST,
    ),
    "servfail-everywhere": ("x", ["servfail"], S12, 1, FAST),
    "a-nxdomain-aaaa-servfail": (
        "x",
        ["servfail match=x.s2 qtype=AAAA", "nxdomain match=x.s2 qtype=A"],
        S12,
        1,
        FAST,
    ),
    "enough-dots-as-is-first-servfail": ("a.b.c", ["servfail match=a.b.c"], ("s1",), 2, FAST),
    "few-dots-search-first": ("a.b.c", [], ("s1",), 5, FAST),
    "trailing-dot-no-search": ("y.", [], ("s1",), 5, FAST),
    "trailing-dot-nxdomain": ("y.", ["nxdomain match=y"], ("s1",), 5, FAST),
    # attempts:0 is no try at all (EAI_AGAIN, nothing sent); timeout:0 waits a second
    "no-attempts": ("x", [], S12, 1, ("timeout:1", "attempts:0")),
    "zero-timeout-waits-a-second": ("y", ["drop"], (), 1, ("timeout:0", "attempts:1")),
}


def _real(
    name: str,
    faults: list[str],
    search: tuple[str, ...],
    ndots: int,
    opts: tuple[str, ...],
    cmd: list[str],
    log: Path,
) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "faultdns", "run", "--no-control", "--ndots", str(ndots)]
    for record in RECORDS:
        args += ["--record", record]
    for fault in faults:
        args += ["--fault", fault]
    for domain in search:
        args += ["--search", domain]
    if not search:
        args.append("--no-search")
    for opt in opts:
        args += ["--resolv-option", opt]
    args += ["--log-queries", str(log)]
    return subprocess.run([*args, "--", *cmd, name], capture_output=True, text=True, timeout=120)


def _asked(lines: list[dict[str, str]]) -> tuple[list[str], Counter[tuple[str, str, str]]]:
    """The names in the order first asked, and how often each (name, qtype, transport)."""
    names = list(dict.fromkeys(q["name"] for q in lines))
    return names, Counter((q["name"], q["qtype"], q["transport"]) for q in lines)


def _patched(
    name: str, faults: list[str], search: tuple[str, ...], ndots: int, opts: tuple[str, ...]
) -> tuple[list[object], list[dict[str, str]]]:
    with (
        faultdns.FaultDNSServer(
            records=RECORDS, faults=faults, port=0, clock=faultdns.MonotonicClock()
        ) as server,
        faultdns.patch_getaddrinfo(server, search=search, ndots=ndots, options=opts),
    ):
        try:
            found = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
            outcome: list[object] = ["ok", sorted({str(entry[4][0]) for entry in found})]
        except socket.gaierror as exc:
            outcome = ["err", exc.errno, exc.strerror]
        server.wait_idle(5)
        queries = [
            {"name": q.name, "qtype": q.qtype, "transport": q.transport} for q in server.queries
        ]
    return outcome, queries


def _log(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("case", list(CASES))
def test_patch_fails_as_glibc(case: str, tmp_path: Path) -> None:
    spec = CASES[case]
    mine, my_queries = _patched(*spec)
    python = _real(*spec, [sys.executable, "-c", GAI], tmp_path / "python.jsonl")
    assert python.returncode == 0, python.stderr
    assert mine == json.loads(python.stdout)
    # The same walk: the same names in the same order, each asked as often, the same way.
    assert _asked(my_queries) == _asked(_log(tmp_path / "python.jsonl"))
    # getent ahosts (glibc's own tool): exit 0 with the same addresses, or 2 (getent.c).
    getent = _real(*spec, ["getent", "ahosts"], tmp_path / "getent.jsonl")
    if mine[0] == "ok":
        assert getent.returncode == 0
        assert sorted({line.split()[0] for line in getent.stdout.splitlines()}) == mine[1]
    else:
        assert getent.returncode == 2, getent.stdout


def test_single_request_mode_sticks_to_the_thread_as_in_glibc(tmp_path: Path) -> None:
    # After one timed-out AAAA, glibc asks in single-request(-reopen) mode from then on,
    # in that thread: a second lookup sends its AAAA only once.
    twice = (
        "import socket,sys\n"
        "for _ in range(2):\n"
        "    print(len(socket.getaddrinfo(sys.argv[1], 80)))\n"
    )
    spec = ("y", ["drop qtype=AAAA"], (), 1, FAST)
    real = _real(*spec, [sys.executable, "-c", twice], tmp_path / "q.jsonl")
    assert real.returncode == 0, real.stderr
    with (
        faultdns.FaultDNSServer(
            records=RECORDS, faults=spec[1], port=0, clock=faultdns.MonotonicClock()
        ) as server,
        faultdns.patch_getaddrinfo(server, options=FAST),
    ):
        for _ in range(2):
            socket.getaddrinfo("y", 80)
        server.wait_idle(5)
        mine = [
            {"name": q.name, "qtype": q.qtype, "transport": q.transport} for q in server.queries
        ]
    assert _asked(mine) == _asked(_log(tmp_path / "q.jsonl"))
    assert _asked(mine)[1][("y", "AAAA", "udp")] == 4  # 3 for the first lookup, 1 after


# Two nameservers: glibc asks the next one after SERVFAIL, REFUSED, a timeout or an
# unreachable server, and stops at the first NXDOMAIN.  resolv.conf has no port, so the
# real side needs two servers on port 53 (root); "down" is an address nothing serves.
TWO_SERVERS = {
    "first-servfail-second-answers": (["servfail"], [], FAST),
    "first-refused-second-nxdomain": (["refused"], ["nxdomain"], FAST),
    "first-dropped-second-answers": (["drop"], [], FAST),
    "first-nxdomain-second-never-asked": (["nxdomain"], [], FAST),
    "both-servfail-two-attempts": (["servfail"], ["servfail"], ("timeout:1", "attempts:2")),
    "first-down-second-answers": (None, [], FAST),
}


def _two_servers(count: int = 2) -> list[str]:
    hosts = []
    for last in range(200, 255):
        host = f"127.0.0.{last}"
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as probe:
                    probe.bind((host, 53))
        except PermissionError:
            pytest.skip("two nameservers on port 53 need root")
        except OSError:
            continue
        hosts.append(host)
        if len(hosts) == count:
            return hosts
    pytest.skip(f"no {count} free 127.0.0.x:53")


def _served(faults: list[str] | None, host: str, port: int) -> faultdns.FaultDNSServer | None:
    if faults is None:
        return None
    return faultdns.FaultDNSServer(
        records=RECORDS, faults=faults, host=host, port=port, clock=faultdns.MonotonicClock()
    ).start()


def _counts(server: faultdns.FaultDNSServer | None) -> Counter[tuple[str, str]]:
    if server is None:
        return Counter()
    server.wait_idle(5)
    return Counter((q.name, q.qtype) for q in server.queries)


@pytest.mark.parametrize("case", list(TWO_SERVERS))
def test_next_nameserver_as_glibc(case: str) -> None:
    from faultdns._sandbox import run_with_resolv_conf

    first, second, opts = TWO_SERVERS[case]
    hosts = _two_servers()
    conf = "".join(f"nameserver {h}\n" for h in hosts) + f"options {' '.join(opts)}\n"
    real = [_served(first, hosts[0], 53), _served(second, hosts[1], 53)]
    try:
        done = run_with_resolv_conf(conf, [sys.executable, "-c", GAI, "y"], timeout=60)
        real_outcome = json.loads(done.stdout)
        real_counts = [_counts(s) for s in real]
    finally:
        for s in real:
            if s is not None:
                s.stop()
    closed = ClosedPort()  # a server that is down, whose port nobody is given
    down = closed.address
    mine = [_served(first, "127.0.0.1", 0), _served(second, "127.0.0.1", 0)]
    try:
        servers: list[object] = [s if s is not None else down for s in mine]
        with faultdns.patch_getaddrinfo(servers, options=opts):
            try:
                found = socket.getaddrinfo("y", 80, type=socket.SOCK_STREAM)
                outcome: list[object] = ["ok", sorted({str(e[4][0]) for e in found})]
            except socket.gaierror as exc:
                outcome = ["err", exc.errno, exc.strerror]
        my_counts = [_counts(s) for s in mine]
    finally:
        closed.close()
        for s in mine:
            if s is not None:
                s.stop()
    assert outcome == real_outcome
    assert my_counts == real_counts


GAI_FAMILY = (
    "import json,socket,sys\n"
    "try:\n"
    "    r = socket.getaddrinfo(sys.argv[2], 80, int(sys.argv[1]), socket.SOCK_STREAM)\n"
    "    print(json.dumps(['ok', sorted({x[4][0] for x in r})]))\n"
    "except socket.gaierror as e:\n"
    "    print(json.dumps(['err', e.errno, e.strerror]))\n"
)


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["inet", "inet6"])
@pytest.mark.parametrize("faults", [[], ["servfail qtype=AAAA"], ["nxdomain qtype=A"]])
def test_one_family_as_glibc(family: int, faults: list[str], tmp_path: Path) -> None:
    spec = ("y", faults, (), 1, FAST)
    cmd = [sys.executable, "-c", GAI_FAMILY, str(int(family))]
    real = _real(*spec, cmd, tmp_path / "q.jsonl")
    assert real.returncode == 0, real.stderr
    with (
        faultdns.FaultDNSServer(
            records=RECORDS, faults=faults, port=0, clock=faultdns.MonotonicClock()
        ) as server,
        faultdns.patch_getaddrinfo(server, options=FAST),
    ):
        try:
            found = socket.getaddrinfo("y", 80, family, socket.SOCK_STREAM)
            outcome: list[object] = ["ok", sorted({str(e[4][0]) for e in found})]
        except socket.gaierror as exc:
            outcome = ["err", exc.errno, exc.strerror]
        server.wait_idle(5)
        mine = [
            {"name": q.name, "qtype": q.qtype, "transport": q.transport} for q in server.queries
        ]
    assert outcome == json.loads(real.stdout)
    assert _asked(mine) == _asked(_log(tmp_path / "q.jsonl"))


def test_canonical_name_as_glibc(tmp_path: Path) -> None:
    # AI_CANONNAME: the owner of the address records (a CNAME's target), the search
    # candidate that answered, the case the server wrote.
    names = ["alias", "x", "y", "Y"]
    script = (
        "import json,socket,sys\n"
        "print(json.dumps([[(x[3], x[4][0]) for x in socket.getaddrinfo(n, 80,"
        " type=socket.SOCK_STREAM, flags=socket.AI_CANONNAME)] for n in sys.argv[1:]]))\n"
    )
    records = [*RECORDS, "alias CNAME y"]
    args = [sys.executable, "-m", "faultdns", "run", "--no-control", "--ndots", "1"]
    args += [a for r in records for a in ("--record", r)]
    args += ["--search", "s1", "--search", "s2", "--", sys.executable, "-c", script]
    real = subprocess.run([*args, *names], capture_output=True, text=True, timeout=60)
    assert real.returncode == 0, real.stderr
    with (
        faultdns.FaultDNSServer(records=records, port=0, clock=faultdns.MonotonicClock()) as server,
        faultdns.patch_getaddrinfo(server, search=["s1", "s2"]),
    ):
        mine = [
            [
                [entry[3], entry[4][0]]
                for entry in socket.getaddrinfo(
                    n, 80, type=socket.SOCK_STREAM, flags=socket.AI_CANONNAME
                )
            ]
            for n in names
        ]
    assert mine == json.loads(real.stdout)


# The kinds of call glibc settles before or around the DNS walk, each with the real
# library under `faultdns run` and the patch on the same zone: the same outcome (the
# addresses, or the same exception type, code and message) and the same queries.
GAI_CALL = (
    "import ast,json,socket,sys\n"
    "host, port, family, kind, proto, flags = ast.literal_eval(sys.argv[1])\n"
    "try:\n"
    "    r = socket.getaddrinfo(host, port, family, kind, proto, flags)\n"
    "    print(json.dumps(['ok', [[x[0], x[3], x[4][0]] for x in r]]))\n"
    "except Exception as e:\n"
    "    print(json.dumps([type(e).__name__, getattr(e, 'errno', None), str(e)]))\n"
)
CALL_RECORDS = [*RECORDS, "both=10.0.0.8", "both AAAA fd00::8", "under_score=10.0.0.6"]
V6, MAPPED, ALL = int(socket.AF_INET6), int(socket.AI_V4MAPPED), int(socket.AI_ALL)
TCP, UDP = int(socket.SOCK_STREAM), int(socket.IPPROTO_UDP)
LONG = ".".join(["a" * 62] * 4)  # 253 bytes on the wire: the longest that fits
# name: (host, port, family, socket type, proto, flags), faults, search list
CALLS: dict[str, tuple[tuple[object, ...], list[str], tuple[str, ...]]] = {
    # numeric forms inet_aton takes, and "*": the library answers, nothing is asked
    "numeric-short-form": (("127.1", 80, 0, TCP, 0, 0), [], S12),
    "numeric-hex": (("0x7f000001", 80, 0, TCP, 0, 0), [], S12),
    "numeric-decimal": (("2130706433", 80, 0, TCP, 0, 0), [], S12),
    "star-is-any": (("*", 80, 0, TCP, 0, 0), [], S12),
    # the service and socket type are checked before any lookup
    "unknown-service": (("nx", "nosuchservice", 0, TCP, 0, 0), [], S12),
    "service-not-for-socktype": (("nx", "http", 0, int(socket.SOCK_DGRAM), 0, 0), [], S12),
    "socktype-proto-mismatch": (("nx", 80, 0, TCP, UDP, 0), [], S12),
    # names that are not host names (res_hnok): nothing sent, EAI_NONAME
    "empty-name": (("", 80, 0, TCP, 0, 0), [], S12),
    "space-in-name": (("sp ace", 80, 0, TCP, 0, 0), [], S12),
    "star-in-name": (("a*b", 80, 0, TCP, 0, 0), [], S12),
    "leading-dash": (("-lead", 80, 0, TCP, 0, 0), [], S12),
    "escaped-dot": (("y\\.z", 80, 0, TCP, 0, 0), [], S12),
    "bytes-non-ascii": ((b"b\xc3\xbccher", 80, 0, TCP, 0, 0), [], S12),
    "bytes-empty-label": ((b"a..b", 80, 0, TCP, 0, 0), [], S12),
    "bytes-label-over-63": ((b"a" * 64, 80, 0, TCP, 0, 0), [], S12),
    "str-label-over-63": (("a" * 64, 80, 0, TCP, 0, 0), [], S12),
    "str-empty-label": (("a..b", 80, 0, TCP, 0, 0), [], S12),
    "name-over-255": ((".".join(["a" * 63] * 4), 80, 0, TCP, 0, 0), [], ()),
    "underscore-is-a-host-name": (("under_score", 80, 0, TCP, 0, 0), [], S12),
    "escaped-letter": ((b"y\\089", 80, 0, TCP, 0, 0), [], ()),
    "uppercase": (("Y", 80, 0, TCP, 0, 0), [], ()),
    # the hosts file matches names exactly: these are DNS names, asked of faultdns
    "localhost-trailing-dot": (("localhost.", 80, 0, TCP, 0, 0), [], ()),
    "localhost-localdomain": (("localhost.localdomain", 80, 0, TCP, 0, 0), [], ()),
    "idna-str": (("b\u00fccher.test", 80, 0, TCP, 0, 0), [], ()),
    # a search domain that makes the candidate too long: NO_RECOVERY, nothing sent
    "candidate-over-255": ((LONG, 80, 0, TCP, 0, 0), [], ("s1",)),
    # AF_INET6 + AI_V4MAPPED (+ AI_ALL): AAAA, then A mapped
    "v4mapped-a-only": (("y", 80, V6, TCP, 0, MAPPED), [], ()),
    "v4mapped-in-search": (("x", 80, V6, TCP, 0, MAPPED), [], S12),
    "v4mapped-aaaa-answers": (("both", 80, V6, TCP, 0, MAPPED), [], ()),
    "v4mapped-all": (("both", 80, V6, TCP, 0, MAPPED | ALL), [], ()),
    "v4mapped-aaaa-nx-a-answers": (("y", 80, V6, TCP, 0, MAPPED), ["nxdomain qtype=AAAA"], ()),
    "v4mapped-nodata-servfail": (("y", 80, V6, TCP, 0, MAPPED), ["servfail qtype=A"], ()),
    "v4mapped-nx-servfail": (
        ("y", 80, V6, TCP, 0, MAPPED),
        ["nxdomain qtype=AAAA", "servfail qtype=A"],
        (),
    ),
    "v4mapped-servfail-both": (("y", 80, V6, TCP, 0, MAPPED), ["servfail"], ()),
    "v4mapped-nxdomain-both": (("y", 80, V6, TCP, 0, MAPPED), ["nxdomain"], ()),
    "v4mapped-dropped-both": (("y", 80, V6, TCP, 0, MAPPED), ["drop"], ()),
}


def _call(call: tuple[object, ...]) -> list[object]:
    host, port, family, kind, proto, flags = call
    try:
        found = socket.getaddrinfo(host, port, family, kind, proto, flags)  # type: ignore[arg-type]
        return ["ok", [[int(x[0]), x[3], str(x[4][0])] for x in found]]
    except Exception as exc:  # the type is part of the outcome compared
        return [type(exc).__name__, getattr(exc, "errno", None), str(exc)]


def _compare_call(case: str, tmp: Path) -> dict[str, object]:
    """Run CALLS[case] with real glibc under `faultdns run` and with the patch: both
    outcomes and both query walks (JSON-ready; the netns test runs it in a child)."""
    call, faults, search = CALLS[case]
    log = tmp / "q.jsonl"
    args = [sys.executable, "-m", "faultdns", "run", "--no-control", "--ndots", "1"]
    args += [a for r in CALL_RECORDS for a in ("--record", r)]
    args += [a for f in faults for a in ("--fault", f)]
    args += [a for d in search for a in ("--search", d)] or ["--no-search"]
    args += [a for o in FAST for a in ("--resolv-option", o)]
    args += ["--log-queries", str(log), "--", sys.executable, "-c", GAI_CALL, repr(call)]
    real = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert real.returncode == 0, real.stderr
    with (
        faultdns.FaultDNSServer(
            records=CALL_RECORDS, faults=faults, port=0, clock=faultdns.MonotonicClock()
        ) as server,
        faultdns.patch_getaddrinfo(server, search=search, ndots=1, options=FAST),
    ):
        mine = _call(call)
        server.wait_idle(5)
        asked = [
            {"name": q.name, "qtype": q.qtype, "transport": q.transport} for q in server.queries
        ]
    logged = _log(log) if log.exists() else []
    return {
        "mine": mine,
        "real": json.loads(real.stdout),
        "asked": sorted(f"{k} x{n}" for k, n in _asked(asked)[1].items()),
        "logged": sorted(f"{k} x{n}" for k, n in _asked(logged)[1].items()),
        "asked_order": _asked(asked)[0],
        "logged_order": _asked(logged)[0],
    }


def _assert_same(result: dict[str, object]) -> None:
    assert result["mine"] == result["real"]
    assert result["asked_order"] == result["logged_order"]
    assert result["asked"] == result["logged"]


@pytest.mark.parametrize("case", list(CALLS))
def test_call_as_glibc(case: str, tmp_path: Path) -> None:
    _assert_same(_compare_call(case, tmp_path))


# AI_ADDRCONFIG (aiohttp's default resolver sets it) on a machine with IPv4 only: glibc
# narrows AF_UNSPEC to AF_INET and fails AF_INET6 before any lookup.  Run in a network
# namespace whose loopback also holds 10.9.9.9 (glibc's __check_pf ignores only
# 127.0.0.1 and ::1), real and patch alike.
ADDRCONFIG = int(socket.AI_ADDRCONFIG)
CALLS.update(
    {
        "addrconfig-v4-only-dual-stack-name": (("both", 80, 0, TCP, 0, ADDRCONFIG), [], ()),
        "addrconfig-v4-only-inet6": (("both", 80, V6, TCP, 0, ADDRCONFIG), [], ()),
        "addrconfig-v4-only-numeric-inet6": (("1.2.3.4", 80, V6, TCP, 0, ADDRCONFIG), [], ()),
        "addrconfig-v4-only-nxdomain": (
            ("y", 80, 0, TCP, 0, ADDRCONFIG),
            ["nxdomain qtype=A"],
            (),
        ),
    }
)
V4_ONLY_CASES = [c for c in CALLS if c.startswith("addrconfig-v4-only")]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and ip(8)")
@pytest.mark.parametrize("case", V4_ONLY_CASES)
def test_addrconfig_on_an_ipv4_only_machine_as_glibc(case: str, tmp_path: Path) -> None:
    code = (
        "import json, sys, pathlib\n"
        "from tests.faultdns.test_patch_glibc import _compare_call\n"
        "print(json.dumps(_compare_call(sys.argv[1], pathlib.Path(sys.argv[2]))))\n"
    )
    setup = 'ip link set lo up && ip addr add 10.9.9.9/32 dev lo && exec "$@"'
    argv = ["unshare", "--net", "sh", "-c", setup, "sh", sys.executable, "-c", code]
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [*argv, case, str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=root
    )
    assert done.returncode == 0, done.stderr
    _assert_same(json.loads(done.stdout))


def test_wait_per_nameserver_as_glibc() -> None:
    # send_dg waits retrans << ns, divided by nscount after the first server: with
    # three servers dropping everything and timeout:2 the real library asks them at
    # 0, 2 and 3 s (2, then 4 // 3 = 1), not 0, 2 and 4.  Compared in whole seconds.
    from faultdns._sandbox import run_with_resolv_conf

    hosts = _two_servers(3)
    opts = ("timeout:2", "attempts:1")
    conf = "".join(f"nameserver {h}\n" for h in hosts) + f"options {' '.join(opts)}\n"

    def arrivals(servers: list[faultdns.FaultDNSServer]) -> list[int]:
        firsts = []
        for server in servers:
            server.wait_idle(5)
            firsts.append(min(q.time for q in server.queries))
        return [round(t - firsts[0]) for t in firsts]

    real = [_served(["drop"], h, 53) for h in hosts]
    try:
        done = run_with_resolv_conf(conf, [sys.executable, "-c", GAI, "y"], timeout=60)
        real_outcome = json.loads(done.stdout)
        real_arrivals = arrivals([s for s in real if s is not None])
    finally:
        for s in real:
            if s is not None:
                s.stop()
    mine = [_served(["drop"], "127.0.0.1", 0) for _ in hosts]
    try:
        with faultdns.patch_getaddrinfo(mine, options=opts):
            try:
                socket.getaddrinfo("y", 80, type=socket.SOCK_STREAM)
                outcome: list[object] = ["ok"]
            except socket.gaierror as exc:
                outcome = ["err", exc.errno, exc.strerror]
        my_arrivals = arrivals([s for s in mine if s is not None])
    finally:
        for s in mine:
            if s is not None:
                s.stop()
    assert outcome == real_outcome
    assert my_arrivals == real_arrivals == [0, 2, 3]

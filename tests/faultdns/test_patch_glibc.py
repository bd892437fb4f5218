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
import socket
import subprocess
import sys

import pytest

import faultdns
from faultdns._sandbox import sandbox_status

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
}


def _real(
    name: str, faults: list[str], search: tuple[str, ...], ndots: int, opts: tuple[str, ...]
) -> list[object]:
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
    done = subprocess.run(
        [*args, "--", sys.executable, "-c", GAI, name], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def _patched(
    name: str, faults: list[str], search: tuple[str, ...], ndots: int, opts: tuple[str, ...]
) -> list[object]:
    with (
        faultdns.FaultDNSServer(records=RECORDS, faults=faults, port=0) as server,
        faultdns.patch_getaddrinfo(server, search=search, ndots=ndots, options=opts),
    ):
        try:
            found = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            return ["err", exc.errno, exc.strerror]
    return ["ok", sorted({str(entry[4][0]) for entry in found})]


@pytest.mark.parametrize("case", list(CASES))
def test_patch_fails_as_glibc(case: str) -> None:
    spec = CASES[case]
    assert _patched(*spec) == _real(*spec)

#!/usr/bin/env python3
"""Cost of Go's lookup rules (``cleanup.dnsrules``) and of the stub resolver using them.

Three measurements, each the median of ``--rounds`` rounds of ``--seconds`` seconds:

* ``simulate_lookup``: the whole pod lookup of the field failure without sockets (4
  candidates, A and AAAA each, every query NXDOMAIN): what the simulation's evaluator
  pays per attempt class it computes;
* ``judge_reply``: one reply (header, question, one A record, OPT) judged as Go does;
* ``resolve``: the same pod lookup by ``StubResolver`` over real loopback sockets
  against faultdns, on a ``FastForwardClock`` (8 queries, 8 sockets).

    python bench/dnsrules_bench.py                 # 1 s per measurement, 3 rounds
    python bench/dnsrules_bench.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import dnslib

from cleanup import StubResolver
from cleanup.dnsrules import QTYPES, judge_reply, simulate_lookup
from cleanup.testing import FastForwardClock
from faultdns import FaultDNSServer, MonotonicClock

SEARCH = ["harvester-system.svc.cluster.local", "svc.cluster.local", "cluster.local"]
NAME = "upgrade-repo-x.harvester-system"


def per_call(fn: Callable[[], object], seconds: float) -> float:
    """Microseconds per call of ``fn`` over about ``seconds`` of wall time."""
    calls = 0
    start = time.perf_counter()
    while True:
        for _ in range(20):
            fn()
        calls += 20
        spent = time.perf_counter() - start
        if spent >= seconds:
            return spent / calls * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    def simulate() -> object:
        return simulate_lookup(
            NAME, lambda *_: "nxdomain", search=SEARCH, ndots=5, servers=["10.53.0.10:53"],
            attempts=2, timeout=5.0, start=0.0,
        )  # fmt: skip

    reply = dnslib.DNSRecord(
        dnslib.DNSHeader(id=7, qr=1, ra=1), q=dnslib.DNSQuestion("repo.test.", dnslib.QTYPE.A)
    )
    reply.add_answer(dnslib.RR("repo.test.", dnslib.QTYPE.A, rdata=dnslib.A("10.0.0.7"), ttl=5))
    reply.add_ar(dnslib.EDNS0(udp_len=1232))
    wire = bytes(reply.pack())

    def judge() -> object:
        return judge_reply(wire, 7, "repo.test.", QTYPES["A"], "udp")

    results: dict[str, list[float]] = {"simulate_lookup": [], "judge_reply": [], "resolve": []}
    with FaultDNSServer(
        origins=["cluster.local", "harvester-system"], faults=["nxdomain"], clock=MonotonicClock()
    ) as dns:
        host, port = dns.address
        resolver = StubResolver(
            [f"{host}:{port}"],
            search=SEARCH,
            ndots=5,
            clock=FastForwardClock(grace=1.0),
            hosts=None,
        )

        def resolve() -> object:
            try:
                return resolver.resolve(NAME)
            except Exception as exc:  # the expected "no such host"
                return exc

        for _ in range(args.rounds):
            results["simulate_lookup"].append(per_call(simulate, args.seconds))
            results["judge_reply"].append(per_call(judge, args.seconds))
            results["resolve"].append(per_call(resolve, args.seconds))
    medians = {key: statistics.median(values) for key, values in results.items()}
    if args.json:
        print(json.dumps({"us_per_call": medians, "rounds": results}, indent=2))
    else:
        for key, value in medians.items():
            print(f"{key:16} {value:9.1f} us/call  ({1e6 / value:,.0f}/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Real-module scenarios per second through the simulation harness.

Each scenario is one full run of the real ``cleanup.run_cleanup`` (stub resolver, httpx
client, repo client, plan, MemoryStore) over real loopback sockets against faultdns and
the fake repo, in virtual time: the same thing ``sim demo`` and the property suite do.
One :class:`sim.Harness` serves them all (servers are reused between runs), as there.

It runs the built-in ``single-node`` world for ``--seeds`` seeds under each policy
(default: both Harvester presets; v1.5 runs longer, about 9 attempts and 60 DNS
queries per world, v1.4 stops earlier), after a short warm-up, and prints the
scenarios per second overall and per policy, with the DNS queries and HTTP requests
per scenario so a faster figure cannot come from doing less.  ``--check`` exits 1 when
the overall figure is below the target (50/s, from the issue); ``--json`` prints it as
JSON.  Timing on a shared machine is a measurement, not an assertion: it lives here,
not in the tests.

    python bench/sim_bench.py                 # 300 seeds x 2 policies
    python bench/sim_bench.py --seeds 100 --scenario multi-node --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import cleanup
from sim import Harness, generate_timeline, load_scenario

TARGET = 50.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--scenario", default="single-node")
    parser.add_argument(
        "--policy", action="append", help="preset or file (repeatable; default: v1.4 and v1.5)"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true", help=f"exit 1 below {TARGET:g}/s")
    args = parser.parse_args(argv)
    scenario = load_scenario(args.scenario)
    policies = [cleanup.get_policy(p) for p in args.policy or ["harvester-v1.4", "harvester-v1.5"]]
    timelines = [generate_timeline(scenario, seed) for seed in range(args.seeds)]
    per_policy: dict[str, dict[str, float]] = {}
    total_runs = 0
    total_time = 0.0
    with Harness(scenario) as harness:
        for seed in range(5):  # warm-up: caches, first connections, imports
            harness.run_timeline(timelines[seed % len(timelines)], policies[0], seed=seed)
        for policy in policies:
            queries: list[int] = []
            requests: list[int] = []
            ok = 0
            started = time.perf_counter()
            for seed, timeline in enumerate(timelines):
                result = harness.run_timeline(timeline, policy, seed=seed, scenario=scenario)
                queries.append(result.dns_queries)
                requests.append(result.http_requests)
                ok += result.ok
            spent = time.perf_counter() - started
            total_runs += len(timelines)
            total_time += spent
            per_policy[policy.name] = {
                "scenarios": len(timelines),
                "seconds": round(spent, 3),
                "per_second": round(len(timelines) / spent, 1),
                "success_rate": round(ok / len(timelines), 3),
                "dns_queries_per_scenario": round(statistics.fmean(queries), 1),
                "http_requests_per_scenario": round(statistics.fmean(requests), 2),
            }
    overall = total_runs / total_time
    if args.json:
        print(json.dumps({"scenario": scenario.name, "per_second": round(overall, 1),
                          "target": TARGET, "policies": per_policy}, indent=2))  # fmt: skip
    else:
        print(f"sim harness, scenario {scenario.name}, {args.seeds} seeds per policy")
        for name, row in per_policy.items():
            print(
                f"  {name:<28} {row['per_second']:7.1f} scenarios/s  "
                f"({row['dns_queries_per_scenario']:.0f} DNS queries, "
                f"{row['http_requests_per_scenario']:.1f} HTTP requests per scenario; "
                f"success {100 * row['success_rate']:.0f}%)"
            )
        verdict = "meets" if overall >= TARGET else "BELOW"
        print(f"  overall {overall:.1f} scenarios/s ({verdict} the target of {TARGET:g}/s)")
    return 1 if args.check and overall < TARGET else 0


if __name__ == "__main__":
    sys.exit(main())

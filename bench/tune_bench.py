"""Benchmark ``sim tune``: worlds per second, evaluations per second, the big sweep.

Three figures, against the targets of issue 5 (on the 2-core development machine):

* **worlds/s per core** - the simpy world model alone (``generate_worlds``), and the
  same plus compiling the worlds for evaluation (segments, attempt classes, jitter
  draws): target >= 50,000 for the model.
* **evaluations/s** - one (world, policy) evaluation by the batch evaluator on one core
  over compiled worlds (target >= 1,000,000/s on 2 cores; checked against one core),
  and end to end for a whole sweep on every core, world generation included.
* **DNS timeouts** - the same evaluation on worlds where DNS swallows queries before
  CoreDNS runs (``dns_down = "not-routed"``): time passes inside attempts, so those worlds
  are stepped attempt by attempt (no target; for comparison).
* **sweep time** - >= 100 policies x 20,000 worlds through ``run_sweep`` with every
  core, process start-up included: target <= 30 s.

Usage::

    python bench/tune_bench.py                    # the three figures
    python bench/tune_bench.py --samples 5000     # quicker
    python bench/tune_bench.py --json --check     # exit 1 if a target is missed

Timings are the best of ``--rounds`` (a shared machine's noise only ever slows a run).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable

from sim import load_scenario, parse_grid, run_sweep
from sim._evaluate import draws_needed, evaluate_batch, generate
from sim._world import generate_worlds

# 108 policies: client-go 3 x 4 x 3 x 2 = 72, full 3 x 4 x 3 = 36 (full ignores jitter)
GRID = "steps=10,30,60 duration=1s,2s,5s,10s factor=1,1.5,2 jitter=0.1,1 mode=client-go,full"
TARGETS = {"worlds_per_second_per_core": 50_000, "evaluations_per_second": 1_000_000,
           "sweep_seconds": 30.0}  # fmt: skip


def best_of(rounds: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="single-node")
    parser.add_argument("--samples", type=int, default=20_000, help="worlds in the sweep")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)

    scenario = load_scenario(args.scenario)
    policies = parse_grid(GRID)
    draws = draws_needed(policies)
    n_worlds = 20_000

    def model_only() -> None:
        for _ in generate_worlds(scenario, range(n_worlds)):
            pass

    t_model = best_of(args.rounds, model_only)
    t_compiled = best_of(args.rounds, lambda: generate(scenario, range(n_worlds), draws))

    worlds = generate(scenario, range(n_worlds), draws)
    subset = policies[:: max(1, len(policies) // 20)]

    def evaluate_subset() -> None:
        for policy in subset:
            evaluate_batch(worlds, policy)

    t_eval = best_of(args.rounds, evaluate_subset)

    # the same, where DNS swallows queries before CoreDNS runs: time passes inside
    # attempts and those worlds are stepped attempt by attempt
    slow_scenario = dataclasses.replace(scenario, dns_down="not-routed")
    slow_worlds = generate(slow_scenario, range(5_000), draws)

    def evaluate_slow() -> None:
        for policy in subset:
            evaluate_batch(slow_worlds, policy)

    t_slow = best_of(args.rounds, evaluate_slow)

    sweep_times = []
    for _ in range(max(1, args.rounds - 1)):
        sweep = run_sweep(scenario, policies, samples=args.samples, jobs=args.jobs)
        sweep_times.append(sweep.wall_seconds)
    t_sweep = min(sweep_times)

    results = {
        "scenario": scenario.name,
        "cores": os.cpu_count(),
        "jobs": args.jobs,
        "policies": len(policies),
        "samples": args.samples,
        "worlds_per_second_per_core": n_worlds / t_model,
        "compiled_worlds_per_second_per_core": n_worlds / t_compiled,
        "evaluations_per_second_one_core": n_worlds * len(subset) / t_eval,
        "evaluations_per_second_dns_timeouts": 5_000 * len(subset) / t_slow,
        "sweep_seconds": t_sweep,
        "evaluations_per_second": args.samples * len(policies) / t_sweep,
        "exact_fallback_rows": sweep.exact_rows,
        "load_average": os.getloadavg()[0],
    }
    scale = args.samples * len(policies) / (20_000 * 100)
    missed = []
    if results["worlds_per_second_per_core"] < TARGETS["worlds_per_second_per_core"]:
        missed.append("worlds/s per core")
    # the target is for 2 cores; evaluation alone on one core must already reach it,
    # so a busy second core (other engineers' test runs) cannot hide a slowdown
    if results["evaluations_per_second_one_core"] < TARGETS["evaluations_per_second"]:
        missed.append("evaluations/s")
    if scale >= 1 and t_sweep > TARGETS["sweep_seconds"]:
        missed.append("sweep time")
    results["missed"] = missed
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"scenario {scenario.name}, {os.cpu_count()} cores, {args.jobs} jobs")
        model = results["worlds_per_second_per_core"]
        print(f"  world model:     {model:>12,.0f} worlds/s per core"
              f"  (target >= {TARGETS['worlds_per_second_per_core']:,})")  # fmt: skip
        print(f"  + compiled:      {results['compiled_worlds_per_second_per_core']:>12,.0f}"
              " worlds/s per core (ready to evaluate)")  # fmt: skip
        rate = results["evaluations_per_second_one_core"]
        print(f"  evaluations:     {rate:>12,.0f}/s on one core (compiled worlds; target >= "
              f"{TARGETS['evaluations_per_second']:,}/s)")  # fmt: skip
        slow = results["evaluations_per_second_dns_timeouts"]
        print(
            f"  DNS timeouts:    {slow:>12,.0f}/s on one core (worlds stepped attempt by attempt)"
        )
        print(f"  sweep:           {len(policies)} policies x {args.samples:,} worlds in "
              f"{t_sweep:.2f} s = {results['evaluations_per_second']:,.0f} evaluations/s end to"
              f" end (target <= {TARGETS['sweep_seconds']:g} s); load average "
              f"{os.getloadavg()[0]:.1f}")  # fmt: skip
        print("  missed: " + (", ".join(missed) if missed else "none"))
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())

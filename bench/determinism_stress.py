#!/usr/bin/env python3
"""Stress the harness's promise: the same seed gives a byte-identical trace, under any load.

Runs a fixed set of cases (world-model seeds of ``single-node`` and ``multi-node`` under
both Harvester presets, plus timelines and policies drawn by ``sim.strategies``: DNS
conn-refused (ICMP)/timeout/NXDOMAIN/SERVFAIL, repo refused/hang/404, never-healthy
worlds, keep-alive connections reset when the Service loses its endpoints) once in a
quiet reference environment, then again in hostile ones, and compares every case's
digest (trace lines, node images, report with ports scrubbed).  Any difference is a
determinism failure.

Environments (each a child process, so each gets fresh servers and sockets):

- ``plain``: the reference, no load.
- ``burn``: ``--burners`` CPU-burning processes (``python -c 'while 1: pass'``, each
  bounded by ``timeout``) compete with the harness for the cores.
- ``delays``: faultdns and the repo server dawdle a random 0-3 ms (and yield the CPU)
  before handling anything, with the burners running.
- ``shaped``: the harness runs in a network namespace of its own whose loopback has a
  token-bucket qdisc (``tc ... tbf``): most packets are released later by a kernel
  timer instead of inside the sender's system call.  That is exactly what the kernel
  does under heavy load when it defers loopback delivery to ``ksoftirqd`` (softirq
  time squeeze), only every few packets instead of once in a million.  Needs
  ``unshare -rn`` (root or unprivileged user namespaces) and the ``tbf`` qdisc; skipped
  with a note otherwise.  Combined with the burners.

    python bench/determinism_stress.py                      # all environments
    python bench/determinism_stress.py --envs shaped --generated 60 --seeds 20
    python bench/determinism_stress.py --child              # one environment's digests

Exits 0 when every environment gave the reference digests, 1 otherwise (listing the
cases that differ), 2 when the reference itself was not reproducible.  Each environment
is bounded by ``--budget`` seconds of wall time (the machine is shared).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _cases(seeds: int, generated: int) -> list[tuple[str, Any, Any, int]]:
    """(label, timeline, policy, seed) for every case, the same in every process."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    import cleanup
    from sim import generate_timeline, load_scenario
    from sim.strategies import policies, timelines

    cases: list[tuple[str, Any, Any, int]] = []
    for name in ("single-node", "multi-node"):
        scenario = load_scenario(name)
        for seed in range(seeds):
            timeline = generate_timeline(scenario, seed)
            for preset in ("harvester-v1.4", "harvester-v1.5"):
                cases.append(
                    (f"{name}/{seed}/{preset}", timeline, cleanup.get_policy(preset), seed)
                )
    drawn: list[tuple[Any, Any, int]] = []

    @settings(
        max_examples=generated,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(
        timeline=timelines(missing=True, never_healthy=True)
        | timelines(http_states=("hang",), max_gap=20.0),
        policy=policies(),
        seed=st.integers(0, 2**31 - 1),
    )
    def collect(timeline: Any, policy: Any, seed: int) -> None:
        drawn.append((timeline, policy, seed))

    if generated:
        collect()
    for i, (timeline, policy, seed) in enumerate(drawn):
        cases.append((f"generated/{i}/{policy.name}", timeline, policy, seed))
    return cases


def _slow_peers() -> None:
    """Make faultdns and the repo server dawdle (0-3 ms, yielding the CPU) before work."""
    import sim._dns
    import sim._repo_server

    rng = random.Random()

    def dawdle() -> None:
        os.sched_yield()
        if rng.random() < 0.5:
            time.sleep(rng.random() * 0.003)

    turn = sim._dns.DNSPeer._turn
    service = sim._repo_server.RepoServer._service

    def slow_turn(self: Any) -> bool:
        dawdle()
        return bool(turn(self))

    def slow_service(self: Any, conn: Any) -> None:
        dawdle()
        service(self, conn)

    sim._dns.DNSPeer._turn = slow_turn  # type: ignore[method-assign]
    sim._repo_server.RepoServer._service = slow_service  # type: ignore[method-assign,assignment]


def _digest(result: Any, ports: tuple[int, ...]) -> str:
    """What must not change: the trace, the node's images, the report (ports aside)."""
    report = json.dumps(result.report.to_dict(), sort_keys=True)
    report = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", report)
    report = re.sub(r"sim-[a-z0-9_]+", "sim-TMP", report)
    for port in ports:
        report = report.replace(f":{port}/", ":PORT/").replace(f':{port}"', ':PORT"')
    text = result.trace_lines() + "\n" + "\n".join(result.node_images) + "\n" + report
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def child(args: argparse.Namespace) -> int:
    if args.slow_peers:
        _slow_peers()
    from sim import Harness

    cases = _cases(args.seeds, args.generated)
    out: dict[str, str] = {}
    limit = time.monotonic() + args.budget
    with Harness() as harness:
        ports = (harness.dns_address[1], harness.repo_address[1])
        for label, timeline, policy, seed in cases:
            if time.monotonic() > limit:
                break
            result = harness.run_timeline(timeline, policy, seed=seed)
            out[label] = _digest(result, ports)
    json.dump(out, sys.stdout)
    return 0


@contextlib.contextmanager
def burners(count: int, seconds: float) -> Iterator[None]:
    procs = [
        subprocess.Popen(["timeout", str(int(seconds) + 1), sys.executable, "-c", "while 1: pass"])
        for _ in range(count)
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait()


SHAPE = (
    "ip link set lo up && ip link set lo mtu 1500 && "
    'tc qdisc add dev lo root tbf rate {rate} burst 1600 latency 2s && exec "$@"'
)


def shaping_available() -> str | None:
    """None if ``unshare -rn`` + tbf work here, else why not."""
    if shutil.which("unshare") is None or shutil.which("tc") is None:
        return "unshare or tc is not installed"
    probe = subprocess.run(
        ["unshare", "-rn", "sh", "-c", SHAPE.format(rate="10mbit"), "sh", "true"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return f"cannot shape a private loopback: {probe.stderr.strip() or probe.returncode}"
    return None


def run_env(env: str, args: argparse.Namespace) -> dict[str, str]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--seeds",
        str(args.seeds),
        "--generated",
        str(args.generated),
        "--budget",
        str(args.budget),
    ]
    if env == "delays":
        cmd.append("--slow-peers")
    if env == "shaped":
        cmd = ["unshare", "-rn", "sh", "-c", SHAPE.format(rate=args.rate), "sh", *cmd]
    load = env in ("burn", "delays", "shaped") and args.burners > 0
    with burners(args.burners if load else 0, args.budget + 60):
        proc = subprocess.run(
            cmd, capture_output=True, text=True, cwd=ROOT, timeout=args.budget + 120
        )
    if proc.returncode != 0:
        raise RuntimeError(f"{env}: child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="world seeds per scenario")
    parser.add_argument("--generated", type=int, default=40, help="generated timelines")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds per environment")
    parser.add_argument("--burners", type=int, default=4)
    parser.add_argument("--rate", default="4mbit", help="tbf rate of the shaped loopback")
    parser.add_argument(
        "--envs", default="burn,delays,shaped", help="hostile environments, comma-separated"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each environment")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--slow-peers", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    started = time.monotonic()
    reference = run_env("plain", args)
    again = run_env("plain", args)
    unstable = sorted(k for k in reference if k in again and again[k] != reference[k])
    print(f"reference: {len(reference)} cases ({time.monotonic() - started:.0f}s)")
    if unstable:
        print(f"reference not reproducible without load: {unstable}")
        return 2
    failed = False
    for env in [e.strip() for e in args.envs.split(",") if e.strip()]:
        if env == "shaped":
            why = shaping_available()
            if why is not None:
                print(f"shaped: skipped ({why})")
                continue
        for rep in range(args.repeat):
            t0 = time.monotonic()
            got = run_env(env, args)
            diff = sorted(k for k in got if got[k] != reference.get(k))
            took = time.monotonic() - t0
            status = "OK" if not diff else f"{len(diff)} DIFFER"
            print(f"{env}#{rep + 1}: {len(got)} cases, {status} ({took:.0f}s)")
            for label in diff[:20]:
                print(f"    {label}")
            failed = failed or bool(diff)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

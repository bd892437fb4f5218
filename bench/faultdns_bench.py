#!/usr/bin/env python3
"""Throughput of faultdns against dnslib's stock DNSServer and dnsmasq, measured by dnsperf.

One run starts each server in turn on a free loopback port, all answering the same
record (``bench.test A 10.0.0.1``), points dnsperf at it for ``--duration`` seconds with
the same query file, and stops it before the next one starts (so they never compete for
the CPU). faultdns runs as the real ``faultdns serve`` command, three times:

* with no fault rules (the cached-answer hot path),
* with one time-window rule whose window is open but which is for another name
  (``nxdomain match=other.test for=1h``), and
* with one time-window rule for the benchmarked name whose window has not opened yet
  (``nxdomain match=bench.test after=1h for=1s``): the server must look at the clock on
  every query and still answer normally.

It prints each server's queries/s, the share of NOERROR answers (a server that drops or
fails queries must not look fast), the ratios against the targets from the issue
(faultdns >= 20x dnslib, >= dnsmasq, one active time-window rule < 10% overhead) and,
with ``--json``, the same as JSON. ``--check`` exits 1 when a target is missed.

dnsperf and dnsmasq are Debian tools; they are installed with apt when missing and the
script runs as root, otherwise it exits 69 saying what to install. Speed targets live
here and not in the tests: timing on a shared 2-core machine is a measurement, not an
assertion.

    python bench/faultdns_bench.py                # ~10 s per server
    python bench/faultdns_bench.py --duration 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

NAME = "bench.test"
ADDR = "10.0.0.1"
PACKAGES = {"dnsperf": "dnsperf", "dnsmasq": "dnsmasq-base"}
TARGET_VS_DNSLIB = 20.0
TARGET_VS_DNSMASQ = 1.0
TARGET_RULE_OVERHEAD = 0.10
RULE_OTHER_NAME = "nxdomain match=other.test for=1h"
RULE_WINDOW_CLOSED = f"nxdomain match={NAME} after=1h for=1s"
EX_UNAVAILABLE = 69

REPO = Path(__file__).resolve().parent.parent

# dnslib's stock server, as its README shows it, answering our one record.
DNSLIB_SERVER = textwrap.dedent(
    f"""
    import signal, sys
    from dnslib import A, QTYPE, RCODE, RR
    from dnslib.server import BaseResolver, DNSLogger, DNSServer

    class Resolver(BaseResolver):
        def resolve(self, request, handler):
            reply = request.reply()
            q = request.q
            if str(q.qname).rstrip(".").lower() == {NAME!r} and q.qtype == QTYPE.A:
                reply.add_answer(RR(q.qname, QTYPE.A, rdata=A({ADDR!r}), ttl=0))
            else:
                reply.header.rcode = RCODE.NXDOMAIN
            return reply

    server = DNSServer(Resolver(), address="127.0.0.1", port=0,
                       logger=DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data"))
    server.start_thread()
    print("listening on udp 127.0.0.1:%d" % server.server.server_address[1], flush=True)
    signal.sigwait({{signal.SIGTERM, signal.SIGINT}})
    """
)


@dataclass
class Result:
    server: str
    qps: float
    sent: int
    completed: int
    noerror_share: float
    qps_min: float
    qps_max: float
    qps_rounds: list[float]
    note: str = ""


# -- tools ------------------------------------------------------------------------------


def find_tool(name: str) -> str:
    """The tool's path; installs it with apt when root, else exits 69 with the reason.

    A small copy of tests/tools.py's logic: the benchmark must run without pytest.
    """
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path:
        return path
    package = PACKAGES.get(name, name)
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        print(f"installing {package} with apt-get ...", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300)
        proc = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
        if path:
            return path
        sys.exit(f"{name}: apt-get install {package} failed: {proc.stderr.strip()[-300:]}")
    print(
        f"{name} is not installed; install the Debian package {package}"
        f" (apt-get install {package}) or run this script as root to have it installed",
        file=sys.stderr,
    )
    sys.exit(EX_UNAVAILABLE)


def free_port() -> int:
    """A port free for both UDP and TCP right now (for servers that cannot take 0)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port found")


# -- servers ----------------------------------------------------------------------------


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise RuntimeError(f"{proc.args!r} printed nothing within {timeout}s")
    line = proc.stdout.readline()
    if not line:
        err = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError(f"{proc.args!r} exited early ({proc.wait()}): {err.strip()}")
    return line.strip()


def wait_answering(port: int, timeout: float = 10.0) -> None:
    """Block until a query for NAME gets an answer with ADDR from 127.0.0.1:port."""
    from dnslib import QTYPE, DNSRecord

    deadline = time.monotonic() + timeout
    query = DNSRecord.question(NAME, "A")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        while time.monotonic() < deadline:
            sock.sendto(query.pack(), ("127.0.0.1", port))
            try:
                data = sock.recv(4096)
            except OSError:
                continue
            reply = DNSRecord.parse(data)
            if any(rr.rtype == QTYPE.A and str(rr.rdata) == ADDR for rr in reply.rr):
                return
            raise RuntimeError(f"server on port {port} answered wrongly:\n{reply}")
    raise RuntimeError(f"server on port {port} did not answer {NAME} within {timeout}s")


@contextmanager
def running(argv: list[str], port_from_output: bool, port: int = 0) -> Iterator[int]:
    """Run a server process; yield its port once it answers; always kill it."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        if port_from_output:
            line = _read_line(proc, 15)
            match = re.search(r":(\d+)\s*$", line)
            if not match:
                raise RuntimeError(f"unexpected first line from {argv[0]}: {line!r}")
            port = int(match.group(1))
        wait_answering(port)
        yield port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def faultdns_argv(*faults: str) -> list[str]:
    # As people run it: with the control API up (on a free port), not a stripped-down server.
    argv = [sys.executable, "-m", "faultdns", "serve", "--port", "0", "--control", "127.0.0.1:0"]
    argv += ["--record", f"{NAME}={ADDR}"]
    for spec in faults:
        argv += ["--fault", spec]
    return argv


def dnsmasq_argv(dnsmasq: str, port: int) -> list[str]:
    argv = [
        dnsmasq,
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        f"--port={port}",
        f"--address=/{NAME}/{ADDR}",
        "--cache-size=10000",
        "--pid-file=",
        "--log-facility=/dev/null",
    ]
    if os.geteuid() == 0:
        argv.append("--user=root")  # it would drop to 'nobody', which may not exist
    return argv


# -- dnsperf ----------------------------------------------------------------------------


def run_dnsperf(
    dnsperf: str, port: int, queries: Path, duration: float, clients: int, threads: int
) -> tuple[float, int, int, float]:
    """(queries/s, sent, completed, NOERROR share) from one dnsperf run."""
    argv = [dnsperf, "-s", "127.0.0.1", "-p", str(port), "-d", str(queries)]
    argv += ["-l", f"{duration:g}", "-c", str(clients), "-T", str(threads), "-t", "2"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    out = proc.stdout
    if proc.returncode != 0:
        raise RuntimeError(f"dnsperf failed ({proc.returncode}): {proc.stderr or out}")

    def number(label: str) -> float:
        match = re.search(rf"{label}:\s+([0-9.]+)", out)
        if not match:
            raise RuntimeError(f"dnsperf output has no {label!r}:\n{out}")
        return float(match.group(1))

    codes = re.search(r"Response codes:\s+(.*)", out)
    noerror = 0.0
    if codes:
        found = re.search(r"NOERROR\s+\d+\s+\(([0-9.]+)%\)", codes.group(1))
        noerror = float(found.group(1)) / 100 if found else 0.0
    sent = int(number("Queries sent"))
    completed = int(number("Queries completed"))
    share = noerror * completed / sent if sent else 0.0
    return number("Queries per second"), sent, completed, share


# -- main -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per server run")
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs per server, interleaved; the median counts"
    )
    parser.add_argument("--clients", type=int, default=8, help="dnsperf -c (sockets)")
    parser.add_argument("--threads", type=int, default=1, help="dnsperf -T")
    parser.add_argument(
        "--only",
        default="dnslib,dnsmasq,faultdns,rule-other,rule-window",
        help="comma-separated subset of: dnslib,dnsmasq,faultdns,rule-other,rule-window,log"
        " (log: faultdns writing its JSON query log, not run by default)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0:
        parser.error("--rounds must be >= 1 and --duration > 0")
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = set(wanted) - {"dnslib", "dnsmasq", "faultdns", "rule-other", "rule-window", "log"}
    if unknown:
        parser.error(f"--only: unknown server(s) {sorted(unknown)}")

    dnsperf = find_tool("dnsperf")
    dnsmasq = find_tool("dnsmasq") if "dnsmasq" in wanted else ""

    servers: dict[str, tuple[str, Callable[[], list[str]], bool]] = {
        "dnslib": ("dnslib DNSServer", lambda: [sys.executable, "-c", DNSLIB_SERVER], True),
        "dnsmasq": ("dnsmasq", lambda: [], False),
        "faultdns": ("faultdns", faultdns_argv, True),
        "rule-other": (
            "faultdns + rule (other name)",
            lambda: faultdns_argv(RULE_OTHER_NAME),
            True,
        ),
        "rule-window": (
            "faultdns + rule (closed window)",
            lambda: faultdns_argv(RULE_WINDOW_CLOSED),
            True,
        ),
        "log": (
            "faultdns --log-queries /dev/null",
            lambda: [*faultdns_argv(), "--log-queries", os.devnull],
            True,
        ),
    }
    runs: dict[str, list[tuple[float, int, int, float]]] = {key: [] for key in wanted}
    with tempfile.TemporaryDirectory(prefix="faultdns-bench-") as tmp:
        queries = Path(tmp) / "queries.txt"
        queries.write_text(f"{NAME} A\n")
        # Rounds interleave the servers, so a burst of load from elsewhere on a shared
        # machine hits one round of each rather than all rounds of one server.
        for round_no in range(1, args.rounds + 1):
            for key in wanted:
                label, make_argv, port_from_output = servers[key]
                port = 0
                if key == "dnsmasq":
                    port = free_port()
                    command = dnsmasq_argv(dnsmasq, port)
                else:
                    command = make_argv()
                print(
                    f"round {round_no}/{args.rounds}: {label} for {args.duration:g}s ...",
                    file=sys.stderr,
                )
                with running(command, port_from_output, port) as bound:
                    runs[key].append(
                        run_dnsperf(
                            dnsperf, bound, queries, args.duration, args.clients, args.threads
                        )
                    )
    results: dict[str, Result] = {}
    for key, measured in runs.items():
        in_order = [m[0] for m in measured]
        share = min(m[3] for m in measured)
        note = "" if share >= 0.99 else f"only {share:.1%} NOERROR answers"
        results[key] = Result(
            server=servers[key][0],
            qps=statistics.median(in_order),
            sent=sum(m[1] for m in measured),
            completed=sum(m[2] for m in measured),
            noerror_share=share,
            qps_min=min(in_order),
            qps_max=max(in_order),
            qps_rounds=in_order,
            note=note,
        )

    checks = _checks(results)
    if args.json:
        print(
            json.dumps(
                {
                    "duration": args.duration,
                    "clients": args.clients,
                    "threads": args.threads,
                    "rounds": args.rounds,
                    "rules": {"rule-other": RULE_OTHER_NAME, "rule-window": RULE_WINDOW_CLOSED},
                    "cpus": os.cpu_count(),
                    "results": {k: asdict(v) for k, v in results.items()},
                    "checks": checks,
                },
                indent=2,
            )
        )
    else:
        _print_table(results, checks)
    failed = [c for c in checks if not c["ok"]]
    return 1 if args.check and failed else 0


def _paired_overhead(base: Result, variant: Result) -> float:
    """Median over rounds of 1 - variant/base, each round's two runs back to back.

    Load from elsewhere drifts over seconds to minutes; two runs next to each other in
    one round see nearly the same load, so their ratio cancels most of it, where a
    ratio of the two medians would not.
    """
    pairs = zip(base.qps_rounds, variant.qps_rounds, strict=True)
    return statistics.median(1 - v / b for b, v in pairs if b > 0)


def _checks(results: dict[str, Result]) -> list[dict[str, object]]:
    checks: list[dict[str, object]] = []
    base = results.get("faultdns")
    if base is None:
        return checks
    for other, target in (("dnslib", TARGET_VS_DNSLIB), ("dnsmasq", TARGET_VS_DNSMASQ)):
        if other in results and results[other].qps > 0:
            ratio = base.qps / results[other].qps
            checks.append(
                {
                    "what": f"faultdns / {other}",
                    "value": round(ratio, 3),
                    "target": f">= {target:g}x",
                    "ok": ratio >= target and not base.note,
                }
            )
    for key in ("rule-other", "rule-window", "log"):
        if key not in results or base.qps <= 0:
            continue
        overhead = _paired_overhead(base, results[key])
        is_log = key == "log"
        checks.append(
            {
                "what": f"overhead of {results[key].server}",
                "value": round(overhead, 4),
                "target": "-" if is_log else f"< {TARGET_RULE_OVERHEAD:.0%}",
                "ok": (is_log or overhead < TARGET_RULE_OVERHEAD) and not results[key].note,
            }
        )
    return checks


def _print_table(results: dict[str, Result], checks: list[dict[str, object]]) -> None:
    width = max([len(r.server) for r in results.values()] + [6])
    print(f"{'server':<{width}}  {'queries/s':>10}  {'min..max':>17}  {'NOERROR':>7}  note")
    for r in results.values():
        spread = f"{r.qps_min / 1000:,.0f}k..{r.qps_max / 1000:,.0f}k"
        print(
            f"{r.server:<{width}}  {r.qps:>10,.0f}  {spread:>17}  {r.noerror_share:>7.1%}  {r.note}"
        )
    if "rule-other" in results or "rule-window" in results:
        print(f"\n  rule (other name):    --fault '{RULE_OTHER_NAME}'")
        print(f"  rule (closed window): --fault '{RULE_WINDOW_CLOSED}'")
    if checks:
        print()
    for c in checks:
        value = c["value"]
        assert isinstance(value, float)
        shown = f"{value:.1%}" if "overhead" in str(c["what"]) else f"{value:.2f}x"
        verdict = "ok" if c["ok"] else "MISSED"
        print(f"{c['what']:<{width + 12}} {shown:>8}  target {c['target']:<7} {verdict}")


if __name__ == "__main__":
    sys.exit(main())

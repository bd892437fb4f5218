#!/usr/bin/env python3
"""A legitimate ``dig +tcp`` against ``faultdns serve`` while hostile TCP clients hold on.

Issue 10's load, all on loopback: ``--stalled`` connections (300) that send one byte
and stall, ``--dribbling`` connections (256) that send one byte every ``--dribble``
seconds (4) of a message that never completes, and ``--non-reading`` connections (50)
that send queries as fast as the kernel takes them and never read a reply (the
issue's load: a fixed set of clients; with ``--reconnect`` each one the server closes
is opened again at once, a connection flood no per-connection policy can fully
absorb from one address).  Meanwhile a probe every ``--interval`` seconds for ``--duration``
seconds asks ``a.test A`` with ``dig +tcp`` (the figure that counts: wall time of the
dig process, start-up included) and with dnspython over TCP (the query alone).

It prints the probes' latencies (median, max), how many were answered within a second
(the target: all of them) and the server's TCP counters; ``--json`` prints the same as
JSON and ``--check`` exits 1 when a probe was not answered within a second.  dig is a
Debian tool (bind9-dnsutils), installed with apt when missing and run as root.

    python bench/tcp_pressure_bench.py                 # 20 s of probes
    python bench/tcp_pressure_bench.py --duration 60 --json
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faultdns_bench as fb  # the sibling benchmark: process and tool helpers

TARGET_SECONDS = 1.0
fb.PACKAGES["dig"] = "bind9-dnsutils"


def _query_frame() -> bytes:
    from dnslib import DNSRecord

    wire = bytes(DNSRecord.question(fb.NAME, "A").pack())
    return len(wire).to_bytes(2, "big") + wire


@dataclass
class Load:
    """The hostile clients: kept at their counts by one thread until stopped."""

    port: int
    stalled: int
    dribbling: int
    non_reading: int
    dribble: float
    reconnect: bool
    opened: int = 0
    failed_connects: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def _connect(self, kind: str) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        except OSError:
            self.failed_connects += 1
            return None
        self.opened += 1
        if kind == "non-reading":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        if kind == "stalled":
            sock.send(b"\x00")
        return sock

    def run(self) -> None:
        kinds = (
            ["stalled"] * self.stalled
            + ["dribbling"] * self.dribbling
            + ["non-reading"] * self.non_reading
        )
        socks: list[socket.socket | None] = [self._connect(kind) for kind in kinds]
        burst = _query_frame() * 64
        next_dribble = time.monotonic() + self.dribble
        while not self.stop.is_set():
            dribble_now = time.monotonic() >= next_dribble
            if dribble_now:
                next_dribble += self.dribble
            for i, kind in enumerate(kinds):
                sock = socks[i]
                if sock is None:
                    if self.reconnect:
                        socks[i] = self._connect(kind)
                    continue
                try:
                    if kind == "non-reading":
                        while sock.send(burst):
                            pass
                    else:
                        # Readable means closed: the server never writes to these.
                        if sock.recv(1, socket.MSG_PEEK) == b"":
                            raise ConnectionResetError
                except BlockingIOError:
                    pass
                except OSError:
                    sock.close()
                    socks[i] = self._connect(kind) if self.reconnect else None
                    continue
                if kind == "dribbling" and dribble_now:
                    try:
                        sock.send(b"\x01")  # bytes of a 257-byte frame that never completes
                    except OSError:
                        sock.close()
                        socks[i] = self._connect(kind) if self.reconnect else None
            self.stop.wait(0.05)
        for sock in socks:
            if sock is not None:
                sock.close()


def probe_dig(dig: str, port: int) -> float | None:
    start = time.monotonic()
    proc = subprocess.run(
        [dig, "+tcp", "+short", "+time=5", "+tries=1", "-p", str(port), "@127.0.0.1", fb.NAME],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    took = time.monotonic() - start
    return took if proc.returncode == 0 and proc.stdout.strip() == fb.ADDR else None


def probe_python(port: int) -> float | None:
    import dns.exception
    import dns.message
    import dns.query

    start = time.monotonic()
    try:
        reply = dns.query.tcp(
            dns.message.make_query(fb.NAME, "A"), "127.0.0.1", port=port, timeout=5
        )
    except (OSError, EOFError, dns.exception.DNSException):
        return None
    took = time.monotonic() - start
    ok = [rd.to_text() for rrset in reply.answer for rd in rrset] == [fb.ADDR]
    return took if ok else None


def _summary(latencies: list[float | None]) -> dict[str, object]:
    answered = [t for t in latencies if t is not None]
    return {
        "probes": len(latencies),
        "answered": len(answered),
        "within_1s": sum(1 for t in answered if t <= TARGET_SECONDS),
        "median_ms": round(statistics.median(answered) * 1000, 1) if answered else None,
        "max_ms": round(max(answered) * 1000, 1) if answered else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stalled", type=int, default=300)
    parser.add_argument("--dribbling", type=int, default=256)
    parser.add_argument("--non-reading", type=int, default=50)
    parser.add_argument("--dribble", type=float, default=4.0, help="seconds between bytes")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of probes")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between probes")
    parser.add_argument(
        "--reconnect",
        action="store_true",
        help="open a hostile connection again as soon as the server closes it",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * (args.stalled + args.dribbling + args.non_reading) + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    dig = fb.find_tool("dig")
    with serving() as (port, control):
        load = Load(
            port, args.stalled, args.dribbling, args.non_reading, args.dribble, args.reconnect
        )
        thread = threading.Thread(target=load.run, daemon=True)
        thread.start()
        time.sleep(2.0)  # let every hostile connection land before the first probe
        digs: list[float | None] = []
        pythons: list[float | None] = []
        end = time.monotonic() + args.duration
        while time.monotonic() < end:
            digs.append(probe_dig(dig, port))
            pythons.append(probe_python(port))
            time.sleep(args.interval)
        stats = httpx.get(f"{control}/stats", timeout=10).json()
        load.stop.set()
        thread.join(timeout=10)
    result = {
        "load": {
            "stalled": args.stalled,
            "dribbling": args.dribbling,
            "non_reading": args.non_reading,
            "dribble_s": args.dribble,
            "reconnect": args.reconnect,
            "hostile_connections_opened": load.opened,
            "hostile_connects_failed": load.failed_connects,
        },
        "dig_tcp": _summary(digs),
        "dnspython_tcp": _summary(pythons),
        "server": {k: v for k, v in stats.items() if k.startswith("tcp_")},
    }
    ok = bool(digs) and all(t is not None and t <= TARGET_SECONDS for t in digs)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
        print(f"dig +tcp answered within {TARGET_SECONDS:g}s: {'ok' if ok else 'MISSED'}")
    return 1 if args.check and not ok else 0


@contextmanager
def serving() -> Iterator[tuple[int, str]]:
    """``faultdns serve`` as people run it; yields (DNS port, control URL); always stopped."""
    proc = subprocess.Popen(
        fb.faultdns_argv(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=fb.REPO,
    )
    try:
        port_match = re.search(r":(\d+)\s*$", fb._read_line(proc, 15))
        assert proc.stdout is not None
        # Printed right after the first line, so already in the pipe's read buffer
        # (where select() cannot see it): read it directly.
        control_match = re.search(r"(http://\S+)", proc.stdout.readline())
        if port_match is None or control_match is None:
            raise RuntimeError("unexpected first lines from faultdns serve")
        port = int(port_match.group(1))
        fb.wait_answering(port)
        yield port, control_match.group(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


if __name__ == "__main__":
    sys.exit(main())

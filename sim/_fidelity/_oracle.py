"""Running one case on both sides and judging them: :class:`Oracle` and :func:`run_case`.

For each case the oracle, at the same time,

- on lane A, runs the Go probe (``goprobe -lookup NAME`` or ``-get URL -timeout T``) in a
  private mount namespace whose /etc/resolv.conf is the case's text, and reads the
  queries lane A's faultdns servers saw;
- on lane B, runs our cleanup: :meth:`cleanup.StubResolver.from_resolv_conf` on the same
  text, then ``resolve(NAME)``, or
  :func:`cleanup.make_http_client` + :class:`cleanup.RepoClient` ``fetch_list`` with
  the same timeout, on the system clock.

Go sends A and AAAA concurrently, so a case whose outcome depends on which completes
last (or which query an activation counter like ``first=1`` catches) races in Go
itself.  When ours differs from Go's first run and that run took under
:data:`RACE_RERUN_BELOW` seconds (so reruns stay cheap), Go runs again, up to
:data:`GO_RUNS` runs in all with ``GOMAXPROCS`` varied (1, 2, 4: the scheduler decides
how the two goroutines interleave), and ours must equal *one* of Go's records; when Go always
does the same (a delay fault fixes the order, or nothing races), that is exactly Go's.
Lanes are reset (faultdns rules, activation counters, query logs; the HTTP server's
connections) before each run.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cleanup import (
    CleanupError,
    RepoClient,
    ResolvConfError,
    StubResolver,
    UnexpectedError,
    make_http_client,
)
from sim._fidelity._build import GoUnavailable, Probe, build_probe
from sim._fidelity._case import Case
from sim._fidelity._lanes import Lane, LaneUnavailable, open_lane_pair
from sim._fidelity._record import (
    Difference,
    Record,
    differences,
    record_from_go,
    record_from_ours,
    sequential,
)
from sim._fidelity._sandbox import run_with_resolv_conf, sandbox_status

__all__ = [
    "GO_RUNS",
    "Oracle",
    "OracleUnavailable",
    "Verdict",
    "default_oracle",
    "run_case",
    "unavailable_reason",
]

GO_RUNS = 6
# GOMAXPROCS per Go run (None: the machine's): reruns vary the scheduler, since how Go's
# A and AAAA goroutines interleave depends on it (with one P, A's whole chain of tries
# tends to finish before AAAA's starts; with more, they overlap).
_GOMAXPROCS: tuple[str | None, ...] = (None, "1", "2", "4", "1", "2")
RACE_RERUN_BELOW = 2.0  # seconds: Go's first run must be this quick to be run again
_PROBE_TIMEOUT = 120.0


class OracleUnavailable(RuntimeError):
    """Go, a private mount namespace or the loopback lanes are not available here."""


@dataclass(frozen=True)
class Verdict:
    """One case judged: Go's records (one per run), ours, and what differs.

    ``differences`` are against the Go record closest to ours (fewest differing fields);
    empty means agreement.
    """

    case: Case
    go: tuple[Record, ...]
    ours: Record
    differences: tuple[Difference, ...] = field(default=())

    @property
    def agrees(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case.to_dict(),
            "go": [r.to_dict() for r in self.go],
            "ours": self.ours.to_dict(),
            "differences": [
                {"field": d.field, "go": d.go, "ours": d.ours} for d in self.differences
            ],
        }

    def explain(self) -> str:
        """The disagreement, readable: case, Go's record(s), ours, the fields that differ."""
        lines = [f"case {self.case.label or '(unnamed)'}:", json.dumps(self.case.to_dict())]
        seen: list[dict[str, Any]] = []
        for i, record in enumerate(self.go):
            shown = record.to_dict()
            shown.pop("elapsed")
            if shown in seen:
                lines.append(
                    f"Go run {i + 1}: as run {seen.index(shown) + 1}, {record.elapsed:.3f}s"
                )
                continue
            seen.append(shown)
            lines.append(f"Go run {i + 1}: {json.dumps(record.to_dict())}")
        lines.append(f"ours: {json.dumps(self.ours.to_dict())}")
        lines.extend(f"  differs: {d}" for d in self.differences)
        return "\n".join(lines)


def unavailable_reason() -> str:
    """Why the oracle cannot run here, or "" when it can (builds the probe if needed)."""
    status = sandbox_status()
    if not status.available:
        return status.reason
    try:
        build_probe()
    except GoUnavailable as exc:
        return str(exc)
    try:
        default_oracle()
    except OracleUnavailable as exc:
        return str(exc)
    return ""


class Oracle:
    """The probe plus two lanes (Go's and ours), reused across cases; :meth:`run` calls
    from several threads take turns (a lock), since a lane holds one case at a time."""

    def __init__(self, probe: Probe | None = None, *, mapped: bool = False) -> None:
        """``mapped``: serve on an unprivileged port even as root (see ``_lanes``)."""
        status = sandbox_status()
        if not status.available:
            raise OracleUnavailable(status.reason)
        try:
            self.probe = probe if probe is not None else build_probe()
        except GoUnavailable as exc:
            raise OracleUnavailable(str(exc)) from exc
        try:
            self.go_lane, self.our_lane = open_lane_pair(mapped=mapped)
        except LaneUnavailable as exc:
            raise OracleUnavailable(str(exc)) from exc
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="goprobe")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.go_lane.close()
        self.our_lane.close()

    def __enter__(self) -> Oracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the two sides -----------------------------------------------------------------

    def _go_once(self, case: Case, resolv_conf: str, lane: Lane, run: int = 0) -> Record:
        args = [str(self.probe.path)]
        if case.lookup is not None:
            args += ["-lookup", case.lookup]
        else:
            args += ["-get", lane.url(case), "-timeout", f"{case.timeout:g}s"]
        port_map = lane.port_map(case)
        if port_map:
            args += ["-dnsmap", ",".join(f"{a}={b}" for a, b in port_map.items())]
        procs = _GOMAXPROCS[run % len(_GOMAXPROCS)]
        env = {"GOMAXPROCS": procs} if procs is not None else {}
        done = run_with_resolv_conf(resolv_conf, args, timeout=_PROBE_TIMEOUT, env=env)
        lane.settle()
        if done.returncode != 0 or not done.stdout.strip():
            raise RuntimeError(f"goprobe failed ({done.returncode}): {done.stderr.strip()}")
        unmap = {b: a for a, b in port_map.items()}
        return record_from_go(json.loads(done.stdout), lane.queries(), unmap)

    def run_go(self, case: Case, runs: int = 1) -> tuple[Record, ...]:
        """Go's record for ``case`` on lane A, ``runs`` times (the lane re-armed between)."""
        lane = self.go_lane
        resolv_conf = lane.prepare(case)
        records = [self._go_once(case, resolv_conf, lane)]
        for run in range(1, runs):
            lane.rearm(case)
            records.append(self._go_once(case, resolv_conf, lane, run))
        return tuple(records)

    def run_ours(self, case: Case) -> Record:
        """Our cleanup's record for ``case`` on lane B, on the system clock."""
        lane = self.our_lane
        resolv_conf = lane.prepare(case)
        with tempfile.TemporaryDirectory(prefix="retrylab-ours-") as tmp:
            # The same text Go reads; given as text when it has a line end (the parser
            # then names it "resolv.conf text", not a temporary path that differs per run).
            path = Path(tmp) / "resolv.conf"
            path.write_bytes(resolv_conf.encode("utf-8", "surrogateescape"))
            source: str | Path = resolv_conf if "\n" in resolv_conf else path
            addresses: list[str] = []
            error: CleanupError | None = None
            start = time.monotonic()
            port_map = lane.port_map(case)
            try:
                resolver = StubResolver.from_resolv_conf(source)
                if port_map:  # mapped mode: what the probe's -dnsmap does for Go
                    resolver.servers = [_remap(ip, port, port_map) for ip, port in resolver.servers]
                if case.lookup is not None:
                    addresses = resolver.resolve(case.lookup)
                else:
                    with make_http_client(resolver, timeout=case.timeout) as client:
                        repo = RepoClient(lane.repo_url(case), client, timeout=case.timeout)
                        repo.fetch_list("v1.4.1")
            except CleanupError as exc:
                error = exc
            except (ResolvConfError, ValueError) as exc:
                # Go never rejects a resolv.conf or a name up front: this is ours alone.
                error = UnexpectedError(f"{type(exc).__name__}: {exc}")
            elapsed = time.monotonic() - start
        lane.settle()
        return record_from_ours(
            addresses=addresses,
            error=error,
            queries=lane.queries(),
            elapsed=elapsed,
            op=case.op,
            unmap={b: a for a, b in port_map.items()},
        )

    def run(self, case: Case, go_runs: int = GO_RUNS) -> Verdict:
        """Both sides of ``case``, concurrently, judged.

        When ours differs from Go's first run and that run was quick, Go runs again, up
        to ``go_runs`` times in all, until one of its runs matches ours: a plan may race
        in Go itself (A and AAAA are concurrent goroutines; an activation counter such as
        ``first=1`` goes to whichever query arrives first).
        """
        ordered = sequential(case.resolv_conf)
        with self._lock:
            future = self._pool.submit(self.run_go, case, 1)
            try:
                ours = self.run_ours(case)
            finally:
                go = list(future.result())
            best = differences(go[0], ours, ordered=ordered)
            while best and len(go) < go_runs and go[0].elapsed < RACE_RERUN_BELOW:
                resolv_conf = self.go_lane.prepare(case)  # rules, counters, logs reset
                go.append(self._go_once(case, resolv_conf, self.go_lane, len(go)))
                diffs = differences(go[-1], ours, ordered=ordered)
                if len(diffs) < len(best):
                    best = diffs
        return Verdict(case, tuple(go), ours, tuple(best))


def _remap(ip: str, port: int, port_map: dict[str, str]) -> tuple[str, int]:
    target = port_map.get(f"{ip}:{port}")
    if target is None:
        return ip, port
    host, _, mapped = target.rpartition(":")
    return host, int(mapped)


_DEFAULT: Oracle | None = None
_DEFAULT_LOCK = threading.Lock()


def default_oracle() -> Oracle:
    """One shared :class:`Oracle` per process (built on first use, closed at exit)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            import atexit

            _DEFAULT = Oracle()
            atexit.register(_DEFAULT.close)
        return _DEFAULT


def run_case(case: Case, go_runs: int = GO_RUNS) -> Verdict:
    """Run ``case`` on Go and on our cleanup and compare; raises :class:`OracleUnavailable`."""
    return default_oracle().run(case, go_runs)

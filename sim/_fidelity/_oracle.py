"""Running one case on both sides and judging them: :class:`Oracle` and :func:`run_case`.

For each case the oracle, at the same time,

- on lane A, runs the Go probe (``goprobe -lookup NAME`` or ``-get URL -timeout T``) in a
  private mount namespace whose /etc/resolv.conf is the case's text (and /etc/hosts
  :data:`sim._fidelity._sandbox.HOSTS`), and reads the queries lane A's faultdns servers saw;
- on lane B, runs our cleanup: :meth:`cleanup.StubResolver.from_resolv_conf` on the same
  text (and ``hosts=`` the same hosts text), then ``resolve(NAME)``, or
  :func:`cleanup.make_http_client` + :class:`cleanup.RepoClient` ``fetch_list`` with
  the same timeout, on the system clock.

Both sides race in reality.  Go sends A and AAAA from two goroutines, so a case whose
outcome depends on which completes last (or which query an activation counter like
``first=1`` catches) is decided by Go's scheduler; ours runs on the wall clock with
threads of its own.  Measured on loopback, such a tie is near a coin flip, and which
side wins more often varies with the setup (A last more often in one, AAAA in another).
The real controller could give *any* of Go's outcomes, so the verdict asks whether some
run of ours equals some run of Go: when ours differs from Go's first run and both runs
took under :data:`RACE_RERUN_BELOW` seconds, Go runs again (up to :data:`GO_RUNS` in
all, ``GOMAXPROCS`` varied: the scheduler decides how the goroutines interleave) and,
when ours still differs from every Go run, ours runs again too (up to
:data:`OUR_RUNS`).  A plan whose completion order is fixed (``single-request``, or a
``delay`` fault restricted to one query type) gets no rerun of ours: there it must be
exactly Go's.  Lanes are reset (faultdns rules, activation counters, query logs; the HTTP
server's connections) before each run.

Queries nobody watches are made visible: every nameserver our resolver is configured
with must be a lane address (a faultdns server or a known-down address); any other
(``IP:PORT`` that Go ignores, say) appears as ``queries.unwatched`` and fails the case.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cleanup import (
    CleanupError,
    RepoClient,
    ResolvConfError,
    StubResolver,
    SystemClock,
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
    normalise,
    record_from_go,
    record_from_ours,
    sequential,
)
from sim._fidelity._sandbox import HOSTS, run_with_resolv_conf, sandbox_status

__all__ = [
    "GO_RUNS",
    "OUR_RUNS",
    "Oracle",
    "OracleUnavailable",
    "ProbeFailed",
    "Verdict",
    "default_oracle",
    "run_case",
    "unavailable_reason",
]

# Forty-eight runs: in a true A/AAAA tie Go's minority outcome came up in about one run in
# five on loopback (tie-a-servfail: 'no such host' 34 of 150 runs over GOMAXPROCS
# default/1/2/4/8; tie-aaaa-servfail: 'server misbehaving' 32 of 150), so twelve runs
# missed it about once in fifteen (0.8**12) and a 200-case CI run could fail by chance;
# 0.8**48 is about 2e-5.  Reruns happen only when ours differs and both sides were quick,
# and a Go run costs tens of milliseconds, so a tie costs at most a couple of seconds.
GO_RUNS = 48
# GOMAXPROCS per Go run (None: the machine's): reruns vary the scheduler, since how Go's
# A and AAAA goroutines interleave depends on it (one P and eight gave the minority
# outcome most often in the tie cases above).
_GOMAXPROCS: tuple[str | None, ...] = (None, "1", "8", "2", "4", "1", "8")
# Runs of ours when ours still differs from every Go run (see the module docstring).
OUR_RUNS = 4
RACE_RERUN_BELOW = 2.0  # seconds: Go's first run must be this quick to be run again
_PROBE_TIMEOUT = 120.0


class OracleUnavailable(RuntimeError):
    """Go, a private mount namespace or the loopback lanes are not available here."""


class ProbeFailed(RuntimeError):
    """The Go probe exited badly or printed no JSON for a case; the message names the case."""


@dataclass(frozen=True)
class Verdict:
    """One case judged: Go's records (one per run), ours, and what differs.

    ``differences`` are between the closest pair of a Go run and a run of ours (fewest
    differing fields); empty means agreement.  ``ours`` is that run of ours, ``ours_runs``
    every run of ours (one unless ours was rerun, see the module docstring).
    """

    case: Case
    go: tuple[Record, ...]
    ours: Record
    differences: tuple[Difference, ...] = field(default=())
    ours_runs: tuple[Record, ...] = field(default=())

    @property
    def agrees(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case.to_dict(),
            "go": [r.to_dict() for r in self.go],
            "ours": self.ours.to_dict(),
            "ours_runs": [r.to_dict() for r in self.ours_runs],
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
        if len(self.ours_runs) > 1:
            lines.append(f"(ours ran {len(self.ours_runs)} times; none equals a Go run)")
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
        name = case.label or "(unnamed)"
        try:
            done = run_with_resolv_conf(resolv_conf, args, timeout=_PROBE_TIMEOUT, env=env)
        except Exception as exc:  # a hung or unstartable probe: the case is what to name
            raise ProbeFailed(f"case {name}: goprobe did not run: {exc}") from exc
        lane.settle()
        try:
            data = json.loads(done.stdout) if done.returncode == 0 else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ProbeFailed(
                f"case {name}: goprobe failed (exit {done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip() or 'no output'}"
            )
        unmap = {b: a for a, b in port_map.items()}
        return record_from_go(data, lane.queries(), unmap)

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
            unwatched: list[str] = []
            watched = _watched(lane, case)
            error: CleanupError | None = None
            start = time.monotonic()
            port_map = lane.port_map(case)
            try:
                resolver = _resolver(source)
                if port_map:  # mapped mode: what the probe's -dnsmap does for Go
                    resolver.servers = [_remap(ip, port, port_map) for ip, port in resolver.servers]
                unwatched = [
                    f"{ip}:{port}" for ip, port in resolver.servers if (ip, port) not in watched
                ]
                if case.lookup is not None:
                    addresses = resolver.resolve(case.lookup)
                else:
                    with make_http_client(
                        resolver, clock=SystemClock(), timeout=case.timeout
                    ) as client:
                        repo = RepoClient(lane.repo_url(case), client, timeout=case.timeout)
                        repo.fetch_list("v1.4.1")
            except (ResolvConfError, ValueError) as exc:
                # Go never rejects a resolv.conf or a name up front: this is ours alone.
                # (First: a ResolvConfError is a CleanupError too, an InputError.)
                error = UnexpectedError(f"{type(exc).__name__}: {exc}")
            except CleanupError as exc:
                error = exc
            elapsed = time.monotonic() - start
        lane.settle()
        record = record_from_ours(
            addresses=addresses,
            error=error,
            queries=lane.queries(),
            elapsed=elapsed,
            op=case.op,
            unmap={b: a for a, b in port_map.items()},
        )
        if unwatched:
            # Go's lane saw no query there, and ours is configured to send some: a query
            # to a server nobody watches must not pass unseen.
            queries = dict(record.queries)
            queries["unwatched"] = tuple(normalise(u) for u in unwatched)
            record = replace(record, queries=queries)
        return record

    def run(self, case: Case, go_runs: int = GO_RUNS, our_runs: int = OUR_RUNS) -> Verdict:
        """Both sides of ``case``, concurrently, judged.

        When ours differs from Go's first run and both were quick, Go runs again, up to
        ``go_runs`` times in all, until one of its runs matches ours; when none does and
        the case's completion order is not fixed (:func:`order_fixed`), ours runs again,
        up to ``our_runs`` times, until one matches one of Go's (see the module docstring
        for why that is the right notion).  Raises :class:`ProbeFailed` naming the case.
        """
        ordered = sequential(case.resolv_conf)
        with self._lock:
            future = self._pool.submit(self.run_go, case, 1)
            try:
                first = self.run_ours(case)
            finally:
                go = list(future.result())
            ours = [first]
            pair = (first, differences(go[0], first, ordered=ordered))

            def judge(g: Record, o: Record) -> None:
                nonlocal pair
                diffs = differences(g, o, ordered=ordered)
                if len(diffs) < len(pair[1]):
                    pair = (o, diffs)

            quick = go[0].elapsed < RACE_RERUN_BELOW and first.elapsed < RACE_RERUN_BELOW
            while pair[1] and quick and len(go) < go_runs:
                resolv_conf = self.go_lane.prepare(case)  # rules, counters, logs reset
                go.append(self._go_once(case, resolv_conf, self.go_lane, len(go)))
                for o in ours:
                    judge(go[-1], o)
            while pair[1] and quick and not order_fixed(case) and len(ours) < our_runs:
                ours.append(self.run_ours(case))
                for g in go:
                    judge(g, ours[-1])
        return Verdict(case, tuple(go), pair[0], tuple(pair[1]), tuple(ours))


def order_fixed(case: Case) -> bool:
    """Whether nothing races in ``case``: A and AAAA go one after the other
    (``single-request``), or a ``delay`` fault restricted to one query type decides which
    completes last.  Such a case must give exactly Go's outcome, with no rerun of ours."""
    if sequential(case.resolv_conf):
        return True
    return any(
        "delay" in fault and "qtype=" in fault for plan in case.servers for fault in plan.faults
    )


def _watched(lane: Lane, case: Case) -> set[tuple[str, int]]:
    """The ``(ip, port)`` a nameserver of ``case`` may be on this lane: a faultdns server
    (on the lane's DNS port) or an address known to be down (port 53)."""
    out: set[tuple[str, int]] = set()
    for i, plan in enumerate(case.servers):
        out.add((lane.ip(110 + i), 53) if plan.down else (lane.ip(10 + i), lane.port))
    return out


def _resolver(source: str | Path) -> StubResolver:
    """``StubResolver.from_resolv_conf`` with the sandbox's hosts text: Go reads
    :data:`HOSTS` as /etc/hosts (``hosts: files dns``), so ours reads the same, never the
    machine's own /etc/hosts."""
    return StubResolver.from_resolv_conf(source, hosts=HOSTS, clock=SystemClock())


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


def run_case(case: Case, go_runs: int = GO_RUNS, our_runs: int = OUR_RUNS) -> Verdict:
    """Run ``case`` on Go and on our cleanup and compare; raises :class:`OracleUnavailable`
    or :class:`ProbeFailed`."""
    return default_oracle().run(case, go_runs, our_runs)

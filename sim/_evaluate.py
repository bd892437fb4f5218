"""A fast evaluator of the cleanup controller against timelines, exact to the harness.

The harness runs the real cleanup over real sockets in virtual time; that costs
milliseconds per scenario.  The tuner needs millions of (scenario, policy) evaluations,
so this module computes the same outcome, attempt count and completion time from the
timeline alone.  It can be exact because in the harness virtual time passes *only*
through backoff sleeps and timeouts, and both are determined by the cleanup's own code:

* the backoff sleeps are drawn by ``cleanup``'s schedule from the jitter stream of
  :func:`jitter_rng` (the harness hands the same stream to ``run_cleanup``);
* an attempt is ``RepoClient.fetch_lists``: resolve the repo name with the stub
  resolver (search list first because the name has fewer than ``ndots`` dots, A and
  AAAA per candidate in lockstep, ``attempts`` tries per candidate), dial, GET the
  previous list, then the current one over the kept-alive connection; each GET has one
  deadline, Go's ``Client.Timeout`` (30 s), over its lookup, dial and response.
  Against a timeline the only things that take time are dropped DNS queries (each try
  waits its ``timeout``) and requests the repo never answers (``hang``: until what is
  left of the request's deadline); refusals, NXDOMAIN, answers, refused connections
  and HTTP replies are immediate.

Two paths compute it:

* :func:`evaluate` - the reference.  It drives ``cleanup.retry`` itself (the real loop,
  schedule, predicate and deadline rule) with a tiny virtual clock and an operation that
  walks the resolver's candidates and the HTTP exchange against the timeline, charging
  timeouts the way the harness clock does.  Slow (tens of microseconds per attempt) but
  follows the cleanup code step by step.
* :func:`evaluate_batch` - numpy over many worlds at once for one policy.  A world is
  compiled (:func:`compile_worlds`) into segments of constant state; within a segment an
  attempt has one result (its *class*).  Attempt start times are the cumulative sum of
  the sleeps (drawn bit-for-bit like ``cleanup.Schedule``), each attempt's class is a
  lookup, the first terminal one ends the run.  Attempts that land where a DNS query
  would be dropped (or a request hang) shift every later attempt by the timeouts; those
  worlds (none in the built-in scenarios) are stepped attempt by attempt instead, the
  slow attempts replayed (still vectorised) from their actual start times.  Tests hold
  both paths to each other and to the harness.

Counting conventions, the harness's: ``dns_queries`` are the queries the DNS server saw
(two per try: A and AAAA, dropped ones included); ``http_requests`` are the requests the
repo server saw (a refused connection reaches no server and is not counted).
"""

from __future__ import annotations

import abc
import bisect
import functools
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from cleanup import (
    DIAL_TIMEOUT,
    AttemptStarted,
    Backoff,
    CleanupError,
    ConnectError,
    DNSError,
    GaveUp,
    HTTPStatusError,
    Policy,
    RequestTimeout,
    error_kind,
    retry,
)
from sim._scenario import ClientSettings, Scenario
from sim._timeline import OTHER_NAMES, Timeline
from sim._world import WorldRecord, generate_worlds

__all__ = [
    "GIVE_UP_REASONS",
    "OUTCOMES",
    "BatchResult",
    "ControllerModel",
    "Evaluation",
    "Worlds",
    "compile_timelines",
    "compile_worlds",
    "evaluate",
    "evaluate_batch",
    "jitter_draws",
    "jitter_rng",
]

#: outcome codes of :class:`BatchResult` (the names are ``CleanupReport.outcome``'s)
OUTCOMES = ("success", "gave-up", "not-retriable")
#: why a run did not succeed: the last error was DNS / HTTP (and the retry budget ran
#: out: schedule or deadline), or an error the policy does not retry
GIVE_UP_REASONS = ("", "dns", "http", "not-retried")

SUCCESS, GAVE_UP, NOT_RETRIABLE = 0, 1, 2
_DNS, _HTTP, _NOT_RETRIED = 1, 2, 3  # indices into GIVE_UP_REASONS

# attempt classes: what an attempt made inside one segment of constant state ends with
C_SUCCESS = 0  # both lists fetched
C_DNS_NOT_FOUND = 1  # "no such host": retried by v1.5 only
C_DNS_TEMPORARY = 2  # refused / server misbehaving: retried by both
C_HTTP_REFUSED = 3  # connection refused/reset or a timeout: retried by both
C_HTTP_STATUS = 4  # 404: never retried
C_SLOW = 5  # a query dropped or a request hung: time passes inside the attempt

_DNS_CODES = {"refused": 0, "timeout": 1, "nxdomain": 2, "ok": 3}
_HTTP_CODES = {"refused": 0, "missing": 1, "ok": 2, "hang": 3}
_DNS_NAMES = tuple(_DNS_CODES)
_HTTP_NAMES = tuple(_HTTP_CODES)

_MAX_NS = 2**63 - 1  # cleanup's clamp: Go's largest time.Duration
_MAX_SECONDS = _MAX_NS / 1e9


def jitter_rng(seed: int) -> random.Random:
    """The random stream the backoff jitter is drawn from for scenario ``seed``.

    The harness hands ``run_cleanup`` exactly this (``Random(f"{seed}/retry")``), and the
    resolver's query IDs a stream of their own, so the sleeps depend on the seed and the
    policy only, never on how many queries a run happened to send; and not on the world
    model's draws, which come from ``Random(seed)``.
    """
    return random.Random(f"{seed}/retry")


def jitter_draws(seed: int, count: int) -> list[float]:
    """The first ``count`` values of :func:`jitter_rng`: one per sleep, in every mode."""
    draw = jitter_rng(seed).random
    return [draw() for _ in range(count)]


# --- the controller as the harness configures it ---------------------------------------

_CLUSTER_SUFFIX = ".svc.cluster.local"
_LIST_MARK = "/images-lists-archive/"


def _list_path(version: str) -> str:
    return f"/harvester-iso/bundle/harvester/images-lists-archive/{version}/image_list_all.txt"


@dataclass(frozen=True)
class ControllerModel:
    """The cleanup's resolver and HTTP settings, as the harness configures them.

    Defaults are the scenario's ``[client]`` defaults (Go/glibc resolver: 5 s per try,
    2 tries; the pod's search list and ``ndots:5``; the controller's 30 s HTTP timeout).
    """

    repo_service: str
    previous_version: str = "v1.4.1"
    search: tuple[str, ...] = ClientSettings().search
    ndots: int = ClientSettings().ndots
    dns_timeout: float = ClientSettings().dns_timeout
    dns_attempts: int = ClientSettings().dns_attempts
    http_timeout: float = ClientSettings().http_timeout

    @classmethod
    def for_scenario(cls, scenario: Scenario) -> ControllerModel:
        client = scenario.client
        return cls(
            repo_service=scenario.repo_service,
            previous_version=scenario.previous_version,
            search=tuple(client.search),
            ndots=client.ndots,
            dns_timeout=float(client.dns_timeout),
            dns_attempts=client.dns_attempts,
            http_timeout=float(client.http_timeout),
        )

    @classmethod
    def for_timeline(cls, timeline: Timeline, scenario: Scenario | None = None) -> ControllerModel:
        """The repo name and versions from the timeline, client settings from ``scenario``
        (default: the built-in defaults), as the harness's ``run_timeline`` does."""
        host = timeline.repo_host.rstrip(".")
        if not host.endswith(_CLUSTER_SUFFIX):
            raise ValueError(f"repo_host {timeline.repo_host!r} is not a Service name")
        versions = [
            path.split(_LIST_MARK, 1)[1].split("/", 1)[0]
            for path in timeline.http
            if _LIST_MARK in path
        ]
        previous = [v for v in versions if v != "current"]
        if len(previous) != 1 or "current" not in versions:
            raise ValueError(f"timeline paths must be one previous list and 'current': {versions}")
        base = cls.for_scenario(scenario) if scenario is not None else cls("x")
        return replace(
            base, repo_service=host[: -len(_CLUSTER_SUFFIX)], previous_version=previous[0]
        )

    @property
    def repo_host(self) -> str:
        return (self.repo_service + _CLUSTER_SUFFIX).lower()

    @property
    def paths(self) -> tuple[str, str]:
        """(previous list, current list): the order ``fetch_lists`` fetches them in."""
        return _list_path(self.previous_version), _list_path("current")

    def candidates(self) -> list[str]:
        """The names the stub resolver queries, in order (``cleanup``'s candidate rule)."""
        fqdn = self.repo_service.rstrip(".") + "."
        ndotted = self.repo_service.count(".") >= self.ndots
        names = [fqdn] if ndotted else []
        names += [f"{fqdn}{suffix.rstrip('.')}." for suffix in self.search if suffix.rstrip(".")]
        if not ndotted:
            names.append(fqdn)
        return names


@functools.lru_cache(maxsize=64)
def _candidates(model: ControllerModel) -> tuple[str, ...]:
    return tuple(model.candidates())


# --- one attempt against a view of the world -------------------------------------------


class _View(abc.ABC):
    """What the world answers at time t, as the harness's peers answer it.

    ``dns``: how a query for ``name`` ends (refused | timeout | nxdomain | ok); only the
    repo name can be ``ok`` (any other name is NXDOMAIN in the zone).  ``accepting``:
    the repo Service has endpoints (the port listens) unless every path is refused.
    ``http``: how a request for ``path`` is answered on an accepted connection.
    """

    @abc.abstractmethod
    def dns(self, name: str, t: float) -> str: ...

    @abc.abstractmethod
    def http(self, path: str, t: float) -> str: ...

    @abc.abstractmethod
    def accepting(self, t: float) -> bool: ...

    @abc.abstractmethod
    def endpoints_gone_after(self, t: float) -> float:
        """The first time after ``t`` when the Service stops accepting (``inf``: never):
        the harness closes open connections then."""


class _TimelineView(_View):
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.repo = timeline.repo_host.rstrip(".").lower()

    def dns(self, name: str, t: float) -> str:
        state = self.timeline.dns_state(name, t)
        if state == "ok" and name.rstrip(".").lower() != self.repo:
            return "nxdomain"
        return state

    def http(self, path: str, t: float) -> str:
        return self.timeline.http_state(path, t) if path in self.timeline.http else "missing"

    def accepting(self, t: float) -> bool:
        paths = self.timeline.http
        return not paths or any(self.timeline.http_state(p, t) != "refused" for p in paths)

    def endpoints_gone_after(self, t: float) -> float:
        changes = sorted({iv.start for ivs in self.timeline.http.values() for iv in ivs})
        for when in changes:
            if when > t and not self.accepting(when):
                return when
        return math.inf


class _Clock:
    """The harness clock as the cleanup sees it: sleeps and timeouts move time."""

    def __init__(self, start: float) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.t = self.t + seconds

    def wait(self, timeout: float) -> None:
        """A wait nothing answers: the harness moves to ``now + timeout`` and reports it."""
        self.t = self.t + timeout

    # cleanup.Clock's socket waits: never reached, the operation below has no sockets
    def wait_readable(self, sock: object, timeout: float | None) -> bool:
        raise AssertionError("the evaluator opens no sockets")

    def wait_writable(self, sock: object, timeout: float | None) -> bool:
        raise AssertionError("the evaluator opens no sockets")


@dataclass
class _Counters:
    dns: int = 0
    http: int = 0


# how one query ended: (final, kind), kind "answer" | "not-found" | "temporary" | "timeout"
_QueryResult = tuple[bool, str]
_QTYPES = ("A", "AAAA")
_ERROR_TEXT = {"not-found": "no such host", "timeout": "i/o timeout"}


class _Controller:
    """One cleanup attempt (``RepoClient.fetch_lists``) replayed against a view.

    Each method follows the cleanup function named in its docstring, keeping only what
    can happen against a timeline (one nameserver, UDP, no truncation, one address).
    """

    def __init__(self, model: ControllerModel, view: _View, clock: _Clock) -> None:
        self.model = model
        self.view = view
        self.clock = clock
        self.count = _Counters()
        self.host = model.repo_service
        self.candidates = _candidates(model)
        previous, current = model.paths
        self.fetches = ((previous, model.previous_version), (current, "current"))
        self.base = f"http://{self.host}"

    def _exchange(self, fqdn: str, pending: list[str], deadline: float) -> dict[str, _QueryResult]:
        """``StubResolver._exchange``: one try, every pending query type, one wait."""
        clock = self.clock
        start = clock.now()
        if start >= deadline:  # the overall deadline passed: fail without sending
            return {q: (False, "timeout") for q in pending}
        try_deadline = min(start + self.model.dns_timeout, deadline)
        self.count.dns += len(pending)
        state = self.view.dns(fqdn, start)
        if state == "ok":  # the A record; AAAA is NOERROR without data: "no such host"
            return {q: (True, "answer" if q == "A" else "not-found") for q in pending}
        if state == "nxdomain":
            return {q: (True, "not-found") for q in pending}
        if state == "refused":
            return {q: (False, "temporary") for q in pending}
        # dropped: the wait for replies that never come runs to the try's deadline
        remaining = try_deadline - clock.now()
        if remaining > 0:
            clock.wait(remaining)
        return {q: (False, "timeout") for q in pending}

    def _lookup_candidate(self, fqdn: str, deadline: float) -> dict[str, _QueryResult]:
        """``StubResolver._lookup_candidate``: ``attempts`` tries, A and AAAA in lockstep."""
        pending = list(_QTYPES)
        done: dict[str, _QueryResult] = {}
        last: dict[str, _QueryResult] = {}
        for _try in range(self.model.dns_attempts):
            for qtype, result in self._exchange(fqdn, pending, deadline).items():
                if result[0]:
                    done[qtype] = result
                    pending.remove(qtype)
                else:
                    last[qtype] = result
            if not pending:
                return done
            if self.clock.now() >= deadline:
                break
        for qtype in pending:
            done[qtype] = last[qtype]
        return done

    def _resolve(self, deadline: float) -> None:
        """``StubResolver.resolve``: the first candidate with an address wins; else the
        first error, replaced by the name-as-given's errors (Go's preference)."""
        last_err: str | None = None
        for fqdn in self.candidates:
            results = self._lookup_candidate(fqdn, deadline)
            resolved = False
            for qtype in _QTYPES:
                kind = results[qtype][1]
                if kind == "answer":
                    resolved = True
                elif last_err is None or fqdn == self.host + ".":
                    last_err = kind
            if resolved:
                return
        kind = last_err or "not-found"
        raise DNSError(
            self.host,
            _ERROR_TEXT.get(kind, "server misbehaving"),
            is_not_found=kind == "not-found",
            is_timeout=kind == "timeout",
            is_temporary=kind == "temporary",
        )

    def attempt(self, _number: int) -> None:
        """``RepoClient.fetch_lists``: previous then current list, one kept-alive
        connection (the repo server keeps connections open; httpcore reuses them)."""
        clock, view = self.clock, self.view
        connected = False
        timeout = self.model.http_timeout
        for path, version in self.fetches:
            url = self.base + path
            # DeadlineClient.send: Go's Client.Timeout, one deadline per request; every
            # wait gets min(timeout, what is left) (Exchange.limit), in this float order
            request_deadline = clock.now() + timeout
            if not connected:
                # ClockNetworkBackend.connect_tcp: lookup and dial share the dialer's
                # deadline, what is left of the request's (at most DIAL_TIMEOUT)
                limit = min(timeout, max(0.0, request_deadline - clock.now()), DIAL_TIMEOUT)
                deadline = clock.now() + limit
                self._resolve(deadline)
                if deadline - clock.now() <= 0:
                    raise RequestTimeout(url, "connect", timeout)
                if not view.accepting(clock.now()):
                    raise ConnectError(url, "127.0.0.1", "refused")
                connected = True
            self.count.http += 1  # the repo saw this request
            state = view.http(path, clock.now())
            if state == "refused":  # endpoints for other paths only: connection reset
                raise ConnectError(url, "127.0.0.1", "reset")
            if state == "missing":
                raise HTTPStatusError(url, 404, version)
            if state == "hang":
                # read, never answered: the request's deadline ends it, unless the
                # Service loses its endpoints first, which resets the connection
                wait = min(timeout, max(0.0, request_deadline - clock.now()))
                gone = view.endpoints_gone_after(clock.now())
                if gone < clock.now() + wait:
                    clock.t = gone
                    raise ConnectError(url, "127.0.0.1", "reset", op="read")
                clock.wait(wait)
                raise RequestTimeout(url, "headers", timeout)


@dataclass(frozen=True)
class Evaluation:
    """One cleanup run under one policy in one world.

    ``end``: virtual time (seconds since the reboot) when the cleanup finished (the
    harness's ``completion_time``); ``elapsed``: ``end`` minus the cleanup start, how
    long the controller was blocked; ``reason``: one of :data:`GIVE_UP_REASONS`;
    ``limit``: for gave-up runs, ``schedule`` or ``deadline``.
    """

    outcome: str
    attempts: int
    end: float
    elapsed: float
    dns_queries: int
    http_requests: int
    reason: str = ""
    limit: str = ""
    error_kind: str = ""


def _reason(error: CleanupError) -> str:
    return "dns" if isinstance(error, DNSError) else "http"


def _evaluate_view(
    view: _View, start: float, policy: Policy, seed: int, model: ControllerModel
) -> Evaluation:
    clock = _Clock(start)
    controller = _Controller(model, view, clock)
    attempts = 0

    def on_event(event: object) -> None:
        nonlocal attempts
        if isinstance(event, AttemptStarted):
            attempts = event.attempt

    try:
        retry(controller.attempt, policy, clock=clock, rng=jitter_rng(seed), on_event=on_event)
    except GaveUp as exc:
        outcome, reason, limit = "gave-up", _reason(exc.last_error), exc.reason
        kind = error_kind(exc.last_error)
    except CleanupError as exc:
        outcome, reason, limit, kind = "not-retriable", "not-retried", "", error_kind(exc)
    else:
        outcome, reason, limit, kind = "success", "", "", ""
    end = clock.now()
    return Evaluation(
        outcome,
        attempts,
        end,
        end - start,
        controller.count.dns,
        controller.count.http,
        reason=reason,
        limit=limit,
        error_kind=kind,
    )


def evaluate(
    timeline: Timeline,
    policy: Policy,
    seed: int,
    model: ControllerModel | None = None,
) -> Evaluation:
    """The reference evaluation: ``cleanup.retry`` itself against the timeline.

    ``seed`` picks the jitter stream (:func:`jitter_rng`); the harness's
    ``run_timeline(timeline, policy, seed=seed)`` has the same outcome, attempts and
    completion time.  ``model`` defaults to :meth:`ControllerModel.for_timeline`.
    """
    if not math.isfinite(timeline.cleanup_start):
        raise ValueError("the controller never starts in this timeline: nothing to evaluate")
    model = model or ControllerModel.for_timeline(timeline)
    return _evaluate_view(_TimelineView(timeline), timeline.cleanup_start, policy, seed, model)


# --- compiled worlds ------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Which signal (column of a segment's codes) each name and path reads."""

    repo: str
    dns_keys: tuple[str, ...]  # DNS signals: the repo host, "*", and any named key
    paths: tuple[str, ...]  # HTTP signals

    def dns_slot(self, name: str) -> tuple[int, bool]:
        """(the signal ``name`` reads, whether it is the repo name)."""
        return _dns_slot(self, name)


@functools.lru_cache(maxsize=256)
def _dns_slot(layout: _Layout, name: str) -> tuple[int, bool]:
    key = name.rstrip(".").lower()
    slot = layout.dns_keys.index(key if key in layout.dns_keys else OTHER_NAMES)
    return slot, key == layout.repo


@dataclass
class Worlds:
    """Many worlds as padded arrays of constant-state segments (the batch path's input).

    Row ``n`` is seed ``seeds[n]``; its segment ``j`` starts at ``breaks[n, j]`` (``inf``
    pads); ``codes[n, j]`` are the signals' states there (DNS keys then paths, see
    ``layout``); ``cls``/``dnsq``/``httpq`` what an attempt made in that segment ends
    with and costs; ``draws[n]`` the first values of the seed's jitter stream.
    """

    model: ControllerModel
    layout: _Layout
    seeds: npt.NDArray[np.int64]
    start: npt.NDArray[np.float64]
    breaks: npt.NDArray[np.float64]
    codes: npt.NDArray[np.int8]
    cls: npt.NDArray[np.int8]
    dnsq: npt.NDArray[np.int32]
    httpq: npt.NDArray[np.int32]
    draws: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.seeds)

    def terminal(self, predicate: str) -> npt.NDArray[np.bool_]:
        """Per segment: does an attempt there end the run under ``predicate``?  (Success,
        a 404, "no such host" for v1.4, or a slow segment the exact path takes over.)"""
        cls = self.cls
        ends: npt.NDArray[np.bool_] = (cls == C_SUCCESS) | (cls == C_HTTP_STATUS) | (cls == C_SLOW)
        if predicate == "v1.4":
            ends |= cls == C_DNS_NOT_FOUND
        return ends

    @property
    def load(self) -> npt.NDArray[np.int64]:
        """Per segment: DNS queries | HTTP requests << 32 of one attempt (summed in one go)."""
        return self.dnsq.astype(np.int64) | (self.httpq.astype(np.int64) << 32)


class _Constant(_View):
    """A world frozen in one set of codes (one segment)."""

    def __init__(self, layout: _Layout, codes: Sequence[int]) -> None:
        self.layout = layout
        self.codes = codes

    def dns(self, name: str, t: float) -> str:
        slot, repo = _dns_slot(self.layout, name)
        state = _DNS_NAMES[self.codes[slot]]
        if state == "ok" and not repo:
            return "nxdomain"
        return state

    def http(self, path: str, t: float) -> str:
        if path not in self.layout.paths:
            return "missing"
        return _HTTP_NAMES[self.codes[len(self.layout.dns_keys) + self.layout.paths.index(path)]]

    def accepting(self, t: float) -> bool:
        first = len(self.layout.dns_keys)
        http = self.codes[first:]
        return not len(http) or any(code != _HTTP_CODES["refused"] for code in http)

    def endpoints_gone_after(self, t: float) -> float:
        return math.inf  # one segment: nothing changes (a hang makes the segment slow)


def _segment_class(
    model: ControllerModel, layout: _Layout, codes: tuple[int, ...]
) -> tuple[int, int, int]:
    """(class, DNS queries, HTTP requests) of an attempt made inside one segment."""
    clock = _Clock(1000.0)
    controller = _Controller(model, _Constant(layout, codes), clock)
    cls = _attempt_class(controller)
    if clock.t != 1000.0:
        cls = C_SLOW  # a query was dropped: time passes inside the attempt
    return cls, controller.count.dns, controller.count.http


def _attempt_class(controller: _Controller) -> int:
    """Run one attempt; the class of how it ended."""
    try:
        controller.attempt(1)
    except DNSError as exc:
        return C_DNS_NOT_FOUND if exc.is_not_found else C_DNS_TEMPORARY
    except (ConnectError, RequestTimeout):
        return C_HTTP_REFUSED  # retried by both predicates, like every network error
    except HTTPStatusError:
        return C_HTTP_STATUS
    return C_SUCCESS


class _Compiler:
    """Turns worlds (state changes per signal) into :class:`Worlds` arrays."""

    def __init__(self, model: ControllerModel, dns_keys: Iterable[str], paths: Iterable[str]):
        self.model = model
        keys = [model.repo_host, OTHER_NAMES, *(k for k in dns_keys if k not in (
            model.repo_host, OTHER_NAMES))]  # fmt: skip
        self.layout = _Layout(model.repo_host, tuple(keys), tuple(paths))
        self.memo: dict[tuple[int, ...], tuple[int, int, int]] = {}
        self.seeds: list[int] = []
        self.starts: list[float] = []
        self.rows: list[tuple[list[float], list[tuple[int, ...]]]] = []

    def add(self, seed: int, start: float, tracks: Sequence[Sequence[tuple[float, str]]]) -> None:
        """``tracks``: per signal of the layout, its ``[(time, state), ...]`` from t = 0."""
        n_dns = len(self.layout.dns_keys)
        changes = []
        for i, track in enumerate(tracks):
            table = _DNS_CODES if i < n_dns else _HTTP_CODES
            for t, state in track:
                changes.append((t, i, table[state]))
        changes.sort(key=lambda change: change[0])  # stable: a signal's order is kept
        self.add_sorted(seed, start, changes)

    def add_sorted(
        self, seed: int, start: float, changes: Sequence[tuple[float, int, int]]
    ) -> None:
        """``changes``: ``(time, signal, code)`` by time; at one instant the last counts."""
        if not math.isfinite(start):
            raise ValueError(f"seed {seed}: the controller never starts; nothing to evaluate")
        current = [0] * (len(self.layout.dns_keys) + len(self.layout.paths))
        times: list[float] = []
        codes: list[tuple[int, ...]] = []
        for t, i, code in changes:
            current[i] = code
            if times and times[-1] == t:
                codes[-1] = tuple(current)
            else:
                times.append(t)
                codes.append(tuple(current))
        # segments over before the cleanup starts can hold no attempt: drop them
        first = bisect.bisect_right(times, start) - 1
        if first > 0:
            del times[:first], codes[:first]
        self.seeds.append(seed)
        self.starts.append(start)
        self.rows.append((times, codes))

    def finish(self, draws: int) -> Worlds:
        n = len(self.rows)
        width = max((len(times) for times, _ in self.rows), default=1)
        signals = len(self.layout.dns_keys) + len(self.layout.paths)
        pad_code = (0,) * signals
        breaks: list[float] = []
        codes: list[tuple[int, ...]] = []
        info: list[tuple[int, int, int]] = []
        memo = self.memo
        for times, row_codes in self.rows:
            pad = width - len(times)
            breaks += times
            breaks += [math.inf] * pad
            codes += row_codes
            codes += [pad_code] * pad
            for code in row_codes:
                found = memo.get(code)
                if found is None:
                    found = memo[code] = _segment_class(self.model, self.layout, code)
                info.append(found)
            info += [(C_SUCCESS, 0, 0)] * pad
        table = np.array(info, dtype=np.int32).reshape(n, width, 3)
        jitter = np.array([jitter_draws(seed, draws) for seed in self.seeds], dtype=np.float64)
        return Worlds(
            model=self.model,
            layout=self.layout,
            seeds=np.array(self.seeds, dtype=np.int64),
            start=np.array(self.starts, dtype=np.float64),
            breaks=np.array(breaks, dtype=np.float64).reshape(n, width),
            codes=np.array(codes, dtype=np.int8).reshape(n, width, signals),
            cls=table[:, :, 0].astype(np.int8),
            dnsq=np.ascontiguousarray(table[:, :, 1]),
            httpq=np.ascontiguousarray(table[:, :, 2]),
            draws=jitter.reshape(n, draws),
        )


def compile_worlds(records: Iterable[WorldRecord], model: ControllerModel, draws: int) -> Worlds:
    """World records (:func:`sim._world.generate_worlds`) -> :class:`Worlds`.

    ``draws``: jitter values to precompute per seed (the most sleeps any policy of the
    sweep can take, :func:`draws_needed`).
    """
    compiler = _Compiler(model, (), model.paths)
    layout = compiler.layout
    slots = {("dns", key): i for i, key in enumerate(layout.dns_keys)}
    n_dns = len(layout.dns_keys)
    slots.update({("http", path): n_dns + i for i, path in enumerate(layout.paths)})
    tables = [_DNS_CODES] * n_dns + [_HTTP_CODES] * len(layout.paths)
    for seed, start, log in records:
        changes = []
        seen = 0
        for t, kind, key, state in log:
            slot = slots.get((kind, key))
            if slot is None:
                continue  # a signal no query of this controller reads
            seen |= 1 << slot
            changes.append((t, slot, tables[slot][state]))
        if seen != (1 << len(tables)) - 1:
            missing = [k for k, i in slots.items() if not seen >> i & 1]
            raise ValueError(f"seed {seed}: the world has no state for {missing[0]}")
        compiler.add_sorted(seed, start, changes)
    return compiler.finish(draws)


def compile_timelines(
    timelines: Sequence[Timeline], seeds: Sequence[int], model: ControllerModel, draws: int
) -> Worlds:
    """Timelines (any DNS keys, e.g. shrunk by hypothesis) -> :class:`Worlds`;
    ``seeds[i]`` picks the jitter stream for ``timelines[i]``."""
    keys = sorted({k.rstrip(".").lower() for t in timelines for k in t.dns})
    compiler = _Compiler(model, keys, model.paths)
    layout = compiler.layout
    for timeline, seed in zip(timelines, seeds, strict=True):
        if timeline.repo_host.rstrip(".").lower() != model.repo_host:
            raise ValueError(f"seed {seed}: repo host {timeline.repo_host!r} is not the model's")
        by_key = {k.rstrip(".").lower(): v for k, v in timeline.dns.items()}
        tracks: list[list[tuple[float, str]]] = []
        for key in layout.dns_keys:
            intervals = by_key.get(key, by_key.get(OTHER_NAMES))
            if intervals is None:
                raise ValueError(f"seed {seed}: no DNS state for {key!r} and no '*' entry")
            tracks.append([(iv.start, iv.state) for iv in intervals])
        for path in layout.paths:
            if path not in timeline.http:
                raise ValueError(f"seed {seed}: no HTTP state for {path!r}")
            tracks.append([(iv.start, iv.state) for iv in timeline.http[path]])
        compiler.add(seed, timeline.cleanup_start, tracks)
    return compiler.finish(draws)


def generate(
    scenario: Scenario, seeds: Sequence[int], draws: int, model: ControllerModel | None = None
) -> Worlds:
    """World model -> compiled worlds for ``seeds`` (the tuner's per-chunk input)."""
    model = model or ControllerModel.for_scenario(scenario)
    return compile_worlds(generate_worlds(scenario, seeds), model, draws)


class _RowView(_View):
    """One compiled world as a view, for the exact path."""

    def __init__(self, worlds: Worlds, row: int) -> None:
        width = int(np.isfinite(worlds.breaks[row]).sum())
        self.breaks = worlds.breaks[row, :width].tolist()
        self.codes = worlds.codes[row, :width].tolist()
        self.constant = _Constant(worlds.layout, self.codes[0])

    def _at(self, t: float) -> _Constant:
        self.constant.codes = self.codes[bisect.bisect_right(self.breaks, t) - 1]
        return self.constant

    def dns(self, name: str, t: float) -> str:
        return self._at(t).dns(name, t)

    def http(self, path: str, t: float) -> str:
        return self._at(t).http(path, t)

    def accepting(self, t: float) -> bool:
        return self._at(t).accepting(t)

    def endpoints_gone_after(self, t: float) -> float:
        j = bisect.bisect_right(self.breaks, t)
        for when, codes in zip(self.breaks[j:], self.codes[j:], strict=True):
            self.constant.codes = codes
            if not self.constant.accepting(when):
                return float(when)
        return math.inf


def evaluate_row(worlds: Worlds, row: int, policy: Policy) -> Evaluation:
    """The reference evaluation of one compiled world."""
    view = _RowView(worlds, row)
    seed = int(worlds.seeds[row])
    return _evaluate_view(view, float(worlds.start[row]), policy, seed, worlds.model)


# --- the schedule, vectorised bit-for-bit ------------------------------------------------


def schedule_shape(backoff: Backoff) -> tuple[int, int]:
    """(attempts, sleeps) when every attempt fails; sleeps == attempts when a client-go
    cap ends the loop with a trailing sleep."""
    attempts = backoff.attempts
    sleeps = len(backoff.bounds())
    return attempts, sleeps


def _to_ns(seconds: float) -> int:
    """cleanup's seconds -> Duration conversion (rounded, clamped to Go's range)."""
    return min(_MAX_NS, round(seconds * 1e9))


def _grow(base: float, factor: float, n: int) -> float:
    try:
        value = base * factor**n
    except OverflowError:
        return _MAX_SECONDS
    return min(value, _MAX_SECONDS)


def sleep_matrix(
    backoff: Backoff,
    draws: npt.NDArray[np.float64],
    out: npt.NDArray[np.float64] | None = None,
) -> npt.NDArray[np.float64]:
    """Every row's sleeps, equal to ``list(backoff.delays(jitter_rng(seed)))`` bit for bit.

    ``draws[n, k]`` is the k-th ``random()`` of row n's jitter stream; every mode draws
    exactly one value per sleep (client-go only when ``jitter > 0``).  The arithmetic is
    cleanup's, operation for operation, so IEEE rounding gives the same bits; only the
    deterministic part of each step (Go's integer durations, ``base * factor**n``) is
    computed once per policy in Python.  ``out``: where to write (rows x sleeps).
    """
    _attempts, count = schedule_shape(backoff)
    rows = draws.shape[0]
    if count > draws.shape[1]:
        raise ValueError(f"{count} sleeps need {count} draws per row, have {draws.shape[1]}")
    if out is None:
        out = np.empty((rows, count))
    if count == 0:
        return out
    u = draws[:, :count]
    b = backoff
    if b.mode == "client-go":
        bases = _client_go_bases(b)
        assert len(bases) == count
        base_ns = np.array(bases, dtype=np.int64)
        if b.jitter > 0:
            # cleanup: duration + _float_to_ns(random() * jitter * float(duration)),
            # truncated to integer nanoseconds, clamped to Go's largest Duration
            value = (u * b.jitter) * np.array([float(x) for x in bases])
            huge = value >= _MAX_NS
            if huge.any():
                value = np.where(huge, 0.0, value)
            extra = value.astype(np.int64)  # truncation, like int(value)
            if huge.any():
                extra[huge] = _MAX_NS
            np.divide(np.minimum(extra, _MAX_NS - base_ns) + base_ns, 1e9, out=out)
        else:
            out[:] = base_ns / 1e9
        return out
    cap = _MAX_SECONDS if b.cap is None else min(b.cap, _MAX_SECONDS)
    if b.mode == "decorrelated":  # each sleep depends on the previous one: column by column
        previous = np.full(rows, b.duration)
        for k in range(count):
            upper = np.minimum(_MAX_SECONDS, np.maximum(b.duration, previous * b.factor))
            sleep = np.minimum(cap, b.duration + (upper - b.duration) * u[:, k])
            out[:, k] = sleep
            previous = sleep
        return out
    grown = np.array([_grow(b.duration, b.factor, k) for k in range(count)])
    if b.mode == "full":  # rng.uniform(0, t) is 0 + (t - 0) * random()
        limit = np.minimum(cap, grown)
        np.add(0.0, (limit - 0.0) * u, out=out)
    elif b.mode == "equal":
        half = np.minimum(cap, grown) / 2
        np.add(half, 0.0 + (half - 0.0) * u, out=out)
    else:  # additive
        np.minimum(cap, grown + (0.0 + (b.jitter - 0.0) * u), out=out)
    return out


def _client_go_bases(backoff: Backoff) -> list[int]:
    """The durations (ns) Go's ``Step()`` jitters, one per sleep, before any jitter."""
    bases: list[int] = []
    steps = backoff.steps
    duration = _to_ns(backoff.duration)
    cap_ns = _to_ns(backoff.cap) if backoff.cap is not None else 0
    while steps > 0 and steps != 1:
        steps -= 1
        bases.append(duration)
        if backoff.factor != 0:
            grown = float(duration) * backoff.factor
            duration = _MAX_NS if grown >= _MAX_NS else int(grown)
            if cap_ns > 0 and duration > cap_ns:
                duration = cap_ns
                steps = 0
    return bases


# --- the batch evaluation ---------------------------------------------------------------


@dataclass
class BatchResult:
    """Per-row results of one policy over :class:`Worlds` (see :class:`Evaluation`)."""

    outcome: npt.NDArray[np.int8]
    attempts: npt.NDArray[np.int32]
    end: npt.NDArray[np.float64]
    elapsed: npt.NDArray[np.float64]
    dns_queries: npt.NDArray[np.int32]
    http_requests: npt.NDArray[np.int32]
    reason: npt.NDArray[np.int8]
    exact_rows: int = 0  # rows stepped attempt by attempt (time passed inside attempts)

    def row(self, n: int) -> dict[str, Any]:
        return {
            "outcome": OUTCOMES[int(self.outcome[n])],
            "attempts": int(self.attempts[n]),
            "end": float(self.end[n]),
            "elapsed": float(self.elapsed[n]),
            "dns_queries": int(self.dns_queries[n]),
            "http_requests": int(self.http_requests[n]),
            "reason": GIVE_UP_REASONS[int(self.reason[n])],
        }


def draws_needed(policies: Iterable[Policy]) -> int:
    """Jitter values per seed that covers every policy's sleeps."""
    return max((schedule_shape(p.backoff)[1] for p in policies), default=0)


def evaluate_batch(worlds: Worlds, policy: Policy) -> BatchResult:
    """``evaluate`` for every world in ``worlds`` under ``policy``, vectorised.

    Attempt k of row n starts at ``times[n, k]`` (t0 plus the first k sleeps, summed in
    the clock's order); it lands in segment ``seg[n, k]``; the first attempt whose
    segment is terminal for the predicate (success, an error not retried, or a slow
    segment handed to the exact path) ends the row, unless the deadline ended it first.
    """
    if policy.predicate not in ("v1.4", "v1.5"):
        raise ValueError(f"policy {policy.name!r}: unknown predicate {policy.predicate!r}")
    n = len(worlds)
    width = worlds.breaks.shape[1]
    backoff = policy.backoff
    attempts_max, sleeps = schedule_shape(backoff)
    trailing = sleeps == attempts_max
    t0 = worlds.start
    times = np.empty((n, sleeps + 1))
    times[:, 0] = t0
    sleep_matrix(backoff, worlds.draws, out=times[:, 1:])
    np.cumsum(times, axis=1, out=times)  # sequential: the clock's own additions, in order
    at = times[:, :attempts_max]

    # which segment each attempt lands in, as a flat index into the (rows x segments) tables
    seg = np.zeros(at.shape, dtype=np.int8)
    for j in range(1, width):
        np.add(seg, at >= worlds.breaks[:, j : j + 1], out=seg, casting="unsafe")
    flat = seg.astype(np.intp)
    flat += (np.arange(n, dtype=np.intp) * width)[:, None]

    terminal = worlds.terminal(policy.predicate).ravel().take(flat)
    limit = None
    if policy.deadline is not None:
        limit = t0 + policy.deadline
        valid = at <= limit[:, None]
        terminal &= valid
        n_valid = valid.sum(axis=1)
    else:
        n_valid = np.full(n, attempts_max)
    stops = terminal.any(axis=1)
    first = terminal.argmax(axis=1)
    made = np.where(stops, first + 1, n_valid).astype(np.int32)
    rows = np.arange(n)
    last_flat = flat[rows, made - 1]
    last_cls = worlds.cls.ravel()[last_flat]

    outcome = np.full(n, GAVE_UP, dtype=np.int8)
    outcome[stops & (last_cls == C_SUCCESS)] = SUCCESS
    outcome[stops & (last_cls != C_SUCCESS)] = NOT_RETRIABLE
    end = at[rows, made - 1].copy()
    if trailing:
        # schedule exhausted: client-go's capped last sleep still happens (if it fits)
        exhausted = ~stops & (n_valid == attempts_max)
        after = times[:, attempts_max]
        fits = exhausted if limit is None else exhausted & (after <= limit)
        end[fits] = after[fits]
    reason = np.zeros(n, dtype=np.int8)
    gave_up = outcome == GAVE_UP
    dns_last = (last_cls == C_DNS_NOT_FOUND) | (last_cls == C_DNS_TEMPORARY)
    reason[gave_up & dns_last] = _DNS
    reason[gave_up & ~dns_last] = _HTTP
    reason[outcome == NOT_RETRIABLE] = _NOT_RETRIED
    # load: running totals of (DNS queries | HTTP requests << 32) up to the last attempt
    load = worlds.load.ravel().take(flat)
    np.cumsum(load, axis=1, out=load)
    total = load[rows, made - 1]
    result = BatchResult(
        outcome=outcome,
        attempts=made,
        end=end,
        elapsed=end - t0,
        dns_queries=(total & 0xFFFFFFFF).astype(np.int32),
        http_requests=(total >> 32).astype(np.int32),
        reason=reason,
    )
    slow = np.flatnonzero(stops & (last_cls == C_SLOW))
    if slow.size:
        _step_rows(worlds, policy, slow, result)
    result.exact_rows = len(slow)
    return result


def _step_rows(
    worlds: Worlds, policy: Policy, rows: npt.NDArray[np.intp], result: BatchResult
) -> None:
    """Rows where time passes inside some attempt, attempt by attempt.

    The retry loop (``cleanup.retry``) vectorised over the rows: each column is one
    attempt for every row still running.  An attempt in a slow segment is replayed
    from its actual start time (:func:`_slow_attempts`: it returns when the attempt
    ends); the others are table lookups as in the fast path.  The sleeps do not depend
    on what happened, so they are the same matrix; only the times they start from move.
    """
    attempts_max, count = schedule_shape(policy.backoff)
    trailing = count == attempts_max
    stops_on = [C_SUCCESS, C_HTTP_STATUS] + (
        [C_DNS_NOT_FOUND] if policy.predicate == "v1.4" else []
    )
    sleeps = sleep_matrix(policy.backoff, worlds.draws[rows])
    t0 = worlds.start[rows]
    limit = None if policy.deadline is None else t0 + policy.deadline
    width = worlds.breaks.shape[1]
    n = len(rows)
    t = t0.copy()
    dns = np.zeros(n, dtype=np.int64)
    http = np.zeros(n, dtype=np.int64)
    last = np.zeros(n, dtype=np.int8)

    def finish(idx: npt.NDArray[np.intp], end: npt.NDArray[np.float64], gave_up: bool) -> None:
        """Rows ``idx`` are done: stopped by their last attempt, or out of budget."""
        r = rows[idx]
        result.end[r] = end
        result.elapsed[r] = end - t0[idx]
        result.dns_queries[r] = dns[idx]
        result.http_requests[r] = http[idx]
        cls = last[idx]
        dns_last = (cls == C_DNS_NOT_FOUND) | (cls == C_DNS_TEMPORARY)
        if gave_up:
            result.outcome[r] = GAVE_UP
            result.reason[r] = np.where(dns_last, _DNS, _HTTP)
        else:
            result.reason[r] = np.where(cls == C_SUCCESS, 0, _NOT_RETRIED)
            result.outcome[r] = np.where(cls == C_SUCCESS, SUCCESS, NOT_RETRIABLE)

    active = np.arange(n)
    for k in range(attempts_max):
        r = rows[active]
        start = t[active]
        seg = np.zeros(len(active), dtype=np.intp)
        for j in range(1, width):
            seg += start >= worlds.breaks[r, j]
        cls = worlds.cls[r, seg]
        end = start.copy()
        dq = worlds.dnsq[r, seg].astype(np.int64)
        hq = worlds.httpq[r, seg].astype(np.int64)
        slow = np.flatnonzero(cls == C_SLOW)
        if slow.size:
            cls[slow], end[slow], dq[slow], hq[slow] = _slow_attempts(worlds, r[slow], start[slow])
        dns[active] += dq
        http[active] += hq
        last[active] = cls
        result.attempts[r] = k + 1
        stop = np.isin(cls, stops_on)
        if stop.any():
            finish(active[stop], end[stop], gave_up=False)
        going, end = active[~stop], end[~stop]
        if k == attempts_max - 1:  # schedule exhausted
            if trailing:  # client-go's capped last sleep, if it fits before the deadline
                after = end + sleeps[going, k]
                fits = np.ones(len(going), bool) if limit is None else after <= limit[going]
                end = np.where(fits, after, end)
            finish(going, end, gave_up=True)
            return
        after = end + sleeps[going, k]
        if limit is not None:
            over = after > limit[going]
            finish(going[over], end[over], gave_up=True)
            going, after = going[~over], after[~over]
        t[going] = after
        active = going
        if not active.size:
            return


def _store(result: BatchResult, r: int, ev: Evaluation) -> None:
    result.outcome[r] = OUTCOMES.index(ev.outcome)
    result.attempts[r] = ev.attempts
    result.end[r] = ev.end
    result.elapsed[r] = ev.elapsed
    result.dns_queries[r] = ev.dns_queries
    result.http_requests[r] = ev.http_requests
    result.reason[r] = GIVE_UP_REASONS.index(ev.reason)


# the kind of a failed lookup, as the resolver reports it (see _Controller._resolve)
_K_NOT_FOUND, _K_TEMPORARY, _K_TIMEOUT = 0, 1, 2


def _slow_attempts(
    worlds: Worlds, rows: npt.NDArray[np.intp], start: npt.NDArray[np.float64]
) -> tuple[
    npt.NDArray[np.int8], npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """One attempt per row starting at ``start``, where time passes inside it.

    :meth:`_Controller.attempt` vectorised over rows: the same candidate walk (each try
    sees the state at the moment it is sent, a dropped try waits until its deadline),
    the same error the resolver reports, the same HTTP exchange (a hung request ends at
    its timeout or when the Service loses its endpoints).  Returns (class, end time,
    DNS queries, HTTP requests) per row; tests hold it to the scalar controller.
    """
    model, layout = worlds.model, worlds.layout
    breaks = worlds.breaks[rows]
    codes = worlds.codes[rows]
    m = len(rows)
    index = np.arange(m)
    n_dns = len(layout.dns_keys)

    def state(at: npt.NDArray[np.float64], slot: int) -> npt.NDArray[np.int8]:
        seg = (breaks[:, 1:] <= at[:, None]).sum(axis=1)
        found: npt.NDArray[np.int8] = codes[index, seg, slot]
        return found

    t = start.copy()
    # Go's Client.Timeout: one deadline per request (see _Controller.attempt)
    request_deadline = t + model.http_timeout
    limit = np.minimum(model.http_timeout, np.maximum(0.0, request_deadline - t))
    deadline = t + np.minimum(limit, DIAL_TIMEOUT)  # the dialer's: lookup and dial
    dq = np.zeros(m, dtype=np.int64)
    hq = np.zeros(m, dtype=np.int64)
    resolved = np.zeros(m, dtype=bool)
    last_err = np.full(m, -1, dtype=np.int8)
    as_given = model.repo_service.rstrip(".") + "."
    ok, nx, rf = _DNS_CODES["ok"], _DNS_CODES["nxdomain"], _DNS_CODES["refused"]
    for name in _candidates(model):
        slot, is_repo = _dns_slot(layout, name)
        looking = ~resolved
        live = looking.copy()
        kind = np.full(m, -1, dtype=np.int8)
        for _try in range(model.dns_attempts):
            expired = live & (t >= deadline)  # fails at once, nothing sent
            kind[expired] = _K_TIMEOUT
            send = live & ~expired
            dq[send] += 2  # A and AAAA
            st = state(t, slot)
            answer = send & (st == ok) & is_repo
            not_found = send & ((st == nx) | ((st == ok) & (not is_repo)))
            refused = send & (st == rf)
            dropped = send & ~answer & ~not_found & ~refused
            kind[not_found] = _K_NOT_FOUND
            kind[refused] = _K_TEMPORARY
            kind[dropped] = _K_TIMEOUT
            if dropped.any():
                remaining = np.minimum(t + model.dns_timeout, deadline) - t
                wait = dropped & (remaining > 0)
                t[wait] = t[wait] + remaining[wait]
            resolved |= answer
            live &= ~(answer | not_found)
            live &= ~(t >= deadline)
        failed = looking & ~resolved
        update = failed & ((last_err == -1) | (name == as_given))
        last_err[update] = kind[update]

    cls = np.full(m, C_SUCCESS, dtype=np.int8)
    cls[~resolved] = np.where(
        (last_err[~resolved] == _K_NOT_FOUND) | (last_err[~resolved] == -1),
        C_DNS_NOT_FOUND,
        C_DNS_TEMPORARY,
    )
    going = resolved & (deadline - t > 0)
    cls[resolved & ~going] = C_HTTP_REFUSED  # connect timeout: the lookup took it all
    http_codes = codes[:, :, n_dns:]
    accepting_at = (http_codes != _HTTP_CODES["refused"]).any(axis=2)  # per segment
    seg_now = (breaks[:, 1:] <= t[:, None]).sum(axis=1)
    refused_now = going & ~accepting_at[index, seg_now]
    cls[refused_now] = C_HTTP_REFUSED
    going &= ~refused_now
    for i, _path in enumerate(layout.paths):
        if i > 0:  # the next request, on the kept-alive connection: a fresh deadline
            request_deadline = t + model.http_timeout
        hq[going] += 1
        st = state(t, n_dns + i)
        gone = going & (st == _HTTP_CODES["refused"])  # other paths have endpoints: reset
        missing = going & (st == _HTTP_CODES["missing"])
        hang = going & (st == _HTTP_CODES["hang"])
        cls[gone] = C_HTTP_REFUSED
        cls[missing] = C_HTTP_STATUS
        if hang.any():
            later = (breaks > t[:, None]) & ~accepting_at
            first = np.where(later.any(axis=1), breaks[index, later.argmax(axis=1)], np.inf)
            wait = np.minimum(model.http_timeout, np.maximum(0.0, request_deadline - t))
            cut = hang & (first < t + wait)
            waits = hang & ~cut
            t[cut] = first[cut]
            t[waits] = t[waits] + wait[waits]
            cls[hang] = C_HTTP_REFUSED  # reset or read timeout: both retried
        going &= ~(gone | missing | hang)
    return cls, t, dq, hq

"""The controller against one world: the reference evaluation, step by step.

:func:`evaluate` drives ``cleanup.retry`` itself (the real loop, schedule, predicate and
deadline rule) with a clock on which nothing answers a socket
(:class:`sim._clock.SocketlessClock`), and an operation (:class:`_Controller`) that
walks the resolver's candidates and the HTTP exchange against a view of the world,
charging timeouts the way the harness clock does.  Go's lookup rules are
``cleanup.dnsrules.simulate_lookup``'s, the same rules the stub resolver runs
(:mod:`cleanup.dnsrules`).  Also the vocabulary the
compiled and batch paths share: the attempt classes and the state codes.
"""

from __future__ import annotations

import abc
import functools
import math
from dataclasses import dataclass, replace
from typing import Literal, get_args

from cleanup import (
    DIAL_TIMEOUT,
    CleanupError,
    ConnectError,
    DNSError,
    ErrorKind,
    HTTPStatusError,
    Policy,
    RequestTimeout,
    RetriesExhausted,
    StatusKind,
    error_kind,
    retry,
)
from cleanup.dnsrules import QueryOutcome, candidate_names, not_found_error, simulate_lookup
from cleanup.durations import HALF_NS
from cleanup.events import AttemptStarted
from sim._clock import SocketlessClock
from sim._dns import REPO_ADDRESS
from sim._evaluate._schedule import (
    jitter_rng,
)
from sim._scenario import ClientSettings, Scenario
from sim._timeline import CLUSTER_SUFFIX, QTYPE_MARK, HTTPState, Timeline, list_path

__all__ = [
    "GIVE_UP_REASONS",
    "LIMITS",
    "OUTCOMES",
    "ControllerModel",
    "Evaluation",
    "GiveUpReason",
    "Limit",
    "Outcome",
    "check_modelled",
    "evaluate",
]

#: how a cleanup run ended (``cleanup.CleanupReport.outcome``'s values)
Outcome = Literal["success", "gave-up", "not-retriable"]
#: why a run did not succeed ("" when it did): the last error was DNS / HTTP (and the
#: retry budget ran out), or an error the policy does not retry
GiveUpReason = Literal["", "dns", "http", "not-retried"]
#: what ran out, for a run that gave up ("" otherwise): ``cleanup.RetriesExhausted.reason``
Limit = Literal["", "schedule", "deadline"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
GIVE_UP_REASONS: tuple[GiveUpReason, ...] = get_args(GiveUpReason)
LIMITS: tuple[Limit, ...] = get_args(Limit)


# attempt classes: what an attempt made inside one segment of constant state ends with
C_SUCCESS = 0  # both lists fetched
C_DNS_NOT_FOUND = 1  # "no such host": retried by v1.5 only
C_DNS_TEMPORARY = 2  # temporary or timeout (ECONNREFUSED, SERVFAIL, silence): retried by both
C_HTTP_REFUSED = 3  # connection refused/reset or a timeout: retried by both
C_HTTP_STATUS = 4  # 404: never retried
C_SLOW = 5  # a query dropped or a request hung: time passes inside the attempt
C_DNS_FATAL = 6  # a DNS error neither predicate retries ("cannot marshal", lame, REFUSED)

_DNS_CLASSES = (C_DNS_NOT_FOUND, C_DNS_TEMPORARY, C_DNS_FATAL)
_DNS_CODES = {"conn-refused": 0, "timeout": 1, "nxdomain": 2, "ok": 3, "servfail": 4,
              "lame": 5, "refused": 6}  # fmt: skip
#: the HTTP states the evaluator models, by code (text keys: world records log text)
_HTTP_NAMES: tuple[HTTPState, ...] = ("refused", "missing", "ok", "hang")
_HTTP_CODES: dict[str, int] = {state: code for code, state in enumerate(_HTTP_NAMES)}
_DNS_NAMES = tuple(_DNS_CODES)


# --- the controller as the harness configures it ---------------------------------------


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
        """The controller's settings in ``scenario``.  Raises ``ValueError`` for a
        scenario whose node store misbehaves (``Scenario.store_faults``): the
        evaluator models the fetch, not the store, and would call a run ``success``
        that the harness ends ``store-error``."""
        if scenario.store_faults:
            raise ValueError(
                f"scenario {scenario.name}: store_faults (a node store that fails or "
                "changes under the run) are not modelled by the evaluator; run this "
                "world through the harness (Harness.run_timeline)"
            )
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
        base = cls.for_scenario(scenario) if scenario is not None else cls("x")
        return replace(
            base, repo_service=timeline.repo_service, previous_version=timeline.previous_version
        )

    @property
    def repo_host(self) -> str:
        return (self.repo_service + CLUSTER_SUFFIX).lower()

    @property
    def as_given(self) -> str:
        """The repo name as the controller gives it, the timeline key of what CoreDNS's
        upstream answers for it (tried last with ``ndots:5``; Go reports its error)."""
        return self.repo_service.rstrip(".").lower()

    @property
    def paths(self) -> tuple[str, str]:
        """(previous list, current list): the order ``fetch_lists`` fetches them in."""
        return list_path(self.previous_version), list_path("current")

    def candidates(self) -> list[str]:
        """The names the stub resolver queries, in order (Go ``nameList``)."""
        return candidate_names(self.repo_service, self.search, self.ndots)


@functools.lru_cache(maxsize=64)
def _candidates(model: ControllerModel) -> tuple[str, ...]:
    return tuple(model.candidates())


# --- one attempt against a view of the world -------------------------------------------


class _View(abc.ABC):
    """What the world answers at time t, as the harness's peers answer it.

    ``dns``: how a query for ``name`` ends (a DNS state of ``sim._timeline.DNSState``:
    conn-refused | timeout | nxdomain | servfail | lame | refused | ok); only the
    repo name can be ``ok`` (any other name is NXDOMAIN in the zone).  ``accepting``:
    the repo Service has endpoints (the port listens) unless every path is refused.
    ``http``: how a request for ``path`` is answered on an accepted connection.
    """

    @abc.abstractmethod
    def dns(self, name: str, t: float) -> str: ...

    @abc.abstractmethod
    def http(self, path: str, t: float) -> HTTPState: ...

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

    def http(self, path: str, t: float) -> HTTPState:
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


@dataclass
class _Counters:
    dns: int = 0
    http: int = 0


#: what one exchange gets from a DNS state (one server, UDP, no truncation); ``ok``
#: reaches this only for the repo name: an A record, and NOERROR without AAAA (NODATA)
#: (``lame``: a lame referral, Go's errLameReferral; ``refused``: rcode REFUSED, Go's
#: errServerMisbehaving; both move on to the next server, both end a lane with no flag)
_OUTCOME: dict[str, QueryOutcome] = {"conn-refused": "refused", "timeout": "timeout",
                                     "nxdomain": "nxdomain", "servfail": "servfail",
                                     "lame": "lame", "refused": "rcode"}  # fmt: skip
#: the state of an ``ok`` name per query type
_OK_OUTCOME: dict[str, QueryOutcome] = {"A": "answer", "AAAA": "nodata"}


def _repo_address(_fqdn: str, _qtype: str) -> tuple[str, ...]:
    """The addresses of an answer: only the repo name is ever answered (the fake repo)."""
    return (REPO_ADDRESS,)


class _Controller:
    """One cleanup attempt (``RepoClient.fetch_lists``) replayed against a view.

    Each method follows the cleanup function named in its docstring, keeping only what
    can happen against a timeline (one nameserver, UDP, no truncation, one address).
    The lookup is ``cleanup.dnsrules.simulate_lookup``: the rules the stub resolver runs, over
    the world's answers instead of sockets.
    """

    def __init__(self, model: ControllerModel, view: _View, clock: SocketlessClock) -> None:
        self.model = model
        self.view = view
        self.clock = clock
        self.count = _Counters()
        self.host = model.repo_service
        previous, current = model.paths
        self.fetches = ((previous, model.previous_version), (current, "current"))
        self.base = f"http://{self.host}"

    def _resolve(self, deadline: float) -> None:
        """``StubResolver.resolve`` as ``cleanup.dnsrules.simulate_lookup`` states it, rule for
        rule (candidates, server sequence, concurrent A/AAAA in Go's order, what each
        outcome means, completion order, the error Go reports, the caller's deadline
        failing the whole lookup), each exchange answered by the world at its instant.

        Counts the exchanges the DNS server saw: all but those the kernel refused.
        """
        sent = 0

        def outcome_of(
            fqdn: str, qtype: str, _server: int, _transport: str, t: float
        ) -> QueryOutcome:
            nonlocal sent
            state = self.view.dns(fqdn, t)
            outcome = _OK_OUTCOME[qtype] if state == "ok" else _OUTCOME[state]
            if outcome != "refused":
                sent += 1
            return outcome

        model = self.model
        run = simulate_lookup(
            self.host,
            outcome_of,
            search=model.search,
            ndots=model.ndots,
            servers=("<dns>",),
            attempts=model.dns_attempts,
            timeout=model.dns_timeout,
            start=self.clock.now(),
            answer_of=_repo_address,
            deadline=deadline,
        )
        self.count.dns += sent
        self.clock.t = run.finished
        if run.error is not None:
            raise run.error
        if not run.addresses:  # no candidate at all: nothing was asked
            raise not_found_error(self.host)

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
                try:
                    self._resolve(deadline)
                except DNSError:
                    # Go's didTimeout: once the request's deadline has passed, whatever
                    # failed is the Client.Timeout (cleanup._http_errors._explain)
                    if clock.now() >= request_deadline - HALF_NS:
                        raise RequestTimeout(url, "lookup", timeout) from None
                    raise
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
    long the controller was blocked; ``reason``: why it did not succeed
    (:data:`GiveUpReason`); ``limit``: for gave-up runs, what ran out (:data:`Limit`);
    ``error_kind``: :func:`cleanup.error_kind` of the error that ended the run, ``""``
    for a success.
    """

    outcome: Outcome
    attempts: int
    end: float
    elapsed: float
    dns_queries: int
    http_requests: int
    reason: GiveUpReason = ""
    limit: Limit = ""
    error_kind: ErrorKind | StatusKind | Literal[""] = ""


def _reason(error: CleanupError) -> GiveUpReason:
    return "dns" if isinstance(error, DNSError) else "http"


def _limit(reason: str) -> Limit:
    """``cleanup.RetriesExhausted.reason`` as a :data:`Limit`; ValueError for a value never
    given."""
    for limit in LIMITS:
        if limit and limit == reason:
            return limit
    raise ValueError(f"RetriesExhausted.reason {reason!r}: expected one of {LIMITS[1:]}")


def _evaluate_view(
    view: _View, start: float, policy: Policy, seed: int, model: ControllerModel
) -> Evaluation:
    clock = SocketlessClock(start)
    controller = _Controller(model, view, clock)
    attempts = 0

    def on_event(event: object) -> None:
        nonlocal attempts
        if isinstance(event, AttemptStarted):
            attempts = event.attempt

    outcome: Outcome
    reason: GiveUpReason
    limit: Limit
    kind: ErrorKind | StatusKind | Literal[""]
    try:
        retry(controller.attempt, policy, clock=clock, rng=jitter_rng(seed), on_event=on_event)
    except RetriesExhausted as exc:
        outcome, reason, limit = "gave-up", _reason(exc.last_error), _limit(exc.reason)
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


def check_modelled(timeline: Timeline, seed: int) -> None:
    """Refuse what the evaluator does not model (it would be silently inexact): the
    harness-only HTTP answers beyond refused/missing/ok/hang (``status-NNN``, 1xx,
    redirects: ``sim._repo_server.ODD_STATES``) and per-query-type DNS keys
    (``name#AAAA``).  Such worlds run through the harness only."""
    for key in timeline.dns:
        if QTYPE_MARK in key:
            raise ValueError(
                f"seed {seed}: dns[{key!r}]: per-query-type DNS states are not modelled by "
                "the evaluator; run this world through the harness (sim run)"
            )
    for path, intervals in timeline.http.items():
        for iv in intervals:
            if iv.state not in _HTTP_CODES:
                raise ValueError(
                    f"seed {seed}: http[{path!r}] at {iv.start:g}s: the state {iv.state!r} is "
                    "not modelled by the evaluator (it models "
                    f"{', '.join(_HTTP_CODES)}); run this world through the harness (sim run)"
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
    check_modelled(timeline, seed)
    model = model or ControllerModel.for_timeline(timeline)
    return _evaluate_view(_TimelineView(timeline), timeline.cleanup_start, policy, seed, model)

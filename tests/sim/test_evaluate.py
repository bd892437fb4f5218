"""The fast evaluator agrees with the real cleanup in the harness, and with itself.

The agreement tests are the point: the evaluator claims the *same* outcome, attempt
count and completion time (and DNS queries and HTTP requests) as the real module over
real sockets in virtual time, for the same world, policy and seed.  The other tests pin
the pieces the batch path replaces with numpy (sleeps bit for bit, segment lookups,
the exact fallback where dropped queries move time) against the reference path, which
drives ``cleanup.retry`` itself.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cleanup
from cleanup import MODES, Backoff, Policy, get_policy
from cleanup._resolver import candidate_names
from sim import Harness, ScenarioResult
from sim._evaluate import (
    ControllerModel,
    compile_timelines,
    draws_needed,
    evaluate,
    evaluate_batch,
    evaluate_row,
    generate,
    jitter_draws,
    jitter_rng,
    sleep_matrix,
)
from sim._scenario import Scenario, load_scenario, parse_scenario
from sim._store import StoreFaults
from sim._timeline import (
    DNSState,
    HTTPState,
    Interval,
    Timeline,
    as_dns_state,
    as_http_state,
    intervals_from,
)
from sim._world import generate_timeline

S = TypeVar("S", bound=str)

SINGLE = load_scenario("single-node")
RAW = tomllib.loads(
    (Path(__file__).resolve().parents[2] / "sim" / "scenarios" / "single-node.toml").read_text()
)
# DNS that swallows queries (every lookup costs timeouts) and flaps often: the worlds
# where time passes inside attempts, i.e. the evaluator's exact fallback path
TIMEOUTS = parse_scenario(
    {
        **RAW,
        "name": "timeouts-and-flaps",
        "world": {"dns_down": "not-routed"},
        "flap": {
            "probability": 0.7,
            "delay": {"dist": "exponential", "mean": 5},
            "length": {"dist": "uniform", "low": 1, "high": 30},
        },
    }
)
TIMEOUTS_FLAP = {
    "probability": 0.7,
    "delay": {"dist": "exponential", "mean": 5},
    "length": {"dist": "uniform", "low": 1, "high": 30},
}

# five policies that exercise every part of the loop: both predicates, client-go with
# jitter, growth, a cap (trailing sleep) and a deadline, an AWS mode, stamina's additive
POLICIES = [
    get_policy("harvester-v1.4"),
    get_policy("harvester-v1.5"),
    get_policy("stamina-default"),
    get_policy("harvester-v1.5", steps=12, duration="3s", factor=1.5, jitter=1, deadline="200s"),
    get_policy("harvester-v1.5", mode="full", steps=40, duration="2s", factor=2, cap="30s"),
]


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with Harness() as h:
        yield h


def _last_kind(result: ScenarioResult) -> str:
    """The kind of the error a run that did not succeed ended with ("" if it did)."""
    if result.ok:
        return ""
    failed = [e for e in result.trace if e["type"] == "attempt-failed"]
    return str(failed[-1]["kind"])


def _agree(harness: Harness, scenario: Scenario, seeds: range) -> None:
    model = ControllerModel.for_scenario(scenario)
    mismatches = []
    for seed in seeds:
        timeline = generate_timeline(scenario, seed)
        for policy in POLICIES:
            real = harness.run_timeline(timeline, policy, seed=seed, scenario=scenario)
            fast = evaluate(timeline, policy, seed, model)
            got = (fast.outcome, fast.attempts, fast.end, fast.dns_queries, fast.http_requests,
                   fast.error_kind)  # fmt: skip
            want = (real.outcome, real.attempts, real.completion_time, real.dns_queries,
                    real.http_requests, _last_kind(real))  # fmt: skip
            if got != want:
                mismatches.append((seed, policy.name, want, got))
    assert not mismatches, f"{len(mismatches)} disagreements, first: {mismatches[:3]}"


def test_evaluator_agrees_with_the_harness(harness: Harness) -> None:
    """100 worlds x 5 policies: identical outcome, attempts, completion time, load."""
    _agree(harness, SINGLE, range(100))


@pytest.mark.slow
def test_evaluator_agrees_with_the_harness_500_seeds(harness: Harness) -> None:
    """The issue's full check: 500 worlds x 5 policies."""
    _agree(harness, SINGLE, range(100, 600))


def test_evaluator_agrees_where_dropped_queries_move_time(harness: Harness) -> None:
    _agree(harness, TIMEOUTS, range(40))


@pytest.mark.parametrize(
    "variant",
    [
        {"name": "multi", "world": {"topology": "multi-node"}},
        {"name": "missing", "world": {"list_missing": True}},
        {"name": "no-vm", "world": {"vm_starts": False}},
        {"name": "airgapped", "world": {"upstream": "servfail"}},
        {"name": "silent-upstream", "world": {"upstream": "timeout", "dns_down": "not-routed"}},
        {"name": "not-ready-lame", "world": {"dns_down": "not-ready-lame"}},
        {"name": "not-ready-refused", "world": {"dns_down": "not-ready-refused"}},
        {"name": "no-cache", "coredns": {}},
        {"name": "slow-dns", "client": {"dns_timeout": 2, "dns_attempts": 3, "http_timeout": 7}},
    ],
    ids=lambda v: str(v["name"]),
)
def test_evaluator_agrees_on_scenario_variants(
    harness: Harness, variant: dict[str, object]
) -> None:
    """Other topologies, a 404, a VM that never starts, other client settings."""
    base = {**RAW, "world": {"dns_down": "not-routed"}} if variant["name"] == "slow-dns" else RAW
    _agree(harness, parse_scenario({**base, **variant}), range(12))


# the same, with other resolver and HTTP timeouts (3 tries of 3 s, 20 s per fetch)
TIMEOUTS_CLIENT = parse_scenario(
    {
        **RAW,
        "name": "timeouts-other-client",
        "world": {"dns_down": "not-routed"},
        "flap": TIMEOUTS_FLAP,
        "client": {"dns_timeout": 3, "dns_attempts": 3, "http_timeout": 20},
    }
)


@pytest.mark.parametrize("scenario", [TIMEOUTS, TIMEOUTS_CLIENT], ids=lambda s: s.name)
def test_batch_path_equals_the_evaluator_on_timeouts(scenario: Scenario) -> None:
    """The batch path steps time-shifting worlds attempt by attempt, replaying the slow
    attempts vectorised; results still match the per-timeline evaluation, which the
    harness agrees with."""
    policies = POLICIES
    worlds = generate(scenario, range(60), draws_needed(policies))
    model = ControllerModel.for_scenario(scenario)
    exact = 0
    for policy in policies:
        batch = evaluate_batch(worlds, policy)
        exact += batch.exact_rows
        for row in range(60):
            ev = evaluate(generate_timeline(scenario, row), policy, row, model)
            assert batch.row(row) == {
                "outcome": ev.outcome,
                "attempts": ev.attempts,
                "end": ev.end,
                "elapsed": ev.elapsed,
                "dns_queries": ev.dns_queries,
                "http_requests": ev.http_requests,
                "reason": ev.reason,
            }
    assert exact > 0  # the fallback really ran


# --- the batch path against the reference ------------------------------------------------

policies = st.builds(
    lambda mode, steps, duration, factor, jitter, cap, deadline, predicate: Policy(
        "generated",
        Backoff(duration=duration, factor=factor, jitter=jitter, steps=steps, cap=cap, mode=mode),
        cleanup.PREDICATES[predicate],
        predicate=predicate,
        deadline=deadline,
    ),
    mode=st.sampled_from(MODES),
    steps=st.integers(1, 40),
    duration=st.sampled_from([0.0, 0.01, 0.5, 1.0, 2.5, 10.0, 33.3]),
    factor=st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0]),
    jitter=st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.0]),
    cap=st.sampled_from([None, 1.0, 7.0, 20.0, 60.0]),
    deadline=st.sampled_from([None, 5.0, 60.0, 150.0, 600.0]),
    predicate=st.sampled_from(["v1.4", "v1.5"]),
)


@settings(max_examples=40, deadline=None)
@given(policy=policies, first=st.integers(0, 10_000))
def test_batch_equals_reference_for_any_policy(policy: Policy, first: int) -> None:
    worlds = generate(SINGLE, range(first, first + 40), draws_needed([policy]))
    batch = evaluate_batch(worlds, policy)
    for row in range(len(worlds)):
        ev = evaluate_row(worlds, row, policy)
        got = batch.row(row)
        assert (got["outcome"], got["attempts"], got["end"], got["dns_queries"],
                got["http_requests"], got["reason"]) == (
            ev.outcome, ev.attempts, ev.end, ev.dns_queries, ev.http_requests, ev.reason
        )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(policy=policies, seed=st.integers(0, 2**32))
def test_sleeps_are_cleanups_own_bit_for_bit(policy: Policy, seed: int) -> None:
    draws = np.array(jitter_draws(seed, draws_needed([policy])))
    row = sleep_matrix(policy.backoff, draws[None, :])[0].tolist()
    assert row == list(policy.backoff.delays(jitter_rng(seed)))


def test_reference_path_matches_timeline_path() -> None:
    """Compiled worlds (from the model's change log) and Timeline objects are the same
    world to the evaluator."""
    worlds = generate(SINGLE, range(50), draws_needed(POLICIES))
    timelines = [generate_timeline(SINGLE, s) for s in range(50)]
    model = ControllerModel.for_scenario(SINGLE)
    again = compile_timelines(timelines, list(range(50)), model, draws_needed(POLICIES))
    for name in ("start", "breaks", "codes", "cls", "dnsq", "httpq", "draws"):
        assert np.array_equal(getattr(worlds, name), getattr(again, name)), name
    for policy in POLICIES[:2]:
        for row in range(0, 50, 7):
            assert evaluate_row(worlds, row, policy) == evaluate(timelines[row], policy, row)


def test_candidates_are_the_resolvers() -> None:
    model = ControllerModel.for_scenario(SINGLE)
    assert model.candidates() == candidate_names(model.repo_service, model.search, model.ndots)
    assert model.candidates()[-1] == SINGLE.repo_service + "."


# --- worked examples -----------------------------------------------------------------


def _intervals(*points: tuple[float, S]) -> tuple[Interval[S], ...]:
    return intervals_from(points)


def _timeline(repo: list[tuple[float, DNSState]], other: list[tuple[float, DNSState]],
              http: list[tuple[float, HTTPState]], start: float) -> Timeline:  # fmt: skip
    paths = [SINGLE.list_path(SINGLE.previous_version), SINGLE.list_path("current")]
    return Timeline(
        scenario="hand-made",
        seed=0,
        cleanup_start=start,
        repo_host=SINGLE.repo_host,
        dns={SINGLE.repo_host: _intervals(*repo), "*": _intervals(*other)},
        http={p: _intervals(*http) for p in paths},
        events=(),
    )


STEADY = Policy("steady", Backoff(duration=10.0, steps=10), cleanup.retriable_v15)
STEADY_V14 = Policy("steady", Backoff(duration=10.0, steps=10), cleanup.retriable_v14,
                    predicate="v1.4")  # fmt: skip


def test_worked_example_counts_by_hand() -> None:
    # CoreDNS up at 90 (NXDOMAIN), repo name known at 125, endpoints at 140
    t = _timeline([(0, "conn-refused"), (90, "nxdomain"), (125, "ok")],
                  [(0, "conn-refused"), (90, "nxdomain")], [(0, "refused"), (140, "ok")],
                  start=100.0)  # fmt: skip
    ev = evaluate(t, STEADY, seed=1)
    # attempts at 100, 110, 120 (4 names x A+AAAA NXDOMAIN = 8 queries each), 130
    # (first search name NXDOMAIN, repo name answers: 4 queries; connection refused)
    # and 140 (4 queries, both lists over one connection)
    assert (ev.outcome, ev.attempts, ev.end, ev.elapsed) == ("success", 5, 140.0, 40.0)
    assert (ev.dns_queries, ev.http_requests) == (8 * 3 + 4 + 4, 2)
    old = evaluate(t, STEADY_V14, seed=1)
    assert (old.outcome, old.attempts, old.end, old.reason) == (
        "not-retriable", 1, 100.0, "not-retried"
    )  # fmt: skip
    assert old.error_kind == "dns not-found"


def test_worked_example_dropped_queries_and_give_up() -> None:
    # DNS swallows everything until 1000: each lookup walks 3 names x 2 tries x 5 s and
    # hits the 30 s deadline, which ends the lookup (the 4th name is never asked); the
    # request's Client.Timeout has passed too, so Go reports that, not the DNS error
    # ("context deadline exceeded (Client.Timeout exceeded ...)").  Ten attempts, nine
    # 10 s sleeps: 10 x 30 + 9 x 10 = 390 s.
    t = _timeline([(0, "timeout"), (1000, "ok")], [(0, "timeout"), (1000, "nxdomain")],
                  [(0, "ok")], start=50.0)  # fmt: skip
    ev = evaluate(t, STEADY, seed=3)
    assert (ev.outcome, ev.attempts, ev.end) == ("gave-up", 10, 50.0 + 390.0)
    assert (ev.reason, ev.limit, ev.error_kind) == ("http", "schedule", "timeout")
    assert ev.dns_queries == 10 * 3 * 2 * 2


def test_batch_results_do_not_depend_on_how_worlds_are_chunked() -> None:
    policy = POLICIES[3]
    whole = evaluate_batch(generate(SINGLE, range(300), draws_needed([policy])), policy)
    parts = [evaluate_batch(generate(SINGLE, range(a, a + 100), draws_needed([policy])), policy)
             for a in (0, 100, 200)]  # fmt: skip
    for name in ("outcome", "attempts", "end", "dns_queries", "http_requests", "reason"):
        assert np.array_equal(
            getattr(whole, name), np.concatenate([getattr(p, name) for p in parts])
        )


# --- generated timelines: any states, any order, through the harness too -----------------

DNS_STATES = ("timeout", "nxdomain", "servfail", "lame", "refused", "ok")
HTTP_STATES = ("refused", "missing", "ok", "hang")


def _down_until(
    track: list[tuple[int, str]], end: int, state: str = "conn-refused"
) -> list[tuple[int, str]]:
    """``track`` with the whole cluster DNS in ``state`` on ``[0, end)``: refusing (no
    backend), or up but not ready (lame referrals or REFUSED for every name)."""
    state_at_end = [s for t, s in track if t <= end][-1]
    return [(0, state), (end, state_at_end)] + [(t, s) for t, s in track if t > end]


@st.composite
def _track(
    draw: st.DrawFn, states: tuple[str, ...], last: str | None = None
) -> list[tuple[int, str]]:
    times = sorted(draw(st.lists(st.integers(1, 400), max_size=4, unique=True)))
    picked = [draw(st.sampled_from(states)) for _ in range(len(times) + 1)]
    if last is not None:
        picked[-1] = last
    return list(zip([0, *times], picked, strict=True))


@st.composite
def timelines(draw: st.DrawFn) -> Timeline:
    repo = draw(_track(DNS_STATES))
    # lame referrals and REFUSED (no flag, retried by no preset) for any name
    other = draw(_track(("timeout", "nxdomain", "servfail", "lame", "refused")))
    dns = {SINGLE.repo_host: repo, "*": other}
    if draw(st.booleans()):  # the name as given: what CoreDNS's upstream answers
        dns[SINGLE.repo_service] = draw(
            _track(("timeout", "nxdomain", "servfail", "lame", "refused", "ok"))
        )
    down = draw(st.none() | st.integers(1, 200))
    if down is not None:  # no backend (every name refused), or CoreDNS not ready yet
        how = draw(st.sampled_from(("conn-refused", "lame", "refused")))
        dns = {key: _down_until(track, down, how) for key, track in dns.items()}
    paths = [SINGLE.list_path(SINGLE.previous_version), SINGLE.list_path("current")]
    previous = draw(_track(HTTP_STATES))
    current = draw(st.one_of(st.just(previous), _track(HTTP_STATES)))
    start = float(draw(st.integers(0, 300)))
    return Timeline(
        scenario="generated",
        seed=0,
        cleanup_start=start,
        repo_host=SINGLE.repo_host,
        dns={
            key: intervals_from([(t, as_dns_state(s)) for t, s in track])
            for key, track in dns.items()
        },
        http={
            path: intervals_from([(t, as_http_state(s)) for t, s in track])
            for path, track in zip(paths, (previous, current), strict=True)
        },
        events=(),
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(timeline=timelines(), which=st.integers(0, len(POLICIES) - 1), seed=st.integers(0, 999))
def test_generated_timelines_agree_with_the_harness(
    harness: Harness, timeline: Timeline, which: int, seed: int
) -> None:
    """Hand-made-style worlds the model never draws (hangs, one path refused, DNS that
    comes and goes) still evaluate exactly as the real cleanup runs them."""
    policy = POLICIES[which]
    real = harness.run_timeline(timeline, policy, seed=seed)
    fast = evaluate(timeline, policy, seed)
    assert (fast.outcome, fast.attempts, fast.end, fast.dns_queries, fast.http_requests) == (
        real.outcome, real.attempts, real.completion_time, real.dns_queries, real.http_requests
    )  # fmt: skip
    assert fast.error_kind == _last_kind(real)
    worlds = compile_timelines([timeline], [seed], ControllerModel.for_timeline(timeline),
                               draws_needed([policy]))  # fmt: skip
    batch = evaluate_batch(worlds, policy).row(0)
    assert (batch["outcome"], batch["attempts"], batch["end"]) == (
        fast.outcome, fast.attempts, fast.end
    )  # fmt: skip


#: CoreDNS up but not ready (its kubernetes plugin not synced) for the first 40 s: a
#: lame referral, or REFUSED, for every name; then the zone answers.  Retried by no
#: preset: the run ends at its first attempt.  Also after a retried outage (SERVFAIL),
#: and for some names only (the other candidates' and the upstream's: the error Go
#: keeps is the name as given's).
NOT_READY = (
    [
        {"*": [(0, state), (40, "nxdomain")], SINGLE.repo_host: [(0, state), (40, "ok")]}
        for state in ("lame", "refused")
    ]
    + [
        {
            "*": [(0, "servfail"), (20, state), (50, "nxdomain")],
            SINGLE.repo_host: [(0, "servfail"), (20, state), (50, "ok")],
        }
        for state in ("lame", "refused")
    ]
    + [
        {"*": [(0, state), (30, "nxdomain")], SINGLE.repo_host: [(0, "timeout"), (60, "ok")]}
        for state in ("lame", "refused")
    ]
    + [
        {
            "*": [(0, "servfail"), (25, "nxdomain")],
            SINGLE.repo_host: [(0, "nxdomain"), (35, "ok")],
            SINGLE.repo_service: [(0, state), (45, "nxdomain")],
        }
        for state in ("lame", "refused")
    ]
)


@pytest.mark.parametrize("start", [0.0, 30.0])
@pytest.mark.parametrize("dns", NOT_READY, ids=lambda d: "-".join(str(t[0][1]) for t in d.values()))
def test_lame_referrals_and_refused_are_modelled_exactly(
    harness: Harness, dns: dict[str, list[tuple[int, str]]], start: float
) -> None:
    """The DNS states ``lame`` and ``refused`` (Go: "lame referral" and "server
    misbehaving", no flag, next server) through the harness (faultdns ``lame`` /
    ``refused``), the reference evaluator and the batch path: the same outcome,
    attempts, completion time, load and error kind, under every policy."""
    paths = [SINGLE.list_path(SINGLE.previous_version), SINGLE.list_path("current")]
    timeline = Timeline(
        scenario="not-ready",
        seed=0,
        cleanup_start=start,
        repo_host=SINGLE.repo_host,
        dns={
            key: intervals_from([(float(t), as_dns_state(s)) for t, s in track])
            for key, track in dns.items()
        },
        http={path: (Interval(0.0, math.inf, "ok"),) for path in paths},
        events=(),
    )
    for seed, policy in enumerate(POLICIES):
        real = harness.run_timeline(timeline, policy, seed=seed)
        fast = evaluate(timeline, policy, seed)
        got = (fast.outcome, fast.attempts, fast.end, fast.dns_queries, fast.http_requests,
               fast.error_kind)  # fmt: skip
        want = (real.outcome, real.attempts, real.completion_time, real.dns_queries,
                real.http_requests, _last_kind(real))  # fmt: skip
        assert got == want, policy.name
        worlds = compile_timelines([timeline], [seed], ControllerModel.for_timeline(timeline),
                                   draws_needed([policy]))  # fmt: skip
        batch = evaluate_batch(worlds, policy).row(0)
        assert (batch["outcome"], batch["attempts"], batch["end"]) == got[:3], policy.name


def test_the_outcome_vocabulary_is_the_cleanups() -> None:
    """sim's outcomes are the cleanup run's (store-error aside: the evaluator has no
    store), and a RetriesExhausted reason it does not know is refused, not passed on as a limit."""
    from cleanup._run import EXIT_STATUS as RUN_OUTCOMES
    from sim._evaluate._model import LIMITS, OUTCOMES, _limit

    assert set(OUTCOMES) == set(RUN_OUTCOMES) - {"store-error"}
    assert [_limit(limit) for limit in LIMITS if limit] == ["schedule", "deadline"]
    with pytest.raises(ValueError, match=r"RetriesExhausted\.reason"):
        _limit("not-retriable")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("http", r"the state 'status-503' is not modelled by the evaluator"),
        ("http-redirect", r"the state 'redirect' is not modelled by the evaluator"),
        ("aaaa", r"per-query-type DNS states are not modelled by the evaluator"),
    ],
)
def test_the_evaluator_refuses_the_worlds_it_does_not_model(change: str, message: str) -> None:
    """The unkind worlds of the property suite (issue 11) run through the harness only:
    the reference and the batch evaluator refuse them by name rather than evaluate
    them inexactly."""
    world = generate_timeline(SINGLE, 1)
    path = SINGLE.list_path("current")
    odd: tuple[Interval[HTTPState], ...] = (
        Interval(0.0, 50.0, "status-503" if change == "http" else "redirect"),
        Interval(50.0, math.inf, "ok"),
    )
    if change == "aaaa":
        aaaa: tuple[Interval[DNSState]] = (Interval(0.0, math.inf, "servfail"),)
        dns = {**world.dns, SINGLE.repo_host + "#AAAA": aaaa}
        world = Timeline(world.scenario, 1, world.cleanup_start, world.repo_host, dns,
                         world.http, ())  # fmt: skip
    else:
        world = Timeline(world.scenario, 1, world.cleanup_start, world.repo_host, world.dns,
                         {**world.http, path: odd}, ())  # fmt: skip
    policy = get_policy("harvester-v1.5")
    with pytest.raises(ValueError, match=message):
        evaluate(world, policy, 1)
    with pytest.raises(ValueError, match=message):
        compile_timelines([world], [1], ControllerModel.for_timeline(world), draws_needed([policy]))


def test_the_evaluator_refuses_a_scenario_whose_node_store_misbehaves() -> None:
    """Issue 11: a node store that fails or changes under the run (``store_faults``)
    is the harness's alone: the evaluator, which would call a ``store-error`` run a
    success, refuses it by name, for a chunk of the tuner's worlds and for a model."""
    faulty = dataclasses.replace(
        SINGLE, store_faults=StoreFaults(unreadable="images", reason="permission denied")
    )
    message = r"store_faults .* are not modelled by the evaluator"
    with pytest.raises(ValueError, match=message):
        generate(faulty, [1], draws_needed([get_policy("harvester-v1.5")]))
    with pytest.raises(ValueError, match=message):
        ControllerModel.for_timeline(generate_timeline(SINGLE, 1), faulty)
    assert ControllerModel.for_scenario(SINGLE).repo_service == SINGLE.repo_service

"""The retry policy: Go's wait.Backoff semantics, AWS/stamina modes, the runner, presets."""

from __future__ import annotations

import errno
import math
import pickle
import random
from dataclasses import replace
from pathlib import Path

import httpcore
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleanup import (
    MAX_STEPS,
    MODES,
    PRESETS,
    Backoff,
    CleanupError,
    ConnectError,
    DialDNSError,
    DNSError,
    HTTPStatusError,
    ImageListError,
    Policy,
    PolicyError,
    ProtocolError,
    RequestTimeout,
    RetriesExhausted,
    UnexpectedError,
    get_policy,
    parse_duration,
    policy_to_toml,
    retriable_v14,
    retriable_v15,
    retry,
)
from cleanup._classify import to_error
from cleanup._policy import PredicateName
from cleanup._schedule import Mode
from cleanup.events import Abandoned, AttemptFailed, AttemptStarted, Event, Sleeping, Succeeded
from cleanup.testing import FastForwardClock

HOST = "upgrade-repo-hvst-upgrade-nv76q.harvester-system"
NXDOMAIN = DNSError(HOST, "no such host", server="10.53.0.10:53", is_not_found=True)
SERVFAIL = DNSError(HOST, "server misbehaving", server="10.53.0.10:53", is_temporary=True)
DNS_TIMEOUT = DNSError(HOST, "i/o timeout", server="10.53.0.10:53", is_timeout=True)
URL = f"http://{HOST}/harvester-iso/bundle/harvester/images-lists-archive/v1.4.1/image_list_all.txt"
NOT_FOUND_404 = HTTPStatusError(URL, 404, "v1.4.1")


class Scripted(random.Random):
    """A random source that returns the given values, so expected sleeps are exact."""

    def __init__(self, values: list[float]) -> None:
        super().__init__(0)
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


def failing(errors: list[BaseException | None]):  # type: ignore[no-untyped-def]
    """An operation that raises errors[attempt-1] (None = succeed with the attempt number)."""

    def operation(attempt: int) -> int:
        item = errors[attempt - 1]
        if item is None:
            return attempt
        raise item

    return operation


def policy(
    backoff: Backoff, predicate: PredicateName = "v1.5", deadline: float | None = None
) -> Policy:
    check = retriable_v15 if predicate == "v1.5" else retriable_v14
    return Policy("test", backoff, check, predicate=predicate, deadline=deadline)


# --- client-go mode: wait.Backoff.Step() and ExponentialBackoff ----------------------------


def test_step_is_duration_plus_jitter_then_duration_times_factor() -> None:
    b = Backoff(duration=1.0, factor=2.0, jitter=0.5, steps=4)
    # Step() jitters the *current* duration: d + trunc(r * jitter * d) in nanoseconds.
    sleeps = list(b.delays(Scripted([0.0, 0.5, 0.999])))
    assert sleeps == [1.0, 2.5, 4.0 + math.trunc(0.999 * 0.5 * 4e9) / 1e9]


def test_durations_are_go_nanoseconds_truncated() -> None:
    # float64(10ms) * 5.0 = 50ms, * 5.0 = 250ms, exactly as in Go (no float drift).
    assert list(Backoff(duration=0.01, factor=5.0, steps=4).delays(random.Random(0))) == [
        0.01,
        0.05,
        0.25,
    ]
    # 1ns * 1.5 truncates to 1ns, forever
    assert list(Backoff(duration=1e-9, factor=1.5, steps=4).delays(random.Random(0))) == [1e-9] * 3


def test_at_most_steps_attempts_and_steps_minus_one_sleeps() -> None:
    b = Backoff(duration=2.0, factor=1.5, steps=6)
    assert b.attempts == 6
    assert list(b.delays(random.Random(1))) == [2.0, 3.0, 4.5, 6.75, 10.125]


def test_factor_zero_keeps_the_duration() -> None:
    b = Backoff(duration=3.0, factor=0.0, steps=4, cap=1.0)
    assert b.attempts == 4
    assert list(b.delays(random.Random(0))) == [3.0, 3.0, 3.0]


def test_cap_clamps_and_ends_the_loop_after_that_sleep() -> None:
    # Go: the Step() that pushes Duration over Cap sets Duration=Cap and Steps=0, so
    # ExponentialBackoff sleeps once more and returns without another attempt.
    b = Backoff(duration=1.0, factor=2.0, steps=10, cap=5.0)
    assert list(b.delays(random.Random(0))) == [1.0, 2.0, 4.0]
    assert b.attempts == 3
    clock = FastForwardClock()
    events: list[Event] = []
    with pytest.raises(RetriesExhausted) as caught:
        retry(
            failing([SERVFAIL] * 10),
            policy(b),
            clock=clock,
            rng=random.Random(0),
            on_event=events.append,
        )
    assert caught.value.attempts == 3
    assert clock.sleeps == [1.0, 2.0, 4.0]  # the last sleep is followed by no attempt
    sleeps = [e for e in events if isinstance(e, Sleeping)]
    assert [s.trailing for s in sleeps] == [False, False, True]
    failed = [e for e in events if isinstance(e, AttemptFailed)]
    assert [f.retry_in for f in failed] == [1.0, 2.0, None]
    assert isinstance(events[-1], Abandoned) and events[-1].reason == "schedule"


def test_cap_equal_to_a_duration_does_not_stop_growth_early() -> None:
    # Duration > Cap, not >=: reaching exactly 4 keeps going until the next product.
    b = Backoff(duration=1.0, factor=2.0, steps=10, cap=4.0)
    assert list(b.delays(random.Random(0))) == [1.0, 2.0, 4.0]
    # and a cap that is never exceeded changes nothing
    b = Backoff(duration=1.0, factor=2.0, steps=4, cap=100.0)
    assert b.attempts == 4 and list(b.delays(random.Random(0))) == [1.0, 2.0, 4.0]


def test_initial_duration_above_the_cap_is_not_clamped() -> None:
    # Go clamps only revised durations; the first sleep is Duration itself.
    b = Backoff(duration=10.0, factor=2.0, steps=5, cap=3.0)
    assert list(b.delays(random.Random(0))) == [10.0]
    assert b.attempts == 1


def test_single_step_means_one_attempt_and_no_sleep() -> None:
    b = Backoff(duration=5.0, steps=1)
    assert b.attempts == 1 and list(b.delays(random.Random(0))) == []


# --- the exact Harvester numbers --------------------------------------------------------------


def test_harvester_schedule() -> None:
    for name in ("harvester-v1.4", "harvester-v1.5"):
        b = PRESETS[name].backoff
        assert (b.mode, b.steps, b.duration, b.factor, b.jitter, b.cap) == (
            "client-go",
            30,
            10.0,
            1.0,
            0.1,
            None,
        )
        assert b.attempts == 30
        assert b.bounds() == [(10.0, 11.0)] * 29


@given(seed=st.integers(0, 2**32))
def test_harvester_total_sleep_is_290_to_319_seconds(seed: int) -> None:
    sleeps = list(PRESETS["harvester-v1.5"].backoff.delays(random.Random(seed)))
    assert len(sleeps) == 29
    assert all(10.0 <= s < 11.0 for s in sleeps)
    assert 290.0 <= sum(sleeps) < 319.0


def test_harvester_gives_up_like_the_controller() -> None:
    clock = FastForwardClock()
    with pytest.raises(RetriesExhausted) as caught:
        retry(
            failing([SERVFAIL] * 30), PRESETS["harvester-v1.4"], clock=clock, rng=random.Random(7)
        )
    gave_up = caught.value
    assert gave_up.attempts == 30 and gave_up.reason == "schedule"
    assert gave_up.last_error is SERVFAIL
    assert 290.0 <= gave_up.elapsed < 319.0 and gave_up.elapsed == pytest.approx(sum(clock.sleeps))
    assert str(gave_up) == (
        f"lookup {HOST} on 10.53.0.10:53: server misbehaving "
        f"(gave up after 30 attempts in {gave_up.elapsed:.1f}s: retry schedule exhausted)"
    )
    again = pickle.loads(pickle.dumps(gave_up))
    assert str(again) == str(gave_up) and again.attempts == 30


# --- client-go and stamina presets ------------------------------------------------------------


def test_client_go_presets() -> None:
    retry_ = PRESETS["client-go-default-retry"].backoff
    assert (retry_.steps, retry_.duration, retry_.factor, retry_.jitter) == (5, 0.01, 1.0, 0.1)
    assert retry_.bounds() == [(0.01, 0.011)] * 4
    backoff = PRESETS["client-go-default-backoff"].backoff
    assert (backoff.steps, backoff.duration, backoff.factor, backoff.jitter) == (4, 0.01, 5.0, 0.1)
    assert backoff.bounds() == [(0.01, 0.011), (0.05, 0.055), (0.25, 0.275)]
    assert PRESETS["client-go-default-backoff"].predicate == "v1.5"


def test_stamina_defaults() -> None:
    stamina = PRESETS["stamina-default"]
    b = stamina.backoff
    assert (b.mode, b.steps, b.duration, b.factor, b.jitter, b.cap) == (
        "additive",
        10,
        0.1,
        2.0,
        1.0,
        5.0,
    )
    assert stamina.deadline == 45.0 and b.attempts == 10
    # tenacity wait_exponential_jitter: min(max, initial * 2**(n) + U(0, jitter))
    expected = [(min(5.0, 0.1 * 2**n), min(5.0, 0.1 * 2**n + 1.0)) for n in range(9)]
    flat = [x for pair in b.bounds() for x in pair]
    assert flat == pytest.approx([x for pair in expected for x in pair])


# --- AWS modes -------------------------------------------------------------------------------


@given(
    mode=st.sampled_from(["full", "equal", "decorrelated"]),
    duration=st.floats(0.001, 30),
    factor=st.floats(1.0, 4.0),
    steps=st.integers(1, 25),
    cap=st.none() | st.floats(0.01, 120),
    seed=st.integers(0, 2**32),
)
def test_aws_modes_stay_in_their_ranges(
    mode: Mode, duration: float, factor: float, steps: int, cap: float | None, seed: int
) -> None:
    b = Backoff(duration=duration, factor=factor, steps=steps, cap=cap, mode=mode, jitter=0.3)
    sleeps = list(b.delays(random.Random(seed)))
    assert b.attempts == steps and len(sleeps) == steps - 1  # the cap never ends the loop
    # every sleep is also clamped to Go's largest Duration (2**63-1 ns, ~292 years)
    limit = min((2**63 - 1) / 1e9, math.inf if cap is None else cap)
    previous = duration
    for n, sleep in enumerate(sleeps):
        top = min(limit, duration * factor**n)
        if mode == "full":
            assert 0.0 <= sleep <= top * (1 + 1e-12)
        elif mode == "equal":
            assert top / 2 * (1 - 1e-12) <= sleep <= top * (1 + 1e-12)
        else:
            assert min(limit, duration) * (1 - 1e-12) <= sleep
            assert sleep <= min(limit, max(duration, previous * factor)) * (1 + 1e-12)
            previous = sleep


def test_decorrelated_follows_the_article() -> None:
    b = Backoff(duration=1.0, factor=3.0, steps=4, mode="decorrelated", cap=100.0)
    # sleep = min(cap, U(base, prev*3)), prev starts at base
    sleeps = list(b.delays(Scripted([0.5, 1.0, 0.0])))
    assert sleeps == [2.0, 6.0, 1.0]


# --- schedule properties (client-go) ------------------------------------------------------------


backoffs = st.builds(
    Backoff,
    duration=st.floats(0.0, 60.0),
    factor=st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 5.0]),
    jitter=st.floats(0.0, 2.0),
    steps=st.integers(1, 60),
    cap=st.none() | st.floats(0.001, 600.0),
)


@given(b=backoffs, seed=st.integers(0, 2**32))
def test_schedule_semantics(b: Backoff, seed: int) -> None:
    sleeps = list(b.delays(random.Random(seed)))
    bases = list(replace(b, jitter=0.0).delays(random.Random(seed)))
    assert len(sleeps) == len(bases)
    assert 1 <= b.attempts <= b.steps
    capped = b.cap is not None and b.factor != 0 and len(bases) >= 1 and b.attempts == len(sleeps)
    if capped:
        # the loop ended on the sleep whose Step() hit the cap
        assert b.cap is not None
        assert bases[-1] * b.factor > b.cap * (1 - 1e-9)
    else:
        assert b.attempts == b.steps and len(sleeps) == b.steps - 1
    for base, sleep in zip(bases, sleeps, strict=True):
        assert base <= sleep <= base * (1 + b.jitter) + 1e-9
    if b.cap is not None and b.factor != 0:
        # only revised durations are clamped (Factor 0 never revises, so never clamps)
        assert all(base <= b.cap + 1e-9 for base in bases[1:])
    if b.factor >= 1:
        assert bases == sorted(bases)
    assert list(b.delays(random.Random(seed))) == sleeps  # a seed fixes the schedule
    lows, highs = zip(*b.bounds(), strict=True) if sleeps else ((), ())
    assert list(lows) == bases
    assert all(s <= h + 1e-9 for s, h in zip(sleeps, highs, strict=True))


@given(b=backoffs)
def test_no_cap_means_exactly_steps_attempts(b: Backoff) -> None:
    b = replace(b, cap=None)
    assert b.attempts == b.steps
    assert len(list(b.delays(random.Random(0)))) == b.steps - 1


# --- predicates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "v14", "v15"),
    [
        (NXDOMAIN, False, True),
        (SERVFAIL, True, True),
        (DNS_TIMEOUT, True, True),  # os.IsTimeout sees DNSError.Timeout() in both
        (DNSError(HOST, "weird"), False, False),
        (ConnectError(URL, "10.53.1.20:80", "refused"), True, True),
        (ConnectError(URL, "10.53.1.20:80", "reset"), True, True),
        (ConnectError(URL, "10.53.1.20:80", "network-unreachable"), True, True),
        (ConnectError(URL, "10.53.1.20:80", "host-unreachable"), True, True),
        (ConnectError(URL, "10.53.1.20:80", "network-down"), True, True),
        (ConnectError(URL, "10.53.1.20:80", "aborted"), False, False),
        (ConnectError(URL, "10.53.1.20:80", "other", "EOF"), False, False),
        (ConnectError(URL, "10.53.1.20:80", "timed-out"), True, True),  # ETIMEDOUT
        (ConnectError(URL, "10.53.1.20:80", "reset", op="read", in_body=True), True, True),
        (ConnectError(URL, "10.53.1.20:80", "other", "broken pipe", op="write"), False, False),
        (ProtocolError(URL, "EOF"), False, False),
        (ProtocolError(URL, "unexpected EOF", in_body=True), False, False),
        (ProtocolError("/next", "stopped after 10 redirects"), False, False),
        (DialDNSError(URL, NXDOMAIN), False, True),  # errors.As finds the DNSError
        (DialDNSError(URL, SERVFAIL), True, True),
        (RequestTimeout(URL, "read", 30.0), True, True),
        (RequestTimeout(URL, "lookup", 30.0), True, True),  # a lookup cut by Client.Timeout
        (RequestTimeout(URL, "body", 30.0), True, True),
        (NOT_FOUND_404, False, False),
        (HTTPStatusError(URL, 503), False, False),
        (ImageListError(URL, 1, "HTML page"), False, False),
        (UnexpectedError("ValueError: x"), False, False),
    ],
)
def test_predicates(error: CleanupError, v14: bool, v15: bool) -> None:
    assert retriable_v14(error) is v14
    assert retriable_v15(error) is v15


# --- the runner ---------------------------------------------------------------------------------


def test_success_at_first_attempt_does_not_sleep() -> None:
    clock = FastForwardClock()
    events: list[Event] = []
    result = retry(
        lambda n: "lists",
        PRESETS["harvester-v1.5"],
        clock=clock,
        rng=random.Random(0),
        on_event=events.append,
    )
    assert result == "lists" and clock.sleeps == []
    assert events == [AttemptStarted(1, 30, 0.0), Succeeded(1, 0.0, 0.0)]


def test_v14_stops_on_no_such_host_and_v15_retries_it() -> None:
    clock = FastForwardClock()
    events: list[Event] = []
    with pytest.raises(DNSError) as caught:
        retry(
            failing([NXDOMAIN, None]),
            PRESETS["harvester-v1.4"],
            clock=clock,
            rng=random.Random(0),
            on_event=events.append,
        )
    assert caught.value is NXDOMAIN and clock.sleeps == []
    assert [type(e).__name__ for e in events] == ["AttemptStarted", "AttemptFailed", "Abandoned"]
    failed = events[1]
    assert isinstance(failed, AttemptFailed)
    assert (failed.kind, failed.retriable, failed.retry_in) == ("dns not-found", False, None)
    assert isinstance(events[2], Abandoned) and events[2].reason == "not-retriable"

    clock = FastForwardClock()
    assert (
        retry(
            failing([NXDOMAIN, NXDOMAIN, None]),
            PRESETS["harvester-v1.5"],
            clock=clock,
            rng=random.Random(0),
        )
        == 3
    )
    assert len(clock.sleeps) == 2


def test_non_retriable_http_status_is_raised_at_once() -> None:
    clock = FastForwardClock()
    with pytest.raises(HTTPStatusError) as caught:
        retry(
            failing([NOT_FOUND_404]), PRESETS["harvester-v1.5"], clock=clock, rng=random.Random(0)
        )
    assert caught.value is NOT_FOUND_404 and clock.sleeps == []
    assert str(caught.value) == "unexpected status: 404 Not Found"  # the controller's text


def test_raw_exceptions_are_classified_and_kept_as_cause() -> None:
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    clock = FastForwardClock()
    events: list[Event] = []
    assert (
        retry(
            failing([refused, None]),
            PRESETS["harvester-v1.5"],
            clock=clock,
            rng=random.Random(0),
            on_event=events.append,
        )
        == 2
    )
    failed = next(e for e in events if isinstance(e, AttemptFailed))
    assert isinstance(failed.error, ConnectError) and failed.kind == "connection refused"
    assert failed.error.__cause__ is refused

    bug = KeyError("oops")
    with pytest.raises(UnexpectedError) as caught:
        retry(
            failing([bug]),
            PRESETS["harvester-v1.5"],
            clock=FastForwardClock(),
            rng=random.Random(0),
        )
    assert caught.value.__cause__ is bug


def test_our_error_inside_an_httpx_chain_is_raised_itself() -> None:
    request = httpx.Request("GET", URL)
    ours = DNSError(HOST, "no such host", is_not_found=True)
    try:
        try:
            raise httpcore.ConnectError(str(ours)) from ours
        except httpcore.ConnectError as core:
            raise httpx.ConnectError(str(ours), request=request) from core
    except httpx.ConnectError as exc:
        wrapped = exc
    with pytest.raises(DNSError) as caught:
        retry(
            failing([wrapped]),
            PRESETS["harvester-v1.4"],
            clock=FastForwardClock(),
            rng=random.Random(0),
        )
    assert caught.value is ours


def test_keyboard_interrupt_is_not_converted() -> None:
    with pytest.raises(KeyboardInterrupt):
        retry(
            failing([KeyboardInterrupt()]),
            PRESETS["harvester-v1.5"],
            clock=FastForwardClock(),
            rng=random.Random(0),
        )


def test_attempt_failed_log_fields() -> None:
    events: list[Event] = []
    retry(
        failing([NXDOMAIN, None]),
        PRESETS["harvester-v1.5"],
        clock=FastForwardClock(),
        rng=random.Random(3),
        on_event=events.append,
    )
    failed = events[1]
    sleeping = events[2]
    assert isinstance(failed, AttemptFailed) and isinstance(sleeping, Sleeping)
    assert (failed.attempt, failed.of, failed.kind, failed.retriable) == (
        1,
        30,
        "dns not-found",
        True,
    )
    assert failed.retry_in == sleeping.seconds and 10.0 <= sleeping.seconds < 11.0


# --- the deadline -------------------------------------------------------------------------------


def test_deadline_allows_an_attempt_exactly_at_the_limit() -> None:
    # attempts at t=0, 10, 20; the next would start at 30 > 20: give up without sleeping.
    clock = FastForwardClock()
    events: list[Event] = []
    with pytest.raises(RetriesExhausted) as caught:
        retry(
            failing([SERVFAIL] * 30),
            policy(Backoff(duration=10.0, steps=30), deadline=20.0),
            clock=clock,
            rng=random.Random(0),
            on_event=events.append,
        )
    assert caught.value.attempts == 3 and caught.value.reason == "deadline"
    assert clock.sleeps == [10.0, 10.0] and caught.value.elapsed == 20.0
    assert "deadline reached" in str(caught.value)
    assert [e.at for e in events if isinstance(e, AttemptStarted)] == [0.0, 10.0, 20.0]
    last_failure = [e for e in events if isinstance(e, AttemptFailed)][-1]
    assert last_failure.retry_in is None


def test_deadline_counts_the_time_attempts_take() -> None:
    clock = FastForwardClock()

    def slow(attempt: int) -> int:
        clock.advance(30.0)  # an HTTP timeout
        raise RequestTimeout(URL, "read", 30.0)

    with pytest.raises(RetriesExhausted) as caught:
        retry(slow, PRESETS["stamina-default"], clock=clock, rng=random.Random(0))
    # attempt 1: 0..30, sleep <= 1.1, attempt 2 starts <= 31.1 and ends past 45
    assert caught.value.attempts == 2 and caught.value.reason == "deadline"
    assert len(clock.sleeps) == 1


class OvershootingClock(FastForwardClock):
    def sleep(self, seconds: float) -> None:
        super().sleep(seconds + 1.0)


def test_no_attempt_starts_after_the_deadline_even_if_a_sleep_overshoots() -> None:
    clock = OvershootingClock()
    with pytest.raises(RetriesExhausted) as caught:
        retry(
            failing([SERVFAIL] * 5),
            policy(Backoff(duration=10.0, steps=5), deadline=10.0),
            clock=clock,
            rng=random.Random(0),
        )
    assert caught.value.attempts == 1 and caught.value.reason == "deadline"


# --- runner properties ----------------------------------------------------------------------------

OUTCOMES = {
    "ok": None,
    "nxdomain": NXDOMAIN,
    "servfail": SERVFAIL,
    "refused": ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
    "404": NOT_FOUND_404,
}


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    b=backoffs,
    script=st.lists(st.sampled_from(sorted(OUTCOMES)), min_size=60, max_size=60),
    durations=st.lists(st.floats(0.0, 40.0), min_size=60, max_size=60),
    predicate=st.sampled_from(["v1.4", "v1.5"]),
    deadline=st.none() | st.floats(0.5, 400.0),
    seed=st.integers(0, 2**32),
)
def test_runner_properties(
    b: Backoff,
    script: list[str],
    durations: list[float],
    predicate: PredicateName,
    deadline: float | None,
    seed: int,
) -> None:
    clock = FastForwardClock(start=1000.0)
    calls: list[int] = []

    def operation(attempt: int) -> int:
        calls.append(attempt)
        clock.advance(durations[attempt - 1])
        outcome = OUTCOMES[script[attempt - 1]]
        if outcome is None:
            return attempt
        raise outcome

    events: list[Event] = []
    pol = policy(b, predicate, deadline)
    try:
        result: int | None = retry(
            operation, pol, clock=clock, rng=random.Random(seed), on_event=events.append
        )
        raised: BaseException | None = None
    except CleanupError as exc:
        result, raised = None, exc

    made = len(calls)
    assert calls == list(range(1, made + 1))
    assert 1 <= made <= b.attempts <= b.steps
    starts = [e for e in events if isinstance(e, AttemptStarted)]
    assert [e.attempt for e in starts] == calls
    if deadline is not None:
        assert all(e.at <= 1000.0 + deadline for e in starts)
    # every failure before the last attempt was retriable
    check = pol.retriable
    for attempt in calls[:-1]:
        outcome = OUTCOMES[script[attempt - 1]]
        assert outcome is not None and check(to_error(outcome))
    last = OUTCOMES[script[made - 1]]
    terminal = events[-1]
    if last is None:
        assert result == made and isinstance(terminal, Succeeded)
    else:
        assert isinstance(terminal, Abandoned)
        failure = [e for e in events if isinstance(e, AttemptFailed)][-1]
        if not check(failure.error):
            assert terminal.reason == "not-retriable" and not isinstance(raised, RetriesExhausted)
        else:
            assert isinstance(raised, RetriesExhausted) and raised.attempts == made
            assert terminal.reason in {"schedule", "deadline"}
            if terminal.reason == "schedule":
                assert made == b.attempts
    # event grammar: Started (Failed Sleeping?)* then Succeeded | Failed Abandoned
    kinds = [type(e).__name__ for e in events]
    assert sum(k in {"Succeeded", "Abandoned"} for k in kinds) == 1
    sleeps = [e for e in events if isinstance(e, Sleeping)]
    assert [s.seconds for s in sleeps] == clock.sleeps
    for i, e in enumerate(events):
        if isinstance(e, Sleeping):
            before = events[i - 1]
            assert isinstance(before, AttemptFailed) and before.retriable
            assert before.retry_in == (None if e.trailing else e.seconds)
        if isinstance(e, AttemptFailed):
            assert isinstance(events[i - 1], AttemptStarted)
            assert isinstance(events[i + 1], Sleeping | Abandoned)


@given(
    seed=st.integers(0, 2**32),
    script=st.lists(st.sampled_from(["nxdomain", "servfail"]), min_size=30, max_size=30),
)
def test_seed_fixes_the_whole_run(seed: int, script: list[str]) -> None:
    def run() -> list[Event]:
        events: list[Event] = []
        with pytest.raises(RetriesExhausted):
            retry(
                failing([OUTCOMES[s] for s in script]),
                PRESETS["harvester-v1.5"],
                clock=FastForwardClock(),
                rng=random.Random(seed),
                on_event=events.append,
            )
        return events

    assert run() == run()


# --- presets, overrides and policy files ------------------------------------------------


def test_get_policy_presets_and_unknown_names() -> None:
    for name, preset in PRESETS.items():
        assert get_policy(name) is preset
    with pytest.raises(PolicyError, match=r"unknown policy 'harvester-v9'.*harvester-v1\.5"):
        get_policy("harvester-v9")


def test_overrides() -> None:
    p = get_policy("harvester-v1.5", steps=5, duration="500ms", cap="2s", jitter=None)
    assert (p.backoff.steps, p.backoff.duration, p.backoff.cap, p.backoff.jitter) == (
        5,
        0.5,
        2.0,
        0.1,
    )
    assert p.name == "harvester-v1.5 (cap=2s, duration=500ms, steps=5)"
    assert p.retriable is retriable_v15
    assert get_policy("stamina-default", deadline=0).deadline is None
    assert get_policy("stamina-default", cap=0).backoff.cap is None
    assert get_policy("harvester-v1.5", predicate="v1.4").retriable is retriable_v14
    assert get_policy("harvester-v1.5", mode="full").backoff.mode == "full"
    with pytest.raises(PolicyError, match=r"unknown policy field.*retries"):
        get_policy("harvester-v1.5", retries=3)
    with pytest.raises(PolicyError, match="steps must be an integer >= 1"):
        get_policy("harvester-v1.5", steps=0)
    with pytest.raises(PolicyError, match="mode must be one of"):
        get_policy("harvester-v1.5", mode="fibonacci")
    with pytest.raises(PolicyError, match="duration: 'soon' is not a duration"):
        get_policy("harvester-v1.5", duration="soon")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10", 10.0),
        (2.5, 2.5),
        ("10s", 10.0),
        ("500ms", 0.5),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("250us", 0.00025),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "-1", "ten", "10 s", "1x", "inf", "nan"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(PolicyError):
        parse_duration(text, field_name="--duration")


def test_backoff_validation_names_the_field() -> None:
    with pytest.raises(PolicyError, match=r"^jitter"):
        Backoff(duration=1.0, jitter=-0.1)
    with pytest.raises(PolicyError, match=r"^cap"):
        Backoff(duration=1.0, cap=0.0)
    with pytest.raises(PolicyError, match=r"^duration"):
        Backoff(duration=math.inf)
    with pytest.raises(PolicyError, match=r"^steps"):
        Backoff(duration=1.0, steps=True)
    with pytest.raises(PolicyError, match=r"^deadline"):
        Policy("x", Backoff(duration=1.0), retriable_v15, deadline=-1.0)


policies = st.builds(
    lambda b, predicate, deadline, name: Policy(
        name,
        b,
        retriable_v14 if predicate == "v1.4" else retriable_v15,
        predicate=predicate,
        deadline=deadline,
    ),
    b=st.builds(
        Backoff,
        duration=st.floats(0.0, 1e6),
        factor=st.floats(0.0, 100.0),
        jitter=st.floats(0.0, 10.0),
        steps=st.integers(1, 10_000),
        cap=st.none() | st.floats(1e-6, 1e6),
        mode=st.sampled_from(MODES),
    ),
    predicate=st.sampled_from(["v1.4", "v1.5"]),
    deadline=st.none() | st.floats(1e-3, 1e6),
    name=st.text(min_size=1, max_size=30),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=policies)
def test_policy_file_round_trip(p: Policy, tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(policy_to_toml(p), encoding="utf-8")
    loaded = get_policy(path)
    assert loaded == p
    assert loaded.retriable is p.retriable


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name = 'x'\n", "missing \\[backoff\\] table"),
        ("[backoff]\nsteps = 3\n", "backoff.duration is required"),
        ("[backoff]\nduration = 1\nsteps = 'many'\n", "backoff.steps: expected an integer"),
        ("[backoff]\nduration = 1\nretries = 3\n", "unknown key\\(s\\) in \\[backoff\\]: retries"),
        ("colour = 'red'\n[backoff]\nduration = 1\n", "unknown key\\(s\\) colour"),
        ("predicate = 'v2'\n[backoff]\nduration = 1\n", "predicate: must be one of v1.4, v1.5"),
        (
            "[backoff]\nduration = '10 parsecs'\n",
            "backoff.duration: '10 parsecs' is not a duration",
        ),
        ("[backoff\n", "not valid TOML"),
    ],
)
def test_bad_policy_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError, match=message) as caught:
        get_policy(path)
    assert str(caught.value).startswith(str(path))


_POLICY = "[backoff]\nduration = '10s'\nsteps = 3\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # Notepad's "UTF-8 with BOM": tomllib alone says "Invalid statement (at line 1,
        # column 1)", naming nothing a user can see
        (b"\xef\xbb\xbf" + _POLICY.encode(), "starts with a UTF-8 byte order mark \\(BOM\\)"),
        (b"\xef\xbb\xbf", "starts with a UTF-8 byte order mark \\(BOM\\)"),
        # UTF-16 (with its own BOM), Latin-1 and a lone continuation byte: no UTF-8
        (_POLICY.encode("utf-16"), "not UTF-8 text \\(byte 0xff at offset 0\\)"),
        (b"name = 'caf\xe9'\n" + _POLICY.encode(), "not UTF-8 text \\(byte 0xe9 at offset 11\\)"),
        (b"# \x80\n" + _POLICY.encode(), "not UTF-8 text \\(byte 0x80 at offset 2\\)"),
    ],
)
def test_policy_file_with_a_bom_or_not_utf8_says_so(
    tmp_path: Path, data: bytes, message: str
) -> None:
    """A policy file is UTF-8 without BOM (TOML 1.0); either defect is named, not
    reported as a TOML syntax error about an invisible first character."""
    path = tmp_path / "bom.toml"
    path.write_bytes(data)
    with pytest.raises(PolicyError, match=message) as caught:
        get_policy(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "TOML" in str(caught.value) and "not valid TOML" not in str(caught.value)


def test_policy_file_with_go_durations(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'predicate = "v1.4"\ndeadline = "2m"\n'
        '[backoff]\nduration = "10s"\nsteps = 30\njitter = 0.1\n',
        encoding="utf-8",
    )
    p = get_policy(path, steps=10)
    assert p.name == "p (steps=10)" and p.deadline == 120.0
    assert (p.backoff.duration, p.backoff.steps, p.backoff.factor) == (10.0, 10, 1.0)
    assert p.retriable is retriable_v14


def test_describe_and_to_dict() -> None:
    p = PRESETS["stamina-default"]
    assert p.describe() == (
        "stamina-default: additive steps=10 duration=0.1s factor=2 jitter=1s cap=5s; "
        "retries network errors and DNS temporary/timeout/not-found (v1.5); deadline 45s"
    )
    assert p.to_dict()["backoff"] == {
        "mode": "additive",
        "steps": 10,
        "duration": 0.1,
        "factor": 2.0,
        "jitter": 1.0,
        "cap": 5.0,
    }


def test_unsaveable_predicate_is_refused() -> None:
    p = Policy("custom", Backoff(duration=1.0), lambda err: True, predicate="v1.5")
    with pytest.raises(PolicyError, match="cannot be saved"):
        policy_to_toml(p)


@pytest.mark.parametrize("name", ["a\ud800", "\udfff", "x\udc80y"])
def test_a_name_with_a_lone_surrogate_is_refused_not_written(name: str) -> None:
    """No UTF-8 file and no TOML string holds a lone surrogate: refused by name."""
    p = Policy(name, Backoff(duration=1.0), retriable_v15, predicate="v1.5")
    with pytest.raises(PolicyError, match="lone surrogate"):
        policy_to_toml(p)


@pytest.mark.parametrize("name", ["\U0001f680", "nightly \U0001f680\x01\x7f", "\u00e9\u2028"])
def test_any_unicode_name_round_trips_through_a_utf8_file(name: str, tmp_path: Path) -> None:
    """Astral characters are written as themselves (a four-hex-digit escape cannot hold
    them), controls and DEL escaped: the file reads back to the same name."""
    p = Policy(name, Backoff(duration=1.0), retriable_v15, predicate="v1.5")
    path = tmp_path / "p.toml"
    path.write_bytes(policy_to_toml(p).encode("utf-8"))
    assert get_policy(path).name == name


def test_policies_events_and_errors_pickle_for_worker_processes() -> None:
    # the simulation may fan runs out to processes (dask): everything crosses pickling
    for preset in PRESETS.values():
        copy = pickle.loads(pickle.dumps(preset))
        assert copy == preset and copy.retriable is preset.retriable
    events: list[Event] = []
    with pytest.raises(RetriesExhausted):
        retry(
            failing([NXDOMAIN] * 5),
            PRESETS["client-go-default-retry"],
            clock=FastForwardClock(),
            rng=random.Random(0),
            on_event=events.append,
        )
    copies = pickle.loads(pickle.dumps(events))
    assert [type(e) for e in copies] == [type(e) for e in events]
    assert [str(getattr(e, "error", "")) for e in copies] == [
        str(getattr(e, "error", "")) for e in events
    ]


# --------------------------------------------------------------------------- bounded (issue 9)


def _walked_attempts(backoff: Backoff) -> int:
    """The schedule walked step by step, as Go's loop does (the reference)."""
    schedule = backoff.start(random.Random(0))
    made = 0
    while schedule.steps > 0:
        made += 1
        if schedule.steps == 1:
            break
        schedule.step()
    return made


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    duration=st.floats(0, 1e4),
    factor=st.floats(0, 10),
    steps=st.integers(1, 300),
    cap=st.none() | st.floats(1e-9, 1e6),
    mode=st.sampled_from(MODES),
)
def test_attempts_is_the_walked_schedule(
    duration: float, factor: float, steps: int, cap: float | None, mode: Mode
) -> None:
    backoff = Backoff(duration=duration, factor=factor, jitter=0.5, steps=steps, cap=cap, mode=mode)
    assert backoff.attempts == _walked_attempts(backoff)


def test_steps_past_the_limit_are_refused_not_walked() -> None:
    """Issue 9: ``--steps 100000000000`` or ``steps = 1e20`` spun before doing anything."""
    with pytest.raises(PolicyError, match=r"steps must be at most 1000000, got 100000000000"):
        Backoff(duration=1.0, steps=100_000_000_000)
    with pytest.raises(PolicyError, match=r"steps: .* is too large"):
        get_policy("harvester-v1.5", steps="9" * 5000)
    # at the limit, counting the attempts does not walk the schedule without a cap
    assert Backoff(duration=1.0, steps=MAX_STEPS).attempts == MAX_STEPS
    capped = Backoff(duration=1.0, factor=2.0, steps=MAX_STEPS, cap=60.0)
    assert capped.attempts == 6 == _walked_attempts(capped)  # 1 2 4 8 16 32, then 64 > 60


@pytest.mark.parametrize("field", ["duration", "cap", "deadline"])
def test_durations_past_gos_largest_are_refused(field: str) -> None:
    with pytest.raises(PolicyError, match=r"longer than Go's largest time.Duration"):
        get_policy("harvester-v1.5", **{field: "2562048h"})
    assert get_policy("harvester-v1.5", **{field: "2562047h"})

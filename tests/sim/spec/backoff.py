"""The retry schedule, restated from its sources (not from ``cleanup._retry``).

A schedule is read from a ``Backoff``'s fields only (``duration``, ``factor``,
``jitter``, ``steps``, ``cap`` in seconds, ``mode``); the random draws are handed in
(``draws[i]`` in [0, 1) is the i-th value of the seed's jitter stream, one per sleep,
sim's seed contract ``sim._evaluate.jitter_rng``).

``client-go`` - k8s.io/apimachinery/pkg/util/wait (backoff.go, v0.30)::

    func (b *Backoff) Step() time.Duration {
        if b.Steps < 1 { ... return b.Duration (jittered) }
        b.Steps--
        duration := b.Duration
        if b.Factor != 0 {
            b.Duration = time.Duration(float64(b.Duration) * b.Factor)
            if b.Cap > 0 && b.Duration > b.Cap { b.Duration = b.Cap; b.Steps = 0 }
        }
        if b.Jitter > 0 { duration = Jitter(duration, b.Jitter) }
        return duration
    }
    Jitter(d, f) = d + time.Duration(rand.Float64()*f*float64(d))
    func ExponentialBackoff(backoff Backoff, condition ConditionFunc) error {
        for backoff.Steps > 0 {
            if ok, err := condition(); err != nil || ok { return err }
            if backoff.Steps == 1 { break }
            time.Sleep(backoff.Step())
        }
        return ErrWaitTimeout
    }

So sleep k (0-based) is ``d_k + trunc(U * Jitter * d_k)`` with ``d_k`` Duration
grown k times (each growth truncated to whole nanoseconds); growth past ``Cap``
clamps to Cap *and* zeroes Steps, so the sleep of that Step is the last one: the loop
sleeps it and ends without another attempt ("a trailing sleep").  Durations are Go
``time.Duration``: int64 nanoseconds, so we compute in integers.

AWS modes - Marc Brooker, "Exponential Backoff And Jitter" (AWS Architecture Blog,
2015), ``base`` = duration, growth ``factor`` (the article's 2), ``n`` the 0-based
sleep index, ``U(a, b) = a + (b - a) * draw``; each makes exactly ``steps`` attempts:

* full:          ``U(0, min(cap, base * factor**n))``
* equal:         ``t/2 + U(0, t/2)``, ``t = min(cap, base * factor**n)``
* decorrelated:  ``sleep = min(cap, U(base, max(base, sleep * factor)))``, from ``base``

``additive`` - tenacity ``wait_exponential_jitter`` (what ``stamina.retry`` waits):
``min(max, initial * exp_base**(attempt-1) + U(0, jitter))``, jitter in seconds.

The deadline (retrylab's addition, README "Retry policies"): with ``t0`` the first
attempt's start, an attempt may start only at ``t <= t0 + deadline``; after a failed,
retriable attempt ending at ``e`` the next sleep ``s`` is drawn and, if
``e + s > t0 + deadline``, the run gives up at ``e`` without sleeping
(:func:`gives_up_before_sleeping`, the rule's one home here).

The presets (:data:`PRESETS`, README "cleanup: retry policy"), each field from its
source rather than from ``cleanup.PRESETS``:

* ``harvester-v1.4`` / ``harvester-v1.5`` - Harvester
  ``pkg/controller/master/upgrade/upgrade_repo.go`` ``getImagesDiffList``
  (/work/shared/reference/harvester-image-cleanup.md, "The retry policy"):
  ``wait.Backoff{Steps: 30, Duration: 10 * time.Second, Factor: 1.0, Jitter: 0.1}``,
  no Cap, no deadline; ``IsRetriableNetworkError`` of v1.4 resp. v1.5.
* ``client-go-default-retry`` / ``client-go-default-backoff`` - k8s.io/client-go
  ``util/retry/util.go``: ``DefaultRetry = wait.Backoff{Steps: 5, Duration: 10 *
  time.Millisecond, Factor: 1.0, Jitter: 0.1}``, ``DefaultBackoff = wait.Backoff{Steps:
  4, Duration: 10 * time.Millisecond, Factor: 5.0, Jitter: 0.1}``; no Cap.
* ``stamina-default`` - ``stamina.retry``'s defaults (stamina docs, "API"):
  ``attempts=10, timeout=45.0, wait_initial=0.1, wait_max=5.0, wait_jitter=1.0,
  wait_exp_base=2.0``: the ``additive`` mode with duration 0.1 s, factor 2, jitter
  1 s, cap 5 s, 10 attempts, deadline 45 s.

client-go and stamina retry on their callers' predicates; retrylab gives those
presets Harvester's v1.5 rule (README's preset table, "(v1.5 rule)").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "PRESETS",
    "Fields",
    "Preset",
    "Schedule",
    "bounds",
    "gives_up_before_sleeping",
    "same_sleep",
    "schedule",
]

_MAX_NS = 2**63 - 1  # Go's largest time.Duration
_NS = 1_000_000_000


class Fields(Protocol):
    """What the spec reads of a ``cleanup.Backoff`` (or anything with these fields)."""

    @property
    def duration(self) -> float: ...
    @property
    def factor(self) -> float: ...
    @property
    def jitter(self) -> float: ...
    @property
    def steps(self) -> int: ...
    @property
    def cap(self) -> float | None: ...
    @property
    def mode(self) -> str: ...


@dataclass(frozen=True)
class Schedule:
    """When every attempt fails: ``attempts`` made and the ``sleeps`` after them
    (seconds); ``trailing``: the last sleep is followed by no attempt (client-go, Cap)."""

    attempts: int
    sleeps: tuple[float, ...]
    trailing: bool


def _ns(seconds: float) -> int:
    # the policy's seconds as a Go Duration (the grid values are exact in ns)
    return min(_MAX_NS, round(seconds * _NS))


def _trunc(value: float) -> int:
    """Go's ``time.Duration(f)`` for f >= 0: truncation toward zero (clamped)."""
    return _MAX_NS if value >= _MAX_NS else int(value)


def _client_go(b: Fields, draws: Sequence[float]) -> Schedule:
    steps = b.steps
    duration = _ns(b.duration)
    cap = 0 if b.cap is None else _ns(b.cap)
    sleeps: list[float] = []
    attempts = 0
    while steps > 0:  # ExponentialBackoff
        attempts += 1
        if steps == 1:
            break
        # Step()
        steps -= 1
        this = duration
        if b.factor != 0:
            duration = _trunc(float(duration) * b.factor)
            if cap > 0 and duration > cap:
                duration = cap
                steps = 0
        if b.jitter > 0:
            this = min(_MAX_NS, this + _trunc(draws[len(sleeps)] * b.jitter * float(this)))
        sleeps.append(this / _NS)
    return Schedule(attempts, tuple(sleeps), trailing=steps == 0)


def _uniform(a: float, b: float, draw: float) -> float:
    return a + (b - a) * draw


def _grown(base: float, factor: float, n: int) -> float:
    try:
        return float(base * factor**n)
    except OverflowError:
        return math.inf


def _other(b: Fields, draws: Sequence[float]) -> Schedule:
    top = _MAX_NS / _NS  # every sleep is clamped to Go's largest Duration
    cap = top if b.cap is None else min(b.cap, top)
    sleeps: list[float] = []
    previous = b.duration
    for n in range(b.steps - 1):
        r = draws[n]
        t = min(cap, _grown(b.duration, b.factor, n))
        if b.mode == "full":
            s = _uniform(0.0, t, r)
        elif b.mode == "equal":
            s = t / 2 + _uniform(0.0, t / 2, r)
        elif b.mode == "decorrelated":
            s = min(cap, _uniform(b.duration, min(top, max(b.duration, previous * b.factor)), r))
            previous = s
        elif b.mode == "additive":
            s = min(cap, min(top, _grown(b.duration, b.factor, n)) + _uniform(0.0, b.jitter, r))
        else:
            raise ValueError(f"mode {b.mode!r} has no specification here")
        sleeps.append(s)
    return Schedule(b.steps, tuple(sleeps), trailing=False)


@dataclass(frozen=True)
class Preset:
    """A named policy as its source writes it: the schedule's :class:`Fields`
    (seconds), the overall ``deadline`` (seconds, None: none) and the ``predicate``
    (``"v1.4"`` or ``"v1.5"``, :mod:`.predicates`)."""

    duration: float
    factor: float
    jitter: float
    steps: int
    cap: float | None
    mode: str
    deadline: float | None
    predicate: str


def _wait_backoff(
    steps: int, duration: float, factor: float, jitter: float, predicate: str
) -> Preset:
    # a k8s.io/apimachinery wait.Backoff literal without Cap, as ExponentialBackoff runs it
    return Preset(duration, factor, jitter, steps, None, "client-go", None, predicate)


#: every preset by name (see the module docstring for each field's source)
PRESETS: dict[str, Preset] = {
    "harvester-v1.4": _wait_backoff(30, 10.0, 1.0, 0.1, "v1.4"),
    "harvester-v1.5": _wait_backoff(30, 10.0, 1.0, 0.1, "v1.5"),
    "client-go-default-retry": _wait_backoff(5, 0.010, 1.0, 0.1, "v1.5"),
    "client-go-default-backoff": _wait_backoff(4, 0.010, 5.0, 0.1, "v1.5"),
    "stamina-default": Preset(0.1, 2.0, 1.0, 10, 5.0, "additive", 45.0, "v1.5"),
}


def same_sleep(a: float, b: float) -> bool:
    """Two sleeps in seconds are the same Duration: equal to the nanosecond, or (past
    2**53 ns, about 104 days, where a float of seconds no longer holds every
    nanosecond) equal to a float's precision."""
    return math.isclose(a, b, rel_tol=4e-16, abs_tol=5e-10)


def schedule(b: Fields, draws: Sequence[float]) -> Schedule:
    """The schedule of ``b`` with jitter draws ``draws`` (at least one per sleep)."""
    return _client_go(b, draws) if b.mode == "client-go" else _other(b, draws)


def bounds(b: Fields) -> list[tuple[float, float]]:
    """Each sleep's (lowest, highest) over every draw in [0, 1]: the extremes of the
    formulas above, which are monotone in the draw."""
    n = b.steps
    low = schedule(b, [0.0] * n).sleeps
    high = schedule(b, [1.0] * n).sleeps
    return list(zip(low, high, strict=True))


def gives_up_before_sleeping(
    now: float, sleep: float, deadline: float | None, start: float = 0.0
) -> bool:
    """The deadline rule: after a failed, retriable attempt ending at ``now``, whether
    the run gives up there, without sleeping ``sleep``: ``now + sleep > start +
    deadline`` (seconds; ``start`` is the first attempt's start, ``deadline`` None for
    none, which never gives up here).  Equality still sleeps: an attempt may start at
    the deadline itself.

    Source: k8s.io/apimachinery ``wait.Backoff`` has no deadline of its own (its
    ``ExponentialBackoff`` loop, in the module doc, stops on Steps and Cap only), and
    Harvester's ``getImagesDiffList`` runs it with none; the deadline is retrylab's
    addition to that loop (README "Retry policies": measured from the first attempt's start, no
    attempt starts after it, a sleep that would end past it ends the run at once),
    there to model budgets such as stamina's ``timeout``.  The same rule cuts a
    trailing sleep (Cap reached): it is slept only when it ends within the deadline.
    """
    return deadline is not None and now + sleep > start + deadline

"""The retry loop: run an operation under a :class:`~cleanup.Policy`.

Pure logic: no I/O, no real time.  Time comes from an injected :class:`~cleanup.Clock`
and randomness from an injected :class:`random.Random`, so a seed fixes a whole run and
the simulation drives *this* loop in virtual time rather than a copy of it.
The schedule is :mod:`cleanup._schedule`'s, the predicate :mod:`cleanup._policy`'s.

The deadline (optional, seconds) is an overall limit measured on the clock from the
start of the first attempt (``t0``).  Rule: an attempt may start only while
``now <= t0 + deadline``.  After a failed, retriable attempt the next sleep is drawn;
if ``now + sleep > t0 + deadline`` the loop gives up at once, without sleeping, since
the attempt after that sleep could not start anyway.  The deadline never interrupts a
running attempt (the per-attempt HTTP timeout bounds those), and the first attempt
always runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import NoReturn, TypeVar

from cleanup._classify import error_kind, to_error
from cleanup._clock import Clock
from cleanup._errors import CleanupError, Limit, RetriesExhausted
from cleanup._events import Abandoned, AttemptFailed, AttemptStarted, Event, Sleeping, Succeeded
from cleanup._policy import Policy

__all__ = ["RetriesExhausted", "retry"]


T = TypeVar("T")


# --- the runner -----------------------------------------------------------------------------


def _raise(err: CleanupError, original: BaseException) -> NoReturn:
    """Raise the classified error outside any ``except`` block: the original as its
    cause when it was made from the original; as it is (its own causes, no cycle) when
    it was found inside the original's chain."""
    if err is original:
        raise err
    if err.__cause__ is original or _inside(err, original):
        raise err
    raise err from original


def _inside(err: BaseException, original: BaseException) -> bool:
    seen: set[int] = set()
    stack: list[BaseException | None] = [original]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        if item is err:
            return True
        seen.add(id(item))
        stack += [item.__cause__, item.__context__]
        stack += [arg for arg in item.args if isinstance(arg, BaseException)]
    return False


def retry(
    operation: Callable[[int], T],
    policy: Policy,
    *,
    clock: Clock,
    rng: random.Random,
    on_event: Callable[[Event], None] | None = None,
) -> T:
    """Run ``operation(attempt)`` (attempt is 1-based) under ``policy``.

    Returns the first successful result.  Every exception (``Exception`` subclasses;
    ``KeyboardInterrupt`` and the like pass untouched) is converted with
    :func:`~cleanup.to_error` before the predicate sees it.  A non-retriable error is
    raised at once (the classified error, the original as ``__cause__``, or with its
    own causes when the operation raised it wrapped in other exceptions); when the
    schedule or the deadline runs out, :class:`RetriesExhausted` is raised.  Events go to
    ``on_event`` in order: for each attempt ``AttemptStarted`` then ``Succeeded`` or
    ``AttemptFailed``; after a failure ``Sleeping`` or ``Abandoned``.
    """

    def emit(event: Event) -> None:
        if on_event is not None:
            on_event(event)

    of = policy.backoff.attempts
    schedule = policy.backoff.start(rng)
    t0 = clock.now()
    limit = None if policy.deadline is None else t0 + policy.deadline
    attempt = 0
    last: CleanupError | None = None
    while schedule.steps > 0:
        if attempt > 0 and limit is not None and clock.now() > limit:
            # the sleep overshot (real clocks do): no attempt may start after the deadline
            assert last is not None
            _give_up(emit, last, attempt, clock, t0, "deadline")
        attempt += 1
        emit(AttemptStarted(attempt, of, clock.now()))
        try:
            result = operation(attempt)
        except Exception as exc:
            error = to_error(exc)
            original: BaseException = exc
        else:
            now = clock.now()
            emit(Succeeded(attempt, now, now - t0))
            return result
        last = error
        now = clock.now()
        kind = error_kind(error)
        if not policy.retriable(error):
            emit(AttemptFailed(attempt, of, now, error, kind, False))
            emit(Abandoned(attempt, now, now - t0, error, "not-retriable"))
            _raise(error, original)
        if schedule.steps == 1:
            emit(AttemptFailed(attempt, of, now, error, kind, True))
            _give_up(emit, error, attempt, clock, t0, "schedule")
        delay = schedule.step()
        if limit is not None and now + delay > limit:
            emit(AttemptFailed(attempt, of, now, error, kind, True))
            _give_up(emit, error, attempt, clock, t0, "deadline")
        trailing = schedule.steps == 0
        emit(AttemptFailed(attempt, of, now, error, kind, True, None if trailing else delay))
        emit(Sleeping(attempt, delay, now, trailing))
        clock.sleep(delay)
    assert last is not None  # steps >= 1 guarantees one attempt
    _give_up(emit, last, attempt, clock, t0, "schedule")


def _give_up(
    emit: Callable[[Event], None],
    error: CleanupError,
    attempts: int,
    clock: Clock,
    t0: float,
    reason: Limit,
) -> NoReturn:
    now = clock.now()
    emit(Abandoned(attempts, now, now - t0, error, reason))
    raise RetriesExhausted(error, attempts, now - t0, reason)

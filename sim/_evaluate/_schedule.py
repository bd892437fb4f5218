"""The retry schedule, vectorised bit for bit: every row's sleeps as ``cleanup`` draws them.

The harness hands ``run_cleanup`` the jitter stream :func:`jitter_rng`; the evaluator
draws the same values (:func:`jitter_draws`) and :func:`sleep_matrix` applies
``cleanup.Backoff``'s arithmetic to them operation for operation, so IEEE rounding gives
the same bits.  The clamps, the conversions and the growth rule are ``cleanup``'s own
(:mod:`cleanup.durations`).
"""

from __future__ import annotations

import random

import numpy as np
import numpy.typing as npt

from cleanup import (
    MAX_DURATION,
    Backoff,
)

# cleanup's own clamps, conversions and growth rule (Go's largest Duration), not copies
from cleanup.durations import MAX_DURATION_NS, float_to_ns, grow, to_ns

__all__ = ["jitter_draws", "jitter_rng", "schedule_shape", "sleep_matrix"]


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


# --- the schedule, vectorised bit-for-bit ------------------------------------------------


def schedule_shape(backoff: Backoff) -> tuple[int, int]:
    """(attempts, sleeps) when every attempt fails; sleeps == attempts when a client-go
    cap ends the loop with a trailing sleep."""
    attempts = backoff.attempts
    sleeps = len(backoff.bounds())
    return attempts, sleeps


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
            # cleanup: duration + float_to_ns(random() * jitter * float(duration)),
            # truncated to integer nanoseconds, clamped to Go's largest Duration
            value = (u * b.jitter) * np.array([float(x) for x in bases])
            huge = value >= MAX_DURATION_NS
            if huge.any():
                value = np.where(huge, 0.0, value)
            extra = value.astype(np.int64)  # truncation, like int(value)
            if huge.any():
                extra[huge] = MAX_DURATION_NS
            np.divide(np.minimum(extra, MAX_DURATION_NS - base_ns) + base_ns, 1e9, out=out)
        else:
            out[:] = base_ns / 1e9
        return out
    cap = MAX_DURATION if b.cap is None else min(b.cap, MAX_DURATION)
    if b.mode == "decorrelated":  # each sleep depends on the previous one: column by column
        previous = np.full(rows, b.duration)
        for k in range(count):
            upper = np.minimum(MAX_DURATION, np.maximum(b.duration, previous * b.factor))
            sleep = np.minimum(cap, b.duration + (upper - b.duration) * u[:, k])
            out[:, k] = sleep
            previous = sleep
        return out
    grown = np.array([grow(b.duration, b.factor, k) for k in range(count)])
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
    duration = to_ns(backoff.duration)
    cap_ns = to_ns(backoff.cap) if backoff.cap is not None else 0
    while steps > 0 and steps != 1:
        steps -= 1
        bases.append(duration)
        if backoff.factor != 0:
            duration = float_to_ns(float(duration) * backoff.factor)
            if cap_ns > 0 and duration > cap_ns:
                duration = cap_ns
                steps = 0
    return bases

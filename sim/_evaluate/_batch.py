"""Many worlds under one policy at once, with numpy, equal to the reference per row.

Attempt start times are the cumulative sum of the sleeps (``_schedule``), each
attempt's class is a lookup in its world's segments (``_compile``), the first terminal
one ends the run.  Rows where time passes inside an attempt (a dropped query, a hung
request) are stepped attempt by attempt, the slow attempts replayed vectorised from
their actual start times (:func:`_slow_attempts`, held to the reference by tests).
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from cleanup import (
    DIAL_TIMEOUT,
    Policy,
)
from cleanup.dnsrules import (
    marshal_error,
    server_sequence,
)
from cleanup.durations import HALF_NS
from sim._evaluate._compile import (
    Worlds,
    _dns_slot,
)
from sim._evaluate._model import (
    _DNS_CLASSES,
    _DNS_CODES,
    _HTTP_CODES,
    C_DNS_FATAL,
    C_DNS_NOT_FOUND,
    C_DNS_TEMPORARY,
    C_HTTP_REFUSED,
    C_HTTP_STATUS,
    C_SLOW,
    C_SUCCESS,
    GIVE_UP_REASONS,
    OUTCOMES,
    Evaluation,
    _candidates,
)
from sim._evaluate._schedule import (
    schedule_shape,
    sleep_matrix,
)

__all__ = [
    "GIVE_UP_REASONS",
    "OUTCOMES",
    "BatchResult",
    "ResultArrays",
    "draws_needed",
    "evaluate_batch",
]

# the arrays hold indices into OUTCOMES and GIVE_UP_REASONS (sim._evaluate._model)
SUCCESS, GAVE_UP, NOT_RETRIABLE = 0, 1, 2
_DNS, _HTTP, _NOT_RETRIED = 1, 2, 3  # indices into GIVE_UP_REASONS


# --- the batch evaluation ---------------------------------------------------------------


@dataclass
class ResultArrays:
    """The per-world results, one array per field (the one list of them): shape
    ``(worlds,)`` in a :class:`BatchResult`, ``(policies, worlds)`` in a
    ``sim._tune.Sweep``.  A row means what :class:`Evaluation`'s field of the same name
    means: ``outcome`` and ``reason`` index :data:`OUTCOMES` and
    :data:`GIVE_UP_REASONS`; ``end``/``elapsed`` are virtual seconds."""

    outcome: npt.NDArray[np.int8]
    attempts: npt.NDArray[np.int32]
    end: npt.NDArray[np.float64]
    elapsed: npt.NDArray[np.float64]
    dns_queries: npt.NDArray[np.int32]
    http_requests: npt.NDArray[np.int32]
    reason: npt.NDArray[np.int8]

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The array fields' names, in order."""
        return tuple(f.name for f in fields(ResultArrays))

    @classmethod
    def zeros(cls, shape: tuple[int, ...]) -> dict[str, npt.NDArray[Any]]:
        """Zero-filled arrays of ``shape`` for every field, each of its declared dtype."""
        hints = typing.get_type_hints(ResultArrays)
        # npt.NDArray[X] is ndarray[shape, dtype[X]]: the dtype's argument is X
        return {
            name: np.zeros(shape, typing.get_args(typing.get_args(hints[name])[1])[0])
            for name in cls.names()
        }


@dataclass
class BatchResult(ResultArrays):
    """Per-row results of one policy over :class:`Worlds` (see :class:`Evaluation`)."""

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
    dns_last = np.isin(last_cls, _DNS_CLASSES)
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
    stops_on = [C_SUCCESS, C_HTTP_STATUS, C_DNS_FATAL] + (
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
        dns_last = np.isin(cls, _DNS_CLASSES)
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


# the kind of a failed lookup, as the resolver reports it (see _Controller._resolve):
# "no such host", retried (temporary or timeout), retried by neither (cannot marshal,
# a lame referral, REFUSED's "server misbehaving")
_K_NOT_FOUND, _K_TEMPORARY, _K_TIMEOUT, _K_OTHER = 0, 1, 2, 3


def _slow_attempts(
    worlds: Worlds, rows: npt.NDArray[np.intp], start: npt.NDArray[np.float64]
) -> tuple[
    npt.NDArray[np.int8], npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """One attempt per row starting at ``start``, where time passes inside it.

    :meth:`sim._evaluate._model._Controller.attempt` vectorised over rows: the same
    candidate walk (each try sees the state at the moment it is sent, a dropped try waits
    until its deadline),
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
    failed = np.zeros(m, dtype=bool)  # the lookup is over without an address
    last_err = np.full(m, -1, dtype=np.int8)
    as_given = model.repo_service.rstrip(".") + "."
    ok, nx, rf = _DNS_CODES["ok"], _DNS_CODES["nxdomain"], _DNS_CODES["conn-refused"]
    tries = len(server_sequence(1, model.dns_attempts))
    # In a timeline A and AAAA of one name see the same state at the same instant, so
    # both lanes of a candidate walk alike (an ``ok`` repo name: A answers, AAAA is
    # NODATA, both final) and the error kept is the kind both ended with.
    for name in _candidates(model):
        slot, is_repo = _dns_slot(layout, name)
        looking = ~resolved & ~failed
        live = looking.copy()
        kind = np.full(m, -1, dtype=np.int8)
        unsendable = marshal_error(name)
        for _try in range(tries):
            failed |= live & (t >= deadline)  # the deadline fails the whole lookup
            live &= ~failed
            if unsendable:  # every try fails at once, nothing is sent
                kind[live] = _K_OTHER
                continue
            st = state(t, slot)
            dq[live & (st != rf)] += 2  # A and AAAA; the kernel refuses the others
            answer = live & (st == ok) & is_repo
            not_found = live & ((st == nx) | ((st == ok) & (not is_repo)))
            dropped = live & (st == _DNS_CODES["timeout"])
            # a lame referral and REFUSED: no flag (errLameReferral, errServerMisbehaving)
            plain = live & ((st == _DNS_CODES["lame"]) | (st == _DNS_CODES["refused"]))
            kind[live & ~answer & ~not_found & ~dropped & ~plain] = _K_TEMPORARY
            kind[plain] = _K_OTHER
            kind[not_found] = _K_NOT_FOUND
            kind[dropped] = _K_TIMEOUT
            if dropped.any():
                remaining = np.minimum(t + model.dns_timeout, deadline) - t
                t[dropped] = t[dropped] + np.maximum(remaining[dropped], 0.0)
            resolved |= answer
            live &= ~(answer | not_found)
        failed |= live & (t >= deadline)  # a wait ended at the deadline, nothing final
        # Go keeps the first error, and every error for the name as given replaces it
        ended = looking & ~resolved & ~failed
        update = ended & ((last_err == -1) | (name == as_given))
        last_err[update] = kind[update]
    last_err[failed] = _K_TIMEOUT  # "lookup NAME: i/o timeout" (deadline_error)

    cls = np.full(m, C_SUCCESS, dtype=np.int8)
    err = last_err[~resolved]
    cls[~resolved] = np.where(
        (err == _K_NOT_FOUND) | (err == -1),
        C_DNS_NOT_FOUND,
        np.where(err == _K_OTHER, C_DNS_FATAL, C_DNS_TEMPORARY),
    )
    # a lookup that fails once the request's deadline has passed is the Client.Timeout
    cls[~resolved & (t >= request_deadline - HALF_NS)] = C_HTTP_REFUSED
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

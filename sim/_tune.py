"""``sim tune``: choose retry parameters by Monte Carlo over simulated worlds.

The question it answers: which Steps/Duration/Factor/Jitter/Cap make the cleanup survive
this scenario with the target probability, fastest, without hammering DNS?

How:

1. **Worlds, once per seed.**  Seeds ``seed .. seed+samples-1`` each draw one world from
   the scenario (the simpy model).  Every policy is evaluated against the *same* worlds
   and the same jitter streams (common random numbers), so the difference between two
   policies is the policies, not sampling noise.
2. **Exact, fast evaluation** (:mod:`sim._evaluate`): outcome, attempts, completion
   time, DNS queries and HTTP requests as the real cleanup in the harness would have
   them, at about a million evaluations per second per core.
3. **Statistics per policy**: P(success) with a 95% Wilson interval, time to success
   (p50/p95/p99, from the cleanup start), attempts, DNS queries and HTTP requests per
   cleanup, why runs did not succeed, and how long the controller was blocked.
4. **Recommendation**: among policies whose P(success) meets ``--target``, the Pareto
   front on (p95 time to success, requests per cleanup) and one pick on it: the
   smallest product p95 x requests, a scale-free balance of the two.

Work is split into chunks of seeds; each chunk draws its worlds and evaluates every
policy on them, in a local process pool (``--jobs``) or on a Dask cluster
(``--executor dask://HOST:PORT``).  Results are reassembled in seed order, so they are
identical whatever ran them.  Ctrl-C keeps the chunks already finished: every policy has
then seen the same (smaller) set of worlds, so the comparison stays fair.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import itertools
import json
import math
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cleanup import (
    MODES,
    PREDICATES,
    PRESETS,
    Backoff,
    Policy,
    PolicyError,
    get_policy,
    parse_duration,
)
from cleanup import policy_to_toml as _policy_to_toml
from sim._args import count as _count
from sim._args import seed as _seed
from sim._dist import ScenarioError
from sim._evaluate import (
    GIVE_UP_REASONS,
    SUCCESS,
    ControllerModel,
    draws_needed,
    evaluate_batch,
    generate,
)
from sim._scenario import Scenario, load_scenario

__all__ = [
    "DEFAULT_GRID",
    "ExecutorError",
    "GridError",
    "PolicyStats",
    "Sweep",
    "TuneReport",
    "add_tune_parser",
    "pareto_front",
    "parse_grid",
    "recommend",
    "run_sweep",
    "run_tune",
    "summarize",
    "wilson_interval",
]

DEFAULT_GRID = "steps=10,30,60 duration=1s,5s,10s factor=1,1.5,2 jitter=0.1,1 mode=client-go,full"
#: the before/after of the seed's fix: shown next to the grid unless --policy is given
DEFAULT_NAMED = ("harvester-v1.4", "harvester-v1.5")
RECOMMENDED = "recommended"
GRID_KEYS = ("mode", "steps", "duration", "factor", "jitter", "cap", "deadline", "predicate")
_JITTER_UNUSED = ("full", "equal", "decorrelated")  # AWS modes ignore jitter
Z95 = 1.959963984540054
DASK_CONNECT_TIMEOUT = 10  # seconds to reach a scheduler before giving up (exit 69)

EXIT_OK, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 0, 64, 69, 130


class GridError(ValueError):
    """A grid spec is unusable; the message names the token."""


class ExecutorError(RuntimeError):
    """The Dask scheduler cannot be reached (exit 69, like EX_UNAVAILABLE)."""


# --- the grid ------------------------------------------------------------------------


def _grid_value(key: str, text: str, token: str) -> object:
    try:
        if key == "steps":
            if not text.strip().isdigit() or int(text) < 1:
                raise PolicyError(f"expected a whole number >= 1, got {text!r}")
            return int(text)
        if key in ("duration", "cap", "deadline"):
            if key != "duration" and text.strip().lower() in ("none", "0"):
                return None
            return parse_duration(text, field_name=key)
        if key in ("factor", "jitter"):
            value = float(text)
            if not math.isfinite(value) or value < 0:
                raise PolicyError(f"expected a finite number >= 0, got {text!r}")
            return value
        if key == "mode":
            if text not in MODES:
                raise PolicyError(f"expected one of {', '.join(MODES)}, got {text!r}")
            return text
        if text not in ("v1.4", "v1.5"):
            raise PolicyError(f"expected v1.4 or v1.5, got {text!r}")
        return text
    except (PolicyError, ValueError) as exc:
        raise GridError(f"grid token {token!r}: {key}: {exc}") from None


def _seconds_text(seconds: float) -> str:
    return f"{seconds:g}s"


def grid_policy_name(backoff: Backoff, predicate: str, deadline: float | None) -> str:
    """A short, unique name that says what the policy is."""
    parts = [
        backoff.mode,
        f"steps={backoff.steps}",
        f"duration={_seconds_text(backoff.duration)}",
        f"factor={backoff.factor:g}",
    ]
    if backoff.mode not in _JITTER_UNUSED:
        parts.append(f"jitter={backoff.jitter:g}")
    if backoff.cap is not None:
        parts.append(f"cap={_seconds_text(backoff.cap)}")
    if deadline is not None:
        parts.append(f"deadline={_seconds_text(deadline)}")
    if predicate != "v1.5":
        parts.append(f"predicate={predicate}")
    return " ".join(parts)


def parse_grid(spec: str, *, budget: float | None = None) -> list[Policy]:
    """Every combination of the grid's values, as policies (duplicates removed).

    ``spec``: space-separated ``key=v1,v2,...`` tokens; keys are
    ``mode steps duration factor jitter cap deadline predicate``.  Keys left out take
    ``harvester-v1.5``'s values; ``deadline`` defaults to ``budget``.  The AWS modes
    ignore ``jitter``, so their policies that differ only in it are one policy.
    """
    base = PRESETS["harvester-v1.5"]
    choices: dict[str, list[object]] = {}
    tokens = spec.split()
    if not tokens:
        raise GridError("grid: empty (expected tokens like steps=10,30 duration=1s,5s)")
    for token in tokens:
        key, sep, values = token.partition("=")
        if not sep:
            raise GridError(f"grid token {token!r}: expected key=value[,value...]")
        if key not in GRID_KEYS:
            raise GridError(
                f"grid token {token!r}: unknown key {key!r} (one of {', '.join(GRID_KEYS)})"
            )
        if key in choices:
            raise GridError(f"grid token {token!r}: {key} given twice")
        items = values.split(",")
        if any(not item.strip() for item in items):
            raise GridError(f"grid token {token!r}: empty value")
        choices[key] = [_grid_value(key, item.strip(), token) for item in items]
    b = base.backoff

    def axis(key: str, default: object) -> list[Any]:
        return list(choices.get(key, [default]))

    policies: list[Policy] = []
    seen: set[tuple[Backoff, str, float | None]] = set()
    for mode, steps, duration, factor, jitter, cap, deadline, predicate in itertools.product(
        axis("mode", b.mode),
        axis("steps", b.steps),
        axis("duration", b.duration),
        axis("factor", b.factor),
        axis("jitter", b.jitter),
        axis("cap", b.cap),
        axis("deadline", budget),
        axis("predicate", base.predicate),
    ):
        try:
            backoff = Backoff(
                duration=duration,
                factor=factor,
                jitter=0.0 if mode in _JITTER_UNUSED else jitter,
                steps=steps,
                cap=cap,
                mode=mode,
            )
        except PolicyError as exc:
            raise GridError(f"grid: {exc}") from None
        identity = (backoff, predicate, deadline)
        if identity in seen:
            continue
        seen.add(identity)
        policies.append(
            Policy(
                grid_policy_name(backoff, predicate, deadline),
                backoff,
                PREDICATES[predicate],
                predicate=predicate,
                deadline=deadline,
            )
        )
    return policies


# --- statistics ----------------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion (95% by default).

    Unlike the normal approximation it stays inside [0, 1] and is honest at p near 1,
    exactly where a 99.9% target lives.
    """
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # exact at the ends (k = 0 gives low 0, k = n high 1) where rounding would not be
    low = 0.0 if successes == 0 else min(p, center - half)
    high = 1.0 if successes == n else max(p, center + half)
    return low, high


@dataclass
class PolicyStats:
    """What one policy did over the sweep's worlds (times in seconds).

    ``p50``/``p95``/``p99``: time to success, from the cleanup start, over the runs that
    succeeded (None if none did).  ``dns_queries``/``http_requests``: means per cleanup.
    ``give_up``: share of all runs that did not succeed because the budget ran out
    while DNS failed (``dns``), while HTTP failed (``http``), or on an error the policy
    does not retry (``not-retried``).  ``blocked_*``: how long the controller was
    blocked in the retry loop (the whole run, success or not).
    """

    name: str
    policy: dict[str, Any]
    samples: int
    successes: int
    p_success: float
    ci_low: float
    ci_high: float
    p50: float | None
    p95: float | None
    p99: float | None
    mean_attempts: float
    max_attempts: int
    dns_queries: float
    http_requests: float
    give_up: dict[str, float]
    blocked_mean: float
    blocked_p99: float
    blocked_max: float
    worst_case: float = math.inf
    meets_target: bool = False
    on_front: bool = False

    @property
    def requests(self) -> float:
        """DNS queries plus HTTP requests per cleanup: the load the retries put out."""
        return self.dns_queries + self.http_requests

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["requests"] = self.requests
        return out


@dataclass
class Sweep:
    """Raw per-world results: arrays shaped (policies, worlds), worlds in seed order."""

    scenario: str
    policies: list[Policy]
    seeds: npt.NDArray[np.int64]
    start: npt.NDArray[np.float64]
    outcome: npt.NDArray[np.int8]
    attempts: npt.NDArray[np.int32]
    end: npt.NDArray[np.float64]
    elapsed: npt.NDArray[np.float64]
    dns_queries: npt.NDArray[np.int32]
    http_requests: npt.NDArray[np.int32]
    reason: npt.NDArray[np.int8]
    requested: int = 0
    interrupted: bool = False
    wall_seconds: float = 0.0
    exact_rows: int = 0

    @property
    def worlds(self) -> int:
        return int(self.seeds.shape[0])

    def index(self, name: str) -> int:
        for i, policy in enumerate(self.policies):
            if policy.name == name:
                return i
        raise KeyError(name)


def summarize(sweep: Sweep, i: int) -> PolicyStats:
    """The statistics of policy ``i`` over the sweep's worlds."""
    policy = sweep.policies[i]
    n = sweep.worlds
    ok = sweep.outcome[i] == SUCCESS
    k = int(ok.sum())
    low, high = wilson_interval(k, n)
    times = sweep.elapsed[i][ok]
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    if k:
        p50, p95, p99 = (float(x) for x in np.percentile(times, [50, 95, 99]))
    reasons = sweep.reason[i]
    give_up = {
        name: (float((reasons == code).sum()) / n if n else 0.0)
        for code, name in enumerate(GIVE_UP_REASONS)
        if name
    }
    blocked = sweep.elapsed[i]
    return PolicyStats(
        name=policy.name,
        policy=policy.to_dict(),
        samples=n,
        successes=k,
        p_success=k / n if n else 0.0,
        ci_low=low,
        ci_high=high,
        p50=p50,
        p95=p95,
        p99=p99,
        mean_attempts=float(sweep.attempts[i].mean()) if n else 0.0,
        max_attempts=int(sweep.attempts[i].max()) if n else 0,
        dns_queries=float(sweep.dns_queries[i].mean()) if n else 0.0,
        http_requests=float(sweep.http_requests[i].mean()) if n else 0.0,
        give_up=give_up,
        blocked_mean=float(blocked.mean()) if n else 0.0,
        blocked_p99=float(np.percentile(blocked, 99)) if n else 0.0,
        blocked_max=float(blocked.max()) if n else 0.0,
        worst_case=worst_case(policy),
    )


def worst_case(policy: Policy) -> float:
    """The longest the retry loop can sleep in total (jitter at its maximum), capped by
    the deadline: how long the controller stays blocked when nothing ever works."""
    total = sum(high for _low, high in policy.backoff.bounds())
    return total if policy.deadline is None else min(total, policy.deadline)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates (both coordinates minimised).

    A point is dominated when another is at least as good in both coordinates and
    strictly better in one; equal points are all on the front.
    """
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(
            (a <= x and b <= y) and (a < x or b < y) for j, (a, b) in enumerate(points) if j != i
        )
        if not dominated:
            front.append(i)
    return front


def recommend(stats: Sequence[PolicyStats], target: float) -> tuple[list[int], int | None]:
    """(Pareto front among policies meeting ``target``, the pick) as indices.

    The pick minimises p95 time x requests on the front (ties: higher P(success), then
    the shorter worst case, i.e. the policy that gives up sooner when the repo never
    comes back, then the name).  When no policy meets the target the front is empty
    and the pick is the policy with the highest P(success) (ties: lower p95), so there
    is still an answer to look at, flagged as missing the target.
    """
    for s in stats:
        s.meets_target = s.successes > 0 and s.p_success >= target
        s.on_front = False
    meeting = [i for i, s in enumerate(stats) if s.meets_target]
    if not meeting:
        if not stats:
            return [], None
        best = max(
            range(len(stats)),
            key=lambda i: (stats[i].p_success, -(stats[i].p95 or math.inf), stats[i].name),
        )
        return [], best
    points = [(float(stats[i].p95 or 0.0), stats[i].requests) for i in meeting]
    front = [meeting[j] for j in pareto_front(points)]
    for i in front:
        stats[i].on_front = True
    pick = min(
        front,
        key=lambda i: (
            float(stats[i].p95 or 0.0) * stats[i].requests,
            -stats[i].p_success,
            stats[i].worst_case,
            stats[i].name,
        ),
    )
    return sorted(front, key=lambda i: float(stats[i].p95 or 0.0)), pick


# --- running the sweep ----------------------------------------------------------------

# per-chunk result: (first seed index, arrays stacked (policies, worlds), exact rows)
_ChunkResult = tuple[int, dict[str, npt.NDArray[Any]], int]
_FIELDS = ("outcome", "attempts", "end", "elapsed", "dns_queries", "http_requests", "reason")


def evaluate_chunk(
    scenario: Scenario, first_seed: int, count: int, policies: Sequence[Policy], offset: int
) -> _ChunkResult:
    """Draw the worlds of seeds ``first_seed .. first_seed+count-1`` and evaluate every
    policy on them.  Module-level and pure, so process pools and Dask can ship it."""
    model = ControllerModel.for_scenario(scenario)
    worlds = generate(scenario, range(first_seed, first_seed + count), draws_needed(policies),
                      model)  # fmt: skip
    results = [evaluate_batch(worlds, policy) for policy in policies]
    arrays: dict[str, npt.NDArray[Any]] = {
        name: np.stack([getattr(r, name) for r in results]) for name in _FIELDS
    }
    arrays["seeds"] = worlds.seeds
    arrays["start"] = worlds.start
    return offset, arrays, sum(r.exact_rows for r in results)


def _chunks(samples: int, jobs: int, chunk: int | None) -> list[tuple[int, int]]:
    size = chunk or min(5000, max(250, math.ceil(samples / max(1, jobs * 4))))
    return [(start, min(size, samples - start)) for start in range(0, samples, size)]


def _dask_address(executor: str) -> str:
    rest = executor[len("dask://") :]
    if not rest or ":" not in rest:
        raise GridError(f"--executor {executor!r}: expected dask://HOST:PORT")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise GridError(f"--executor {executor!r}: expected dask://HOST:PORT")
    return f"tcp://{rest}"


ProgressFn = Callable[[int], None]


def run_sweep(
    scenario: Scenario,
    policies: Sequence[Policy],
    *,
    samples: int,
    seed: int = 0,
    jobs: int = 1,
    executor: str = "local",
    chunk: int | None = None,
    progress: ProgressFn | None = None,
) -> Sweep:
    """Evaluate ``policies`` on the worlds of seeds ``seed .. seed+samples-1``.

    ``executor``: ``local`` (``jobs`` processes; 1 = in this process) or
    ``dask://HOST:PORT``.  ``progress(worlds)`` is called as chunks finish.  A
    KeyboardInterrupt stops the sweep and returns what finished (``interrupted``).
    """
    if samples < 1:
        raise GridError("--samples: must be at least 1")
    if not policies:
        raise GridError("nothing to evaluate: no policies")
    names = [p.name for p in policies]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise GridError(f"--policy: {duplicates[0]!r} given twice")
    plan = _chunks(samples, jobs if executor == "local" else 8, chunk)
    policies = list(policies)
    done: list[_ChunkResult] = []
    interrupted = False
    started = time.perf_counter()

    def finished(result: _ChunkResult) -> None:
        done.append(result)
        if progress is not None:
            progress(int(result[1]["seeds"].shape[0]))

    args = [(scenario, seed + first, count, policies, first) for first, count in plan]
    try:
        if executor.startswith("dask://"):
            _run_dask(_dask_address(executor), args, finished)
        elif executor != "local":
            raise GridError(f"--executor {executor!r}: expected local or dask://HOST:PORT")
        elif jobs <= 1:
            for a in args:
                finished(evaluate_chunk(*a))
        else:
            _run_pool(jobs, args, finished)
    except KeyboardInterrupt:
        interrupted = True
    return _assemble(scenario, policies, done, samples, interrupted,
                     time.perf_counter() - started)  # fmt: skip


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which cancels the sweep and keeps what
    finished (a worker dying of it would break the pool mid-report)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _chunk_star(args: tuple[Any, ...]) -> _ChunkResult:
    return evaluate_chunk(*args)


def _run_pool(
    jobs: int, args: list[tuple[Any, ...]], finished: Callable[[_ChunkResult], None]
) -> None:
    """Chunks on ``jobs`` worker processes, handed on as they complete.  Leaving the
    ``with`` block terminates the workers, so Ctrl-C costs no wait for running chunks."""
    # forkserver: a clean interpreter (no parent threads, e.g. the progress bar's) that
    # has imported the evaluator once; workers fork from it in milliseconds
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sim._tune"])
    with context.Pool(min(jobs, len(args)), initializer=_ignore_sigint) as pool:
        for result in pool.imap_unordered(_chunk_star, args):
            finished(result)


def _run_dask(
    address: str, args: list[tuple[Any, ...]], finished: Callable[[_ChunkResult], None]
) -> None:
    # distributed's API is untyped; hold it as Any rather than sprinkle ignores
    distributed: Any = importlib.import_module("distributed")
    try:
        client = distributed.Client(address, timeout=DASK_CONNECT_TIMEOUT)
    except OSError as exc:
        raise ExecutorError(
            f"--executor dask: cannot reach the scheduler at {address}: {exc}"
        ) from None
    futures = [client.submit(evaluate_chunk, *a, pure=False) for a in args]
    try:
        for future in distributed.as_completed(futures):
            finished(future.result())
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        client.close()


def _assemble(
    scenario: Scenario,
    policies: list[Policy],
    done: list[_ChunkResult],
    requested: int,
    interrupted: bool,
    wall: float,
) -> Sweep:
    done = sorted(done, key=lambda r: r[0])
    if done:
        arrays = {
            name: np.concatenate([r[1][name] for r in done], axis=-1)
            for name in (*_FIELDS, "seeds", "start")
        }
    else:
        p = len(policies)
        arrays = {
            "outcome": np.zeros((p, 0), np.int8),
            "attempts": np.zeros((p, 0), np.int32),
            "end": np.zeros((p, 0)),
            "elapsed": np.zeros((p, 0)),
            "dns_queries": np.zeros((p, 0), np.int32),
            "http_requests": np.zeros((p, 0), np.int32),
            "reason": np.zeros((p, 0), np.int8),
            "seeds": np.zeros(0, np.int64),
            "start": np.zeros(0),
        }
    return Sweep(
        scenario=scenario.name,
        policies=policies,
        requested=requested,
        interrupted=interrupted,
        wall_seconds=wall,
        exact_rows=sum(r[2] for r in done),
        **arrays,
    )


# --- the report --------------------------------------------------------------------------


@dataclass
class TuneReport:
    """Everything ``sim tune`` prints and writes."""

    sweep: Sweep
    stats: list[PolicyStats]
    named: list[str]
    target: float
    budget: float | None
    seed: int
    front: list[int] = field(default_factory=list)
    pick: int | None = None

    @property
    def pick_stats(self) -> PolicyStats | None:
        return None if self.pick is None else self.stats[self.pick]

    def recommended_policy(self) -> Policy | None:
        if self.pick is None:
            return None
        chosen = self.sweep.policies[self.pick]
        return replace(chosen, name=RECOMMENDED)

    def to_dict(self) -> dict[str, Any]:
        sweep = self.sweep
        pick = self.pick_stats
        evaluations = sweep.worlds * len(sweep.policies)
        return {
            "scenario": sweep.scenario,
            "seed": self.seed,
            "samples": sweep.worlds,
            "requested_samples": sweep.requested,
            "interrupted": sweep.interrupted,
            "target": self.target,
            "budget": self.budget,
            "wall_seconds": sweep.wall_seconds,
            "evaluations": evaluations,
            "evaluations_per_second": evaluations / sweep.wall_seconds
            if sweep.wall_seconds > 0
            else None,
            "named": self.named,
            "front": [self.stats[i].name for i in self.front],
            "pick": None if pick is None else pick.name,
            "pick_meets_target": bool(pick and pick.meets_target),
            "cleanup_flags": self.flags(),
            "policies": [s.to_dict() for s in self.stats],
        }

    def flags(self, policy_file: str | None = None) -> str | None:
        """The pick as ``cleanup run`` flags (client-go + v1.5: overrides of the
        harvester-v1.5 preset; otherwise only a policy file can say it)."""
        policy = self.recommended_policy()
        if policy is None:
            return None
        b = policy.backoff
        if b.mode == "client-go" and policy.predicate == "v1.5":
            parts = [
                "cleanup run --policy harvester-v1.5",
                f"--steps {b.steps}",
                f"--duration {_seconds_text(b.duration)}",
                f"--factor {b.factor:g}",
                f"--jitter {b.jitter:g}",
            ]
            if b.cap is not None:
                parts.append(f"--cap {_seconds_text(b.cap)}")
            if policy.deadline is not None:
                parts.append(f"--deadline {_seconds_text(policy.deadline)}")
            return " ".join(parts)
        return f"cleanup run --policy {policy_file or 'recommended.toml'}"

    def policy_toml(self) -> str | None:
        policy = self.recommended_policy()
        return None if policy is None else _policy_to_toml(policy)

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        header = [
            "name", "mode", "steps", "duration", "factor", "jitter", "cap", "deadline",
            "predicate", "samples", "successes", "p_success", "ci_low", "ci_high", "p50",
            "p95", "p99", "mean_attempts", "max_attempts", "dns_queries", "http_requests",
            "requests", "give_up_dns", "give_up_http", "give_up_not_retried",
            "blocked_mean", "blocked_p99", "blocked_max", "meets_target", "on_front", "pick",
        ]  # fmt: skip
        writer.writerow(header)
        for i, s in enumerate(self.stats):
            b = s.policy["backoff"]
            writer.writerow([
                s.name, b["mode"], b["steps"], b["duration"], b["factor"], b["jitter"],
                b["cap"] if b["cap"] is not None else "", s.policy["deadline"] or "",
                s.policy["predicate"], s.samples, s.successes, f"{s.p_success:.6f}",
                f"{s.ci_low:.6f}", f"{s.ci_high:.6f}", _num(s.p50), _num(s.p95), _num(s.p99),
                f"{s.mean_attempts:.4f}", s.max_attempts, f"{s.dns_queries:.4f}",
                f"{s.http_requests:.4f}", f"{s.requests:.4f}", f"{s.give_up['dns']:.6f}",
                f"{s.give_up['http']:.6f}", f"{s.give_up['not-retried']:.6f}",
                f"{s.blocked_mean:.4f}", f"{s.blocked_p99:.4f}", f"{s.blocked_max:.4f}",
                int(s.meets_target), int(s.on_front), int(i == self.pick),
            ])  # fmt: skip
        return out.getvalue()


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def build_report(
    sweep: Sweep, named: Sequence[str], target: float, budget: float | None, seed: int
) -> TuneReport:
    stats = [summarize(sweep, i) for i in range(len(sweep.policies))]
    named_set = set(named)
    # named policies are references, not candidates for the pick
    candidates = [i for i, s in enumerate(stats) if s.name not in named_set]
    front_c, pick_c = recommend([stats[i] for i in candidates], target)
    for i in set(range(len(stats))) - set(candidates):
        stats[i].meets_target = stats[i].successes > 0 and stats[i].p_success >= target
    report = TuneReport(sweep, stats, list(named), target, budget, seed)
    report.front = [candidates[j] for j in front_c]
    report.pick = None if pick_c is None else candidates[pick_c]
    return report


# --- plots -------------------------------------------------------------------------------


def _plot_policies(report: TuneReport) -> list[int]:
    chosen: list[int] = []
    if report.pick is not None:
        chosen.append(report.pick)
    # "best": the fastest of the most reliable grid policies (the pick trades speed for load)
    candidates = [i for i, s in enumerate(report.stats) if s.name not in report.named]
    best = max(
        candidates,
        key=lambda i: (report.stats[i].p_success, -(report.stats[i].p95 or math.inf)),
        default=None,
    )
    if best is not None and best not in chosen:
        chosen.append(best)
    for name in report.named:
        i = report.sweep.index(name)
        if i not in chosen:
            chosen.append(i)
    return chosen


def _label(report: TuneReport, i: int) -> str:
    name = report.stats[i].name
    if i == report.pick:
        return f"recommended: {short_name(name)}"
    if name not in report.named:
        return f"fastest most reliable: {short_name(name)}"
    return name


def write_plots(report: TuneReport, out: Path) -> list[Path]:
    """PNG plots into ``out``: success vs time since reboot, completion-time CDF, and
    the Pareto front.  Agg backend: no display needed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = report.sweep
    chosen = _plot_policies(report)
    paths = []
    n = sweep.worlds

    # 1. P(cleanup has succeeded) against time since the reboot, with Wilson bands
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    horizon = max(
        [float(sweep.end[i][sweep.outcome[i] == SUCCESS].max(initial=0.0)) for i in chosen]
        + [float(sweep.start.max(initial=0.0))]
    )
    grid = np.linspace(0.0, horizon * 1.05 + 1.0, 400)
    for i in chosen:
        ends = np.sort(sweep.end[i][sweep.outcome[i] == SUCCESS])
        k = np.searchsorted(ends, grid, side="right")
        p = k / max(n, 1)
        bands = np.array([wilson_interval(int(x), n) for x in k])
        (line,) = ax.plot(grid, p, label=_label(report, i))
        ax.fill_between(grid, bands[:, 0], bands[:, 1], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("time since the node reboot (s)")
    ax.set_ylabel("P(cleanup has succeeded)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{sweep.scenario}: success by time, {n} worlds (95% Wilson bands)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    paths.append(out / "success_vs_time.png")
    fig.savefig(paths[-1])
    plt.close(fig)

    # 2. CDF of completion time (every run: how long the controller was blocked)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for i in chosen:
        times = np.sort(sweep.elapsed[i])
        if times.size:
            ax.step(times, np.arange(1, times.size + 1) / times.size, where="post",
                    label=_label(report, i))  # fmt: skip
    ax.set_xlabel("completion time after the cleanup start (s), success or not")
    ax.set_ylabel("fraction of runs finished")
    ax.set_title(f"{sweep.scenario}: completion-time CDF")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    paths.append(out / "completion_cdf.png")
    fig.savefig(paths[-1])
    plt.close(fig)

    # 3. Pareto front on (p95 time to success, requests per cleanup)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    stats = report.stats
    xs = [s.p95 if s.p95 is not None else math.nan for s in stats]
    ys = [s.requests for s in stats]
    meets = [s.meets_target for s in stats]
    ax.scatter([x for x, m in zip(xs, meets, strict=True) if not m],
               [y for y, m in zip(ys, meets, strict=True) if not m],
               s=12, color="0.7", label=f"P(success) < {report.target:g}")  # fmt: skip
    ax.scatter([x for x, m in zip(xs, meets, strict=True) if m],
               [y for y, m in zip(ys, meets, strict=True) if m],
               s=14, color="tab:blue", label=f"P(success) >= {report.target:g}")  # fmt: skip
    if report.front:
        fx = [xs[i] for i in report.front]
        fy = [ys[i] for i in report.front]
        ax.plot(fx, fy, "-o", color="tab:red", markersize=5, label="Pareto front")
    if report.pick is not None:
        ax.scatter([xs[report.pick]], [ys[report.pick]], marker="*", s=220, color="gold",
                   edgecolor="black", zorder=5, label="recommended")  # fmt: skip
    for name in report.named:
        i = report.sweep.index(name)
        if not math.isnan(xs[i]):
            ax.annotate(name, (xs[i], ys[i]), fontsize=8, xytext=(4, 4),
                        textcoords="offset points")  # fmt: skip
    ax.set_xlabel("p95 time to success after the cleanup start (s)")
    ax.set_ylabel("DNS queries + HTTP requests per cleanup")
    ax.set_title(f"{sweep.scenario}: speed against load")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "pareto.png")
    fig.savefig(paths[-1])
    plt.close(fig)
    return paths


def write_outputs(report: TuneReport, out: Path) -> list[Path]:
    """report.json, results.csv, recommended.toml (if any pick) and the plots."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    toml = report.policy_toml()
    policy_file = out / "recommended.toml"
    if toml is not None:
        policy_file.write_text(toml, encoding="utf-8")
        written.append(policy_file)
    data = report.to_dict()
    data["cleanup_flags"] = report.flags(str(policy_file))
    (out / "report.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out / "results.csv").write_text(report.csv_text(), encoding="utf-8")
    written += [out / "report.json", out / "results.csv"]
    written += write_plots(report, out)
    return written


# --- the command -------------------------------------------------------------------------


def _duration_arg(text: str) -> float | None:
    if text.strip().lower() in ("none", "0"):
        return None
    try:
        return parse_duration(text, field_name="--budget")
    except PolicyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be in (0, 1]")
    return value


def add_tune_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``tune`` to the ``sim`` command line's subparsers."""
    tune = subparsers.add_parser(
        "tune",
        help="choose retry parameters by Monte Carlo over simulated worlds",
        description="Evaluate a grid of retry policies on the same simulated worlds and "
        "recommend one: P(success) with a 95% Wilson interval, time to success, load.",
    )
    tune.add_argument("--scenario", default="single-node", metavar="NAME|FILE")
    tune.add_argument(
        "--samples",
        type=_count,
        default=20000,
        metavar="N",
        help="worlds (seeds) to draw (default 20000)",
    )
    tune.add_argument(
        "--grid",
        metavar="SPEC",
        default=None,
        help=f"space-separated key=v1,v2 tokens (default {DEFAULT_GRID!r})",
    )
    tune.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="NAME|FILE",
        help="a preset or policy file to show next to the grid (repeatable; "
        f"default {', '.join(DEFAULT_NAMED)})",
    )
    tune.add_argument(
        "--budget",
        type=_duration_arg,
        default=None,
        metavar="D",
        help="deadline given to grid policies, e.g. 600s (default: none)",
    )
    tune.add_argument(
        "--target",
        type=_probability,
        default=0.999,
        metavar="P",
        help="required P(success) (default 0.999)",
    )
    tune.add_argument(
        "--jobs",
        type=_count,
        default=None,
        metavar="N",
        help="local worker processes (default: all cores)",
    )
    tune.add_argument("--executor", default="local", metavar="local|dask://HOST:PORT")
    tune.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write report.json, results.csv, recommended.toml and plots",
    )
    tune.add_argument("--json", action="store_true", help="print the report as JSON")
    tune.add_argument("--seed", type=_seed, default=0, metavar="N", help="first seed")
    tune.add_argument(
        "--compare",
        metavar="A,B,...",
        help="headline P(success) of these policies ('recommended': the "
        "grid's pick) on the same worlds",
    )
    tune.add_argument(
        "--chunk",
        type=_count,
        default=None,
        metavar="N",
        help="worlds per work unit (default: automatic)",
    )
    assert isinstance(tune, argparse.ArgumentParser)
    return tune


def _named_policies(names: Sequence[str]) -> list[Policy]:
    out = []
    for name in names:
        try:
            policy = get_policy(name)
        except PolicyError as exc:
            raise GridError(f"--policy {name}: {exc}") from None
        out.append(replace(policy, name=name))
    return out


def _fmt_time(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def short_name(name: str) -> str:
    """A grid policy's name, abbreviated for the table (``cg s30 d10s f1 j0.1``)."""
    for long, short in (("client-go ", "cg "), ("steps=", "s"), ("duration=", "d"),
                        ("factor=", "f"), ("jitter=", "j"), ("cap=", "cap"),
                        ("deadline=", "dl"), ("predicate=", "")):  # fmt: skip
        name = name.replace(long, short)
    return name


def _pct(value: float) -> str:
    """A share in percent, 2 decimals, without trailing zeros: 99.98, 100, 0."""
    return f"{value * 100:.2f}".rstrip("0").rstrip(".")


def _table(report: TuneReport, rows: Sequence[int], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, caption=_CAPTION, caption_justify="left", padding=(0, 1))
    table.add_column("policy", no_wrap=True)
    for column in ("P % [95% CI]", "p50/95/99 s", "att", "DNS/HTTP", "gave up d/h/x %",
                   "blocked s"):  # fmt: skip
        table.add_column(column, justify="right", no_wrap=True)
    # a deadline every grid policy shares (the budget) is said once, in the title
    shared = "" if report.budget is None else f" deadline={_seconds_text(report.budget)}"
    for i in rows:
        s = report.stats[i]
        name = short_name(s.name.replace(shared, "") if shared else s.name)
        if s.name in report.named:
            name = f"[cyan]{s.name}[/]"
        elif i == report.pick:
            name = f"[bold green]* {name}[/]"
        elif s.on_front:
            name = f"+ {name}"
        g = s.give_up
        table.add_row(
            name,
            f"{s.p_success * 100:.3f} [{_pct(s.ci_low)},{_pct(s.ci_high)}]",
            "/".join(_fmt_int(x) for x in (s.p50, s.p95, s.p99)),
            f"{s.mean_attempts:.1f}/{s.max_attempts}",
            f"{s.dns_queries:.0f}/{s.http_requests:.1f}",
            f"{_pct(g['dns'])}/{_pct(g['http'])}/{_pct(g['not-retried'])}",
            f"{s.blocked_mean:.0f}/{s.blocked_max:.0f}",
        )
    return table


def _fmt_int(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


_CAPTION = (
    "* recommended, + Pareto front, cyan: named.  p50/95/99: time to success after the "
    "cleanup start.  att: attempts mean/max.  DNS/HTTP: queries and requests per cleanup.  "
    "gave up: runs ending with the budget spent on DNS (d) or HTTP (h) errors, or on an "
    "error not retried (x).  blocked: mean/max time in the retry loop."
)


def _shown_rows(report: TuneReport, limit: int = 12) -> list[int]:
    rows: list[int] = []
    if report.pick is not None:
        rows.append(report.pick)
    rows += [i for i in report.front if i not in rows]
    ranked = sorted(
        range(len(report.stats)),
        key=lambda i: (
            not report.stats[i].meets_target,
            -report.stats[i].p_success if not report.stats[i].meets_target else 0,
            report.stats[i].p95 if report.stats[i].p95 is not None else math.inf,
        ),
    )
    for i in ranked:
        if len(rows) >= limit:
            break
        if i not in rows:
            rows.append(i)
    for name in report.named:
        i = report.sweep.index(name)
        if i not in rows:
            rows.append(i)
    return rows


def _headline(report: TuneReport, names: Sequence[str]) -> list[str]:
    lines = []
    for name in names:
        i = report.pick if name == RECOMMENDED else report.sweep.index(name)
        if i is None:
            lines.append(f"{name}: no policy to recommend")
            continue
        s = report.stats[i]
        label = f"recommended ({s.name})" if name == RECOMMENDED else name
        lines.append(
            f"{label}: P(success) = {s.p_success:.2%} "
            f"[95% CI {s.ci_low:.2%}, {s.ci_high:.2%}], p95 time to success "
            f"{_fmt_time(s.p95)} s"
        )
    return lines


EXIT_CANTCREAT = 73  # sysexits.h: cannot create the output


def _unwritable(out: Path) -> str | None:
    """Why files cannot be written in directory ``out`` (created if missing), or None."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".sim-tune-probe-"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def run_tune(args: argparse.Namespace, console: Any | None = None) -> int:
    """``sim tune``: parse, sweep (with a progress bar), report, write outputs."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = console or Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    try:
        scenario = load_scenario(args.scenario)
        compare = [c.strip() for c in args.compare.split(",")] if args.compare else []
        if args.compare is not None and (not compare or any(not c for c in compare)):
            raise GridError(f"--compare {args.compare!r}: expected NAME[,NAME...]")
        named_names = list(args.policy) or [c for c in compare if c != RECOMMENDED]
        if not named_names and not compare:
            named_names = list(DEFAULT_NAMED)
        for c in compare:
            if c != RECOMMENDED and c not in named_names:
                named_names.append(c)
        named = _named_policies(named_names)
        want_grid = not compare or RECOMMENDED in compare or args.grid is not None
        spec = DEFAULT_GRID if args.grid is None else args.grid
        grid = parse_grid(spec, budget=args.budget) if want_grid else []
        grid = [p for p in grid if p.name not in named_names]
        jobs = args.jobs or os.cpu_count() or 1
        if args.executor != "local" and not args.executor.startswith("dask://"):
            raise GridError(f"--executor {args.executor!r}: expected local or dask://HOST:PORT")
        if args.executor.startswith("dask://"):
            _dask_address(args.executor)
    except (GridError, ScenarioError, PolicyError) as exc:
        print(f"sim tune: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.out is not None and (why := _unwritable(args.out)) is not None:
        # refuse before the sweep, not after minutes of work (sysexits EX_CANTCREAT)
        print(f"sim tune: --out {args.out}: {why}", file=sys.stderr)
        return EXIT_CANTCREAT

    policies = named + grid
    progress = Progress(
        TextColumn("[bold]tune[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("worlds"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True,
    )  # fmt: skip
    task = progress.add_task("sweep", total=args.samples)
    try:
        with progress:
            sweep = run_sweep(
                scenario, policies, samples=args.samples, seed=args.seed, jobs=jobs,
                executor=args.executor, chunk=args.chunk,
                progress=lambda k: progress.advance(task, k),
            )  # fmt: skip
    except GridError as exc:
        print(f"sim tune: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ExecutorError as exc:
        print(f"sim tune: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if sweep.worlds == 0:
        print("sim tune: interrupted before any world finished", file=sys.stderr)
        return EXIT_INTERRUPTED
    report = build_report(sweep, named_names, args.target, args.budget, args.seed)
    written: list[Path] = []
    if args.out is not None:
        try:
            written = write_outputs(report, args.out)
        except OSError as exc:
            print(f"sim tune: --out {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_CANTCREAT
    if args.json:
        data = report.to_dict()
        if args.out is not None:
            data["cleanup_flags"] = report.flags(str(args.out / "recommended.toml"))
        print(json.dumps(data, indent=2))
    else:
        _print_report(console, report, compare, args, written)
    return EXIT_INTERRUPTED if sweep.interrupted else EXIT_OK


def _print_report(
    console: Any, report: TuneReport, compare: Sequence[str], args: argparse.Namespace,
    written: Sequence[Path],
) -> None:  # fmt: skip
    sweep = report.sweep
    evaluations = sweep.worlds * len(sweep.policies)
    rate = evaluations / sweep.wall_seconds if sweep.wall_seconds > 0 else 0.0
    if sweep.interrupted:
        console.print(
            f"[bold yellow]interrupted[/]: {sweep.worlds} of {sweep.requested} worlds finished; "
            "every policy below was evaluated on the same finished worlds"
        )
    console.print(
        f"scenario [bold]{sweep.scenario}[/], {sweep.worlds} worlds "
        f"({'of ' if sweep.interrupted else ''}seeds {report.seed}.."
        f"{report.seed + sweep.requested - 1}), {len(sweep.policies)} policies: "
        f"{evaluations:,} evaluations in {sweep.wall_seconds:.1f} s ({rate:,.0f}/s)"
    )
    if compare:
        for line in _headline(report, compare):
            console.print("  " + line)
        if RECOMMENDED not in compare:
            return
    title = f"policies (target P(success) >= {report.target:g}"
    title += f", budget {report.budget:g}s)" if report.budget is not None else ", no budget)"
    console.print(_table(report, _shown_rows(report), title))
    pick = report.pick_stats
    if pick is None:
        console.print("no policy to recommend")
        return
    if pick.meets_target:
        console.print(
            f"[bold green]recommended[/]: {pick.name}  (Pareto front of {len(report.front)} "
            "among policies meeting the target; pick = smallest p95 x requests)"
        )
    else:
        console.print(
            f"[bold red]no policy met the target[/]; the most reliable was {pick.name} "
            f"at {pick.p_success:.4%}"
        )
    policy_file = str(args.out / "recommended.toml") if args.out is not None else None
    console.print(f"  as flags: {report.flags(policy_file)}")
    if args.out is None:
        console.print("  as a policy file (cleanup run --policy FILE):")
        console.print(report.policy_toml() or "", markup=False, highlight=False)
    for path in written:
        console.print(f"  wrote {path}")

"""``sim tune``'s statistics, pure: a Wilson interval, per-policy summaries, the
Pareto front and the pick.

Input: a :class:`~sim._tune._sweep.Sweep` (arrays shaped (policies, worlds)).  Output:
:class:`PolicyStats` per policy, then :func:`recommend` chooses among those that meet
the target.  No I/O, no randomness: the same sweep always gives the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cleanup import Policy
from sim._evaluate import GIVE_UP_REASONS, SUCCESS

if TYPE_CHECKING:
    from sim._tune._sweep import Sweep

__all__ = [
    "Z95",
    "PolicyStats",
    "pareto_front",
    "recommend",
    "summarize",
    "wilson_interval",
    "worst_case",
]

Z95 = 1.959963984540054


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
    give_up: dict[str, float] = {
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

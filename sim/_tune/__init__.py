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
then seen the same (smaller) set of worlds, so the comparison stays fa

Modules, in the order the work flows: :mod:`sim._tune._grid` (a grid spec to policies),
:mod:`sim._tune._sweep` (worlds and executors), :mod:`sim._tune._stats` (pure statistics,
the Pareto front and the pick), :mod:`sim._tune._report` (JSON, CSV, policy file,
plots).  The command itself is :mod:`sim._cli_tune`.
"""

from sim._tune._grid import (
    DEFAULT_GRID,
    GRID_KEYS,
    GridError,
    grid_policy_name,
    parse_grid,
    seconds_text,
    short_name,
)
from sim._tune._report import RECOMMENDED, TuneReport, build_report, write_outputs, write_plots
from sim._tune._stats import (
    PolicyStats,
    pareto_front,
    recommend,
    summarize,
    wilson_interval,
    worst_case,
)
from sim._tune._sweep import (
    DASK_CONNECT_TIMEOUT,
    ExecutorError,
    Sweep,
    dask_address,
    evaluate_chunk,
    run_sweep,
)

__all__ = [
    "DASK_CONNECT_TIMEOUT",
    "DEFAULT_GRID",
    "GRID_KEYS",
    "RECOMMENDED",
    "ExecutorError",
    "GridError",
    "PolicyStats",
    "Sweep",
    "TuneReport",
    "build_report",
    "dask_address",
    "evaluate_chunk",
    "grid_policy_name",
    "pareto_front",
    "parse_grid",
    "recommend",
    "run_sweep",
    "seconds_text",
    "short_name",
    "summarize",
    "wilson_interval",
    "worst_case",
    "write_outputs",
    "write_plots",
]

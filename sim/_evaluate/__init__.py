"""A fast evaluator of the cleanup controller against timelines, exact to the harness.

The harness runs the real cleanup over real sockets in virtual time; that costs
milliseconds per scenario.  The tuner needs millions of (scenario, policy) evaluations,
so this package computes the same outcome, attempt count and completion time from the
timeline alone.  It can be exact because in the harness virtual time passes *only*
through backoff sleeps and timeouts, and both are determined by the cleanup's own code:

* the backoff sleeps are drawn by ``cleanup``'s schedule from the jitter stream of
  :func:`jitter_rng` (the harness hands the same stream to ``run_cleanup``);
* an attempt is ``RepoClient.fetch_lists``: resolve the repo name with the stub
  resolver (Go's rules, ``cleanup.dnsrules.simulate_lookup``: search list first because the name
  has fewer than ``ndots`` dots, A and AAAA per candidate concurrently, ``attempts``
  tries each, errors folded in completion order with the name as given's winning),
  dial, GET the previous list, then the current one over the kept-alive connection;
  each GET has one deadline, Go's ``Client.Timeout`` (30 s), over its lookup, dial and
  response.  Against a timeline the only things that take time are dropped DNS queries
  (each try waits its ``timeout``) and requests the repo never answers (``hang``: until
  what is left of the request's deadline); ECONNREFUSED, SERVFAIL, NXDOMAIN, answers,
  refused connections and HTTP replies are immediate.

One idea per module:

* ``_model`` - the reference, :func:`evaluate`.  It drives ``cleanup.retry`` itself (the
  real loop, schedule, predicate and deadline rule) with a tiny virtual clock and an
  operation that walks the resolver's candidates and the HTTP exchange against the
  timeline, charging timeouts the way the harness clock does.  Slow (tens of
  microseconds per attempt) but follows the cleanup code step by step.
* ``_compile`` - worlds (:func:`compile_worlds`, :func:`compile_timelines`) as segments
  of constant state, each with the class of an attempt made inside it.
* ``_schedule`` - the sleeps of every row at once, bit for bit (:func:`sleep_matrix`).
* ``_batch`` - :func:`evaluate_batch`, numpy over many worlds at once for one policy:
  attempt start times are the cumulative sum of the sleeps, each attempt's class is a
  lookup, the first terminal one ends the run.  Attempts that land where a DNS query
  would be dropped (or a request hang) shift every later attempt by the timeouts; those
  worlds are stepped attempt by attempt instead, the slow attempts replayed (still
  vectorised) from their actual start times.

Tests hold the paths to each other and to the harness.

Counting conventions, the harness's: ``dns_queries`` are the queries the DNS server saw
(per try one A and one AAAA, dropped ones included; none while the DNS Service has no
backend, since the kernel refuses them before they reach it); ``http_requests`` are the
requests the repo server saw (a refused connection reaches no server and is not counted).
"""

from sim._evaluate._batch import (
    GIVE_UP_REASONS,
    OUTCOMES,
    SUCCESS,
    BatchResult,
    ResultArrays,
    draws_needed,
    evaluate_batch,
)
from sim._evaluate._compile import (
    Worlds,
    compile_timelines,
    compile_worlds,
    evaluate_row,
    generate,
)
from sim._evaluate._model import ControllerModel, Evaluation, evaluate
from sim._evaluate._schedule import jitter_draws, jitter_rng, schedule_shape, sleep_matrix

__all__ = [
    "GIVE_UP_REASONS",
    "OUTCOMES",
    "SUCCESS",
    "BatchResult",
    "ControllerModel",
    "Evaluation",
    "ResultArrays",
    "Worlds",
    "compile_timelines",
    "compile_worlds",
    "draws_needed",
    "evaluate",
    "evaluate_batch",
    "evaluate_row",
    "generate",
    "jitter_draws",
    "jitter_rng",
    "schedule_shape",
    "sleep_matrix",
]

"""sim: a simpy world model and a virtual-time harness for the real cleanup module.

A world is a :class:`Timeline` (DNS state per name and HTTP state per path, as
:class:`Interval` runs, plus :class:`Event` lines) drawn from a :class:`Scenario`
(:func:`load_scenario`) for a seed (:func:`generate_timeline`).  :class:`Harness` runs
the real cleanup in it on a :class:`SimClock`; :func:`evaluate` computes the same
outcome without sockets; :func:`run_sweep` evaluates many policies over many worlds
(``sim tune``).  Every clock a world runs on is a :class:`WorldClock`.

Hypothesis strategies for worlds, scenarios and policies live in the public submodule
``sim.strategies`` (not imported here, so ``import sim`` does not load hypothesis).
"""

import retrylab_entry  # noqa: F401  (first: Ctrl-C under python -m; see that module)
from sim._clock import (
    Barrier,
    Peer,
    PeerError,
    ScaledClock,
    SimClock,
    SimDeadlock,
    SocketlessClock,
    WorldClock,
)
from sim._dist import Distribution, ScenarioError
from sim._dns import dns_rules
from sim._evaluate import ControllerModel, Evaluation, evaluate
from sim._harness import CleanupFn, Harness, ScenarioResult
from sim._mutants import MUTANTS, Mutant, MutantRun, run_mutants
from sim._repo_server import HTTPRecord, RepoServer
from sim._report import AttemptRow, attempt_rows, story
from sim._scenario import ClientSettings, DNSDown, ImageSet, Scenario, Upstream, load_scenario
from sim._store import FaultyStore, RemovalFault, StoreFaults, WriterChange
from sim._timeline import (
    DNSState,
    Event,
    HTTPState,
    Interval,
    MediaState,
    ServedState,
    Timeline,
    as_http_state,
    media_state,
)
from sim._tune import (
    ExecutorError,
    GridError,
    Sweep,
    pareto_front,
    parse_grid,
    run_sweep,
    wilson_interval,
)
from sim._world import generate_timeline

__all__: list[str] = [
    "MUTANTS",
    "AttemptRow",
    "Barrier",
    "CleanupFn",
    "ClientSettings",
    "ControllerModel",
    "DNSDown",
    "DNSState",
    "Distribution",
    "Evaluation",
    "Event",
    "ExecutorError",
    "FaultyStore",
    "GridError",
    "HTTPRecord",
    "HTTPState",
    "Harness",
    "ImageSet",
    "Interval",
    "MediaState",
    "Mutant",
    "MutantRun",
    "Peer",
    "PeerError",
    "RemovalFault",
    "RepoServer",
    "ScaledClock",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "ServedState",
    "SimClock",
    "SimDeadlock",
    "SocketlessClock",
    "StoreFaults",
    "Sweep",
    "Timeline",
    "Upstream",
    "WorldClock",
    "WriterChange",
    "as_http_state",
    "attempt_rows",
    "dns_rules",
    "evaluate",
    "generate_timeline",
    "load_scenario",
    "media_state",
    "pareto_front",
    "parse_grid",
    "run_mutants",
    "run_sweep",
    "story",
    "wilson_interval",
]

"""sim: a simpy world model and a virtual-time harness for the real cleanup module.

Hypothesis strategies for worlds, scenarios and policies live in the public submodule
``sim.strategies`` (not imported here, so ``import sim`` does not load hypothesis).
"""

import retrylab_entry  # noqa: F401  (first: Ctrl-C under python -m; see that module)
from sim._clock import Peer, PeerError, SimClock, SimDeadlock
from sim._dns import dns_rules
from sim._evaluate import ControllerModel, Evaluation, evaluate
from sim._harness import CleanupFn, Harness, ScenarioResult
from sim._mutants import MUTANTS, Mutant, run_mutants
from sim._repo_server import HTTPRecord, RepoServer
from sim._report import AttemptRow, attempt_rows, story
from sim._scenario import ClientSettings, ImageSet
from sim._tune import pareto_front, parse_grid, run_sweep, wilson_interval

__all__: list[str] = [
    "MUTANTS",
    "AttemptRow",
    "CleanupFn",
    "ClientSettings",
    "ControllerModel",
    "Evaluation",
    "HTTPRecord",
    "Harness",
    "ImageSet",
    "Mutant",
    "Peer",
    "PeerError",
    "RepoServer",
    "ScenarioResult",
    "SimClock",
    "SimDeadlock",
    "attempt_rows",
    "dns_rules",
    "evaluate",
    "pareto_front",
    "parse_grid",
    "run_mutants",
    "run_sweep",
    "story",
    "wilson_interval",
]

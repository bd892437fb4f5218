"""sim: a simpy world model and a virtual-time harness for the real cleanup module."""

from sim._clock import Peer, PeerError, SimClock, SimDeadlock
from sim._dns import dns_rules
from sim._evaluate import ControllerModel, Evaluation, evaluate
from sim._harness import CleanupFn, Harness, ScenarioResult
from sim._repo_server import HTTPRecord, RepoServer
from sim._report import AttemptRow, attempt_rows, story
from sim._scenario import ClientSettings, ImageSet
from sim._tune import pareto_front, parse_grid, run_sweep, wilson_interval

__all__: list[str] = [
    "AttemptRow",
    "CleanupFn",
    "ClientSettings",
    "ControllerModel",
    "Evaluation",
    "HTTPRecord",
    "Harness",
    "ImageSet",
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
    "run_sweep",
    "story",
    "wilson_interval",
]

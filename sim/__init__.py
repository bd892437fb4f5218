"""sim: a simpy world model and a virtual-time harness for the real cleanup module."""

from sim._clock import Peer, PeerError, SimClock, SimDeadlock
from sim._dns import dns_rules
from sim._harness import CleanupFn, Harness, ScenarioResult
from sim._repo_server import HTTPRecord, RepoServer
from sim._report import AttemptRow, attempt_rows, story
from sim._scenario import ClientSettings, ImageSet

__all__: list[str] = [
    "AttemptRow",
    "CleanupFn",
    "ClientSettings",
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
    "story",
]

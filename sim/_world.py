"""The world at the end of an upgrade, as simpy processes.

Order of events (reference: ``shared/reference/harvester-image-cleanup.md``), t = 0 at
the node reboot:

    node boots -> CoreDNS pod starts (before: the cluster DNS Service has no ready
                  backend and every query gets ECONNREFUSED, or its IP is not routed yet
                  and every query times out: ``world.dns_down``)
               -> CoreDNS syncs Services (before: the repo name is NXDOMAIN)
               -> [the cache plugin keeps serving that NXDOMAIN a while longer]
               -> [optional flap: the repo name is NXDOMAIN again for a while]

CoreDNS answers names in cluster.local itself (every search-list candidate but the repo
Service's is NXDOMAIN) and forwards the rest upstream (``forward . /etc/resolv.conf``):
the name as given, ``upgrade-repo-x.harvester-system``, which Go tries last with
``ndots:5`` and whose error it reports.  It gets the upstream's answer
(``world.upstream``: NXDOMAIN when the upstream answers, SERVFAIL when it is
unreachable, as on an air-gapped install, or silence), recorded under its own name.
    node boots -> controller pod restarts, sees UpgradeCompleted, starts the repo VM and
                  the cleanup at once -> VM boots -> endpoints update -> HTTP 200
                  (before: connections to the ClusterIP are refused)

On a multi-node cluster CoreDNS runs on another node, so DNS never goes down.

All random draws are made up front, in a fixed order, from one ``random.Random(seed)``:
the same seed gives the same durations whatever the variant or the policy under test
(common random numbers), and simpy only places them on the time axis.

Why callbacks rather than generator processes: each step of the story is one simpy
``Timeout`` whose callback records the new state and schedules the next step.  A
generator process costs an initialisation event, a resume per step and a termination
event on top of that; the tuner draws tens of thousands of worlds per sweep, so the
cheaper form is worth it (about 3x).  For the same reason :func:`generate_worlds` runs
many seeds in one environment: worlds never interact (each records into its own
:class:`_Recorder` and its own random stream), and simpy keeps each world's events in
the order they were scheduled, so a world comes out the same alone or in a batch.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import math
import random
from collections.abc import Callable, Iterable, Iterator

import simpy

from sim._scenario import DURATION_KEYS, Scenario
from sim._timeline import (
    OTHER_NAMES,
    DNSState,
    Event,
    HTTPState,
    Interval,
    Timeline,
    as_dns_state,
    as_http_state,
    intervals_from,
)

__all__ = ["WorldRecord", "generate_timeline", "generate_timelines", "generate_worlds"]

#: how many worlds share one simpy environment (a larger heap costs more per event)
_BATCH = 128


class _Recorder:
    """Collects state changes as they happen in the simulation and closes intervals.

    ``log`` is every ``set`` in the order it happened (simpy runs events in time order,
    so it is sorted by time); intervals are derived from it when a timeline is built.
    ``events=False`` skips the human-readable event log (the tuner never reads it).
    """

    __slots__ = ("cleanup_start", "env", "events", "keep_events", "log", "seed")

    def __init__(self, env: simpy.Environment, seed: int, *, events: bool = True) -> None:
        self.env = env
        self.seed = seed
        self.log: list[tuple[float, str, str, str]] = []
        self.events: list[Event] = []
        self.keep_events = events
        self.cleanup_start = math.inf

    def set(self, kind: str, key: str, state: str) -> None:
        self.log.append((float(self.env.now), kind, key, state))

    def event(self, what: str) -> None:
        if self.keep_events:
            self.events.append(Event(float(self.env.now), what))

    def changes(self) -> dict[tuple[str, str], list[tuple[float, str]]]:
        """Each signal's changes: repeats dropped, a later state at the same instant
        supersedes the earlier one."""
        out: dict[tuple[str, str], list[tuple[float, str]]] = {}
        for now, kind, key, state in self.log:
            changes = out.setdefault((kind, key), [])
            if changes:
                if changes[-1][1] == state:
                    continue
                if changes[-1][0] == now:
                    changes.pop()  # superseded at the same instant
                    if changes and changes[-1][1] == state:
                        continue
            changes.append((now, state))
        return out

    def intervals(self, kind: str) -> dict[str, tuple[Interval, ...]]:
        """Each ``kind`` (``dns``/``http``) signal's intervals, states as logged."""
        out: dict[str, tuple[Interval, ...]] = {}
        for (k, key), changes in self.changes().items():
            if k != kind:
                continue
            out[key] = intervals_from(changes)
        return out

    def dns_intervals(self) -> dict[str, tuple[Interval[DNSState], ...]]:
        """The DNS signals' intervals, each state checked to be a :data:`DNSState`."""
        return {
            key: tuple(Interval(iv.start, iv.end, as_dns_state(iv.state)) for iv in ivs)
            for key, ivs in self.intervals("dns").items()
        }

    def http_intervals(self) -> dict[str, tuple[Interval[HTTPState], ...]]:
        """The HTTP signals' intervals, each state checked to be an :data:`HTTPState`."""
        return {
            key: tuple(Interval(iv.start, iv.end, as_http_state(iv.state)) for iv in ivs)
            for key, ivs in self.intervals("http").items()
        }


#: what :func:`generate_worlds` returns per seed: the seed, the cleanup start and the
#: log of state changes ``(time, "dns"|"http", name|path, state)`` in the order they
#: happened (by time; at one instant the last word for a signal counts)
WorldRecord = tuple[int, float, list[tuple[float, str, str, str]]]


class _World:
    """One world's story on a shared environment: each step is a Timeout callback.

    A class rather than nested closures: closures that name each other form reference
    cycles, and thousands of those per sweep cost more in garbage collection than the
    whole simulation.
    """

    def __init__(self, env: simpy.Environment, scenario: Scenario, rec: _Recorder) -> None:
        self.env = env
        self.scenario = scenario
        self.rec = rec
        rng = random.Random(rec.seed)
        self.draw = {key: scenario.durations[key].sample(rng) for key in DURATION_KEYS}
        self.flaps = rng.random() < scenario.flap_probability
        self.flap_delay = scenario.flap_delay.sample(rng)
        self.flap_length = scenario.flap_length.sample(rng)
        # drawn last, so the draws above stay the same with or without a cache
        cache = scenario.negative_cache
        self.negative_cache = cache.sample(rng) if cache is not None else 0.0
        self.as_given = scenario.repo_service.rstrip(".").lower()
        self.repo = scenario.repo_host
        self.paths = (
            scenario.list_path(scenario.previous_version),
            scenario.list_path("current"),
        )
        self.single = scenario.topology == "single-node"

    def after(self, delay: float, step: Callable[[simpy.Event], None]) -> None:
        """Run ``step`` ``delay`` seconds from now (one simpy Timeout)."""
        self.env.timeout(delay).callbacks.append(step)

    # -- t = 0: the node reboots ------------------------------------------------------------
    def start(self) -> None:
        rec = self.rec
        rec.event("node reboots")
        if self.single:
            down = self.scenario.dns_down_state
            for key in (self.repo, OTHER_NAMES, self.as_given):
                rec.set("dns", key, down)
        else:
            rec.set("dns", OTHER_NAMES, "nxdomain")
            rec.set("dns", self.as_given, self.scenario.upstream)
            self.service_synced(None)
        for path in self.paths:
            rec.set("http", path, "refused")
        self.after(self.draw["node_boot"], self.node_up)

    def node_up(self, _event: simpy.Event | None) -> None:
        self.rec.event("node up: kubelet and containerd running")
        if self.single:
            self.after(self.draw["coredns_start"], self.coredns_running)
        self.after(self.draw["controller_start"], self.controller_starts)

    # -- CoreDNS --------------------------------------------------------------------------
    def coredns_running(self, _event: simpy.Event | None) -> None:
        self.rec.set("dns", self.repo, "nxdomain")
        self.rec.set("dns", OTHER_NAMES, "nxdomain")
        self.rec.set("dns", self.as_given, self.scenario.upstream)
        self.rec.event("CoreDNS running; repo Service not synced yet (NXDOMAIN)")
        self.after(self.draw["service_sync"], self.service_synced)

    def service_synced(self, _event: simpy.Event | None) -> None:
        self.rec.event(
            "CoreDNS knows the repo Service" if self.single else "cluster DNS up on another node"
        )
        # The cache plugin keeps serving the repo name's NXDOMAIN until the entry's
        # negative TTL runs out; only a controller that has been asking has cached one.
        asked = self.rec.cleanup_start < self.env.now
        if self.single and asked and self.negative_cache > 0:
            self.rec.event("CoreDNS's cache still answers NXDOMAIN for the repo name")
            self.after(self.negative_cache, self.repo_resolves)
            return
        self.repo_resolves(None)

    def repo_resolves(self, event: simpy.Event | None) -> None:
        if event is not None:  # called back after the negative cache
            self.rec.event("cached NXDOMAIN expired: the repo name resolves")
        self.rec.set("dns", self.repo, "ok")
        if self.flaps:
            self.after(self.flap_delay, self.flap_starts)

    def flap_starts(self, _event: simpy.Event | None) -> None:
        self.rec.set("dns", self.repo, "nxdomain")
        self.rec.event("DNS flap: repo name NXDOMAIN again")
        self.after(self.flap_length, self.flap_ends)

    def flap_ends(self, _event: simpy.Event | None) -> None:
        self.rec.set("dns", self.repo, "ok")
        self.rec.event("DNS flap over")

    # -- controller and repo VM -------------------------------------------------------------
    def controller_starts(self, _event: simpy.Event | None) -> None:
        self.rec.cleanup_start = float(self.env.now)
        self.rec.event("controller sees UpgradeCompleted: starts repo VM and cleanup")
        if not self.scenario.vm_starts:
            self.rec.event("repo VM fails to start")
            return
        self.after(self.draw["vm_boot"], self.vm_ready)

    def vm_ready(self, _event: simpy.Event | None) -> None:
        self.rec.event("repo VM ready")
        self.after(self.draw["endpoint_lag"], self.endpoints_updated)

    def endpoints_updated(self, _event: simpy.Event | None) -> None:
        missing = self.scenario.list_missing
        self.rec.set("http", self.paths[0], "missing" if missing else "ok")
        self.rec.set("http", self.paths[1], "ok")
        self.rec.event("Service endpoints updated: repo reachable")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while worlds are built.

    Building a world allocates many small objects and no reference cycles (see
    :class:`_World`), so the collector would only re-scan live objects again and again:
    a third of the time.  Reference counting still frees everything; the previous
    setting is restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run(scenario: Scenario, seeds: Iterable[int], events: bool) -> Iterator[list[_Recorder]]:
    """Recorders of finished worlds, one batch (one simpy environment) at a time."""
    iterator = iter(seeds)
    while True:
        batch = list(itertools.islice(iterator, _BATCH))
        if not batch:
            return
        with _gc_paused():
            env = simpy.Environment()
            recorders = [_Recorder(env, seed, events=events) for seed in batch]
            for rec in recorders:
                _World(env, scenario, rec).start()
            env.run()
        yield recorders


def _timeline(scenario: Scenario, rec: _Recorder) -> Timeline:
    return Timeline(
        scenario=scenario.name,
        seed=rec.seed,
        cleanup_start=rec.cleanup_start,
        repo_host=scenario.repo_host,
        dns=rec.dns_intervals(),
        http=rec.http_intervals(),
        events=tuple(sorted(rec.events, key=lambda e: e.time)),
    )


def generate_timeline(scenario: Scenario, seed: int) -> Timeline:
    """Run the world model for one seed and return its timeline."""
    return generate_timelines(scenario, (seed,))[0]


def generate_timelines(scenario: Scenario, seeds: Iterable[int]) -> list[Timeline]:
    """Timelines for many seeds, each equal to :func:`generate_timeline`'s for its seed."""
    return [_timeline(scenario, rec) for batch in _run(scenario, seeds, True) for rec in batch]


def generate_worlds(scenario: Scenario, seeds: Iterable[int]) -> Iterator[WorldRecord]:
    """The raw state changes of many worlds, without building :class:`Timeline` objects.

    The tuner's path: the same model and draws as :func:`generate_timeline` (a world's
    intervals are exactly what this log says), minus the event log and the per-interval
    objects it would never read.  Lazy, one batch at a time, so a consumer that compacts
    as it goes never holds a sweep's worth of small objects.
    """
    for batch in _run(scenario, seeds, False):
        for rec in batch:
            yield rec.seed, rec.cleanup_start, rec.log

"""The world at the end of an upgrade, as simpy processes.

Order of events (reference: ``shared/reference/harvester-image-cleanup.md``), t = 0 at
the node reboot:

    node boots -> CoreDNS pod starts (before: cluster DNS refuses or swallows queries)
               -> CoreDNS syncs Services (before: the repo name is NXDOMAIN)
               -> [optional flap: the repo name is NXDOMAIN again for a while]
    node boots -> controller pod restarts, sees UpgradeCompleted, starts the repo VM and
                  the cleanup at once -> VM boots -> endpoints update -> HTTP 200
                  (before: connections to the ClusterIP are refused)

On a multi-node cluster CoreDNS runs on another node, so DNS never goes down.

All random draws are made up front, in a fixed order, from one ``random.Random(seed)``:
the same seed gives the same durations whatever the variant or the policy under test
(common random numbers), and the simpy processes only place them on the time axis.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from typing import Any

import simpy

from sim._scenario import DURATION_KEYS, Scenario
from sim._timeline import OTHER_NAMES, Event, Interval, Timeline

__all__ = ["generate_timeline"]


class _Recorder:
    """Collects state changes as they happen in the simulation and closes intervals."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.changes: dict[tuple[str, str], list[tuple[float, str]]] = {}
        self.events: list[Event] = []
        self.cleanup_start = math.inf

    def set(self, kind: str, key: str, state: str) -> None:
        changes = self.changes.setdefault((kind, key), [])
        if changes and changes[-1][1] == state:
            return
        if changes and changes[-1][0] == self.env.now:
            changes.pop()  # superseded at the same instant
            if changes and changes[-1][1] == state:
                return
        changes.append((float(self.env.now), state))

    def event(self, what: str) -> None:
        self.events.append(Event(float(self.env.now), what))

    def intervals(self, kind: str) -> dict[str, tuple[Interval, ...]]:
        out: dict[str, tuple[Interval, ...]] = {}
        for (k, key), changes in self.changes.items():
            if k != kind:
                continue
            ends = [t for t, _ in changes[1:]] + [math.inf]
            out[key] = tuple(
                Interval(start, end, state)
                for (start, state), end in zip(changes, ends, strict=True)
            )
        return out


def generate_timeline(scenario: Scenario, seed: int) -> Timeline:
    """Run the world model for one seed and return its timeline."""
    rng = random.Random(seed)
    draw = {key: scenario.durations[key].sample(rng) for key in DURATION_KEYS}
    flaps = rng.random() < scenario.flap_probability
    flap_delay = scenario.flap_delay.sample(rng)
    flap_length = scenario.flap_length.sample(rng)

    env = simpy.Environment()
    rec = _Recorder(env)
    node_up = env.event()
    repo = scenario.repo_host
    paths = [scenario.list_path(scenario.previous_version), scenario.list_path("current")]
    single = scenario.topology == "single-node"

    def node() -> Generator[simpy.Event, Any, None]:
        rec.event("node reboots")
        yield env.timeout(draw["node_boot"])
        rec.event("node up: kubelet and containerd running")
        node_up.succeed()

    def coredns() -> Generator[simpy.Event, Any, None]:
        if single:
            rec.set("dns", repo, scenario.dns_down)
            rec.set("dns", OTHER_NAMES, scenario.dns_down)
            yield node_up
            yield env.timeout(draw["coredns_start"])
            rec.set("dns", repo, "nxdomain")
            rec.set("dns", OTHER_NAMES, "nxdomain")
            rec.event("CoreDNS running; repo Service not synced yet (NXDOMAIN)")
            yield env.timeout(draw["service_sync"])
        else:
            rec.set("dns", OTHER_NAMES, "nxdomain")
        rec.set("dns", repo, "ok")
        rec.event("CoreDNS knows the repo Service" if single else "cluster DNS up on another node")
        if flaps:
            yield env.timeout(flap_delay)
            rec.set("dns", repo, "nxdomain")
            rec.event("DNS flap: repo name NXDOMAIN again")
            yield env.timeout(flap_length)
            rec.set("dns", repo, "ok")
            rec.event("DNS flap over")

    def controller() -> Generator[simpy.Event, Any, None]:
        for path in paths:
            rec.set("http", path, "refused")
        yield node_up
        yield env.timeout(draw["controller_start"])
        rec.cleanup_start = float(env.now)
        rec.event("controller sees UpgradeCompleted: starts repo VM and cleanup")
        env.process(repo_vm())

    def repo_vm() -> Generator[simpy.Event, Any, None]:
        if not scenario.vm_starts:
            rec.event("repo VM fails to start")
            return
        yield env.timeout(draw["vm_boot"])
        rec.event("repo VM ready")
        yield env.timeout(draw["endpoint_lag"])
        rec.set("http", paths[0], "missing" if scenario.list_missing else "ok")
        rec.set("http", paths[1], "ok")
        rec.event("Service endpoints updated: repo reachable")

    env.process(node())
    env.process(coredns())
    env.process(controller())
    env.run()
    return Timeline(
        scenario=scenario.name,
        seed=seed,
        cleanup_start=rec.cleanup_start,
        repo_host=repo,
        dns=rec.intervals("dns"),
        http=rec.intervals("http"),
        events=tuple(sorted(rec.events, key=lambda e: e.time)),
    )

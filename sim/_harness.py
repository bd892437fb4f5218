"""The harness: the real cleanup, over real sockets, against a timeline, in virtual time.

One :class:`Harness` owns a faultdns server and a fake repo server, both on loopback,
both started once and reset between runs, so a run costs milliseconds.  A run:

1. resets the :class:`~sim.SimClock` to t = 0 (the node reboot) and the servers to the
   timeline: the DNS states become fault rules (``sim._dns``), the repo answers per path
   and a simpy process opens and closes its port when the Service gains or loses its
   endpoints, and puts the timeline's events in the trace as they happen;
2. runs the world up to ``cleanup_start``;
3. calls the real ``cleanup.run_cleanup`` (or a compatible function given as
   ``cleanup_fn``: how mutants are injected) with the real ``StubResolver`` built by
   ``StubResolver.from_resolv_conf`` from the pod's resolv.conf
   (``ClientSettings.resolv_conf``: ``nameserver 10.53.0.10``, the search list,
   ``options ndots:N`` and the timeout and attempts), dialled at faultdns
   (:func:`dial_in_place`), the real
   httpx client from ``cleanup.make_http_client``, the real ``RepoClient`` and a
   ``MemoryStore`` (wrapped in a ``sim._store.FaultyStore`` when the scenario's
   ``store_faults`` say the store fails or changes under the run), all on the
   SimClock; the repo URL names the repo Service, or the scenario's IP literal
   (``Scenario.repo_literal``: ``127.0.0.1`` and ``[::ffff:127.0.0.1]`` reach the
   repo server, ``[::1]`` a second one on IPv6 loopback, started when first needed);
4. returns a :class:`ScenarioResult`: the report, the outcome, the trace.

Everything runs in the calling thread: the cleanup, and both servers, which are pumped
from the clock's socket waits (the repo server directly, faultdns by turning the asyncio
loop it serves in, see ``sim._dns.DNSPeer``).  See ``sim._clock`` for why nothing
depends on real timing.
"""

from __future__ import annotations

import math
import random
import shutil
import ssl
import tempfile
import threading
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import simpy

import cleanup
import cleanup.events
import faultdns
from cleanup import CleanupReport, MemoryStore, Policy, RepoClient, StubResolver
from sim._clock import SimClock, exact_delay
from sim._dns import REPO_ADDRESS, DNSPeer, dns_rules, make_dns_server, refusal_changes
from sim._loopback import one_cpu
from sim._repo_server import ODD_STATES, HTTPRecord, RepoServer, service_accepting
from sim._scenario import CLUSTER_DNS, REPO_LITERALS, Scenario, load_scenario
from sim._store import FaultyStore, WriterChange
from sim._timeline import DNS_STATES, HTTPState, Timeline, list_version
from sim._trace import Trace, digest, to_lines
from sim._world import generate_timeline

__all__ = ["CleanupFn", "Harness", "ScenarioResult", "dial_in_place", "repo_service_name"]

#: the controller pod's host name (a pod name: no dot, so no default search domain)
POD_HOSTNAME = "harvester-upgrade-cleanup"

#: ``cleanup.run_cleanup``'s signature: how a modified cleanup is plugged in.
CleanupFn = Callable[..., CleanupReport]


@dataclass(frozen=True)
class ScenarioResult:
    """One run of the real cleanup against one timeline."""

    timeline: Timeline
    policy: Policy
    seed: int
    report: CleanupReport
    trace: tuple[dict[str, Any], ...]
    #: virtual seconds since the reboot when the cleanup returned
    completion_time: float
    dns_queries: int
    http_requests: int
    #: what the node's image store holds after the run (read back from the store, so a
    #: cleanup that deletes without reporting it is still caught)
    node_images: tuple[str, ...] = ()
    #: what a concurrent writer did to the store during the run (``Scenario.store_faults``)
    store_changes: tuple[WriterChange, ...] = ()

    @property
    def outcome(self) -> str:
        return self.report.outcome

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def attempts(self) -> int:
        return len(self.report.attempts)

    @property
    def elapsed(self) -> float:
        """Virtual seconds the cleanup ran (from ``cleanup_start``)."""
        return self.completion_time - self.timeline.cleanup_start

    @property
    def deleted(self) -> list[str]:
        return list(self.report.deleted)

    def trace_lines(self) -> str:
        """The trace as JSON lines (the byte-exact form compared for determinism)."""
        return to_lines(list(self.trace))

    def trace_digest(self) -> str:
        return digest(list(self.trace))


def dial_in_place(resolver: StubResolver, targets: Mapping[str, tuple[str, int]]) -> None:
    """Send the queries for each server ``resolver`` read from resolv.conf (its
    ``HOST:53`` as Go prints it, a key of ``targets``) to the ``(ip, port)`` a test
    server listens on instead: resolv.conf has no port, and port 53 needs privilege.
    The resolver's own reading is untouched (a server it should not have read is left
    as read, so its queries go astray and show); only the dial changes, as the Go
    oracle's ``-dnsmap`` hook does (``sim._fidelity``, unprivileged mode).  The
    resolver's events then name the test server's address."""
    resolver.servers = [
        targets.get(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}", (ip, port))
        for ip, port in resolver.servers
    ]


def repo_service_name(timeline: Timeline) -> str:
    """``timeline.repo_service`` (the rule lives on :class:`~sim._timeline.Timeline`)."""
    return timeline.repo_service


#: what the repo server plays (sim._repo_server), the world model's states first: every
#: word of ``sim._timeline.HTTP_STATES`` and the media states of ``MEDIA_TYPES``
SERVED_HTTP_STATES: tuple[HTTPState, ...] = ("refused", "missing", "ok", "hang", *ODD_STATES)


def check_states(timeline: Timeline) -> None:
    """Refuse a timeline whose states the servers cannot play (rather than guess):
    unknown DNS states, and ``conn-refused`` for some names but not all (it is the
    server's state, see ``sim._dns``).  Its HTTP states need no check here: a
    :class:`~sim._timeline.Timeline` holds only states of
    :data:`~sim._timeline.HTTPState`, every one of which the repo server plays."""
    for key, intervals in timeline.dns.items():
        for iv in intervals:
            if iv.state not in DNS_STATES:
                raise ValueError(
                    f"timeline dns[{key!r}] at {iv.start:g}s: unknown state "
                    f"{iv.state!r} (expected one of {', '.join(DNS_STATES)})"
                )
    refusal_changes(timeline)


def _list_body(images: tuple[str, ...]) -> bytes:
    return ("\n".join(images) + "\n").encode()


def _service_changes(timeline: Timeline) -> list[tuple[float, bool]]:
    """When the repo Service gains (True) or loses (False) its endpoints."""
    times = sorted({iv.start for ivs in timeline.http.values() for iv in ivs})
    changes: list[tuple[float, bool]] = []
    for t in times:
        states = {path: timeline.http_state(path, t) for path in timeline.http}
        accepting = service_accepting(states)
        if not changes or changes[-1][1] != accepting:
            changes.append((t, accepting))
    return changes


class Harness:
    """Servers for simulated runs; use as a context manager, one run at a time.

    ``run(scenario, seed, policy)`` draws the scenario's timeline for ``seed`` and runs
    it; ``run_timeline(timeline, policy, seed=...)`` runs a given timeline (the property
    tests build and shrink timelines themselves).  ``policy`` is a ``cleanup.Policy`` or
    a preset name; ``cleanup_fn`` replaces ``cleanup.run_cleanup`` (same signature).
    """

    def __init__(self, scenario: Scenario | str = "single-node") -> None:
        self.default_scenario = (
            scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        )
        self.clock = SimClock()
        self._dns: faultdns.FaultDNSServer | None = None
        self._dns_peer: DNSPeer | None = None
        self._repo: RepoServer | None = None
        self._repo6: RepoServer | None = None  # on ::1, for an ``[::1]`` repo URL
        self._tmp: Path | None = None
        self._lock = threading.Lock()
        self._hosts: set[str] = set()
        self._tls: ssl.SSLContext | None = None  # loading CA certificates costs ~15 ms
        self.runs = 0

    # -- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> Harness:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> Harness:
        if self._dns is not None:
            return self
        host = self.default_scenario.repo_host
        self._dns = make_dns_server(host, self.clock)
        self._dns_peer = DNSPeer(self._dns).start()
        self.clock.call_listener = self._dns_peer.call_listener
        self._hosts.add(host)
        self._repo = RepoServer()
        shm = Path("/dev/shm")
        self._tmp = Path(tempfile.mkdtemp(prefix="sim-", dir=shm if shm.is_dir() else None))
        self.clock.add_peer(self._repo)
        self.clock.add_peer(self._dns_peer)
        return self

    def close(self) -> None:
        if self._repo is not None:
            self.clock.remove_peer(self._repo)
            self._repo.close()
            self._repo = None
        if self._repo6 is not None:
            self.clock.remove_peer(self._repo6)
            self._repo6.close()
            self._repo6 = None
        if self._dns_peer is not None:
            self.clock.remove_peer(self._dns_peer)
            self._dns_peer.stop()
            self._dns_peer = None
        self._dns = None
        self.clock.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    @property
    def dns_address(self) -> tuple[str, int]:
        self.start()
        assert self._dns is not None
        return self._dns.address

    @property
    def repo_address(self) -> tuple[str, int]:
        self.start()
        assert self._repo is not None
        return self._repo.address

    def _repo_server(self, literal: str | None) -> RepoServer:
        """The repo server a world's URL reaches: the IPv4 one (by name, ``127.0.0.1``,
        ``[::ffff:127.0.0.1]``), or one on ``::1`` (started the first time an ``[::1]``
        world runs).  ValueError for a literal the harness does not serve."""
        assert self._repo is not None
        if literal is None or literal in ("127.0.0.1", "[::ffff:127.0.0.1]"):
            return self._repo
        if literal != "[::1]":
            raise ValueError(
                f"repo_literal {literal!r}: the harness's repo server answers on "
                f"{', '.join(REPO_LITERALS)} only"
            )
        if self._repo6 is None:
            self._repo6 = RepoServer("::1")
            self.clock.add_peer(self._repo6)
        return self._repo6

    # -- runs -------------------------------------------------------------------------

    def run(
        self,
        scenario: Scenario | str,
        seed: int,
        policy: Policy | str,
        *,
        cleanup_fn: CleanupFn | None = None,
    ) -> ScenarioResult:
        """Draw ``scenario``'s world for ``seed`` and run the cleanup in it."""
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        timeline = generate_timeline(scenario, seed)
        return self.run_timeline(
            timeline, policy, seed=seed, scenario=scenario, cleanup_fn=cleanup_fn
        )

    def run_timeline(
        self,
        timeline: Timeline,
        policy: Policy | str,
        *,
        seed: int = 0,
        scenario: Scenario | None = None,
        cleanup_fn: CleanupFn | None = None,
        wake_late: float = 0.0,
    ) -> ScenarioResult:
        """Run the cleanup against ``timeline``; images and client settings come from
        ``scenario`` (default: the harness's scenario).

        ``seed`` seeds separate streams: the retry jitter is drawn from
        ``random.Random(f"{seed}/retry")`` (a contract: the tuner's evaluator draws the
        same sleeps) and the resolver's query IDs from ``Random(f"{seed}/dns-ids")``, so
        the sleeps never depend on how many queries a run sent.  ``wake_late``
        (seconds, default 0) makes the node busy: each timer of the run (a sleep, a
        socket wait's timeout) fires up to that much late, each lateness drawn from
        ``Random(f"{seed}/wake-late")`` (:meth:`SimClock.set_wake_late`); the
        vectorised evaluator does not model it (its worlds keep timers on time)."""
        if isinstance(policy, str):
            policy = cleanup.get_policy(policy)
        setup = scenario if scenario is not None else self.default_scenario
        with self._lock, one_cpu():
            # one CPU for the run: a loopback barrier is then one marker (sim._loopback)
            self.start()
            return self._run(
                timeline, policy, seed, setup, cleanup_fn or cleanup.run_cleanup, wake_late
            )

    def _run(
        self,
        timeline: Timeline,
        policy: Policy,
        seed: int,
        setup: Scenario,
        cleanup_fn: CleanupFn,
        wake_late: float = 0.0,
    ) -> ScenarioResult:
        dns, peer, clock = self._dns, self._dns_peer, self.clock
        assert dns is not None and peer is not None and self._tmp
        repo = self._repo_server(setup.repo_literal)
        for other in (self._repo, self._repo6):
            if other is not None and other is not repo:
                other.set_accepting(False)  # the last world's, if it was this one
        check_states(timeline)
        service = timeline.repo_service
        previous, current = timeline.previous_version, "current"
        host = timeline.repo_host.rstrip(".").lower()
        if host not in self._hosts:
            dns.add_record(f"{host}={REPO_ADDRESS}")
            self._hosts.add(host)
        trace = Trace({dns.address[1]: "dns", repo.port: "repo"})

        # a new world at t = 0 (the last run's packets landed and were handled first:
        # nothing of one run may reach the next)
        clock.sync()
        clock.reset()
        dns.reset()
        peer.restart()
        for rule in dns_rules(timeline):
            dns.add_fault(rule)

        def on_query(record: faultdns.QueryRecord) -> None:
            trace.add(
                record.time,
                "dns",
                name=record.name,
                qtype=record.qtype,
                transport=record.transport,
                rule=record.rule,
                rcode=record.rcode,
            )

        def on_request(record: HTTPRecord) -> None:
            trace.add(record.time, "http", method=record.method, path=record.path,
                      result=record.result)  # fmt: skip

        peer.on_record = on_query
        bodies = {
            timeline_path: _list_body(
                setup.images.current if version == "current" else setup.images.previous
            )
            for timeline_path, version in ((p, list_version(p)) for p in timeline.http)
        }
        repo.configure(
            lambda path, now: timeline.http_state(path, now) if path in timeline.http
            else "missing",
            bodies,
            clock,
            on_request,
        )  # fmt: skip
        clock.env.process(_world(clock.env, timeline, repo, peer, trace))
        clock.advance_to(timeline.cleanup_start)
        # the node's timers from here on: on time, or late on a busy node
        clock.set_wake_late(wake_late, random.Random(f"{seed}/wake-late") if wake_late else None)

        # the cleanup, as the controller runs it
        settings = setup.client
        # the pod's resolv.conf, read by cleanup's own reader (the CLI's path, Go's
        # dnsReadConfig); the cluster DNS IP it names is dialled at faultdns
        resolver = StubResolver.from_resolv_conf(
            settings.resolv_conf(CLUSTER_DNS),
            hostname=POD_HOSTNAME,
            clock=clock,
            rng=random.Random(f"{seed}/dns-ids"),
            hosts=None,  # the world has no hosts file: the machine's must not answer
        )
        dial_in_place(resolver, {f"{CLUSTER_DNS}:53": (dns.address[0], dns.address[1])})
        if self._tls is None:
            self._tls = ssl.create_default_context()
        client = cleanup.make_http_client(
            resolver, clock=clock, timeout=settings.http_timeout, verify=self._tls
        )
        url_host = service if setup.repo_literal is None else setup.repo_literal
        repo_client = RepoClient(
            f"http://{url_host}:{repo.port}", client, timeout=settings.http_timeout
        )
        images = setup.images
        store_path = self._tmp / "node.json"
        store = MemoryStore.create(
            store_path,
            images.node_images,
            in_use=images.in_use,
            pinned=images.pinned,
            ids=dict(images.ids),
        )
        run_store: cleanup.ImageStore = store
        faulty: FaultyStore | None = None
        if setup.store_faults:
            for line in setup.store_faults.describe():
                trace.add(clock.now(), "world", what=line)

            def on_change(change: WriterChange) -> None:
                trace.add(clock.now(), "world", what=f"store: {change.describe()}")

            run_store = faulty = FaultyStore(store, setup.store_faults, on_change)

        def on_event(event: object) -> None:
            _trace_event(trace, event, clock.now())

        try:
            report = cleanup_fn(
                repo_client,
                previous_version=previous,
                current_version=current,
                policy=policy,
                store=run_store,
                clock=clock,
                rng=random.Random(f"{seed}/retry"),
                on_event=on_event,
            )
        finally:
            clock.set_wake_late(0.0)
            client.close()
            clock.sync()
            peer.on_record = None
        end = clock.now()
        remaining = tuple(MemoryStore(store_path).images())
        trace.add(end, "end", outcome=report.outcome, attempts=len(report.attempts),
                  deleted=len(report.deleted))  # fmt: skip
        self.runs += 1
        return ScenarioResult(
            timeline=timeline,
            policy=policy,
            seed=seed,
            report=report,
            trace=tuple(trace.sorted()),
            completion_time=end,
            dns_queries=len(peer.records),
            http_requests=len(repo.log),
            node_images=remaining,
            store_changes=tuple(faulty.applied) if faulty is not None else (),
        )


def _world(
    env: simpy.Environment, timeline: Timeline, repo: RepoServer, dns: DNSPeer, trace: Trace
) -> Generator[simpy.Event, Any, None]:
    """The timeline's events, the repo Service's endpoint changes and the cluster DNS
    Service's (refusing every query while it has no ready backend), as they happen."""
    happenings: list[tuple[float, int, str, str, bool]] = [
        (e.time, i, "event", e.what, False) for i, e in enumerate(timeline.events)
    ]
    for t, accepting in _service_changes(timeline):
        happenings.append((t, len(happenings), "repo", "", accepting))
    for t, refusing in refusal_changes(timeline):
        happenings.append((t, len(happenings), "dns", "", refusing))
    # at one instant: state changes before the story's event lines, each in its order
    happenings.sort(key=lambda h: (h[0], h[2] == "event", h[1]))
    for t, _i, kind, what, change in happenings:
        if t == math.inf:
            break
        if t > env.now:
            yield env.timeout(exact_delay(float(env.now), t))
        if kind == "event":
            trace.add(t, "world", what=what)
        elif kind == "repo":
            repo.set_accepting(change)
            what = "repo Service has endpoints" if change else "repo Service has no endpoints"
            trace.add(t, "world", what=what, repo="accepting" if change else "refusing")
        else:
            dns.refuse(change)
            what = (
                "cluster DNS Service has no ready backend: queries refused (ICMP)"
                if change
                else "cluster DNS Service has a backend"
            )
            trace.add(t, "world", what=what, dns="refusing" if change else "serving")


def _trace_event(trace: Trace, event: object, now: float) -> None:
    """The retry loop's and the store's events, as trace entries."""
    if isinstance(event, cleanup.events.AttemptStarted):
        trace.add(now, "attempt", attempt=event.attempt, of=event.of)
    elif isinstance(event, cleanup.events.AttemptFailed):
        trace.add(now, "attempt-failed", attempt=event.attempt, kind=event.kind,
                  retriable=event.retriable, error=trace.scrub(str(event.error)))  # fmt: skip
    elif isinstance(event, cleanup.events.Sleeping):
        trace.add(now, "sleep", attempt=event.attempt, seconds=round(event.seconds, 9),
                  trailing=event.trailing)  # fmt: skip
    elif isinstance(event, cleanup.events.Succeeded):
        trace.add(now, "succeeded", attempt=event.attempt)
    elif isinstance(event, cleanup.events.Abandoned):
        trace.add(now, "gave-up", attempts=event.attempts, reason=event.reason,
                  error=trace.scrub(str(event.error)))  # fmt: skip
    elif isinstance(event, cleanup.events.ImageRemoved):
        trace.add(now, "removed", image=event.image)
    elif isinstance(event, cleanup.events.ImageRemovalFailed):
        trace.add(now, "removal-failed", image=event.image, reason=event.reason)

"""Hypothesis strategies for retrylab's worlds, scenarios and retry policies.

For users who want to test their own retry policy, cleanup variant or client against
randomised outages, the way ``tests/sim/test_properties.py`` tests ours::

    from hypothesis import given, settings
    from sim import Harness
    from sim.strategies import policies, seeds, timelines

    harness = Harness().start()

    @settings(max_examples=30, deadline=None)
    @given(timelines(never_healthy=True), policies(predicates=("v1.5",)), seeds())
    def test_gives_up_cleanly(timeline, policy, seed):
        r = harness.run_timeline(timeline, policy, seed=seed)
        if not r.ok:                               # whatever went wrong,
            assert r.deleted == []                 # nothing was deleted
            assert r.attempts <= policy.backoff.steps

Everything produced is valid for the harness: a :class:`~sim._timeline.Timeline` uses
only the states the servers can play (DNS ``conn-refused | timeout | nxdomain | servfail
| lame | refused | ok``, ``conn-refused`` only for every name at once, ``lame`` and
``refused`` only when asked for: no Harvester predicate retries them; HTTP
``refused | missing | hang | ok``), has the scenario's repo name and list paths, and
starts every signal at t = 0.

Why the shapes are what they are:

* A timeline is built from a few *outages* per signal (a gap, a length, a state), so
  hypothesis shrinks a failing world towards a simple one: fewer outages (the lists
  shrink), shorter ones and earlier health (lengths and gaps shrink towards zero), the
  cleanup starting earlier, and no "never recovers" (a flag shrinking to ``False``).
  A shrunk counterexample reads like a sentence: "the repo name is NXDOMAIN for the
  first 0.1 s, then everything answers".
* Times are on a 0.1 s grid: small integers shrink well and print readably, and the
  harness is exact at interval boundaries, so nothing is lost by the grid.
* The cluster DNS being down (refused or timing out for *every* name, as before
  CoreDNS runs) is drawn separately from per-name outages, because it is the one
  correlated outage the world has and a predicate bug about DNS timeouts only shows
  when every candidate name times out.  ``conn-refused`` (no ready backend) can only be
  that: the server refuses, not one name.  ``cluster_dns_states`` may also be ``lame``
  or ``refused``: CoreDNS running but not ready (its kubernetes plugin not synced)
  answers every name with a lame referral or REFUSED.
* Policies shrink towards the presets, and generated ones stay within sane bounds
  (at most 30 attempts, sleeps of 0.1-30 s) so one example runs in milliseconds.

One module on purpose (~730 lines): it is a public API, ``sim.strategies``, read as one
list of strategies as ``hypothesis.strategies`` is, in three sections (timelines,
scenarios, policies) that share the helpers above them.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from hypothesis import strategies as st

import cleanup
from cleanup import MODES, PREDICATES, PRESETS, Backoff, Mode, Policy, PredicateName
from sim._harness import SERVED_HTTP_STATES
from sim._scenario import (
    BUILTIN_SCENARIOS,
    DURATION_KEYS,
    ClientSettings,
    ImageSet,
    Scenario,
    load_scenario,
    parse_scenario,
)
from sim._store import (
    STORE_READS,
    WRITER_ACTIONS,
    RemovalFailure,
    RemovalFault,
    StoreFaults,
    WriterChange,
)
from sim._timeline import (
    DNS_STATES,
    OTHER_NAMES,
    QTYPE_MARK,
    DNSState,
    HTTPState,
    Interval,
    Timeline,
    intervals_from,
)
from sim._world import generate_timeline

__all__ = [
    "IMAGE_POOL",
    "LOOK_ALIKES",
    "OTHER_CONTENT_MIRROR",
    "REMOVAL_TEXTS",
    "RULE_EDGE_IMAGES",
    "SPELLINGS",
    "STORE_READ_TEXTS",
    "TIME_STEP",
    "backoffs",
    "by_digest",
    "clients",
    "content_id",
    "distributions",
    "durations",
    "image_sets",
    "other_content_copy",
    "policies",
    "respell",
    "same_image_spellings",
    "scenario_dicts",
    "scenarios",
    "seeds",
    "signal",
    "store_faults",
    "timelines",
    "world_timelines",
]

#: resolution of generated times (seconds)
TIME_STEP = 0.1

#: images the image-set strategy draws from: versions of the same names (so "previous"
#: and "current" overlap and differ), every retain substring, a vmdp image, and names
#: pulled through another registry (matched by the short ``name:tag`` only).
IMAGE_POOL: tuple[str, ...] = (
    "docker.io/rancher/harvester:v1.4.1",
    "docker.io/rancher/harvester:v1.5.0",
    "docker.io/rancher/kubectl:v1.30.5",
    "docker.io/rancher/harvester-upgrade:v1.4.1",
    "docker.io/rancher/harvester-upgrade:v1.5.0",
    "docker.io/rancher/harvester-upgrade:v1.3.2",
    "docker.io/longhornio/longhorn-engine:v1.7.2",
    "docker.io/longhornio/longhorn-engine:v1.8.1",
    "docker.io/longhornio/longhorn-engine:v1.6.2",
    "docker.io/longhornio/longhorn-instance-manager:v1.7.2",
    "docker.io/longhornio/longhorn-instance-manager:v1.8.1",
    "docker.io/longhornio/longhorn-manager:v1.7.2",
    "docker.io/rancher/mirrored-banzaicloud-fluentd:v1.14.6",
    "docker.io/rancher/mirrored-fluent-fluent-bit:2.1.8",
    "docker.io/rancher/harvester-webhook:v1.4.1",
    "docker.io/rancher/harvester-webhook:v1.5.0",
    "docker.io/rancher/mirrored-coredns-coredns:1.10.1",
    "docker.io/rancher/mirrored-coredns-coredns:1.12.0",
    "registry.suse.com/suse/vmdp/vmdp:2.5.4",
    "my-registry.local/rancher/harvester:v1.4.1",
    "my-registry.local/rancher/kubectl:v1.30.5",
    "docker.io/library/busybox:1.36.1",
    "docker.io/library/busybox:1.37.0",
)

#: names on both sides of each literal rule of the plan (``spec.deletion``): a last
#: path component next to ``vmdp`` in sort order and by prefix or suffix (``vm``,
#: ``vmd``, ``vmdp2``, ``vmdp-agent``, ``xvmdp``, ``x`` after it), ``vmdp`` as a
#: namespace rather than the name (``suse/vmdp/x``), ``vmdp`` on another registry, and
#: texts next to a retain substring (one character short of it, one more, so containing
#: it, and a second registry's copy of a retained image: the retain rule keeps one entry
#: per substring, the identity rule the other).  Not in :data:`IMAGE_POOL` (the
#: harness's worlds keep their images); draw them with
#: ``image_sets(pool=IMAGE_POOL + RULE_EDGE_IMAGES)``.
RULE_EDGE_IMAGES: tuple[str, ...] = (
    "registry.suse.com/suse/vmdp/vmdp:2.5.5",
    "docker.io/suse/vmdp:2.5.4",
    "registry.suse.com/suse/vmdp/vmdp-agent:2.5.4",
    "registry.suse.com/suse/vmdp/x:2.5.4",
    "docker.io/rancher/vmdp2:v1.0.0",
    "docker.io/rancher/xvmdp:v1.0.0",
    "docker.io/rancher/vmd:v1.0.0",
    "docker.io/rancher/vm:v1.0.0",
    "docker.io/rancher/harvester-upgrad:v1.4.1",
    "docker.io/rancher/harvester-upgrader:v1.4.1",
    "my-registry.local/rancher/harvester-upgrade:v1.4.1",
    "docker.io/longhornio/longhorn-engine-x:v1.7.2",
)

#: How a list or a node may spell a Docker Hub image's repository (``path`` is the
#: ``docker.io`` path, ``rancher/harvester`` or ``library/busybox``): the forms
#: github.com/distribution/reference's ``splitDockerDomain`` treats specially, each next
#: to its look-alike (:data:`LOOK_ALIKES`).  The first component is a registry host
#: only if it contains ``.`` or ``:``, is ``localhost``, or has upper case; otherwise it
#: is a Docker Hub user, ``index.docker.io`` is ``docker.io``, and a one-component Hub
#: name gets ``library/``, with or without the Hub's domain written (``busybox``,
#: ``docker.io/busybox`` and ``index.docker.io/busybox`` are ``docker.io/library/busybox``).
SPELLINGS: dict[str, Callable[[str], str]] = {
    "docker.io": lambda path: f"docker.io/{path}",
    "no domain": lambda path: path,  # docker.io implied
    "familiar": lambda path: path.removeprefix("library/"),  # docker.io/library implied
    "index.docker.io": lambda path: f"index.docker.io/{path}",  # legacy Hub domain
    # the Hub's domain before a one-component name: library/ is added after the domain
    # is split off (docker.io/busybox is docker.io/library/busybox), either domain
    "Hub official": lambda path: f"docker.io/{path.removeprefix('library/')}",
    "legacy Hub official": lambda path: f"index.docker.io/{path.removeprefix('library/')}",
    "localhost": lambda path: f"localhost/{path}",  # a registry, always
    "hub user localhost": lambda path: f"docker.io/localhost/{path}",  # a Hub user
    "localhost port": lambda path: f"localhost:5000/{path}",
    "dotted host": lambda path: path.replace("/", ".io/", 1),  # rancher.io/harvester
    "upper-case host": lambda path: f"Mirror/{path}",  # upper case: a host
    "IPv4 registry": lambda path: f"10.0.0.1:5000/{path}",
    "IPv6 registry": lambda path: f"[::1]:5000/{path}",
}
#: each spelling's look-alike: the other spelling a reader (or a wrong normaliser) takes
#: for the same repository
LOOK_ALIKES = {
    "docker.io": "no domain",
    "no domain": "dotted host",
    "familiar": "docker.io",
    "index.docker.io": "hub user localhost",
    "Hub official": "docker.io",
    "legacy Hub official": "familiar",
    "localhost": "hub user localhost",
    "hub user localhost": "localhost",
    "localhost port": "localhost",
    "dotted host": "no domain",
    "upper-case host": "no domain",
    "IPv4 registry": "localhost port",
    "IPv6 registry": "IPv4 registry",
}


def respell(image: str, spelling: str) -> str:
    """``image`` (a ``docker.io/...`` reference of :data:`IMAGE_POOL`) in ``spelling``
    (:data:`SPELLINGS`); images of other registries are returned as they are."""
    if not image.startswith("docker.io/"):
        return image
    rest = image.removeprefix("docker.io/")
    slash = rest.rfind("/")
    cut = min(i for i in (rest.find(":", slash), rest.find("@", slash), len(rest)) if i >= 0)
    return SPELLINGS[spelling](rest[:cut]) + rest[cut:]


#: outage states of the repo name, the plainest ("not there yet") first: what shrinks to
_DNS_OUTAGES: tuple[DNSState, ...] = ("nxdomain", "servfail", "timeout")
_CLUSTER_DOWN: tuple[DNSState, ...] = ("conn-refused", "timeout")
#: what a server answering for one name (the search-list candidates', the upstream's,
#: an AAAA's own state) may do besides NXDOMAIN, SERVFAIL and silence: a lame referral
#: and REFUSED, which no Harvester predicate retries (pass them explicitly)
_NAME_OUTAGES: tuple[DNSState, ...] = ("nxdomain", "servfail", "timeout", "lame", "refused")
#: the whole cluster DNS from t = 0: no ready backend, not routed, or CoreDNS up but not
#: ready (its kubernetes plugin not synced: lame referrals or REFUSED for every name)
_CLUSTER_STATES: tuple[DNSState, ...] = ("conn-refused", "timeout", "lame", "refused")


def seeds() -> st.SearchStrategy[int]:
    """Scenario seeds (the harness seeds the jitter and the resolver's query IDs from it)."""
    return st.integers(0, 2**31 - 1)


def durations(max_seconds: float, *, min_seconds: float = 0.0) -> st.SearchStrategy[float]:
    """Seconds on the :data:`TIME_STEP` grid in ``[min_seconds, max_seconds]``,
    shrinking towards ``min_seconds``."""
    low = math.ceil(round(min_seconds / TIME_STEP, 9))
    high = math.floor(round(max_seconds / TIME_STEP, 9))
    if high < low:
        raise ValueError(f"durations: no grid point in [{min_seconds}, {max_seconds}]")
    return st.integers(low, high).map(lambda n: round(n * TIME_STEP, 1))


_S = TypeVar("_S", bound=str)


def _intervals(points: Sequence[tuple[float, _S]]) -> tuple[Interval[_S], ...]:
    """Intervals from (start, state) change points; repeats merged, later wins at a tie."""
    merged: list[tuple[float, _S]] = []
    for start, state in sorted(points, key=lambda p: p[0]):
        if merged and merged[-1][0] == start:
            merged[-1] = (start, state)
        elif not merged or merged[-1][1] != state:
            merged.append((start, state))
        # else: the same state again, nothing changes
    # a tie may have made two neighbours equal
    out: list[tuple[float, _S]] = []
    for start, state in merged:
        if not out or out[-1][1] != state:
            out.append((start, state))
    return intervals_from(out)


def _overlay(
    base: tuple[Interval[_S], ...], start: float, end: float, state: _S
) -> tuple[Interval[_S], ...]:
    """``base`` with ``state`` holding on ``[start, end)``."""
    points: list[tuple[float, _S]] = []
    for iv in base:
        lo, hi = iv.start, iv.end
        if hi <= start or lo >= end:
            points.append((lo, iv.state))
            continue
        if lo < start:
            points.append((lo, iv.state))
        if hi > end:
            points.append((end, iv.state))
    points.append((start, state))
    return _intervals(points)


@st.composite
def signal(
    draw: st.DrawFn,
    /,
    states: Sequence[_S],
    *,
    healthy: Literal["ok"] = "ok",
    max_outages: int = 2,
    max_gap: float = 60.0,
    max_outage: float = 120.0,
    forever: Sequence[_S] = (),
) -> tuple[Interval[_S | Literal["ok"]], ...]:
    """One signal's intervals from t = 0: up to ``max_outages`` outages, each after a
    healthy gap, then ``healthy`` for good, or (when ``forever`` is given, and drawn)
    a state from ``forever`` that never ends.  Typed by its states: ``ok`` is healthy
    in both vocabularies, so a signal of HTTP states (:data:`~sim._timeline.HTTPState`)
    is an HTTP signal, one of DNS states (:data:`~sim._timeline.DNSState`) a DNS one."""
    points: list[tuple[float, _S | Literal["ok"]]] = [(0.0, healthy)]
    t = 0.0
    if states:
        outages = draw(
            st.lists(
                st.tuples(
                    durations(max_gap),
                    durations(max_outage, min_seconds=TIME_STEP),
                    st.sampled_from(tuple(states)),
                ),
                max_size=max_outages,
            )
        )
        for gap, length, state in outages:
            t = round(t + gap, 1)
            points.append((t, state))
            t = round(t + length, 1)
            points.append((t, healthy))
    if forever:
        never_ends: bool = draw(st.booleans())
        if never_ends:
            after = draw(durations(max_gap))
            points.append((round(t + after, 1), draw(st.sampled_from(tuple(forever)))))
    return _intervals(points)


def _check_states(kind: str, given: Sequence[str], allowed: Sequence[str]) -> None:
    for state in given:
        if state not in allowed or state == "ok":
            raise ValueError(
                f"{kind}: {state!r} is not an outage state (expected some of "
                f"{', '.join(s for s in allowed if s != 'ok')})"
            )


@st.composite
def timelines(
    draw: st.DrawFn,
    /,
    scenario: Scenario | str = "single-node",
    *,
    dns_states: Sequence[DNSState] = _DNS_OUTAGES,
    other_states: Sequence[DNSState] = ("servfail", "timeout"),
    upstream_states: Sequence[DNSState] = ("nxdomain", "servfail", "timeout"),
    cluster_dns_states: Sequence[DNSState] = _CLUSTER_DOWN,
    http_states: Sequence[HTTPState] = ("refused", "hang"),
    missing: bool = False,
    never_healthy: bool = False,
    aaaa_states: Sequence[DNSState] = (),
    max_outages: int = 2,
    max_gap: float = 60.0,
    max_outage: float = 120.0,
    max_cleanup_start: float = 90.0,
) -> Timeline:
    """Timelines the harness plays, for ``scenario``'s repo name and list paths.

    - ``dns_states``: outages of the repo name; ``other_states``: outages of every
      other name in the cluster domain (the search-list candidates); ``upstream_states``:
      what CoreDNS's upstream answers, for a while, for the name as given (tried last,
      the error Go reports; between outages it gets NXDOMAIN); ``cluster_dns_states``:
      an optional outage of the whole cluster DNS from t = 0 (every name at once);
    - ``http_states``: outages of the repo Service (both lists);
    - ``missing``: one list (the previous version's, or the current) may also be
      missing (404) for a while or for good, as when the version is not in the archive;
    - ``never_healthy``: a signal may also end in an outage that never ends (a VM that
      never starts, DNS that never learns the name);
    - ``aaaa_states``: the repo name's and the name as given's AAAA queries may get
      outages of their own (keys ``name#AAAA``, ``sim._timeline.QTYPE_MARK``): A and
      AAAA in different states, which decides which lane's error Go reports.  The
      vectorised evaluator refuses such timelines.

    Pass empty sequences to switch a kind of outage off.  The default never contains a
    404: that is a permanent error the policy is right not to retry.
    """
    setup = load_scenario(scenario) if isinstance(scenario, str) else scenario
    per_name = tuple(s for s in DNS_STATES if s != "conn-refused")
    _check_states("dns_states", dns_states, per_name)
    _check_states("other_states", other_states, _NAME_OUTAGES)
    _check_states("upstream_states", upstream_states, _NAME_OUTAGES)
    _check_states("cluster_dns_states", cluster_dns_states, _CLUSTER_STATES)
    _check_states(
        "http_states", http_states, tuple(s for s in SERVED_HTTP_STATES if s != "missing")
    )

    def one(states: Sequence[str], forever: Sequence[str] = ()) -> st.SearchStrategy[Any]:
        return signal(
            states,
            max_outages=max_outages,
            max_gap=max_gap,
            max_outage=max_outage,
            forever=forever,
        )

    _check_states("aaaa_states", aaaa_states, _NAME_OUTAGES)
    repo = draw(one(dns_states, dns_states if never_healthy else ()), label="repo dns")
    others = draw(one(other_states), label="other names dns")
    upstream = draw(one(upstream_states), label="name as given (upstream) dns")
    aaaa: dict[str, tuple[Interval[DNSState], ...]] = {}
    if aaaa_states:
        for key in (setup.repo_host, setup.repo_service.lower()):
            own = draw(st.none() | one(aaaa_states), label=f"{key} AAAA")
            if own is not None:
                aaaa[key + QTYPE_MARK + "AAAA"] = own
    if cluster_dns_states:
        down = draw(
            st.none()
            | st.tuples(
                durations(max_outage, min_seconds=TIME_STEP),
                st.sampled_from(tuple(cluster_dns_states)),
            ),
            label="cluster dns down",
        )
        if down is not None:
            length, state = down
            repo = _overlay(repo, 0.0, length, state)
            others = _overlay(others, 0.0, length, state)
            upstream = _overlay(upstream, 0.0, length, state)
            aaaa = {key: _overlay(ivs, 0.0, length, state) for key, ivs in aaaa.items()}
    service = draw(one(http_states, http_states if never_healthy else ()), label="repo service")
    previous_path = setup.list_path(setup.previous_version)
    previous = current_list = service
    if missing:
        gone = draw(
            st.none()
            | st.tuples(
                durations(max_gap), st.none() | durations(max_outage, min_seconds=TIME_STEP)
            ),
            label="previous list missing",
        )
        which = draw(st.sampled_from(("previous", "current")), label="missing list")
        if gone is not None:
            since, lasting = gone
            end = math.inf if lasting is None else round(since + lasting, 1)
            if which == "previous":
                previous = _overlay(service, since, end, "missing")
            else:
                current_list = _overlay(service, since, end, "missing")
    start = draw(durations(max_cleanup_start), label="cleanup start")
    return Timeline(
        scenario=f"generated ({setup.name})",
        seed=0,
        cleanup_start=start,
        repo_host=setup.repo_host,
        dns={
            setup.repo_host: repo,
            OTHER_NAMES: others,
            setup.repo_service.lower(): upstream,
            **aaaa,
        },
        http={previous_path: previous, setup.list_path("current"): current_list},
        events=(),
    )


def world_timelines(scenario: Scenario | str = "single-node") -> st.SearchStrategy[Timeline]:
    """Timelines the world model draws for ``scenario`` (realistic, but they shrink
    only by seed: use :func:`timelines` to get minimal counterexamples)."""
    setup = load_scenario(scenario) if isinstance(scenario, str) else scenario
    return seeds().map(lambda seed: generate_timeline(setup, seed))


# -- scenarios -------------------------------------------------------------------------


def distributions(max_seconds: float = 120.0) -> st.SearchStrategy[Any]:
    """Distribution values as a scenario file writes them (a number, or a table)."""
    d = durations(max_seconds)
    positive = durations(max_seconds, min_seconds=TIME_STEP)

    def ordered(values: list[float]) -> list[float]:
        return sorted(values)

    return st.one_of(
        d,
        st.lists(d, min_size=2, max_size=2)
        .map(ordered)
        .map(lambda v: {"dist": "uniform", "low": v[0], "high": v[1]}),
        st.lists(d, min_size=3, max_size=3)
        .map(ordered)
        .map(lambda v: {"dist": "triangular", "low": v[0], "mode": v[1], "high": v[2]}),
        d.map(lambda m: {"dist": "exponential", "mean": m}),
        st.tuples(positive, st.integers(1, 15)).map(
            lambda p: {"dist": "lognormal", "median": p[0], "sigma": p[1] / 10}
        ),
        st.lists(d, min_size=1, max_size=6).map(lambda s: {"dist": "empirical", "samples": s}),
    )


#: An image ID's own spelling, ``sha256:<64 hex>`` (a config digest: content, no name).
_IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")


def content_id(image: str) -> str:
    """The content identity :func:`image_sets` gives ``image`` (``sha256:<hex>``): one per
    ``name:tag`` whatever the registry, so an image pulled through another registry and
    its digest reference are the same content."""
    if "@" in image:
        return image.split("@", 1)[1]  # a digest reference names its content
    if _IMAGE_ID.fullmatch(image):
        return image  # an image ID is its content
    last = image.rsplit("/", 1)[-1]
    return "sha256:" + hashlib.sha256(last.encode()).hexdigest()


#: the registry of :func:`other_content_copy`: a mirror that holds *other content* under
#: a listed ``name:tag`` (README "cleanup", "Locking and re-reading": ``mirror.example/x:v1``,
#: the same only by the lists' short ``name:tag`` match, is another image to a store)
OTHER_CONTENT_MIRROR = "stale-mirror.example"


def other_content_copy(image: str) -> tuple[str, str]:
    """``(name, identity)`` of another image the node holds under ``image``'s last path
    component and tag on :data:`OTHER_CONTENT_MIRROR` (``stale-mirror.example/x:v1`` for
    ``docker.io/rancher/x:v1``): the lists' short ``name:tag`` match takes it for
    ``image``, yet its content identity (``sha256:<hex>``) is its own, unlike
    :func:`content_id`'s one identity per ``name:tag``."""
    name = f"{OTHER_CONTENT_MIRROR}/{image.rsplit('/', 1)[-1]}"
    return name, "sha256:" + hashlib.sha256(f"other content of {name}".encode()).hexdigest()


def _id_spelt(ident: str, how: str) -> str:
    """``ident`` (``sha256:<hex>``) as ``how`` spells it: ``id`` as it is, ``bare id``
    the 64 hex digits alone."""
    return ident.removeprefix("sha256:") if how == "bare id" else ident


def by_digest(image: str, ident: str | None = None) -> str:
    """``image``'s digest reference: ``repo@sha256:<hex>`` for ``repo:tag``, the digest
    ``ident`` (:func:`content_id` of ``image`` by default)."""
    if "@" in image:
        return image
    repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repo}@{ident or content_id(image)}"


@st.composite
def image_sets(
    draw: st.DrawFn,
    /,
    pool: Sequence[str] = IMAGE_POOL,
    *,
    identities: bool = False,
    spellings: bool = True,
) -> ImageSet:
    """The two lists and the node's store: overlapping draws from ``pool``.

    ``spellings`` (the default): about half the image sets spell each list's Docker Hub
    images in one of :data:`SPELLINGS` (``localhost/x``, ``docker.io/localhost/x``,
    ``localhost:5000/x``, ``rancher.io/x`` next to ``rancher/x``, ``busybox``,
    ``docker.io/busybox`` or ``index.docker.io/busybox`` for
    ``docker.io/library/busybox``, ...), the current list often in the previous one's
    spelling or its look-alike (:data:`LOOK_ALIKES`), while the node may hold both the
    lists' spellings and the pool's.

    ``identities``: also the same image under other names (issue 9, "Same image, other
    name"): some list entries spelt by digest (``repo@sha256:...``, :func:`by_digest`)
    while the node holds both spellings, up to two written as the image ID
    (``sha256:<hex>``, :func:`content_id`) in the previous list, the current or both
    (issue 11: "images referenced by digest or ID in lists"), sometimes with the
    image named like one (``docker.io/library/sha256:<hex>``) in the previous list,
    containers naming their image by ID (``sha256:<hex>`` or the bare hex ``crictl``
    prints) or by digest reference, and,
    when drawn, the store's ``ids`` (every node name -> :func:`content_id`, spelt
    ``sha256:<hex>`` or as the bare hex, name by name); and in half of them a mirror
    holding other content under one or two previous-list ``name:tag`` s
    (:func:`other_content_copy`, issue 11 seed 20: one list entry then matches node
    images of two identities, of which one may be protected and the other not), often
    with a container running the listed image.
    """
    names = st.sampled_from(tuple(pool))
    previous = tuple(draw(st.lists(names, min_size=1, max_size=8, unique=True), label="previous"))
    current = tuple(draw(st.lists(names, min_size=1, max_size=8, unique=True), label="current"))
    respelt: tuple[str, ...] = ()
    if spellings:
        kinds = tuple(SPELLINGS)
        chosen = draw(st.none() | st.sampled_from(kinds), label="previous list spelt")
        if chosen is not None:
            other = draw(
                st.sampled_from((chosen, LOOK_ALIKES[chosen])) | st.sampled_from(kinds),
                label="current list spelt",
            )
            respelt = tuple(dict.fromkeys(previous + current))
            previous = tuple(dict.fromkeys(respell(i, chosen) for i in previous))
            current = tuple(dict.fromkeys(respell(i, other) for i in current))
    tag_forms = tuple(dict.fromkeys(previous + current))
    if identities:
        spelt = set(draw(st.lists(st.sampled_from(tag_forms), unique=True, max_size=3)))
        previous_spelt = draw(st.booleans(), label="previous spelt by digest too")
        current = tuple(by_digest(i) if i in spelt else i for i in current)
        if previous_spelt:
            previous = tuple(by_digest(i) if i in spelt else i for i in previous)
        # entries written as the image ID (``sha256:<hex>``: its content, no name), in
        # either list or both; a list of IDs alone names no namespace
        as_id = set(draw(st.lists(st.sampled_from(tag_forms), unique=True, max_size=2)))
        lists_with_ids = draw(st.sampled_from(("previous", "current", "both")), label="IDs in")
        if lists_with_ids != "previous":
            current = tuple(dict.fromkeys(content_id(i) if i in as_id else i for i in current))
        if lists_with_ids != "current":
            previous = tuple(dict.fromkeys(content_id(i) if i in as_id else i for i in previous))
        # ``docker.io/library/sha256:<hex>``: the image ``sha256`` tagged with the hex
        # (how Go normalises the ID's text), never the node's record of the ID
        if len(as_id) > 0 and draw(st.booleans(), label="an ID's text listed as a name too"):
            previous += (f"docker.io/library/{content_id(sorted(as_id)[0])}",)
    listed = tuple(dict.fromkeys(previous + current))
    # the node may hold the lists' spellings and the pool's (containerd's own)
    held = tuple(dict.fromkeys(listed + respelt + tuple(pool)))
    node = draw(st.none() | st.lists(st.sampled_from(held), unique=True))
    if identities and node is None:
        node = list(dict.fromkeys(listed + tag_forms))  # both spellings are on the node
    # other content under a listed name:tag (the entries a run may delete, mostly)
    copies: dict[str, str] = {}
    plain = tuple(i for i in previous if "@" not in i and not _IMAGE_ID.fullmatch(i))
    going = tuple(i for i in plain if i not in current) or plain
    runs: tuple[str, ...] = ()
    if identities and plain and draw(st.booleans(), label="a mirror holds other content"):
        mirrored = draw(st.lists(st.sampled_from(going), min_size=1, max_size=2, unique=True))
        copies = dict(other_content_copy(image) for image in mirrored)
        # the node holds the listed image and the mirror's other content under its name:tag
        node = list(dict.fromkeys([*(node or ()), *mirrored, *copies]))
        if draw(st.booleans(), label="a container runs the mirrored entry's image"):
            runs = (mirrored[0],)
    on_node = tuple(node) if node is not None else listed

    def ident_of(name: str) -> str:
        return copies.get(name) or content_id(name)

    # in use / pinned: mostly images of the previous list, the ones a cleanup could hit
    stake = tuple(dict.fromkeys(previous + on_node))
    some = st.lists(st.sampled_from(stake), unique=True, max_size=3)
    in_use = tuple(dict.fromkeys(runs + tuple(draw(some, label="in use"))))
    ids: tuple[tuple[str, str], ...] = ()
    if identities:
        container_forms = st.sampled_from(("name", "id", "bare id", "digest"))
        by_id = []
        by_content = st.sampled_from(("id", "bare id", "digest"))
        for image in in_use:
            # the mirrored entry's container names its content (by name it would keep
            # the entry whole, a world the other draws make often)
            forms_of = by_content if image in runs else container_forms
            how = draw(forms_of, label="container's image spelt as")
            ident = ident_of(image)
            forms = {
                "name": image,
                "id": ident,
                "bare id": ident[7:],
                "digest": by_digest(image, ident),
            }
            by_id.append(forms[how])
        in_use = tuple(by_id)
        # other content exists for a store only through its identities
        if bool(copies) or draw(st.booleans(), label="store knows identities"):
            # a store's map spells an identity as containerd does (``sha256:<hex>``) or
            # as ``crictl``/``docker`` print it (the bare hex), name by name
            id_forms = st.sampled_from(("id", "bare id"))
            ids = tuple(
                (
                    name,
                    _id_spelt(ident_of(name), draw(id_forms, label="store's identity spelt as")),
                )
                for name in on_node
            )
    return ImageSet(
        previous=previous,
        current=current,
        node=tuple(node) if node is not None else None,
        in_use=in_use,
        pinned=tuple(draw(some, label="pinned")),
        ids=ids,
    )


def same_image_spellings(image: str) -> tuple[str, ...]:
    """Other names of ``image`` that cleanup's plan (mode ``both``) takes for the same
    image: for a Docker Hub image its forms without a domain, without ``library/`` and
    on ``index.docker.io`` (distribution/reference normalises them alike: the same
    reference to a store too); for any image ``name:tag`` on another registry (the
    plan's short key only: to a store, which names what a container runs, another
    image); an image ID or what does not parse: ``(image,)``."""
    if re.fullmatch(r"(?:sha256:)?[0-9a-f]{64}", image):
        return (image,)
    try:
        ref = cleanup.parse_reference(image)
    except cleanup.InvalidReference:
        return (image,)
    suffix = (f":{ref.tag}" if ref.tag else "") + (f"@{ref.digest}" if ref.digest else "")
    forms = []
    if ref.domain == "docker.io":
        forms += [ref.path.removeprefix("library/") + suffix, f"index.docker.io/{ref.path}{suffix}"]
    forms.append(f"mirror.example/{ref.path.rsplit('/', 1)[-1]}{suffix}")
    return tuple(dict.fromkeys(form for form in forms if form != image)) or (image,)


#: what a node's store says when it cannot be read (``StoreFaults.reason``): ctr and
#: crictl when the runtime's socket refuses this user or is not there, and an answer
#: that does not parse
STORE_READ_TEXTS = (
    'containerd at /run/k3s/containerd/containerd.sock: ctr: failed to dial "/run/k3s/'
    'containerd/containerd.sock": connection error: desc = "transport: error while '
    'dialing: dial unix /run/k3s/containerd/containerd.sock: connect: permission denied"',
    'crictl ps -a -o json: time="2026-11-30T16:00:00Z" level=fatal msg="validate service '
    "connection: validate CRI v1 runtime API for endpoint "
    '\\"unix:///run/k3s/containerd/containerd.sock\\": rpc error: code = Unavailable '
    'desc = connection error: desc = \\"transport: Error while dialing: dial unix '
    '/run/k3s/containerd/containerd.sock: connect: no such file or directory\\""',
    "crictl images -o json: the answer is not JSON: unexpected end of JSON input",
    "memory store /var/lib/node.json: cannot read it (Permission denied)",
)
#: what a store says when it refuses one removal, and whether it is the image
#: (``RemovalError``) or the store that failed (``StoreError``)
REMOVAL_TEXTS: tuple[tuple[RemovalFailure, str], ...] = (
    ("refused", "ctr: image is being used by a running task"),
    ("refused", "rpc error: code = Unknown desc = failed to remove image: device or resource busy"),
    ("store-error", "ctr: failed to dial: connect: connection refused"),
)


@st.composite
def store_faults(draw: st.DrawFn, /, images: ImageSet, targets: Sequence[str] = ()) -> StoreFaults:
    """How ``images``' node store fails or changes under a run (``sim._store``): never
    nothing.  A quarter of the worlds cannot read the store (a read of
    :data:`~sim._store.STORE_READS` fails with one of :data:`STORE_READ_TEXTS`); the
    others refuse some removals (:data:`REMOVAL_TEXTS`) and/or have a concurrent writer
    start containers from, pin, pull or remove images between the run's listing and its
    first removal.  The writer names an image as the node does, in another spelling
    (:func:`same_image_spellings`, :data:`SPELLINGS`), or by its content identity
    (``ids``), as a container's image field may; it mostly touches ``targets`` (say,
    the images a run will remove) or else images of the previous list, the ones a
    cleanup could remove."""
    if draw(st.sampled_from((False, False, False, True)), label="store unreadable"):
        return StoreFaults(
            unreadable=draw(st.sampled_from(STORE_READS), label="the read that fails"),
            reason=draw(st.sampled_from(STORE_READ_TEXTS)),
        )
    node = images.node_images
    # the previous list's images the current one does not name as written first: the
    # ones the run is most likely to remove, so the writer's marks meet its removals
    going = tuple(targets) or tuple(i for i in images.previous if i not in images.current)
    stake = tuple(dict.fromkeys(going + images.previous + node))
    removals: list[RemovalFault] = []
    writer: list[WriterChange] = []
    what = draw(st.sampled_from(("removals", "writer", "both")), label="store misbehaves by")
    if what != "writer" and node:
        refusable = (
            st.sampled_from(tuple(targets)) | st.sampled_from(node)
            if targets
            else st.sampled_from(node)
        )
        for image in draw(st.lists(refusable, min_size=1, max_size=3, unique=True)):
            failure, reason = draw(st.sampled_from(REMOVAL_TEXTS))
            removals.append(RemovalFault(image, reason, failure))
    if what != "removals" or not removals:
        ids = dict(images.ids)
        for _ in range(draw(st.integers(1, 3), label="writer changes")):
            action = draw(st.sampled_from(WRITER_ACTIONS))
            if action == "pull":
                image = draw(st.sampled_from(tuple(dict.fromkeys(IMAGE_POOL + stake))))
            elif action == "remove":
                image = draw(st.sampled_from(node or stake))
            else:
                image = draw(st.sampled_from(going or stake) | st.sampled_from(stake))
                how = draw(
                    st.sampled_from(("same image", "as named", "any spelling", "by identity"))
                )
                if how == "same image":
                    image = draw(st.sampled_from(same_image_spellings(image)))
                elif how == "any spelling":  # look-alikes too: other images
                    image = respell(image, draw(st.sampled_from(tuple(SPELLINGS))))
                elif how == "by identity" and image in ids:
                    image = ids[image]
            writer.append(WriterChange(action, image))
    return StoreFaults(removals=tuple(removals), writer=tuple(writer))


@st.composite
def _client(draw: st.DrawFn, /) -> dict[str, Any]:
    return {
        "search": draw(
            st.sampled_from(
                (
                    ["harvester-system.svc.cluster.local", "svc.cluster.local", "cluster.local"],
                    ["svc.cluster.local", "cluster.local"],
                    [],
                )
            )
        ),
        "ndots": draw(st.integers(0, 6)),
        # whole seconds: resolv.conf's timeout:N
        "dns_timeout": draw(st.integers(1, 10)),
        "dns_attempts": draw(st.integers(1, 3)),
        "http_timeout": draw(durations(60.0, min_seconds=1.0)),
    }


@st.composite
def clients(draw: st.DrawFn, /, name: str | None = None) -> ClientSettings:
    """The controller pod's resolver and HTTP client settings, for looking up ``name``
    (the single-node scenario's repo Service by default).

    ``ndots`` is drawn mostly at the boundary of Go's rule (``dots >= ndots`` tries the
    name as given first): the name's own dot count, one more and one less; search
    lists with three, two, one and no domains; short DNS timeouts in whole seconds (the
    pod's resolv.conf ``timeout:N``; an example stays fast).
    """
    service = name if name is not None else load_scenario("single-node").repo_service
    dots = service.count(".")
    boundary = st.sampled_from(tuple(dict.fromkeys((dots, dots + 1, max(dots - 1, 0)))))
    ndots = draw(boundary | st.integers(0, 15), label="ndots")
    search = draw(
        st.sampled_from(
            (
                ("harvester-system.svc.cluster.local", "svc.cluster.local", "cluster.local"),
                ("svc.cluster.local", "cluster.local"),
                ("harvester-system.svc.cluster.local",),
                (),
            )
        ),
        label="search",
    )
    return ClientSettings(
        search=search,
        ndots=ndots,
        dns_timeout=float(draw(st.integers(1, 5), label="dns timeout")),
        dns_attempts=draw(st.integers(1, 3), label="dns attempts"),
        http_timeout=draw(durations(30.0, min_seconds=1.0), label="http timeout"),
    )


@st.composite
def scenario_dicts(
    draw: st.DrawFn, /, *, images: bool = True, client: bool = True
) -> dict[str, Any]:
    """Scenario files as parsed TOML (``tomllib.loads``'s shape) that
    :func:`sim._scenario.parse_scenario` accepts: every key present, valid values."""
    data: dict[str, Any] = {
        "name": draw(st.sampled_from(("generated", "custom", "single-node-variant"))),
        "world": {
            "topology": draw(st.sampled_from(("single-node", "multi-node"))),
            "dns_down": draw(st.sampled_from(("no-endpoints", "not-routed"))),
            "upstream": draw(st.sampled_from(("nxdomain", "servfail", "timeout"))),
            "list_missing": draw(st.booleans()),
            "vm_starts": not draw(st.booleans()),
            "upgrade_name": draw(
                st.sampled_from(("hvst-upgrade-nv76q", "hvst-upgrade-abc12", "u1"))
            ),
            "previous_version": draw(st.sampled_from(("v1.4.1", "v1.4.2", "v1.3.2"))),
        },
        "durations": {key: draw(distributions()) for key in DURATION_KEYS},
    }
    probability = draw(st.integers(0, 10)) / 10
    data["flap"] = {"probability": probability}
    if probability > 0:
        data["flap"]["delay"] = draw(distributions(60.0))
        data["flap"]["length"] = draw(distributions(30.0))
    if draw(st.booleans()):
        data["coredns"] = {"negative_cache": draw(distributions(30.0))}
    if images:
        chosen = draw(image_sets())
        table: dict[str, Any] = {
            "previous": list(chosen.previous),
            "current": list(chosen.current),
            "in_use": list(chosen.in_use),
            "pinned": list(chosen.pinned),
        }
        if chosen.node is not None:
            table["node"] = list(chosen.node)
        if draw(st.booleans(), label="store identities in the file"):
            table["ids"] = {name: content_id(name) for name in chosen.node_images}
        data["images"] = table
    if client and draw(st.booleans()):
        data["client"] = draw(_client())
    return data


def scenarios(*, images: bool = True, client: bool = True) -> st.SearchStrategy[Scenario]:
    """Valid :class:`~sim._scenario.Scenario` objects (parsed from :func:`scenario_dicts`),
    or one of the built-in scenarios (what they shrink towards)."""
    builtin = st.sampled_from(BUILTIN_SCENARIOS).map(load_scenario)
    generated = scenario_dicts(images=images, client=client).map(parse_scenario)
    return builtin | generated


# -- policies --------------------------------------------------------------------------


def _grown_durations(duration: float, factor: float, count: int) -> list[float]:
    """The durations a client-go schedule steps through, as Go computes them (integer
    nanoseconds, each growth truncated), in seconds: the values a Cap can equal."""
    ns = round(duration * 1e9)
    out = []
    for _ in range(count):
        out.append(ns / 1e9)
        ns = int(float(ns) * factor)
    return out


@st.composite
def backoffs(
    draw: st.DrawFn,
    /,
    *,
    modes: Sequence[Mode] = MODES,
    max_steps: int = 30,
    min_duration: float = 0.1,
    max_duration: float = 30.0,
    max_factor: float = 3.0,
    caps: bool = True,
    edges: bool = True,
) -> Backoff:
    """Backoff schedules within sane bounds (the fields of Kubernetes ``wait.Backoff``).

    ``edges`` (the default) gives the boundaries of the schedule's rules their own
    weight, so a hundred examples meet each of them: Steps 1 (no sleep at all) and 2,
    Jitter 0 (no draw), a Factor below 1 (shrinking sleeps) and 0 (Go: no growth), a
    Cap equal to one of the durations the schedule steps through (a sleep equal to the
    Cap; in client-go mode growth past it ends the loop after that sleep) and a Cap
    below the first duration.
    """
    mode = draw(st.sampled_from(tuple(modes)), label="mode")
    step_range = st.integers(1, max_steps)
    # Steps 1 and 2 need no branch of their own: hypothesis draws an integer range's
    # bounds often (a fifth of the examples or more have Steps 1)
    steps = draw(step_range, label="steps")
    duration = draw(durations(max_duration, min_seconds=min_duration), label="duration")
    growth = st.integers(10, max(10, int(max_factor * 10))).map(lambda n: n / 10)
    shrinking = st.sampled_from((0.5, 0.0, 0.9))
    factor = draw(growth | shrinking if edges else growth, label="factor")
    jitters = st.integers(0, 10).map(lambda n: n / 10)
    jitter = draw(st.just(0.0) | jitters if edges else jitters, label="jitter")
    cap = None
    if caps:
        plain = durations(120.0, min_seconds=1.0)
        grown = [d for d in _grown_durations(duration, factor, steps) if 0 < d <= 86400.0]
        options = [st.none(), plain]
        if edges and grown:
            options.append(st.sampled_from(grown))
            if duration > 0.2:
                options.append(st.just(round(duration / 2, 1)))  # below the first duration
        cap = draw(st.one_of(*options), label="cap")
    return Backoff(duration=duration, factor=factor, jitter=jitter, steps=steps, cap=cap, mode=mode)


@st.composite
def policies(
    draw: st.DrawFn,
    /,
    *,
    presets: bool = True,
    predicates: Sequence[PredicateName] = ("v1.4", "v1.5"),
    deadlines: bool = True,
    max_deadline: float = 600.0,
    **backoff: Any,
) -> Policy:
    """Retry policies: the presets (what they shrink towards) or generated ones.

    ``predicates``: which retriable-error rules may appear (``("v1.5",)`` for
    properties the old rule is known to break); ``deadlines``: whether an overall
    deadline may be set; other keywords go to :func:`backoffs`.
    """
    for name in predicates:
        if name not in PREDICATES:
            raise ValueError(f"predicates: unknown {name!r} (expected {', '.join(PREDICATES)})")
    chosen = [
        p
        for p in PRESETS.values()
        if p.predicate in predicates and (deadlines or p.deadline is None)
    ]
    if presets and chosen and draw(st.booleans()) is False:
        return draw(st.sampled_from(chosen))
    schedule = draw(backoffs(**backoff))
    predicate = draw(st.sampled_from(tuple(predicates)))
    deadline = draw(st.none() | durations(max_deadline, min_seconds=1.0)) if deadlines else None
    return cleanup.Policy(
        f"generated-{predicate}",
        schedule,
        PREDICATES[predicate],
        predicate=predicate,
        deadline=deadline,
    )

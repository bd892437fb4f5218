"""The world model: event order from the reference, determinism, scenario validation."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim._dist import ScenarioError, parse_distribution
from sim._scenario import load_scenario, parse_scenario
from sim._timeline import Timeline
from sim._world import generate_timeline

SINGLE = load_scenario("single-node")
MULTI = load_scenario("multi-node")


def event_time(timeline: Timeline, prefix: str) -> float:
    return next(e.time for e in timeline.events if e.what.startswith(prefix))


@given(seed=st.integers(min_value=0, max_value=2**32))
def test_single_node_follows_the_reference_order(seed: int) -> None:
    t = generate_timeline(SINGLE, seed)
    up = event_time(t, "node up")
    dns_running = event_time(t, "CoreDNS running")
    synced = event_time(t, "CoreDNS knows")
    vm_ready = event_time(t, "repo VM ready")
    reachable = event_time(t, "Service endpoints")
    assert 0 < up <= dns_running <= synced
    assert up <= t.cleanup_start <= vm_ready <= reachable
    repo = t.repo_host
    # before CoreDNS: the DNS Service has no backend, every name is refused; then NXDOMAIN
    # until the sync (and while the cache holds it); the repo name resolves after
    for name in (repo, "x.svc.cluster.local", SINGLE.repo_service):
        assert t.dns_state(name, 0.0) == "conn-refused"
    if synced > dns_running:
        assert t.dns_state(repo, (dns_running + synced) / 2) == "nxdomain"
    assert t.dns_state("x.svc.cluster.local", dns_running) == "nxdomain"
    assert t.dns_state(SINGLE.repo_service, dns_running) == "nxdomain"  # upstream answers
    resolves = t.dns[repo][2].start
    assert synced <= resolves <= synced + 30  # the negative cache: at most its 30 s TTL
    assert t.dns_state(repo.upper() + ".", resolves) in {"ok", "nxdomain"}  # flap may start
    for path in t.http:
        assert t.http_state(path, t.cleanup_start) == "refused"
        assert t.http_state(path, reachable) == "ok"
    assert t.healthy_from() >= max(reachable, synced)


@given(seed=st.integers(min_value=0, max_value=2**32))
def test_multi_node_has_no_dns_outage(seed: int) -> None:
    t = generate_timeline(MULTI, seed)
    assert [iv.state for iv in t.dns[t.repo_host]] == ["ok"]
    assert t.healthy_from() == event_time(t, "Service endpoints")


def test_same_seed_same_timeline_and_json_round_trip() -> None:
    a, b = generate_timeline(SINGLE, 42), generate_timeline(SINGLE, 42)
    assert a.to_json() == b.to_json()
    assert a.to_json() != generate_timeline(SINGLE, 43).to_json()
    assert Timeline.from_dict(a.to_dict()).to_json() == a.to_json()


def test_common_random_numbers_across_variants() -> None:
    # the variant changes what happens, not the durations drawn for the seed
    broken = parse_scenario(
        {**_raw("single-node"), "world": {"vm_starts": False}}, default_name="no-vm"
    )
    a, b = generate_timeline(SINGLE, 7), generate_timeline(broken, 7)
    assert event_time(a, "CoreDNS knows") == event_time(b, "CoreDNS knows")
    assert b.healthy_from() == math.inf
    assert any(e.what == "repo VM fails to start" for e in b.events)


def test_list_missing_serves_404_for_the_previous_list_only() -> None:
    scenario = parse_scenario({**_raw("single-node"), "world": {"list_missing": True}})
    t = generate_timeline(scenario, 3)
    previous, current = scenario.list_path("v1.4.1"), scenario.list_path("current")
    assert t.http[previous][-1].state == "missing"
    assert t.http[current][-1].state == "ok"
    assert t.healthy_from() == math.inf


def test_flap_makes_the_name_nxdomain_again() -> None:
    scenario = parse_scenario(
        {**_raw("single-node"), "flap": {"probability": 1.0, "delay": 5, "length": 3}}
    )
    t = generate_timeline(scenario, 11)
    states = [iv.state for iv in t.dns[t.repo_host]]
    assert states == ["conn-refused", "nxdomain", "ok", "nxdomain", "ok"]
    flap = t.dns[t.repo_host][3]
    assert flap.end - flap.start == pytest.approx(3)
    assert t.healthy_from() == max(flap.end, event_time(t, "Service endpoints"))


def _with(name: str, **tables: dict[str, object]) -> dict[str, object]:
    """The built-in scenario ``name`` with some keys of some tables replaced."""
    raw = _raw(name)
    for table, values in tables.items():
        merged = dict(raw.get(table, {}))  # type: ignore[call-overload]
        merged.update(values)
        raw[table] = merged
    return raw


@given(seed=st.integers(min_value=0, max_value=2**32))
def test_a_dns_service_not_routed_yet_is_silence_for_every_name(seed: int) -> None:
    scenario = parse_scenario(_with("single-node", world={"dns_down": "not-routed"}))
    t = generate_timeline(scenario, seed)
    dns_running = event_time(t, "CoreDNS running")
    for key, intervals in t.dns.items():
        assert intervals[0].state == "timeout", key
        assert intervals[0].end == dns_running
    # the same draws as the default (no-endpoints) world: only the state differs
    assert generate_timeline(SINGLE, seed).dns[t.repo_host][0].end == dns_running


@pytest.mark.parametrize("upstream", ["nxdomain", "servfail", "timeout"])
@pytest.mark.parametrize("name", ["single-node", "multi-node"])
def test_the_name_as_given_gets_what_the_upstream_answers(name: str, upstream: str) -> None:
    scenario = parse_scenario(_with(name, world={"upstream": upstream}))
    t = generate_timeline(scenario, 5)
    as_given = t.dns[scenario.repo_service]
    assert as_given[-1].state == upstream
    # while CoreDNS runs; before that, what every name gets (single-node)
    running = next((e.time for e in t.events if e.what.startswith("CoreDNS running")), 0.0)
    assert as_given[-1].start == running
    # names in cluster.local are CoreDNS's own: NXDOMAIN whatever the upstream does
    assert t.dns_state("x.svc.cluster.local", running) == "nxdomain"


def test_the_airgapped_scenario_differs_only_in_the_upstream() -> None:
    airgapped = load_scenario("single-node-airgapped")
    assert airgapped.upstream == "servfail" and SINGLE.upstream == "nxdomain"
    a, b = generate_timeline(SINGLE, 9), generate_timeline(airgapped, 9)
    assert a.dns[SINGLE.repo_host] == b.dns[airgapped.repo_host]
    assert a.dns[SINGLE.repo_service][-1].state == "nxdomain"
    assert b.dns[airgapped.repo_service][-1].state == "servfail"


def _cache_world(cache: object, controller_start: float) -> Timeline:
    scenario = parse_scenario(
        _with(
            "single-node",
            durations={
                "node_boot": 10,
                "coredns_start": 20,
                "service_sync": 5,
                "controller_start": controller_start,
            },
            coredns={"negative_cache": cache},
        )
    )
    return generate_timeline(scenario, 1)


def test_the_negative_cache_keeps_nxdomain_after_the_sync() -> None:
    t = _cache_world(7, controller_start=1)  # the controller asked before the sync
    synced = event_time(t, "CoreDNS knows")
    assert synced == 35
    repo = [(iv.start, iv.state) for iv in t.dns[t.repo_host]][:3]
    assert repo == [(0.0, "conn-refused"), (30.0, "nxdomain"), (42.0, "ok")]
    assert event_time(t, "cached NXDOMAIN expired") == 42
    # nobody asked before the sync: nothing was cached
    late = _cache_world(7, controller_start=40)
    assert [(iv.start, iv.state) for iv in late.dns[late.repo_host]][2] == (35.0, "ok")
    # no cache configured: the name resolves at the sync
    none = parse_scenario(
        {
            k: v
            for k, v in _with("single-node", durations={"controller_start": 1}).items()
            if k != "coredns"
        }
    )
    assert none.negative_cache is None
    u = generate_timeline(none, 1)
    assert u.dns[u.repo_host][2].start == event_time(u, "CoreDNS knows")


def test_the_negative_cache_draw_leaves_the_other_draws_alone() -> None:
    with_cache, without = (
        SINGLE,
        parse_scenario({k: v for k, v in _raw("single-node").items() if k != "coredns"}),
    )
    for seed in range(20):
        a, b = generate_timeline(with_cache, seed), generate_timeline(without, seed)
        assert event_time(a, "CoreDNS knows") == event_time(b, "CoreDNS knows")
        assert a.cleanup_start == b.cleanup_start
        assert a.healthy_from() >= b.healthy_from()


def _raw(name: str) -> dict[str, object]:
    import tomllib

    path = Path(__file__).resolve().parents[2] / "sim" / "scenarios" / f"{name}.toml"
    return tomllib.loads(path.read_text())


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"durations": {"node_boot": 1}}, "durations.coredns_start: missing"),
        (
            {"world": {"dns_down": "refused"}},
            "world.dns_down: expected one of no-endpoints, not-routed",
        ),
        ({"world": {"upstream": "refused"}}, "world.upstream: expected one of nxdomain"),
        ({"coredns": {"ttl": 30}}, "coredns.ttl: unknown key"),
        ({"coredns": {"negative_cache": -1}}, "coredns.negative_cache"),
        ({"world": {"colour": 1}}, "world.colour: unknown key"),
        ({"flap": {"probability": 2}}, "flap.probability: expected 0..1"),
        ({"flap": {"probability": 0.5}}, "flap.delay/flap.length: required"),
        ({"bogus": 1}, "bogus: unknown key"),
    ],
)
def test_bad_scenarios_name_the_key(patch: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace(".", r"\.")):
        parse_scenario({**_raw("single-node"), **patch})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"dist": "uniform", "low": 3}, "k.high: missing"),
        ({"dist": "uniform", "low": 3, "high": 1}, "low .* must not exceed high"),
        ({"dist": "gamma"}, "k.dist: expected one of"),
        ({"dist": "fixed", "value": -1}, "k.value: expected a finite number >= 0"),
        ({"dist": "empirical", "samples": []}, "k.samples: expected a non-empty list"),
        ({"dist": "exponential", "mean": 1, "rate": 2}, "k.rate: unknown key"),
        ("ten", "k: expected a number of seconds"),
    ],
)
def test_bad_distributions_name_the_key(value: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_distribution(value, "k")


@pytest.mark.parametrize(
    "spec",
    [
        3.5,
        {"dist": "uniform", "low": 1, "high": 2},
        {"dist": "triangular", "low": 1, "mode": 2, "high": 5},
        {"dist": "exponential", "mean": 4},
        {"dist": "lognormal", "median": 8, "sigma": 0.5},
        {"dist": "empirical", "samples": [1, 2, 9]},
    ],
)
def test_distributions_sample_in_range_and_round_trip(spec: object) -> None:
    dist = parse_distribution(spec, "k")
    assert parse_distribution(dist.to_toml_value(), "k") == dist
    rng = random.Random(5)
    draws = [dist.sample(rng) for _ in range(2000)]
    assert min(draws) >= 0
    if isinstance(spec, dict) and spec["dist"] in {"uniform", "triangular"}:
        assert min(draws) >= spec["low"] and max(draws) <= spec["high"]
    if isinstance(spec, dict) and spec["dist"] == "empirical":
        assert set(draws) <= {1.0, 2.0, 9.0}
    # the sample mean lands near the distribution's mean
    assert sum(draws) / len(draws) == pytest.approx(dist.mean(), rel=0.15)


def test_unknown_scenario_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not a built-in"):
        load_scenario("three-node")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ScenarioError, match=r"bad\.toml"):
        load_scenario(bad)

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
    # before CoreDNS: refused; then NXDOMAIN until the sync; the repo name resolves after
    assert t.dns_state(repo, 0.0) == "refused"
    if synced > dns_running:
        assert t.dns_state(repo, (dns_running + synced) / 2) == "nxdomain"
    assert t.dns_state("x.svc.cluster.local", dns_running) == "nxdomain"
    assert t.dns_state(repo.upper() + ".", synced) in {"ok", "nxdomain"}  # flap may start at once
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
    assert states == ["refused", "nxdomain", "ok", "nxdomain", "ok"]
    flap = t.dns[t.repo_host][3]
    assert flap.end - flap.start == pytest.approx(3)
    assert t.healthy_from() == max(flap.end, event_time(t, "Service endpoints"))


def _raw(name: str) -> dict[str, object]:
    import tomllib

    path = Path(__file__).resolve().parents[2] / "sim" / "scenarios" / f"{name}.toml"
    return tomllib.loads(path.read_text())


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"durations": {"node_boot": 1}}, "durations.coredns_start: missing"),
        ({"world": {"dns_down": "maybe"}}, "world.dns_down: expected one of refused, timeout"),
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

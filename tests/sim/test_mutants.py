"""``sim mutants`` and the mutants themselves.

Each mutant must really be broken: on a world chosen for it, the property check it
violates fails under the mutant and passes under the real module (so a "caught" in
``sim mutants`` is a property doing its job, not a mutant crashing).  The runner is
tested on a quick selection in the default suite; the full run (every mutant against
the whole property suite, ``caught 10/10``) is marked slow.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import cleanup
from sim import Harness
from sim._cli import main
from sim._mutants import MUTANT_ENV, MUTANTS, active_cleanup_fn, get_mutant, property_of
from sim._scenario import ImageSet
from sim._timeline import OTHER_NAMES, Interval, Timeline
from tests.sim import test_properties
from tests.sim.test_properties import (
    SINGLE,
    V15,
    Run,
    check_bounded_effort,
    check_liveness,
    check_not_retried,
    check_safety,
    run,
)

SUITE = str(Path(__file__).with_name("test_properties.py"))
PREVIOUS = SINGLE.list_path(SINGLE.previous_version)
CURRENT = SINGLE.list_path("current")


def world(
    repo: tuple[tuple[float, str], ...] = ((0.0, "ok"),),
    others: tuple[tuple[float, str], ...] = ((0.0, "ok"),),
    service: tuple[tuple[float, str], ...] = ((0.0, "ok"),),
    previous: tuple[tuple[float, str], ...] | None = None,
    as_given: tuple[tuple[float, str], ...] | None = None,
) -> Timeline:
    def ivs(points: tuple[tuple[float, str], ...]) -> tuple[Interval, ...]:
        ends = [t for t, _ in points[1:]] + [math.inf]
        return tuple(Interval(t, e, s) for (t, s), e in zip(points, ends, strict=True))

    return Timeline(
        scenario="mutant world",
        seed=0,
        cleanup_start=0.0,
        repo_host=SINGLE.repo_host,
        dns={
            SINGLE.repo_host: ivs(repo),
            OTHER_NAMES: ivs(others),
            **({SINGLE.repo_service: ivs(as_given)} if as_given else {}),
        },
        http={PREVIOUS: ivs(previous or service), CURRENT: ivs(service)},
        events=(),
    )


NEVER = world(service=((0.0, "refused"),))
SHORT = cleanup.Policy(
    "short", cleanup.Backoff(duration=1.0, steps=3), cleanup.retriable_v15, predicate="v1.5"
)
WITH_DEADLINE = cleanup.Policy(
    "deadline-25s",
    cleanup.Backoff(duration=10.0, jitter=0.1, steps=30),
    cleanup.retriable_v15,
    predicate="v1.5",
    deadline=25.0,
)
PINNED = dataclasses.replace(SINGLE.images, pinned=("docker.io/rancher/harvester:v1.4.1",))

# mutant -> (world, policy, images, the check it must fail)
CASES: dict[str, tuple[Timeline, cleanup.Policy, ImageSet, Callable[[Run], object]]] = {
    "v1.4-predicate": (world(repo=((0.0, "nxdomain"), (20.0, "ok"))), V15, SINGLE.images,
                       check_liveness),
    # the repo name silent, the name as given too (its upstream): the lookup ends in
    # 20 s with the name as given's DNS timeout, before the 30 s Client.Timeout
    "forgets-dns-timeouts": (
        world(repo=((0.0, "timeout"), (50.0, "ok")), others=((0.0, "nxdomain"),),
              as_given=((0.0, "timeout"),)),
        V15, SINGLE.images, check_liveness),
    "steps-off-by-one": (NEVER, SHORT, SINGLE.images, check_bounded_effort),
    "deadline-ignored": (NEVER, WITH_DEADLINE, SINGLE.images, check_bounded_effort),
    "delete-after-first-list": (world(), V15, SINGLE.images, check_safety),
    "ignores-in-use": (world(), V15, SINGLE.images, check_safety),
    "retries-404": (world(previous=((0.0, "missing"),)), SHORT, SINGLE.images,
                    check_not_retried),
    "ignores-retain": (world(), V15, SINGLE.images, check_safety),
    "ignores-pinned": (world(), V15, PINNED, check_safety),
    "hurried-backoff": (NEVER, V15, SINGLE.images, check_bounded_effort),
}  # fmt: skip


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    with Harness(SINGLE) as h:
        yield h


def test_every_mutant_has_a_world_that_shows_its_bug() -> None:
    assert set(CASES) == set(MUTANTS)
    assert len(MUTANTS) >= 7


@pytest.mark.parametrize("name", sorted(CASES))
def test_mutant_breaks_its_property_where_the_real_module_keeps_it(
    harness: Harness, name: str
) -> None:
    timeline, policy, images, check = CASES[name]
    scenario = dataclasses.replace(SINGLE, images=images)
    real = run(harness, cleanup.run_cleanup, timeline, policy, 3, scenario, notes=False)
    check(real)
    broken = run(harness, get_mutant(name).cleanup_fn, timeline, policy, 3, scenario, notes=False)
    with pytest.raises(AssertionError):
        check(broken)


def test_every_property_test_is_labelled_with_its_property() -> None:
    """``sim mutants`` reports failing properties by number; every test of the suite
    (but those about the strategies themselves) must map to one."""
    names = [n for n in dir(test_properties) if n.startswith("test_")]
    about_strategies = {
        "test_generated_timelines_are_playable",
        "test_timelines_refuse_states_the_harness_cannot_play",
    }
    labels = {n: property_of(n) for n in names if n not in about_strategies}
    assert all(label[0].isdigit() for label in labels.values()), labels
    assert {label[0] for label in labels.values()} == set("12345678")


def test_the_suite_tests_the_real_module_unless_a_mutant_is_named() -> None:
    assert active_cleanup_fn({}) is cleanup.run_cleanup
    assert active_cleanup_fn({MUTANT_ENV: ""}) is cleanup.run_cleanup
    assert active_cleanup_fn({MUTANT_ENV: "retries-404"}) is MUTANTS["retries-404"].cleanup_fn
    with pytest.raises(KeyError, match="unknown mutant 'nope'"):
        active_cleanup_fn({MUTANT_ENV: "nope"})


def test_sim_mutants_counts_caught_and_survived(capsys: pytest.CaptureFixture[str]) -> None:
    """A quick selection: two mutants against the properties that catch them, and one
    against a property that cannot (it must be reported as surviving, exit 1)."""
    code = main(["mutants", "--only", "v1.4-predicate,retries-404", "--no-baseline",
                 "--tests", SUITE, "-k", "seed_bug_v15 or 404"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "caught 2/2" in out
    assert "5 not retried" in out and "3 seed bug" in out

    code = main(["mutants", "--only", "hurried-backoff", "--no-baseline", "--tests", SUITE,
                 "-k", "404"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1, out
    assert "caught 0/1" in out and "survived" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mutants", "--only", "nope"], "--only: unknown mutant 'nope'"),
        (["mutants", "--jobs", "0"], "--jobs: must be at least 1"),
        (["mutants", "--tests", "/nonexistent/test_x.py"], "--tests: /nonexistent/test_x.py"),
    ],
)
def test_sim_mutants_usage_errors_exit_64(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 64
    assert message in capsys.readouterr().err


def test_sim_mutants_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutants", "--list"]) == 0
    out = capsys.readouterr().out
    for name in MUTANTS:
        assert name in out


@pytest.mark.slow
def test_sim_mutants_catches_every_mutant(capsys: pytest.CaptureFixture[str]) -> None:
    """The whole property suite against every mutant (each run stops at its first
    failing test).  The baseline - the suite passing on the real module - is the suite
    itself, which the same test run includes, so it is not run a second time here."""
    code = main(["mutants", "--fail-fast", "--no-baseline", "--tests", SUITE])
    out = capsys.readouterr().out
    assert f"caught {len(MUTANTS)}/{len(MUTANTS)}" in out, out
    assert code == 0

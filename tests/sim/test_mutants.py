"""``sim mutants`` and the mutants themselves.

Each mutant must really be broken: on a world chosen for it, the property check it
violates fails under the mutant and passes under the real module (so a "caught" in
``sim mutants`` is a property doing its job, not a mutant crashing).  The runner is
tested on a quick selection in the default suite; the full run (every mutant against
the whole property suite, ``caught 10/10``) is marked slow.

Source mutants (patches in ``sim/mutants/``) must apply to the current source, the run
must use the patched copy, ``cleanup/`` must be untouched afterwards, and a patch that
no longer applies must be reported as such, naming the patch and its target.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import cleanup
from sim import Harness, _mutants
from sim._cli import main
from sim._mutants import (
    MUTANT_ENV,
    MUTANTS,
    SOURCE_MUTANTS,
    PatchError,
    SourceMutant,
    active_cleanup_fn,
    get_mutant,
    prepare_source_mutant,
    property_of,
    source_env,
)
from sim._scenario import ImageSet
from sim._timeline import OTHER_NAMES, DNSState, HTTPState, Timeline, intervals_from
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
    repo: tuple[tuple[float, DNSState], ...] = ((0.0, "ok"),),
    others: tuple[tuple[float, DNSState], ...] = ((0.0, "ok"),),
    service: tuple[tuple[float, HTTPState], ...] = ((0.0, "ok"),),
    previous: tuple[tuple[float, HTTPState], ...] | None = None,
    as_given: tuple[tuple[float, DNSState], ...] | None = None,
) -> Timeline:
    ivs = intervals_from

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
    assert {label[0] for label in labels.values()} == set("123456789")


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
    for name in [*MUTANTS, *SOURCE_MUTANTS]:
        assert name in out
    assert main(["mutants", "--list", "--kind", "source"]) == 0
    out = capsys.readouterr().out
    assert all(name not in out for name in MUTANTS)
    assert all(name in out for name in SOURCE_MUTANTS)


# -- source mutants -------------------------------------------------------------------

CLEANUP = Path(cleanup.__file__).resolve().parent


def _digests(package: Path) -> dict[str, str]:
    return {
        p.relative_to(package).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(package.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_every_source_mutant_is_a_patch_with_a_one_line_rationale() -> None:
    assert len(SOURCE_MUTANTS) >= 8
    for mutant in SOURCE_MUTANTS.values():
        first, blank, *rest = mutant.patch.read_text().splitlines()
        assert first == mutant.description and len(first) > 20, mutant.name
        assert blank == "", f"{mutant.patch}: the rationale is one line, then a blank line"
        assert mutant.target.startswith("cleanup/"), mutant.name
        assert any(line.startswith("@@") for line in rest), mutant.name


@pytest.mark.parametrize("name", sorted(SOURCE_MUTANTS))
def test_source_patch_applies_to_the_current_source_and_changes_only_its_target(
    tmp_path: Path, name: str
) -> None:
    mutant = SOURCE_MUTANTS[name]
    before = _digests(CLEANUP)
    copy = prepare_source_mutant(mutant, tmp_path) / "cleanup"
    after = _digests(copy)
    changed = {f for f in before if before[f] != after.get(f)}
    assert changed == {mutant.target.removeprefix("cleanup/")}
    assert set(after) == set(before)
    assert _digests(CLEANUP) == before  # the real package was only read


def test_the_suite_process_imports_the_patched_copy(tmp_path: Path) -> None:
    """With the copy first on PYTHONPATH, a subprocess (as ``sim mutants`` starts) run
    from the repository imports the broken cleanup, not the repository's own or the
    editable install's: ndots compared with >."""
    copy = prepare_source_mutant(SOURCE_MUTANTS["ndots-strict"], tmp_path)
    probe = (
        "import cleanup, cleanup._dnsrules as r; print(cleanup.__file__); "
        "print(r.candidate_names('a.b', ['svc.local'], 1)[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=source_env(copy), capture_output=True, text=True,
        check=True, cwd=CLEANUP.parent,
    ).stdout.split()  # fmt: skip
    assert Path(out[0]).resolve().is_relative_to(copy.resolve())
    assert out[1] == "a.b.svc.local."  # the real rule tries "a.b." first (1 dot >= ndots 1)
    from cleanup._dnsrules import candidate_names

    assert candidate_names("a.b", ["svc.local"], 1)[0] == "a.b."


def test_sim_mutants_runs_the_suite_against_the_patched_copy(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """End to end: the suite, from this repository (whose rootdir pytest puts on
    sys.path, real cleanup/ and all), must test the copy: one attempt more than Steps
    breaks bounded effort only if the patched Schedule is the one that runs."""
    before = _digests(CLEANUP)
    code = main(["mutants", "--only", "steps-counts-retries", "--no-baseline", "--tests",
                 SUITE, "-k", "bounded_effort", "-x"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "caught 1/1" in out
    assert _digests(CLEANUP) == before


def test_a_patch_that_no_longer_applies_is_reported_naming_patch_and_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = SOURCE_MUTANTS["ndots-strict"].patch.read_text()
    stale = tmp_path / "patches" / "stale-ndots.diff"
    stale.parent.mkdir()
    # the code the patch edits "has changed": its context line no longer matches
    stale.write_text(original.replace("has_ndots = name.count", "has_ndots = name.tally"))
    mutant = SourceMutant("stale-ndots", "a patch written against older code", stale)
    before = _digests(CLEANUP)
    with pytest.raises(PatchError, match=r"stale-ndots\.diff no longer applies to "
                       r"cleanup/_dnsrules\.py"):  # fmt: skip
        prepare_source_mutant(mutant, tmp_path / "copy")

    monkeypatch.setattr(_mutants, "SOURCE_MUTANTS", {**SOURCE_MUTANTS, mutant.name: mutant})
    code = main(["mutants", "--only", "stale-ndots", "--no-baseline", "--tests", SUITE])
    out = capsys.readouterr().out
    assert code == 1
    assert "error (patch does not apply)" in out
    assert "stale-ndots.diff no longer applies to cleanup/_dnsrules.py" in out
    assert "caught 0/1" in out
    assert _digests(CLEANUP) == before


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ten runs of the whole property suite, two at a time
def test_sim_mutants_catches_every_mutant(capsys: pytest.CaptureFixture[str]) -> None:
    """The whole property suite against every mutant (each run stops at its first
    failing test).  The baseline - the suite passing on the real module - is the suite
    itself, which the same test run includes, so it is not run a second time here."""
    code = main(["mutants", "--kind", "injected", "--fail-fast", "--no-baseline", "--tests", SUITE])
    out = capsys.readouterr().out
    assert f"caught {len(MUTANTS)}/{len(MUTANTS)}" in out, out
    assert code == 0

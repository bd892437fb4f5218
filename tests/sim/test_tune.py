"""``sim tune``: statistics, the recommendation, grid parsing, executors, outputs.

Speed is not asserted here (bench/tune_bench.py measures it); these tests check that the
numbers are right and that every way of running the sweep gives the same numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cleanup
from cleanup._cli import build_parser as cleanup_parser
from faultdns.testing import ClosedPort
from sim._cli import main
from sim._scenario import load_scenario
from sim._tune import (
    GridError,
    PolicyStats,
    Sweep,
    build_report,
    pareto_front,
    parse_grid,
    recommend,
    run_sweep,
    wilson_interval,
)

SINGLE = load_scenario("single-node")
SMALL_GRID = "steps=10,30 duration=5s,10s factor=1,1.5"
FIELDS = ("seeds", "outcome", "attempts", "end", "elapsed", "dns_queries", "http_requests",
          "reason")  # fmt: skip


def same(a: Sweep, b: Sweep) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in FIELDS)


# --- Wilson intervals ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (5, 10, 0.236593, 0.763407),  # textbook values (Wilson 1927; Newcombe 1998)
        (0, 10, 0.0, 0.277533),
        (10, 10, 0.722467, 1.0),
        (81, 263, 0.255289, 0.366210),  # Newcombe (1998), table I: 0.2553-0.3662
        (15, 148, 0.062386, 0.160487),  # ibid.: 0.0624-0.1605
    ],
)
def test_wilson_interval_known_values(k: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(k, n)
    assert got[0] == pytest.approx(low, abs=1e-6)
    assert got[1] == pytest.approx(high, abs=1e-6)


@given(n=st.integers(1, 10**6), data=st.data())
def test_wilson_interval_contains_the_estimate_and_is_symmetric(
    n: int, data: st.DataObject
) -> None:
    k = data.draw(st.integers(0, n))
    low, high = wilson_interval(k, n)
    assert 0.0 <= low <= k / n <= high <= 1.0
    mirror = wilson_interval(n - k, n)
    assert mirror[0] == pytest.approx(1 - high, abs=1e-12)
    assert mirror[1] == pytest.approx(1 - low, abs=1e-12)


def test_wilson_interval_shrinks_with_more_samples() -> None:
    widths = [wilson_interval(n * 999 // 1000, n) for n in (1000, 10_000, 100_000)]
    assert [h - lo for lo, h in widths] == sorted((h - lo for lo, h in widths), reverse=True)
    assert wilson_interval(0, 0) == (0.0, 1.0)


# --- Pareto front and the pick -----------------------------------------------------------


def test_pareto_front_by_hand() -> None:
    points = [(10, 50), (20, 30), (15, 60), (30, 30), (20, 30), (5, 100)]
    # (15, 60) is beaten by (10, 50); (30, 30) by (20, 30); the equal pair both stay
    assert pareto_front(points) == [0, 1, 4, 5]


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=30))
def test_pareto_front_is_exactly_the_undominated(points: list[tuple[int, int]]) -> None:
    front = set(pareto_front(points))

    def dominates(a: tuple[int, int], b: tuple[int, int]) -> bool:
        return a[0] <= b[0] and a[1] <= b[1] and a != b

    for i, p in enumerate(points):
        beaten = any(dominates(q, p) for q in points)
        assert (i in front) == (not beaten)


def _stats(name: str, p: float, p95: float | None, dns: float, worst: float = 100.0) -> PolicyStats:
    return PolicyStats(
        name=name, policy={}, samples=1000, successes=round(p * 1000), p_success=p,
        ci_low=0.0, ci_high=1.0, p50=p95, p95=p95, p99=p95, mean_attempts=1.0,
        max_attempts=1, dns_queries=dns, http_requests=0.0,
        give_up={"dns": 0.0, "http": 0.0, "not-retried": 0.0}, blocked_mean=0.0,
        blocked_p99=0.0, blocked_max=0.0, worst_case=worst,
    )  # fmt: skip


def test_recommend_picks_on_the_front_among_policies_meeting_the_target() -> None:
    stats = [
        _stats("fast-noisy", 1.0, 100.0, 400.0),  # 40000
        _stats("balanced", 1.0, 150.0, 60.0),  # 9000: the pick
        _stats("slow-quiet", 1.0, 400.0, 30.0),  # 12000
        _stats("dominated", 1.0, 200.0, 70.0),
        _stats("unreliable", 0.98, 50.0, 10.0),  # best point, misses the target
    ]
    front, pick = recommend(stats, 0.999)
    assert [stats[i].name for i in front] == ["fast-noisy", "balanced", "slow-quiet"]
    assert pick is not None and stats[pick].name == "balanced"
    assert not stats[4].meets_target and not stats[3].on_front


def test_recommend_prefers_the_shorter_worst_case_between_equals() -> None:
    stats = [_stats("long", 1.0, 100.0, 50.0, worst=900.0), _stats("short", 1.0, 100.0, 50.0, 90)]
    _front, pick = recommend(stats, 0.999)
    assert pick is not None and stats[pick].name == "short"


def test_recommend_without_any_policy_meeting_the_target() -> None:
    stats = [_stats("a", 0.90, 100.0, 50.0), _stats("b", 0.95, 300.0, 50.0)]
    front, pick = recommend(stats, 0.999)
    assert front == [] and pick == 1 and not stats[1].meets_target


# --- the grid ------------------------------------------------------------------------


def test_grid_is_the_product_of_its_values() -> None:
    policies = parse_grid("steps=10,30,60 duration=1s,5s,10s factor=1,1.5,2 jitter=0.1,1 "
                          "mode=client-go,full")  # fmt: skip
    # full mode ignores jitter: its 27 policies that differ only in jitter are one each
    assert len(policies) == 3 * 3 * 3 * 2 + 3 * 3 * 3
    assert len({p.name for p in policies}) == len(policies)
    one = next(
        p for p in policies if p.name == "client-go steps=30 duration=5s factor=1.5 jitter=1"
    )
    assert one.backoff == cleanup.Backoff(duration=5.0, factor=1.5, jitter=1.0, steps=30)
    assert one.predicate == "v1.5" and one.deadline is None


def test_grid_defaults_and_budget() -> None:
    [policy] = parse_grid("steps=5", budget=600.0)
    v15 = cleanup.PRESETS["harvester-v1.5"]
    assert policy.backoff == cleanup.Backoff(duration=10.0, factor=1.0, jitter=0.1, steps=5)
    assert policy.deadline == 600.0 and policy.retriable is v15.retriable
    [capped] = parse_grid("cap=1m deadline=none predicate=v1.4", budget=600.0)
    assert capped.backoff.cap == 60.0 and capped.deadline is None and capped.predicate == "v1.4"


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("steps", "'steps'"),
        ("colour=red", "'colour=red'"),
        ("steps=", "'steps='"),
        ("steps=10,,30", "'steps=10,,30'"),
        ("steps=0", "'steps=0'"),
        ("steps=ten", "'steps=ten'"),
        ("duration=10parsecs", "'duration=10parsecs'"),
        ("factor=-1", "'factor=-1'"),
        ("jitter=nan", "'jitter=nan'"),
        ("mode=fast", "'mode=fast'"),
        ("predicate=v2", "'predicate=v2'"),
        ("steps=1 steps=2", "'steps=2'"),
        ("", "grid: empty"),
    ],
)
def test_bad_grid_tokens_exit_64_naming_the_token(
    spec: str, names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(GridError, match=names.replace("(", r"\(")):
        parse_grid(spec)
    assert main(["tune", "--samples", "10", "--jobs", "1", "--grid", spec]) == 64
    assert names in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--samples", "0"], "--samples"),
        (["--target", "1.5"], "--target"),
        (["--budget", "soon"], "--budget"),
        (["--executor", "spark://x"], "--executor"),
        (["--executor", "dask://nohostport"], "--executor"),
        (["--policy", "no-such-policy"], "--policy no-such-policy"),
        (["--compare", "a,,b"], "--compare"),
    ],
)
def test_bad_flags_exit_64_naming_the_flag(
    argv: list[str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tune", "--jobs", "1", *argv]) == 64
    assert names in capsys.readouterr().err


def test_grid_steps_past_the_limit_are_refused_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 9: ``--grid steps=1000000000000`` walked the schedule before anything."""
    assert main(["tune", "--samples", "10", "--jobs", "1", "--grid", "steps=1000000000000"]) == 64
    assert "steps must be at most 1000000" in capsys.readouterr().err


def test_unwritable_out_exits_73_before_the_sweep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["tune", "--samples", "100000000", "--jobs", "1", "--grid", "steps=3",
                 "--out", str(blocker / "out")])  # fmt: skip
    assert code == 73
    assert f"--out {blocker / 'out'}" in capsys.readouterr().err


# --- sweeps: executors agree, Ctrl-C keeps what finished ----------------------------------


def test_pool_and_chunking_do_not_change_results() -> None:
    policies = parse_grid(SMALL_GRID)
    one = run_sweep(SINGLE, policies, samples=600, seed=11, jobs=1, chunk=600)
    pooled = run_sweep(SINGLE, policies, samples=600, seed=11, jobs=2, chunk=150)
    assert same(one, pooled)
    assert one.seeds.tolist() == list(range(11, 611))


def test_dask_executor_gives_the_local_results() -> None:
    distributed = pytest.importorskip("distributed")
    policies = parse_grid(SMALL_GRID)
    local = run_sweep(SINGLE, policies, samples=500, seed=3, jobs=1)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://",
        host="127.0.0.1", dashboard_address=None,
    ) as cluster:  # fmt: skip
        address = cluster.scheduler_address.split("://", 1)[1]
        remote = run_sweep(SINGLE, policies, samples=500, seed=3, executor=f"dask://{address}",
                           chunk=120)  # fmt: skip
    assert same(local, remote)


def test_unreachable_dask_scheduler_exits_69(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr("sim._tune._sweep.DASK_CONNECT_TIMEOUT", 0.5)
    with ClosedPort() as closed:  # a port nobody listens on
        code = main(["tune", "--samples", "10", "--grid", "steps=3",
                     "--executor", f"dask://{closed.hostport}"])  # fmt: skip
    assert code == 69
    assert "cannot reach the scheduler" in capsys.readouterr().err


def test_interrupt_keeps_the_finished_chunks() -> None:
    policies = parse_grid(SMALL_GRID)
    calls = []

    def progress(worlds: int) -> None:
        calls.append(worlds)
        if len(calls) == 2:
            raise KeyboardInterrupt

    cut = run_sweep(SINGLE, policies, samples=1000, seed=0, jobs=1, chunk=200,
                    progress=progress)  # fmt: skip
    assert cut.interrupted and cut.worlds == 400 and cut.requested == 1000
    full = run_sweep(SINGLE, policies, samples=400, seed=0, jobs=1, chunk=200)
    assert same(cut, full)


def test_an_empty_sweep_has_the_arrays_of_a_real_one() -> None:
    """The per-world fields are listed once (``ResultArrays``, issue 12): the arrays of a
    sweep that finished no chunk have the fields, dtypes and (policies, 0) shape of a
    real sweep's."""
    from sim._evaluate import ResultArrays

    policies = parse_grid(SMALL_GRID)
    real = run_sweep(SINGLE, policies, samples=50, seed=0, jobs=1)
    empty = ResultArrays.zeros((len(policies), 0))
    assert list(empty) == list(ResultArrays.names()) == [
        "outcome", "attempts", "end", "elapsed", "dns_queries", "http_requests", "reason",
    ]  # fmt: skip
    for name, array in empty.items():
        assert array.dtype == getattr(real, name).dtype, name
        assert array.shape == (len(policies), 0)
        assert getattr(real, name).shape == (len(policies), 50)


# --- the command -----------------------------------------------------------------------


def test_tune_writes_report_csv_policy_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["tune", "--samples", "800", "--jobs", "1", "--grid", SMALL_GRID,
                 "--budget", "600s", "--target", "0.99", "--out", str(out), "--json"])  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)  # stdout is the JSON alone
    report = json.loads((out / "report.json").read_text())
    assert printed["policies"] == report["policies"]
    assert report["samples"] == 800 and report["pick"] is not None
    assert set(report["named"]) == {"harvester-v1.4", "harvester-v1.5"}
    assert report["pick"] in report["front"]
    by_name = {p["name"]: p for p in report["policies"]}
    pick = by_name[report["pick"]]
    assert pick["p_success"] >= 0.99 and pick["ci_low"] <= pick["p_success"] <= pick["ci_high"]
    # the fix is visible: v1.4 gives up on "no such host" in a good share of worlds
    assert by_name["harvester-v1.4"]["give_up"]["not-retried"] > 0.2
    assert by_name["harvester-v1.5"]["p_success"] > by_name["harvester-v1.4"]["p_success"]

    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + len(report["policies"])

    # the saved policy is what cleanup run --policy FILE reads, and equals the flags
    saved = cleanup.get_policy(out / "recommended.toml")
    assert saved.backoff.to_dict() == pick["policy"]["backoff"]
    assert saved.deadline == 600.0
    flags = report["cleanup_flags"].split()
    assert flags[:2] == ["cleanup", "run"]
    if "--steps" in flags:
        args = cleanup_parser().parse_args(
            ["run", "--repo-url", "http://x", "--previous-version", "v1", *flags[2:]]
        )
        from cleanup._cli import _policy

        assert _policy(args).backoff == saved.backoff

    for name in ("success_vs_time.png", "completion_cdf.png", "pareto.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        import matplotlib.image

        image = matplotlib.image.imread(out / name)
        assert image.shape[0] > 200 and image.shape[1] > 300


def test_compare_prints_the_headline_on_the_same_worlds(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tune", "--samples", "500", "--jobs", "1", "--grid", SMALL_GRID,
                 "--compare", "harvester-v1.4,harvester-v1.5,recommended"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    for name in ("harvester-v1.4: P(success) =", "harvester-v1.5: P(success) =",
                 "recommended ("):  # fmt: skip
        assert name in out
    assert "500 worlds" in out


def test_report_statistics_match_the_raw_results() -> None:
    policies = parse_grid(SMALL_GRID)
    sweep = run_sweep(SINGLE, policies, samples=700, seed=9, jobs=1)
    report = build_report(sweep, [], 0.999, None, 9)
    for i, s in enumerate(report.stats):
        ok = sweep.outcome[i] == 0
        assert s.successes == int(ok.sum())
        if s.successes:
            assert s.p95 == pytest.approx(float(np.percentile(sweep.elapsed[i][ok], 95)))
        assert s.dns_queries == pytest.approx(float(sweep.dns_queries[i].mean()))
        assert math.fsum(s.give_up.values()) == pytest.approx(1 - s.p_success)
        assert s.blocked_max == pytest.approx(float(sweep.elapsed[i].max()))


def test_tune_parser_is_part_of_sim() -> None:
    from sim._cli import build_parser

    args = build_parser().parse_args(["tune", "--samples", "5", "--seed", "7"])
    assert isinstance(args, argparse.Namespace) and args.command == "tune" and args.seed == 7


def test_named_policy_from_a_file_is_evaluated_next_to_the_grid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A policy file (what ``--out`` writes) is a named policy like a preset."""
    policy = cleanup.get_policy("harvester-v1.5", steps=12, duration="2s", factor=1.5)
    path = tmp_path / "mine.toml"
    path.write_text(cleanup.policy_to_toml(policy))
    code = main(["tune", "--samples", "300", "--jobs", "1", "--grid", "steps=5",
                 "--policy", str(path), "--json"])  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["named"] == [str(path)]
    mine = next(p for p in report["policies"] if p["name"] == str(path))
    assert mine["policy"]["backoff"]["steps"] == 12 and report["pick"] != str(path)


@pytest.mark.parametrize(
    "token", ["steps=\uff12", "factor=\uff11.5", "jitter=\u0661", "duration=\uff15s"]
)
def test_grid_numbers_are_ascii_only(token: str) -> None:
    """A grid token written with another script's digits is refused naming the token
    (int() and float() would read them)."""
    with pytest.raises(GridError, match=re.escape(f"grid token {token!r}")):
        parse_grid(token)

"""Rule selection, without a network (faultdns._select): which queries a rule matches,
when it is active (window, counts, seeded draws), the first active rule winning while
every matching rule counts, and the index that finds a name's rules."""

from __future__ import annotations

import math

import pytest

from faultdns._faults import parse_fault
from faultdns._select import RuleIndex, RuleState, select_rule

# -- matching ------------------------------------------------------------------------


def test_matches_name_glob_type_and_proto() -> None:
    rule = parse_fault("nxdomain match=Upgrade-Repo-*.svc.cluster.local qtype=A proto=udp")
    assert rule.matches("upgrade-repo-x.svc.cluster.local", "A", "udp")
    assert not rule.matches("upgrade-repo-x.svc.cluster.local", "AAAA", "udp")
    assert not rule.matches("upgrade-repo-x.svc.cluster.local", "A", "tcp")
    assert not rule.matches("other.svc.cluster.local", "A", "udp")


@pytest.mark.parametrize("spec", ["truncate", "truncate=512", "tcponly", "tcponly proto=udp"])
def test_tc_actions_match_udp_only_unless_proto_tcp(spec: str) -> None:
    rule = parse_fault(spec)
    assert rule.matches("a.test", "A", "udp")
    assert not rule.matches("a.test", "A", "tcp")


@pytest.mark.parametrize("spec", ["truncate proto=tcp", "truncate=512 proto=tcp"])
def test_truncate_with_proto_tcp_matches_tcp_only(spec: str) -> None:
    rule = parse_fault(spec)
    assert rule.matches("a.test", "A", "tcp")
    assert not rule.matches("a.test", "A", "udp")


@pytest.mark.parametrize("spec", ["lame", "rcode=NOTIMP", "rcode=BADVERS"])
def test_header_actions_match_both_transports(spec: str) -> None:
    rule = parse_fault(spec)
    assert rule.matches("a.test", "A", "udp") and rule.matches("a.test", "A", "tcp")


def test_answer_matches_its_family() -> None:
    v4, v6 = parse_fault("answer=10.0.0.9"), parse_fault("answer=::9")
    assert v4.matches("a.test", "A", "udp") and not v4.matches("a.test", "AAAA", "udp")
    assert v6.matches("a.test", "AAAA", "tcp") and not v6.matches("a.test", "A", "tcp")


# -- activation ----------------------------------------------------------------------


def _state(spec: str, seed: int = 1, rule_id: str = "r1") -> RuleState:
    return RuleState(parse_fault(spec).with_id(rule_id), seed)


def _fires(state: RuleState, times: list[float]) -> list[bool]:
    return [select_rule([state], t) is state for t in times]


def test_window_is_half_open() -> None:
    state = _state("nxdomain after=10s for=5s")
    assert _fires(state, [0, 9.999, 10, 14.999, 15, 100]) == [
        False,
        False,
        True,
        True,
        False,
        False,
    ]
    assert (state.seen, state.fired) == (6, 2)


def test_for_alone_starts_at_zero_and_after_alone_never_ends() -> None:
    assert _fires(_state("nxdomain for=30s"), [0, 29.9, 30]) == [True, True, False]
    assert _fires(_state("nxdomain after=1m"), [59, 60, 1e9]) == [False, True, True]


def test_first_every_count() -> None:
    assert _fires(_state("drop first=2"), [0] * 5) == [True, True, False, False, False]
    assert _fires(_state("drop every=3"), [0] * 7) == [False, False, True] * 2 + [False]
    assert _fires(_state("drop count=2"), [0] * 4) == [True, True, False, False]
    # every=2 with count=2: the 2nd and 4th match fire, then the budget is spent.
    assert _fires(_state("drop every=2 count=2"), [0] * 8) == [False, True] * 2 + [False] * 4


def test_count_only_spends_inside_the_window() -> None:
    state = _state("servfail after=5 for=5 count=1")
    assert _fires(state, [0, 1, 5, 6, 7]) == [False, False, True, False, False]


def test_probability_is_seeded() -> None:
    def run(seed: int) -> list[bool]:
        return _fires(_state("servfail p=0.3", seed=seed), [0] * 200)

    first = run(7)
    assert first == run(7)
    assert first != run(8)
    assert 20 < sum(first) < 100  # p=0.3 of 200, far from 0 and 200
    assert not any(_fires(_state("servfail p=0"), [0] * 50))
    assert all(_fires(_state("servfail p=1"), [0] * 50))


def test_probability_does_not_depend_on_other_rules() -> None:
    alone = _state("servfail p=0.5", seed=3, rule_id="r2")
    sequence = _fires(alone, [0] * 50)
    behind = _state("servfail p=0.5", seed=3, rule_id="r2")
    ahead = _state("drop every=2", seed=3, rule_id="r1")
    winners = [select_rule([ahead, behind], 0) for _ in range(50)]
    # When the ahead rule wins, the behind rule does not draw; whenever it draws,
    # the draws come from its own stream in the same order.
    drawn = [w is behind for w in winners if w is not ahead]
    assert len(drawn) == 25
    assert drawn == sequence[: len(drawn)]
    assert behind.seen == 50


def test_first_matching_active_rule_wins_and_all_matching_rules_count() -> None:
    first = _state("nxdomain for=10s", rule_id="r1")
    second = _state("servfail first=3", rule_id="r2")
    winners = [select_rule([first, second], t) for t in (0, 5, 10, 11, 12)]
    # r1 takes the window; r2's first=3 counts the queries r1 took, so only t=10 is left.
    assert winners == [first, first, second, None, None]
    assert (first.seen, first.fired, second.seen, second.fired) == (5, 2, 5, 1)


def test_rule_state_snapshot() -> None:
    state = _state("drop first=1")
    select_rule([state], 0)
    select_rule([state], 0)
    assert state.snapshot() == {"id": "r1", "spec": "drop first=1", "seen": 2, "fired": 1}


def test_no_window_means_unbounded() -> None:
    state = _state("drop")
    assert state.lo == -math.inf and state.hi == math.inf


# -- the rule index: plain names looked up, not tested one by one (issue 10 review) ----


def test_the_index_yields_exactly_the_matching_rules_in_order() -> None:
    """Plain-name and glob rules interleaved: for every name, the candidates that
    match are the rules that match, in evaluation order (first match wins)."""
    import random

    rng = random.Random(10)
    names = ["a.test", "b.test", "x.a.test", "c.other", "ab.test"]
    patterns = [*names, "*", "*.test", "?.test", "[ab].test", "*.a.test", "a*"]
    states = tuple(
        RuleState(parse_fault(f"nxdomain match={rng.choice(patterns)}").with_id(str(i)), 1)
        for i in range(300)
    )
    index = RuleIndex(states)
    for name in [*names, "zzz.example"]:
        expected = [s.rule.id for s in states if s.rule.matches(name, "A", "udp")]
        got = [s.rule.id for s in index.candidates(name) if s.rule.matches(name, "A", "udp")]
        assert got == expected, name


def test_32000_plain_name_rules_give_each_name_only_its_own() -> None:
    """The issue's 32,000-rule plan: each name's candidates are its own rule (and the
    globs), not all 32,000 (the time per query is a bench figure, not asserted)."""
    plain = [
        RuleState(parse_fault(f"servfail match=host{i}.test").with_id(str(i)), 1)
        for i in range(32_000)
    ]
    states = (*plain, RuleState(parse_fault("nxdomain match=*.test").with_id("glob"), 1))
    index = RuleIndex(states)
    assert [s.rule.id for s in index.candidates("host31999.test")] == ["31999", "glob"]
    assert [s.rule.id for s in index.candidates("nobody.test")] == ["glob"]

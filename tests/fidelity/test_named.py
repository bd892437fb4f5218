"""Named differential cases (``sim/_fidelity/_named.py``): the seven deviations listed in
issue 8, the review's findings (``finding-N-...``) and plain ones, one test each.

Each runs its case on Go 1.23 (the probe) and on our cleanup and asserts agreement on
every compared field; a failure prints the case, Go's record(s), ours and the fields
that differ.  Cases needing a faultdns action that is not merged yet are skipped,
computed at import, naming the action, so they run as soon as faultdns has it.  A few
tests also pin what Go itself does, so the case keeps testing what it is named after.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sim._fidelity import GO_RUNS, Case, Verdict, default_oracle
from sim._fidelity._named import NAMED, runnable

Oracle = Callable[[Case], Verdict]


def check(oracle: Oracle, name: str) -> Verdict:
    verdict = oracle(NAMED[name].case)
    assert verdict.agrees, verdict.explain()
    return verdict


PLAIN = [name for name in NAMED if not name.startswith(("deviation-", "finding-"))]
DEVIATIONS = [name for name in NAMED if name.startswith("deviation-")]
# The review of issue 8's first round (findings 1-8): some fail until the resolver and
# HTTP fixes that go with them are merged.
FINDINGS = [name for name in NAMED if name.startswith("finding-")]


def _param(name: str) -> object:
    reason = runnable(NAMED[name])
    return pytest.param(name, marks=pytest.mark.skipif(bool(reason), reason=reason), id=name)


@pytest.mark.parametrize("name", [_param(n) for n in PLAIN])
def test_plain_case(oracle: Oracle, name: str) -> None:
    check(oracle, name)


@pytest.mark.parametrize("name", [_param(n) for n in DEVIATIONS])
def test_issue_8_deviation(oracle: Oracle, name: str) -> None:
    check(oracle, name)


# True A/AAAA ties race in Go itself, with a split that depends on the machine (one CI run
# saw A last in all 48 Go runs, the session's machine about 4 in 5): they are checked
# against the race's specification below, not against a sample of Go's runs.
TIES = ("finding-2-tie-a-servfail", "finding-2-tie-aaaa-servfail")


@pytest.mark.parametrize("name", [_param(n) for n in FINDINGS if n not in TIES])
def test_review_finding(oracle: Oracle, name: str) -> None:
    check(oracle, name)


# --- what Go does in the cases named after it (so the cases keep their meaning) --------


def test_go_refused_is_not_temporary_and_both_servers_are_asked(oracle: Oracle) -> None:
    go = oracle(NAMED["deviation-1-refused"].case).go[0]
    assert go.dns is not None and go.dns["err"] == "server misbehaving"
    assert not go.dns["is_temporary"]
    assert {line.split()[0] for line in go.queries["A"]} == {"ns0", "ns1"}


def test_go_timeout_is_timeout_and_temporary(oracle: Oracle) -> None:
    go = oracle(NAMED["deviation-2-timeout"].case).go[0]
    assert go.dns is not None and go.dns["is_timeout"] and go.dns["is_temporary"]


def test_go_reports_the_error_that_completes_last(oracle: Oracle) -> None:
    # A needs two exchanges (SERVFAIL, retried), AAAA one (NXDOMAIN): A completes last
    # in nearly every run.  Not in all: Go's goroutines race, and the AAAA one was
    # scheduled late in 3 of 288 runs measured, so "every run" would fail by chance.
    case = NAMED["deviation-3-last-completing-error"].case
    errors = [go.dns["err"] if go.dns else "" for go in default_oracle().run_go(case, GO_RUNS)]
    assert errors.count("server misbehaving") >= 0.8 * len(errors), errors


def test_go_use_vc_asks_over_tcp_only(oracle: Oracle) -> None:
    go = oracle(NAMED["deviation-6-use-vc"].case).go[0]
    assert go.queries["A"] and all(" tcp " in q for q in go.queries["A"] + go.queries["AAAA"])


def test_go_http_timeout_is_one_deadline(oracle: Oracle) -> None:
    go = oracle(NAMED["deviation-7-lookup-and-silence"].case).go[0]
    assert go.timeout and 0.9 <= go.elapsed < 1.3


def test_go_http_404_is_not_retried(oracle: Oracle) -> None:
    go = oracle(NAMED["http-404"].case).go[0]
    assert (go.outcome, go.status) == ("status", 404)
    assert go.retriable == {"v1.4": False, "v1.5": False}


def test_go_status_500_is_not_retried_whatever_the_body_does(oracle: Oracle) -> None:
    go = oracle(NAMED["finding-3-status500-reset-in-body"].case).go[0]
    assert (go.outcome, go.status, go.errno) == ("status", 500, "")
    assert go.retriable == {"v1.4": False, "v1.5": False}


def test_go_status_404_does_not_wait_for_a_silent_body(oracle: Oracle) -> None:
    go = oracle(NAMED["finding-3-status404-silent-body"].case).go[0]
    assert (go.outcome, go.status, go.timeout) == ("status", 404, False)
    assert go.elapsed < 1.0 and go.retriable == {"v1.4": False, "v1.5": False}


def test_go_empty_name_gets_a_verdict(oracle: Oracle) -> None:
    verdict = oracle(NAMED["finding-8-empty-name"].case)
    assert verdict.go[0].outcome == "error"


@pytest.mark.parametrize("name", TIES)
def test_tie_gives_the_error_of_one_lane(oracle: Oracle, name: str) -> None:
    """goLookupIPCNAME keeps the error that completes last for the name as given: on a
    tie that is the SERVFAIL lane's "server misbehaving" or the NXDOMAIN lane's "no
    such host", for Go and for ours alike."""
    verdict = oracle(NAMED[name].case)
    allowed = {"server misbehaving", "no such host"}
    assert verdict.ours.dns is not None and verdict.ours.dns["err"] in allowed
    assert {g.dns["err"] for g in verdict.go if g.dns is not None} <= allowed

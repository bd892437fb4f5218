"""Named differential cases: the deviations listed in issue 8, and plain ones.

Each test runs one :class:`~sim._fidelity.Case` on Go 1.23 (the probe) and on our
cleanup and asserts they agree on every compared field (``sim/_fidelity/_record.py``);
a failure prints the case, Go's record(s), ours and the fields that differ.  Cases
needing faultdns actions that are not merged yet are skipped, computed at import, with
the action named, so they run as soon as faultdns understands it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sim._fidelity import Case, ServerPlan, Verdict
from tests.fidelity.conftest import supported

Oracle = Callable[[Case], Verdict]

# What a Harvester pod's resolv.conf says (the reference file), with a 1 s timeout and
# one attempt where a case would otherwise cost seconds per dead server.
CLUSTER = (
    "search harvester-system.svc.cluster.local svc.cluster.local cluster.local\n"
    "nameserver {ns0}\n"
    "options ndots:5\n"
)
QUICK = "nameserver {ns0}\noptions timeout:1 attempts:1\n"
REPO = "upgrade-repo-x.harvester-system"
REPO_FQDN = "upgrade-repo-x.harvester-system.svc.cluster.local"


def needs(spec: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not supported(spec), reason=f"faultdns does not understand {spec!r} yet"
    )


def check(oracle: Oracle, case: Case) -> Verdict:
    verdict = oracle(case)
    assert verdict.agrees, verdict.explain()
    return verdict


def up(*faults: str) -> ServerPlan:
    return ServerPlan(tuple(faults))


DOWN = ServerPlan(down=True)


# --- plain cases ----------------------------------------------------------------------


def test_answer_through_the_search_list(oracle: Oracle) -> None:
    case = Case(CLUSTER, (up(),), lookup=REPO, records=(f"{REPO_FQDN}=10.53.1.7",), label="answer")
    assert check(oracle, case).go[0].addresses == ("10.53.1.7",)


def test_nxdomain_for_every_candidate(oracle: Oracle) -> None:
    check(oracle, Case(CLUSTER, (up(),), lookup=REPO, label="nxdomain everywhere"))


def test_nodata_for_every_candidate(oracle: Oracle) -> None:
    check(oracle, Case(CLUSTER, (up("nodata"),), lookup=REPO, label="nodata everywhere"))


def test_servfail_everywhere(oracle: Oracle) -> None:
    check(oracle, Case(CLUSTER, (up("servfail"),), lookup=REPO, label="servfail"))


def test_down_nameserver_then_answer(oracle: Oracle) -> None:
    conf = "nameserver {ns0}\nnameserver {ns1}\noptions timeout:1 attempts:1\n"
    case = Case(conf, (DOWN, up()), lookup="repo.test.", records=("repo.test=10.0.0.9",))
    check(oracle, case)


def test_every_nameserver_down(oracle: Oracle) -> None:
    check(oracle, Case(QUICK, (DOWN,), lookup="repo.test.", label="down"))


def test_cname_chain(oracle: Oracle) -> None:
    records = ("a.test CNAME b.test", "b.test CNAME c.test", "c.test=10.0.0.3")
    check(oracle, Case(QUICK, (up(),), lookup="a.test.", records=records, label="cname chain"))


def test_ip_literal(oracle: Oracle) -> None:
    check(oracle, Case(QUICK, (up(),), lookup="10.1.2.3", label="IP literal"))


def test_http_ok(oracle: Oracle) -> None:
    case = Case(CLUSTER, (up(),), get=f"http://{REPO}", records=(f"{REPO_FQDN}={{http}}",))
    assert check(oracle, case).go[0].outcome == "addresses"


def test_http_connection_refused(oracle: Oracle) -> None:
    records = (f"{REPO_FQDN}={{refused}}",)
    check(oracle, Case(CLUSTER, (up(),), get=f"http://{REPO}", records=records, label="refused"))


def test_http_not_found_is_not_retried(oracle: Oracle) -> None:
    records = (f"{REPO_FQDN}={{http}}",)
    case = Case(CLUSTER, (up(),), get=f"http://{REPO}", records=records, http="status=404")
    verdict = check(oracle, case)
    assert verdict.go[0].retriable == {"v1.4": False, "v1.5": False}


def test_http_redirect_is_followed(oracle: Oracle) -> None:
    records = (f"{REPO_FQDN}={{http}}",)
    check(oracle, Case(CLUSTER, (up(),), get=f"http://{REPO}", records=records, http="redirect"))


def test_http_reset(oracle: Oracle) -> None:
    records = (f"{REPO_FQDN}={{http}}",)
    check(oracle, Case(CLUSTER, (up(),), get=f"http://{REPO}", records=records, http="reset"))


def test_http_eof_mid_body(oracle: Oracle) -> None:
    records = (f"{REPO_FQDN}={{http}}",)
    check(oracle, Case(CLUSTER, (up(),), get=f"http://{REPO}", records=records, http="eof-body"))


def test_http_silent_at_connect(oracle: Oracle) -> None:
    records = (f"{REPO_FQDN}={{blackhole}}",)
    check(oracle, Case(CLUSTER, (up(),), get=f"http://{REPO}", records=records, timeout=1.0))


# --- the deviations of issue 8 --------------------------------------------------------


def test_deviation_1_refused_is_misbehaving_not_temporary_and_next_server_is_tried(
    oracle: Oracle,
) -> None:
    conf = "nameserver {ns0}\nnameserver {ns1}\noptions timeout:1 attempts:1\n"
    verdict = check(oracle, Case(conf, (up("refused"), up("refused")), lookup="repo.test."))
    assert verdict.go[0].dns is not None and not verdict.go[0].dns["is_temporary"]
    assert {line.split()[0] for line in verdict.go[0].queries["A"]} == {"ns0", "ns1"}


@needs("rcode=NOTIMP")
def test_deviation_1_notimp_is_misbehaving_not_temporary(oracle: Oracle) -> None:
    conf = "nameserver {ns0}\nnameserver {ns1}\noptions timeout:1 attempts:1\n"
    check(oracle, Case(conf, (up("rcode=NOTIMP"), up("rcode=NOTIMP")), lookup="repo.test."))


@needs("rcode=FORMERR")
def test_deviation_1_formerr_then_answer_from_the_next_server(oracle: Oracle) -> None:
    conf = "nameserver {ns0}\nnameserver {ns1}\noptions timeout:1 attempts:1\n"
    case = Case(
        conf, (up("rcode=FORMERR"), up()), lookup="repo.test.", records=("repo.test=10.0.0.4",)
    )
    check(oracle, case)


def test_deviation_2_dns_timeout_is_timeout_and_temporary(oracle: Oracle) -> None:
    verdict = check(oracle, Case(QUICK, (up("drop"),), lookup="repo.test.", label="timeout"))
    dns = verdict.go[0].dns
    assert dns is not None and dns["is_timeout"] and dns["is_temporary"]


def test_deviation_3_error_of_the_last_completing_query_for_the_name_as_given(
    oracle: Oracle,
) -> None:
    # Exactly the example: the search candidates answer NXDOMAIN; for the name
    # as given A answers SERVFAIL and AAAA NXDOMAIN.  Go reports "server misbehaving".
    case = Case(
        CLUSTER,
        (up(f"servfail match={REPO} qtype=A", "nxdomain"),),
        lookup=REPO,
        label="deviation 3",
    )
    check(oracle, case)


@needs("truncate=512")
def test_deviation_4_tc_reply_cut_mid_record_goes_to_tcp(oracle: Oracle) -> None:
    records = tuple(f"big.test=10.0.{i // 250}.{i % 250 + 1}" for i in range(60))
    check(oracle, Case(QUICK, (up("truncate=512"),), lookup="big.test.", records=records))


@needs("rcode=16")
def test_deviation_5_extended_rcode_in_opt(oracle: Oracle) -> None:
    case = Case(QUICK, (up("rcode=16"),), lookup="repo.test.", records=("repo.test=10.0.0.5",))
    check(oracle, case)


def test_deviation_6_comment_after_nameserver(oracle: Oracle) -> None:
    conf = "nameserver {ns0} # cluster dns\noptions timeout:1 attempts:1\n"
    check(oracle, Case(conf, (up(),), lookup="repo.test.", records=("repo.test=10.0.0.6",)))


def test_deviation_6_bad_ndots_value(oracle: Oracle) -> None:
    conf = "search svc.cluster.local\nnameserver {ns0}\noptions ndots:five timeout:1\n"
    records = ("a.b.svc.cluster.local=10.0.0.8",)
    check(oracle, Case(conf, (up(),), lookup="a.b", records=records, label="ndots:five"))


def test_deviation_6_empty_search(oracle: Oracle) -> None:
    conf = "search\nnameserver {ns0}\noptions timeout:1 attempts:1\n"
    check(oracle, Case(conf, (up(),), lookup="repo", records=("repo=10.0.0.2",)))


def test_deviation_6_single_request_sends_a_then_aaaa(oracle: Oracle) -> None:
    conf = "search a.test b.test\nnameserver {ns0}\noptions ndots:2 single-request timeout:1\n"
    check(oracle, Case(conf, (up(),), lookup="repo", label="single-request"))


def test_deviation_6_single_request_waits_for_a_before_sending_aaaa(oracle: Oracle) -> None:
    # Both silent: in sequence that is a timeout for A, then one for AAAA (2 s, not 1 s).
    conf = "nameserver {ns0}\noptions single-request timeout:1 attempts:1\n"
    check(oracle, Case(conf, (up("drop"),), lookup="repo.test.", label="single-request drop"))


def test_deviation_6_use_vc_queries_over_tcp_only(oracle: Oracle) -> None:
    conf = "nameserver {ns0}\noptions use-vc timeout:1 attempts:1\n"
    verdict = check(
        oracle, Case(conf, (up(),), lookup="repo.test.", records=("repo.test=10.0.0.1",))
    )
    assert all(" tcp " in q for q in verdict.go[0].queries["A"])


def test_deviation_6_search_domain_with_a_label_over_63_bytes_is_skipped(oracle: Oracle) -> None:
    conf = f"search {'x' * 64}.test ok.test\nnameserver {{ns0}}\noptions ndots:2 timeout:1\n"
    case = Case(conf, (up(),), lookup="repo", records=("repo.ok.test=10.0.0.3",))
    check(oracle, case)


def test_deviation_7_one_deadline_over_lookup_connect_and_headers(oracle: Oracle) -> None:
    # Timeout 1 s, a 0.8 s DNS delay and a server that never answers: Go fails at 1.0 s.
    records = ("repo.test={http}",)
    case = Case(
        QUICK,
        (up("delay=800ms"),),
        get="http://repo.test.",
        records=records,
        http="silent-headers",
        timeout=1.0,
        label="deviation 7: lookup + silence",
    )
    check(oracle, case)


def test_deviation_7_dribbled_headers_hit_the_client_timeout(oracle: Oracle) -> None:
    # Headers one byte per 0.5 s, timeout 3 s: Go gives up at 3 s (ours took 31 s).
    records = ("repo.test={http}",)
    case = Case(
        QUICK,
        (up(),),
        get="http://repo.test.",
        records=records,
        http="dribble-headers=0.5x62",
        timeout=3.0,
        label="deviation 7: dribbled headers",
    )
    check(oracle, case)

"""Go 1.23's lookup rules, pure (``cleanup._dnsrules``): messages built with dnslib.

Each expectation is what Go's source does (function named in the test) and, where
marked, what Go 1.23.9 answered when asked with a throwaway program.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import get_args

import dnslib
import pytest

from cleanup._dnsrules import (
    OUTCOMES,
    QTYPE_A,
    QTYPE_AAAA,
    ExchangeOutcome,
    LookupFold,
    QueryOutcome,
    QueryResult,
    Verdict,
    build_query,
    candidate_names,
    completion_order,
    deadline_error,
    encode_name,
    ended_walk,
    is_domain_name,
    judge_reply,
    marshal_error,
    outcome_error,
    read_head,
    rotation_order,
    server_sequence,
    simulate_lookup,
    start_order,
    walk_query,
)

NAME = "repo.test."


def reply(
    qtype: str = "A",
    *,
    rcode: int = 0,
    aa: bool = False,
    ra: bool = True,
    tc: bool = False,
    answers: tuple[dnslib.RR, ...] = (),
    additional: tuple[dnslib.RR, ...] = (),
    qid: int = 7,
    name: str = NAME,
) -> dnslib.DNSRecord:
    record = dnslib.DNSRecord(
        dnslib.DNSHeader(id=qid, qr=1, aa=int(aa), ra=int(ra), tc=int(tc), rcode=rcode),
        q=dnslib.DNSQuestion(name, getattr(dnslib.QTYPE, qtype)),
    )
    for rr in answers:
        record.add_answer(rr)
    for rr in additional:
        record.add_ar(rr)
    return record


def a_rr(address: str = "10.0.0.7", name: str = NAME) -> dnslib.RR:
    return dnslib.RR(name, dnslib.QTYPE.A, rdata=dnslib.A(address), ttl=30)


def judge(
    record: dnslib.DNSRecord | bytes | bytearray, qtype: int = QTYPE_A, transport: str = "udp"
) -> str:
    data = bytes(record) if isinstance(record, (bytes, bytearray)) else record.pack()
    return judge_reply(data, 7, NAME, qtype, transport).outcome


# -- names ---------------------------------------------------------------------------------


def test_search_domain_with_a_long_label_is_a_candidate_that_cannot_be_marshalled() -> None:
    """Go ``nameList`` keeps it (254-byte rule only); ``newRequest`` then fails."""
    long = "x" * 64 + ".example"
    names = candidate_names("repo", [long, "ok.example"], 1)
    assert names == [f"repo.{long}.", "repo.ok.example.", "repo."]
    assert marshal_error(names[0]) and not marshal_error(names[1])


def test_root_domain_suffix_gives_an_empty_label() -> None:
    """``domain .`` in resolv.conf: Go's search list is ["."], the candidate "repo.."."""
    assert candidate_names("repo", ["."], 1) == ["repo..", "repo."]
    assert marshal_error("repo..")


def test_254_byte_rule_counts_bytes() -> None:
    name = ".".join(["a" * 50] * 5)  # 254 bytes, not rooted
    assert len(name) == 254
    assert candidate_names(name, [], 1) == []
    assert not is_domain_name(name)
    assert is_domain_name(name[:-1] + ".")


def test_encode_name_is_go_name_pack() -> None:
    assert encode_name("a.b.") == b"\x01a\x01b\x00"
    assert encode_name(".") == b"\x00"
    assert encode_name("a#.b.") == b"\x02a#\x01b\x00"  # Go checks no characters
    assert encode_name("a.b") is None
    assert encode_name("a" * 63 + ".") is not None
    assert encode_name("a" * 64 + ".") is None


def test_server_sequence_rounds_and_rotation() -> None:
    assert server_sequence(3, 2) == [0, 1, 2, 0, 1, 2]
    assert server_sequence(3, 1, offset=4) == [1, 2, 0]


def test_query_is_what_go_sends() -> None:
    wire = build_query(0x1234, NAME, QTYPE_AAAA)
    parsed = dnslib.DNSRecord.parse(wire)
    assert parsed.header.id == 0x1234 and parsed.header.rd == 1 and parsed.header.ad == 0
    assert str(parsed.q.qname) == NAME and parsed.q.qtype == dnslib.QTYPE.AAAA
    opt = parsed.ar[0]
    assert opt.rtype == dnslib.QTYPE.OPT and opt.rclass == 1232 and opt.ttl == 0
    with pytest.raises(ValueError, match="cannot marshal"):
        build_query(1, "x" * 64 + ".", QTYPE_A)


# -- judging one reply ----------------------------------------------------------------------


def test_answer_nxdomain_nodata() -> None:
    verdict = judge_reply(reply(answers=(a_rr(),)).pack(), 7, NAME, QTYPE_A, "udp")
    assert (verdict.outcome, verdict.addresses) == ("answer", ("10.0.0.7",))
    assert judge(reply(rcode=3)) == "nxdomain"
    assert judge(reply("AAAA", aa=True), QTYPE_AAAA) == "nodata"


def test_cname_chain_then_address() -> None:
    cname = dnslib.RR(NAME, dnslib.QTYPE.CNAME, rdata=dnslib.CNAME("b.test."), ttl=5)
    verdict = judge_reply(
        reply(answers=(cname, a_rr(name="b.test."))).pack(), 7, NAME, QTYPE_A, "udp"
    )
    assert verdict.addresses == ("10.0.0.7",)
    # a CNAME without the asked type: skipToAnswer reaches the end, "no such host"
    assert judge(reply(answers=(cname,))) == "nodata"


@pytest.mark.parametrize(
    ("rcode", "outcome"),
    [(2, "servfail"), (5, "rcode"), (4, "rcode"), (1, "rcode"), (9, "rcode")],
)
def test_every_rcode_but_servfail_and_nxdomain_is_misbehaving(rcode: int, outcome: str) -> None:
    assert judge(reply(rcode=rcode)) == outcome


def test_lame_referral_needs_nothing_at_all() -> None:
    """Go ``checkHeader``: NOERROR, no answer, no additional, neither AA nor RA."""
    assert judge(reply(ra=False)) == "lame"
    ns_rr = dnslib.RR("test.", dnslib.QTYPE.NS, rdata=dnslib.NS("ns.test."), ttl=5)
    lame_with_authority = reply(ra=False)
    lame_with_authority.add_auth(ns_rr)
    assert judge(lame_with_authority) == "lame"  # authority records do not count
    # an OPT record is an additional record: no longer lame, just NODATA
    assert judge(reply(ra=False, additional=(dnslib.EDNS0(udp_len=1232),))) == "nodata"


def test_extended_rcode_badvers_is_misbehaving_not_temporary() -> None:
    """Header NOERROR + OPT extended rcode 1 = BADVERS (16): Go ``extractExtendedRCode``."""
    record = reply(answers=(a_rr(),), additional=(dnslib.EDNS0(udp_len=1232, ext_rcode=1),))
    verdict = judge_reply(record.pack(), 7, NAME, QTYPE_A, "udp")
    assert (verdict.outcome, verdict.rcode) == ("rcode", 16)
    err = outcome_error("rcode", NAME, "10.0.0.10:53")
    assert (err.err, err.is_temporary, err.is_not_found) == ("server misbehaving", False, False)
    # NXDOMAIN's upper bits set make it rcode 19: misbehaving, not "no such host"
    nx = reply(rcode=3, additional=(dnslib.EDNS0(udp_len=1232, ext_rcode=1),))
    assert judge(nx) == "rcode"


def test_tc_reply_cut_mid_record_goes_to_tcp() -> None:
    record = reply(tc=True, answers=tuple(a_rr(f"10.0.{i}.1") for i in range(60)))
    data = record.pack()[:512]
    assert len(data) == 512
    assert judge(data) == "truncated"
    assert read_head(data) is not None
    # the same cut without TC is unreadable: the first unreadable record decides
    cut = bytearray(data)
    cut[2] &= ~0x02
    verdict = judge_reply(bytes(cut), 7, NAME, QTYPE_A, "udp")
    assert verdict.outcome == "answer" and verdict.answer_error


def test_foreign_or_garbage_udp_reply_is_ignored_tcp_is_an_error() -> None:
    assert judge(reply(qid=8)) == "ignore"
    assert judge(reply(name="other.test.")) == "ignore"
    assert judge(b"\x00\x07\x81") == "ignore"
    assert judge(reply(qid=8), transport="tcp") == "invalid"
    assert judge(b"\x00\x07\x81", transport="tcp") == "unmarshal"


def test_two_questions_are_an_invalid_response() -> None:
    record = reply()
    record.add_question(dnslib.DNSQuestion("x.test.", dnslib.QTYPE.A))
    assert judge(record) == "invalid"


def with_qdcount(data: bytes, count: int, *, tc: bool = False) -> bytes:
    """``data`` with its header's QDCOUNT ``count`` (and TC set when ``tc``), every other
    byte kept: what faultdns's ``qdcount=N`` / ``mismatch=qdcount:N`` send."""
    out = bytearray(data)
    out[4:6] = struct.pack("!H", count)
    if tc:
        out[2] |= 0x02
    return bytes(out)


#: what follows the first question of a reply to our A query: an A record (a second
#: question parses from its name pointer, type and class), an OPT record alone (root
#: name, type 41, class 1232: it parses too), nothing at all, or 3 and 4 bytes of a
#: name pointer and type (a second question that runs out of bytes)
_AFTER_QUESTION = {
    "record": reply(answers=(a_rr(),)).pack(),
    "opt": reply(additional=(dnslib.EDNS0(udp_len=1232),)).pack(),
    "nothing": reply(ra=False).pack(),
    "3-bytes": reply(ra=False).pack() + b"\xc0\x0c\x00",
    "4-bytes": reply(ra=False).pack() + b"\xc0\x0c\x00\x01",
}


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("tc", [False, True], ids=["", "tc"])
@pytest.mark.parametrize("count", [2, 3, 65535])
@pytest.mark.parametrize("after", sorted(_AFTER_QUESTION))
def test_a_reply_counting_two_or_more_questions_is_invalid_whatever_follows(
    after: str, count: int, tc: bool, transport: str
) -> None:
    """Go ``exchange``: after the first question matched, ``p.SkipQuestion()`` must be
    ``ErrSectionDone``; a second question that parses (nil) and one that runs out of
    bytes (an error) are both "invalid DNS response", before the TC test, over UDP and
    TCP (asked of Go 1.23.9: tests/fidelity/test_spec_go_qdcount.py).  Never raises."""
    data = with_qdcount(_AFTER_QUESTION[after], count, tc=tc)
    assert judge_reply(data, 7, NAME, QTYPE_A, transport) == Verdict("invalid")


@pytest.mark.parametrize(("tc", "transport", "outcome"),
                         [(False, "udp", "ignore"), (True, "udp", "ignore"),
                          (False, "tcp", "unmarshal")])  # fmt: skip
@pytest.mark.parametrize("after", sorted(_AFTER_QUESTION))
def test_a_reply_counting_no_question_is_not_ours_over_udp_and_unreadable_over_tcp(
    after: str, tc: bool, transport: str, outcome: str
) -> None:
    """QDCOUNT 0: Go's ``p.Question()`` finds the section done, so
    ``dnsPacketRoundTrip`` reads past it (UDP, TC or not) and ``dnsStreamRoundTrip``
    cannot unmarshal it (TCP), whatever bytes follow the header."""
    data = with_qdcount(_AFTER_QUESTION[after], 0, tc=tc)
    assert judge_reply(data, 7, NAME, QTYPE_A, transport).outcome == outcome


def test_udp_header_only_reply_with_garbage_answers_is_unmarshal() -> None:
    data = reply(answers=(a_rr(),)).pack()
    header = bytearray(data[:12])
    header[6:8] = struct.pack("!H", 3)  # claims three answers, carries one
    assert judge(bytes(header) + data[12:]) == "answer"  # the first one is read
    question_end = 12 + len(encode_name(NAME) or b"") + 4
    assert judge(bytes(header) + data[12:question_end] + b"\xff") == "unmarshal"


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "not_found", "timeout", "temporary"),
    [
        ("nxdomain", True, False, False),
        ("nodata", True, False, False),
        ("servfail", False, False, True),
        ("rcode", False, False, False),
        ("lame", False, False, False),
        ("timeout", False, True, True),
        ("refused", False, False, True),
    ],
)
def test_outcome_flags_are_go_new_dns_error(
    outcome: ExchangeOutcome, not_found: bool, timeout: bool, temporary: bool
) -> None:
    err = outcome_error(outcome, NAME, "10.0.0.10:53", "read udp a->b: i/o timeout")
    assert (err.is_not_found, err.is_timeout, err.is_temporary) == (not_found, timeout, temporary)


def test_deadline_error_has_no_server() -> None:
    assert str(deadline_error("repo")) == "lookup repo: i/o timeout"
    assert deadline_error("repo").is_timeout and deadline_error("repo").is_temporary


# -- which error wins -------------------------------------------------------------------------

SEARCH = ["harvester-system.svc.cluster.local", "svc.cluster.local", "cluster.local"]
HOST = "upgrade-repo-x.harvester-system"


def _walk(outcomes: list[QueryOutcome], start: float = 0.0) -> object:
    steps = iter(outcomes)
    return walk_query(
        lambda _server, _transport, _t: next(steps),
        servers=1,
        attempts=2,
        timeout=5.0,
        start=start,
    )


def test_deviation_3_servfail_retry_on_a_completes_after_nxdomain_on_aaaa() -> None:
    """Go keeps the error that completes last for the name as given."""
    fold = LookupFold(HOST)
    for fqdn in candidate_names(HOST, SEARCH, 5):
        if fqdn == HOST + ".":  # walks in start order: A, then AAAA
            walks = [_walk(["servfail", "servfail"]), _walk(["nxdomain"])]
            results = [
                QueryResult(error=outcome_error("servfail", fqdn, "s")),
                QueryResult(error=outcome_error("nxdomain", fqdn, "s")),
            ]
        else:
            walks = [_walk(["nxdomain"]), _walk(["nxdomain"])]
            results = [QueryResult(error=outcome_error("nxdomain", fqdn, "s"))] * 2
        order = completion_order(walks)  # type: ignore[arg-type]
        for i in order:
            fold.add(fqdn, results[i])
        assert not fold.end_candidate()
    with pytest.raises(Exception) as info:
        fold.result()
    err = info.value
    assert str(err) == f"lookup {HOST} on s: server misbehaving"
    assert err.is_temporary and not err.is_not_found  # type: ignore[attr-defined]


def test_timeouts_complete_by_their_deadlines_and_ties_go_in_start_order() -> None:
    """Start order is A, then AAAA, so on a tie AAAA completes last (Go's most frequent
    outcome); rotate offsets go AAAA first (its goroutine runs first)."""
    assert start_order(["A", "AAAA"]) == ["A", "AAAA"]
    assert rotation_order(["A", "AAAA"]) == ["AAAA", "A"]
    slow = _walk(["timeout", "nxdomain"])
    fast = _walk(["servfail", "nxdomain"])
    assert completion_order([slow, fast]) == [1, 0]  # type: ignore[list-item]
    assert completion_order([_walk(["nxdomain"]), _walk(["nxdomain"])]) == [0, 1]  # type: ignore[list-item]


def test_search_candidate_error_is_the_first_one_met() -> None:
    fold = LookupFold("repo")
    fold.add("repo.a.", QueryResult(error=outcome_error("timeout", "repo.a.", "s", "t/o")))
    fold.add("repo.a.", QueryResult(error=outcome_error("nxdomain", "repo.a.", "s")))
    assert not fold.end_candidate()
    fold.add("repo.b.", QueryResult(error=outcome_error("servfail", "repo.b.", "s")))
    assert not fold.end_candidate()
    with pytest.raises(Exception, match="t/o"):
        fold.result()


def test_strict_errors_stop_at_the_first_temporary_error() -> None:
    fold = LookupFold("repo", strict_errors=True)
    fold.add("repo.a.", QueryResult(addresses=("10.0.0.1",)))
    fold.add("repo.a.", QueryResult(error=outcome_error("servfail", "repo.a.", "s")))
    assert fold.end_candidate()
    with pytest.raises(Exception, match="server misbehaving"):
        fold.result()


def test_walk_query_charges_timeouts_and_a_fresh_timeout_for_tcp() -> None:
    steps: Iterator[QueryOutcome] = iter(["truncated", "timeout", "truncated", "answer"])
    walk = walk_query(
        lambda _s, _tr, _t: next(steps), servers=1, attempts=2, timeout=2.0, start=1.0
    )
    assert walk.outcome == "answer" and walk.finished == 3.0
    assert [ex.transport for ex in walk.exchanges] == ["udp", "tcp", "udp", "tcp"]
    marshal = walk_query(
        lambda *_: "answer", servers=2, attempts=2, timeout=5, start=0, marshal_fails=True
    )
    assert (marshal.outcome, marshal.exchanges, marshal.finished) == ("marshal", (), 0)


def test_a_tcp_exchange_takes_two_rounds() -> None:
    """Oracle case (Go 1.23.9): A truncated then answered over TCP completes before
    AAAA truncated, REFUSED over TCP, then NXDOMAIN from the next server."""
    a_steps: Iterator[QueryOutcome] = iter(["truncated", "nxdomain"])
    aaaa_steps: Iterator[QueryOutcome] = iter(["truncated", "rcode", "nxdomain"])
    a = walk_query(lambda *_: next(a_steps), servers=2, attempts=1, timeout=1, start=0)
    aaaa = walk_query(lambda *_: next(aaaa_steps), servers=2, attempts=1, timeout=1, start=0)
    assert (a.rounds, aaaa.rounds) == (3, 4)
    assert completion_order([a, aaaa]) == [0, 1]
    assert completion_order([aaaa, a]) == [1, 0]


def test_every_exchange_outcome_has_one_meaning() -> None:
    """The outcome vocabulary is written once, as the ``ExchangeOutcome`` type:
    :data:`OUTCOMES` gives each of its words a meaning, in the same order, and no
    other word (mypy checks the keys are words; this checks none is missing)."""
    assert tuple(OUTCOMES) == get_args(ExchangeOutcome)


# -- a TCP fallback against a lane of UDP retries (one rule for resolver and model) ----------

#: The world of ``test_truncated_aaaa_against_four_servers_of_a`` (also run by the real
#: resolver in tests/cleanup/test_resolver.py and, on the harness's clock, in
#: tests/sim/test_resolver_order.py): four servers, one attempt.  A: REFUSED, SERVFAIL
#: over UDP, ICMP port unreachable, NXDOMAIN; AAAA: truncated, then NODATA over TCP.
FOUR_SERVER_WORLD: dict[tuple[str, int, str], QueryOutcome] = {
    ("A", 0, "udp"): "rcode",
    ("A", 1, "udp"): "servfail",
    ("A", 2, "udp"): "refused",
    ("A", 3, "udp"): "nxdomain",
    ("AAAA", 0, "udp"): "truncated",
    ("AAAA", 0, "tcp"): "nodata",
}


def test_truncated_aaaa_against_four_servers_of_a() -> None:
    """Everything happens at one virtual instant.  Go (``goLookupIPCNAMEOrder``) keeps,
    for the name as given, the error of the lane it receives last from its channel.  A
    needs four exchanges (four rounds); AAAA a UDP exchange, then a TCP connect and its
    reply (three rounds), so AAAA completes first and A's NXDOMAIN from server 3 is the
    error.  (Go on loopback, a race: A last in 72 of 96 runs with four rounds against
    three; see ``completion_order``.)  The stub resolver once reported server 0's error
    here, the model server 3's."""
    run = simulate_lookup(
        "cnamev4.repo.test",
        lambda _f, q, s, tr, _t: FOUR_SERVER_WORLD[(q, s, tr)],
        search=[],
        ndots=1,
        servers=["s0", "s1", "s2", "s3"],
        attempts=1,
        timeout=1.0,
        start=0.0,
    )
    walks = {qtype: walk for _fqdn, qtype, walk in run.queries}
    assert (walks["A"].rounds, walks["AAAA"].rounds) == (4, 3)
    assert [qtype for _f, qtype, _w in run.queries] == ["AAAA", "A"]  # completion order
    assert run.error is not None and run.finished == 0.0
    assert str(run.error) == "lookup cnamev4.repo.test on s3: no such host"
    assert run.error.is_not_found and not run.error.is_temporary


def test_truncated_aaaa_against_three_rounds_of_a_is_a_tie() -> None:
    """Without server 3, A has three rounds like AAAA: a true tie (a race in Go: A last
    in 64 of 96 runs of the three-round kind), resolved by start order, AAAA last, so
    server 0's "no such host" from AAAA's TCP reply."""
    run = simulate_lookup(
        "cnamev4.repo.test",
        lambda _f, q, s, tr, _t: FOUR_SERVER_WORLD[(q, s, tr)],
        search=[],
        ndots=1,
        servers=["s0", "s1", "s2"],
        attempts=1,
        timeout=1.0,
        start=0.0,
    )
    assert [qtype for _f, qtype, _w in run.queries] == ["A", "AAAA"]
    assert str(run.error) == "lookup cnamev4.repo.test on s0: no such host"
    assert run.error is not None and run.error.server == "s0"


def test_ended_walk_counts_the_rounds_of_the_last_instant() -> None:
    """A walk rebuilt from its exchanges (what the stub resolver does) equals the walk."""
    steps: Iterator[QueryOutcome] = iter(["timeout", "truncated", "nodata"])
    walk = walk_query(lambda *_: next(steps), servers=2, attempts=1, timeout=2.0, start=1.0)
    # at 3.0: server 0's timeout expires (1), server 1's UDP reply (1), TCP connect+reply (2)
    assert (walk.finished, walk.rounds) == (3.0, 4)
    assert ended_walk(walk.exchanges, outcome="nodata", server=1, start=1.0) == walk
    assert ended_walk((), outcome="marshal", server=0, start=1.0).rounds == 0

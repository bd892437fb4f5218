"""faultdns._glibc's rules, case by named case (each written from the glibc source it
cites; the end-to-end agreement with the real library is test_patch_glibc.py's)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from faultdns._glibc import (
    EAI_AGAIN,
    EAI_NODATA,
    EAI_NONAME,
    Candidate,
    HErrno,
    Reply,
    ResolverOptions,
    classify,
    gai_code,
    hostname_ok,
    judge_pair,
    name_labels,
    search_walk,
    send_dg_timeout,
    server_usable,
    udp_retry,
    v4mapped_code,
)

NX = Candidate(HErrno.HOST_NOT_FOUND)
NODATA = Candidate(HErrno.NO_DATA)
SERVFAIL = Candidate(HErrno.TRY_AGAIN, servfail=True)
TIMEOUT = Candidate(HErrno.TRY_AGAIN)
REFUSED_CONN = Candidate(HErrno.TRY_AGAIN, refused=True)
OK = Candidate(HErrno.SUCCESS)


def walk(
    name: str, search: Sequence[str], ndots: int, outcomes: dict[str, Candidate], **kw: bool
) -> tuple[list[str], tuple[HErrno, str | None]]:
    """Drive the walk, answering each name from ``outcomes`` (NXDOMAIN by default)."""
    gen = search_walk(name, search, ndots, **kw)
    asked = [next(gen)]
    try:
        while True:
            asked.append(gen.send(outcomes.get(asked[-1], NX)))
    except StopIteration as stop:
        return asked, stop.value


def test_few_dots_search_list_first_then_as_is() -> None:
    assert walk("x.y", ["s1", "s2"], 2, {}) == (
        ["x.y.s1", "x.y.s2", "x.y"],
        (HErrno.HOST_NOT_FOUND, None),
    )


def test_enough_dots_as_is_first_and_its_error_wins() -> None:
    asked, result = walk("a.b.c", ["s1"], 2, {"a.b.c": SERVFAIL, "a.b.c.s1": NODATA})
    assert asked == ["a.b.c", "a.b.c.s1"]
    assert result == (HErrno.TRY_AGAIN, None)


def test_trailing_dot_is_asked_once_as_is() -> None:
    assert walk("y.", ["s1"], 5, {}) == (["y"], (HErrno.HOST_NOT_FOUND, None))


def test_nodata_beats_a_later_nxdomain_and_servfail() -> None:
    assert walk("x", ["s1", "s2"], 1, {"x.s1": SERVFAIL, "x.s2": NODATA})[1] == (
        HErrno.NO_DATA,
        None,
    )


def test_servfail_goes_on_and_wins_over_nxdomain() -> None:
    asked, result = walk("x", ["s1", "s2"], 1, {"x.s1": SERVFAIL})
    assert asked == ["x.s1", "x.s2", "x"]
    assert result == (HErrno.TRY_AGAIN, None)


def test_timeout_stops_the_search_list_but_the_name_is_still_tried_as_is() -> None:
    asked, result = walk("x", ["s1", "s2"], 1, {"x.s1": TIMEOUT})
    assert asked == ["x.s1", "x"]
    assert result == (HErrno.HOST_NOT_FOUND, None)


def test_connection_refused_ends_everything() -> None:
    assert walk("x", ["s1", "s2"], 1, {"x.s1": REFUSED_CONN}) == (
        ["x.s1"],
        (HErrno.TRY_AGAIN, None),
    )


def test_success_names_the_candidate() -> None:
    assert walk("x", ["s1", "s2"], 1, {"x.s2": OK}) == (["x.s1", "x.s2"], (HErrno.SUCCESS, "x.s2"))


def test_root_on_the_search_list_is_the_as_is_try() -> None:
    assert walk("x", ["s1", "."], 1, {})[0] == ["x.s1", "x"]


def test_no_tld_query_skips_a_dotless_name_as_is() -> None:
    assert walk("x", ["s1"], 1, {}, no_tld_query=True)[0] == ["x.s1"]
    assert walk("x.y", ["s1"], 2, {}, no_tld_query=True)[0] == ["x.y.s1", "x.y"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ((0, 1, True, True, False, 1), Reply.ANSWER),
        ((0, 0, True, False, False, 1), Reply.NODATA),
        ((0, 0, False, True, False, 0), Reply.NODATA),
        ((0, 0, False, False, False, 0), Reply.NEXT),  # lame
        ((3, 0, True, True, False, 1), Reply.NXDOMAIN),
        ((2, 0, False, True, False, 0), Reply.SERVFAIL),
        ((4, 0, False, True, False, 0), Reply.NEXT),
        ((5, 0, False, True, False, 0), Reply.NEXT),
        ((1, 0, False, True, False, 0), Reply.NO_RECOVERY),
        ((0, 0, True, True, True, 0), Reply.TRUNCATED),
    ],
    ids=[
        "answer",
        "nodata-aa",
        "nodata-ra",
        "lame",
        "nxdomain",
        "servfail",
        "notimp",
        "refused",
        "formerr",
        "truncated",
    ],
)
def test_classify(reply: tuple[int, int, bool, bool, bool, int], expected: Reply) -> None:
    assert classify(*reply) is expected


def test_one_answer_is_enough_the_other_failing() -> None:
    assert judge_pair([Reply.ANSWER, Reply.SERVFAIL]) == OK
    assert server_usable([Reply.NXDOMAIN, Reply.SERVFAIL])
    assert judge_pair([Reply.NXDOMAIN, Reply.SERVFAIL]) == NX
    assert not server_usable([Reply.NXDOMAIN, Reply.TIMEOUT])
    assert server_usable([Reply.NXDOMAIN, Reply.MISSING])


def test_every_server_failing_is_try_again_remembering_servfail() -> None:
    assert judge_pair([Reply.SERVFAIL, Reply.SERVFAIL]) == SERVFAIL
    assert judge_pair([Reply.NEXT, Reply.TIMEOUT]) == TIMEOUT
    assert judge_pair([Reply.UNREACHABLE, Reply.UNREACHABLE]) == REFUSED_CONN


def test_udp_retry_switches_to_single_request_then_reopen() -> None:
    one_missing = [Reply.ANSWER, Reply.TIMEOUT]
    assert udp_retry(one_missing, single=False, reopen=False) == "single"
    assert udp_retry(one_missing, single=True, reopen=False) == "reopen"
    assert udp_retry(one_missing, single=True, reopen=True) is None
    # a dropped buffer (SERVFAIL) is no reply: nothing to retry for
    assert udp_retry([Reply.SERVFAIL, Reply.TIMEOUT], single=False, reopen=False) is None


def test_gai_codes() -> None:
    import socket

    assert (EAI_NONAME, EAI_AGAIN, EAI_NODATA) == (
        socket.EAI_NONAME,
        socket.EAI_AGAIN,
        socket.EAI_NODATA,
    )
    assert gai_code(HErrno.HOST_NOT_FOUND) == EAI_NONAME
    assert gai_code(HErrno.NO_RECOVERY) == EAI_NONAME
    assert gai_code(HErrno.NO_DATA) == EAI_NODATA
    assert gai_code(HErrno.TRY_AGAIN) == EAI_AGAIN


def test_options_are_read_and_capped_as_glibc_does() -> None:
    opts = ResolverOptions.parse(20, ["timeout:99", "attempts:9", "single-request", "rotate"])
    assert (opts.ndots, opts.timeout, opts.attempts, opts.single_request) == (15, 30.0, 5, True)
    assert ResolverOptions.parse(1, []) == ResolverOptions()


# ns_name_pton (resolv/ns_name.c): escapes, empty labels, the 63 and 255 byte limits.
@pytest.mark.parametrize(
    ("name", "labels"),
    [
        (b"y", (b"y",)),
        (b"y.", (b"y",)),
        (b".", ()),
        (b"", ()),
        (b"a\\.b", (b"a.b",)),
        (b"a\\065b", (b"aAb",)),
        (b"a\\256", None),
        (b"a\\", None),
        (b"a..b", None),
        (b".a", None),
        (b"y..", None),
        (b"a" * 63, (b"a" * 63,)),
        (b"a" * 64, None),
        (b".".join([b"a" * 62] * 4), (b"a" * 62,) * 4),  # 253 bytes on the wire
        (b".".join([b"a" * 63] * 4), None),  # 257
    ],
)
def test_name_labels_is_ns_name_pton(name: bytes, labels: tuple[bytes, ...] | None) -> None:
    assert name_labels(name) == labels


# res_hnok (resolv/res-name-checking.c): printable, a wire form, no leading dash,
# letters, digits, '-' and '_' in every label.
@pytest.mark.parametrize(
    ("name", "ok"),
    [
        (b"y", True),
        (b"repo.test.", True),
        (b"under_score", True),
        (b"a-b", True),
        (b"a-", True),
        (b"y\\089", True),
        (b"-lead", False),
        (b"sp ace", False),
        (b"a*b", False),
        (b"y\\.z", False),
        (b"b\xc3\xbccher", False),
        (b"", False),
        (b"a" * 64, False),
    ],
)
def test_hostname_ok_is_res_hnok(name: bytes, ok: bool) -> None:
    assert hostname_ok(name) is ok


# gaih_inet's no_data / no_inet6_data for AF_INET6 + AI_V4MAPPED when both walks fail.
@pytest.mark.parametrize(
    ("inet6", "inet", "code"),
    [
        (HErrno.TRY_AGAIN, HErrno.TRY_AGAIN, EAI_AGAIN),
        (HErrno.NO_DATA, HErrno.TRY_AGAIN, EAI_NODATA),
        (HErrno.TRY_AGAIN, HErrno.NO_DATA, EAI_NODATA),
        (HErrno.NO_DATA, HErrno.NO_DATA, EAI_NODATA),
        (HErrno.HOST_NOT_FOUND, HErrno.TRY_AGAIN, EAI_NONAME),
        (HErrno.HOST_NOT_FOUND, HErrno.HOST_NOT_FOUND, EAI_NONAME),
        (HErrno.NO_RECOVERY, HErrno.NO_DATA, EAI_NONAME),
    ],
)
def test_v4mapped_code_is_gaih_inets(inet6: HErrno, inet: HErrno, code: int) -> None:
    assert v4mapped_code(inet6, inet) == code


# send_dg: retrans << ns, divided by nscount for ns > 0, at least 1 (res_send.c).
@pytest.mark.parametrize(
    ("timeout", "nscount", "waits"),
    [
        (5, 1, [5]),
        (5, 2, [5, 5]),
        (5, 3, [5, 3, 6]),  # what the real library did with three dropping servers
        (2, 3, [2, 1, 2]),
        (1, 4, [1, 1, 1, 2]),
        (30, 3, [30, 20, 40]),
    ],
)
def test_send_dg_timeout(timeout: int, nscount: int, waits: list[int]) -> None:
    assert [send_dg_timeout(timeout, ns, nscount) for ns in range(nscount)] == waits

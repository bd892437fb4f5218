"""The header-level actions the Go oracle needs: ``rcode=``, ``lame``, ``truncate=N``, ``tcponly``.

Each is checked on real sockets by clients nobody here wrote (dnspython, and dig when
present), over UDP and TCP, on both UDP paths (batched and plain), repeated so that the
cached fault reply on the hot path is exercised, and with match and activation keys.
The TC-cut reply is checked byte for byte against the full TCP reply it was cut from.
"""

from __future__ import annotations

import socket
import struct
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from faultdns import (
    FaultDNSServer,
    FaultRule,
    ManualClock,
    MonotonicClock,
    load_plan,
    parse_fault,
)
from tests.tools import require_tool

MANY = 60  # A records of many.test: about 1000 bytes, over 512 and under 1232
RECORDS = [
    "a.test=10.0.0.1",
    "a.test=2001:db8::1",
    "txt.test TXT hello",
    *(f"many.test=10.0.{i // 250}.{i % 250}" for i in range(MANY)),
]
_TC = 0x0200


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=[True, False], ids=["batch-io", "recvfrom"])
def server(clock: ManualClock, request: pytest.FixtureRequest) -> Iterator[FaultDNSServer]:
    with FaultDNSServer(
        records=RECORDS, origins=["test"], clock=clock, seed=1, batch_io=request.param
    ) as dns_server:
        yield dns_server


def ask(
    server: FaultDNSServer,
    name: str,
    qtype: str = "A",
    *,
    tcp: bool = False,
    edns: bool = True,
) -> dns.message.Message:
    host, port = server.address
    query = dns.message.make_query(name, qtype, use_edns=0 if edns else False)
    if tcp:
        return dns.query.tcp(query, host, port=port, timeout=3)
    return dns.query.udp(query, host, port=port, timeout=3)


def raw_udp(server: FaultDNSServer, name: str, qtype: str = "A", *, edns: bool = True) -> bytes:
    """The reply's exact bytes over UDP (dnspython will not parse a cut message)."""
    query = dns.message.make_query(name, qtype, use_edns=0 if edns else False)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(query.to_wire(), server.address)
        data, _ = sock.recvfrom(65535)
    assert data[:2] == query.to_wire()[:2]
    return data


def raw_tcp(server: FaultDNSServer, name: str, qtype: str = "A") -> bytes:
    """The reply's exact bytes over TCP, unframed."""
    wire = dns.message.make_query(name, qtype, use_edns=0).to_wire()
    with socket.create_connection(server.address, timeout=3) as sock:
        sock.sendall(len(wire).to_bytes(2, "big") + wire)
        size = int.from_bytes(_read(sock, 2), "big")
        return _read(sock, size)


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data


def header(data: bytes) -> tuple[int, int, int, int, int, int]:
    """(id, flags, qdcount, ancount, nscount, arcount) as on the wire."""
    fields: tuple[int, int, int, int, int, int] = struct.unpack("!6H", data[:12])
    return fields


def addresses(reply: dns.message.Message) -> list[str]:
    return sorted(rd.to_text() for rrset in reply.answer for rd in rrset)


def go_lame(reply: dns.message.Message) -> bool:
    """Go 1.23's lame-referral test (net/dnsclient_unix.go, checkHeader).

    rcode NOERROR (extended rcode included), neither AA nor RA, no answer record and
    no additional record (an OPT record counts as one).
    """
    return (
        reply.rcode() == dns.rcode.NOERROR
        and not reply.flags & (dns.flags.AA | dns.flags.RA)
        and not reply.answer
        and not reply.additional
        and reply.edns < 0
    )


# -- rcode=NAME ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "rcode", "logged"),
    [
        ("rcode=NOTIMP", 4, "NOTIMP"),
        ("rcode=formerr", 1, "FORMERR"),
        ("rcode=YXDOMAIN", 6, "YXDOMAIN"),
        ("rcode=NOTZONE", 10, "NOTZONE"),
        ("rcode=12", 12, "RCODE12"),
        ("rcode=BADVERS", 16, "BADVERS"),
        ("rcode=16", 16, "BADVERS"),
        ("rcode=BADCOOKIE", 23, "BADCOOKIE"),
        ("rcode=4095", 4095, "RCODE4095"),
    ],
)
def test_rcode_any_value_over_udp_and_tcp(
    server: FaultDNSServer, spec: str, rcode: int, logged: str
) -> None:
    server.add_fault(f"{spec} match=a.test")
    for tcp in (False, True):
        for edns in (True, False):
            for _ in range(2):  # the second is the cached fault reply
                reply = ask(server, "a.test", tcp=tcp, edns=edns)
                assert reply.rcode() == rcode
                assert reply.flags & 0x000F == rcode & 0x0F  # header: the low 4 bits
                if rcode > 15 or edns:
                    assert reply.edns == 0  # the OPT record, even if the query had none
                    assert (reply.ednsflags >> 24) & 0xFF == rcode >> 4
                else:
                    assert reply.edns < 0
                assert not reply.answer and not reply.authority
                assert not reply.flags & (dns.flags.AA | dns.flags.RA | dns.flags.TC)
    assert addresses(ask(server, "txt.test", "TXT")) == ['"hello"']  # other names untouched
    assert {q.rcode for q in server.queries if q.rule} == {logged}


def test_rcode_badvers_is_header_noerror_with_extended_rcode_one(server: FaultDNSServer) -> None:
    """The issue's example: header NOERROR, OPT EXTENDED-RCODE 1, no answer."""
    server.add_fault("rcode=BADVERS")
    data = raw_udp(server, "a.test", edns=False)
    _, flags, _, ancount, nscount, arcount = header(data)
    assert flags & 0x000F == 0 and (ancount, nscount, arcount) == (0, 0, 1)
    reply = dns.message.from_wire(data)
    assert reply.edns == 0 and reply.ednsflags >> 24 == 1
    assert reply.rcode() == dns.rcode.BADVERS
    assert server.queries[-1].rcode == "BADVERS" and server.queries[-1].action == "rcode"


@pytest.mark.parametrize(("spec", "rcode"), [("rcode=NOERROR", 0), ("rcode=nxdomain", 3)])
def test_rcode_noerror_and_nxdomain_are_authoritative_not_lame(
    server: FaultDNSServer, spec: str, rcode: int
) -> None:
    server.add_fault(spec)
    for edns in (True, False):
        reply = ask(server, "a.test", edns=edns)
        assert reply.rcode() == rcode and reply.flags & dns.flags.AA
        assert not reply.answer and not go_lame(reply)


# -- lame ------------------------------------------------------------------------------


def test_lame_is_noerror_empty_without_aa_ra_or_opt(server: FaultDNSServer) -> None:
    server.add_fault("lame match=a.test")
    for tcp in (False, True):
        for edns in (True, False):
            for _ in range(2):
                reply = ask(server, "a.test", tcp=tcp, edns=edns)
                assert reply.rcode() == dns.rcode.NOERROR
                assert reply.flags & dns.flags.QR
                assert not reply.flags & (dns.flags.AA | dns.flags.RA | dns.flags.TC)
                assert not reply.answer and not reply.authority and not reply.additional
                assert reply.edns < 0  # no OPT, even for an EDNS query
                assert go_lame(reply)
    assert server.stats()["fired"] == {"r1": 8}


def test_normal_nodata_and_answer_replies_are_not_lame(server: FaultDNSServer) -> None:
    """Go treats NOERROR + empty + !AA + !RA + no additional as lame: ours are AA."""
    for edns in (True, False):
        assert not go_lame(ask(server, "a.test", edns=edns))  # an answer
        zone_nodata = ask(server, "a.test", "TXT", edns=edns)
        assert not zone_nodata.answer and zone_nodata.flags & dns.flags.AA
        assert not go_lame(zone_nodata)
    server.add_fault("nodata match=a.test")
    server.add_fault("answer=10.9.9.9 match=txt.test")
    for edns in (True, False):
        nodata = ask(server, "a.test", edns=edns)
        assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
        assert nodata.flags & dns.flags.AA and not go_lame(nodata)
        answered = ask(server, "txt.test", edns=edns)
        assert addresses(answered) == ["10.9.9.9"] and not go_lame(answered)


# -- noedns ----------------------------------------------------------------------------


def test_noedns_answers_from_the_zone_without_opt(server: FaultDNSServer) -> None:
    """A server without EDNS (RFC 6891 section 7): the zone's reply, AA set, no OPT
    even for an EDNS query, so Go's checkHeader finds no additional record and still
    takes the answer (not lame: AA); NODATA stays NODATA (no such host)."""
    server.add_fault("noedns match=a.test")
    for tcp in (False, True):
        for _ in range(2):
            reply = ask(server, "a.test", tcp=tcp)
            assert reply.rcode() == dns.rcode.NOERROR
            assert reply.flags & dns.flags.AA and not reply.flags & dns.flags.TC
            assert addresses(reply) == ["10.0.0.1"]
            assert not reply.additional and reply.edns < 0
            assert not go_lame(reply)
            nodata = ask(server, "a.test", "TXT", tcp=tcp)
            assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
            assert nodata.flags & dns.flags.AA and nodata.edns < 0 and not go_lame(nodata)
    assert [q.rule for q in server.queries] == ["r1"] * 8
    assert server.queries[0].action == "noedns"


def test_noedns_holds_udp_to_512_bytes_and_tcp_answers_whole(server: FaultDNSServer) -> None:
    """Without EDNS a UDP reply is at most 512 bytes (RFC 1035 section 4.2.1): many.test
    (about 1000 bytes) comes back TC over UDP though the query offered 1232; over TCP
    whole, without OPT."""
    server.add_fault("noedns match=many.test")
    over_udp = ask(server, "many.test")
    assert over_udp.flags & dns.flags.TC and not over_udp.answer and over_udp.edns < 0
    over_tcp = ask(server, "many.test", tcp=True)
    assert len(addresses(over_tcp)) == MANY and over_tcp.edns < 0
    assert not over_tcp.flags & dns.flags.TC


# -- truncate=N ------------------------------------------------------------------------


def test_truncate_n_cuts_the_real_reply_mid_record_with_tc(server: FaultDNSServer) -> None:
    full = raw_tcp(server, "many.test")
    assert len(full) > 900 and header(full)[3] == MANY
    server.add_fault("truncate=512 match=many.test")
    for _ in range(2):
        cut = raw_udp(server, "many.test")
        assert len(cut) == 512
        _, flags, qdcount, ancount, _, arcount = header(cut)
        assert flags & _TC and (qdcount, ancount, arcount) == (1, MANY, 1)  # counts kept
        # The same bytes as the full reply, TC aside: the real answer records, cut.
        assert cut[2:] == bytes([full[2] | 0x02]) + full[3:512]
        with pytest.raises(dns.message.Truncated):
            dns.message.from_wire(cut, raise_on_truncation=True)
        with pytest.raises(dns.exception.FormError):  # the cut is inside a record
            dns.message.from_wire(cut, ignore_trailing=True)
        question = dns.message.from_wire(cut, question_only=True)
        assert question.flags & dns.flags.TC and question.flags & dns.flags.AA
        assert question.question[0].name.to_text() == "many.test."
    # Records lie at 16-byte strides after the question: 512 is not on a boundary.
    question_end = 12 + len("many.test") + 2 + 4
    assert (512 - question_end) % 16 != 0


def test_truncate_n_sends_the_client_to_tcp_for_the_whole_answer(
    server: FaultDNSServer,
) -> None:
    server.add_fault("truncate=512 match=many.test")
    host, port = server.address
    query = dns.message.make_query("many.test", "A", use_edns=0)
    reply, used_tcp = dns.query.udp_with_fallback(query, host, port=port, timeout=3)
    assert used_tcp and len(addresses(reply)) == MANY
    assert [(q.transport, q.action) for q in server.queries[-2:]] == [
        ("udp", "truncate"),
        ("tcp", None),
    ]


def test_truncate_n_larger_than_the_reply_sends_it_whole_with_tc(server: FaultDNSServer) -> None:
    server.add_fault("truncate=512 match=a.test")
    data = raw_udp(server, "a.test")
    assert len(data) < 512 and header(data)[1] & _TC
    reply = dns.message.from_wire(data)
    assert addresses(reply) == ["10.0.0.1"] and reply.flags & dns.flags.TC


def test_truncate_n_ignores_the_clients_udp_limit(server: FaultDNSServer) -> None:
    """A middlebox cuts where it cuts: 700 bytes to a client that said 512 (no EDNS)."""
    server.add_fault("truncate=700 match=many.test")
    data = raw_udp(server, "many.test", edns=False)
    assert len(data) == 700 and header(data)[1] & _TC


def test_truncate_n_keeps_the_zones_rcode(server: FaultDNSServer) -> None:
    server.add_fault("truncate=20 match=*.test")
    data = raw_udp(server, "nothere.test")
    assert len(data) == 20 and header(data)[1] & 0x000F == dns.rcode.NXDOMAIN
    assert server.queries[-1].rcode == "NXDOMAIN"


@pytest.mark.parametrize("spec", ["truncate", "truncate=512", "tcponly"])
def test_tc_actions_leave_tcp_alone_unless_proto_tcp(server: FaultDNSServer, spec: str) -> None:
    server.add_fault(f"{spec} match=many.test")
    for _ in range(2):
        reply = ask(server, "many.test", tcp=True)
        assert len(addresses(reply)) == MANY and not reply.flags & dns.flags.TC
    assert server.queries[-1].rule is None and server.stats()["fired"] == {"r1": 0}


def test_truncate_with_proto_tcp_sends_its_tc_reply_over_tcp(server: FaultDNSServer) -> None:
    server.add_fault("truncate=512 proto=tcp match=many.test")
    server.add_fault("truncate proto=tcp match=a.test")
    cut = raw_tcp(server, "many.test")
    assert len(cut) == 512 and header(cut)[1] & _TC and header(cut)[3] == MANY
    bare = ask(server, "a.test", tcp=True)
    assert bare.flags & dns.flags.TC and not bare.answer
    # UDP is not its business: normal answers.
    assert len(addresses(ask(server, "many.test"))) == MANY
    assert addresses(ask(server, "a.test")) == ["10.0.0.1"]


# -- tcponly ---------------------------------------------------------------------------


def test_tcponly_answers_tc_over_udp_and_normally_over_tcp(server: FaultDNSServer) -> None:
    server.add_fault("tcponly match=a.test")
    for _ in range(2):
        over_udp = ask(server, "a.test")
        assert over_udp.flags & dns.flags.TC and not over_udp.answer
        assert over_udp.rcode() == dns.rcode.NOERROR
        assert addresses(ask(server, "a.test", tcp=True)) == ["10.0.0.1"]
    host, port = server.address
    query = dns.message.make_query("a.test", "A")
    reply, used_tcp = dns.query.udp_with_fallback(query, host, port=port, timeout=3)
    assert used_tcp and addresses(reply) == ["10.0.0.1"]
    assert [(q.transport, q.action, q.rcode) for q in server.queries[-2:]] == [
        ("udp", "tcponly", "NOERROR"),
        ("tcp", None, "NOERROR"),
    ]


def test_tcponly_is_truncate_by_another_name(server: FaultDNSServer) -> None:
    """One rule: the same UDP bytes as bare truncate, the same transports matched."""
    server.add_fault("truncate match=a.test")
    server.add_fault("tcponly match=txt.test")
    truncated = raw_udp(server, "a.test")
    tcponly = raw_udp(server, "txt.test")
    assert header(truncated)[1:] == header(tcponly)[1:]
    assert len(truncated) - len("a.test") == len(tcponly) - len("txt.test")


# -- match and activation keys, over both transports -----------------------------------


@pytest.mark.parametrize(
    ("action", "transports"),
    [
        ("rcode=NOTIMP", (False, True)),
        ("rcode=BADVERS", (False, True)),
        ("lame", (False, True)),
        ("noedns", (False, True)),
        ("truncate=30", (False,)),
        ("truncate=30 proto=tcp", (True,)),
        ("tcponly", (False,)),
    ],
)
@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ("first=2", [True, True, False, False]),
        ("every=2", [False, True, False, True]),
        ("count=1", [True, False, False, False]),
        ("p=1", [True] * 4),
        ("p=0", [False] * 4),
    ],
)
def test_activation_keys(
    server: FaultDNSServer,
    action: str,
    transports: tuple[bool, ...],
    keys: str,
    expected: list[bool],
) -> None:
    for tcp in transports:
        server.reset()
        server.add_fault(f"{action} match=many.test qtype=A {keys}")
        fired = []
        for _ in expected:
            if tcp:
                raw_tcp(server, "many.test")
            else:
                raw_udp(server, "many.test")
            fired.append(server.queries[-1].rule is not None)
        assert fired == expected, (tcp, keys)


@pytest.mark.parametrize("action", ["rcode=REFUSED", "lame", "truncate=40", "tcponly"])
def test_window_and_match_keys(server: FaultDNSServer, clock: ManualClock, action: str) -> None:
    server.add_fault(f"{action} match=A.TEST qtype=AAAA proto=udp after=10s for=5s")

    def fired() -> bool:
        return server.queries[-1].rule is not None

    raw_udp(server, "a.test", "AAAA")
    assert not fired()  # the window is not open yet
    clock.advance(10)
    raw_udp(server, "a.test", "AAAA")
    assert fired() and server.queries[-1].action == action.partition("=")[0]
    raw_udp(server, "a.test", "A")
    assert not fired()  # another type
    raw_udp(server, "txt.test", "AAAA")
    assert not fired()  # another name
    ask(server, "a.test", "AAAA", tcp=True)
    assert not fired()  # another transport
    clock.advance(5)
    raw_udp(server, "a.test", "AAAA")
    assert not fired()  # the window is half-open: closed at 15 s


# -- plan files ------------------------------------------------


def test_plan_file_carries_every_new_action(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        "[[fault]]\n"
        'rcode = "BADVERS"\nmatch = "a.test"\nqtype = "A"\n\n'
        "[[fault]]\n"
        'action = "lame"\nmatch = "a.test"\n\n'
        "[[fault]]\n"
        'truncate = 512\nmatch = "many.test"\n\n'
        "[[fault]]\n"
        'action = "tcponly"\nmatch = "txt.test"\n\n'
        "[[fault]]\n"
        'action = "rcode"\nrcode = 4\nmatch = "nothere.test"\n'
    )
    rules = load_plan(plan)
    assert [r.spec for r in rules] == [
        "rcode=BADVERS match=a.test qtype=A",
        "lame match=a.test",
        "truncate=512 match=many.test",
        "tcponly match=txt.test",
        "rcode=NOTIMP match=nothere.test",
    ]
    assert rules == [parse_fault(r.spec) for r in rules]
    with FaultDNSServer(
        records=RECORDS, origins=["test"], plan=plan, clock=MonotonicClock()
    ) as server:
        assert ask(server, "a.test").rcode() == dns.rcode.BADVERS
        assert go_lame(ask(server, "a.test", "AAAA"))
        assert len(raw_udp(server, "many.test")) == 512
        assert ask(server, "txt.test", "TXT").flags & dns.flags.TC
        assert ask(server, "nothere.test").rcode() == dns.rcode.NOTIMP


# -- dig, an independent peer ----------------------------------------------------------


def dig(server: FaultDNSServer, *args: str) -> str:
    path = require_tool("dig")
    host, port = server.address
    return subprocess.run(
        [path, "-p", str(port), f"@{host}", "+tries=1", "+time=2", *args],
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout


def test_dig_sees_each_action(server: FaultDNSServer) -> None:
    server.add_fault("rcode=BADVERS match=a.test")
    server.add_fault("rcode=NOTIMP match=txt.test")
    server.add_fault("lame match=lame.test")
    server.add_fault("truncate=512 match=many.test")
    out = dig(server, "a.test")
    assert "status: BADVERS" in out and "EDNS: version: 0" in out
    assert "status: BADVERS" in dig(server, "+noedns", "a.test")
    assert "status: NOTIMP" in dig(server, "+tcp", "txt.test", "TXT")
    lame = dig(server, "lame.test")
    assert "status: NOERROR" in lame and "flags: qr rd;" in lame and "OPT PSEUDOSECTION" not in lame
    many = dig(server, "many.test")
    assert "Truncated, retrying in TCP mode" in many
    assert many.count("\tA\t") == MANY


def test_dig_follows_tcponly_to_tcp(server: FaultDNSServer) -> None:
    server.add_fault("tcponly match=a.test")
    out = dig(server, "a.test")
    assert "Truncated, retrying in TCP mode" in out and "10.0.0.1" in out
    assert [q.transport for q in server.queries] == ["udp", "tcp"]


# -- mismatch=FIELD --------------------------------------------------------------------


def raw_reply(server: FaultDNSServer, wire: bytes, *, tcp: bool) -> bytes:
    """The exact bytes of the one reply to ``wire`` (no ID check: it may not be ours)."""
    if tcp:
        with socket.create_connection(server.address, timeout=3) as sock:
            sock.sendall(len(wire).to_bytes(2, "big") + wire)
            return _read(sock, int.from_bytes(_read(sock, 2), "big"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(wire, server.address)
        return sock.recvfrom(65535)[0]


def reply_fields(data: bytes) -> dict[str, object]:
    """The four fields Go's checkResponse compares, read by dnspython."""
    message = dns.message.from_wire(data, ignore_trailing=True)
    (question,) = message.question
    return {
        "id": message.id,
        "name": question.name.to_text().lower(),
        "type": int(question.rdtype),
        "class": int(question.rdclass),
        "answer": addresses(message),
    }


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("field", ["id", "name", "type", "class"])
def test_mismatch_alters_exactly_its_field_of_the_zones_answer(
    server: FaultDNSServer, field: str, tcp: bool
) -> None:
    """Each field differs from the query's (case folded), the rest is the zone's reply,
    on every repetition (the hot path's cached replies included)."""
    query = dns.message.make_query("a.test", "A", use_edns=0)
    query.id = 0x1234
    normal = reply_fields(raw_reply(server, query.to_wire(), tcp=tcp))
    assert normal["answer"] == ["10.0.0.1"]
    server.add_fault(f"mismatch={field} match=a.test")
    for _ in range(3):
        got = reply_fields(raw_reply(server, query.to_wire(), tcp=tcp))
        assert got[field] != normal[field]
        if field != "name":  # a number: its lowest bit flipped (IN becomes 0, A 0)
            assert got[field] == int(str(normal[field])) ^ 1
        assert {k: v for k, v in got.items() if k != field} == {
            k: v for k, v in normal.items() if k != field
        }
        assert server.queries[-1].action == "mismatch"
    # another query ID: the reply's ID follows the query's (it is not cached), so it
    # differs again for mismatch=id and is the query's for the other fields
    query.id = 0x4321
    assert (reply_fields(raw_reply(server, query.to_wire(), tcp=tcp))["id"] == 0x4321) == (
        field != "id"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mismatch", "unknown token 'mismatch' .* write mismatch=VALUE"),
        ("mismatch=", "mismatch= needs a value"),
        (
            "mismatch=qname",
            "mismatch: expected one of id, name, type, class, qdcount, .* got 'qname'",
        ),
        ("nxdomain mismatch=id", "a rule has one action"),
        ("mismatch=id:3", "mismatch: only type, class and qdcount take a value .* got 'id:3'"),
        ("mismatch=name:x", "mismatch: only type, class and qdcount take a value"),
        ("mismatch=class:", r"class:VALUE expects a number 0\.\.65535 or a mnemonic"),
        ("mismatch=class:65536", r"class:VALUE expects .* got 'class:65536'"),
        ("mismatch=class:-1", r"class:VALUE expects .*\(IN, CH, HS, NONE, ANY\)"),
        ("mismatch=class:chaos", r"class:VALUE expects .* got 'class:chaos'"),
        ("mismatch=type:bogus", r"type:VALUE expects .*\(A, AAAA, TXT, ANY"),
        ("mismatch=class:²", r"class:VALUE expects"),
    ],
)
def test_mismatch_spec_errors_name_the_key(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault(spec)


def test_mismatch_specs_round_trip_through_text_and_objects() -> None:
    rule = parse_fault("MISMATCH=Class match=a.test proto=tcp")
    assert rule.spec == "mismatch=class match=a.test proto=tcp"
    assert parse_fault(rule.spec) == rule
    assert FaultRule.from_dict({"mismatch": "name"}).spec == "mismatch=name"
    assert FaultRule.from_dict(rule.to_dict()) == rule
    with pytest.raises(ValueError, match="key 'mismatch' only goes with action 'mismatch'"):
        FaultRule.from_dict({"action": "drop", "mismatch": "id"})


# -- QDCOUNT: mismatch=qdcount[:N] and qdcount=N ---------------------------------------


def question_end(data: bytes) -> int:
    """Where the first question of a reply (name uncompressed, as faultdns echoes it)
    ends: past its root label, QTYPE and QCLASS."""
    i = 12
    while data[i]:
        i += data[i] + 1
    return i + 5


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize(
    ("value", "count"),
    [("qdcount", 0), ("qdcount:0", 0), ("qdcount:2", 2), ("qdcount:65535", 65535)],
)
def test_mismatch_qdcount_sets_only_the_question_count_of_the_zones_answer(
    server: FaultDNSServer, value: str, count: int, tcp: bool
) -> None:
    """The zone's reply byte for byte but QDCOUNT (bytes 4-5, RFC 1035 section 4.1.1):
    bare, 1 becomes 0; with a value, that count; on every repetition (cached replies)."""
    query = dns.message.make_query("a.test", "A", use_edns=0)
    query.id = 0x1357
    normal = raw_reply(server, query.to_wire(), tcp=tcp)
    assert normal[4:6] == b"\x00\x01"
    server.add_fault(f"mismatch={value} match=a.test")
    for _ in range(3):
        got = raw_reply(server, query.to_wire(), tcp=tcp)
        assert got == normal[:4] + count.to_bytes(2, "big") + normal[6:]
        assert server.queries[-1].action == "mismatch"


#: actions whose reply ``qdcount=`` shapes, and the transport to ask over (truncate and
#: tcponly meet UDP only)
_SHAPED = [
    ("lame", False), ("lame", True), ("servfail", True), ("nxdomain", False),
    ("nodata", True), ("rcode=REFUSED", False), ("rcode=BADVERS", True),
    ("answer=10.9.9.9", False), ("truncate", False), ("truncate=40", False),
    ("tcponly", False), ("noedns", True), ("mismatch=id", False), ("mismatch=class:CH", True),
]  # fmt: skip


@pytest.mark.parametrize("count", [0, 2, 7])
@pytest.mark.parametrize(("action", "tcp"), _SHAPED)
def test_qdcount_sets_only_the_question_count_of_the_actions_reply(
    server: FaultDNSServer, action: str, tcp: bool, count: int
) -> None:
    """``ACTION qdcount=N`` sends ACTION's reply with QDCOUNT N and every other byte as
    ACTION alone sends it, on every repetition; the log names the action."""
    query = dns.message.make_query("a.test", "A", use_edns=0)
    query.id = 0x2222
    server.add_fault(f"{action} match=a.test")
    plain = raw_reply(server, query.to_wire(), tcp=tcp)
    server.reset()
    rule = server.add_fault(f"{action} qdcount={count} match=a.test")
    for _ in range(3):
        got = raw_reply(server, query.to_wire(), tcp=tcp)
        assert got == plain[:4] + count.to_bytes(2, "big") + plain[6:]
        assert (server.queries[-1].rule, server.queries[-1].action) == (
            rule,
            action.split("=")[0],
        )


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_lame_qdcount_2_counts_a_second_question_with_nothing_to_read_it_from(
    server: FaultDNSServer, tcp: bool
) -> None:
    """``lame qdcount=2``: the reply ends with the first question (lame sends no record,
    not even OPT), so a client reading the counted second question runs out of bytes:
    the malformed second question (Go: ``SkipQuestion`` fails, "invalid DNS
    response", spec.go_dns.question_count_outcome)."""
    server.add_fault("lame qdcount=2 match=a.test")
    query = dns.message.make_query("a.test", "A", use_edns=0)
    got = raw_reply(server, query.to_wire(), tcp=tcp)
    assert got[4:12] == b"\x00\x02" + bytes(6)
    assert len(got) == question_end(got)
    with pytest.raises(dns.exception.FormError):  # dnspython cannot read it either
        dns.message.from_wire(got)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("drop qdcount=2", "qdcount= given with action 'drop', which sends no reply"),
        ("delay=1s qdcount=2", "action 'delay', which sends the zone's reply as it is"),
        ("frame=short qdcount=0", "action 'frame', which frames the zone's reply"),
        ("lame qdcount=65536", r"qdcount: expected a number of questions 0\.\.65535"),
        ("lame qdcount=-1", "token 'qdcount=-1': qdcount: expected a number of questions"),
        ("lame qdcount=two", "token 'qdcount=two'"),
        ("lame qdcount=²", "token 'qdcount=²'"),
        ("lame qdcount=", "qdcount= needs a value"),
        ("lame qdcount=1 qdcount=2", "qdcount= given twice"),
        ("mismatch=qdcount:2 qdcount=2", "given with mismatch=qdcount, which sets QDCOUNT"),
        ("mismatch=qdcount:65536", r"qdcount:VALUE expects a number of questions 0\.\.65535"),
        ("mismatch=qdcount:two", "qdcount:VALUE expects .* got 'qdcount:two'"),
        ("qdcount=2", "no action"),
    ],
)
def test_qdcount_spec_errors_name_the_key(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault(spec)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("mismatch=QDCOUNT", "mismatch=qdcount"),
        ("mismatch=qdcount:02 match=a.test", "mismatch=qdcount:2 match=a.test"),
        ("match=a.test qdcount=2 lame", "lame qdcount=2 match=a.test"),
        ("truncate qdcount=0 proto=tcp", "truncate qdcount=0 proto=tcp"),
        ("mismatch=id qdcount=65535 first=1", "mismatch=id qdcount=65535 first=1"),
    ],
)
def test_qdcount_specs_round_trip_through_text_and_objects(text: str, spec: str) -> None:
    rule = parse_fault(text)
    assert rule.spec == spec
    assert parse_fault(rule.spec) == rule
    assert FaultRule.from_dict(rule.to_dict()) == rule
    assert FaultRule.from_dict({"action": "lame", "qdcount": "3"}).qdcount == 3
    with pytest.raises(ValueError, match="qdcount: expected a number of questions"):
        FaultRule(action="lame", qdcount=True)


# -- frame=SHAPE -------------------------------------------------------------------------


def stream(server: FaultDNSServer, wire: bytes, *, quiet: float = 0.3) -> tuple[bytes, bool]:
    """Everything the server sends on one TCP connection after ``wire`` (framed
    correctly), and whether it closed the connection (else it fell silent for ``quiet``
    seconds)."""
    with socket.create_connection(server.address, timeout=3) as sock:
        sock.sendall(len(wire).to_bytes(2, "big") + wire)
        sock.settimeout(quiet)
        data = b""
        while True:
            try:
                chunk = sock.recv(65535)
            except TimeoutError:
                return data, False
            if not chunk:
                return data, True
            data += chunk


@pytest.mark.parametrize(
    ("shape", "prefix", "closes"),
    [
        ("short", lambda n: 12, False),
        ("long", lambda n: n + 1, True),
        ("hang", lambda n: n + 1, False),
        ("0", lambda n: 0, False),
        ("20", lambda n: 20, False),
        ("300", lambda n: 300, True),
    ],
    ids=["short", "long", "hang", "zero", "inside-question", "past-the-end"],
)
def test_frame_sends_the_zones_tcp_reply_under_the_shapes_prefix(
    server: FaultDNSServer, shape: str, prefix: Callable[[int], int], closes: bool
) -> None:
    """The bytes after the prefix are exactly the zone's reply (the one a correct frame
    carries), every time (the entry's cache); the prefix is the shape's; the server
    closes after a prefix past the reply's end (not after ``hang``), else the
    connection stays open as for any reply."""
    query = dns.message.make_query("a.test", "A", use_edns=0)
    query.id = 0x2345
    wire = query.to_wire()
    normal, normal_closed = stream(server, wire)
    assert not normal_closed
    size = int.from_bytes(normal[:2], "big")
    reply = normal[2:]
    assert size == len(reply) and addresses(dns.message.from_wire(reply)) == ["10.0.0.1"]
    server.add_fault(f"frame={shape} match=a.test")
    for _ in range(2):
        got, closed = stream(server, wire)
        assert (int.from_bytes(got[:2], "big"), got[2:], closed) == (
            prefix(len(reply)),
            reply,
            closes,
        )
        assert server.queries[-1].action == "frame"
        assert server.queries[-1].transport == "tcp"


def test_frame_is_tcp_only_and_pairs_with_tcponly(server: FaultDNSServer) -> None:
    """UDP is answered from the zone under ``frame=`` (a datagram has no length prefix);
    with ``tcponly`` first, the UDP reply sends the client to TCP, where ``frame=`` fires."""
    server.add_fault("frame=short match=a.test")
    assert addresses(ask(server, "a.test")) == ["10.0.0.1"]
    assert server.queries[-1].action is None
    server.add_fault("tcponly match=a.test")
    assert ask(server, "a.test").flags & dns.flags.TC
    assert server.queries[-1].action == "tcponly"
    got, _ = stream(server, dns.message.make_query("a.test", "A", use_edns=0).to_wire())
    assert int.from_bytes(got[:2], "big") == 12 and len(got) > 14
    assert server.queries[-1].action == "frame"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("frame", "unknown token 'frame' .* write frame=VALUE"),
        ("frame=", "frame= needs a value"),
        ("frame=wide", "frame: expected short, long, hang or a number of bytes 0..65535"),
        ("frame=65536", "frame: expected short, long, hang or a number of bytes 0..65535"),
        ("frame=-1", "frame: expected short, long, hang"),
        ("frame=short proto=udp", "proto=udp makes no sense"),
        ("drop frame=short", "a rule has one action"),
    ],
)
def test_frame_spec_errors_name_the_key(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault(spec)


def test_frame_specs_round_trip_through_text_and_objects() -> None:
    rule = parse_fault("FRAME=Hang match=a.test proto=tcp")
    assert rule.spec == "frame=hang match=a.test proto=tcp"
    assert parse_fault(rule.spec) == rule
    assert parse_fault("frame=007").spec == "frame=7"
    assert FaultRule.from_dict({"frame": 12}).spec == "frame=12"
    assert FaultRule.from_dict({"frame": "long"}).spec == "frame=long"
    assert FaultRule.from_dict(rule.to_dict()) == rule
    with pytest.raises(ValueError, match="key 'frame' only goes with action 'frame'"):
        FaultRule.from_dict({"action": "drop", "frame": "short"})


@pytest.mark.parametrize(
    ("value", "number", "spec"),
    [
        ("class:3", 3, "class:CH"),
        ("CLASS:ch", 3, "class:CH"),
        ("class:hs", 4, "class:HS"),
        ("class:ANY", 255, "class:ANY"),
        ("class:254", 254, "class:NONE"),
        ("class:0", 0, "class:0"),
        ("class:1", 1, "class:IN"),
        ("class:65535", 65535, "class:65535"),
        ("class:2", 2, "class:2"),
        ("type:aaaa", 28, "type:AAAA"),
        ("type:0", 0, "type:0"),
        ("type:255", 255, "type:ANY"),
        ("type:65280", 65280, "type:65280"),
    ],
)
def test_mismatch_values_round_trip_in_canonical_spelling(
    value: str, number: int, spec: str
) -> None:
    """``FIELD:VALUE`` reads a number or a mnemonic (any case) and writes the mnemonic
    when there is one; the rule survives its spec text and its dict (control API)."""
    rule = parse_fault(f"mismatch={value} match=a.test")
    assert (rule.mismatch, rule.mismatch_to) == (value.split(":")[0].lower(), number)
    assert rule.spec == f"mismatch={spec} match=a.test"
    assert parse_fault(rule.spec) == rule
    assert rule.to_dict()["mismatch"] == spec
    assert FaultRule.from_dict(rule.to_dict()) == rule
    assert FaultRule.from_dict({"mismatch": value}).mismatch_to == number
    field = rule.mismatch
    assert field is not None
    built = FaultRule(action="mismatch", mismatch=field, mismatch_to=number, match="a.test")
    assert built == rule
    assert parse_fault("mismatch=class") != parse_fault("mismatch=class:0")


def test_a_mismatch_value_goes_only_with_action_mismatch_and_only_once() -> None:
    with pytest.raises(ValueError, match="mismatch= given with action 'drop'"):
        FaultRule(action="drop", mismatch_to=3)
    with pytest.raises(ValueError, match="a value given twice"):
        FaultRule(action="mismatch", mismatch="class:CH", mismatch_to=3)  # type: ignore[arg-type]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize(
    ("value", "field", "number"),
    [
        ("class:CH", "class", 3),
        ("class:HS", "class", 4),
        ("class:ANY", "class", 255),
        ("class:0", "class", 0),
        ("class:65535", "class", 65535),
        ("type:AAAA", "type", 28),
        ("type:0", "type", 0),
        ("type:ANY", "type", 255),
    ],
)
def test_mismatch_value_sets_exactly_its_field_of_the_zones_answer(
    server: FaultDNSServer, value: str, field: str, number: int, tcp: bool
) -> None:
    """The question's QTYPE or QCLASS is the value (a class above IN among them: what
    the bit flip never gives), the rest is the zone's reply, on every repetition."""
    query = dns.message.make_query("a.test", "A", use_edns=0)
    query.id = 0x2468
    normal = reply_fields(raw_reply(server, query.to_wire(), tcp=tcp))
    server.add_fault(f"mismatch={value} match=a.test")
    for _ in range(3):
        got = reply_fields(raw_reply(server, query.to_wire(), tcp=tcp))
        assert got[field] == number
        assert {k: v for k, v in got.items() if k != field} == {
            k: v for k, v in normal.items() if k != field
        }
        assert server.queries[-1].action == "mismatch"

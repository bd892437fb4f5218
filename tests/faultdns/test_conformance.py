"""Conformance: the header and EDNS rules of RFC 1035 section 4.1.1, RFC 6891, RFC 3225
and RFC 4035, negative answers (RFC 2308) and wildcards (RFC 4592), each checked with
independent clients: dig (BIND's parser) where it can say the thing, dnspython
otherwise, and raw bytes for messages neither will build (two OPT records, trailing
bytes).  The README's conformance table lists every rule with its test here.
"""

from __future__ import annotations

import re
import socket
import struct
import subprocess
from collections.abc import Iterator

import dns.edns
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from faultdns import FaultDNSServer, MonotonicClock
from tests.tools import require_tool

RECORDS = [
    "a.test=10.0.0.1",
    "f.*.e.example.test=10.0.0.6",  # the wildcard owner *.e.example.test: an ENT
    "t.e.example.test=10.0.0.7",
    "*.w.example.test=10.0.0.8",
    *(f"many.test=10.0.1.{i}" for i in range(1, 26)),  # 25 A records: ~430 bytes
]
TIMEOUT = 10.0


@pytest.fixture(scope="module")
def server() -> Iterator[FaultDNSServer]:
    with FaultDNSServer(records=RECORDS, origins=["test"], clock=MonotonicClock()) as dns_server:
        yield dns_server


def dig(server: FaultDNSServer, *args: str) -> str:
    """dig's full output (it fails the test when dig cannot get any reply)."""
    path = require_tool("dig")
    host, port = server.address
    proc = subprocess.run(
        [path, "-p", str(port), f"@{host}", "+time=5", "+tries=2", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def status(output: str) -> str:
    match = re.search(r"status: (\w+)", output)
    assert match, output
    return match.group(1)


def header_flags(output: str) -> set[str]:
    match = re.search(r";; flags:([^;]*);", output)
    assert match, output
    return set(match.group(1).split())


def opt_line(output: str) -> str | None:
    match = re.search(r"; EDNS: (.*)", output)
    return match.group(1) if match else None


def exchange(server: FaultDNSServer, wire: bytes) -> bytes | None:
    """Send raw bytes over UDP; the raw reply, or None when none came."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.0)
        sock.sendto(wire, server.address)
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def reply_to(server: FaultDNSServer, wire: bytes) -> dns.message.Message:
    data = exchange(server, wire)
    assert data is not None, "no reply"
    return dns.message.from_wire(data)


def query(name: str = "a.test", qtype: str = "A", **kwargs: object) -> dns.message.Message:
    return dns.message.make_query(name, qtype, **kwargs)  # type: ignore[arg-type]


OPT_ROOT = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)  # root owner, no options


def with_extra_additional(wire: bytes, rr: bytes) -> bytes:
    """``wire`` with ``rr`` appended to the additional section (ARCOUNT + 1)."""
    arcount = struct.unpack("!H", wire[10:12])[0]
    return wire[:10] + struct.pack("!H", arcount + 1) + wire[12:] + rr


# -- RFC 6891 (EDNS) ----------------------------------------------------------------------


def test_two_opt_records_are_formerr(server: FaultDNSServer) -> None:
    """RFC 6891 6.1.1: more than one OPT RR in a query MUST be FORMERR (issue 10)."""
    wire = with_extra_additional(query(use_edns=0).to_wire(), OPT_ROOT)
    assert reply_to(server, wire).rcode() == dns.rcode.FORMERR
    wire = with_extra_additional(query().to_wire(), OPT_ROOT + OPT_ROOT)  # both added
    assert reply_to(server, wire).rcode() == dns.rcode.FORMERR


def test_an_opt_record_outside_the_additional_section_is_formerr(server: FaultDNSServer) -> None:
    """RFC 6891 6.1.1: the OPT RR belongs in the additional data section."""
    wire = query().to_wire()
    ancount = struct.unpack("!H", wire[6:8])[0]
    moved = wire[:6] + struct.pack("!H", ancount + 1) + wire[8:] + OPT_ROOT
    assert reply_to(server, moved).rcode() == dns.rcode.FORMERR


def test_an_opt_record_not_owned_by_the_root_is_formerr(server: FaultDNSServer) -> None:
    """RFC 6891 6.1.2: the OPT RR's NAME MUST be 0 (the root domain)."""
    owned = b"\x01a\x00" + OPT_ROOT[1:]
    wire = with_extra_additional(query().to_wire(), owned)
    assert reply_to(server, wire).rcode() == dns.rcode.FORMERR


def test_an_unknown_edns_version_is_badvers_with_version_0(server: FaultDNSServer) -> None:
    """RFC 6891 6.1.3: BADVERS (16: 0 in the header, 1 in the OPT's extended rcode)."""
    out = dig(server, "+edns=1", "+noednsneg", "a.test")
    assert status(out) == "BADVERS"
    assert (opt_line(out) or "").startswith("version: 0")
    reply = reply_to(server, query(use_edns=1).to_wire())
    assert reply.rcode() == dns.rcode.BADVERS and reply.edns == 0


def test_an_opt_in_the_query_gets_an_opt_in_every_reply(server: FaultDNSServer) -> None:
    """RFC 6891 section 7: also on NOTIMP, REFUSED, FORMERR (one question missing)."""
    assert opt_line(dig(server, "+opcode=status", "a.test")) is not None
    assert opt_line(dig(server, "-c", "CH", "version.bind", "TXT")) is not None
    assert opt_line(dig(server, "a.test")) is not None
    assert opt_line(dig(server, "+noedns", "a.test")) is None
    no_question = query(use_edns=0)
    no_question.question = []
    reply = reply_to(server, no_question.to_wire())
    assert reply.rcode() == dns.rcode.FORMERR and reply.edns == 0


def test_the_do_bit_is_copied(server: FaultDNSServer) -> None:
    """RFC 3225 section 3: the DO bit of the query MUST be copied in the response."""
    assert "do" in (opt_line(dig(server, "+dnssec", "a.test")) or "").split("flags:")[1]
    assert "do" not in (opt_line(dig(server, "a.test")) or "").split("flags:")[1]
    reply = reply_to(server, query(want_dnssec=True).to_wire())
    assert reply.ednsflags & dns.flags.DO


def test_unknown_edns_options_are_ignored_not_echoed(server: FaultDNSServer) -> None:
    """RFC 6891 6.1.2: options not understood MUST be ignored."""
    out = dig(server, "+ednsopt=65001:c0ffee", "a.test")
    assert status(out) == "NOERROR" and "10.0.0.1" in out
    option = dns.edns.GenericOption(dns.edns.OptionType.make(65001), b"\xc0\xff\xee")
    reply = reply_to(server, query(use_edns=0, options=[option]).to_wire())
    assert not reply.options


def test_a_payload_below_512_counts_as_512(server: FaultDNSServer) -> None:
    """RFC 6891 6.2.5: values lower than 512 MUST be treated as equal to 512."""
    out = dig(server, "+bufsize=100", "+ignore", "many.test")
    assert "tc" not in header_flags(out) and out.count("10.0.1.") == 25


def test_the_advertised_payload_is_1232_and_z_is_zero(server: FaultDNSServer) -> None:
    """RFC 6891 6.1.3/6.2.3: our OPT: version 0, Z 0, UDP size 1232 (DNS Flag Day 2020)."""
    reply = reply_to(server, query(use_edns=0, ednsflags=0x7FFF).to_wire())  # Z bits set
    assert reply.payload == 1232 and reply.edns == 0
    assert reply.ednsflags == 0


# -- RFC 1035 section 4.1.1 (the header) -----------------------------------------------------


def test_other_opcodes_are_notimp_echoing_the_opcode(server: FaultDNSServer) -> None:
    for opcode in ("status", "notify", "update", "iquery"):
        out = dig(server, f"+opcode={opcode}", "a.test")
        assert status(out) == "NOTIMP", opcode
        assert f"opcode: {opcode.upper()}" in out
    for code in (3, 6, 15):  # unassigned opcodes too
        wire = bytearray(query().to_wire())
        wire[2] = (wire[2] & 0x87) | (code << 3)
        reply = reply_to(server, bytes(wire))
        assert reply.rcode() == dns.rcode.NOTIMP and reply.opcode() == code


def test_responses_are_never_answered(server: FaultDNSServer) -> None:
    """QR set: a response, not a query; answering it invites loops."""
    assert exchange(server, dns.message.make_response(query()).to_wire()) is None


def test_exactly_one_question_or_formerr(server: FaultDNSServer) -> None:
    for count in (0, 2):
        message = query()
        message.question = [message.question[0]] * count
        assert reply_to(server, message.to_wire()).rcode() == dns.rcode.FORMERR, count


def test_malformed_or_trailing_bytes_are_formerr(server: FaultDNSServer) -> None:
    wire = query().to_wire()
    assert reply_to(server, wire + b"\x00").rcode() == dns.rcode.FORMERR  # trailing byte
    assert reply_to(server, wire[:-2]).rcode() == dns.rcode.FORMERR  # cut in the question
    past = wire[:10] + b"\x00\x05" + wire[12:]  # ARCOUNT 5, no records
    assert reply_to(server, past).rcode() == dns.rcode.FORMERR
    assert exchange(server, wire[:11]) is None  # not even a header: dropped


def test_query_only_flags_are_ignored_and_reply_flags_are_ours(server: FaultDNSServer) -> None:
    """AA, TC, RA, Z and AD in a query are ignored; the reply has AA (authoritative),
    no RA (no recursion), Z and AD clear (RFC 1035 4.1.1, RFC 4035 3.2.3)."""
    out = dig(server, "+aaflag", "+tcflag", "+raflag", "+zflag", "+adflag", "a.test")
    assert status(out) == "NOERROR" and "10.0.0.1" in out
    assert header_flags(out) == {"qr", "aa", "rd"}
    assert "MBZ" not in out  # dig warns when the reply's Z bit is set
    wire = bytearray(query().to_wire())
    wire[2] |= 0x04 | 0x02  # AA, TC
    wire[3] |= 0x80 | 0x40 | 0x20  # RA, Z, AD
    reply = reply_to(server, bytes(wire))
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer
    assert reply.flags & 0x00F0 == 0  # RA, Z, AD clear; CD not asked


def test_rd_and_cd_are_copied(server: FaultDNSServer) -> None:
    """RD (RFC 1035 4.1.1) and CD (RFC 4035 3.1.6, RFC 6840 5.9) go back as they came."""
    assert header_flags(dig(server, "+norec", "a.test")) == {"qr", "aa"}
    assert header_flags(dig(server, "+cdflag", "a.test")) == {"qr", "aa", "rd", "cd"}
    for flags in (0, dns.flags.RD, dns.flags.CD, dns.flags.RD | dns.flags.CD):
        message = query()
        message.flags = flags
        reply = reply_to(server, message.to_wire())
        assert reply.flags & (dns.flags.RD | dns.flags.CD) == flags
    # On error replies too.
    message = query(rdclass="CH")
    message.flags = dns.flags.CD
    reply = reply_to(server, message.to_wire())
    assert reply.rcode() == dns.rcode.REFUSED and reply.flags & dns.flags.CD


def test_classes_other_than_in_and_any_are_refused(server: FaultDNSServer) -> None:
    for rdclass in ("CH", "HS"):
        assert status(dig(server, "-c", rdclass, "a.test")) == "REFUSED"
    assert status(dig(server, "-c", "ANY", "a.test")) == "NOERROR"


# -- RFC 2308 and RFC 4592 ---------------------------------------------------------------


def _soa_in_authority(output: str) -> bool:
    section = output.partition(";; AUTHORITY SECTION:")[2]
    return bool(re.search(r"\bIN\s+SOA\b", section))


def test_negative_answers_carry_the_soa(server: FaultDNSServer) -> None:
    """RFC 2308 sections 2.1 and 2.2: NXDOMAIN and NODATA with the zone's SOA."""
    nx = dig(server, "nope.test")
    assert status(nx) == "NXDOMAIN" and _soa_in_authority(nx)
    nodata = dig(server, "a.test", "TXT")
    assert status(nodata) == "NOERROR" and _soa_in_authority(nodata)
    assert "ANSWER: 0" in nodata


def test_a_wildcard_owner_that_is_an_empty_non_terminal_gives_nodata(
    server: FaultDNSServer,
) -> None:
    """RFC 4592 4.9: with records at f.*.e.example.test and t.e.example.test, the
    wildcard owner *.e.example.test exists (an empty non-terminal), so
    something.e.example.test is NOERROR/NODATA with the SOA, not NXDOMAIN (issue 10)."""
    out = dig(server, "something.e.example.test", "A")
    assert status(out) == "NOERROR" and "ANSWER: 0" in out and _soa_in_authority(out)
    host, port = server.address
    reply = dns.query.udp(query("something.e.example.test"), host, port=port, timeout=TIMEOUT)
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer == []
    assert [rrset.rdtype for rrset in reply.authority] == [dns.rdatatype.SOA]
    # The names that do exist keep their answers, and the ENT itself is NODATA.
    assert "10.0.0.6" in dig(server, "f.*.e.example.test")
    assert "10.0.0.7" in dig(server, "t.e.example.test")
    assert status(dig(server, "*.e.example.test")) == "NOERROR"


def test_wildcards_synthesise_only_below_the_closest_encloser(server: FaultDNSServer) -> None:
    """RFC 4592 sections 2.2.1 and 3.3.1: a wildcard answers names that do not exist."""
    assert "10.0.0.8" in dig(server, "x.w.example.test")
    assert "10.0.0.8" in dig(server, "deep.x.w.example.test")
    assert status(dig(server, "x.nope.example.test")) == "NXDOMAIN"

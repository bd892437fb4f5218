"""CNAME chains on the wire (RFC 1034 section 4.3.2), read by dnspython and dig.

The zone's rules are tested without a network in test_zone.py; here a real server
answers real clients over UDP and TCP, and the fault rules meet the chains.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from faultdns import FaultDNSServer, MonotonicClock
from tests.tools import require_tool

RECORDS = [
    "a.test=10.0.0.1",
    "a.test=2001:db8::1",
    "b.test CNAME a.test",
    "c.test CNAME b.test",
    "txt.test TXT hello",
    "nodata.test CNAME txt.test",
    "dangling.test CNAME missing.test",
    "out.test CNAME www.example.com",
    "loop1.test CNAME loop2.test",
    "loop2.test CNAME loop1.test",
]


@pytest.fixture(params=[True, False], ids=["batch-io", "recvfrom"])
def server(request: pytest.FixtureRequest) -> Iterator[FaultDNSServer]:
    with FaultDNSServer(
        records=RECORDS, origins=["test"], seed=1, batch_io=request.param, clock=MonotonicClock()
    ) as dns_server:
        yield dns_server


def ask(
    server: FaultDNSServer, name: str, qtype: str = "A", *, tcp: bool = False
) -> dns.message.Message:
    host, port = server.address
    query = dns.message.make_query(name, qtype, use_edns=0)
    if tcp:
        return dns.query.tcp(query, host, port=port, timeout=3)
    return dns.query.udp(query, host, port=port, timeout=3)


def chain(reply: dns.message.Message) -> list[tuple[str, str, str]]:
    """The answer section as (owner, type, data), in wire order."""
    return [
        (rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rd.to_text())
        for rrset in reply.answer
        for rd in rrset
    ]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_chain_then_the_final_targets_addresses(server: FaultDNSServer, tcp: bool) -> None:
    for _ in range(2):  # the second comes from the answer cache
        reply = ask(server, "C.Test", tcp=tcp)
        assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
        assert chain(reply) == [
            ("C.Test.", "CNAME", "b.test."),
            ("b.test.", "CNAME", "a.test."),
            ("a.test.", "A", "10.0.0.1"),
        ]
    assert chain(ask(server, "c.test", "AAAA", tcp=tcp))[-1] == ("a.test.", "AAAA", "2001:db8::1")


def test_nxdomain_and_nodata_of_the_final_target_keep_the_chain(server: FaultDNSServer) -> None:
    gone = ask(server, "dangling.test")
    assert gone.rcode() == dns.rcode.NXDOMAIN
    assert chain(gone) == [("dangling.test.", "CNAME", "missing.test.")]
    assert [rrset.rdtype for rrset in gone.authority] == [dns.rdatatype.SOA]
    empty = ask(server, "nodata.test")
    assert empty.rcode() == dns.rcode.NOERROR and empty.flags & dns.flags.AA
    assert chain(empty) == [("nodata.test.", "CNAME", "txt.test.")]
    assert [rrset.rdtype for rrset in empty.authority] == [dns.rdatatype.SOA]


def test_a_chain_leaving_the_zone_is_answered_as_far_as_ours_goes(server: FaultDNSServer) -> None:
    reply = ask(server, "out.test")
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    assert chain(reply) == [("out.test.", "CNAME", "www.example.com.")]
    assert not reply.authority


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_a_loop_is_answered_with_its_cnames_once(server: FaultDNSServer, tcp: bool) -> None:
    reply = ask(server, "loop1.test", tcp=tcp)
    assert reply.rcode() == dns.rcode.NOERROR
    assert chain(reply) == [
        ("loop1.test.", "CNAME", "loop2.test."),
        ("loop2.test.", "CNAME", "loop1.test."),
    ]


def test_rules_match_the_question_name_not_the_names_along_the_chain(
    server: FaultDNSServer,
) -> None:
    server.add_fault("nxdomain match=a.test")
    assert ask(server, "a.test").rcode() == dns.rcode.NXDOMAIN
    assert chain(ask(server, "b.test"))[-1] == ("a.test.", "A", "10.0.0.1")
    server.add_fault("rcode=NOTIMP match=b.test")
    assert ask(server, "b.test").rcode() == dns.rcode.NOTIMP
    assert chain(ask(server, "c.test"))[-1] == ("a.test.", "A", "10.0.0.1")


def test_truncate_n_cuts_a_chain_like_any_reply(server: FaultDNSServer) -> None:
    full = ask(server, "c.test", tcp=True).to_wire()
    server.add_fault("truncate=40 match=c.test")
    host, port = server.address
    query = dns.message.make_query("c.test", "A", use_edns=0)
    reply, used_tcp = dns.query.udp_with_fallback(query, host, port=port, timeout=3)
    assert used_tcp and chain(reply)[-1] == ("a.test.", "A", "10.0.0.1")
    assert len(full) > 40


def test_dig_reads_the_chain(server: FaultDNSServer) -> None:
    dig = require_tool("dig")
    host, port = server.address
    out = subprocess.run(
        [dig, "-p", str(port), f"@{host}", "+tries=1", "+time=2", "+short", "c.test"],
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout
    assert out.split() == ["b.test.", "a.test.", "10.0.0.1"]
    loop = subprocess.run(
        [dig, "-p", str(port), f"@{host}", "+tries=1", "+time=2", "loop1.test"],
        capture_output=True,
        text=True,
        timeout=20,
    ).stdout
    assert "status: NOERROR" in loop and "ANSWER: 2," in loop

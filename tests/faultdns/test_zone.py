"""Zone records and authority rules, without a network (faultdns._zone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dnslib import QTYPE, RCODE, DNSLabel

from faultdns._zone import Resolution, Zone, ZoneError, name_key, wire_name_key


def _answers(res: Resolution) -> list[tuple[str, str, str, int]]:
    return [(str(rr.rname), QTYPE[rr.rtype], str(rr.rdata), rr.ttl) for rr in res.answer]


def _soa_owner(res: Resolution) -> list[str]:
    return [str(rr.rname) for rr in res.authority if rr.rtype == QTYPE.SOA]


def test_add_forms_and_records() -> None:
    zone = Zone(
        [
            "a.test=10.0.0.1",
            "a.test=2001:db8::1",
            "B.Test. CNAME a.test",
            "t.test TXT 'hello world' 30",
            "s.test SRV 10 5 8080 a.test",
            "test NS ns1.test",
            "test SOA ns1.test. admin.test. 7 3600 600 86400 5 60",
        ]
    )
    assert zone.records() == [
        {"name": "a.test", "type": "A", "value": "10.0.0.1", "ttl": 0},
        {"name": "a.test", "type": "AAAA", "value": "2001:db8::1", "ttl": 0},
        {"name": "b.test", "type": "CNAME", "value": "a.test.", "ttl": 0},
        {"name": "t.test", "type": "TXT", "value": "hello world", "ttl": 30},
        {"name": "s.test", "type": "SRV", "value": "10 5 8080 a.test.", "ttl": 0},
        {"name": "test", "type": "NS", "value": "ns1.test.", "ttl": 0},
        {
            "name": "test",
            "type": "SOA",
            "value": "ns1.test. admin.test. 7 3600 600 86400 5",
            "ttl": 60,
        },
    ]


def test_default_ttl_applies_to_records_without_one() -> None:
    zone = Zone(["a.test=10.0.0.1", "b.test A 10.0.0.2 99"], ttl=0)
    zone.ttl = 5
    assert [r["ttl"] for r in zone.records()] == [5, 99]
    assert _answers(zone.resolve("a.test", QTYPE.A))[0][3] == 5


def test_duplicate_records_are_kept_once_and_cname_owns_its_name() -> None:
    zone = Zone(["a.test=10.0.0.1", "a.test=10.0.0.1"])
    assert len(zone.records()) == 1
    zone.add("a.test CNAME b.test")
    assert [r["type"] for r in zone.records()] == ["CNAME"]
    zone.add("a.test=10.0.0.3")
    assert [r["type"] for r in zone.records()] == ["A"]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "empty"),
        ("a.test=10.0.0", "expected NAME=ADDR with an IP address"),
        ("a.test A", "expected NAME=ADDR or NAME TYPE VALUE [TTL]"),
        ("a.test MX 10 mail.test", "type: expected one of"),
        ("a.test A 10.0.0.300", "expected an IP address, got '10.0.0.300'"),
        ("a.test AAAA 10.0.0.1", "10.0.0.1 is not an AAAA address"),
        ("a.test A 10.0.0.1 soon", "TTL: expected a whole number"),
        ("a.test A 10.0.0.1 30 40", "takes 1 value field(s)"),
        ("s.test SRV 1 2 a.test", "SRV takes 4 value field(s)"),
        ("s.test SRV 1 2 70000 a.test", "port: expected a whole number 0..65535"),
        ("test SOA a. b. 1 2 3 4", "SOA takes 7 value field(s)"),
        ("a..test=10.0.0.1", "empty label"),
        ("x" * 64 + ".test=10.0.0.1", "longer than 63 bytes"),
        ("t.test TXT 'unclosed", 'record "t.test TXT \'unclosed"'),
    ],
)
def test_bad_records_name_the_record(spec: str, fragment: str) -> None:
    with pytest.raises(ZoneError) as info:
        Zone().add(spec)
    assert fragment in str(info.value)


def test_add_dict() -> None:
    zone = Zone()
    zone.add_dict({"name": "a.test", "type": "a", "value": "10.0.0.1", "ttl": 3})
    zone.add_dict({"spec": "b.test=10.0.0.2"})
    assert [(r["name"], r["ttl"]) for r in zone.records()] == [("a.test", 3), ("b.test", 0)]
    with pytest.raises(ZoneError, match="missing key 'value'"):
        zone.add_dict({"name": "a.test", "type": "A"})
    with pytest.raises(ZoneError, match="unknown key 'color'"):
        zone.add_dict({"name": "a.test", "type": "A", "value": "10.0.0.1", "color": 1})


def test_load_toml(tmp_path: Path) -> None:
    path = tmp_path / "zone.toml"
    path.write_text(
        """
ttl = 7
origins = ["test"]
records = ["a.test=10.0.0.1", "t.test TXT 'two words'"]

[[record]]
name = "s.test"
type = "SRV"
value = "1 2 53 a.test"

[[record]]
name = "b.test"
type = "A"
value = "10.0.0.2"
ttl = 60
"""
    )
    zone = Zone()
    zone.load_toml(path)
    assert zone.origins == ("test",)
    assert zone.ttl == 7
    assert [(r["name"], r["type"], r["ttl"]) for r in zone.records()] == [
        ("a.test", "A", 7),
        ("t.test", "TXT", 7),
        ("s.test", "SRV", 7),
        ("b.test", "A", 60),
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('records = ["a.test=1.2.3"]', "records[1]: record 'a.test=1.2.3'"),
        ('[[record]]\nname = "a.test"\ntype = "A"\n', "[[record]] #1: missing key 'value'"),
        (
            '[[record]]\nname="a.test"\ntype="A"\nvalue="10.0.0.1"\n[[record]]\nname="b"\ntype="Q"\nvalue="x"\n',
            "[[record]] #2: type: expected one of",
        ),
        ("ttl = -1", "ttl: TTL: expected 0..2147483647"),
        ("origins = 3", "origins: expected a list"),
        ("zones = []", "unknown key 'zones'"),
        ("[[record]\n", "invalid TOML"),
    ],
)
def test_load_toml_errors(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "zone.toml"
    path.write_text(text)
    zone = Zone(["keep.test=10.0.0.9"])
    with pytest.raises(ZoneError) as info:
        zone.load_toml(path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)
    assert len(zone.records()) == 1  # nothing half-loaded


def test_names() -> None:
    assert name_key("Example.TEST.") == "example.test"
    assert name_key(".") == ""
    assert wire_name_key([b"A", b"Test"]) == "a.test"
    # A dot inside a label cannot pose as two labels.
    assert wire_name_key([b"a.b", b"test"]) == "a\\046b.test"
    with pytest.raises(ZoneError, match="space or backslash"):
        name_key("a b.test")


# -- answering ----------------------------------------------------------------------


@pytest.fixture
def zone() -> Zone:
    return Zone(
        [
            "a.test=10.0.0.1",
            "b.test CNAME a.test",
            "c.test CNAME b.test",
            "out.test CNAME www.elsewhere.example",
            "gone.test CNAME missing.test",
            "loop1.test CNAME loop2.test",
            "loop2.test CNAME loop1.test",
            "*.wild.test TXT wild",
            "exact.wild.test TXT exact",
            "deep.ent.test=10.0.0.5",
        ],
        origins=["test"],
    )


def test_answer_uses_the_asked_case_for_the_owner(zone: Zone) -> None:
    res = zone.resolve("a.test", QTYPE.A, DNSLabel("A.tEsT."))
    assert res.rcode == RCODE.NOERROR and res.authoritative
    assert _answers(res) == [("A.tEsT.", "A", "10.0.0.1", 0)]


def test_nxdomain_inside_origin_carries_origin_soa(zone: Zone) -> None:
    res = zone.resolve("nope.test", QTYPE.A)
    assert res.rcode == RCODE.NXDOMAIN and res.answer == ()
    assert _soa_owner(res) == ["test."]
    soa = res.authority[0]
    assert soa.ttl == 0 and soa.rdata.times[4] == 0  # negative TTL is the zone TTL


def test_nodata_carries_soa(zone: Zone) -> None:
    res = zone.resolve("a.test", QTYPE.AAAA)
    assert res.rcode == RCODE.NOERROR and res.answer == ()
    assert _soa_owner(res) == ["test."]


def test_empty_non_terminal_is_nodata_not_nxdomain(zone: Zone) -> None:
    res = zone.resolve("ent.test", QTYPE.A)
    assert res.rcode == RCODE.NOERROR and _soa_owner(res) == ["test."]


def test_outside_every_origin_is_refused(zone: Zone) -> None:
    res = zone.resolve("a.example", QTYPE.A)
    assert res.rcode == RCODE.REFUSED and not res.authoritative
    assert res.answer == () and res.authority == ()


def test_explicit_soa_sets_negative_ttl() -> None:
    zone = Zone(["test SOA ns.test. admin.test. 1 2 3 4 30 300"], origins=["test"])
    res = zone.resolve("nope.test", QTYPE.A)
    assert res.rcode == RCODE.NXDOMAIN
    assert res.authority[0].ttl == 30  # min(record TTL 300, minimum 30)
    assert str(res.authority[0].rdata.mname) == "ns.test."


def test_origin_apex_answers_a_synthesized_soa(zone: Zone) -> None:
    res = zone.resolve("test", QTYPE.SOA)
    assert res.rcode == RCODE.NOERROR
    assert [QTYPE[rr.rtype] for rr in res.answer] == ["SOA"]


def test_innermost_origin_wins() -> None:
    zone = Zone(["a.sub.test=10.0.0.1"], origins=["test", "sub.test"])
    assert _soa_owner(zone.resolve("x.sub.test", QTYPE.A)) == ["sub.test."]
    assert _soa_owner(zone.resolve("x.test", QTYPE.A)) == ["test."]


def test_without_origins_every_name_is_ours_with_a_parent_soa() -> None:
    zone = Zone(["a.test=10.0.0.1"])
    res = zone.resolve("nope.example.org", QTYPE.A)
    assert res.rcode == RCODE.NXDOMAIN and _soa_owner(res) == ["example.org."]
    res = zone.resolve("org", QTYPE.A)
    assert res.rcode == RCODE.NXDOMAIN and _soa_owner(res) == ["."]
    assert zone.resolve("a.test", QTYPE.A).rcode == RCODE.NOERROR


def test_cname_chain_is_followed_inside_the_zone(zone: Zone) -> None:
    res = zone.resolve("c.test", QTYPE.A, DNSLabel("C.test."))
    assert res.rcode == RCODE.NOERROR
    assert _answers(res) == [
        ("C.test.", "CNAME", "b.test.", 0),
        ("b.test.", "CNAME", "a.test.", 0),
        ("a.test.", "A", "10.0.0.1", 0),
    ]
    # Asking for the CNAME itself does not chase.
    assert _answers(zone.resolve("c.test", QTYPE.CNAME)) == [("c.test.", "CNAME", "b.test.", 0)]


def test_cname_out_of_our_zones_is_not_chased(zone: Zone) -> None:
    res = zone.resolve("out.test", QTYPE.A)
    assert res.rcode == RCODE.NOERROR
    assert _answers(res) == [("out.test.", "CNAME", "www.elsewhere.example.", 0)]


def test_cname_to_a_missing_name_is_nxdomain_with_the_cname(zone: Zone) -> None:
    res = zone.resolve("gone.test", QTYPE.A)
    assert res.rcode == RCODE.NXDOMAIN
    assert [a[1] for a in _answers(res)] == ["CNAME"]
    assert _soa_owner(res) == ["test."]


def test_cname_to_a_name_without_the_type_is_nodata_with_the_cname(zone: Zone) -> None:
    zone.add("txt.test TXT hello")
    zone.add("t.test CNAME txt.test")
    res = zone.resolve("t.test", QTYPE.A)
    assert res.rcode == RCODE.NOERROR and res.authoritative
    assert _answers(res) == [("t.test.", "CNAME", "txt.test.", 0)]
    assert _soa_owner(res) == ["test."]
    # ... and the target's records of the asked type follow the chain.
    assert [a[1] for a in _answers(zone.resolve("t.test", QTYPE.TXT))] == ["CNAME", "TXT"]


def test_cname_chain_appends_every_address_of_the_final_target() -> None:
    zone = Zone(
        ["a.test=10.0.0.1", "a.test=10.0.0.2", "a.test=2001:db8::1", "x.test CNAME y.test"],
        origins=["test"],
    )
    zone.add("y.test CNAME a.test")
    for qtype, want in ((QTYPE.A, ["10.0.0.1", "10.0.0.2"]), (QTYPE.AAAA, ["2001:db8::1"])):
        res = zone.resolve("x.test", qtype)
        assert [a[1] for a in _answers(res)] == ["CNAME", "CNAME"] + [QTYPE[qtype]] * len(want)
        assert [a[2] for a in _answers(res)[2:]] == want
        assert all(a[0] == "a.test." for a in _answers(res)[2:])


def test_cname_chain_across_origins_is_followed_and_out_of_them_is_not() -> None:
    zone = Zone(
        ["a.one=10.0.0.1", "x.two CNAME a.one", "y.two CNAME www.example.com"],
        origins=["one", "two"],
    )
    assert [a[2] for a in _answers(zone.resolve("x.two", QTYPE.A))] == ["a.one.", "10.0.0.1"]
    res = zone.resolve("y.two", QTYPE.A)
    assert res.rcode == RCODE.NOERROR and res.authoritative and not res.authority
    assert _answers(res) == [("y.two.", "CNAME", "www.example.com.", 0)]


def test_without_origins_every_target_is_ours_and_a_missing_one_nxdomain() -> None:
    zone = Zone(["x.test CNAME www.example.com"])
    res = zone.resolve("x.test", QTYPE.A)
    assert res.rcode == RCODE.NXDOMAIN
    assert _answers(res) == [("x.test.", "CNAME", "www.example.com.", 0)]
    assert _soa_owner(res) == ["example.com."]  # the target's SOA, not the question's


def test_cname_loop_is_answered_with_the_chain_once(zone: Zone) -> None:
    res = zone.resolve("loop1.test", QTYPE.A)
    assert res.rcode == RCODE.NOERROR and res.authoritative and not res.authority
    assert _answers(res) == [
        ("loop1.test.", "CNAME", "loop2.test.", 0),
        ("loop2.test.", "CNAME", "loop1.test.", 0),
    ]
    zone.add("self.test CNAME self.test")
    assert _answers(zone.resolve("self.test", QTYPE.AAAA)) == [
        ("self.test.", "CNAME", "self.test.", 0)
    ]


def test_cname_chain_longer_than_16_stops_where_it_got() -> None:
    chain = [f"c{i}.test CNAME c{i + 1}.test" for i in range(40)]
    zone = Zone([*chain, "c40.test=10.0.0.40"], origins=["test"])
    full = zone.resolve("c24.test", QTYPE.A)  # 16 CNAMEs, then the address
    assert [a[1] for a in _answers(full)] == ["CNAME"] * 16 + ["A"]
    assert _answers(full)[-1][2] == "10.0.0.40"
    cut = zone.resolve("c0.test", QTYPE.A)
    assert cut.rcode == RCODE.NOERROR and not cut.authority
    assert [a[1] for a in _answers(cut)] == ["CNAME"] * 17
    assert _answers(cut)[-1] == ("c16.test.", "CNAME", "c17.test.", 0)


def test_wildcard_cname_is_chased(zone: Zone) -> None:
    zone.add("*.alias.test CNAME a.test")
    res = zone.resolve("Any.alias.test", QTYPE.A, DNSLabel("Any.alias.test."))
    assert _answers(res) == [
        ("Any.alias.test.", "CNAME", "a.test.", 0),
        ("a.test.", "A", "10.0.0.1", 0),
    ]


def test_wildcards(zone: Zone) -> None:
    res = zone.resolve("x.y.wild.test", QTYPE.TXT, DNSLabel("X.y.wild.test."))
    assert _answers(res) == [("X.y.wild.test.", "TXT", '"wild"', 0)]
    assert _answers(zone.resolve("exact.wild.test", QTYPE.TXT))[0][2] == '"exact"'
    # The wildcard does not cover the name that exists below it (RFC 4592)...
    assert zone.resolve("x.exact.wild.test", QTYPE.TXT).rcode == RCODE.NXDOMAIN
    # ...and a wildcard match with another type is NODATA.
    res = zone.resolve("x.wild.test", QTYPE.A)
    assert res.rcode == RCODE.NOERROR and res.answer == ()


def test_any_returns_every_type() -> None:
    zone = Zone(["a.test=10.0.0.1", "a.test=::1", "a.test TXT x"])
    assert sorted(a[1] for a in _answers(zone.resolve("a.test", QTYPE.ANY))) == ["A", "AAAA", "TXT"]


def test_every_change_bumps_the_generation() -> None:
    zone = Zone()
    seen = [zone.generation]
    zone.add("a.test=10.0.0.1")
    seen.append(zone.generation)
    zone.add_origin("test")
    seen.append(zone.generation)
    zone.ttl = 9
    seen.append(zone.generation)
    assert zone.remove("a.test", "A") == 1
    seen.append(zone.generation)
    assert seen == sorted(set(seen))
    assert zone.resolve("a.test", QTYPE.A).rcode == RCODE.NXDOMAIN


@pytest.mark.parametrize("ttl", ["\x1d\x1d\x1d\x1d29", "²", "٣", "3\x1c", "9" * 5000])
def test_a_ttl_of_other_digits_or_spaces_is_a_zone_error(ttl: str) -> None:
    """TTLs are ASCII digits (RFC 1035 section 5.1): str.isdigit() and str.strip()
    accept characters int() refuses, and the ValueError escaped (a fuzz finding)."""
    with pytest.raises(ZoneError, match="TTL"):
        Zone().add_dict({"name": "a.test", "type": "a", "value": "10.0.0.1", "ttl": ttl})

"""resolv.conf read as Go 1.23's ``dnsReadConfig`` reads it (deviation 6 of issue 8).

The expectations marked "Go:" were checked against Go 1.23.9 (CGO_ENABLED=0) with the
file bind-mounted over /etc/resolv.conf: the queries it sent are quoted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanup._resolvconf import (
    DEFAULT_NAMESERVERS,
    ResolvConfError,
    default_search,
    ip_literal_text,
    parse_ip_literal,
    parse_resolv_conf,
    read_resolv_conf,
)

POD_SEARCH = (
    "harvester-system.svc.cluster.local.",
    "svc.cluster.local.",
    "cluster.local.",
)
POD_RESOLV_CONF = """\
# written by kubelet
search harvester-system.svc.cluster.local svc.cluster.local cluster.local
nameserver 10.53.0.10
options ndots:5
"""


def test_resolv_conf_of_a_pod() -> None:
    conf = parse_resolv_conf(POD_RESOLV_CONF, hostname="node1")
    assert conf.nameservers == ("10.53.0.10:53",)
    assert conf.search == POD_SEARCH
    assert (conf.ndots, conf.timeout, conf.attempts, conf.rotate) == (5, 5.0, 2, False)
    assert not (conf.single_request or conf.use_tcp or conf.unknown_options)


def test_comment_after_a_value_is_ignored_only_where_go_ignores_it() -> None:
    """Go: ``nameserver 10.53.0.10 # cluster dns`` uses 10.53.0.10; ``search test #
    comment`` searches ``test.``, ``#.`` and ``comment.`` (it queried zz.# and zz.comment)."""
    conf = parse_resolv_conf("nameserver 10.53.0.10 # cluster dns\nsearch test # comment\n")
    assert conf.nameservers == ("10.53.0.10:53",)
    assert conf.search == ("test.", "#.", "comment.")


def test_comment_only_at_the_first_byte() -> None:
    conf = parse_resolv_conf("; x\n# y\n  # z\nnameserver 10.0.0.1\n", hostname="n")
    assert conf.nameservers == ("10.0.0.1:53",)
    assert conf.unknown_options  # "  # z" is a line whose keyword is "#"


def test_ndots_five_is_zero_like_go_dtoi() -> None:
    """Go: ``options ndots:five`` made it ask the bare name ``a`` first."""
    assert parse_resolv_conf("options ndots:five\n", hostname="n").ndots == 0
    assert parse_resolv_conf("options ndots:5x\n", hostname="n").ndots == 5
    conf = parse_resolv_conf("options timeout: attempts:-1 ndots:30\n", hostname="n")
    assert (conf.timeout, conf.attempts, conf.ndots) == (1.0, 1, 15)
    assert parse_resolv_conf("options attempts:99999999\n", hostname="n").attempts == 0xFFFFFF


def test_empty_search_falls_back_to_the_hostname_domain() -> None:
    """Go: with ``search`` empty and hostname node1.test it asked zz.test first."""
    assert parse_resolv_conf("search\n", hostname="node1.test").search == ("test.",)
    assert parse_resolv_conf("search a\nsearch\n", hostname="node1").search == ()
    assert parse_resolv_conf("nameserver 10.0.0.1\n", hostname="n.a.b").search == ("a.b.",)
    assert default_search("node1.") == ()
    assert default_search("node1") == ()


def test_crlf_reads_like_lf() -> None:
    """Go: a CRLF file with ``search test`` and ``ndots:2`` resolved ``a`` as a.test."""
    crlf = POD_RESOLV_CONF.replace("\n", "\r\n")
    assert parse_resolv_conf(crlf, hostname="n") == parse_resolv_conf(POD_RESOLV_CONF, hostname="n")


def test_options_go_honours() -> None:
    text = "options edns0 rotate single-request-reopen usevc trust-ad no-reload\n"
    conf = parse_resolv_conf(text, hostname="n")
    assert conf.rotate and conf.single_request and conf.use_tcp and conf.trust_ad
    assert conf.no_reload and not conf.unknown_options
    for spelling in ("use-vc", "usevc", "tcp"):
        assert parse_resolv_conf(f"options {spelling}\n", hostname="n").use_tcp
    assert parse_resolv_conf("options single-request\n", hostname="n").single_request
    assert parse_resolv_conf("options inet6 debug\n", hostname="n").unknown_options
    assert parse_resolv_conf("sortlist 10.0.0.0/8\n", hostname="n").unknown_options


def test_nameservers_at_most_three_usable_ones() -> None:
    text = """\
nameserver dns.example
nameserver 10.0.0.1
nameserver
nameserver fe80::1%eth0
nameserver ::1
nameserver 10.0.0.4
"""
    conf = parse_resolv_conf(text, hostname="n")
    assert conf.nameservers == ("10.0.0.1:53", "[fe80::1%eth0]:53", "[::1]:53")
    assert parse_resolv_conf("search a\n", hostname="n").nameservers == DEFAULT_NAMESERVERS


def test_nameserver_with_port_is_ignored_as_go_ignores_it() -> None:
    # review finding 4 (h1.py ns-with-port, h2.py ns-bad-port): Go's dnsReadConfig keeps
    # a nameserver only when netip.ParseAddr takes the whole field.
    text = (
        "nameserver 127.0.0.1:5353\n"
        "nameserver [::1]:53\n"
        "nameserver 10.0.0.1:abc\n"
        "nameserver 10.0.0.1:99999\n"
        "nameserver [::1\n"
        "nameserver 10.0.0.7\n"
    )
    assert parse_resolv_conf(text, hostname="n").nameservers == ("10.0.0.7:53",)
    only_ports = "nameserver 127.0.0.1:5353\nnameserver 10.0.0.1:abc\n"
    assert parse_resolv_conf(only_ports, hostname="n").nameservers == DEFAULT_NAMESERVERS


def test_nameserver_is_spelt_as_written() -> None:
    # Go: JoinHostPort(f[1], "53"), so the server in errors is the file's spelling
    conf = parse_resolv_conf("nameserver 0:0::1\nnameserver FE80::1%eth0\n", hostname="n")
    assert conf.nameservers == ("[0:0::1]:53", "[FE80::1%eth0]:53")


@pytest.mark.parametrize(
    ("field", "zone"),
    [
        ("fe80::1%eth0\x0b", "eth0\x0b"),
        ("fe80::1%eth0\x0c", "eth0\x0c"),
        ("fe80::1%eth0\u00a0", "eth0\u00a0"),
        ("fe80::1%eth%0", "eth%0"),
        ("fe80::1%%", "%"),
        ("::ffff:10.0.0.1%\x85", "\x85"),
    ],
)
def test_a_zone_is_any_text_after_the_first_percent_as_go_parse_addr(field: str, zone: str) -> None:
    # seed 16: Go's getFields splits only at space, \r, \t, \n, and netip.ParseAddr's
    # parseIPv6 keeps any non-empty zone, so these lines are servers for Go
    conf = parse_resolv_conf(f"nameserver {field}\n", hostname="n")
    assert conf.nameservers == (f"[{field}]:53",)
    literal = parse_ip_literal(field)
    assert literal is not None and literal.zone == zone


@pytest.mark.parametrize(
    "text", ["fe80::1%", "1.2.3.4%eth0", " fe80::1%eth0", "1.2.3.4 ", "%eth0", "[::1]"]
)
def test_an_empty_zone_a_zone_on_ipv4_or_space_around_the_address_is_no_literal(
    text: str,
) -> None:
    assert parse_ip_literal(text) is None and ip_literal_text(text) is None


def test_ip_literal_text_prints_a_mapped_address_as_ipv4_with_its_zone() -> None:
    assert ip_literal_text("::ffff:1.2.3.4%eth0 ") == "1.2.3.4%eth0 "
    assert ip_literal_text("FE80::1%a%b") == "fe80::1%a%b"


def test_host_port_only_when_opted_in_and_its_errors(tmp_path: Path) -> None:
    text = "nameserver 127.0.0.1:5353\nnameserver [::1]:53\nnameserver 10.0.0.9\n"
    conf = parse_resolv_conf(text, hostname="n", ports=True)
    assert conf.nameservers == ("127.0.0.1:5353", "[::1]:53", "10.0.0.9:53")
    path = tmp_path / "resolv.conf"
    path.write_text(text)
    assert read_resolv_conf(path, hostname="n", ports=True).nameservers == conf.nameservers
    assert read_resolv_conf(path, hostname="n").nameservers == ("10.0.0.9:53",)
    with pytest.raises(ResolvConfError, match=r"x line 2: nameserver '10.0.0.1:99999': port"):
        parse_resolv_conf("\nnameserver 10.0.0.1:99999\n", source="x", ports=True)
    # "²" passes str.isdigit() but not int(): a port is ASCII digits
    with pytest.raises(ResolvConfError, match=r"port '²' is not 1-65535"):
        parse_resolv_conf("nameserver 10.0.0.1:²\n", source="x", ports=True)
    with pytest.raises(ResolvConfError, match="missing ']'"):
        parse_resolv_conf("nameserver [::1\n", source="x", ports=True)
    # a host name is skipped even with ports: a stub resolver cannot look up its server
    assert parse_resolv_conf("nameserver dns:53\n", hostname="n", ports=True).nameservers == (
        DEFAULT_NAMESERVERS
    )


def test_domain_and_search_lines_the_last_one_wins() -> None:
    assert parse_resolv_conf("search a b\ndomain c\n").search == ("c.",)
    assert parse_resolv_conf("domain c\nsearch a b.\n").search == ("a.", "b.")
    assert parse_resolv_conf("domain c d\n").search == ("c.",)
    assert parse_resolv_conf("search . a\n").search == ("a.",)
    # Go: "domain ." keeps the root; the candidate "zz.." is never sent
    assert parse_resolv_conf("domain .\n").search == (".",)
    assert parse_resolv_conf("search .\n", hostname="h.x").search == ("x.",)


def test_a_line_longer_than_gos_buffer_ends_the_parse() -> None:
    long = "search " + "a" * (64 * 1024) + "\nnameserver 10.0.0.1\n"
    assert parse_resolv_conf("nameserver 10.0.0.9\n" + long, hostname="n").nameservers == (
        "10.0.0.9:53",
    )


@pytest.mark.parametrize(
    ("before", "last", "newline", "read"),
    [
        # Go 1.23.9's net/parse.go readLine, run on these files: a line is read when its
        # bytes fit in the 64 KiB buffer with room for the newline (or the file's end)
        ("", 64 * 1024, False, False),
        ("", 64 * 1024 - 1, False, True),
        ("#\n", 64 * 1024, False, False),
        ("#\n", 64 * 1024 - 1, False, True),
        ("#\n", 64 * 1024 - 2, False, True),  # the file exactly 64 KiB
        ("#\n", 64 * 1024, True, False),
        ("#\n", 64 * 1024 - 1, True, True),
    ],
)
def test_the_last_line_is_read_as_gos_buffer_allows(
    before: str, last: int, newline: bool, read: bool
) -> None:
    line = "options" + " " * (last - len("options ndots:3") + 1) + "ndots:3"
    assert len(line.encode()) == last
    conf = parse_resolv_conf(before + line + ("\n" if newline else ""), hostname="n")
    assert conf.ndots == (3 if read else 1)


def test_a_last_line_without_a_newline_is_read() -> None:
    assert parse_resolv_conf("nameserver 10.0.0.9\noptions ndots:0", hostname="n").ndots == 0


def test_read_resolv_conf_from_a_file_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text(POD_RESOLV_CONF)
    assert read_resolv_conf(path).ndots == 5
    assert read_resolv_conf(str(path), hostname="n").search == POD_SEARCH
    with pytest.raises(ResolvConfError, match=r"cannot read .*missing"):
        read_resolv_conf(tmp_path / "missing")

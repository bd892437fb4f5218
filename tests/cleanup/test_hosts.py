"""The hosts file, as Go 1.23's pure resolver reads it and consults it before DNS.

Every expectation here was asked of Go 1.23.9 (``CGO_ENABLED=0``, ``LookupIPAddr``
with ``PreferGo``, /etc/hosts and /etc/resolv.conf bind-mounted in a private mount
namespace); Go returns addresses sorted by RFC 6724 (``::1`` first), we in file order,
so addresses are compared as sets where a name has both families.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanup import DNSError, HostsTable, StubResolver
from cleanup._hosts import parse_hosts, read_hosts
from cleanup.testing import FastForwardClock

# The hosts file the differential oracle's sandbox mounts for Go (sim/_fidelity/_sandbox.py)
SANDBOX_HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"

ASKED_OF_GO = """\
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost
10.1.2.3 My_Host.Example alias # comment 10.9.9.8
10.1.2.4 my_host.example #x
  # 10.9.9.9 commented
fe80::1%lo zoned
1.2.3.4%lo v4zone
::ffff:1.2.3.5 mapped
10.0.0.1
bad-ip name1
10.7.7.7 dotted.name. undotted
"""


def ns(server: object) -> str:
    host, port = server.address  # type: ignore[attr-defined]
    return f"{host}:{port}"


def names(server: object) -> list[str]:
    """The names the server was asked, rooted."""
    return [q.name.rstrip(".") + "." for q in server.queries]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", {"127.0.0.1", "::1"}),
        ("LOCALHOST", {"127.0.0.1", "::1"}),
        ("ip6-localhost", {"::1"}),
        ("my_host.example", {"10.1.2.3", "10.1.2.4"}),  # every line's address
        ("MY_HOST.EXAMPLE.", {"10.1.2.3", "10.1.2.4"}),  # a dotted name: trailing dot too
        ("alias", {"10.1.2.3"}),
        ("zoned", {"fe80::1%lo"}),
        ("mapped", {"1.2.3.5"}),  # Go's IP.String prints an IPv4-mapped address as IPv4
        ("dotted.name", {"10.7.7.7"}),
        ("dotted.name.", {"10.7.7.7"}),
        ("undotted", {"10.7.7.7"}),
        # Go: not in the table, so DNS is asked
        ("undotted.", set()),  # absDomainName adds no dot to a name without one
        ("localhost.", set()),
        ("v4zone", set()),  # netip.ParseAddr refuses a zone on IPv4: line skipped
        ("name1", set()),  # the address does not parse: line skipped
        ("commented", set()),
        ("10.9.9.8", set()),  # the text after '#' is no name (and is an IP literal anyway)
    ],
)
def test_parse_hosts_as_go_reads_it(host: str, expected: set[str]) -> None:
    assert set(parse_hosts(ASKED_OF_GO).lookup(host)) == expected


def test_a_name_on_several_lines_keeps_file_order_and_first_canonical() -> None:
    table = parse_hosts("10.0.0.2 b a\n10.0.0.1 a\n")
    assert table.lookup("a") == ("10.0.0.2", "10.0.0.1")
    assert table.canonical["a"] == "b"


def test_case_folds_ascii_only() -> None:
    # Go's lowerASCIIBytes: "É" is not folded, so "é" does not match it
    table = parse_hosts("10.0.0.1 HÉ.test\n")
    assert table.lookup("hÉ.test") == ("10.0.0.1",)
    assert table.lookup("hé.test") == ()


def test_read_hosts_path_text_missing_and_none(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text(SANDBOX_HOSTS)
    assert read_hosts(path).lookup("ip6-loopback") == ("::1",)
    assert read_hosts(str(path)) == read_hosts(SANDBOX_HOSTS)
    # Go: a missing (or unreadable) hosts file is an empty table, not an error
    assert read_hosts(tmp_path / "missing") == HostsTable()
    assert read_hosts(None) == HostsTable()


# -- finding 5: the hosts file answers first, against a real faultdns ----------------------


@pytest.fixture
def dns(faultdns_factory: object) -> object:
    return faultdns_factory(records=["localhost.a.test=10.9.9.9", "repo.a.test=10.0.0.5"])  # type: ignore[operator]


def test_finding_5_localhost_is_answered_from_hosts_without_a_query(
    dns: object, clock: FastForwardClock
) -> None:
    """Go 1.23.9 (hosts: files dns): ``localhost`` and ``LocalHost`` are 127.0.0.1 and
    ::1 from the hosts file; no query, not even ``localhost.a.test`` from the search
    list (review finding 5, h2.py localhost LOCALHOST)."""
    text = "search a.test\nnameserver 127.0.0.1\noptions ndots:5\n"
    resolver = StubResolver.from_resolv_conf(text, clock=clock, hosts=SANDBOX_HOSTS)
    resolver.servers = [(dns.address[0], dns.address[1])]  # type: ignore[attr-defined]
    for host in ("localhost", "LocalHost", "LOCALHOST"):
        assert set(resolver.resolve(host)) == {"127.0.0.1", "::1"}
    assert names(dns) == []
    assert resolver.resolve("repo") == ["10.0.0.5"]  # not listed: DNS as before
    assert names(dns)[:2] == ["repo.a.test.", "repo.a.test."]


def test_without_hosts_localhost_goes_to_dns(dns: object, clock: FastForwardClock) -> None:
    resolver = StubResolver([ns(dns)], search=["a.test"], ndots=5, clock=clock, hosts=None)
    assert resolver.resolve("localhost") == ["10.9.9.9"]
    assert set(names(dns)) == {"localhost.a.test."}


def test_localhost_with_a_trailing_dot_is_not_in_hosts(
    dns: object, clock: FastForwardClock
) -> None:
    """Go: ``localhost.`` is not the key ``localhost``; DNS says no such host."""
    resolver = StubResolver([ns(dns)], clock=clock, hosts=SANDBOX_HOSTS)
    with pytest.raises(DNSError) as info:
        resolver.resolve("localhost.")
    assert str(info.value) == f"lookup localhost. on {ns(dns)}: no such host"
    assert set(names(dns)) == {"localhost."}


def test_hosts_answers_a_name_dns_could_not_ask(dns: object, clock: FastForwardClock) -> None:
    """Go looks in the hosts file before ``isDomainName``: ``bad name`` listed there
    resolves, unlisted it is "no such host" without a query."""
    resolver = StubResolver([ns(dns)], clock=clock, hosts="10.1.1.1 my_host\n")
    assert resolver.resolve("my_host") == ["10.1.1.1"]
    resolver = StubResolver([ns(dns)], clock=clock, hosts="10.1.1.1 x\n")
    with pytest.raises(DNSError, match=r"^lookup bad name: no such host$"):
        resolver.resolve("bad name")
    assert names(dns) == []


def test_default_hosts_is_etc_hosts_and_a_missing_file_is_empty(
    dns: object, clock: FastForwardClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert StubResolver([ns(dns)], clock=clock).hosts == read_hosts("/etc/hosts")
    resolver = StubResolver([ns(dns)], clock=clock, hosts=tmp_path / "missing")
    assert resolver.hosts == HostsTable()
    path = tmp_path / "hosts"
    path.write_text("10.2.2.2 repo.a.test\n")
    resolver = StubResolver.from_resolv_conf(
        f"nameserver {ns(dns)}\n", clock=clock, ports=True, hosts=path
    )
    assert resolver.resolve("repo.a.test") == ["10.2.2.2"]
    assert names(dns) == []


def test_a_hosts_line_whose_zone_has_a_percent_or_vertical_tab_is_read_as_go_reads_it() -> None:
    # seed 16: Go's netip.ParseAddr keeps any non-empty zone after the first '%'
    table = parse_hosts("fe80::1%eth%0 a.test\nfe80::2%x\x0b b.test\nfe80::3% c.test\n")
    assert table.lookup("a.test") == ("fe80::1%eth%0",)
    assert table.lookup("b.test") == ("fe80::2%x\x0b",)
    assert table.lookup("c.test") == ()  # "fe80::3%": an empty zone is refused

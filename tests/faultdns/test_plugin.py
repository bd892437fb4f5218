"""The pytest plugin, exercised the way users meet it: inner test files run by pytester.

The inner runs load the plugin the same way every user gets it (the ``pytest11`` entry
point of the installed distribution), so these tests also prove the registration.
"""

from __future__ import annotations

import json
import socket
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

INNER_HELPERS = """
import dns.message, dns.query, dns.rcode

def ask(server, name, qtype="A"):
    host, port = server.address
    return dns.query.udp(dns.message.make_query(name, qtype), host, port=port, timeout=3)

def addresses(reply):
    return sorted(rd.address for rrset in reply.answer for rd in rrset)
"""


def test_plugin_is_registered_through_the_pytest11_entry_point() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("faultdns") == "faultdns.pytest_plugin"


def test_fixtures_are_listed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    out = result.stdout.str()
    for name in ("faultdns_factory", "faultdns_clock", "faultdns "):
        assert name in out, name


def test_faultdns_fixture_is_a_running_server_configured_by_the_marker(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        INNER_HELPERS
        + """
import pytest

def test_default_server_answers_nxdomain_for_unknown_names(faultdns):
    host, port = faultdns.address
    assert host == "127.0.0.1" and port > 0
    assert ask(faultdns, "nothing.test").rcode() == dns.rcode.NXDOMAIN

@pytest.mark.faultdns(records=["a.test=10.0.0.1"], faults=["servfail match=b.test"])
def test_marker_configures_records_and_faults(faultdns):
    assert addresses(ask(faultdns, "a.test")) == ["10.0.0.1"]
    assert ask(faultdns, "b.test").rcode() == dns.rcode.SERVFAIL
    fault_id = faultdns.add_fault("nxdomain match=a.test")
    assert ask(faultdns, "a.test").rcode() == dns.rcode.NXDOMAIN
    faultdns.remove_fault(fault_id)
    assert [q.name for q in faultdns.queries] == ["a.test", "b.test", "a.test"]

def test_each_test_gets_a_fresh_server(faultdns):
    assert faultdns.faults == [] and faultdns.queries == []
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_faultdns_clock_drives_the_faultdns_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        INNER_HELPERS
        + """
import pytest

@pytest.mark.faultdns(records=["a.test=10.0.0.1"], faults=["nxdomain match=a.test for=30s"])
def test_window_closes_when_the_manual_clock_moves(faultdns, faultdns_clock):
    assert faultdns.clock is faultdns_clock
    assert ask(faultdns, "a.test").rcode() == dns.rcode.NXDOMAIN
    faultdns_clock.advance(29.999)
    assert ask(faultdns, "a.test").rcode() == dns.rcode.NXDOMAIN
    faultdns_clock.advance(0.001)
    assert addresses(ask(faultdns, "a.test")) == ["10.0.0.1"]

def test_without_faultdns_clock_the_server_runs_on_the_monotonic_clock(faultdns):
    from faultdns import MonotonicClock
    assert isinstance(faultdns.clock, MonotonicClock)
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_factory_starts_several_servers_and_stops_them_all(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    ports_file = tmp_path / "ports.json"
    pytester.makepyfile(
        INNER_HELPERS
        + f"""
import json
from faultdns import ManualClock

def test_two_servers(faultdns_factory):
    clock = ManualClock()
    one = faultdns_factory(records=["a.test=10.0.0.1"])
    two = faultdns_factory(records=["a.test=10.0.0.2"], clock=clock,
                           faults=["drop after=10s"])
    assert one.address != two.address
    assert addresses(ask(one, "a.test")) == ["10.0.0.1"]
    assert addresses(ask(two, "a.test")) == ["10.0.0.2"]
    with open({str(ports_file)!r}, "w") as fh:
        json.dump([one.address[1], two.address[1]], fh)
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    # Both servers were stopped at teardown: their UDP and TCP ports are free again.
    for port in json.loads(ports_file.read_text()):
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, kind) as sock:
                sock.bind(("127.0.0.1", port))


def test_marker_with_positional_arguments_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.faultdns("a.test=10.0.0.1")
def test_x(faultdns):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*keyword arguments only*"])


def test_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.faultdns(records=["a.test=10.0.0.1"])
def test_x(faultdns):
    assert faultdns.records()
"""
    )
    result = pytester.runpytest("--strict-markers", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)

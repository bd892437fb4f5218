"""The oracle's own parts: the comparator is honest, the probe says what Go says, the
build is cached, the HTTP behaviours parse.  Network-free tests first."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sim._fidelity import (
    Case,
    Record,
    ServerPlan,
    Verdict,
    build_probe,
    default_oracle,
    differences,
    normalise,
    parse_behaviour,
)
from sim._fidelity._record import sequential

# --- comparator -----------------------------------------------------------------------


def test_normalise_touches_only_lane_prefix_and_source_ports() -> None:
    text = "read udp 127.0.0.1:41234->127.53.7.10:53: i/o timeout"
    assert normalise(text) == "read udp 127.0.0.1:*->127.53.*.10:53: i/o timeout"
    # a destination port, another address and other numbers are facts, kept as they are
    kept = "dial tcp 10.0.0.1:80: connect: connection refused; lookup a on 127.0.0.53:53"
    assert normalise(kept) == kept


def _record(**fields: object) -> Record:
    base: dict[str, object] = {"outcome": "error", "error": "x"}
    base.update(fields)
    return Record(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "go", "ours"),
    [
        ("outcome", {"outcome": "error"}, {"outcome": "addresses"}),
        ("addresses", {"addresses": ("10.0.0.1",)}, {"addresses": ("10.0.0.2",)}),
        ("error", {"error": "a"}, {"error": "b"}),
        ("dns.is_temporary", {"dns": {"is_temporary": True}}, {"dns": {"is_temporary": False}}),
        ("errno", {"errno": "ECONNREFUSED"}, {"errno": ""}),
        ("retriable.v1.4", {"retriable": {"v1.4": True, "v1.5": True}}, {}),
        ("queries.A", {"queries": {"A": ("ns0 udp a.",)}}, {"queries": {"A": ("ns1 udp a.",)}}),
    ],
)
def test_each_field_difference_is_reported(
    field: str, go: dict[str, object], ours: dict[str, object]
) -> None:
    found = differences(_record(**go), _record(**ours))
    assert field in [d.field for d in found]


def test_elapsed_tolerance_is_a_third_of_a_second_plus_ten_percent() -> None:
    assert not differences(_record(elapsed=1.0), _record(elapsed=1.39))
    assert [d.field for d in differences(_record(elapsed=1.0), _record(elapsed=1.8))] == ["elapsed"]
    assert [d.field for d in differences(_record(elapsed=3.0), _record(elapsed=31.0))] == [
        "elapsed"
    ]


def test_order_across_types_is_compared_only_when_go_fixes_it() -> None:
    go = _record(queries={"all": ("ns0 udp A a.", "ns0 udp AAAA a.")})
    ours = _record(queries={"all": ("ns0 udp AAAA a.", "ns0 udp A a.")})
    assert not differences(go, ours)
    assert [d.field for d in differences(go, ours, ordered=True)] == ["queries.all"]


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        ("options single-request\n", True),
        ("search a.test options single-request\n", False),  # the keyword is the first field
        ("options ndots:5 single-request-reopen\r\n", True),
        ("# options single-request\n", False),
        (" options single-request\n", True),  # Go splits fields, leading blanks included
        ("options single-requests\n", False),
    ],
)
def test_sequential_reads_options_as_go_does(conf: str, expected: bool) -> None:
    assert sequential(conf) is expected


def test_case_placeholders_are_checked_and_rendered() -> None:
    with pytest.raises(ValueError, match="ns1"):
        Case("nameserver {ns1}\n", (ServerPlan(),), lookup="a.")
    with pytest.raises(ValueError, match="exactly one"):
        Case("nameserver {ns0}\n", (ServerPlan(),))
    case = Case("nameserver {ns0}\n", (ServerPlan(),), lookup="a.", records=("a={http}",))
    assert case.render({"ns0": "127.53.1.10", "http": "127.53.1.200"}) == (
        "nameserver 127.53.1.10\n",
        ("a=127.53.1.200",),
    )
    assert Case.from_dict(case.to_dict()) == case


@pytest.mark.parametrize(
    "spec",
    [
        "ok",
        "status=404",
        "status-reset=500",
        "status-silent=404",
        "redirect",
        "redirect=301",
        "redirect=308",
        "redirect-host=302",
        "redirect-host=307",
        "redirect-bad-location",
        "redirect-ftp",
        "reset",
        "dribble-headers=0.5x62",
        "silent-body",
    ],
)
def test_http_behaviours_round_trip(spec: str) -> None:
    assert parse_behaviour(spec).spec == spec


@pytest.mark.parametrize(
    "spec",
    ["status=99", "dribble-body=fast", "reset=1", "teapot", "redirect=304", "status-reset=x"],
)
def test_bad_http_behaviours_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="HTTP behaviour"):
        parse_behaviour(spec)


# --- Go -------------------------------------------------------------------------------


def test_probe_build_is_cached(oracle: Callable[[Case], Verdict]) -> None:
    first = build_probe()
    stamp = first.path.stat().st_mtime_ns
    second = build_probe()
    assert second.path == first.path and second.path.stat().st_mtime_ns == stamp
    assert "go1.23" in first.go_version
    assert os.access(Path(first.path), os.X_OK)


QUICK = "nameserver {ns0}\nnameserver {ns1}\noptions timeout:1 attempts:1\n"


@pytest.mark.parametrize(
    ("plans", "records", "err", "v14", "v15"),
    [
        ((ServerPlan(), ServerPlan()), (), "no such host", False, True),
        (
            (ServerPlan(("servfail",)), ServerPlan(("servfail",))),
            (),
            "server misbehaving",
            True,
            True,
        ),
        ((ServerPlan(down=True), ServerPlan(down=True)), (), "connection refused", True, True),
    ],
)
def test_go_side_predicates(
    oracle: Callable[[Case], Verdict],
    plans: tuple[ServerPlan, ...],
    records: tuple[str, ...],
    err: str,
    v14: bool,
    v15: bool,
) -> None:
    """Harvester's predicates as the probe applies them to what Go's resolver returns."""
    go = default_oracle().run_go(Case(QUICK, plans, lookup="repo.test.", records=records), 1)[0]
    assert go.dns is not None and err in str(go.dns["err"])
    assert go.retriable == {"v1.4": v14, "v1.5": v15}


def test_go_side_http_status_is_not_retried(oracle: Callable[[Case], Verdict]) -> None:
    case = Case(QUICK, (ServerPlan(), ServerPlan()), get="http://repo.test.",
                records=("repo.test={http}",), http="status=503")  # fmt: skip
    go = default_oracle().run_go(case, 1)[0]
    assert (go.outcome, go.status, go.retriable) == ("status", 503, {"v1.4": False, "v1.5": False})


def test_oracle_reports_a_real_difference(oracle: Callable[[Case], Verdict]) -> None:
    """Two different Go outcomes must differ: the comparator is not blind."""
    o = default_oracle()
    nx = o.run_go(Case(QUICK, (ServerPlan(), ServerPlan()), lookup="repo.test."), 1)[0]
    sf = o.run_go(Case(QUICK, (ServerPlan(("servfail",)),) * 2, lookup="repo.test."), 1)[0]
    fields = {d.field for d in differences(nx, sf)}
    assert {"error", "dns.err", "dns.is_not_found", "dns.is_temporary"} <= fields


MAPPED_CASES = ["servfail", "all-down", "http-ok", "http-refused", "deviation-2-timeout"]


def test_mapped_mode_gives_the_records_of_port_53(oracle: Callable[[Case], Verdict]) -> None:
    """Without root the lanes serve on one unprivileged port and map it back: same records."""
    from sim._fidelity import Oracle
    from sim._fidelity._named import NAMED

    with Oracle(mapped=True) as mapped:
        assert mapped.go_lane.port != 53 and mapped.go_lane.port == mapped.our_lane.port
        for name in MAPPED_CASES:
            case = NAMED[name].case
            got = mapped.run_go(case)[0]
            want = default_oracle().run_go(case)[0]
            if case.get is not None:  # URL and HTTP server carry the port in mapped mode
                port = f":{mapped.go_lane.port}"
                text = got.error.replace(port + "/", "/", 1).replace(port, ":80")
                got = Record(**{**got.__dict__, "error": text})
            assert not differences(want, got), (name, differences(want, got))
            ours = mapped.run_ours(case)
            assert ours.queries == default_oracle().run_ours(case).queries, name


ONE = "nameserver {ns0}\noptions timeout:1 attempts:1\n"


def test_order_fixed_only_where_nothing_races() -> None:
    from sim._fidelity._oracle import order_fixed

    plain = Case(ONE, (ServerPlan(("servfail qtype=A",)),), lookup="repo.test.")
    assert not order_fixed(plain)
    assert order_fixed(Case(ONE, (ServerPlan(("delay=200ms qtype=AAAA",)),), lookup="r."))
    assert not order_fixed(Case(ONE, (ServerPlan(("delay=200ms",)),), lookup="r."))
    conf = "nameserver {ns0}\noptions single-request timeout:1\n"
    assert order_fixed(Case(conf, (ServerPlan(("servfail qtype=A",)),), lookup="r."))


def test_a_probe_failure_names_the_case(oracle: Callable[[Case], Verdict], tmp_path: Path) -> None:
    from sim._fidelity import Probe, ProbeFailed

    fake = tmp_path / "goprobe"
    fake.write_text("#!/bin/sh\necho broken >&2\nexit 2\n")
    fake.chmod(0o755)
    o = default_oracle()
    case = Case(ONE, (ServerPlan(),), lookup="repo.test.", label="the-named-one")
    real = o.probe
    o.probe = Probe(fake, real.go_version)
    try:
        with pytest.raises(ProbeFailed, match=r"case the-named-one: goprobe failed.*broken"):
            o.run(case)
    finally:
        o.probe = real


def test_a_nameserver_nobody_watches_fails_the_case(oracle: Callable[[Case], Verdict]) -> None:
    """Ours configured with a server that is no lane address: visible, not silently fine."""
    case = Case(
        "nameserver {ns0}\noptions timeout:1 attempts:1\n",
        (ServerPlan(),),
        lookup="repo.test.",
        records=("repo.test=10.0.0.4",),
    )
    o = default_oracle()
    lane = o.our_lane
    real = lane.addresses
    try:
        # ns0 rendered as an address with no faultdns and not known-down
        lane.addresses = lambda case: {**real(case), "ns0": lane.ip(99)}  # type: ignore[method-assign]
        ours = o.run_ours(case)
    finally:
        lane.addresses = real  # type: ignore[method-assign]
    assert ours.queries.get("unwatched") == ("127.53.*.99:53",)
    go = o.run_go(case, 1)[0]
    assert "queries.unwatched" in {d.field for d in differences(go, ours)}

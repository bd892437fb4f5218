"""The runtime control API over real HTTP (httpx) against a real FaultDNSServer.

Every fault change is checked where it matters: a real DNS client (dnspython) asks the
server afterwards and sees the fault, or stops seeing it.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import httpx
import pytest

from faultdns import ManualClock
from faultdns._control import MAX_BODY_BYTES, MAX_CONNECTIONS, ControlServer
from faultdns._control_client import ControlClient, ControlError, ControlUnreachable
from faultdns._server import FaultDNSServer

RECORDS = ["a.test=10.0.0.1", "b.test=10.0.0.2"]


def ask(server: FaultDNSServer, name: str, qtype: str = "A") -> dns.message.Message:
    host, port = server.address
    query = dns.message.make_query(name, qtype, use_edns=0)
    return dns.query.udp(query, host, port=port, timeout=3)


def addresses(reply: dns.message.Message) -> list[str]:
    return sorted(rd.address for rrset in reply.answer for rd in rrset if hasattr(rd, "address"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def dns_server(clock: ManualClock) -> Iterator[FaultDNSServer]:
    with FaultDNSServer(records=RECORDS, clock=clock) as server:
        yield server


@pytest.fixture
def control(dns_server: FaultDNSServer) -> Iterator[ControlServer]:
    with ControlServer(dns_server, port=0) as server:
        yield server


@pytest.fixture
def http(control: ControlServer) -> Iterator[httpx.Client]:
    # As a script or the CLI calls it: with the header a web page cannot send
    # (test_control_guards.py covers requests without it).
    with httpx.Client(base_url=control.url, timeout=5, headers={"X-FaultDNS": "1"}) as client:
        yield client


def test_index_names_the_dns_address_and_endpoints(
    http: httpx.Client, dns_server: FaultDNSServer
) -> None:
    reply = http.get("/")
    assert reply.status_code == 200
    host, port = dns_server.address
    assert reply.json()["dns"] == f"{host}:{port}"
    assert "POST /faults" in reply.json()["endpoints"]


def test_fault_added_as_text_takes_effect_and_is_listed(
    http: httpx.Client, dns_server: FaultDNSServer
) -> None:
    assert addresses(ask(dns_server, "a.test")) == ["10.0.0.1"]
    reply = http.post(
        "/faults", content="nxdomain match=a.test", headers={"Content-Type": "text/plain"}
    )
    assert reply.status_code == 201, reply.text
    fault_id = reply.json()["id"]
    assert reply.json()["fault"]["action"] == "nxdomain"

    assert ask(dns_server, "a.test").rcode() == dns.rcode.NXDOMAIN
    assert addresses(ask(dns_server, "b.test")) == ["10.0.0.2"]  # other names untouched

    listed = http.get("/faults").json()["faults"]
    assert [(f["id"], f["spec"], f["match"]) for f in listed] == [
        (fault_id, "nxdomain match=a.test", "a.test")
    ]
    assert http.get(f"/faults/{fault_id}").json()["id"] == fault_id


def test_fault_added_as_json_string_and_as_object(
    http: httpx.Client, dns_server: FaultDNSServer
) -> None:
    first = http.post("/faults", json="servfail match=a.test")
    second = http.post("/faults", json={"action": "refused", "match": "b.test", "qtype": "A"})
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert first.json()["id"] != second.json()["id"]
    assert ask(dns_server, "a.test").rcode() == dns.rcode.SERVFAIL
    assert ask(dns_server, "b.test").rcode() == dns.rcode.REFUSED
    specs = [f["spec"] for f in http.get("/faults").json()["faults"]]
    assert specs == ["servfail match=a.test", "refused match=b.test qtype=A"]


def test_json_body_without_content_type_is_recognised(
    http: httpx.Client, dns_server: FaultDNSServer
) -> None:
    # What `curl -d '"servfail"'` sends: form content type, JSON body.
    reply = http.post(
        "/faults",
        content=b'"servfail match=a.test"',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code == 201, reply.text
    assert ask(dns_server, "a.test").rcode() == dns.rcode.SERVFAIL


def test_delete_fault_restores_answers_and_unknown_id_is_404(
    http: httpx.Client, dns_server: FaultDNSServer
) -> None:
    fault_id = http.post("/faults", json="nxdomain match=a.test").json()["id"]
    assert ask(dns_server, "a.test").rcode() == dns.rcode.NXDOMAIN

    reply = http.delete(f"/faults/{fault_id}")
    assert reply.status_code == 200
    assert reply.json() == {"removed": fault_id}
    assert addresses(ask(dns_server, "a.test")) == ["10.0.0.1"]
    assert http.get("/faults").json() == {"faults": []}

    again = http.delete(f"/faults/{fault_id}")
    assert again.status_code == 404
    assert fault_id in again.json()["error"]
    assert http.get("/faults/nope").status_code == 404


@pytest.mark.parametrize(
    ("body", "kwargs", "expected"),
    [
        ("nxdomian match=a.test", {}, "nxdomian"),
        ("nxdomain match=a.test for=soon", {}, "soon"),
        ("servfail p=2", {}, "p"),
        (None, {"json": {"action": "explode"}}, "explode"),
        (None, {"json": {"action": "drop", "colour": "red"}}, "colour"),
        (None, {"json": ["drop"]}, "list"),
        (None, {"json": 5}, "int"),
        ("", {}, "empty"),
        ("   ", {}, "empty"),
        (None, {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "JSON"),
        (None, {"content": b"\xff\xfe", "headers": {"Content-Type": "text/plain"}}, "UTF-8"),
    ],
)
def test_bad_fault_is_400_with_a_message_naming_the_problem(
    http: httpx.Client, body: str | None, kwargs: dict[str, object], expected: str
) -> None:
    if body is not None:
        kwargs = {"content": body, "headers": {"Content-Type": "text/plain"}}
    reply = http.post("/faults", **kwargs)  # type: ignore[arg-type]
    assert reply.status_code == 400, reply.text
    assert reply.headers["content-type"] == "application/json"
    assert expected in reply.json()["error"]
    assert http.get("/faults").json() == {"faults": []}


def test_reset_clears_faults_clock_and_log(
    http: httpx.Client, dns_server: FaultDNSServer, clock: ManualClock
) -> None:
    http.post("/faults", json="nxdomain match=a.test for=30s")
    assert ask(dns_server, "a.test").rcode() == dns.rcode.NXDOMAIN
    clock.advance(12)
    assert dns_server.elapsed() == pytest.approx(12)
    assert http.get("/queries").json()["queries"]

    reply = http.post("/reset")
    assert reply.status_code == 200
    assert http.get("/faults").json() == {"faults": []}
    assert http.get("/queries").json()["queries"] == []
    assert dns_server.elapsed() == pytest.approx(0)
    assert addresses(ask(dns_server, "a.test")) == ["10.0.0.1"]


def test_window_added_at_runtime_opens_and_closes_on_the_server_clock(
    http: httpx.Client, dns_server: FaultDNSServer, clock: ManualClock
) -> None:
    http.post("/reset")
    http.post("/faults", json="nxdomain match=a.test after=5s for=10s")
    assert addresses(ask(dns_server, "a.test")) == ["10.0.0.1"]
    clock.advance(5)
    assert ask(dns_server, "a.test").rcode() == dns.rcode.NXDOMAIN
    clock.advance(10)
    assert addresses(ask(dns_server, "a.test")) == ["10.0.0.1"]


def test_queries_since_returns_only_newer_records(
    http: httpx.Client, dns_server: FaultDNSServer
) -> None:
    http.post("/faults", json="nxdomain match=b.test")
    for name in ("a.test", "b.test", "a.test"):
        ask(dns_server, name)
    everything = http.get("/queries").json()
    records = everything["queries"]
    assert [(r["name"], r["rcode"]) for r in records] == [
        ("a.test", "NOERROR"),
        ("b.test", "NXDOMAIN"),
        ("a.test", "NOERROR"),
    ]
    assert records[1]["rule"] is not None and records[0]["rule"] is None
    assert everything["last_seq"] == records[-1]["seq"]

    newer = http.get("/queries", params={"since": records[0]["seq"]}).json()["queries"]
    assert [r["seq"] for r in newer] == [r["seq"] for r in records[1:]]
    limited = http.get("/queries", params={"since": 0, "limit": 1}).json()
    assert [r["seq"] for r in limited["queries"]] == [records[0]["seq"]]
    assert limited["last_seq"] == records[0]["seq"]
    after_all = http.get("/queries", params={"since": records[-1]["seq"]}).json()
    assert after_all == {"queries": [], "last_seq": records[-1]["seq"]}


@pytest.mark.parametrize("query", ["since=abc", "since=-1", "limit=0", "limit=x"])
def test_bad_query_parameters_are_400(http: httpx.Client, query: str) -> None:
    reply = http.get(f"/queries?{query}")
    assert reply.status_code == 400
    assert query.split("=")[0] in reply.json()["error"]


def test_stats_count_queries_and_rule_fires(http: httpx.Client, dns_server: FaultDNSServer) -> None:
    fault_id = http.post("/faults", json="servfail match=a.test").json()["id"]
    ask(dns_server, "a.test")
    ask(dns_server, "b.test")
    stats = http.get("/stats").json()
    assert stats["queries"] == 2
    assert stats["fired"] == {fault_id: 1}
    assert stats["rcodes"] == {"SERVFAIL": 1, "NOERROR": 1}


def test_records_listed_and_added_at_runtime(
    http: httpx.Client, dns_server: FaultDNSServer
) -> None:
    names = {(r["name"], r["type"], r["value"]) for r in http.get("/records").json()["records"]}
    assert ("a.test", "A", "10.0.0.1") in names
    assert ask(dns_server, "c.test").rcode() == dns.rcode.NXDOMAIN

    reply = http.post(
        "/records", content="c.test TXT hello", headers={"Content-Type": "text/plain"}
    )
    assert reply.status_code == 201, reply.text
    reply = http.post("/records", json="c.test=10.0.0.3")
    assert reply.status_code == 201, reply.text
    assert addresses(ask(dns_server, "c.test")) == ["10.0.0.3"]
    txt = ask(dns_server, "c.test", "TXT")
    assert [s for rrset in txt.answer for rd in rrset for s in rd.strings] == [b"hello"]
    kinds = {(r["name"], r["type"]) for r in http.get("/records").json()["records"]}
    assert {("c.test", "A"), ("c.test", "TXT")} <= kinds


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"json": "c.test=not-an-address"}, "not-an-address"),
        ({"json": "c.test BOGUS x"}, "BOGUS"),
        ({"json": {"name": "c.test"}}, "spec string"),
    ],
)
def test_bad_record_is_400(http: httpx.Client, kwargs: dict[str, object], expected: str) -> None:
    reply = http.post("/records", **kwargs)  # type: ignore[arg-type]
    assert reply.status_code == 400, reply.text
    assert expected in reply.json()["error"]


def test_unknown_path_is_404_and_wrong_method_is_405(http: httpx.Client) -> None:
    missing = http.get("/nope")
    assert missing.status_code == 404
    assert "GET /faults" in missing.json()["error"]
    wrong = http.delete("/faults")
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert http.get("/reset").status_code == 405


def test_oversized_body_is_413_and_nothing_is_added(http: httpx.Client) -> None:
    reply = http.post(
        "/faults",
        content=b"drop " + b" " * MAX_BODY_BYTES,
        headers={"Content-Type": "text/plain"},
    )
    assert reply.status_code == 413
    assert str(MAX_BODY_BYTES) in reply.json()["error"]
    assert http.get("/faults").json() == {"faults": []}


def test_a_newcomer_over_the_cap_replaces_the_oldest_unfinished_request(
    control: ControlServer, http: httpx.Client
) -> None:
    """MAX_CONNECTIONS connections that never send a request do not lock the API: a
    newcomer is served in place of the oldest of them (issue 10)."""
    idle = []
    try:
        for _ in range(MAX_CONNECTIONS):
            idle.append(socket.create_connection(control.address, timeout=5))
        time.sleep(0.2)  # let the server accept them all
        with socket.create_connection(control.address, timeout=5) as extra:
            extra.sendall(b"GET /faults HTTP/1.0\r\nHost: localhost\r\n\r\n")
            reply = b""
            while chunk := extra.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.0 200")
        with contextlib.suppress(ConnectionResetError):
            assert idle[0].recv(1024) == b""  # the oldest was shut down
    finally:
        for sock in idle:
            sock.close()
    assert http.get("/faults").status_code == 200


def test_token_is_required_when_configured(dns_server: FaultDNSServer) -> None:
    with ControlServer(dns_server, port=0, token="s3cret") as control:
        with httpx.Client(base_url=control.url, timeout=5) as anonymous:
            for method, path in [("GET", "/faults"), ("POST", "/reset"), ("GET", "/stats")]:
                reply = anonymous.request(method, path)
                assert reply.status_code == 401, (method, path)
                assert "token" in reply.json()["error"]
                assert reply.headers["www-authenticate"].startswith("Bearer")
            wrong = anonymous.get("/faults", headers={"Authorization": "Bearer guess"})
            assert wrong.status_code == 401
            basic = anonymous.get("/faults", headers={"Authorization": "Basic s3cret"})
            assert basic.status_code == 401
            # The rejected POST must not have changed anything.
            denied = anonymous.post("/faults", json="drop")
            assert denied.status_code == 401
            assert dns_server.faults == []
        with httpx.Client(
            base_url=control.url, timeout=5, headers={"Authorization": "Bearer s3cret"}
        ) as allowed:
            assert allowed.post("/faults", json="drop match=x.test").status_code == 201
            assert len(allowed.get("/faults").json()["faults"]) == 1


def test_empty_token_is_refused() -> None:
    with pytest.raises(ValueError, match="token"):
        ControlServer(object(), token="")  # type: ignore[arg-type]


def test_client_round_trip(control: ControlServer, dns_server: FaultDNSServer) -> None:
    with ControlClient(control.url) as client:
        fault_id = client.add_fault("nxdomain match=a.test")
        other = client.add_fault({"action": "servfail", "match": "b.test"})
        assert [f["id"] for f in client.faults()] == [fault_id, other]
        assert ask(dns_server, "a.test").rcode() == dns.rcode.NXDOMAIN
        client.remove_fault(fault_id)
        with pytest.raises(ControlError) as missing:
            client.remove_fault(fault_id)
        assert missing.value.status == 404
        with pytest.raises(ControlError) as bad:
            client.add_fault("nxdomain wat")
        assert bad.value.status == 400 and "wat" in bad.value.message
        assert [q["name"] for q in client.queries()] == ["a.test"]
        client.add_record("d.test=10.0.0.4")
        assert any(r["name"] == "d.test" for r in client.records())
        assert client.stats()["queries"] == 1
        client.reset()
        assert client.faults() == [] and client.queries() == []


def test_client_sends_the_token(dns_server: FaultDNSServer) -> None:
    with ControlServer(dns_server, port=0, token="t0k") as control:
        with ControlClient(control.url) as anonymous, pytest.raises(ControlError) as denied:
            anonymous.faults()
        assert denied.value.status == 401
        with ControlClient(control.url, token="t0k") as client:
            assert client.faults() == []


def test_client_reports_an_unreachable_server(control: ControlServer) -> None:
    url = control.url
    control.stop()
    with ControlClient(url, timeout=2) as client, pytest.raises(ControlUnreachable) as exc:
        client.faults()
    assert url in str(exc.value)


def test_oracle_actions_as_specs_and_as_objects(
    http: httpx.Client, dns_server: FaultDNSServer
) -> None:
    """rcode=, lame, truncate=N and tcponly through the API, as text and as JSON objects."""
    posted = [
        http.post("/faults", json="rcode=BADVERS match=a.test qtype=A"),
        http.post("/faults", json={"action": "lame", "match": "a.test", "qtype": "AAAA"}),
        http.post("/faults", json={"rcode": "notimp", "match": "b.test"}),
        http.post("/faults", json={"truncate": 512, "match": "c.test", "first": 1}),
        http.post(
            "/faults", content="tcponly match=d.test", headers={"Content-Type": "text/plain"}
        ),
    ]
    assert [r.status_code for r in posted] == [201] * 5, [r.text for r in posted]
    listed = http.get("/faults").json()["faults"]
    assert [f["spec"] for f in listed] == [
        "rcode=BADVERS match=a.test qtype=A",
        "lame match=a.test qtype=AAAA",
        "rcode=NOTIMP match=b.test",
        "truncate=512 match=c.test first=1",
        "tcponly match=d.test",
    ]
    assert [(f["action"], f["rcode"], f["truncate"]) for f in listed] == [
        ("rcode", 16, None),
        ("lame", None, None),
        ("rcode", 4, None),
        ("truncate", None, 512),
        ("tcponly", None, None),
    ]
    assert ask(dns_server, "a.test").rcode() == dns.rcode.BADVERS
    lame = ask(dns_server, "a.test", "AAAA")
    assert lame.rcode() == dns.rcode.NOERROR and not lame.answer and lame.edns < 0
    assert not lame.flags & (dns.flags.AA | dns.flags.RA)
    assert ask(dns_server, "b.test").rcode() == dns.rcode.NOTIMP
    assert ask(dns_server, "c.test").flags & dns.flags.TC  # short NXDOMAIN: whole, with TC
    assert not ask(dns_server, "c.test").flags & dns.flags.TC  # first=1
    assert ask(dns_server, "d.test").flags & dns.flags.TC


def test_frame_as_spec_and_as_object(http: httpx.Client) -> None:
    """frame= through the API: text and JSON objects (a number or a shape), listed in
    canonical form with the shape in its own field."""
    posted = [
        http.post("/faults", json="frame=SHORT match=a.test"),
        http.post("/faults", json={"frame": 0, "match": "b.test", "first": 1}),
        http.post("/faults", json={"action": "frame", "frame": "hang", "proto": "tcp"}),
    ]
    assert [r.status_code for r in posted] == [201] * 3, [r.text for r in posted]
    listed = http.get("/faults").json()["faults"]
    assert [(f["spec"], f["action"], f["frame"]) for f in listed] == [
        ("frame=short match=a.test", "frame", "short"),
        ("frame=0 match=b.test first=1", "frame", "0"),
        ("frame=hang proto=tcp", "frame", "hang"),
    ]


def test_question_counts_through_the_api_as_specs_and_as_objects(
    http: httpx.Client, dns_server: FaultDNSServer
) -> None:
    """``qdcount=N`` and ``mismatch=qdcount[:N]`` posted as text and as JSON objects are
    listed in canonical form, ``qdcount`` in its own field, and the replies' headers
    count what they say."""
    posted = [
        http.post("/faults", json="lame QDCOUNT=2 match=a.test qtype=A"),
        http.post("/faults", json={"action": "servfail", "qdcount": 0, "match": "a.test"}),
        http.post("/faults", json={"mismatch": "qdcount:3", "match": "b.test"}),
    ]
    assert [r.status_code for r in posted] == [201] * 3, [r.text for r in posted]
    listed = http.get("/faults").json()["faults"]
    assert [(f["spec"], f["qdcount"], f["mismatch"]) for f in listed] == [
        ("lame qdcount=2 match=a.test qtype=A", 2, None),
        ("servfail qdcount=0 match=a.test", 0, None),
        ("mismatch=qdcount:3 match=b.test", None, "qdcount:3"),
    ]
    for name, qtype, count in [("a.test", "A", 2), ("a.test", "AAAA", 0), ("b.test", "A", 3)]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(3)
            sock.sendto(dns.message.make_query(name, qtype).to_wire(), dns_server.address)
            reply = sock.recvfrom(65535)[0]
        assert int.from_bytes(reply[4:6], "big") == count, (name, qtype)


def test_mismatch_values_through_the_api_as_specs_and_as_objects(
    http: httpx.Client, dns_server: FaultDNSServer
) -> None:
    """``mismatch=class:VALUE`` / ``type:VALUE`` posted as text and as JSON objects are
    listed in the canonical spelling and change the reply's question as they say."""
    posted = [
        http.post("/faults", json="mismatch=class:3 match=a.test qtype=A"),
        http.post("/faults", json={"mismatch": "CLASS:any", "match": "a.test", "qtype": "AAAA"}),
        http.post("/faults", json={"action": "mismatch", "mismatch": "type:0", "match": "b.test"}),
    ]
    assert [r.status_code for r in posted] == [201] * 3, [r.text for r in posted]
    listed = http.get("/faults").json()["faults"]
    assert [(f["spec"], f["mismatch"]) for f in listed] == [
        ("mismatch=class:CH match=a.test qtype=A", "class:CH"),
        ("mismatch=class:ANY match=a.test qtype=AAAA", "class:ANY"),
        ("mismatch=type:0 match=b.test", "type:0"),
    ]
    asked = [
        ("a.test", "A", "class", 3),
        ("a.test", "AAAA", "class", 255),
        ("b.test", "A", "type", 0),
    ]
    for name, qtype, field, number in asked:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(3)
            sock.sendto(dns.message.make_query(name, qtype).to_wire(), dns_server.address)
            reply = dns.message.from_wire(sock.recvfrom(65535)[0], ignore_trailing=True)
        question = reply.question[0]
        got = int(question.rdclass if field == "class" else question.rdtype)
        assert got == number, (name, qtype, field)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("rcode=BOGUS", "rcode: expected a mnemonic"),
        ({"rcode": 4096}, "rcode: expected a number 0..4095"),
        ("truncate=8", "truncate: expected 12..65535 bytes"),
        ("tcponly proto=tcp", "tcponly answers TCP normally"),
        ({"action": "lame", "truncate": 512}, "key 'truncate' only goes with action 'truncate'"),
        ("frame=wide", "frame: expected short, long, hang or a number of bytes 0..65535"),
        ({"frame": 65536}, "frame: expected short, long, hang or a number of bytes 0..65535"),
        ({"frame": "short", "proto": "udp"}, "proto=udp makes no sense"),
        ({"action": "drop", "frame": "short"}, "key 'frame' only goes with action 'frame'"),
        ("mismatch=class:65536", "mismatch: class:VALUE expects a number 0..65535"),
        ({"mismatch": "id:3"}, "mismatch: only type, class and qdcount take a value"),
        ({"mismatch": 3}, "key 'mismatch': unexpected value 3"),
        ({"action": "drop", "qdcount": 2}, "qdcount= given with action 'drop'"),
        ({"action": "lame", "qdcount": 65536}, "qdcount: expected a number of questions"),
        ({"action": "lame", "qdcount": "two"}, "qdcount: expected a number of questions"),
        ({"mismatch": "qdcount", "qdcount": 2}, "given with mismatch=qdcount"),
    ],
)
def test_bad_oracle_action_is_400_naming_the_key(
    http: httpx.Client, body: object, fragment: str
) -> None:
    reply = http.post("/faults", json=body)
    assert reply.status_code == 400
    assert fragment in reply.json()["error"]

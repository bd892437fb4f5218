"""The ``faultdns`` command as people use it: a real ``faultdns serve`` process on port 0,
queried with ``dig`` and dnspython, changed at runtime with the ``faultdns`` client commands.

Every subprocess is bounded by a timeout and killed in teardown, whatever happens.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from faultdns import Action
from faultdns._cli import EX_API, EX_NOPERM, EX_OSERR, EX_UNAVAILABLE, EX_USAGE, main
from faultdns.testing import ClosedPort
from tests.tools import require_tool

FAULTDNS = [sys.executable, "-m", "faultdns"]
FIRST_LINE = re.compile(r"^listening on udp\+tcp 127\.0\.0\.1:(\d+)$")
TIMEOUT = 20


@dataclass
class Served:
    """A running ``faultdns serve`` process and what it printed."""

    proc: subprocess.Popen[str]
    port: int
    control: str
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    stderr: list[str] = field(default_factory=list)

    def next_line(self, timeout: float = TIMEOUT) -> str:
        line = self.lines.get(timeout=timeout)
        assert line is not None, f"serve closed stdout; stderr: {''.join(self.stderr)}"
        return line

    def cli(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        extra = ["--control", self.control] + (["--token", token] if token else [])
        return run_cli(*args, *extra)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
            raise


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FAULTDNS, *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def _pump(stream: object, sink: queue.Queue[str | None] | list[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        if isinstance(sink, list):
            sink.append(line)
        else:
            sink.put(line.rstrip("\n"))
    if not isinstance(sink, list):
        sink.put(None)


Serve = Callable[..., Served]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(*flags)`` starts ``faultdns serve --port 0 --control 127.0.0.1:0 ...``."""
    procs: list[subprocess.Popen[str]] = []

    def start(*flags: str, control: bool = True) -> Served:
        argv = [*FAULTDNS, "serve", "--port", "0"]
        argv += ["--control", "127.0.0.1:0"] if control else ["--no-control"]
        proc = subprocess.Popen(
            [*argv, *flags],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        served = Served(proc, 0, "")
        threading.Thread(target=_pump, args=(proc.stdout, served.lines), daemon=True).start()
        threading.Thread(target=_pump, args=(proc.stderr, served.stderr), daemon=True).start()
        first = served.next_line()
        match = FIRST_LINE.match(first)
        assert match, f"first line was {first!r}"
        served.port = int(match.group(1))
        if control:
            second = served.next_line()
            assert second.startswith("control on http://127.0.0.1:"), second
            served.control = second.removeprefix("control on ")
        return served

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=TIMEOUT)


def ask(port: int, name: str, qtype: str = "A", tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, qtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, "127.0.0.1", port=port, timeout=5)


def addresses(reply: dns.message.Message) -> list[str]:
    return sorted(rd.address for rrset in reply.answer for rd in rrset if hasattr(rd, "address"))


def dig(port: int, *args: str) -> str:
    path = require_tool("dig")
    proc = subprocess.run(
        [path, "@127.0.0.1", "-p", str(port), "+time=3", "+tries=1", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    return proc.stdout


def dig_status(port: int, *args: str) -> str:
    match = re.search(r"status: ([A-Z]+)", dig(port, *args))
    assert match, "dig printed no status"
    return match.group(1)


# -- serve ---------------------------------------------------------------------------


def test_serve_answers_dig_over_udp_and_tcp(serve: Serve) -> None:
    server = serve("--record", "a.test=10.0.0.1", "--record", "a.test AAAA ::1")
    assert dig(server.port, "a.test", "+short").split() == ["10.0.0.1"]
    assert dig(server.port, "a.test", "AAAA", "+short", "+tcp").split() == ["::1"]
    assert dig_status(server.port, "nothere.test") == "NXDOMAIN"


def test_serve_nxdomain_window_from_the_command_line(serve: Serve) -> None:
    server = serve(
        "--origin",
        "test",
        "--record",
        "a.test=10.0.0.1",
        "--fault",
        "nxdomain match=a.test for=1h",
    )
    assert dig_status(server.port, "a.test") == "NXDOMAIN"
    assert dig_status(server.port, "outside.example") == "REFUSED"


def test_fault_add_ls_rm_reset_round_trip(serve: Serve) -> None:
    server = serve("--record", "a.test=10.0.0.1", "--record", "b.test=10.0.0.2")
    assert addresses(ask(server.port, "a.test")) == ["10.0.0.1"]

    added = server.cli("fault", "add", "nxdomain", "match=a.test")  # words are joined
    assert added.returncode == 0, added.stderr
    fault_id = added.stdout.strip()
    assert fault_id
    assert dig_status(server.port, "a.test") == "NXDOMAIN"
    assert addresses(ask(server.port, "b.test")) == ["10.0.0.2"]

    second = server.cli("fault", "add", "servfail match=b.test qtype=A")
    assert second.returncode == 0, second.stderr
    assert ask(server.port, "b.test").rcode() == dns.rcode.SERVFAIL

    listed = server.cli("fault", "ls")
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == [
        f"{fault_id}\tnxdomain match=a.test",
        f"{second.stdout.strip()}\tservfail match=b.test qtype=A",
    ]
    as_json = [json.loads(line) for line in server.cli("fault", "ls", "--json").stdout.splitlines()]
    assert [f["action"] for f in as_json] == ["nxdomain", "servfail"]

    removed = server.cli("fault", "rm", fault_id)
    assert removed.returncode == 0
    assert addresses(ask(server.port, "a.test")) == ["10.0.0.1"]
    again = server.cli("fault", "rm", fault_id)
    assert again.returncode == EX_API
    assert fault_id in again.stderr

    reset = server.cli("reset")
    assert reset.returncode == 0
    assert server.cli("fault", "ls").stdout == ""
    assert addresses(ask(server.port, "b.test")) == ["10.0.0.2"]
    assert server.stop() == 0


def test_queries_stats_and_records(serve: Serve) -> None:
    server = serve("--record", "a.test=10.0.0.1", "--fault", "refused match=r.test")
    ask(server.port, "a.test")
    ask(server.port, "r.test", tcp=True)

    lines = server.cli("queries", "--json").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["name"], r["transport"], r["rcode"]) for r in records] == [
        ("a.test", "udp", "NOERROR"),
        ("r.test", "tcp", "REFUSED"),
    ]
    newer = server.cli("queries", "--since", str(records[0]["seq"])).stdout.splitlines()
    assert len(newer) == 1 and "r.test" in newer[0] and "REFUSED" in newer[0]

    stats = json.loads(server.cli("stats").stdout)
    assert stats["queries"] == 2

    added = server.cli("record", "add", "c.test", "TXT", "hello")
    assert added.returncode == 0, added.stderr
    assert "c.test" in server.cli("record", "ls").stdout
    bad = server.cli("record", "add", "c.test=nope")
    assert bad.returncode == EX_USAGE
    assert "nope" in bad.stderr


def test_queries_follow_prints_new_queries_until_interrupted(serve: Serve) -> None:
    server = serve("--record", "a.test=10.0.0.1")
    follower = subprocess.Popen(
        [*FAULTDNS, "queries", "--follow", "--interval", "0.05", "--control", server.control],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(follower.stdout, lines), daemon=True).start()
        ask(server.port, "a.test")
        line = lines.get(timeout=TIMEOUT)
        assert line is not None and "a.test" in line and "NOERROR" in line
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=TIMEOUT) == 0
    finally:
        if follower.poll() is None:
            follower.kill()
        follower.wait(timeout=TIMEOUT)


def test_log_queries_writes_one_json_line_per_query(serve: Serve) -> None:
    server = serve("--record", "a.test=10.0.0.1", "--log-queries", "-", control=False)
    ask(server.port, "a.test")
    ask(server.port, "missing.test", "AAAA")
    first = json.loads(server.next_line())
    second = json.loads(server.next_line())
    assert (first["name"], first["qtype"], first["rcode"]) == ("a.test", "A", "NOERROR")
    assert (second["name"], second["qtype"], second["rcode"]) == (
        "missing.test",
        "AAAA",
        "NXDOMAIN",
    )
    assert second["seq"] > first["seq"]
    assert {"time", "client", "transport", "rule", "action", "duration"} <= set(first)


def test_log_queries_to_a_file(serve: Serve, tmp_path: Path) -> None:
    log = tmp_path / "queries.jsonl"
    server = serve("--record", "a.test=10.0.0.1", "--log-queries", str(log), control=False)
    ask(server.port, "a.test")
    assert server.stop() == 0  # the last drain happens on shutdown
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["name"] for r in records] == ["a.test"]


def test_log_writer_reports_records_the_ring_lost(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from faultdns import MonotonicClock
    from faultdns._querylog import QueryLogWriter
    from faultdns._server import FaultDNSServer

    with FaultDNSServer(records=["a.test=10.0.0.1"], log_size=3, clock=MonotonicClock()) as server:
        out = io.StringIO()
        writer = QueryLogWriter(server, out, ring_size=3)
        ask(server.address[1], "a.test")
        assert writer.drain() == 1
        for _ in range(5):  # two more than the ring holds
            ask(server.address[1], "a.test")
        assert writer.drain() == 3
        writer.stop()
    seqs = [json.loads(line)["seq"] for line in out.getvalue().splitlines()]
    assert seqs == [1, 4, 5, 6]
    assert "2 records not written" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "rule", "action"),
    [
        ("a.test", None, None),
        ('we"ird\\\u00e9.test', "r1", "nxdomain"),
        ("\\000\\255.test", "r12", "drop"),
    ],
)
def test_fast_log_lines_are_the_records_json(
    name: str, rule: str | None, action: Action | None
) -> None:
    from faultdns._querylog import QueryRecord, json_line

    record = QueryRecord(7, 1.0 / 3, "[::1]:5353", "tcp", name, "AAAA", rule, action, "drop", 2e-6)
    line = json_line(record)
    assert json.loads(line) == record.to_dict()
    assert line == json.dumps(record.to_dict(), separators=(",", ":"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_shut_down_cleanly(serve: Serve, sig: int) -> None:
    server = serve("--record", "a.test=10.0.0.1")
    assert addresses(ask(server.port, "a.test")) == ["10.0.0.1"]
    assert server.stop(sig) == 0
    assert "Traceback" not in "".join(server.stderr)


def test_token_protects_the_control_api(serve: Serve) -> None:
    server = serve("--control-token", "s3cret")
    denied = server.cli("fault", "ls")
    assert denied.returncode == EX_NOPERM
    assert "token" in denied.stderr
    allowed = server.cli("fault", "add", "drop", token="s3cret")
    assert allowed.returncode == 0, allowed.stderr
    env = dict(os.environ, FAULTDNS_TOKEN="s3cret", FAULTDNS_CONTROL=server.control)
    from_env = run_cli("fault", "ls", env=env)
    assert from_env.returncode == 0
    assert "drop" in from_env.stdout


def test_control_api_beyond_loopback_without_token_warns() -> None:
    proc = subprocess.Popen(
        [*FAULTDNS, "serve", "--port", "0", "--control", "0.0.0.0:0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        errors: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(proc.stderr, errors), daemon=True).start()
        line = errors.get(timeout=TIMEOUT)
        assert line is not None and "warning" in line and "--control-token" in line
    finally:
        proc.terminate()
        proc.wait(timeout=TIMEOUT)


def test_fault_add_with_a_bad_spec_exits_64_naming_the_token(serve: Serve) -> None:
    server = serve()
    bad = server.cli("fault", "add", "nxdomain", "match=a.test", "for=ever")
    assert bad.returncode == EX_USAGE
    assert "ever" in bad.stderr
    assert server.cli("fault", "ls").stdout == ""


def test_unreachable_control_api_exits_69() -> None:
    with ClosedPort() as closed:  # nothing listens there, and nobody is given the port
        port = closed.port
        result = run_cli("fault", "ls", "--control", f"http://127.0.0.1:{port}", "--timeout", "2")
    assert result.returncode == EX_UNAVAILABLE
    assert f"127.0.0.1:{port}" in result.stderr
    assert "FAULTDNS_CONTROL" in result.stderr


def test_control_port_in_use_exits_71(serve: Serve) -> None:
    first = serve()
    control_port = first.control.rsplit(":", 1)[1]
    result = run_cli("serve", "--port", "0", "--control", f"127.0.0.1:{control_port}")
    assert result.returncode == EX_OSERR
    assert control_port in result.stderr
    assert result.stdout == ""  # no 'listening on' line for a server that is not running


def test_dns_port_in_use_exits_71(serve: Serve) -> None:
    first = serve(control=False)
    result = run_cli("serve", "--port", str(first.port), "--no-control")
    assert result.returncode == EX_OSERR
    assert f"127.0.0.1:{first.port}" in result.stderr
    assert result.stdout == ""


# -- bad input exits 64 naming the culprit ---------------------------------------------


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--fault", "nxdomian match=a.test"], "nxdomian"),
        (["--fault", "delay=soon"], "soon"),
        (["--fault", "drop first=0"], "first"),
        (["--record", "a.test=10.0.0.300"], "10.0.0.300"),
        (["--record", "a.test MX 10 mail.test"], "MX"),
        (["--origin", "bad..name"], "bad..name"),
        (["--port", "seventy"], "seventy"),
        (["--port", "70000"], "70000"),
        (["--control", "localhost:http"], "--control"),
        (["--ttl", "-5"], "-5"),
        (["--log-size", "0"], "--log-size"),
        (["--no-such-flag"], "--no-such-flag"),
    ],
)
def test_bad_flags_exit_64_naming_the_token(flags: list[str], expected: str) -> None:
    result = run_cli("serve", "--port", "0", "--no-control", *flags)
    assert result.returncode == EX_USAGE, result.stderr
    assert expected in result.stderr
    assert "listening on" not in result.stdout


def test_bad_zone_file_exits_64_naming_the_record(tmp_path: Path) -> None:
    zone = tmp_path / "zone.toml"
    zone.write_text('origins = ["test"]\nrecords = ["a.test=10.0.0.1", "b.test A not-an-ip"]\n')
    result = run_cli("serve", "--port", "0", "--no-control", "--zone", str(zone))
    assert result.returncode == EX_USAGE
    assert "--zone" in result.stderr and "records[2]" in result.stderr
    assert "not-an-ip" in result.stderr


def test_zone_file_that_is_not_toml_exits_64(tmp_path: Path) -> None:
    zone = tmp_path / "zone.toml"
    zone.write_text('ttl = 0\nrecords = = ["a.test=10.0.0.1"]\n')
    result = run_cli("serve", "--port", "0", "--no-control", "--zone", str(zone))
    assert result.returncode == EX_USAGE
    assert "TOML" in result.stderr and "line 2" in result.stderr


@pytest.mark.parametrize("flag", ["--plan", "--zone"])
def test_toml_nested_too_deeply_exits_64_naming_the_file(tmp_path: Path, flag: str) -> None:
    """Issue 10 review: `x = [[[[...` 5000 levels deep blew tomllib's recursion limit
    (a traceback, exit 1); it is a bad file like any other."""
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    result = run_cli("serve", "--port", "0", "--no-control", flag, str(path))
    assert result.returncode == EX_USAGE, result.stderr
    assert flag in result.stderr and str(path) in result.stderr
    assert "nested too deeply" in result.stderr
    assert "Traceback" not in result.stderr


_VALID_TOML = {
    "--plan": '[[fault]]\naction = "nxdomain"\nmatch = "a.test"\n',
    "--zone": 'origins = ["test"]\nrecords = ["a.test=10.0.0.1"]\n',
}
#: (kind, the file's bytes from valid TOML text, the reason README documents)
_NOT_UTF8_TOML: list[tuple[str, Callable[[str], bytes], str]] = [
    (
        "bom",
        lambda text: b"\xef\xbb\xbf" + text.encode(),
        "starts with a UTF-8 byte order mark (BOM), which TOML does not allow:"
        " save it as UTF-8 without BOM",
    ),
    (
        "latin-1",
        lambda text: ("# caf\u00e9\n" + text).encode("latin-1"),
        "not UTF-8 text (byte 0xe9 at offset 5): a TOML file must be UTF-8",
    ),
    (
        "utf-16",
        lambda text: text.encode("utf-16"),
        "not UTF-8 text (byte 0xff at offset 0): a TOML file must be UTF-8",
    ),
]


@pytest.mark.parametrize("flag", ["--plan", "--zone"])
@pytest.mark.parametrize(
    ("kind", "encode", "reason"), _NOT_UTF8_TOML, ids=[k for k, _, _ in _NOT_UTF8_TOML]
)
def test_toml_file_with_a_bom_or_not_utf8_exits_64_naming_it(
    tmp_path: Path, flag: str, kind: str, encode: Callable[[str], bytes], reason: str
) -> None:
    """Review of this session: plans and zones gave tomllib's "Invalid statement (at
    line 1, column 1)" for a BOM; the reason is named as for policy files (README
    "faultdns serve options and exit codes"), exit 64."""
    path = tmp_path / f"{kind}.toml"
    path.write_bytes(encode(_VALID_TOML[flag]))
    result = run_cli("serve", "--port", "0", "--no-control", flag, str(path))
    assert result.returncode == EX_USAGE, result.stderr
    assert flag in result.stderr and f"{path}: {reason}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "listening on" not in result.stdout


def test_missing_files_exit_64(tmp_path: Path) -> None:
    for flag in ("--zone", "--plan"):
        result = run_cli("serve", "--port", "0", "--no-control", flag, str(tmp_path / "nope"))
        assert result.returncode == EX_USAGE
        assert flag in result.stderr and "nope" in result.stderr


def test_bad_plan_exits_64_naming_the_table_and_key(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[[fault]]\naction = "nxdomain"\nmatch = "a.test"\nfor = "30s"\n\n'
        '[[fault]]\naction = "servfail"\nevery = "often"\n'
    )
    result = run_cli("serve", "--port", "0", "--no-control", "--plan", str(plan))
    assert result.returncode == EX_USAGE
    assert "#2" in result.stderr and "every" in result.stderr and "often" in result.stderr


def test_plan_file_faults_are_served_in_order(serve: Serve, tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        '[[fault]]\naction = "nxdomain"\nmatch = "a.test"\n\n[[fault]]\naction = "servfail"\n\n'
    )
    server = serve(
        "--plan", str(plan), "--record", "a.test=10.0.0.1", "--record", "b.test=10.0.0.2"
    )
    assert ask(server.port, "a.test").rcode() == dns.rcode.NXDOMAIN
    assert ask(server.port, "b.test").rcode() == dns.rcode.SERVFAIL
    specs = [line.split("\t")[1] for line in server.cli("fault", "ls").stdout.splitlines()]
    assert specs == ["nxdomain match=a.test", "servfail"]


def test_zone_file_and_ttl_flag(serve: Serve, tmp_path: Path) -> None:
    zone = tmp_path / "zone.toml"
    zone.write_text(
        'ttl = 300\norigins = ["test"]\nrecords = ["a.test=10.0.0.1"]\n\n'
        '[[record]]\nname = "srv.test"\ntype = "TXT"\nvalue = "from a table"\n'
    )
    server = serve("--zone", str(zone), "--ttl", "7")
    reply = ask(server.port, "a.test")
    assert addresses(reply) == ["10.0.0.1"]
    assert reply.answer[0].ttl == 7  # the flag wins over the file
    assert ask(server.port, "srv.test", "TXT").answer
    assert ask(server.port, "elsewhere.example").rcode() == dns.rcode.REFUSED


# -- in-process argument handling ---------------------------------------------------------


def test_usage_errors_exit_64_not_argparse_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fault"])
    assert exc.value.code == EX_USAGE
    with pytest.raises(SystemExit) as exc:
        main(["queries", "--since", "-3"])
    assert exc.value.code == EX_USAGE
    assert "-3" in capsys.readouterr().err


def test_help_lists_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for code in (64, 69, 71, 77):
        assert str(code) in out


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "faultdns"
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable}")
    result = subprocess.run(
        [str(script), "serve", "--help"], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 0
    assert "--log-queries" in result.stdout


def test_oracle_actions_from_the_command_line_and_the_client(serve: Serve) -> None:
    server = serve(
        "--origin",
        "test",
        "--record",
        "a.test=10.0.0.1",
        "--record",
        "b.test=10.0.0.2",
        "--fault",
        "rcode=BADVERS match=a.test",
    )
    assert dig_status(server.port, "a.test") == "BADVERS"
    assert dig_status(server.port, "a.test", "+tcp") == "BADVERS"
    for spec in ("lame match=b.test qtype=AAAA", "tcponly match=b.test", "rcode=16 match=c.test"):
        added = server.cli("fault", "add", spec)
        assert added.returncode == 0, added.stderr
    lame = dig(server.port, "b.test", "AAAA")
    assert "status: NOERROR" in lame and "flags: qr rd;" in lame
    tcponly = dig(server.port, "b.test")
    assert "Truncated, retrying in TCP mode" in tcponly and "10.0.0.2" in tcponly
    assert ask(server.port, "c.test").rcode() == dns.rcode.BADVERS
    listed = [line.split("\t")[1] for line in server.cli("fault", "ls").stdout.splitlines()]
    assert listed == [
        "rcode=BADVERS match=a.test",
        "lame match=b.test qtype=AAAA",
        "tcponly match=b.test",
        "rcode=BADVERS match=c.test",
    ]
    bad = server.cli("fault", "add", "rcode=NOPE")
    assert bad.returncode == EX_USAGE and "rcode=NOPE" in bad.stderr


@pytest.mark.parametrize("argv", [["--help"], ["serve", "--help"], ["fault", "add", "--help"]])
def test_help_lists_every_fault_action_with_what_go_sees(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for action in (
        "truncate=N",
        "tcponly",
        "lame",
        "rcode=NAME",
        "nxdomain",
        "delay=DURATION",
        "frame=SHAPE",
    ):
        assert f"\n  {action} " in out
    assert "lame referral" in out and "retries over TCP at once" in out


def test_tcp_limits_are_flags(serve: Serve) -> None:
    """--tcp-idle-timeout reaches the server: a silent connection is closed after it."""
    served = serve("--record", "a.test=10.0.0.1", "--tcp-idle-timeout", "0.3")
    with socket.create_connection(("127.0.0.1", served.port), timeout=TIMEOUT) as sock:
        assert sock.recv(1) == b""  # closed by the server, not by our timeout
    assert json.loads(served.cli("stats").stdout)["tcp_timed_out"] == 1

"""The ``sim`` command line: run, replay, demo, serve, and usage errors (exit 64)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from sim._cli import main
from sim._harness import Harness
from sim._scenario import load_scenario
from sim._world import generate_timeline
from tests.sim.spec import media as spec_media

SINGLE = load_scenario("single-node")
ROOT = Path(__file__).resolve().parents[2]
BUILTIN = (ROOT / "sim" / "scenarios" / "single-node.toml").read_text()


def failing_v14_seed() -> int:
    with Harness() as harness:
        for seed in range(40):
            if harness.run(SINGLE, seed, "harvester-v1.4").outcome == "not-retriable":
                return seed
    raise AssertionError("no v1.4 failure in seeds 0..39")


@pytest.fixture(scope="module")
def seed() -> int:
    return failing_v14_seed()


def test_run_prints_the_world_the_attempts_and_the_outcome(
    seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "trace.jsonl"
    code = main(["run", "--seed", str(seed), "--policy", "harvester-v1.4", "--trace", str(trace)])
    out = capsys.readouterr().out
    assert code == 1  # the cleanup did not succeed
    assert "node reboots" in out and "cleanup under harvester-v1.4" in out
    assert "dns not-found" in out and "not-retriable" in out
    assert "Unable to cleanup images:" in out
    with Harness() as harness:
        expected = harness.run(SINGLE, seed, "harvester-v1.4").trace_lines()
    assert trace.read_text() == expected
    assert f"trace sha256 {hashlib.sha256(expected.encode()).hexdigest()}" in out


def test_run_json_and_success_exit_status(seed: int, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--seed", str(seed), "--policy", "harvester-v1.5", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["outcome"] == "success" and doc["seed"] == seed
    assert doc["report"]["deleted"] and doc["timeline"]["seed"] == seed


def test_run_takes_a_saved_timeline(
    seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "run.json"
    assert main(["run", "--seed", str(seed), "--policy", "harvester-v1.4", "--json"]) == 1
    saved.write_text(capsys.readouterr().out)
    first = json.loads(saved.read_text())
    # the JSON of a run, fed back: the same world, so the same outcome and trace
    assert main(["run", "--timeline", str(saved), "--seed", str(seed), "--policy",
                 "harvester-v1.4", "--json"]) == 1  # fmt: skip
    again = json.loads(capsys.readouterr().out)
    assert again["trace_sha256"] == first["trace_sha256"]
    bare = tmp_path / "timeline.json"
    bare.write_text(json.dumps(first["timeline"]))
    assert main(["run", "--timeline", str(bare), "--seed", str(seed)]) == 0  # v1.5
    capsys.readouterr()
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"scenario": "x"}))
    assert main(["run", "--timeline", str(broken)]) == 64
    err = capsys.readouterr().err
    assert "--timeline" in err and "missing key" in err


@pytest.mark.parametrize("state", ["lame", "refused"])
def test_run_plays_a_saved_timeline_with_the_cluster_dns_not_ready(
    seed: int, state: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The DNS states ``lame`` and ``refused`` in a timeline file: CoreDNS answering
    every name with a lame referral or REFUSED over the first 40 s, which no preset
    retries (Go: no flag), so v1.5 ends the run at its first attempt (exit 1); a
    misspelt state exits 64 with the states the servers play."""
    assert main(["run", "--seed", str(seed), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["timeline"]
    doc["cleanup_start"] = 0.0
    doc["dns"] = {
        key: [[0.0, 40.0, state], [40.0, None, "ok" if key == doc["repo_host"] else "nxdomain"]]
        for key in (doc["repo_host"], "*")
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    assert main(["run", "--timeline", str(path), "--seed", str(seed), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert (out["outcome"], out["attempts"]) == ("not-retriable", 1)
    text = {"lame": "lame referral", "refused": "server misbehaving"}[state]
    assert out["report"]["error"].endswith(text), out["report"]["error"]
    doc["dns"][doc["repo_host"]][0][2] = "lamme"
    path.write_text(json.dumps(doc))
    assert main(["run", "--timeline", str(path), "--seed", str(seed)]) == 64
    err = capsys.readouterr().err
    assert "unknown state 'lamme'" in err and "servfail, lame, refused, ok" in err


def test_a_saved_timeline_with_an_empty_media_state_serves_the_list_with_no_content_type(
    seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``type:`` with the empty value is a state (README "sim run", timeline format):
    the list under no ``Content-Type`` field at all, which cleanup reads as the list
    (spec.media: no header is no document of another kind), so v1.5 deletes as in a
    world of ``ok``; an empty-valued field would be read the same way."""
    assert main(["run", "--seed", str(seed), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["timeline"]
    doc["http"] = {path: [[0.0, None, "type:"]] for path in doc["http"]}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    assert main(["run", "--timeline", str(path), "--seed", str(seed), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outcome"] == "success" and out["report"]["deleted"], out
    assert spec_media.refused(None) is spec_media.refused("") is False


def test_replay_runs_twice_and_finds_the_same_trace(
    seed: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", str(seed), "--policy", "harvester-v1.4"])
    out = capsys.readouterr().out
    assert code == 0  # identical, whatever the cleanup's outcome
    assert "replayed: trace identical" in out


def test_replay_against_a_saved_trace(
    seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "saved.jsonl"
    main(["run", "--seed", str(seed), "--trace", str(saved)])
    capsys.readouterr()
    assert main(["replay", str(seed), "--against", str(saved)]) == 0
    assert "byte for byte" in capsys.readouterr().out
    lines = saved.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace('"t":', '"t":1', 1)
    saved.write_text("".join(lines))
    assert main(["replay", str(seed), "--against", str(saved)]) == 1
    out = capsys.readouterr().out
    assert "at line 4" in out and "saved:" in out
    assert main(["replay", str(seed), "--against", str(tmp_path / "none")]) == 64


def test_demo_compares_the_presets_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--seeds", "12"])
    out = capsys.readouterr().out
    assert code == 0
    rates = re.findall(r"(harvester-v1\.[45]) +│ +(\d+)/12", out)
    assert [name for name, _ in rates] == ["harvester-v1.4", "harvester-v1.5"]
    old, new = (int(n) for _, n in rates)
    assert old < new
    assert "the same world under harvester-v1.4 and harvester-v1.5" in out
    assert "NOT-RETRIABLE" in out and "SUCCESS" in out  # the two endings, side by side
    assert "24 runs of the real module" in out


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[durations]\nnode_boot = 1\n", "durations.coredns_start"),
        (
            '[durations]\nnode_boot = { dist = "uniform", low = 5, high = 1 }\n',
            "durations.node_boot",
        ),
        (f'{BUILTIN}\n[images]\nprevious = ["Not A Ref"]\n', "images.previous[0]"),
        (f"{BUILTIN}\n[client]\ndns_timeout = -1\n", "client.dns_timeout"),
        (f"{BUILTIN}\n[client]\nsearch = 3\n", "client.search"),
        ("[world]\ncolour = 1\n", "world.colour"),
        ("not toml = = =\n", "scenario"),
        # issue 9: no traceback for any input
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("a = " + "9" * 5000 + "\n", "not valid TOML"),
        (f"{BUILTIN}\n[client]\ndns_timeout = inf\n", "client.dns_timeout"),
        (f"{BUILTIN}\n[client]\nhttp_timeout = 1e300\n", "client.http_timeout"),
        (f"{BUILTIN}\n[client]\ndns_attempts = [1]\n", "client.dns_attempts"),
        (f"{BUILTIN}\n[client]\ndns_attempts = 10000000000\n", "client.dns_attempts: at most"),
        (f"{BUILTIN}\n[client]\ndns_timeout = 1e300\n", "client.dns_timeout: at most"),
        # the pod's resolv.conf says timeout:N, whole seconds (issue 11)
        (f"{BUILTIN}\n[client]\ndns_timeout = 2.5\n", "client.dns_timeout: whole seconds"),
        # images.ids: content identities (ImageSet.ids)
        (f'{BUILTIN}\n[images]\nids = ["sha256:{"a" * 64}"]\n', "images.ids: expected a table"),
        (f'{BUILTIN}\n[images.ids]\n"Not A Ref" = "sha256:{"a" * 64}"\n', 'images.ids."Not A Ref"'),
        (f'{BUILTIN}\n[images.ids]\n"rancher/x:v1" = "sha256:abc"\n', 'images.ids."rancher/x:v1"'),
        (f'{BUILTIN}\n[images.ids]\n"rancher/x:v1" = 7\n', 'images.ids."rancher/x:v1"'),
        (f"{BUILTIN}\n[images]\nidz = {{}}\n", "images.idz: unknown key"),
    ],
)
def test_bad_scenario_files_exit_64_naming_the_key(
    tmp_path: Path, text: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code = main(["run", "--scenario", str(path), "--seed", "1"])
    err = capsys.readouterr().err
    assert code == 64
    assert key in err


#: (kind, the file's bytes from valid text, the reason for a FMT file; README: the
#: same words as for policy files, "Scenario files" and "sim run --timeline")
_NOT_UTF8: list[tuple[str, Callable[[str], bytes], str]] = [
    (
        "bom",
        lambda text: b"\xef\xbb\xbf" + text.encode(),
        "starts with a UTF-8 byte order mark (BOM), which {fmt} does not allow:"
        " save it as UTF-8 without BOM",
    ),
    (
        "latin-1",
        lambda text: text.encode("latin-1"),
        "not UTF-8 text (byte 0xe9 at offset {at}): a {fmt} file must be UTF-8",
    ),
    (
        "utf-16",
        lambda text: text.encode("utf-16"),
        "not UTF-8 text (byte 0xff at offset 0): a {fmt} file must be UTF-8",
    ),
]
_KINDS = [kind for kind, _, _ in _NOT_UTF8]


@pytest.mark.parametrize(("kind", "encode", "reason"), _NOT_UTF8, ids=_KINDS)
def test_scenario_file_with_a_bom_or_not_utf8_exits_64_naming_it(
    tmp_path: Path,
    kind: str,
    encode: Callable[[str], bytes],
    reason: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Review of this session: a BOM gave tomllib's "Invalid statement (at line 1,
    column 1)" and Latin-1 the codec's "'utf-8' codec can't decode byte 0xe9"; both
    are named as for policy files (``cleanup.utf8_text``), exit 64."""
    path = tmp_path / f"{kind}.toml"
    path.write_bytes(encode("# caf\u00e9\n" + BUILTIN))
    assert main(["run", "--scenario", str(path), "--seed", "1"]) == 64
    err = capsys.readouterr().err
    assert f"scenario {path}: {reason.format(fmt='TOML', at=5)}" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(("kind", "encode", "reason"), _NOT_UTF8, ids=_KINDS)
def test_timeline_and_trace_files_with_a_bom_or_not_utf8_exit_64_naming_them(
    seed: int,
    tmp_path: Path,
    kind: str,
    encode: Callable[[str], bytes],
    reason: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--timeline`` (JSON) and ``--against`` (a trace, JSON lines) read their bytes
    through the same check: RFC 8259 8.1, JSON is UTF-8 and a BOM is not added."""
    doc = generate_timeline(load_scenario("single-node"), seed).to_dict()
    doc["scenario"] = "caf\u00e9"
    text = json.dumps(doc, ensure_ascii=False)
    path = tmp_path / f"{kind}.json"
    path.write_bytes(encode(text))
    assert main(["run", "--timeline", str(path)]) == 64
    err = capsys.readouterr().err
    expected = reason.format(fmt="JSON", at=text.index("\u00e9"))
    assert f"--timeline {path}: {expected}" in err, err
    assert "Traceback" not in err
    trace = tmp_path / f"{kind}.jsonl"
    assert main(["run", "--seed", str(seed), "--trace", str(trace)]) in (0, 1)
    capsys.readouterr()
    lines = trace.read_text()
    first = lines.index("\n")
    trace.write_bytes(encode(lines[:first] + " caf\u00e9" + lines[first:]))
    assert main(["replay", str(seed), "--against", str(trace)]) == 64
    err = capsys.readouterr().err
    assert f"--against {trace}: {reason.format(fmt='JSON', at=first + 4)}" in err, err


def test_scenario_files_declare_content_identities(tmp_path: Path) -> None:
    """``[images.ids]``: node name -> content identity, as ``ImageSet.ids`` holds them (an
    image ID, with or without ``sha256:``, or a digest), in file order."""
    one, two = "sha256:" + "a" * 64, "b" * 64
    path = tmp_path / "ids.toml"
    path.write_text(
        f'{BUILTIN}\n[images]\nnode = ["docker.io/rancher/x:v1", "rancher/x@{one}"]\n'
        f'[images.ids]\n"docker.io/rancher/x:v1" = "{one}"\n"rancher/x@{one}" = "{one}"\n'
        f'"{two}" = "{two}"\n'
    )
    assert load_scenario(path).images.ids == (
        ("docker.io/rancher/x:v1", one),
        (f"rancher/x@{one}", one),
        (two, two),
    )
    assert load_scenario("single-node").images.ids == ()


def test_ndots_past_15_is_clamped_like_go(tmp_path: Path) -> None:
    """Go's dnsReadConfig clamps ndots to 15 (and caps neither attempts nor timeout)."""
    path = tmp_path / "big.toml"
    path.write_text(f"{BUILTIN}\n[client]\nndots = 1000000\n")
    assert load_scenario(path).client.ndots == 15


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cleanup_start", float("nan")),
        ("cleanup_start", 1e300),
        ("events", [[float("inf"), "x"]]),
    ],
)
def test_saved_timelines_with_absurd_times_exit_64(
    seed: int, tmp_path: Path, field: str, value: object, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--seed", str(seed), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["timeline"]
    doc[field] = value
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))  # Python writes NaN/Infinity, and reads them back
    assert main(["run", "--timeline", str(path)]) == 64
    err = capsys.readouterr().err
    assert "--timeline" in err and field in err


def test_a_saved_timeline_with_an_unknown_http_state_exits_64_naming_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12: the HTTP vocabulary is closed; a state outside it in a timeline file
    is refused when the file is read: exit 64, one message naming the flag, the file,
    the path, the interval and the state, no traceback."""
    doc = generate_timeline(load_scenario("single-node"), 1).to_dict()
    path_key = sorted(doc["http"])[0]
    doc["http"][path_key][-1][2] = "type:text/plain\u0000"  # no header field value
    start = doc["http"][path_key][-1][0]
    saved = tmp_path / "odd.json"
    saved.write_text(json.dumps(doc))
    assert main(["run", "--timeline", str(saved)]) == 64
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert f"--timeline {saved}" in err and f"http[{path_key!r}]" in err, err
    assert f"interval [{start:g}, inf)" in err and "unknown HTTP state" in err, err
    assert repr("type:text/plain\u0000") in err, err


def test_usage_errors_exit_64(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 64
    assert "--port" in capsys.readouterr().err
    assert main(["serve", "--dns-port", "-1"]) == 64
    assert "--dns-port" in capsys.readouterr().err
    assert main(["run", "--policy", "no-such-policy"]) == 64
    assert "--policy" in capsys.readouterr().err
    assert main(["run", "--seed", "minus one"]) == 64
    assert main(["demo", "--seeds", "0"]) == 64
    assert main(["serve", "--speed", "0"]) == 64
    assert main(["bogus"]) == 64


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """``sim serve`` of a multi-node world at real speed: at the cleanup start the repo
    name resolves and the VM has 50 s or more of booting left."""
    yield from _serve("--scenario", "multi-node", "--seed", "3")


@pytest.fixture
def served_from_reboot() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """``sim serve`` of a single-node world from the reboot: CoreDNS is not running for
    the first 113 s, so the DNS Service has no backend."""
    yield from _serve("--scenario", "single-node", "--seed", "1", "--from-reboot")


def _serve(*args: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "serve", *args, "--duration", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert proc.stdout is not None
    seen: dict[str, str] = {}
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if m := re.search(r"DNS +127\.0\.0\.1:(\d+)", line):
            seen["dns"] = m.group(1)
        if m := re.search(r"repo +http://127\.0\.0\.1:(\d+)", line):
            seen["repo"] = m.group(1)
        if line.startswith("Ctrl-C"):
            break
    seen["output"] = "".join(lines)
    try:
        yield proc, seen
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_follows_the_world_for_real_clients(
    served: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    _proc, seen = served
    timeline = generate_timeline(load_scenario("multi-node"), 3)
    assert timeline.http_state(next(iter(timeline.http)), timeline.cleanup_start + 30) == "refused"
    out = seen["output"]
    assert "dig @127.0.0.1 -p" in out and "cleanup run --repo-url" in out
    query = dns.message.make_query(timeline.repo_host, "A")
    reply = dns.query.udp(query, "127.0.0.1", port=int(seen["dns"]), timeout=5)
    assert reply.rcode() == dns.rcode.NOERROR
    assert [rr.to_text() for rrset in reply.answer for rr in rrset] == ["127.0.0.1"]
    with pytest.raises(ConnectionRefusedError):  # no endpoints yet: the VM is booting
        socket.create_connection(("127.0.0.1", int(seen["repo"])), timeout=5).close()


def test_serve_refuses_dns_while_the_service_has_no_backend(
    served_from_reboot: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    _proc, seen = served_from_reboot
    timeline = generate_timeline(load_scenario("single-node"), 1)
    assert timeline.dns_state(timeline.repo_host, 60.0) == "conn-refused"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.settimeout(5)
        sock.connect(("127.0.0.1", int(seen["dns"])))
        sock.send(dns.message.make_query(timeline.repo_host, "A").to_wire())
        with pytest.raises(ConnectionRefusedError):  # ICMP port unreachable
            sock.recv(512)
    finally:
        sock.close()


#: digits that are not ASCII (full-width, Arabic-Indic, Devanagari): ``int()`` and
#: ``float()`` read them all, a hand-typed flag must not
LOOK_ALIKE_DIGITS = ("\uff11\uff12", "\u0661\u0662", "\u0967\u0968")


@pytest.mark.parametrize("digits", LOOK_ALIKE_DIGITS)
@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--seed", "{}"],
        ["replay", "{}"],
        ["demo", "--seeds", "{}"],
        ["demo", "--first-seed", "{}"],
        ["serve", "--seed", "{}"],
        ["serve", "--speed", "{}"],
        ["serve", "--duration", "{}"],
        ["serve", "--port", "{}"],
        ["serve", "--dns-port", "{}"],
        ["tune", "--samples", "{}"],
        ["tune", "--seed", "{}"],
        ["tune", "--target", "0.{}"],
    ],
)
def test_numbers_in_flags_are_ascii_only(
    argv: list[str], digits: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every number a ``sim`` flag takes is refused, exit 64 naming the flag's value,
    when written with another script's digits (cleanup run's rule, README "sim")."""
    args = [a.format(digits) for a in argv]
    assert main(args) == 64
    err = capsys.readouterr().err
    assert repr(args[-1]) in err, err


@pytest.mark.parametrize("text", ["1_0", "+80", " 80", "0x50", "-0", "123456"])
def test_a_port_flag_is_ascii_decimal_digits(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``--port``/``--dns-port`` take 0-65535 in decimal digits only: no ``_`` (int()
    reads ``1_0`` as 10), sign, space or base prefix."""
    for flag in ("--port", "--dns-port"):
        assert main(["serve", flag, text]) == 64
        err = capsys.readouterr().err
        assert flag in err and repr(text) in err, err


@pytest.mark.parametrize("digits", LOOK_ALIKE_DIGITS)
def test_sim_mutants_jobs_is_ascii_only(digits: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutants", "--jobs", digits]) == 64
    assert "--jobs" in capsys.readouterr().err

"""``cleanup run``: flags, exit codes, log lines and the JSON report, in virtual time.

The CLI runs in-process (``cleanup._cli.main`` with an injected clock) against a real
faultdns server and the list server from test_end_to_end; nothing sleeps for real.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import faultdns
from cleanup import MemoryStore, get_policy, policy_to_toml
from cleanup._cli import build_parser, main
from cleanup._files import MAX_CONFIG_BYTES, MAX_STORE_BYTES
from tests.cleanup.test_end_to_end import (
    CURRENT,
    EXPECTED_DELETE,
    FQDN,
    NODE_IN_USE,
    PREVIOUS,
    SEARCH,
    SERVICE,
    LinkedClock,
    ListServer,
    list_text,
)


class Run:
    """Runs the CLI with the common flags; keeps stdout, stderr, exit code and clock."""

    def __init__(
        self,
        dns: faultdns.FaultDNSServer,
        dns_clock: faultdns.ManualClock,
        repo: ListServer,
        store: MemoryStore,
    ) -> None:
        self.dns = dns
        self.dns_clock = dns_clock
        self.repo = repo
        self.node = store
        self.nameserver = "{}:{}".format(*dns.address)
        self.common = [
            f"--repo-url=http://{SERVICE}:{repo.port}",
            "--previous-version=v1.4.1",
            f"--nameserver={self.nameserver}",
            *[f"--search={s}" for s in SEARCH],
            "--ndots=5",
            f"--store=memory:{store.path}",
        ]
        self.code = -1
        self.out = ""
        self.err = ""
        self.clock = LinkedClock(dns_clock)

    def __call__(self, *flags: str, common: bool = True) -> int:
        out, err = io.StringIO(), io.StringIO()
        self.clock = LinkedClock(self.dns_clock)
        argv = ["run", *(self.common if common else []), *flags]
        self.code = main(argv, clock=self.clock, stdout=out, stderr=err)
        self.out, self.err = out.getvalue(), err.getvalue()
        return self.code

    @property
    def lines(self) -> list[str]:
        return self.err.splitlines()

    @property
    def report(self) -> dict[str, object]:
        doc = json.loads(self.out)
        assert isinstance(doc, dict)
        return doc


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Run]:
    """faultdns (virtual time), the list server and a node in a memory store."""
    clock = faultdns.ManualClock()
    node = MemoryStore.create(
        tmp_path / "node.json", sorted(set(PREVIOUS) | set(CURRENT)), in_use=NODE_IN_USE
    )
    with (
        faultdns.FaultDNSServer(records=[f"{FQDN}=127.0.0.1"], clock=clock) as dns,
        ListServer() as repo,
    ):
        repo.serve("v1.4.1", (200, list_text(PREVIOUS)))
        repo.serve("current", (200, list_text(CURRENT)))
        yield Run(dns, clock, repo, node)


def untouched(store: MemoryStore) -> bool:
    return sorted(store.images()) == sorted(set(PREVIOUS) | set(CURRENT))


# --------------------------------------------------------------------------- usage: exit 64


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        (["--steps=0"], "--steps"),
        (["--steps=two"], "--steps"),
        (["--duration=soon"], "--duration"),
        (["--duration=0s"], "--duration"),
        (["--jitter=-1"], "--jitter"),
        (["--factor=x"], "--factor"),
        (["--cap=1parsec"], "--cap"),
        (["--deadline=-5s"], "--deadline"),
        (["--http-timeout=0"], "--http-timeout"),
        (["--ndots=-1"], "--ndots"),
        (["--seed=abc"], "--seed"),
        (["--policy=no-such-policy"], "--policy"),
        (["--store=docker"], "--store"),
        (["--store=memory:/nonexistent/node.json"], "--store"),
        (["--nameserver=dns.example:53"], "--nameserver"),
        (["--resolv-conf=/nonexistent/resolv.conf"], "--resolv-conf"),
        (["--repo-url=not a url at all"], "--repo-url"),
        (["--repo-url=ftp://repo.example/"], "--repo-url"),
        (["--bogus-flag"], "--bogus-flag"),
        # issue 9: bounded inputs, never a traceback
        (["--steps=100000000000"], "--steps"),
        (["--steps=" + "9" * 4300], "--steps"),
        (["--steps=" + "9" * 5000], "--steps"),
        (["--duration=1e300"], "--duration"),
        (["--duration=inf"], "--duration"),
        (["--duration=nan"], "--duration"),
        (["--cap=1e300"], "--cap"),
        (["--deadline=1e300"], "--deadline"),
        (["--deadline=3000000h"], "--deadline"),
        (["--http-timeout=1e300"], "--http-timeout"),
        (["--http-timeout=25h"], "--http-timeout"),
        (["--factor=inf"], "--factor"),
        (["--jitter=nan"], "--jitter"),
        (["--previous-version=../x"], "--previous-version"),
        (["--current-version=a/../../b"], "--current-version"),
        # review of issue 9: a port past 65535 and a huge version were exit 2
        (["--repo-url=http://127.0.0.1:99999"], "--repo-url"),
        (["--repo-url=http://127.0.0.1:0"], "--repo-url"),
        (["--previous-version=" + "v" * 100_000], "--previous-version"),
        (["--current-version=" + "c" * 254], "--current-version"),
    ],
)
def test_bad_flags_exit_64_naming_the_flag(cli: Run, flags: list[str], names: str) -> None:
    assert cli(*flags) == 64
    assert names in cli.err, cli.err
    assert cli.err.startswith("cleanup: ")
    assert untouched(cli.node)
    assert cli.dns.queries == []  # nothing was attempted


def test_missing_required_flags(cli: Run) -> None:
    assert cli("--previous-version=v1", common=False) == 64
    assert "--repo-url" in cli.err
    assert cli("--repo-url=http://x", common=False) == 64
    assert "--previous-version" in cli.err
    assert main([], stdout=io.StringIO(), stderr=io.StringIO()) == 64


def test_malformed_memory_store_names_the_field(cli: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": ["a:1"], "in_use": "b:1"}')
    assert cli(f"--store=memory:{bad}") == 64
    assert "--store" in cli.err and "field 'in_use'" in cli.err


@pytest.mark.parametrize(
    ("encode", "reason"),
    [
        (
            lambda text: b"\xef\xbb\xbf" + text.encode(),
            "starts with a UTF-8 byte order mark (BOM), which JSON does not allow:"
            " save it as UTF-8 without BOM",
        ),
        (
            lambda text: text.encode("latin-1"),
            "not UTF-8 text (byte 0xe9 at offset 16): a JSON file must be UTF-8",
        ),
        (
            lambda text: text.encode("utf-16"),
            "not UTF-8 text (byte 0xff at offset 0): a JSON file must be UTF-8",
        ),
    ],
    ids=["bom", "latin-1", "utf-16"],
)
def test_memory_store_with_a_bom_or_not_utf8_exits_64_naming_it(
    cli: Run, tmp_path: Path, encode: Callable[[str], bytes], reason: str
) -> None:
    """Review of this session: a Latin-1 store said "not UTF-8 text (invalid start
    byte)" without the byte or where, and Python's json took a BOM or UTF-16 as JSON;
    the store file is held to RFC 8259 8.1 with policy files' words
    (``cleanup.utf8_text``), exit 64 before anything is removed."""
    bad = tmp_path / "bad.json"
    bad.write_bytes(encode('{"images": ["caf\u00e9:1"]}'))
    assert cli(f"--store=memory:{bad}") == 64
    assert "--store" in cli.err and f"memory store {bad}: {reason}" in cli.err, cli.err
    assert "Traceback" not in cli.err


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[backoff]\nduration = [1]\n", "backoff.duration: expected a duration, got [1]"),
        ('[backoff]\nduration = "1s"\nsteps = 1e20\n', "steps must be at most 1000000"),
        ("[backoff]\nduration = 1e300\n", "backoff.duration: 1e+300 is longer than Go's"),
        ("[backoff]\nduration = inf\n", "backoff.duration: must be a finite number"),
        ("[backoff]\nduration = nan\n", "backoff.duration: must be a finite number"),
        ("[backoff]\nduration = 1\nsteps = " + "9" * 5000 + "\n", "not valid TOML"),
        ("[backoff]\nduration = 1\nmode = 5\n", "backoff.mode: must be one of"),
        ("[backoff]\nduration = 1\nfactor = {a = 1}\n", "backoff.factor: expected a number"),
        ("deadline = [1]\n[backoff]\nduration = 1\n", "deadline: expected a duration"),
        ("name = 5\n[backoff]\nduration = 1\n", "name must be a non-empty string"),
        ("predicate = [1]\n[backoff]\nduration = 1\n", "predicate: must be one of"),
        ("a = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("backoff = 5\n", "missing [backoff] table"),
        ("\udcff", "not UTF-8 text (byte 0xff at offset 0): a TOML file must be UTF-8"),
        ("\ufeff[backoff]\nduration = 1\n", "starts with a UTF-8 byte order mark (BOM)"),
    ],
)
def test_any_policy_file_exits_64_naming_file_and_key(
    cli: Run, tmp_path: Path, text: str, names: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert cli(f"--policy={path}") == 64
    assert f"--policy: {path}: " in cli.err and names in cli.err, cli.err
    assert "Traceback" not in cli.err
    assert untouched(cli.node)


def test_ndots_past_15_is_clamped_like_go(cli: Run) -> None:
    """Go's dnsReadConfig: ``if n > 15 { n = 15 }``; a flag means what the file would."""
    args = build_parser().parse_args(["run", *cli.common, "--ndots=100000000000000000000"])
    assert args.ndots == 15
    assert cli("--ndots=100000000000000000000", "--dry-run") == 0, cli.err


def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """Issue 9: Ctrl-C (SIGINT) mid-fetch exits 130 with one line, no traceback."""
    node = MemoryStore.create(tmp_path / "node.json", ["a/b:v1"])
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cleanup",
                "run",
                f"--repo-url=http://127.0.0.1:{silent.getsockname()[1]}",
                "--previous-version=v1",
                "--nameserver=127.0.0.1:9",
                f"--store=memory:{node.path}",
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        # mid-fetch: once it has connected (the request waits for an answer that never
        # comes), not after a fixed sleep that a loaded machine can outlast in imports
        silent.settimeout(60)
        conn, _ = silent.accept()
        with conn:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "cleanup: interrupted"
    assert "Traceback" not in err
    assert node.images() == ["a/b:v1"]


def test_bad_policy_file_names_the_field(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('name = "x"\n[backoff]\nduration = "10s"\nsteps = "many"\n')
    assert cli(f"--policy={path}") == 64
    assert "--policy" in cli.err and "steps" in cli.err


def test_policy_file_with_a_bom_exits_64_naming_the_bom(cli: Run, tmp_path: Path) -> None:
    """A policy file saved as "UTF-8 with BOM": one line naming the file and the BOM,
    exit 64, nothing fetched or deleted."""
    path = tmp_path / "p.toml"
    path.write_bytes(b'\xef\xbb\xbf[backoff]\nduration = "10s"\n')
    assert cli(f"--policy={path}") == 64
    assert cli.err.splitlines() == [
        f"cleanup: --policy: {path}: starts with a UTF-8 byte order mark (BOM), which TOML"
        " does not allow: save it as UTF-8 without BOM"
    ]
    assert untouched(cli.node)


# --------------------------------------------------------------------------- outcomes


def test_success_json_report(cli: Run) -> None:
    assert cli("--json", "--seed=5") == 0
    doc = cli.report
    assert doc["outcome"] == "success" and doc["exit_code"] == 0 and doc["seed"] == 5
    assert sorted(doc["deleted"]) == EXPECTED_DELETE  # type: ignore[call-overload]
    assert doc["policy"] == "harvester-v1.5"
    assert cli.lines[0] == "attempt 1 succeeded: fetched both image lists"
    assert sorted(cli.node.images()) == sorted(
        (set(PREVIOUS) | set(CURRENT)) - set(EXPECTED_DELETE)
    )


def test_nothing_to_delete_is_success(cli: Run) -> None:
    cli.repo.serve("v1.4.1", (200, list_text(CURRENT)))
    assert cli("--json") == 0
    assert cli.report["deleted"] == []
    assert cli.lines[-1].startswith("cleanup done: deleted 0 image(s)")


def test_dry_run_deletes_nothing(cli: Run) -> None:
    assert cli("--dry-run", "--json") == 0
    assert cli.report["deleted"] == []
    planned = cli.report["planned"]
    assert isinstance(planned, list)
    assert sorted(p["image"] for p in planned) == EXPECTED_DELETE
    assert cli.lines[-1].startswith("cleanup done: would delete 2 image(s)")
    assert untouched(cli.node)


def test_gave_up_exit_1_with_one_line_per_attempt(cli: Run) -> None:
    cli.dns.add_fault("servfail match=upgrade-repo-*")
    assert cli("--steps=3", "--json") == 1
    lines = cli.lines
    assert len(lines) == 4
    line = re.compile(
        r'attempt (\d)/3 failed: dns temporary: Get "http://[^"]+": dial tcp: lookup '
        + re.escape(SERVICE)
        + r" on 127\.0\.0\.1:\d+: server misbehaving; (.*)"
    )
    tails = []
    for text in lines[:3]:
        match = line.fullmatch(text)
        assert match, text
        tails.append(match.group(2))
    assert re.fullmatch(r"retrying in 1[01]\.\ds", tails[0])
    assert re.fullmatch(r"retrying in 1[01]\.\ds", tails[1])
    assert tails[2] == "giving up (retry schedule exhausted)"
    assert lines[3].startswith('Unable to cleanup images: Get "http://')
    assert f": dial tcp: lookup {SERVICE} on " in lines[3]
    assert lines[3].endswith("retry schedule exhausted)")
    doc = cli.report
    assert doc["outcome"] == "gave-up" and doc["error_kind"] == "dns temporary"
    assert len(doc["attempts"]) == 3  # type: ignore[arg-type]
    assert untouched(cli.node)


def test_deadline_ends_the_retries(cli: Run) -> None:
    cli.dns.add_fault("nxdomain match=upgrade-repo-*")
    assert cli("--deadline=25s", "--jitter=0") == 1
    assert cli.lines[-2].endswith("giving up (deadline reached)")
    assert cli.lines[-2].startswith("attempt 3/30 failed: dns not-found")
    assert cli.clock.sleeps == [10.0, 10.0]
    assert untouched(cli.node)


def test_not_retriable_under_v14(cli: Run) -> None:
    cli.dns.add_fault("nxdomain match=upgrade-repo-*")
    assert cli("--policy=harvester-v1.4") == 2
    assert cli.lines[0].endswith("no such host; not retried by policy harvester-v1.4")
    assert len(cli.lines) == 2
    assert untouched(cli.node)


def test_schedule_flags_override_the_preset(cli: Run) -> None:
    cli.dns.add_fault("servfail match=upgrade-repo-*")
    assert cli("--steps=4", "--duration=2s", "--factor=2", "--jitter=0", "--json") == 1
    assert cli.clock.sleeps == [2.0, 4.0, 8.0]
    assert cli("--steps=4", "--duration=2s", "--factor=2", "--jitter=0", "--cap=3s", "--json") == 1
    # client-go: the Step() whose growth hits the cap ends the loop; its sleep is still
    # taken, and no attempt follows it
    assert cli.clock.sleeps == [2.0]
    assert len(cli.report["attempts"]) == 1  # type: ignore[arg-type]


def test_seed_fixes_the_jitter(cli: Run) -> None:
    cli.dns.add_fault("servfail match=upgrade-repo-*")
    cli("--steps=5", "--seed=11")
    first = list(cli.clock.sleeps)
    cli("--steps=5", "--seed=11")
    assert cli.clock.sleeps == first
    cli("--steps=5", "--seed=12")
    assert cli.clock.sleeps != first
    assert all(10.0 <= s <= 11.0 for s in first)


def test_policy_file_round_trip(cli: Run, tmp_path: Path) -> None:
    path = tmp_path / "slow.toml"
    path.write_text(policy_to_toml(get_policy("harvester-v1.5", steps=2, jitter=0)))
    cli.dns.add_fault("servfail match=upgrade-repo-*")
    assert cli(f"--policy={path}") == 1
    assert cli.clock.sleeps == [10.0]


def test_resolv_conf_supplies_search_and_ndots(cli: Run, tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(
        "nameserver 10.53.0.10\n"
        "search harvester-system.svc.cluster.local svc.cluster.local cluster.local\n"
        "options ndots:5\n"
    )
    flags = [
        f"--repo-url=http://{SERVICE}:1",
        "--previous-version=v1.4.1",
        f"--resolv-conf={conf}",
        f"--nameserver={cli.nameserver}",  # the server under test replaces 10.53.0.10
        "--policy=harvester-v1.4",
        cli.common[-1],
    ]
    cli.dns.add_fault("nxdomain match=upgrade-repo-*")
    assert cli(*flags, common=False) == 2
    names = list(dict.fromkeys(q.name.rstrip(".") for q in cli.dns.queries))
    assert names == [f"{SERVICE}.{s}" for s in SEARCH] + [SERVICE]


def test_default_is_etc_resolv_conf(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text(f"nameserver {cli.dns.address[0]}\noptions ndots:1\n")
    monkeypatch.setattr("cleanup._cli.DEFAULT_RESOLV_CONF", str(conf))
    # the file names the server without a port, so 53: not where faultdns listens.  The
    # error names that server, proving the file (not some other resolver) was used.
    flags = [
        f"--repo-url=http://{SERVICE}:1",
        "--previous-version=v1.4.1",
        "--steps=1",
        cli.common[-1],
        "--json",
    ]
    assert cli(*flags, common=False) == 1
    assert f"on {cli.dns.address[0]}:53" in str(cli.report["error"])
    assert cli.dns.queries == []


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "big"])
@pytest.mark.parametrize("flag", ["--resolv-conf", "--store", "--policy"])
def test_unbounded_or_special_files_exit_64_naming_the_file(
    cli: Run, tmp_path: Path, kind: str, flag: str
) -> None:
    """Review of issue 9: ``--resolv-conf /dev/zero``, ``--store memory:/dev/zero``, a
    FIFO store or a 300 MB policy file read without bound (or hung on the FIFO).  Each
    file must be a regular file within its documented limit."""
    limit = MAX_STORE_BYTES if flag == "--store" else MAX_CONFIG_BYTES
    if kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)
    else:
        path = tmp_path / "big"
        with path.open("wb") as handle:
            handle.truncate(limit + 1)  # sparse: costs no disk
    value = f"memory:{path}" if flag == "--store" else str(path)
    assert cli(f"{flag}={value}") == 64, cli.err
    assert flag in cli.err and str(path) in cli.err, cli.err
    reason = f"larger than the {limit}-byte limit" if kind == "big" else "not a regular file"
    assert reason in cli.err, cli.err
    assert untouched(cli.node)

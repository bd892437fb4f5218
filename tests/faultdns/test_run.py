"""`faultdns run`: real programs (getent, curl, Python, the Go probe) behind faultdns.

Each program runs under `faultdns run` in a loop driven from here: one lookup per line
on its stdin, "rc=N" after each.  Between lookups the test changes the faults through
the control API, as a user would from another terminal.  What each program reports is
its own documented behaviour (glibc's getaddrinfo codes, curl's exit 6, Go's
net.DNSError texts), not something faultdns says.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from faultdns._control_client import ControlClient
from faultdns._run import choose_mode, exit_status
from faultdns._sandbox import sandbox_status

pytestmark = pytest.mark.skipif(
    not sandbox_status().available, reason=f"no mount namespace: {sandbox_status().reason}"
)

GAI = (
    "import socket,sys\n"
    "try:\n"
    "    r = socket.getaddrinfo(sys.argv[1], 80, type=socket.SOCK_STREAM)\n"
    "    print('ok', sorted({x[4][0] for x in r}))\n"
    "except socket.gaierror as e:\n"
    "    print('err', e.errno, e.strerror); sys.exit(1)\n"
)
LOOP = 'while read _; do "$@" 2>&1; echo "rc=$?"; done'
RESOLV = [
    "--no-search",
    "--ndots",
    "1",
    "--resolv-option",
    "timeout:1",
    "--resolv-option",
    "attempts:1",
]
FAULTDNS = [sys.executable, "-m", "faultdns", "run"]


class Session:
    """A `faultdns run` with a lookup loop as CMD, and a client for its control API."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.stderr: list[str] = []
        assert proc.stderr is not None
        for line in proc.stderr:
            self.stderr.append(line)
            if line.startswith("faultdns: control on "):
                self.url = line.split()[-1]
                break
        else:
            raise AssertionError("faultdns run ended early: " + "".join(self.stderr))
        self.client = ControlClient(self.url)

    def ask(self) -> tuple[str, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        out: list[str] = []
        for line in self.proc.stdout:
            if line.startswith("rc="):
                return "".join(out), int(line[3:])
            out.append(line)
        raise AssertionError("CMD ended: " + "".join(out))

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout=30)


@contextlib.contextmanager
def session(lookup: list[str], *extra: str, fault: str | None = None) -> Iterator[Session]:
    args = [*FAULTDNS, "--control", "127.0.0.1:0", "--record", "repo.test=127.0.0.1", *RESOLV]
    if fault:
        args += ["--fault", fault]
    proc = subprocess.Popen(
        [*args, *extra, "--", "sh", "-c", LOOP, "sh", *lookup],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield Session(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def web() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello from the repo\n")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def goprobe() -> str:
    from sim._fidelity._build import GoUnavailable, build_probe

    try:
        return str(build_probe().path)
    except GoUnavailable as exc:
        pytest.skip(f"the Go probe did not build: {exc}")


def _lookup(program: str, web: int, goprobe: str | None) -> list[str]:
    if program == "getent":
        return ["getent", "ahosts", "repo.test"]
    if program == "curl":
        return ["curl", "-sS", "--max-time", "10", f"http://repo.test:{web}/"]
    if program == "python":
        return [sys.executable, "-c", GAI, "repo.test"]
    assert goprobe is not None
    return [goprobe, "-lookup", "repo.test"]


# What each program says for: resolved, NXDOMAIN, SERVFAIL, a dropped query.
EXPECTED = {
    # getent ahosts: exit 2 whenever getaddrinfo fails (getent.c), addresses on success.
    "getent": (("127.0.0.1", 0), ("", 2), ("", 2), ("", 2)),
    # curl: exit 6 CURLE_COULDNT_RESOLVE_HOST for every resolution failure.
    "curl": (
        ("hello from the repo", 0),
        ("Could not resolve host: repo.test", 6),
        ("Could not resolve host: repo.test", 6),
        ("Could not resolve host: repo.test", 6),
    ),
    # glibc: EAI_NONAME, EAI_AGAIN (SERVFAIL and a timeout alike).
    "python": (
        ("ok ['127.0.0.1']", 0),
        ("err -2 Name or service not known", 1),
        ("err -3 Temporary failure in name resolution", 1),
        ("err -3 Temporary failure in name resolution", 1),
    ),
    # Go 1.23 net.DNSError: errNoSuchHost, errServerMisbehaving, i/o timeout (the probe
    # reports in its JSON and exits 0).
    "go": (
        ('"addresses":["127.0.0.1"]', 0),
        ('"err":"no such host"', 0),
        ('"err":"server misbehaving"', 0),
        ("i/o timeout", 0),
    ),
}


@pytest.mark.parametrize("program", ["getent", "curl", "python", "go"])
def test_program_sees_windows_open_and_close(
    program: str, web: int, request: pytest.FixtureRequest
) -> None:
    if program in ("getent", "curl") and shutil.which(program) is None:
        pytest.skip(f"{program} is not installed")
    probe = request.getfixturevalue("goprobe") if program == "go" else None
    ok, nxdomain, servfail, dropped = EXPECTED[program]
    before = Path("/etc/resolv.conf").read_bytes()
    with session(_lookup(program, web, probe), fault="nxdomain match=repo.test") as run:
        for want, fault in (
            (nxdomain, None),
            (ok, "servfail"),
            (servfail, "drop"),
            (dropped, None),
        ):
            out, rc = run.ask()
            assert (want[0] in out, rc) == (True, want[1]), (fault, out, rc)
            assert Path("/etc/resolv.conf").read_bytes() == before
            for rule in run.client.faults():  # close the window...
                run.client.remove_fault(rule["id"])
            if fault:  # ...and maybe open the next
                run.client.add_fault(f"{fault} match=repo.test")
        out, rc = run.ask()  # every window closed: resolved again
        assert ok[0] in out and rc == ok[1]
        assert run.close() == 0
    assert Path("/etc/resolv.conf").read_bytes() == before


def test_search_and_ndots_apply_as_given(tmp_path: Path) -> None:
    log = tmp_path / "q.jsonl"
    done = subprocess.run(
        [
            *FAULTDNS,
            "--no-control",
            "--record",
            "x.s2=10.0.0.2",
            "--log-queries",
            str(log),
            "--search",
            "s1",
            "--search",
            "s2",
            "--ndots",
            "2",
            "--",
            "sh",
            "-c",
            "cat /etc/resolv.conf; getent ahosts x.y; getent ahosts x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.startswith("nameserver 127.0.0.")
    assert "search s1 s2\noptions ndots:2\n" in done.stdout
    assert "10.0.0.2" in done.stdout
    import json

    names = [json.loads(line)["name"] for line in log.read_text().splitlines()]
    a_names = list(dict.fromkeys(names))
    # x.y has 1 dot < ndots 2: search list first, then as is; x: x.s1, then x.s2 answers.
    assert a_names == ["x.y.s1", "x.y.s2", "x.y", "x.s1", "x.s2"]


def test_exit_status_is_cmds_and_output_streams() -> None:
    done = subprocess.run(
        [*FAULTDNS, "--no-control", "--", "sh", "-c", "echo out; echo err >&2; exit 3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3
    assert done.stdout == "out\n"
    assert "err\n" in done.stderr and "faultdns: listening on udp+tcp 127.0.0." in done.stderr


def test_cmd_changes_its_own_faults_behind_a_control_token() -> None:
    # CMD gets the control URL and the token: its own `faultdns fault add` is let in.
    script = (
        f"{sys.executable} -m faultdns fault add 'nxdomain match=y' >/dev/null || exit 10;"
        " getent hosts y; echo rc=$?"
    )
    control = ["--control", "127.0.0.1:0", "--control-token", "s3cret"]
    done = subprocess.run(
        [*FAULTDNS, *control, *RESOLV, "--record", "y=10.0.0.9", "--", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "rc=2\n"  # getent: the name is NXDOMAIN now


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1])
def test_signals_are_forwarded_to_cmd(sig: signal.Signals) -> None:
    name = sig.name[3:]
    proc = subprocess.Popen(
        [
            *FAULTDNS,
            "--no-control",
            "--",
            "sh",
            "-c",
            f'trap "echo got-{name}; exit 7" {name}; echo ready; while :; do sleep 0.1; done',
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # sent from elsewhere, as `kill` from another terminal: without a session of
        # its own, pytest run in a terminal's foreground would make this SIGINT look
        # like a Ctrl-C, which faultdns run rightly leaves to the terminal
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 7
    assert proc.stdout.read() == f"got-{name}\n"


@pytest.mark.parametrize("victim", ["faultdns", "cmd"])
def test_sigkill_leaves_resolv_conf_alone(victim: str, tmp_path: Path) -> None:
    before = Path("/etc/resolv.conf").read_bytes()
    pidfile = tmp_path / "pid"
    proc = subprocess.Popen(
        [
            *FAULTDNS,
            "--no-control",
            "--",
            "sh",
            "-c",
            f"echo $$ > {pidfile}; echo ready; exec sleep 60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    cmd_pid = int(pidfile.read_text())
    assert Path("/etc/resolv.conf").read_bytes() == before
    os.kill(proc.pid if victim == "faultdns" else cmd_pid, signal.SIGKILL)
    rc = proc.wait(timeout=30)
    if victim == "cmd":
        assert rc == 128 + signal.SIGKILL
    deadline = time.monotonic() + 10
    while Path(f"/proc/{cmd_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # CMD dies with faultdns run (its parent-death signal)
    assert (
        not Path(f"/proc/{cmd_pid}").exists()
        or "Z" in Path(f"/proc/{cmd_pid}/stat").read_text().split()[2]
    )
    assert Path("/etc/resolv.conf").read_bytes() == before


def test_refused_namespace_exits_69_saying_why(tmp_path: Path) -> None:
    # A kernel or seccomp profile that refuses unshare(2), as util-linux reports it.
    fake = tmp_path / "unshare"
    fake.write_text(
        "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    done = subprocess.run(
        [*FAULTDNS, "--no-control", "--", "true"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 69
    assert "unshare failed: Operation not permitted" in done.stderr
    assert "sudo faultdns run" in done.stderr and "Traceback" not in done.stderr


def test_refused_network_namespace_without_root_exits_69() -> None:
    reason = _nobody_can_run_python()
    if reason:
        pytest.skip(reason)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # not under pytest's root-only tmp dir
        os.chmod(tmp, 0o755)
        fake = Path(tmp) / "unshare"
        fake.write_text(
            "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n"
        )
        fake.chmod(0o755)
        env = {**os.environ, "PATH": f"{tmp}:{os.environ['PATH']}"}
        done = subprocess.run(
            [
                "setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                *FAULTDNS,
                "--no-control",
                "--",
                "true",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            cwd=tmp,
        )
    assert done.returncode == 69, done.stderr
    assert "network namespace, which is not allowed" in done.stderr
    assert "unshare failed: Operation not permitted" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_input_is_64_even_where_namespaces_are_refused(tmp_path: Path) -> None:
    fake = tmp_path / "unshare"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    done = subprocess.run(
        [*FAULTDNS, "--fault", "nxdomain for=soon", "--", "true"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 64 and "--fault" in done.stderr


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["--port", "5353"], "--port 5353"),
        (["--host", "name"], "--host"),
        (["--resolv-option", "bogus"], "unknown option"),
        (["--ndots", "16"], "--ndots"),
        (["--resolv-option", "ndots:2"], "use --ndots"),
    ],
)
def test_bad_flags_exit_64_naming_the_flag(argv: list[str], word: str) -> None:
    done = subprocess.run(
        [*FAULTDNS, *argv, "--", "true"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 64 and word in done.stderr and "Traceback" not in done.stderr


def test_no_command_is_a_usage_error() -> None:
    done = subprocess.run([*FAULTDNS, "--no-control"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 64 and "no command" in done.stderr


def _nobody_can_run_python() -> str:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return "needs root (to drop to nobody) and setpriv"
    probe = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "unshare",
            "--user",
            "--map-root-user",
            "--net",
            "true",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"the kernel refuses an unprivileged user+network namespace: {probe.stderr.strip()}"
    return ""


def test_without_root_a_network_namespace_and_the_control_api_relayed(tmp_path: Path) -> None:
    reason = _nobody_can_run_python()
    if reason:
        pytest.skip(reason)
    os.chmod(tmp_path, 0o777)
    proc = subprocess.Popen(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            *FAULTDNS,
            "--control",
            "127.0.0.1:0",
            "--record",
            "repo.test=127.0.0.1",
            *RESOLV,
            "--",
            "sh",
            "-c",
            LOOP,
            "sh",
            "getent",
            "ahosts",
            "repo.test",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        run = Session(proc)
        assert "private network namespace" in "".join(run.stderr)
        out, rc = run.ask()
        assert rc == 0 and "127.0.0.1" in out
        run.client.add_fault("nxdomain match=repo.test")  # from outside, through the relay
        assert run.ask()[1] == 2
        assert run.close() == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_choose_mode_and_exit_status() -> None:
    assert choose_mode(0, 1024) == "root"
    assert choose_mode(1000, 53) == "user"
    assert choose_mode(1000, 54) == "netns"
    assert exit_status(3) == 3
    assert exit_status(-signal.SIGKILL) == 137


def test_run_leaves_serve_defaults_alone() -> None:
    # run copies serve's options: changing run's --host/--port must not change serve's.
    from faultdns._cli import build_parser

    serve = build_parser().parse_args(["serve"])
    assert (serve.host, serve.port) == ("127.0.0.1", 53)
    run = build_parser().parse_args(["run", "--", "true"])
    assert (run.host, run.port) == (None, None)


JAVA = """public class Lookup {
    public static void main(String[] a) throws Exception {
        try { System.out.println(java.net.InetAddress.getByName(a[0]).getHostAddress()); }
        catch (java.net.UnknownHostException e) {
            System.out.println("unknown: " + e.getMessage());
        }
    }
}
"""


@pytest.mark.skipif(shutil.which("java") is None, reason="no java on PATH")
@pytest.mark.parametrize(
    ("fault", "expected"),
    [(None, "127.0.0.1"), ("nxdomain", "unknown: repo.test: Name or service not known")],
)
def test_java_resolves_through_faultdns(fault: str | None, expected: str, tmp_path: Path) -> None:
    source = tmp_path / "Lookup.java"
    source.write_text(JAVA)
    args = [*FAULTDNS, "--no-control", "--record", "repo.test=127.0.0.1", *RESOLV]
    if fault:
        args += ["--fault", fault]
    done = subprocess.run(
        [*args, "--", "java", str(source), "repo.test"], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == expected, done.stderr


# CMD takes its SIGINTs with sigwaitinfo (no handler that could merge two) and prints
# each one's si_code: SI_KERNEL (128) for the terminal's, SI_USER (0) for a kill(2).
COUNT_INT = (
    "import signal\n"
    "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\n"
    "print('ready', flush=True)\n"
    "codes = [signal.sigwaitinfo({signal.SIGINT}).si_code]\n"
    "while (info := signal.sigtimedwait({signal.SIGINT}, 1.5)) is not None:\n"
    "    codes.append(info.si_code)\n"
    "print('codes=' + ','.join(map(str, codes)), flush=True)\n"
)


@pytest.mark.parametrize("stdin", ["terminal", "devnull"])
def test_ctrl_c_reaches_cmd_once(stdin: str) -> None:
    # Ctrl-C in a terminal signals the whole foreground process group, CMD included:
    # faultdns run must not send it again, also when its stdin is not the terminal
    # (`faultdns run -- cmd < file`, `producer | faultdns run -- cmd`).
    import pty
    import select

    argv = [*FAULTDNS, "--no-control", "--", sys.executable, "-c", COUNT_INT]
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child execs at once
        if stdin == "devnull":
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.execv(argv[0], argv)
    out = b""
    sent = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # EIO: the terminal's last user has gone
                    break
                if not data:
                    break
                out += data
            if not sent and b"ready" in out:
                os.write(fd, b"\x03")  # the terminal's Ctrl-C
                sent = True
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, out
    assert b"codes=128\r\n" in out, out  # the terminal's alone, not forwarded again


def test_cmd_can_give_its_own_children_another_resolv_conf() -> None:
    # A nested `faultdns run` (or a test suite that uses it, run under faultdns run):
    # the inner one mounts over the outer's /etc/resolv.conf, so the outer's must still
    # be a file the kernel lets one mount on.
    inner = [*FAULTDNS, "--no-control", *RESOLV, "--record", "y=10.0.0.2", "--", "getent"]
    outer = [*FAULTDNS, "--no-control", *RESOLV, "--record", "y=10.0.0.1", "--"]
    done = subprocess.run(
        [*outer, *inner, "hosts", "y"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["10.0.0.2", "y"]
    assert not list(Path(tempfile.gettempdir()).glob("faultdns-ns-*"))

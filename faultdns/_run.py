"""``faultdns run [serve options] -- CMD [ARGS...]``: one command behind faultdns.

Programs that resolve through the system (glibc's ``getaddrinfo``, Go's pure resolver,
musl, Java) read /etc/resolv.conf, which has no port and is shared by the machine.  This
command starts a server as ``faultdns serve`` would (zone, faults, ``--log-queries``,
control API) on a free loopback address at port 53, and runs CMD in a private mount
namespace whose /etc/resolv.conf names that address (:mod:`faultdns._sandbox`), so CMD
and only CMD asks faultdns.  CMD's output is its own (streamed, not captured), the exit
status is CMD's (``128 + N`` when a signal N killed it), and SIGTERM, SIGHUP, SIGQUIT,
SIGUSR1/2 and SIGINT sent to ``faultdns run`` are passed on to CMD.

Three ways to get there, chosen by :func:`choose_mode`:

``root``
    We are root: bind ``127.0.0.x:53`` (the first free ``x`` from 2, skipping 53, the
    address stub resolvers such as systemd-resolved use) and run CMD under ``unshare
    --mount``.
``user``
    Not root, but the kernel lets anyone bind port 53
    (``net.ipv4.ip_unprivileged_port_start`` <= 53): as ``root``, with CMD in a user
    namespace (``unshare --user --map-root-user --mount``).
``netns``
    Not root and port 53 is privileged: ``faultdns run`` re-runs itself inside a new user
    and network namespace, where it may bind port 53 on the namespace's own loopback.
    CMD then sees only that loopback (no other network), and runs as uid 0 of the
    namespace.  The control API is relayed: the outer process listens on ``--control``
    in the machine's network namespace and passes each connection through a Unix socket
    to the inner server, so ``faultdns fault add`` from another terminal works as usual.

Where none is allowed (no user namespaces, a seccomp profile refusing ``unshare``), the
command exits 69 (EX_UNAVAILABLE) saying why and what to do.

CMD also gets ``FAULTDNS_CONTROL`` set to the control URL (and ``FAULTDNS_TOKEN`` to
``--control-token``), so a script run under ``faultdns run`` can change its own faults
with the client commands.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import fcntl
import functools
import ipaddress
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from faultdns._glibc import RESOLV_OPTIONS, check_resolv_option
from faultdns._relay import Relay
from faultdns._sandbox import (
    SandboxStatus,
    namespace_prefix,
    probe_prefix,
    sandbox_status,
    sandboxed,
)

__all__ = [
    "POD_NDOTS",
    "POD_SEARCH",
    "RESOLV_OPTIONS",
    "ResolvConf",
    "add_run_parser",
    "choose_mode",
    "exit_status",
]

#: A Harvester pod's resolv.conf (ClusterFirst DNS policy in namespace
#: harvester-system; see /work/shared/reference/harvester-image-cleanup.md).
POD_SEARCH = ("harvester-system.svc.cluster.local", "svc.cluster.local", "cluster.local")
POD_NDOTS = 5

_FORWARDED = (
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGINT,
)
_LABEL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
_MAX_NDOTS = 15  # glibc RES_MAXNDOTS; Go caps ndots at 15 too (dnsconfig_unix.go)


@dataclass(frozen=True)
class ResolvConf:
    """The resolv.conf CMD sees: one nameserver (an IP), a search list, ndots, options
    (``"attempts:2"``, ``"single-request"``...) in resolv.conf(5) syntax."""

    nameserver: str
    search: tuple[str, ...] = POD_SEARCH
    ndots: int = POD_NDOTS
    options: tuple[str, ...] = ()

    def render(self) -> str:
        lines = [f"nameserver {self.nameserver}"]
        if self.search:
            lines.append("search " + " ".join(self.search))
        lines.append("options " + " ".join((f"ndots:{self.ndots}", *self.options)))
        return "\n".join(lines) + "\n"


def _search_domain(text: str) -> str:
    name = text.strip().rstrip(".")
    if not name or any(not _LABEL.match(label) for label in name.split(".")) or len(name) > 253:
        raise argparse.ArgumentTypeError(f"--search {text!r}: expected a domain name")
    return name


def _ndots(text: str) -> int:
    from faultdns._cli import bounded_int

    return bounded_int(text, "--ndots", 0, _MAX_NDOTS, f"0-{_MAX_NDOTS}")


def _resolv_option(text: str) -> str:
    if text.strip().partition(":")[0] == "ndots":
        raise argparse.ArgumentTypeError(f"--resolv-option {text!r}: use --ndots N")
    try:
        return check_resolv_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--resolv-option {exc}") from None


def add_run_parser(commands: Any, serve: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``run`` to the CLI: every ``serve`` option (copied from ``serve``), plus the
    resolv.conf flags and ``-- CMD [ARGS...]``."""
    run: argparse.ArgumentParser = commands.add_parser(
        "run",
        # A copy: parents share Action objects, and run changes some defaults and help.
        parents=[copy.deepcopy(serve)],
        add_help=False,
        help="run CMD with its system resolver pointed at faultdns (private namespace)",
        usage="faultdns run [serve options] [--search D] [--ndots N] [--resolv-option O]"
        " -- CMD [ARGS...]",
        description="Start faultdns on a free loopback address at port 53 and run CMD in a"
        " private mount namespace whose /etc/resolv.conf names it (nsswitch 'hosts: files"
        " dns'), so glibc, Go, musl and Java ask faultdns and nothing else on the machine"
        " changes. Exits with CMD's status. Status lines go to stderr; CMD gets"
        " FAULTDNS_CONTROL.",
        epilog="exit status: CMD's (128+N if signal N killed it); 64 bad flag, spec, zone"
        " or plan; 69 no namespace allowed here (the message says why and what to do);"
        " 71 no free 127.0.0.x:53 or control address",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    group = run.add_argument_group("CMD's resolv.conf (defaults: a Harvester pod's)")
    group.add_argument(
        "--search",
        action="append",
        type=_search_domain,
        default=None,
        metavar="DOMAIN",
        help="a search domain (repeatable, in order; default: " + " ".join(POD_SEARCH) + ")",
    )
    group.add_argument("--no-search", action="store_true", help="no search line at all")
    group.add_argument(
        "--ndots", type=_ndots, default=POD_NDOTS, help="options ndots:N (default %(default)s)"
    )
    group.add_argument(
        "--resolv-option",
        action="append",
        type=_resolv_option,
        default=[],
        metavar="OPTION",
        help="another resolv.conf option, e.g. attempts:1 timeout:2 single-request (repeatable)",
    )
    run.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")
    for action in run._actions:  # serve's wording does not fit run's address
        if action.dest == "host":
            action.help = "loopback IP to serve on at port 53 (default: the first free 127.0.0.x)"
        elif action.dest == "port":
            action.help = "only 53: resolv.conf has no port"
    run.set_defaults(run=_cmd_run, host=None, port=None)
    return run


# -- pure decisions --------------------------------------------------------------------


def choose_mode(euid: int, unprivileged_port_start: int) -> str:
    """``"root"``, ``"user"`` or ``"netns"`` (see the module docstring)."""
    if euid == 0:
        return "root"
    return "user" if unprivileged_port_start <= 53 else "netns"


def exit_status(returncode: int) -> int:
    """A shell's exit status for a child's ``Popen.returncode`` (``-N``: ``128 + N``)."""
    return 128 - returncode if returncode < 0 else returncode


def _candidate_hosts() -> Iterator[str]:
    for last in range(2, 255):
        if last != 53:
            yield f"127.0.0.{last}"


_WHAT_TO_DO = (
    "run as root (sudo faultdns run ...), or allow unprivileged user namespaces"
    " (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0; in Docker"
    " --security-opt seccomp=unconfined or a profile allowing unshare/mount); or, for a"
    " program that takes a server and port, use `faultdns serve` instead"
)


def _unprivileged_port_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    except (OSError, ValueError):
        return 1024


# -- the command -----------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    from faultdns._cli import EX_UNAVAILABLE, EX_USAGE, CLIError, _build_server

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CLIError("run: no command given (faultdns run [options] -- CMD [ARGS...])", EX_USAGE)
    if args.port is not None and args.port != 53:
        raise CLIError(
            f"--port {args.port}: run serves on port 53 (resolv.conf has no port)", EX_USAGE
        )
    if args.host is not None:
        try:
            ipaddress.ip_address(args.host)
        except ValueError:
            raise CLIError(
                f"--host {args.host!r}: run needs an IP address (it goes in resolv.conf)",
                EX_USAGE,
            ) from None
    if args.no_search and args.search:
        raise CLIError("--search and --no-search: choose one", EX_USAGE)
    search: tuple[str, ...] = () if args.no_search else tuple(args.search or POD_SEARCH)

    # Input errors (zone, faults, plan) first: exit 64 whatever the namespaces allow.
    wanted = args.host
    args.host, args.port = wanted or "127.0.0.2", 53
    server = _build_server(args)
    args.host = wanted
    mode = choose_mode(os.geteuid(), _unprivileged_port_start())
    if mode == "netns":
        return _outer(args, command, search, server)
    status = sandbox_status()
    if not status.available or (mode == "user" and not status.user_namespace):
        raise CLIError(
            f"run: cannot give CMD its own /etc/resolv.conf: {status.reason}\n  ({_WHAT_TO_DO})",
            EX_UNAVAILABLE,
        )
    return _serve_and_run(args, command, search, status, server)


def _serve_and_run(
    args: argparse.Namespace,
    command: list[str],
    search: tuple[str, ...],
    status: SandboxStatus,
    server: Any,
    control_relay: str | None = None,
) -> int:
    """Serve, run CMD in ``status``'s namespace, stop; CMD's exit status.  In ``netns``
    mode the control API listens on a free loopback port, reached through a Unix socket
    at ``control_relay``.  ``server`` is built, not started."""
    from faultdns._cli import (
        EX_OSERR,
        CLIError,
        _fmt_host,
        open_query_log,
        start_control,
        stop_serving,
    )
    from faultdns._control import ControlServer
    from faultdns._querylog import QueryLogWriter

    wanted = args.host
    log_stream = open_query_log(args)
    control: ControlServer | None = None
    writer: QueryLogWriter | None = None
    relay: Relay | None = None
    try:
        errors = []
        for host in [wanted] if wanted else _candidate_hosts():
            server.host = host
            try:
                server.start()
                break
            except OSError as exc:
                errors.append(f"{host}:53: {exc.strerror or exc}")
        else:
            raise CLIError(
                "run: cannot listen on udp+tcp port 53: " + "; ".join(errors[-2:]), EX_OSERR
            )
        if log_stream is not None:
            writer = QueryLogWriter(server, log_stream, args.log_size)
            writer.start()
        if not args.no_control:
            control = start_control(server, args)
            if control_relay is not None:
                relay = Relay.unix_to_tcp(control_relay, control.address)
        dns_host, _ = server.address
        listening = f"faultdns: listening on udp+tcp {_fmt_host(dns_host)}:53"
        print(listening, file=sys.stderr, flush=True)
        env = dict(os.environ)
        if control is not None:
            if control_relay is None:
                print(f"faultdns: control on {control.url}", file=sys.stderr, flush=True)
            env["FAULTDNS_CONTROL"] = control.url
            if args.control_token:  # else CMD's own client commands get 401 (exit 77)
                env["FAULTDNS_TOKEN"] = args.control_token
        for rule in server.faults:
            print(f"faultdns: fault {rule.id}: {rule.spec}", file=sys.stderr, flush=True)
        conf = ResolvConf(dns_host, search, args.ndots, tuple(args.resolv_option))
        with sandboxed(status.prefix, conf.render(), command, die_with_parent=True) as argv:
            return _run_forwarding(argv, env)
    finally:
        if relay is not None:
            relay.close()
        stop_serving(server, control, writer, log_stream)


def _outer(
    args: argparse.Namespace, command: list[str], search: tuple[str, ...], server: Any
) -> int:
    """``netns`` mode.  This process stays in the machine's namespaces, relays the
    control API and passes signals on; a forked child enters new user, network and mount
    namespaces (unshare(2): a forked child is single-threaded, as CLONE_NEWUSER needs),
    serves there and runs CMD.  The child does not exec: everything it needs is loaded
    and the server built (by the caller) first, so it never reads a file the namespace's
    root may not (an interpreter under a private home directory, say)."""
    from faultdns._cli import EX_UNAVAILABLE, CLIError, _fmt_host, control_start_error

    reason = probe_prefix(namespace_prefix(user=True, network=True))
    if reason:
        raise CLIError(
            "run: not root and port 53 is privileged here, so faultdns needs a user and"
            f" network namespace, which is not allowed: {reason}\n  ({_WHAT_TO_DO})",
            EX_UNAVAILABLE,
        )
    import ctypes.util  # noqa: F401 - loaded before the namespace hides the library path
    import traceback  # noqa: F401 - the child reports with it

    import faultdns._cli
    import faultdns._control
    import faultdns._server  # noqa: F401

    _libc()  # find_library runs ldconfig: do it here, not in the namespace
    print(
        "faultdns: not root and port 53 is privileged: faultdns and CMD run in a private"
        " network namespace; CMD sees only its loopback",
        file=sys.stderr,
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="faultdns-run-") as tmp:
        sock_path = str(Path(tmp) / "control.sock")
        relay: Relay | None = None
        if not args.no_control:
            host, port = args.control
            try:
                relay = Relay.tcp_to_unix((host, port), sock_path)
            except OSError as exc:
                raise control_start_error(host, port, exc) from None
            bound_host, bound_port = relay.address
            url = f"http://{_fmt_host(bound_host)}:{bound_port}"
            print(f"faultdns: control on {url}", file=sys.stderr, flush=True)
        uid, gid = os.getuid(), os.getgid()
        sys.stdout.flush()
        sys.stderr.flush()
        with _forwarding() as forwarder:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child, reporting through its status
                for sig in _FORWARDED:  # until CMD runs, a signal ends the child
                    signal.signal(sig, signal.SIG_DFL)
                _child(args, command, search, server, sock_path, uid, gid)
            try:
                return _wait_forwarding(pid, forwarder)
            finally:
                if relay is not None:
                    relay.close()


def _child(
    args: argparse.Namespace,
    command: list[str],
    search: tuple[str, ...],
    server: Any,
    sock_path: str,
    uid: int,
    gid: int,
) -> NoReturn:  # pragma: no cover - runs in the forked child
    """``netns`` mode's child: enter the namespaces, serve, run CMD, exit with its status."""
    import traceback

    from faultdns._cli import EX_UNAVAILABLE, CLIError

    code = 70  # EX_SOFTWARE
    try:
        _enter_namespaces(uid, gid)
        _die_with_parent()
        _loopback_up()
        inner = SandboxStatus(namespace_prefix(user=False), "")
        args.control = ("127.0.0.1", 0)
        code = _serve_and_run(args, command, search, inner, server, sock_path)
    except CLIError as exc:
        print(f"faultdns: {exc}", file=sys.stderr, flush=True)
        code = exc.code
    except OSError as exc:
        print(f"faultdns: run: in the network namespace: {exc}", file=sys.stderr)
        code = EX_UNAVAILABLE
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000


@functools.cache
def _libc() -> Any:
    import ctypes
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _enter_namespaces(uid: int, gid: int) -> None:
    """unshare(2) user, network and mount namespaces, mapping ``uid``/``gid`` to root
    (user_namespaces(7): setgroups must be denied before an unprivileged gid_map)."""
    import ctypes

    libc = _libc()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET | _CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWUSER|CLONE_NEWNET): {os.strerror(err)}")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"0 {uid} 1")
    Path("/proc/self/gid_map").write_text(f"0 {gid} 1")


def _wait_forwarding(pid: int, forwarder: _Forwarder) -> int:
    """Wait for child ``pid``, passing it the signals ``forwarder`` catches."""

    def send(signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    forwarder.attach(send)
    _, status = os.waitpid(pid, 0)
    return exit_status(os.waitstatus_to_exitcode(status))


def _run_forwarding(argv: list[str], env: dict[str, str]) -> int:
    """Run ``argv`` with our stdio, passing signals on; its exit status (see
    :func:`exit_status`).  If we are interrupted otherwise, CMD is killed.  The handlers
    are in place before CMD starts: a signal sent as soon as CMD shows life is CMD's."""
    with _forwarding() as forwarder:
        proc = subprocess.Popen(argv, env=env)
        try:
            forwarder.attach(proc.send_signal)
            return exit_status(proc.wait())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


class _Forwarder:
    """Catches :data:`_FORWARDED` signals for a child that may not exist yet: they are
    held until :meth:`attach` names where they go."""

    def __init__(self) -> None:
        self._send: Callable[[int], None] | None = None
        self._held: list[int] = []
        self._interrupts = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT:
            self._interrupts += 1
            # Ctrl-C in a terminal already reached CMD (it is in our foreground process
            # group): pass on only a SIGINT sent to us alone, or a second one.
            if self._interrupts == 1 and _terminal_foreground():
                return
        if self._send is None:
            self._held.append(signum)
        else:
            with contextlib.suppress(ProcessLookupError):
                self._send(signum)

    def attach(self, send: Callable[[int], None]) -> None:
        self._send = send
        held, self._held = self._held, []
        for signum in held:
            with contextlib.suppress(ProcessLookupError):
                send(signum)


@contextlib.contextmanager
def _forwarding() -> Iterator[_Forwarder]:
    """Catch :data:`_FORWARDED` signals in a :class:`_Forwarder` while inside."""
    forwarder = _Forwarder()
    previous = {sig: signal.signal(sig, forwarder.handle) for sig in _FORWARDED}
    try:
        yield forwarder
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _terminal_foreground() -> bool:
    """Whether we are in the foreground process group of our controlling terminal, so a
    Ctrl-C typed there reached CMD too.  Asked of /dev/tty (tty(4)), not of stdin:
    with ``faultdns run -- cmd < file`` or ``producer | faultdns run -- cmd`` stdin is
    no terminal, yet the terminal's Ctrl-C still reaches the whole group."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:  # no controlling terminal
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """SIGKILL this process when the outer ``faultdns run`` dies (prctl(2))."""
    libc = _libc()
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(137)


_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def _loopback_up() -> None:
    """Bring ``lo`` up in a new network namespace (it starts down): netdevice(7)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, _SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))

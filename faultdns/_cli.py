"""The ``faultdns`` command: ``serve`` runs a server, every other command is a client.

``faultdns serve`` starts the DNS server and (unless ``--no-control``) its control API,
prints ``listening on udp+tcp HOST:PORT`` as the very first line (so scripts can start it
on port 0 and read the port back), then ``control on http://HOST:PORT``, and runs until
SIGINT or SIGTERM. ``fault``, ``reset``, ``queries``, ``stats`` and ``record`` talk to the
control API of a running server (``--control URL``, else ``$FAULTDNS_CONTROL``, else
:data:`~faultdns._control.DEFAULT_CONTROL_URL`).

Exit codes follow ``sysexits.h`` so scripts can tell "you asked wrong" from "it is not
there": see :data:`EXIT_CODES`.

One idea at ~690 lines: the ``faultdns`` command's parser and its subcommands, which
share flags, errors and exit codes; ``run`` is apart (:mod:`faultdns._run`), and so is
the ``--log-queries`` writer (:class:`faultdns._querylog.QueryLogWriter`).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, NoReturn

from faultdns._control import DEFAULT_CONTROL_PORT, DEFAULT_CONTROL_URL, ControlServer
from faultdns._control_client import (
    ControlClient,
    ControlError,
    ControlTimeout,
    ControlUnreachable,
)
from faultdns._faults import ACTION_HELP
from faultdns._querylog import QueryLogWriter

if TYPE_CHECKING:  # the server module loads lazily: client commands never need it
    from faultdns._server import FaultDNSServer

__all__ = ["EXIT_CODES", "main"]

EX_OK = 0
EX_API = 1  # the control API refused a request (unknown fault id, server error)
EX_USAGE = 64  # bad flag, spec, plan, zone or record
EX_UNAVAILABLE = 69  # nothing answers at the control URL
EX_OSERR = 71  # cannot bind the DNS or control port
EX_TEMPFAIL = 75  # the control API did not answer within --timeout, or was busy (503)
EX_NOPERM = 77  # control API wants a (different) token

EXIT_CODES = {
    EX_OK: "success (also after SIGINT/SIGTERM for serve)",
    EX_API: "the control API refused the request (e.g. unknown fault id)",
    EX_USAGE: "bad flag, fault spec, plan file, zone file or record",
    EX_UNAVAILABLE: "the control API is unreachable at the given URL",
    EX_OSERR: "serve could not bind its DNS or control address",
    EX_TEMPFAIL: "the control API did not answer within --timeout (timed out) or was busy (503)",
    EX_NOPERM: "the control API rejected the token (401)",
}

ENV_CONTROL = "FAULTDNS_CONTROL"
ENV_TOKEN = "FAULTDNS_TOKEN"


class CLIError(Exception):
    """A user-facing failure: message for stderr plus the exit code."""

    def __init__(self, message: str, code: int = EX_USAGE) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on usage errors; faultdns promises 64 (EX_USAGE)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EX_USAGE, f"{self.prog}: error: {message}\n")


# -- argument parsing ------------------------------------------------------------------


def _host_port(text: str, *, what: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """Parse ``HOST:PORT``, ``[V6]:PORT``, ``:PORT`` or ``PORT``."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    host = host.strip("[]") or default_host
    try:
        port = int(port_text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{what} {text!r}: expected HOST:PORT with a numeric port"
        ) from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{what} {text!r}: port must be 0-65535")
    return host, port


def _control_address(text: str) -> tuple[str, int]:
    return _host_port(text, what="--control")


def bounded_int(text: str, flag: str, low: int, high: int, expected: str) -> int:
    """``text`` as a whole number in ``low..high``; else an argparse error naming
    ``flag`` and what it takes (``expected``).  ``serve``'s and ``run``'s flags share it."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{flag} {text!r}: expected {expected}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{flag} {text!r}: expected {expected}")
    return value


def _port(text: str) -> int:
    return bounded_int(text, "--port", 0, 65535, "a number 0-65535")


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 0")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number > 0") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number > 0")
    return value


def _actions_epilog() -> str:
    """The fault actions, what each sends and what a Go client reports, for --help."""
    width = max(len(action) for action, _, _ in ACTION_HELP)
    lines = ["fault actions (what faultdns sends -> what a Go 1.23 client reports):"]
    for action, sends, go_sees in ACTION_HELP:
        lines.append(f"  {action:<{width}}  {sends}")
        lines.append(f"  {'':<{width}}    -> {go_sees}")
    lines.append(
        "reply key: qdcount=N (0..65535: the header of the reply the action builds counts "
        "N questions, its bytes unchanged; not with drop, delay=, frame=)"
    )
    lines.append(
        "match keys: match=GLOB qtype=TYPE proto=udp|tcp; "
        "activation keys: after= for= first= every= p= count="
    )
    lines.append(
        "truncate, truncate=N and tcponly apply to UDP only; truncate[=N] proto=tcp "
        "sends its TC reply over TCP instead; frame= applies to TCP only (pair it with "
        "tcponly to send a UDP client there)"
    )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="faultdns",
        description="A DNS server that answers from a zone and fails on command.",
        epilog=_actions_epilog()
        + "\n\nexit codes:\n"
        + "\n".join(f"  {code:>2}  {meaning}" for code, meaning in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    serve = commands.add_parser(
        "serve",
        help="run a DNS server (and its control API)",
        description="Run a fault-injecting DNS server. The first line printed is "
        "'listening on udp+tcp HOST:PORT'.",
        epilog=_actions_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    serve.add_argument(
        "--port", type=_port, default=53, help="UDP+TCP port; 0 picks a free one (default 53)"
    )
    serve.add_argument(
        "--origin",
        action="append",
        default=[],
        metavar="ZONE",
        help="a zone to be authoritative for (repeatable); none: every name",
    )
    serve.add_argument(
        "--record",
        action="append",
        default=[],
        metavar="SPEC",
        help="'NAME=ADDR' or 'NAME TYPE VALUE [TTL]' (repeatable)",
    )
    serve.add_argument("--zone", metavar="FILE", type=Path, help="TOML zone file")
    serve.add_argument(
        "--ttl", type=_non_negative_int, default=None, help="default record TTL (default 0)"
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="a fault rule, e.g. 'nxdomain match=a.test for=30s' (repeatable, in order)",
    )
    serve.add_argument("--plan", metavar="FILE", type=Path, help="TOML plan of [[fault]] tables")
    serve.add_argument("--seed", type=int, default=None, help="seed for p= faults (replayable)")
    serve.add_argument(
        "--log-queries",
        metavar="-|FILE",
        help="write one JSON line per query to stdout (-) or append to FILE",
    )
    serve.add_argument(
        "--log-size",
        type=_positive_int,
        default=10000,
        help="queries kept in memory for the API/log (default %(default)s)",
    )
    tcp = serve.add_argument_group("TCP limits (RFC 7766 section 6; see the README)")
    tcp.add_argument(
        "--max-tcp-connections",
        type=_positive_int,
        default=256,
        metavar="N",
        help="open TCP connections; at the cap the least recently useful one is reset"
        " (default %(default)s)",
    )
    tcp.add_argument(
        "--tcp-idle-timeout",
        type=_positive_float,
        default=10.0,
        metavar="SECONDS",
        help="close a connection with no complete message for this long (default %(default)s)",
    )
    tcp.add_argument(
        "--tcp-write-timeout",
        type=_positive_float,
        default=5.0,
        metavar="SECONDS",
        help="reset a connection whose replies stay unread this long (default %(default)s)",
    )
    tcp.add_argument(
        "--tcp-busy-timeout",
        type=_positive_float,
        default=1.0,
        metavar="SECONDS",
        help="both timeouts from 3/4 of the cap in use (default %(default)s)",
    )
    serve.add_argument(
        "--control",
        type=_control_address,
        default=("127.0.0.1", DEFAULT_CONTROL_PORT),
        metavar="HOST:PORT",
        help=f"control API address (default 127.0.0.1:{DEFAULT_CONTROL_PORT}; port 0: free)",
    )
    serve.add_argument("--no-control", action="store_true", help="do not start the control API")
    serve.add_argument(
        "--control-token",
        default=os.environ.get(ENV_TOKEN) or None,
        metavar="TOKEN",
        help=f"require 'Authorization: Bearer TOKEN' on the control API (env {ENV_TOKEN})",
    )
    serve.add_argument(
        "--control-allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name the control API accepts besides its address and localhost"
        " (repeatable; e.g. a container's service name)",
    )
    serve.set_defaults(run=_cmd_serve)

    from faultdns._run import add_run_parser  # it reuses serve's options and helpers

    add_run_parser(commands, serve)

    client = _Parser(add_help=False)
    client.add_argument(
        "--control",
        default=os.environ.get(ENV_CONTROL) or DEFAULT_CONTROL_URL,
        metavar="URL",
        help=f"control API URL (env {ENV_CONTROL}; default {DEFAULT_CONTROL_URL})",
    )
    client.add_argument(
        "--token",
        default=os.environ.get(ENV_TOKEN) or None,
        help=f"bearer token for the control API (env {ENV_TOKEN})",
    )
    client.add_argument(
        "--timeout", type=_positive_float, default=5.0, help="HTTP timeout in seconds"
    )

    fault = commands.add_parser("fault", help="add, list or remove fault rules at runtime")
    fault_cmds = fault.add_subparsers(dest="fault_command", metavar="ACTION", parser_class=_Parser)
    fault_cmds.required = True
    add = fault_cmds.add_parser(
        "add",
        parents=[client],
        help="add a rule; prints its id",
        description="Add a fault rule, e.g. 'rcode=BADVERS match=a.test first=2'.",
        epilog=_actions_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("spec", nargs="+", help="the spec; several words are joined with spaces")
    add.set_defaults(run=_cmd_fault_add)
    ls = fault_cmds.add_parser("ls", parents=[client], help="list the rules in evaluation order")
    ls.add_argument("--json", action="store_true", help="print the JSON objects")
    ls.set_defaults(run=_cmd_fault_ls)
    rm = fault_cmds.add_parser("rm", parents=[client], help="remove rules by id")
    rm.add_argument("ids", nargs="+", metavar="ID")
    rm.set_defaults(run=_cmd_fault_rm)

    reset = commands.add_parser(
        "reset", parents=[client], help="clear faults, restart the fault clock, empty the log"
    )
    reset.set_defaults(run=_cmd_reset)

    queries = commands.add_parser("queries", parents=[client], help="show the query log")
    queries.add_argument(
        "--since", type=_non_negative_int, default=0, metavar="SEQ", help="only seq > SEQ"
    )
    queries.add_argument("--follow", "-f", action="store_true", help="keep printing new queries")
    queries.add_argument(
        "--interval", type=_positive_float, default=0.5, help="--follow poll interval (s)"
    )
    queries.add_argument("--json", action="store_true", help="one JSON object per line")
    queries.set_defaults(run=_cmd_queries)

    stats = commands.add_parser("stats", parents=[client], help="print the server's counters")
    stats.set_defaults(run=_cmd_stats)

    record = commands.add_parser("record", help="add or list zone records at runtime")
    record_cmds = record.add_subparsers(
        dest="record_command", metavar="ACTION", parser_class=_Parser
    )
    record_cmds.required = True
    radd = record_cmds.add_parser("add", parents=[client], help="add a record")
    radd.add_argument("spec", nargs="+", help="'NAME=ADDR' or 'NAME TYPE VALUE [TTL]'")
    radd.set_defaults(run=_cmd_record_add)
    rls = record_cmds.add_parser("ls", parents=[client], help="list the zone's records")
    rls.add_argument("--json", action="store_true", help="print the JSON objects")
    rls.set_defaults(run=_cmd_record_ls)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except CLIError as exc:
        print(f"faultdns: {exc}", file=sys.stderr)
        return exc.code
    except ControlTimeout as exc:
        print(
            f"faultdns: timed out: {exc}\n  (the server may be running but busy;"
            " try again or raise --timeout)",
            file=sys.stderr,
        )
        return EX_TEMPFAIL
    except ControlUnreachable as exc:
        print(
            f"faultdns: {exc}\n  (is `faultdns serve` running? pass --control URL or set"
            f" {ENV_CONTROL})",
            file=sys.stderr,
        )
        return EX_UNAVAILABLE
    except ControlError as exc:
        if exc.status == 503:  # every connection slot in use: running, but busy
            print(
                f"faultdns: the control API is busy ({exc.message})\n  (it is running; try again)",
                file=sys.stderr,
            )
            return EX_TEMPFAIL
        print(f"faultdns: control API said {exc.status}: {exc.message}", file=sys.stderr)
        if exc.status == 400:
            return EX_USAGE
        if exc.status == 401:
            return EX_NOPERM
        return EX_API
    except BrokenPipeError:
        # `faultdns queries | head` closed the pipe: not an error.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return EX_OK


# -- serve -----------------------------------------------------------------------------


def _build_server(args: argparse.Namespace) -> Any:
    """Turn flags into a (not yet started) server; every input error names its source."""
    from faultdns._clock import MonotonicClock
    from faultdns._faults import FaultSpecError, parse_fault
    from faultdns._plan import load_plan
    from faultdns._server import FaultDNSServer
    from faultdns._zone import Zone, ZoneError

    faults: list[Any] = []
    if args.plan is not None:
        try:
            faults.extend(load_plan(args.plan))
        except OSError as exc:
            raise CLIError(f"--plan {args.plan}: cannot read: {exc.strerror or exc}") from None
        except (FaultSpecError, ValueError) as exc:
            raise CLIError(f"--plan: {exc}") from None
    for spec in args.fault:
        try:
            faults.append(parse_fault(spec))
        except (FaultSpecError, ValueError) as exc:
            raise CLIError(f"--fault: {exc}") from None

    try:
        zone = Zone(origins=args.origin)
    except (ZoneError, ValueError) as exc:
        raise CLIError(f"--origin: {exc}") from None
    if args.zone is not None:
        try:
            zone.load_toml(args.zone)
        except OSError as exc:
            raise CLIError(f"--zone {args.zone}: cannot read: {exc.strerror or exc}") from None
        except (ZoneError, ValueError) as exc:
            raise CLIError(f"--zone: {exc}") from None
    for spec in args.record:
        try:
            zone.add(spec)
        except (ZoneError, ValueError) as exc:
            raise CLIError(f"--record: {exc}") from None
    if args.ttl is not None:  # the flag wins over a zone file's ttl
        zone.ttl = args.ttl

    return FaultDNSServer(
        zone,
        faults=faults,
        host=args.host,
        port=args.port,
        seed=args.seed,
        log_size=args.log_size,
        max_tcp_connections=args.max_tcp_connections,
        tcp_idle_timeout=args.tcp_idle_timeout,
        tcp_write_timeout=args.tcp_write_timeout,
        tcp_busy_timeout=args.tcp_busy_timeout,
        clock=MonotonicClock(),  # a real server: fault windows on the monotonic clock
    )


def control_start_error(host: str, port: int, exc: OSError) -> CLIError:
    """The CLI error (exit 71) for a control API that cannot listen on ``host:port``,
    saying how to get one that can (``serve`` and ``run`` share it)."""
    return CLIError(
        f"cannot start the control API on {_fmt_host(host)}:{port}: {exc.strerror or exc}"
        " (use --control HOST:0 for a free port, or --no-control)",
        EX_OSERR,
    )


def open_query_log(args: argparse.Namespace) -> IO[str] | None:
    """The stream ``--log-queries`` names: stdout for ``-``, the file opened for
    appending, None when not given; CLIError naming the flag and the OS's reason when the
    file cannot be opened (``serve`` and ``run`` share it)."""
    if args.log_queries == "-":
        return sys.stdout
    if not args.log_queries:
        return None
    try:
        return open(args.log_queries, "a", encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"--log-queries {args.log_queries}: {exc.strerror or exc}") from None


def start_control(server: FaultDNSServer, args: argparse.Namespace) -> ControlServer:
    """Start the control API for ``server`` as ``--control``, ``--control-token`` and
    ``--control-allow-host`` say; CLIError (exit 71) when it cannot listen."""
    host, port = args.control
    try:
        return ControlServer(
            server, host, port, token=args.control_token, allowed_hosts=args.control_allow_host
        ).start()
    except OSError as exc:
        raise control_start_error(host, port, exc) from None


class _Stopped(BaseException):
    """SIGINT/SIGTERM while ``serve`` was still loading its zone and plan."""


def _cmd_serve(args: argparse.Namespace) -> int:
    stop = threading.Event()
    loading = True

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if loading:  # stop loading at once: exit 0, as documented for SIGINT/SIGTERM
            raise _Stopped

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            server = _build_server(args)
            loading = False
        except _Stopped:
            return EX_OK
        if stop.is_set():
            return EX_OK
        return _serve(args, server, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_serving(
    server: Any,
    control: ControlServer | None,
    writer: QueryLogWriter | None,
    log_stream: IO[str] | None,
) -> None:
    """Stop what ``serve`` and ``run`` started, in order: the control API first (no fault
    changes after the server stops), the server, then the query log (its last records
    flushed) and the log file (never stdout)."""
    if control is not None:
        control.stop()
    server.stop()
    if writer is not None:
        writer.stop()
    if log_stream is not None and log_stream is not sys.stdout:
        log_stream.close()


def _serve(args: argparse.Namespace, server: Any, stop: threading.Event) -> int:
    log_stream = open_query_log(args)

    control: ControlServer | None = None
    writer: QueryLogWriter | None = None
    try:
        try:
            server.start()
        except OSError as exc:
            raise CLIError(
                f"cannot listen on udp+tcp {_fmt_host(args.host)}:{args.port}:"
                f" {exc.strerror or exc}",
                EX_OSERR,
            ) from None
        if log_stream is not None:
            writer = QueryLogWriter(server, log_stream, args.log_size)
        if not args.no_control:
            control = start_control(server, args)
        host, port = server.address
        print(f"listening on udp+tcp {_fmt_host(host)}:{port}", flush=True)
        if control is not None:
            print(f"control on {control.url}", flush=True)
            if args.control_token is None and not _is_loopback(control.address[0]):
                print(
                    f"faultdns: warning: the control API on {control.url} has no token;"
                    " anyone who can reach it can change the faults (--control-token)",
                    file=sys.stderr,
                    flush=True,
                )
        for rule in server.faults:
            print(f"fault {rule.id}: {rule.spec}", file=sys.stderr, flush=True)
        if writer is not None:
            writer.start()
        while not stop.wait(0.5):
            pass
        return EX_OK
    finally:
        stop_serving(server, control, writer, log_stream)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _fmt_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# -- client commands -------------------------------------------------------------------


def _client(args: argparse.Namespace) -> ControlClient:
    return ControlClient(args.control, token=args.token, timeout=args.timeout)


def _line(item: dict[str, Any], as_json: bool, text: Callable[[dict[str, Any]], str]) -> str:
    """How a listing (``fault ls``, ``record ls``, ``queries``) prints one item: a
    compact JSON line under ``--json`` (for scripts), else ``text(item)``."""
    return json.dumps(item, separators=(",", ":")) if as_json else text(item)


def _cmd_fault_add(args: argparse.Namespace) -> int:
    with _client(args) as client:
        print(client.add_fault(" ".join(args.spec)))
    return EX_OK


def _cmd_fault_ls(args: argparse.Namespace) -> int:
    with _client(args) as client:
        faults = client.faults()
    for rule in faults:
        print(_line(rule, args.json, lambda r: f"{r.get('id', '?')}\t{r.get('spec', '')}"))
    return EX_OK


def _cmd_fault_rm(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for fault_id in args.ids:
            client.remove_fault(fault_id)
            print(f"removed {fault_id}")
    return EX_OK


def _cmd_reset(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.reset()
    print("reset")
    return EX_OK


def format_query(record: dict[str, Any]) -> str:
    """One human-readable line for a query-log record."""
    duration = record.get("duration")
    took = f"{duration * 1000:.2f}ms" if isinstance(duration, (int, float)) else "-"
    when = record.get("time")
    at = f"{when:.3f}" if isinstance(when, (int, float)) else "-"
    return (
        f"{record.get('seq', '?'):>6} {at:>10} {record.get('transport', '?'):<3} "
        f"{record.get('client', '?')} {record.get('name', '?')} {record.get('qtype', '?')} "
        f"-> {record.get('rcode', '?')} rule={record.get('rule') or '-'} "
        f"action={record.get('action') or '-'} {took}"
    )


def _cmd_queries(args: argparse.Namespace) -> int:
    since = args.since
    stop = threading.Event()
    previous = None
    if args.follow:

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = signal.signal(signal.SIGINT, on_signal)
    try:
        with _client(args) as client:
            while True:
                records = client.queries(since=since)
                for record in records:
                    print(_line(record, args.json, format_query))
                    since = max(since, int(record.get("seq", since)))
                sys.stdout.flush()
                if not args.follow or stop.wait(args.interval):
                    return EX_OK
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _cmd_stats(args: argparse.Namespace) -> int:
    with _client(args) as client:
        print(json.dumps(client.stats(), indent=2, sort_keys=True))
    return EX_OK


def _cmd_record_add(args: argparse.Namespace) -> int:
    spec = " ".join(args.spec)
    with _client(args) as client:
        client.add_record(spec)
    print(f"added {spec}")
    return EX_OK


def _cmd_record_ls(args: argparse.Namespace) -> int:
    with _client(args) as client:
        records = client.records()
    for rec in records:
        print(_line(rec, args.json, _record_text))
    return EX_OK


def _record_text(rec: dict[str, Any]) -> str:
    return f"{rec.get('name')}\t{rec.get('ttl')}\t{rec.get('type')}\t{rec.get('value')}"

"""``cleanup run``: the image cleanup from the command line.

Exit status: 0 success (also when there was nothing to delete), 1 gave up after the
schedule or deadline, 2 stopped on an error the policy does not retry (a 404, an invalid
list, DNS "no such host" under ``harvester-v1.4``, or an image store that cannot be read),
64 bad usage or configuration (the message names the flag, file or key; never a
traceback; also a ``memory:`` store file this user may not write, unless ``--dry-run``),
130 interrupted (Ctrl-C / SIGINT, at any moment, also while the modules import; a
removal in progress completes or leaves the store unchanged, and the store's lock is
released).

Limits: durations at most Go's largest ``time.Duration`` (2562047h47m16.854775807s, exact to
the nanosecond as Go's ``time.ParseDuration``), ``--steps``
at most :data:`~cleanup.MAX_STEPS`, ``--http-timeout`` at most 24 hours (default
:data:`~cleanup.HTTP_CLIENT_TIMEOUT`, the controller's 30 s), ``--ndots`` clamped to 15
as Go (and glibc) clamp ``options ndots``.  Numbers are ASCII: a whole number is one
optional sign and digits (``--steps=1_0`` is refused, not 10), a decimal Python's float
syntax without underscores (:func:`~cleanup._schedule.read_integer`, ``read_decimal``).

Logs go to stderr, one line per attempt, in the shape an operator would grep for::

    attempt 3/30 failed: dns not-found: lookup upgrade-repo-x...: no such host; retrying in 10.4s
    Unable to cleanup images: lookup upgrade-repo-x...: no such host

``--json`` prints the report to stdout.  Name resolution: ``--nameserver`` (repeatable)
uses our stub resolver with those servers; otherwise the stub resolver reads
``--resolv-conf`` (default ``/etc/resolv.conf``), and ``--nameserver``/``--search``/
``--ndots`` override what the file says.  The system resolver is never used by the CLI
because its waits cannot be observed or bounded the same way.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from cleanup._clock import Clock, SystemClock
from cleanup._containerd import DEFAULT_CONTAINERD_SOCKET
from cleanup._events import Abandoned, AttemptFailed, Succeeded
from cleanup._memory_store import MemoryStore
from cleanup._policy import PRESETS, Policy
from cleanup._policy_file import get_policy
from cleanup._repo import RepoClient
from cleanup._resolver import StubResolver
from cleanup._run import ImageRemovalFailed, ImageRemoved, run_cleanup
from cleanup._schedule import (
    INT_TEXT_DIGITS,
    MAX_STEPS,
    parse_duration,
    read_decimal,
    read_integer,
)
from cleanup._store import ImageStore, StoreSpecError
from cleanup._stores import open_store
from cleanup._transport import HTTP_CLIENT_TIMEOUT, make_http_client

__all__ = ["EXIT_INTERRUPTED", "EXIT_USAGE", "MAX_HTTP_TIMEOUT", "build_parser", "main"]

EXIT_USAGE = 64
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
DEFAULT_POLICY = "harvester-v1.5"
DEFAULT_RESOLV_CONF = "/etc/resolv.conf"
DEFAULT_STORE = f"containerd:{DEFAULT_CONTAINERD_SOCKET}"


class UsageError(Exception):
    """Bad command line or configuration: exit status 64 with this message."""


def _duration(text: str) -> float:
    try:
        return parse_duration(text, field_name="")
    except ValueError as exc:
        # parse_duration's message without its empty field name: what is wrong, and why
        raise argparse.ArgumentTypeError(str(exc).removeprefix(": ")) from None


def _positive_duration(text: str) -> float:
    seconds = _duration(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be longer than 0s")
    return seconds


#: ``--http-timeout`` at most: a list fetch that needs longer is not a cleanup, and the
#: socket layer cannot wait much past 24 days in one call.
MAX_HTTP_TIMEOUT = 86400.0


def _http_timeout(text: str) -> float:
    seconds = _positive_duration(text)
    if seconds > MAX_HTTP_TIMEOUT:
        raise argparse.ArgumentTypeError(f"{_shorten(text)} is longer than the limit of 24h")
    return seconds


def _shorten(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def _int_at_least(
    low: int | None, high: int | None = None, *, clamp: bool = False
) -> Callable[[str], int]:
    """A whole number (:func:`~cleanup._schedule.read_integer`: one optional sign, ASCII
    digits) >= ``low``; above ``high`` it is clamped or refused (None: no bound)."""

    def convert(text: str) -> int:
        try:
            value = read_integer(text)
        except OverflowError:
            # more digits than Python reads: beyond whichever bound its sign faces
            if text.strip().startswith("-"):
                if low is not None:
                    raise argparse.ArgumentTypeError(
                        f"{_shorten(text)} is less than {low}"
                    ) from None
            elif high is not None:
                if clamp:
                    return high
                raise argparse.ArgumentTypeError(f"{_shorten(text)} is more than {high}") from None
            raise argparse.ArgumentTypeError(
                f"{_shorten(text)} has more than {INT_TEXT_DIGITS} digits"
            ) from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_shorten(text)} is not a whole number") from None
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"{_shorten(text)} is less than {low}")
        if high is not None and value > high:
            if clamp:
                return high
            raise argparse.ArgumentTypeError(f"{_shorten(text)} is more than {high}")
        return value

    return convert


def _non_negative_float(text: str) -> float:
    try:
        value = read_decimal(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number >= 0")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors become :class:`UsageError` (exit 64, not argparse's 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cleanup",
        description="Delete the container images an upgrade left behind, with a "
        "DNS-aware retry policy.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser(
        "run",
        help="fetch the two image lists and delete the images the new version dropped",
        description="Fetch <repo>/harvester-iso/bundle/harvester/images-lists-archive/"
        "<version>/image_list_all.txt for the previous and the current version under the "
        "retry policy, then delete the images only the previous version needed.",
    )
    run.add_argument("--repo-url", required=True, metavar="URL", help="base URL of the repo")
    run.add_argument("--previous-version", required=True, metavar="V")
    run.add_argument("--current-version", default="current", metavar="V")
    dns = run.add_argument_group(
        "name resolution",
        f"stub resolver configured from --resolv-conf (default {DEFAULT_RESOLV_CONF}); "
        "the flags below override the file",
    )
    dns.add_argument("--nameserver", action="append", default=[], metavar="HOST:PORT")
    dns.add_argument("--search", action="append", default=[], metavar="DOMAIN")
    dns.add_argument(
        "--ndots",
        type=_int_at_least(0, 15, clamp=True),
        metavar="N",
        help="above 15 means 15 (Go's dnsReadConfig clamp)",
    )
    dns.add_argument("--resolv-conf", metavar="FILE")
    pol = run.add_argument_group(
        "retry policy", f"a preset or a policy TOML file (default {DEFAULT_POLICY})"
    )
    pol.add_argument(
        "--policy", default=DEFAULT_POLICY, metavar="NAME|FILE", help=", ".join(PRESETS)
    )
    pol.add_argument(
        "--steps",
        type=_int_at_least(1, MAX_STEPS),
        metavar="N",
        help=f"attempts at most (1 to {MAX_STEPS})",
    )
    pol.add_argument("--duration", type=_positive_duration, metavar="D", help="first delay")
    pol.add_argument("--factor", type=_non_negative_float, metavar="F")
    pol.add_argument("--jitter", type=_non_negative_float, metavar="J")
    pol.add_argument("--cap", type=_positive_duration, metavar="D")
    pol.add_argument("--deadline", type=_positive_duration, metavar="D")
    run.add_argument(
        "--http-timeout",
        type=_http_timeout,
        default=HTTP_CLIENT_TIMEOUT,
        metavar="D",
        help="bound on each list fetch, like Go's http.Client.Timeout "
        f"(default {HTTP_CLIENT_TIMEOUT:g}s, the controller's; at most 24h)",
    )
    run.add_argument(
        "--store",
        default=DEFAULT_STORE,
        metavar="memory:FILE | containerd[:SOCKET] | crictl[:ENDPOINT]",
        help=f"where the images are (default {DEFAULT_STORE})",
    )
    run.add_argument("--dry-run", action="store_true", help="plan and report, delete nothing")
    run.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    run.add_argument(
        "--seed", type=_int_at_least(None), metavar="N", help="seed the jitter (default: random)"
    )
    return parser


def _policy(args: argparse.Namespace) -> Policy:
    overrides = {
        key: getattr(args, key)
        for key in ("steps", "duration", "factor", "jitter", "cap", "deadline")
        if getattr(args, key) is not None
    }
    try:
        return get_policy(args.policy, **overrides)
    except (ValueError, KeyError, OSError) as exc:
        flags = ", ".join(["--policy"] + [f"--{k}" for k in overrides])
        raise UsageError(f"{flags}: {exc}") from exc


def _resolver(args: argparse.Namespace, clock: Clock) -> StubResolver:
    overrides: dict[str, object] = {}
    if args.nameserver:
        overrides["nameservers"] = list(args.nameserver)
    if args.search:
        overrides["search"] = list(args.search)
    if args.ndots is not None:
        overrides["ndots"] = args.ndots
    if args.nameserver and args.resolv_conf is None:
        try:
            return StubResolver(
                overrides.pop("nameservers"),  # type: ignore[arg-type]
                clock=clock,
                **overrides,  # type: ignore[arg-type]
            )
        except ValueError as exc:
            raise UsageError(f"--nameserver: {exc}") from exc
    path = args.resolv_conf or DEFAULT_RESOLV_CONF
    try:
        return StubResolver.from_resolv_conf(path, clock=clock, **overrides)  # type: ignore[arg-type]
    except OSError as exc:
        raise UsageError(f"--resolv-conf {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        flag = "--nameserver" if "nameserver" in str(exc) and args.nameserver else "--resolv-conf"
        raise UsageError(f"{flag}: {exc}") from exc


def _store(spec: str, *, dry_run: bool) -> ImageStore:
    """Open ``--store``; a run that deletes needs a ``memory:`` file it may write."""
    try:
        store = open_store(spec)
        if not dry_run and isinstance(store, MemoryStore):
            store.check_writable()
        return store
    except StoreSpecError as exc:
        message = str(exc)
        raise UsageError(
            message if message.startswith("--store") else f"--store: {message}"
        ) from exc


class _Log:
    """Turns run events into the one-line-per-attempt log on stderr."""

    def __init__(self, out: TextIO, policy: Policy) -> None:
        self.out = out
        self.policy = policy
        self.last: AttemptFailed | None = None  # a last attempt, completed by Abandoned

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def _failure(self, event: AttemptFailed, tail: str) -> None:
        self._say(f"attempt {event.attempt}/{event.of} failed: {event.kind}: {event.error}; {tail}")

    def __call__(self, event: object) -> None:
        if isinstance(event, AttemptFailed):
            if not event.retriable:
                self._failure(event, f"not retried by policy {self.policy.name}")
            elif event.retry_in is not None:
                self._failure(event, f"retrying in {event.retry_in:.1f}s")
            else:
                self.last = event
        elif isinstance(event, Abandoned) and self.last is not None:
            why = "deadline reached" if event.reason == "deadline" else "retry schedule exhausted"
            self._failure(self.last, f"giving up ({why})")
            self.last = None
        elif isinstance(event, Succeeded):
            self._say(f"attempt {event.attempt} succeeded: fetched both image lists")
        elif isinstance(event, ImageRemoved):
            self._say(f"deleted image {event.image}")
        elif isinstance(event, ImageRemovalFailed):
            self._say(f"could not delete image {event.image}: {event.reason}")


def main(
    argv: Sequence[str] | None = None,
    *,
    clock: Clock | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line; ``clock`` lets tests run it in virtual time.

    Returns the exit status (module docstring); Ctrl-C gives 130 and one line on stderr.
    """
    err = stderr if stderr is not None else sys.stderr
    try:
        return _main(argv, clock=clock, stdout=stdout, stderr=err)
    except KeyboardInterrupt:
        print("cleanup: interrupted", file=err)
        return EXIT_INTERRUPTED


def _main(
    argv: Sequence[str] | None,
    *,
    clock: Clock | None,
    stdout: TextIO | None,
    stderr: TextIO,
) -> int:
    out = stdout if stdout is not None else sys.stdout
    err = stderr
    clock = clock if clock is not None else SystemClock()
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        policy = _policy(args)
        resolver = _resolver(args, clock)
        store = _store(args.store, dry_run=args.dry_run)
        client = make_http_client(resolver, clock=clock, timeout=args.http_timeout)
        try:
            repo = RepoClient(args.repo_url, client, timeout=args.http_timeout)
        except ValueError as exc:
            client.close()
            raise UsageError(f"--repo-url: {exc}") from exc
        for flag, version in (
            ("--previous-version", args.previous_version),
            ("--current-version", args.current_version),
        ):
            try:
                repo.list_url(version)
            except ValueError as exc:
                client.close()
                raise UsageError(f"{flag}: {exc}") from exc
    except UsageError as exc:
        print(f"cleanup: {exc}", file=err)
        return EXIT_USAGE
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    log = _Log(err, policy)
    with client:
        report = run_cleanup(
            repo,
            previous_version=args.previous_version,
            current_version=args.current_version,
            policy=policy,
            store=store,
            clock=clock,
            rng=random.Random(seed),
            dry_run=args.dry_run,
            on_event=log,
        )
    if report.ok:
        verb = "would delete" if args.dry_run else "deleted"
        count = len(report.planned) if args.dry_run else len(report.deleted)
        print(
            f"cleanup done: {verb} {count} image(s), kept {len(report.kept)}, "
            f"{len(report.failed)} could not be deleted",
            file=err,
        )
    else:
        print(f"Unable to cleanup images: {report.error}", file=err)
    if args.json:
        doc = report.to_dict()
        doc["seed"] = seed
        json.dump(doc, out, indent=2)
        out.write("\n")
    return report.exit_code

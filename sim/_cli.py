"""``sim``: run the real cleanup in simulated worlds, or serve one world to real clients.

Commands::

    sim run --scenario single-node --seed 7 --policy harvester-v1.5 [--trace FILE]
    sim replay 7 [--scenario single-node] [--policy harvester-v1.5]
    sim demo [--seeds 300]
    sim serve --scenario single-node --seed 7 [--speed 10] [--port P] [--dns-port P]
    sim tune --scenario single-node --samples 20000 --grid 'steps=10,30 duration=1s,5s' [...]
    sim mutants [--only NAMES] [--jobs N] [-k EXPR] [--list]
    sim fidelity [--cases N] [--seed N] [--json FILE] [--no-shrink]

Exit status: 0 done (``run``/``replay``: the cleanup succeeded), 1 the cleanup did not
succeed, 64 bad usage, scenario or policy (the message names the flag or the key), 70
the harness itself failed (a peer did not answer); ``fidelity``: 0 full agreement with Go,
1 a disagreement, 69 Go or namespaces unavailable, 70 the Go probe failed on a case,
73 ``--json FILE`` not writable.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import cleanup
import faultdns
from sim._args import count as _count
from sim._args import port as _port
from sim._args import positive as _positive
from sim._args import seed as _seed
from sim._cli_tune import add_tune_parser, run_tune
from sim._clock import PeerError, ScaledClock, SimDeadlock
from sim._dist import ScenarioError
from sim._dns import dns_rules, make_dns_server, refusal_changes
from sim._fidelity._report import add_fidelity_parser, run_fidelity
from sim._harness import Harness, ScenarioResult
from sim._mutants import add_mutants_parser, run_mutants_command
from sim._repo_server import RepoServer, service_accepting
from sim._report import attempt_rows, story
from sim._scenario import Scenario, load_scenario
from sim._timeline import Timeline
from sim._world import generate_timeline

__all__ = ["EXIT_USAGE", "main"]

EXIT_USAGE = 64
EXIT_SOFTWARE = 70
DEMO_POLICIES = ("harvester-v1.4", "harvester-v1.5")


class UsageError(Exception):
    """Exit 64 with this message."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sim", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p: argparse.ArgumentParser, *, seed: bool) -> None:
        p.add_argument("--scenario", default="single-node", metavar="NAME|FILE")
        p.add_argument("--policy", default="harvester-v1.5", metavar="NAME|FILE")
        if seed:
            p.add_argument("--seed", type=_seed, default=0, metavar="N")
        p.add_argument("--trace", type=Path, metavar="FILE", help="write the trace (JSON lines)")
        p.add_argument("--json", action="store_true", help="print the result as JSON")

    run = sub.add_parser("run", help="one world, the real cleanup, a table of what happened")
    common(run, seed=True)
    run.add_argument(
        "--timeline",
        type=Path,
        metavar="FILE",
        help="run this timeline (JSON: a Timeline, or the output of --json) instead of "
        "drawing the scenario's; --scenario still gives the images and client settings",
    )
    replay = sub.add_parser(
        "replay", help="re-run one seed (twice) and show its trace is identical"
    )
    replay.add_argument("seed", type=_seed, metavar="SEED")
    common(replay, seed=False)
    replay.add_argument(
        "--against",
        type=Path,
        metavar="FILE",
        help="also compare with a trace saved earlier (sim run --trace FILE)",
    )

    demo = sub.add_parser(
        "demo", help="harvester-v1.4 against harvester-v1.5 over a few hundred worlds"
    )
    demo.add_argument("--scenario", default="single-node", metavar="NAME|FILE")
    demo.add_argument("--seeds", type=_count, default=300, metavar="N")
    demo.add_argument("--first-seed", type=_seed, default=0, metavar="N")

    serve = sub.add_parser("serve", help="faultdns and the repo following one world, in real time")
    serve.add_argument("--scenario", default="single-node", metavar="NAME|FILE")
    serve.add_argument("--seed", type=_seed, default=0, metavar="N")
    serve.add_argument("--speed", type=_positive, default=1.0, metavar="X",
                       help="virtual seconds per real second (default 1)")  # fmt: skip
    serve.add_argument("--port", type=_port, default=0, metavar="P", help="repo HTTP port")
    serve.add_argument("--dns-port", type=_port, default=0, metavar="P", help="DNS port (UDP+TCP)")
    serve.add_argument("--from-reboot", action="store_true",
                       help="start at the node reboot instead of the cleanup start")  # fmt: skip
    serve.add_argument("--duration", type=_positive, metavar="S",
                       help="stop after S real seconds (default: Ctrl-C)")  # fmt: skip
    add_tune_parser(sub)
    add_mutants_parser(sub)
    add_fidelity_parser(sub)
    return parser


def _console() -> Console:
    """Rich output; 120 columns when piped, unless ``COLUMNS`` says otherwise."""
    tty = sys.stdout.isatty() or "COLUMNS" in os.environ
    return Console(highlight=False, width=None if tty else 120)


def _scenario(name: str) -> Scenario:
    try:
        return load_scenario(name)
    except ScenarioError as exc:
        raise UsageError(f"--scenario: {exc}") from exc


def _policy(name: str) -> cleanup.Policy:
    try:
        return cleanup.get_policy(name)
    except (ValueError, OSError) as exc:
        raise UsageError(f"--policy: {exc}") from exc


# -- run / replay ---------------------------------------------------------------------


def _timeline_table(timeline: Timeline) -> Table:
    table = Table(title=f"world: {timeline.scenario}, seed {timeline.seed}", title_justify="left")
    table.add_column("t (s)", justify="right")
    table.add_column("event")
    for event in timeline.events:
        table.add_row(f"{event.time:.1f}", event.what)
    for line in timeline.render()[len(timeline.events) :]:
        table.add_row("", f"[dim]{line}[/dim]")
    return table


def _attempt_table(result: ScenarioResult) -> Table:
    table = Table(title=f"cleanup under {result.policy.name}", title_justify="left")
    for name, justify in (("#", "right"), ("t (s)", "right"), ("dns", "right"),
                          ("http", "right"), ("result", "left"), ("retry", "left"),
                          ("error", "left")):  # fmt: skip
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in attempt_rows(result):
        if row.ok:
            retry = ""
        elif row.sleep is not None:
            retry = f"in {row.sleep:.1f}s"
        else:
            retry = "no" if not row.retriable else "spent"
        style = "green" if row.ok else ("yellow" if row.retriable else "red")
        table.add_row(
            str(row.attempt),
            f"{row.at:.1f}",
            str(row.dns_queries),
            str(row.http_requests),
            f"[{style}]{row.kind}[/{style}]",
            retry,
            row.error,
        )
    return table


def _outcome_text(result: ScenarioResult) -> str:
    report = result.report
    style = "green" if result.ok else "red"
    lines = [
        f"[bold {style}]{result.outcome}[/bold {style}] after {result.attempts} attempt(s), "
        f"{result.elapsed:.1f}s of virtual time (done at t={result.completion_time:.1f}s); "
        f"{result.dns_queries} DNS queries, {result.http_requests} HTTP requests",
    ]
    if report.error:
        lines.append(f"Unable to cleanup images: {report.error}")
    if result.ok:
        lines.append(f"deleted {len(report.deleted)}: {', '.join(report.deleted) or '-'}")
        kept = ", ".join(f"{k.image} ({k.reason})" for k in report.kept)
        lines.append(f"kept {len(report.kept)}: {kept or '-'}")
    lines.append(f"trace sha256 {result.trace_digest()}")
    return "\n".join(lines)


def _result_json(result: ScenarioResult) -> str:
    return json.dumps(
        {
            "scenario": result.timeline.scenario,
            "seed": result.seed,
            "policy": result.policy.name,
            "outcome": result.outcome,
            "attempts": result.attempts,
            "completion_time": result.completion_time,
            "elapsed": result.elapsed,
            "dns_queries": result.dns_queries,
            "http_requests": result.http_requests,
            "trace_sha256": result.trace_digest(),
            "timeline": result.timeline.to_dict(),
            "report": result.report.to_dict(),
        },
        indent=2,
    )


def _write_trace(path: Path | None, result: ScenarioResult) -> None:
    if path is None:
        return
    try:
        path.write_text(result.trace_lines(), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--trace {path}: {exc.strerror or exc}") from exc


def _load_timeline(path: Path) -> Timeline:
    """A timeline from JSON: ``Timeline.to_dict()``, or ``sim run --json`` output."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--timeline {path}: {exc.strerror or exc}") from exc
    try:
        text = cleanup.utf8_text(raw, "JSON")
    except ValueError as exc:  # a BOM or not UTF-8, named as such
        raise UsageError(f"--timeline {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or an integer past Python's digit limit
        raise UsageError(f"--timeline {path}: not JSON: {exc}") from exc
    except RecursionError:
        raise UsageError(f"--timeline {path}: not JSON: nested too deeply") from None
    if isinstance(data, dict) and isinstance(data.get("timeline"), dict):
        data = data["timeline"]
    try:
        timeline = Timeline.from_dict(data)
        _ = timeline.repo_service  # refused here, with the file named, not mid-run
    except ValueError as exc:  # from_dict names the key and row of any wrong shape
        raise UsageError(f"--timeline {path}: {exc}") from exc
    return timeline


def _cmd_run(args: argparse.Namespace, seed: int, console: Console, *, replay: bool) -> int:
    scenario = _scenario(args.scenario)
    policy = _policy(args.policy)
    given = getattr(args, "timeline", None)
    timeline = _load_timeline(given) if given is not None else generate_timeline(scenario, seed)
    with Harness(scenario) as harness:
        try:
            result = harness.run_timeline(timeline, policy, seed=seed, scenario=scenario)
        except ValueError as exc:  # a timeline whose paths do not fit the cleanup
            raise UsageError(f"--timeline: {exc}") from exc
        again = (
            harness.run_timeline(timeline, policy, seed=seed, scenario=scenario) if replay else None
        )
    _write_trace(args.trace, result)
    if args.json:
        print(_result_json(result))
    else:
        console.print(_timeline_table(result.timeline))
        console.print(_attempt_table(result))
        console.print(_outcome_text(result))
        if again is not None:
            same = again.trace_lines() == result.trace_lines()
            verdict = "identical" if same else "[red]DIFFERENT[/red]"
            console.print(f"replayed: trace {verdict} ({len(result.trace)} entries)")
    if again is None:
        return 0 if result.ok else 1
    if again.trace_lines() != result.trace_lines():
        return EXIT_SOFTWARE
    against = getattr(args, "against", None)
    if against is not None:
        return _compare_saved(against, result.trace_lines(), console)
    return 0


def _compare_saved(path: Path, lines: str, console: Console) -> int:
    """0 if the saved trace is this one, byte for byte; else 1, showing where it departs."""
    try:
        saved = cleanup.utf8_text(path.read_bytes(), "JSON")  # a trace: JSON lines
    except OSError as exc:
        raise UsageError(f"--against {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # a BOM or not UTF-8, named as such
        raise UsageError(f"--against {path}: {exc}") from exc
    if saved == lines:
        console.print(f"matches {path} byte for byte")
        return 0
    old, new = saved.splitlines(), lines.splitlines()
    index = next(
        (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
        min(len(old), len(new)),
    )
    console.print(f"[red]differs from {path}[/red] at line {index + 1}:", markup=True)
    console.print(f"  saved:  {old[index] if index < len(old) else '(end)'}", markup=False)
    console.print(f"  now:    {new[index] if index < len(new) else '(end)'}", markup=False)
    return 1


# -- demo -----------------------------------------------------------------------------


def _story_table(a: ScenarioResult, b: ScenarioResult) -> Table:
    table = Table(
        title=f"seed {a.seed}: the same world under {a.policy.name} and {b.policy.name}",
        title_justify="left",
    )
    table.add_column("t (s)", justify="right")
    table.add_column("world")
    table.add_column(a.policy.name, overflow="fold")
    table.add_column(b.policy.name, overflow="fold")
    # one row per (time, text): where both policies did the same thing, one row shows it
    rows: dict[tuple[float, str], list[str]] = {}
    for column, result in ((1, a), (2, b)):
        for t, who, text in story(result):
            row = rows.setdefault((t, f"{who}:{text}"), ["", "", ""])
            row[0 if who == "world" else column] = text
    for (t, _key), (world, left, right) in sorted(rows.items(), key=lambda kv: kv[0][0]):
        table.add_row(f"{t:.1f}", world, _color(left), _color(right))
    return table


def _color(text: str) -> str:
    if text.startswith("SUCCESS"):
        return f"[bold green]{text}[/bold green]"
    if text.isupper() or text.split(":")[0].isupper() or "NOT retriable" in text:
        return f"[bold red]{text}[/bold red]"
    return text


def _cmd_demo(args: argparse.Namespace, console: Console) -> int:
    scenario = _scenario(args.scenario)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    results: dict[str, dict[int, ScenarioResult]] = {p: {} for p in DEMO_POLICIES}
    policies = {name: _policy(name) for name in DEMO_POLICIES}
    started = time.perf_counter()
    console.print(
        f"Running the real cleanup module in {args.seeds} simulated '{scenario.name}' "
        f"worlds under {' and '.join(DEMO_POLICIES)} (virtual time, real sockets)."
    )
    with (
        Harness(scenario) as harness,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=not console.is_terminal,
        ) as progress,
    ):
        task = progress.add_task("worlds", total=len(seeds) * len(DEMO_POLICIES))
        for seed in seeds:
            timeline = generate_timeline(scenario, seed)
            for name, policy in policies.items():
                results[name][seed] = harness.run_timeline(
                    timeline, policy, seed=seed, scenario=scenario
                )
                progress.advance(task)
    wall = time.perf_counter() - started
    runs = len(seeds) * len(DEMO_POLICIES)

    table = Table(title="success rates (same worlds, same jitter draws)", title_justify="left")
    for column in ("policy", "success", "gave up", "stopped (not retriable)",
                   "median time to success (s)", "mean attempts"):  # fmt: skip
        table.add_column(column, justify="left" if column == "policy" else "right")
    for name in DEMO_POLICIES:
        rs = list(results[name].values())
        ok = [r for r in rs if r.ok]
        gave = sum(r.outcome == "gave-up" for r in rs)
        stopped = sum(r.outcome == "not-retriable" for r in rs)
        median = f"{statistics.median(r.elapsed for r in ok):.1f}" if ok else "-"
        table.add_row(
            name,
            f"{len(ok)}/{len(rs)} ({100 * len(ok) / len(rs):.1f}%)",
            str(gave),
            str(stopped),
            median,
            f"{statistics.fmean(r.attempts for r in rs):.1f}",
        )
    console.print(table)

    old, new = DEMO_POLICIES
    showcase = next(
        (s for s in seeds if not results[old][s].ok and results[new][s].ok),
        None,
    )
    if showcase is None:
        console.print(f"No seed where {old} failed and {new} succeeded.")
    else:
        console.print(_story_table(results[old][showcase], results[new][showcase]))
        a = results[old][showcase]
        console.print(
            f"{old} stopped on: {a.report.error}\n"
            f"Replay either side: sim run --scenario {scenario.name} --seed {showcase} "
            f"--policy {old}"
        )
    console.print(
        f"{runs} runs of the real module in {wall:.1f}s ({runs / wall:.0f} runs/s, "
        f"{harness.runs} through one harness)."
    )
    return 0


# -- serve ----------------------------------------------------------------------------


def _cmd_serve(args: argparse.Namespace, console: Console) -> int:
    scenario = _scenario(args.scenario)
    timeline = generate_timeline(scenario, args.seed)
    start = 0.0 if args.from_reboot else timeline.cleanup_start
    clock = ScaledClock(start, args.speed)
    previous = scenario.previous_version
    bodies = {
        scenario.list_path(previous): ("\n".join(scenario.images.previous) + "\n").encode(),
        scenario.list_path("current"): ("\n".join(scenario.images.current) + "\n").encode(),
    }
    try:
        # an explicit port: the DNS Service without backend is played on it (set_unreachable)
        port = args.dns_port or faultdns.free_udp_port("127.0.0.1")
        dns = make_dns_server(timeline.repo_host, clock, port=port)
        for rule in dns_rules(timeline, origin=start):
            dns.add_fault(rule)
        dns.start()
    except OSError as exc:
        raise UsageError(f"--dns-port {args.dns_port}: {exc.strerror or exc}") from exc
    dns_changes = refusal_changes(timeline)

    def refusing_at(now: float) -> bool:
        """Whether the cluster DNS Service has no backend at ``now``."""
        past = [on for t, on in dns_changes if t <= now]
        return bool(past) and past[-1]

    refusing = refusing_at(clock.now())  # in place before the addresses are announced
    if refusing:
        dns.set_unreachable(True)
    try:
        repo = RepoServer(port=args.port)
    except OSError as exc:
        dns.stop()
        raise UsageError(f"--port {args.port}: {exc.strerror or exc}") from exc
    repo.configure(
        lambda path, now: timeline.http_state(path, now) if path in timeline.http else "missing",
        bodies,
        clock,
        lambda r: console.print(f"  [dim]t={r.time:7.1f}s http {r.method} {r.path} -> {r.result}"),
    )
    workdir = Path(tempfile.mkdtemp(prefix="sim-serve-"))
    store = workdir / "node.json"
    cleanup.MemoryStore.create(
        store,
        scenario.images.node_images,
        in_use=scenario.images.in_use,
        pinned=scenario.images.pinned,
    )
    dns_host, dns_port = dns.address
    service = timeline.repo_service
    c = scenario.client
    search = " ".join(f"--search {s}" for s in c.search)
    scale = args.speed
    console.print(
        f"[bold]sim serve[/bold]: world '{timeline.scenario}' seed {timeline.seed}, "
        f"starting at t={start:.1f}s, {scale:g} virtual s per real s\n"
        f"  DNS   {dns_host}:{dns_port} (UDP+TCP)  serving {timeline.repo_host}\n"
        f"  repo  http://{repo.host}:{repo.port}  (as http://{service}:{repo.port})\n"
        f"  node store for cleanup: {store}\n"
    )
    table = Table(title="what will happen", title_justify="left")
    table.add_column("t (s)", justify="right")
    table.add_column("in (real s)", justify="right")
    table.add_column("event")
    for event in timeline.events:
        wall = (event.time - start) / scale
        table.add_row(f"{event.time:.1f}", f"{wall:.1f}" if wall >= 0 else "past", event.what)
    console.print(table)
    scaled = ""
    if scale != 1:
        scaled = f" --duration {10 / scale:g}s --http-timeout {30 / scale:g}s"
    tries = [
        f"dig @{dns_host} -p {dns_port} {timeline.repo_host} A",
        f"curl -sS http://{repo.host}:{repo.port}{scenario.list_path('current')}",
        f"cleanup run --repo-url http://{service}:{repo.port} --previous-version {previous} "
        f"--nameserver {dns_host}:{dns_port} {search} --ndots {c.ndots} "
        f"--store memory:{store} --policy harvester-v1.4{scaled}",
    ]
    console.print("Try:")
    for line in tries:
        console.print(f"  {line}", soft_wrap=True, markup=False)
    if scale != 1:
        console.print(
            f"  (the world runs {scale:g}x faster than real time; --duration and "
            "--http-timeout scale the policy's 10 s backoff and 30 s timeout to match)"
        )
    console.print("Ctrl-C to stop.")
    stop = threading.Event()
    pending = [e for e in timeline.events if e.time >= start]
    deadline = None if args.duration is None else time.monotonic() + args.duration

    def accepting_at(now: float) -> bool:
        states = {path: timeline.http_state(path, now) for path in timeline.http}
        return service_accepting(states)

    try:
        while not stop.is_set():
            now = clock.now()
            while pending and pending[0].time <= now:
                event = pending.pop(0)
                console.print(f"t={event.time:7.1f}s [bold]{event.what}[/bold]")
            if deadline is not None and time.monotonic() >= deadline:
                break
            repo.set_accepting(accepting_at(now))
            if refusing_at(now) != refusing:
                refusing = not refusing
                dns.set_unreachable(refusing)
            repo.wait(0.05)
            repo.settle()
    except KeyboardInterrupt:
        pass
    finally:
        repo.close()
        dns.stop()
    console.print("stopped.")
    return 0


# -- entry ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    console = _console()
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            return _cmd_run(args, args.seed, console, replay=False)
        if args.command == "replay":
            return _cmd_run(args, args.seed, console, replay=True)
        if args.command == "demo":
            return _cmd_demo(args, console)
        if args.command == "tune":
            return run_tune(args, console)
        if args.command == "fidelity":
            return run_fidelity(args, console)
        if args.command == "mutants":
            try:
                return run_mutants_command(args, console)
            except (ValueError, FileNotFoundError) as exc:
                raise UsageError(str(exc)) from exc
        return _cmd_serve(args, console)
    except UsageError as exc:
        print(f"sim: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (PeerError, SimDeadlock) as exc:
        print(f"sim: harness failure: {exc}", file=sys.stderr)
        return EXIT_SOFTWARE

"""``sim tune``, the command: flags, a progress bar, the table, the outputs.

The work is in :mod:`sim._tune` (grid, sweep, statistics, report); this module reads the
flags, runs the sweep under a rich progress bar and prints what the report says.

Exit status: 0 done, 64 bad usage (the message names the flag or grid token), 69 the
Dask scheduler cannot be reached, 73 ``--out`` not writable, 130 interrupted (the
finished worlds are still reported).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from cleanup import Policy, PolicyError, get_policy, parse_duration
from sim._args import count as _count
from sim._args import decimal as _decimal
from sim._args import seed as _seed
from sim._dist import ScenarioError
from sim._scenario import load_scenario
from sim._tune import (
    DEFAULT_GRID,
    RECOMMENDED,
    ExecutorError,
    GridError,
    TuneReport,
    build_report,
    dask_address,
    parse_grid,
    run_sweep,
    seconds_text,
    short_name,
    write_outputs,
)

__all__ = ["add_tune_parser", "run_tune"]

#: the before/after of the seed's fix: shown next to the grid unless --policy is given
DEFAULT_NAMED = ("harvester-v1.4", "harvester-v1.5")

EXIT_OK, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 0, 64, 69, 130


def _duration_arg(text: str) -> float | None:
    if text.strip().lower() in ("none", "0"):
        return None
    try:
        return parse_duration(text, field_name="--budget")
    except PolicyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _probability(text: str) -> float:
    value = _decimal(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be in (0, 1]")
    return value


def add_tune_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``tune`` to the ``sim`` command line's subparsers."""
    tune = subparsers.add_parser(
        "tune",
        help="choose retry parameters by Monte Carlo over simulated worlds",
        description="Evaluate a grid of retry policies on the same simulated worlds and "
        "recommend one: P(success) with a 95% Wilson interval, time to success, load.",
    )
    tune.add_argument("--scenario", default="single-node", metavar="NAME|FILE")
    tune.add_argument(
        "--samples",
        type=_count,
        default=20000,
        metavar="N",
        help="worlds (seeds) to draw (default 20000)",
    )
    tune.add_argument(
        "--grid",
        metavar="SPEC",
        default=None,
        help=f"space-separated key=v1,v2 tokens (default {DEFAULT_GRID!r})",
    )
    tune.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="NAME|FILE",
        help="a preset or policy file to show next to the grid (repeatable; "
        f"default {', '.join(DEFAULT_NAMED)})",
    )
    tune.add_argument(
        "--budget",
        type=_duration_arg,
        default=None,
        metavar="D",
        help="deadline given to grid policies, e.g. 600s (default: none)",
    )
    tune.add_argument(
        "--target",
        type=_probability,
        default=0.999,
        metavar="P",
        help="required P(success) (default 0.999)",
    )
    tune.add_argument(
        "--jobs",
        type=_count,
        default=None,
        metavar="N",
        help="local worker processes (default: all cores)",
    )
    tune.add_argument("--executor", default="local", metavar="local|dask://HOST:PORT")
    tune.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="write report.json, results.csv, recommended.toml and plots",
    )
    tune.add_argument("--json", action="store_true", help="print the report as JSON")
    tune.add_argument("--seed", type=_seed, default=0, metavar="N", help="first seed")
    tune.add_argument(
        "--compare",
        metavar="A,B,...",
        help="headline P(success) of these policies ('recommended': the "
        "grid's pick) on the same worlds",
    )
    tune.add_argument(
        "--chunk",
        type=_count,
        default=None,
        metavar="N",
        help="worlds per work unit (default: automatic)",
    )
    assert isinstance(tune, argparse.ArgumentParser)
    return tune


def _named_policies(names: Sequence[str]) -> list[Policy]:
    out = []
    for name in names:
        try:
            policy = get_policy(name)
        except PolicyError as exc:
            raise GridError(f"--policy {name}: {exc}") from None
        out.append(replace(policy, name=name))
    return out


def _fmt_time(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _pct(value: float) -> str:
    """A share in percent, 2 decimals, without trailing zeros: 99.98, 100, 0."""
    return f"{value * 100:.2f}".rstrip("0").rstrip(".")


def _table(report: TuneReport, rows: Sequence[int], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, caption=_CAPTION, caption_justify="left", padding=(0, 1))
    table.add_column("policy", no_wrap=True)
    for column in ("P % [95% CI]", "p50/95/99 s", "att", "DNS/HTTP", "gave up d/h/x %",
                   "blocked s"):  # fmt: skip
        table.add_column(column, justify="right", no_wrap=True)
    # a deadline every grid policy shares (the budget) is said once, in the title
    shared = "" if report.budget is None else f" deadline={seconds_text(report.budget)}"
    for i in rows:
        s = report.stats[i]
        name = short_name(s.name.replace(shared, "") if shared else s.name)
        if s.name in report.named:
            name = f"[cyan]{s.name}[/]"
        elif i == report.pick:
            name = f"[bold green]* {name}[/]"
        elif s.on_front:
            name = f"+ {name}"
        g = s.give_up
        table.add_row(
            name,
            f"{s.p_success * 100:.3f} [{_pct(s.ci_low)},{_pct(s.ci_high)}]",
            "/".join(_fmt_int(x) for x in (s.p50, s.p95, s.p99)),
            f"{s.mean_attempts:.1f}/{s.max_attempts}",
            f"{s.dns_queries:.0f}/{s.http_requests:.1f}",
            f"{_pct(g['dns'])}/{_pct(g['http'])}/{_pct(g['not-retried'])}",
            f"{s.blocked_mean:.0f}/{s.blocked_max:.0f}",
        )
    return table


def _fmt_int(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


_CAPTION = (
    "* recommended, + Pareto front, cyan: named.  p50/95/99: time to success after the "
    "cleanup start.  att: attempts mean/max.  DNS/HTTP: queries and requests per cleanup.  "
    "gave up: runs ending with the budget spent on DNS (d) or HTTP (h) errors, or on an "
    "error not retried (x).  blocked: mean/max time in the retry loop."
)


def _shown_rows(report: TuneReport, limit: int = 12) -> list[int]:
    rows: list[int] = []
    if report.pick is not None:
        rows.append(report.pick)
    rows += [i for i in report.front if i not in rows]
    ranked = sorted(
        range(len(report.stats)),
        key=lambda i: (
            not report.stats[i].meets_target,
            -report.stats[i].p_success if not report.stats[i].meets_target else 0,
            report.stats[i].p95 if report.stats[i].p95 is not None else math.inf,
        ),
    )
    for i in ranked:
        if len(rows) >= limit:
            break
        if i not in rows:
            rows.append(i)
    for i in report.named_indices:
        if i not in rows:
            rows.append(i)
    return rows


def _headline(report: TuneReport, names: Sequence[str]) -> list[str]:
    lines = []
    for name in names:
        i = report.pick if name == RECOMMENDED else report.sweep.index(name)
        if i is None:
            lines.append(f"{name}: no policy to recommend")
            continue
        s = report.stats[i]
        label = f"recommended ({s.name})" if name == RECOMMENDED else name
        lines.append(
            f"{label}: P(success) = {s.p_success:.2%} "
            f"[95% CI {s.ci_low:.2%}, {s.ci_high:.2%}], p95 time to success "
            f"{_fmt_time(s.p95)} s"
        )
    return lines


EXIT_CANTCREAT = 73  # sysexits.h: cannot create the output


def _unwritable(out: Path) -> str | None:
    """Why files cannot be written in directory ``out`` (created if missing), or None."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".sim-tune-probe-"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def run_tune(args: argparse.Namespace, console: Any | None = None) -> int:
    """``sim tune``: parse, sweep (with a progress bar), report, write outputs."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = console or Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    try:
        scenario = load_scenario(args.scenario)
        compare = [c.strip() for c in args.compare.split(",")] if args.compare else []
        if args.compare is not None and (not compare or any(not c for c in compare)):
            raise GridError(f"--compare {args.compare!r}: expected NAME[,NAME...]")
        named_names = list(args.policy) or [c for c in compare if c != RECOMMENDED]
        if not named_names and not compare:
            named_names = list(DEFAULT_NAMED)
        for c in compare:
            if c != RECOMMENDED and c not in named_names:
                named_names.append(c)
        named = _named_policies(named_names)
        want_grid = not compare or RECOMMENDED in compare or args.grid is not None
        spec = DEFAULT_GRID if args.grid is None else args.grid
        grid = parse_grid(spec, budget=args.budget) if want_grid else []
        grid = [p for p in grid if p.name not in named_names]
        jobs = args.jobs or os.cpu_count() or 1
        if args.executor != "local" and not args.executor.startswith("dask://"):
            raise GridError(f"--executor {args.executor!r}: expected local or dask://HOST:PORT")
        if args.executor.startswith("dask://"):
            dask_address(args.executor)
    except (GridError, ScenarioError, PolicyError) as exc:
        print(f"sim tune: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.out is not None and (why := _unwritable(args.out)) is not None:
        # refuse before the sweep, not after minutes of work (sysexits EX_CANTCREAT)
        print(f"sim tune: --out {args.out}: {why}", file=sys.stderr)
        return EXIT_CANTCREAT

    policies = named + grid
    progress = Progress(
        TextColumn("[bold]tune[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("worlds"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True,
    )  # fmt: skip
    task = progress.add_task("sweep", total=args.samples)
    try:
        with progress:
            sweep = run_sweep(
                scenario, policies, samples=args.samples, seed=args.seed, jobs=jobs,
                executor=args.executor, chunk=args.chunk,
                progress=lambda k: progress.advance(task, k),
            )  # fmt: skip
    except GridError as exc:
        print(f"sim tune: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ExecutorError as exc:
        print(f"sim tune: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if sweep.worlds == 0:
        print("sim tune: interrupted before any world finished", file=sys.stderr)
        return EXIT_INTERRUPTED
    report = build_report(sweep, named_names, args.target, args.budget, args.seed)
    written: list[Path] = []
    if args.out is not None:
        try:
            written = write_outputs(report, args.out)
        except OSError as exc:
            print(f"sim tune: --out {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_CANTCREAT
    if args.json:
        data = report.to_dict()
        if args.out is not None:
            data["cleanup_flags"] = report.flags(str(args.out / "recommended.toml"))
        print(json.dumps(data, indent=2))
    else:
        _print_report(console, report, compare, args, written)
    return EXIT_INTERRUPTED if sweep.interrupted else EXIT_OK


def _print_report(
    console: Any, report: TuneReport, compare: Sequence[str], args: argparse.Namespace,
    written: Sequence[Path],
) -> None:  # fmt: skip
    sweep = report.sweep
    evaluations = sweep.worlds * len(sweep.policies)
    rate = evaluations / sweep.wall_seconds if sweep.wall_seconds > 0 else 0.0
    if sweep.interrupted:
        console.print(
            f"[bold yellow]interrupted[/]: {sweep.worlds} of {sweep.requested} worlds finished; "
            "every policy below was evaluated on the same finished worlds"
        )
    console.print(
        f"scenario [bold]{sweep.scenario}[/], {sweep.worlds} worlds "
        f"({'of ' if sweep.interrupted else ''}seeds {report.seed}.."
        f"{report.seed + sweep.requested - 1}), {len(sweep.policies)} policies: "
        f"{evaluations:,} evaluations in {sweep.wall_seconds:.1f} s ({rate:,.0f}/s)"
    )
    if compare:
        for line in _headline(report, compare):
            console.print("  " + line)
        if RECOMMENDED not in compare:
            return
    title = f"policies (target P(success) >= {report.target:g}"
    title += f", budget {report.budget:g}s)" if report.budget is not None else ", no budget)"
    console.print(_table(report, _shown_rows(report), title))
    pick = report.pick_stats
    if pick is None:
        console.print("no policy to recommend")
        return
    if pick.meets_target:
        console.print(
            f"[bold green]recommended[/]: {pick.name}  (Pareto front of {len(report.front)} "
            "among policies meeting the target; pick = smallest p95 x requests)"
        )
    else:
        console.print(
            f"[bold red]no policy met the target[/]; the most reliable was {pick.name} "
            f"at {pick.p_success:.4%}"
        )
    policy_file = str(args.out / "recommended.toml") if args.out is not None else None
    console.print(f"  as flags: {report.flags(policy_file)}")
    if args.out is None:
        console.print("  as a policy file (cleanup run --policy FILE):")
        console.print(report.policy_toml() or "", markup=False, highlight=False)
    for path in written:
        console.print(f"  wrote {path}")

"""``sim fidelity``: the oracle for users, with an agreement table and minimal disagreements.

``sim fidelity [--cases N] [--seed N] [--json FILE] [--no-shrink] [--no-named]`` runs
the named cases (:data:`sim._fidelity._named.NAMED`, those this faultdns can serve),
then draws ``N`` cases (:func:`sim._fidelity._strategies.cases`, seeded), runs each on
Go and on our cleanup, and prints

- the agreement per compared field (:data:`sim._fidelity.FIELDS`) and per fault kind;
- every named case that disagrees;
- every distinct generated disagreement (grouped by the set of fields that differ),
  each shrunk by hypothesis to a minimal case unless ``--no-shrink``, with Go's
  record, ours and the differing fields.

Exit status: 0 when every case agrees, 1 on any disagreement, 69 (EX_UNAVAILABLE) when
Go, a private mount namespace or the loopback lanes are unavailable (the reason is
printed), 73 (EX_CANTCREAT) when ``--json FILE`` cannot be written (checked before any
case runs; the message names the path), 70 (EX_SOFTWARE) when the Go probe fails on a
case (the message names the case), 64 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, find, given, seed, settings
from hypothesis.errors import NoSuchExample
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sim._args import count as _count
from sim._args import seed as _seed
from sim._fidelity._case import Case
from sim._fidelity._named import NAMED, runnable
from sim._fidelity._oracle import ProbeFailed, Verdict, run_case, unavailable_reason
from sim._fidelity._record import FIELDS
from sim._fidelity._strategies import cases

__all__ = [
    "EXIT_CANTCREAT",
    "EXIT_PROBE_FAILED",
    "EXIT_UNAVAILABLE",
    "add_fidelity_parser",
    "run_fidelity",
    "signature",
]

EXIT_UNAVAILABLE = 69  # sysexits.h EX_UNAVAILABLE
EXIT_PROBE_FAILED = 70  # sysexits.h EX_SOFTWARE
EXIT_CANTCREAT = 73  # sysexits.h EX_CANTCREAT
_SHRINK_EXAMPLES = 300  # cases hypothesis may try while shrinking one disagreement


def add_fidelity_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``fidelity`` to the ``sim`` command line's subparsers."""
    p = subparsers.add_parser(
        "fidelity",
        help="hold our resolver and HTTP client to Go 1.23 (the differential oracle)",
        description="Run generated cases on Go 1.23's resolver and HTTP client and on our "
        "cleanup; print the agreement and every minimal disagreement.",
    )
    p.add_argument("--cases", type=_count, default=200, metavar="N", help="cases (default 200)")
    p.add_argument("--seed", type=_seed, default=0, metavar="N", help="generator seed")
    p.add_argument("--json", type=Path, metavar="FILE", help="write every verdict as JSON")
    p.add_argument("--no-shrink", action="store_true", help="report disagreements unshrunk")
    p.add_argument("--no-named", action="store_true", help="generated cases only")
    parser: argparse.ArgumentParser = p
    return parser


def signature(verdict: Verdict) -> tuple[str, ...]:
    """What kind of disagreement this is: the sorted names of the fields that differ."""
    return tuple(sorted(d.field for d in verdict.differences))


def _collect(n: int, seed_value: int, run: Callable[[Case], Verdict]) -> list[Verdict]:
    verdicts: list[Verdict] = []

    @seed(seed_value)
    @settings(
        max_examples=n,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(cases())
    def draw(case: Case) -> None:
        verdicts.append(run(case))

    draw()
    return verdicts


def _shrink(sig: tuple[str, ...], seed_value: int) -> Verdict | None:
    """A minimal case whose disagreement has signature ``sig`` (None if none is found)."""
    found: dict[str, Verdict] = {}

    def same(case: Case) -> bool:
        verdict = run_case(case)
        if signature(verdict) == sig:
            found["last"] = verdict
            return True
        return False

    try:
        minimal = find(
            cases(),
            same,
            settings=settings(
                max_examples=_SHRINK_EXAMPLES,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            ),
            random=__import__("random").Random(seed_value),
        )
    except NoSuchExample:
        return None
    verdict = run_case(minimal)
    return verdict if signature(verdict) == sig else found.get("last")


def _table(verdicts: list[Verdict]) -> tuple[Table, Table]:
    total = len(verdicts)
    per_field = Table(title="Agreement per field")
    per_field.add_column("field")
    per_field.add_column("agree", justify="right")
    per_field.add_column("%", justify="right")
    differing = Counter(d.field for v in verdicts for d in v.differences)
    for name in FIELDS:
        ok = total - differing.get(name, 0)
        per_field.add_row(name, f"{ok}/{total}", f"{100.0 * ok / max(total, 1):.1f}")
    per_kind = Table(title="Agreement per fault kind / option")
    per_kind.add_column("kind")
    per_kind.add_column("cases", justify="right")
    per_kind.add_column("agree", justify="right")
    per_kind.add_column("%", justify="right")
    seen: Counter[str] = Counter()
    agreed: Counter[str] = Counter()
    for v in verdicts:
        for kind in v.case.kinds or ("plain",):
            seen[kind] += 1
            agreed[kind] += v.agrees
    for kind, n in sorted(seen.items()):
        per_kind.add_row(kind, str(n), str(agreed[kind]), f"{100.0 * agreed[kind] / n:.1f}")
    return per_field, per_kind


def _check_writable(path: Path) -> str:
    """ "" when ``path`` can be written (tried now, so a long run cannot end in a
    traceback), else why not.  An existing file is left as it is."""
    try:
        existed = path.exists()
        with path.open("a", encoding="utf-8"):
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


def run_fidelity(args: argparse.Namespace, console: Console | None = None) -> int:
    """``sim fidelity``: returns the exit status (see the module docstring)."""
    console = console or Console(highlight=False)
    if args.json is not None:
        why = _check_writable(args.json)
        if why:
            console.print(f"sim fidelity: cannot write --json {args.json}: {why}", markup=False)
            return EXIT_CANTCREAT
    reason = unavailable_reason()
    if reason:
        console.print(f"sim fidelity: the Go oracle cannot run here: {escape(reason)}")
        return EXIT_UNAVAILABLE
    try:
        return _run(args, console)
    except ProbeFailed as exc:
        console.print(f"sim fidelity: {exc}", markup=False)
        return EXIT_PROBE_FAILED


def _run(args: argparse.Namespace, console: Console) -> int:
    start = time.monotonic()
    named: dict[str, Verdict] = {}
    if not args.no_named:
        for name, entry in NAMED.items():
            if not runnable(entry):
                named[name] = run_case(entry.case)
    named_elapsed = time.monotonic() - start
    verdicts = _collect(args.cases, args.seed, run_case)
    elapsed = time.monotonic() - start - named_elapsed
    agreeing = sum(v.agrees for v in verdicts)
    if named:
        table = Table(title="Named cases (issue 8's deviations and plain ones)")
        table.add_column("case")
        table.add_column("agrees")
        table.add_column("fields that differ")
        for name, v in named.items():
            table.add_row(name, "yes" if v.agrees else "NO", ", ".join(signature(v)))
        console.print(table)
        console.print(
            f"{sum(v.agrees for v in named.values())}/{len(named)} named cases agree"
            f" in {named_elapsed:.1f} s ({len(NAMED) - len(named)} need faultdns actions"
            " not available here)"
        )
    per_field, per_kind = _table(verdicts)
    console.print(per_field)
    console.print(per_kind)
    console.print(
        f"{agreeing}/{len(verdicts)} generated cases agree"
        f" ({100.0 * agreeing / max(len(verdicts), 1):.1f} %) in {elapsed:.1f} s, seed {args.seed}"
    )
    for name, v in named.items():
        if not v.agrees:
            console.rule(f"named case {name}: {', '.join(signature(v))}")
            console.print(v.explain(), markup=False)
    groups: dict[tuple[str, ...], Verdict] = {}
    for v in verdicts:
        if v.agrees:
            continue
        sig = signature(v)
        size = len(json.dumps(v.case.to_dict()))
        if sig not in groups or size < len(json.dumps(groups[sig].case.to_dict())):
            groups[sig] = v
    shown: list[Verdict] = []
    for i, (sig, v) in enumerate(sorted(groups.items()), start=1):
        minimal = v if args.no_shrink else (_shrink(sig, args.seed) or v)
        shown.append(minimal)
        console.rule(f"disagreement {i}/{len(groups)}: {', '.join(sig)}")
        console.print(minimal.explain(), markup=False)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "seed": args.seed,
                    "elapsed": elapsed,
                    "named": {name: v.to_dict() for name, v in named.items()},
                    "verdicts": [v.to_dict() for v in verdicts],
                    "minimal_disagreements": [v.to_dict() for v in shown],
                },
                indent=1,
            )
        )
    all_named = all(v.agrees for v in named.values())
    return 0 if agreeing == len(verdicts) and all_named else 1

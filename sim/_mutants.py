"""Deliberately broken cleanups, and ``sim mutants``: does the property suite catch them?

A property suite that passes proves little until it is seen to fail on wrong code.  Each
:class:`Mutant` here is a plausible bug in the cleanup module - the old v1.4 predicate,
a predicate that forgets DNS timeouts, an off-by-one in ``Steps``, an ignored deadline,
deleting before the second list is in, ignoring in-use images, retrying a 404 - built
on top of the *real* cleanup API (a wrapped ``run_cleanup`` with a changed policy, store
or repo client).  ``cleanup/`` itself is never touched: a mutant is injected through the
harness's ``cleanup_fn`` parameter, which is how the property tests run every example.

Those are *injected* mutants.  *Source* mutants are realistic bugs written as patches to
``cleanup/``'s own source (``sim/mutants/NAME.diff``: a one-line rationale, a blank line,
then a unified diff against ``a/cleanup/...``): for each run the cleanup package is
copied to a temporary directory, the patch is applied there with ``git apply``, and
that directory goes first on the pytest subprocess's ``PYTHONPATH`` (with
``PYTHONSAFEPATH=1`` and ``--import-mode=append``, so neither the working directory nor
pytest's rootdir puts the real package ahead of it), so ``import cleanup`` finds the
broken copy.  ``cleanup/`` itself is only read.  A patch that no
longer applies (the code it edits has changed) is reported as an error naming the
patch and git's complaint, never silently skipped.  Issue 11 measured the property
suite against such bugs; ``bench/mutation.py`` does the same with generated mutants.

``sim mutants`` runs ``tests/sim/test_properties.py`` once per mutant, in separate
processes (``--jobs``), with ``SIM_MUTANT=<name>`` in the environment: the suite's
``cleanup_fn`` fixture reads it (:func:`active_cleanup_fn`) and falls back to the real
module when it is unset.  A mutant is *caught* when its run fails (pytest exit 1); the
same suite with no mutant must pass, or the kill rate means nothing.  Runs use the
``mutants`` hypothesis profile (``ci`` without shrinking: only *whether* a property
fails matters here).

One idea at ~670 lines: the mutants of the cleanup (injected and source) and the
runner and command that hold the property suite to them, which change together
whenever a property or a mutant is added.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.table import Table

import cleanup
from cleanup import (
    RETAIN,
    CleanupError,
    CleanupReport,
    DNSError,
    HTTPStatusError,
    ImageStore,
    Policy,
    RemovalError,
    RepoClient,
    RequestTimeout,
)
from sim._args import seed as whole_number
from sim._harness import CleanupFn

__all__ = [
    "MUTANTS",
    "MUTANT_ENV",
    "PATCH_DIR",
    "SOURCE_MUTANTS",
    "Mutant",
    "MutantRun",
    "PatchError",
    "SourceMutant",
    "active_cleanup_fn",
    "add_mutants_parser",
    "all_mutant_names",
    "caught_by",
    "default_test_path",
    "get_mutant",
    "load_source_mutants",
    "prepare_source_mutant",
    "property_of",
    "run_mutants",
    "source_env",
]

#: the environment variable naming the mutant the property suite runs against
MUTANT_ENV = "SIM_MUTANT"


@dataclass(frozen=True)
class Mutant:
    name: str
    description: str
    cleanup_fn: CleanupFn


# -- building blocks: the real run_cleanup with one thing changed ----------------------


def _with_policy(change: Callable[[Policy], Policy]) -> CleanupFn:
    """The real run, under a policy the bug has altered."""

    def run(*args: Any, policy: Policy, **kwargs: Any) -> CleanupReport:
        return cleanup.run_cleanup(*args, policy=change(policy), **kwargs)

    return run


def _with_predicate(predicate: Callable[[Policy, CleanupError], bool]) -> CleanupFn:
    def change(policy: Policy) -> Policy:
        return replace(policy, retriable=lambda err: predicate(policy, err))

    return _with_policy(change)


def _with_store(wrap: Callable[[ImageStore], ImageStore]) -> CleanupFn:
    def run(*args: Any, store: ImageStore, **kwargs: Any) -> CleanupReport:
        return cleanup.run_cleanup(*args, store=wrap(store), **kwargs)

    return run


class _StoreView:
    """A store whose reads the bug gets wrong; removals still go to the real store."""

    def __init__(self, store: ImageStore, *, in_use: bool = True, pinned: bool = True) -> None:
        self._store = store
        self._in_use = in_use
        self._pinned = pinned

    def __repr__(self) -> str:
        return repr(self._store)

    def images(self) -> list[str]:
        return self._store.images()

    def in_use(self) -> set[str]:
        return self._store.in_use() if self._in_use else set()

    def pinned(self) -> set[str]:
        return self._store.pinned() if self._pinned else set()

    def remove(self, image: str) -> None:
        self._store.remove(image)


# -- the mutants ----------------------------------------------------------------------


def _v14(policy: Policy, err: CleanupError) -> bool:
    return cleanup.retriable_v14(err)


def _forgets_dns_timeouts(policy: Policy, err: CleanupError) -> bool:
    # A lookup that times out surfaces either as the resolver's DNSError (it gave up
    # before the request's deadline) or, as in Go, as the Client.Timeout that cut it
    # short (a RequestTimeout in the lookup phase): the pod's 4 names x 2 tries x 5 s
    # always outlast the 30 s timeout, so the second is the usual one.
    if isinstance(err, DNSError) and err.is_timeout:
        return False
    if isinstance(err, RequestTimeout) and err.phase == "lookup":
        return False
    return policy.retriable(err)


def _retries_404(policy: Policy, err: CleanupError) -> bool:
    if isinstance(err, HTTPStatusError) and err.status == 404:
        return True
    return policy.retriable(err)


def _steps_off_by_one(policy: Policy) -> Policy:
    return replace(policy, backoff=replace(policy.backoff, steps=policy.backoff.steps + 1))


def _deadline_ignored(policy: Policy) -> Policy:
    return replace(policy, deadline=None)


def _hurried(policy: Policy) -> Policy:
    return replace(policy, backoff=replace(policy.backoff, duration=policy.backoff.duration / 2))


def _delete_after_first_list(repo: RepoClient, **kwargs: Any) -> CleanupReport:
    """Acts on the previous list as soon as it is in: the current list, not fetched
    yet, counts as empty, so images both versions use go too, and they go even if the
    current list then fails."""
    store: ImageStore = kwargs["store"]
    retain: tuple[str, ...] = kwargs.get("retain", RETAIN)
    match: cleanup.MatchMode = kwargs.get("match", "both")

    class Eager:
        def fetch_lists(self, previous: str, current: str = "current") -> Any:
            first = repo.fetch_list(previous)
            decided = cleanup.plan(
                first,
                [],
                present=store.images(),
                in_use=store.in_use(),
                pinned=store.pinned(),
                retain=retain,
                match=match,
            )
            for item in decided.delete:
                with contextlib.suppress(RemovalError):
                    store.remove(item.image)
            return first, repo.fetch_list(current)

    return cleanup.run_cleanup(cast(RepoClient, Eager()), **kwargs)


def _ignores_retain(*args: Any, **kwargs: Any) -> CleanupReport:
    return cleanup.run_cleanup(*args, **{**kwargs, "retain": ()})


_ALL = (
    Mutant(
        "v1.4-predicate",
        "the old predicate: 'no such host' (NXDOMAIN) is not retried",
        _with_predicate(_v14),
    ),
    Mutant(
        "forgets-dns-timeouts",
        "DNS timeouts are not retried (the rest of the policy's predicate is kept)",
        _with_predicate(_forgets_dns_timeouts),
    ),
    Mutant(
        "steps-off-by-one",
        "one attempt more than Steps",
        _with_policy(_steps_off_by_one),
    ),
    Mutant(
        "deadline-ignored",
        "the policy's overall deadline is never checked",
        _with_policy(_deadline_ignored),
    ),
    Mutant(
        "delete-after-first-list",
        "deletes once the previous list is in, before (and whatever) the current list says",
        _delete_after_first_list,
    ),
    Mutant(
        "ignores-in-use",
        "plans to delete images that containers use",
        _with_store(lambda s: cast(ImageStore, _StoreView(s, in_use=False))),
    ),
    Mutant(
        "retries-404",
        "a 404 (list missing from the repo) is retried until the schedule runs out",
        _with_predicate(_retries_404),
    ),
    Mutant(
        "ignores-retain",
        "the retain list is not applied",
        _ignores_retain,
    ),
    Mutant(
        "ignores-pinned",
        "deletes pinned images",
        _with_store(lambda s: cast(ImageStore, _StoreView(s, pinned=False))),
    ),
    Mutant(
        "hurried-backoff",
        "sleeps half the schedule's Duration",
        _with_policy(_hurried),
    ),
)

#: every mutant of the cleanup the property suite must kill, by name
MUTANTS: Mapping[str, Mutant] = {m.name: m for m in _ALL}


# -- source mutants: patches applied to a copy of the cleanup package ---------------------

#: where the source mutants' patches live (package data of ``sim``)
PATCH_DIR = Path(__file__).resolve().parent / "mutants"


@dataclass(frozen=True)
class SourceMutant:
    """A realistic bug as a unified diff against ``cleanup/``; ``description`` is the
    patch file's first line (its rationale)."""

    name: str
    description: str
    patch: Path

    @property
    def target(self) -> str:
        """The file the patch edits, relative to the repository (``cleanup/_plan.py``)."""
        for line in self.patch.read_text().splitlines():
            if line.startswith("+++ b/"):
                return line[len("+++ b/") :].strip()
        raise PatchError(f"{self.patch}: no '+++ b/...' line: not a unified diff")


class PatchError(Exception):
    """A source mutant's patch does not apply to the current cleanup source."""


def load_source_mutants(directory: Path = PATCH_DIR) -> dict[str, SourceMutant]:
    """Every ``NAME.diff`` in ``directory``, by name, sorted."""
    found: dict[str, SourceMutant] = {}
    for patch in sorted(directory.glob("*.diff")):
        first = patch.read_text().split("\n", 1)[0].strip()
        found[patch.stem] = SourceMutant(patch.stem, first, patch)
    return found


SOURCE_MUTANTS: Mapping[str, SourceMutant] = load_source_mutants()


def prepare_source_mutant(mutant: SourceMutant, dest: Path, package: Path | None = None) -> Path:
    """Copy the cleanup package (``package``, default the one imported) to
    ``dest/cleanup`` and apply ``mutant``'s patch there; returns ``dest``, the directory
    to put first on ``PYTHONPATH``.  Raises :class:`PatchError` naming the patch, its
    target and git's message when it does not apply, or when ``git`` is missing."""
    source = package if package is not None else Path(cleanup.__file__).resolve().parent
    copy = dest / "cleanup"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = dict(os.environ)
    # never let git find a repository above the copy: paths stay relative to ``dest``
    env["GIT_CEILING_DIRECTORIES"] = str(dest.parent)
    try:
        proc = subprocess.run(
            ["git", "apply", "--verbose", str(mutant.patch)],
            cwd=dest,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise PatchError(f"source mutant {mutant.name}: git is needed to apply patches") from None
    if proc.returncode != 0:
        why = (proc.stderr or proc.stdout).strip().replace(str(mutant.patch), mutant.patch.name)
        raise PatchError(
            f"source mutant {mutant.name}: {mutant.patch.name} no longer applies to "
            f"{mutant.target}; update the patch to the current source ({why})"
        )
    return dest


def source_env(directory: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` with ``directory`` first on ``PYTHONPATH`` (ahead of the editable
    install's finder, which only answers what ``sys.path`` does not) and
    ``PYTHONSAFEPATH=1``: ``python -m pytest`` run from the repository would otherwise
    put the working directory, real ``cleanup/`` and all, ahead of ``PYTHONPATH``.
    (pytest's own rootdir insertion is the other way in: see ``--import-mode``.)"""
    env = dict(os.environ if environ is None else environ)
    rest = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join([str(directory), *([rest] if rest else [])])
    env["PYTHONSAFEPATH"] = "1"
    return env


def get_mutant(name: str) -> Mutant:
    try:
        return MUTANTS[name]
    except KeyError:
        raise KeyError(f"unknown mutant {name!r} (known: {', '.join(MUTANTS)})") from None


def active_cleanup_fn(environ: Mapping[str, str] | None = None) -> CleanupFn:
    """The cleanup the property suite tests: the mutant ``$SIM_MUTANT`` names, or the
    real ``cleanup.run_cleanup``."""
    env = os.environ if environ is None else environ
    name = env.get(MUTANT_ENV, "")
    if not name:
        return cleanup.run_cleanup
    return get_mutant(name).cleanup_fn


def all_mutant_names(kind: str = "all") -> list[str]:
    """Names of the injected mutants, the source mutants, or both (``all``)."""
    injected = list(MUTANTS) if kind in ("all", "injected") else []
    return injected + (list(SOURCE_MUTANTS) if kind in ("all", "source") else [])


def describe(name: str) -> tuple[str, str]:
    """(kind, description) of a mutant of either kind."""
    if name in SOURCE_MUTANTS:
        return "source", SOURCE_MUTANTS[name].description
    return "injected", get_mutant(name).description


# -- the runner -----------------------------------------------------------------------


@dataclass(frozen=True)
class MutantRun:
    """One pytest run of the property suite; ``mutant`` None is the real module."""

    mutant: str | None
    exit_code: int
    failed: tuple[str, ...]  # the tests that failed
    seconds: float
    output: str
    kind: str = "injected"  # or "source" (a patch), "" for the real module

    @property
    def caught(self) -> bool:
        return self.exit_code == 1

    @property
    def error(self) -> bool:
        """pytest could not run the suite (usage error, collection error, interrupted),
        or a source mutant's patch did not apply (``exit_code`` -1)."""
        return self.exit_code not in (0, 1)


def default_test_path() -> Path:
    """``tests/sim/test_properties.py`` of the source tree this package runs from."""
    return Path(__file__).resolve().parent.parent / "tests" / "sim" / "test_properties.py"


_FAILED = re.compile(r"^FAILED (\S+?)(?: - |$)", re.MULTILINE)

#: test-name fragments -> the property (issues 4 and 11) they check (first match wins)
_PROPERTIES = (
    (("seed_bug", "v14_failure"), "3 seed bug"),
    (("liveness",), "1 liveness"),
    (("safety",), "2 safety"),
    (("bounded_effort",), "4 bounded effort"),
    (("404", "invalid_list", "status_family"), "5 not retried"),
    (("replaying", "identical_trace"), "6 determinism"),
    (("predicate",), "7 retry decisions"),
    (("deadline_exactly", "schedule_"), "8 schedule"),
    (("the_report",), "9 the report"),
)


def property_of(test: str) -> str:
    """The property a test of the suite checks (its name if none matches)."""
    for fragments, label in _PROPERTIES:
        if any(fragment in test for fragment in fragments):
            return label
    return test


def caught_by(run: MutantRun) -> str:
    """``1 liveness (3 tests), 4 bounded effort``: which properties failed, how often."""
    counts: dict[str, int] = {}
    for test in run.failed:
        label = property_of(test)
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(
        f"{label} ({n} tests)" if n > 1 else label for label, n in sorted(counts.items())
    )


def _run_one(
    mutant: str | None, test_path: Path, select: str | None, profile: str, fail_fast: bool
) -> MutantRun:
    if mutant is not None and mutant in SOURCE_MUTANTS:
        with tempfile.TemporaryDirectory(prefix=f"sim-mutant-{mutant}-") as tmp:
            try:
                copy = prepare_source_mutant(SOURCE_MUTANTS[mutant], Path(tmp))
            except PatchError as exc:
                return MutantRun(mutant, -1, (), 0.0, str(exc), kind="source")
            env = source_env(copy)
            env.pop(MUTANT_ENV, None)
            # pytest's default import mode puts the suite's rootdir - this repository,
            # with the real cleanup/ - first on sys.path; appended, the copy wins.
            run = _pytest(mutant, env, test_path, select, profile, fail_fast, append=True)
        return replace(run, kind="source")
    env = dict(os.environ)
    env.pop(MUTANT_ENV, None)
    if mutant is not None:
        env[MUTANT_ENV] = mutant
    run = _pytest(mutant, env, test_path, select, profile, fail_fast)
    return run if mutant is not None else replace(run, kind="")


def _pytest(
    mutant: str | None,
    env: dict[str, str],
    test_path: Path,
    select: str | None,
    profile: str,
    fail_fast: bool,
    append: bool = False,
) -> MutantRun:
    env["HYPOTHESIS_PROFILE"] = profile
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(test_path),
        "-q",
        "-rf",
        "-p",
        "no:cacheprovider",
        "--no-header",
        "--tb=line",
    ]
    if append:
        command.append("--import-mode=append")
    if select:
        command += ["-k", select]
    if fail_fast:
        command.append("-x")
    started = time.perf_counter()
    proc = subprocess.run(
        command,
        cwd=test_path.parent.parent.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = proc.stdout + proc.stderr
    failed = tuple(m.split("::", 1)[-1] for m in _FAILED.findall(output))
    return MutantRun(mutant, proc.returncode, failed, time.perf_counter() - started, output)


def run_mutants(
    names: Iterable[str] | None = None,
    *,
    jobs: int = 2,
    test_path: Path | None = None,
    select: str | None = None,
    profile: str = "mutants",
    fail_fast: bool = False,
    baseline: bool = True,
    on_done: Callable[[MutantRun], None] | None = None,
) -> tuple[MutantRun | None, list[MutantRun]]:
    """Run the suite on the real module (``baseline``) and on each mutant (injected or
    source), ``jobs`` at a time; returns (baseline run or None, mutant runs in the order
    asked).  Default: every injected mutant, then every source mutant."""
    chosen = all_mutant_names() if names is None else list(names)
    for name in chosen:
        if name not in SOURCE_MUTANTS:
            get_mutant(name)
    path = test_path if test_path is not None else default_test_path()
    if not path.is_file():
        raise FileNotFoundError(f"property suite {path} not found (pass --tests PATH)")
    order: list[str | None] = ([None] if baseline else []) + list(chosen)

    def one(name: str | None) -> MutantRun:
        run = _run_one(name, path, select, profile, fail_fast)
        if on_done is not None:
            on_done(run)
        return run

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = list(pool.map(one, order))
    base = runs.pop(0) if baseline else None
    return base, runs


# -- the command ----------------------------------------------------------------------


def add_mutants_parser(sub: Any) -> None:
    p = sub.add_parser(
        "mutants",
        help="run the property suite against broken cleanups; prints caught K/N",
        description="Run tests/sim/test_properties.py against each deliberately broken "
        "variant of the cleanup module (and once against the real one) and report "
        "which variants the suite caught.",
    )
    p.add_argument("--only", metavar="NAMES", help="comma-separated mutant names (default: all)")
    p.add_argument("--kind", choices=("all", "injected", "source"), default="all",
                   help="injected (via cleanup_fn), source (patches to a copy) or all")  # fmt: skip
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--jobs", type=whole_number, default=2, metavar="N", help="parallel pytest runs")
    p.add_argument("--tests", type=Path, metavar="PATH", help="the property suite file")
    p.add_argument("-k", dest="select", metavar="EXPR", help="only tests matching (pytest -k)")
    p.add_argument("--profile", default="mutants", metavar="NAME",
                   help="hypothesis profile (default: mutants = ci without shrinking)")  # fmt: skip
    p.add_argument("-x", "--fail-fast", action="store_true",
                   help="stop each run at its first failing test (faster)")  # fmt: skip
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the run against the real module")  # fmt: skip


def run_mutants_command(args: argparse.Namespace, console: Console) -> int:
    """``sim mutants``: 0 when the baseline passes and every mutant is caught, 1 when a
    mutant survives or the baseline fails, 64 on bad usage."""
    known = all_mutant_names(args.kind)
    if args.list:
        for name in known:
            kind, description = describe(name)
            console.print(f"{name:28} {kind:8} {description}", markup=False)
        return 0
    names: Sequence[str] = known
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"--only: unknown mutant {unknown[0]!r} (known: {', '.join(known)})")
    if args.jobs < 1:
        raise ValueError(f"--jobs: must be at least 1, got {args.jobs}")
    if args.tests is not None and not args.tests.is_file():
        raise ValueError(f"--tests: {args.tests} is not a file")
    count = len(names)
    console.print(
        f"Running the property suite against {count} mutant(s)"
        f"{'' if args.no_baseline else ' and the real module'}, {args.jobs} at a time."
    )

    def done(run: MutantRun) -> None:
        who = run.mutant or "(real module)"
        verdict = (
            "error" if run.error else "caught" if run.caught else "passed" if run.mutant is None
            else "SURVIVED"
        )  # fmt: skip
        console.print(f"  {who:26} {verdict:8} {run.seconds:5.1f}s", markup=False)

    started = time.perf_counter()
    base, runs = run_mutants(
        names,
        jobs=args.jobs,
        test_path=args.tests,
        select=args.select,
        profile=args.profile,
        fail_fast=args.fail_fast,
        baseline=not args.no_baseline,
        on_done=done,
    )
    wall = time.perf_counter() - started
    table = Table(title="mutants", title_justify="left")
    table.add_column("mutant")
    table.add_column("kind")
    table.add_column("bug", overflow="fold")
    table.add_column("result")
    table.add_column("failing properties", overflow="fold")
    for run in runs:
        name = run.mutant or ""
        kind, description = describe(name)
        if run.exit_code == -1:
            result = "[yellow]error (patch does not apply)[/yellow]"
        elif run.error:
            result = f"[yellow]error (pytest exit {run.exit_code})[/yellow]"
        elif run.caught:
            result = "[green]caught[/green]"
        else:
            result = "[bold red]survived[/bold red]"
        table.add_row(name, kind, description, result, caught_by(run))
    console.print(table)
    status = 0
    if base is not None:
        if base.exit_code == 0:
            console.print("baseline: the real module passes the suite")
        else:
            console.print(
                f"[bold red]baseline: the suite fails on the real module (pytest exit "
                f"{base.exit_code})[/bold red]; the kill rate means nothing until it passes"
            )
            console.print(base.output[-3000:], markup=False)
            status = 1
    for run in runs:
        if run.exit_code == -1:
            console.print(f"[yellow]{run.output}[/yellow]", markup=False)
        elif run.error:
            console.print(f"[yellow]{run.mutant}: pytest could not run the suite:[/yellow]")
            console.print(run.output[-2000:], markup=False)
    caught = sum(run.caught for run in runs)
    for kind in ("injected", "source"):
        of_kind = [run for run in runs if run.kind == kind]
        if of_kind and len(of_kind) != len(runs):
            console.print(f"  {kind}: caught {sum(r.caught for r in of_kind)}/{len(of_kind)}")
    console.print(f"caught {caught}/{len(runs)}  ({wall:.1f}s)")
    if caught != len(runs):
        status = 1
    return status

#!/usr/bin/env python3
"""Mutation score of the property suite next to the whole suite's (issue 11).

cosmic-ray (PyPI ``cosmic-ray``, the ``mutation`` extra) enumerates the mutants: its
``init`` walks each module's parso tree with every core operator (comparison and
binary operators swapped, ``not`` added or dropped, numbers changed, ``and``/``or``
swapped, ``break``/``continue``, exception types replaced, decorators removed, loops
run zero times) and stores one work item per mutant in a session database.  This
script samples them (stratified by module), applies each with cosmic-ray's own
``mutate_code`` to a **temporary copy of the repository** (``git ls-files``; the copy
comes first on ``PYTHONPATH`` of the pytest subprocess, ahead of the editable
install), runs the test commands there, and writes the verdicts back into the session
(``cr-report SESSION`` reads it) and into a JSON file with a summary table.  ``cleanup/``
of the source tree is only ever read: a crash leaves at worst a mutated temporary copy.

Two test commands per mutant:

- **props**: ``pytest -x tests/sim/test_properties.py`` under the ``mutants``
  hypothesis profile (``ci`` without shrinking, derandomized, no example database, so
  a verdict does not depend on the mutants run before it);
- **whole**: the whole suite.  A mutant the property suite kills is killed by the
  whole suite too (it contains the property suite), so by default the whole suite
  runs only on props survivors, and only its tests that execute a mutated line: a
  coverage map (``--coverage-map``, built once with ``--build-coverage-map``: the whole
  suite under ``coverage run`` with per-test contexts, restricted to the mutated
  modules) lists them.  A test reaching the module only through a subprocess (``sim
  mutants``' own pytest runs, CLI entry points) is not in the map; ``--whole-all`` runs
  the complete suite instead (hours).

Mutants inside type annotations are left out before sampling: every module has
``from __future__ import annotations``, so ``X | None`` -> ``X + None`` there is never
evaluated (equivalent by construction).  The verdict of a run:

- ``killed``: pytest exit 1 (a test failed) or 2 (collection failed: the mutant broke
  the import, which any run notices);
- ``timeout``: the run exceeded ``--timeout`` (counted as killed, cosmic-ray's rule);
- ``survived``: exit 0 (or 5, no test selected: nothing ran the line);
- ``error``: any other exit (pytest internal/usage error): not counted either way;
- a whole-suite kill whose failing test fails on the real module too (a
  load-sensitive test on a busy machine) is re-run without that test (noted).

    python bench/mutation.py --build-coverage-map          # once, ~15 min
    python bench/mutation.py --sample 60 --seed 11 --jobs 2 --out bench/results/m.json
    python bench/mutation.py --sample 60 --seed 11 --suite props   # property suite only
    python bench/mutation.py --list --sample 60 --seed 11  # the sample, no runs
    python bench/mutation.py --ref props --suite props --only ID,ID  # another branch's suite
    python bench/mutation.py --survivors results.json survivors.md   # render for review

Exit 0 when every run completed (whatever the score), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime as dt
import difflib
import json
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: the modules issue 11 names: plan, images, retry, classifier, repo client, run and the
#: resolver (with the DNS rules whose outcome it reports), as files of the current tree.
#: The issue's ``_retry.py`` was split by idea (ab55ceb): the schedule (``_schedule``),
#: the policy and its presets (``_policy``), policy files (``_policy_file``), the events
#: (``_events``) and the runner (``_retry``): all five are in scope.
MODULES = (
    "cleanup/_plan.py",
    "cleanup/_images.py",
    "cleanup/_schedule.py",
    "cleanup/_policy.py",
    "cleanup/_policy_file.py",
    "cleanup/_events.py",
    "cleanup/_retry.py",
    "cleanup/_classify.py",
    "cleanup/_repo.py",
    "cleanup/_run.py",
    "cleanup/_resolver.py",
    "cleanup/_resolvconf.py",
    "cleanup/_sysresolver.py",
    "cleanup/_dnsrules.py",
    "cleanup/_dnswire.py",
)
#: the issue's module a file's code was in, where the file is a part of one: the sample
#: is stratified by these (the issue's eight modules, as before the split), so splitting
#: a file neither changes the sample's weights nor the per-module table's rows.
STRATUM: dict[str, str] = {
    **{
        f"cleanup/{part}.py": "cleanup/_retry.py"
        for part in ("_schedule", "_policy", "_policy_file", "_events", "_retry")
    },
    # the DNS message layer left _dnsrules (3c6e2b3); only its reply check is in scope
    "cleanup/_dnswire.py": "cleanup/_dnsrules.py",
    # the pod's resolv.conf, as Go's dnsReadConfig reads it, is the stub resolver's input
    # (it left _resolver's constructor for its own module): in the resolver's stratum
    "cleanup/_resolvconf.py": "cleanup/_resolver.py",
    # SystemResolver left _resolver for its own module (the getaddrinfo path)
    "cleanup/_sysresolver.py": "cleanup/_resolver.py",
}


def stratum(module: str) -> str:
    """The issue's module that ``module`` (a path as in :data:`MODULES`) is part of."""
    return STRATUM.get(module, module)


#: where a module is only partly in scope: the top-level functions and classes mutated.
#: ``_dnsrules`` is in "where its rules decide the outcome" of the stub resolver: which
#: names, which servers, what a reply and a failed exchange mean, which error the
#: lookup reports, in which order A and AAAA start.  Left out: its wire codec (names,
#: headers, sections: tests/cleanup/test_dnsrules.py and the fuzz targets) and its
#: virtual-time walk (``walk_query``, ``completion_order``, ``simulate_lookup``), which
#: only the simulation's evaluator runs - the resolver the property suite drives never
#: calls them.
SCOPE: dict[str, tuple[str, ...]] = {
    "cleanup/_dnsrules.py": (
        "candidate_names",
        "avoid_dns",
        "server_sequence",
        "OutcomeRule",
        "outcome_error",
        "not_found_error",
        "deadline_error",
        "judge_reply",
        "LookupFold",
        "start_order",
        "rotation_order",
    ),
    # the codec is out of scope as above; whether a reply is ours to judge is in
    "cleanup/_dnswire.py": ("matches",),
}
PROPS = "tests/sim/test_properties.py"
DEFAULT_MAP = ROOT / ".mutation" / "coverage-map.json"  # a cache (git-ignored), ~8 MB
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header", "--tb=line"]


@dataclass
class Verdict:
    """One test command's outcome on one mutant."""

    outcome: str  # killed | timeout | survived | error | implied
    exit_code: int | None
    seconds: float
    tests: int = 0  # test files/ids selected (whole suite with the coverage map)
    failed: str = ""  # the first failing test pytest names, if any


@dataclass
class MutantResult:
    job_id: str
    module: str
    line: int
    end_line: int
    operator: str
    occurrence: int
    definition: str
    diff: str
    props: Verdict | None = None
    whole: Verdict | None = None
    notes: list[str] = field(default_factory=list)


# -- the copy -------------------------------------------------------------------------


def tracked_files(root: Path) -> list[str]:
    """Files of the working tree git knows or would add (not ignored ones)."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    return [p for p in out.decode().split("\0") if p and (root / p).is_file()]


def make_copy(root: Path, dest: Path, ref: str | None = None) -> Path:
    """A copy of the repository's files at ``dest`` (created); returns ``dest``.  With
    ``ref`` (a branch or commit), the files as committed there (``git archive``), not
    the working tree: to measure another branch's suite without touching its tree."""
    if ref is not None:
        dest.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", ref], cwd=root, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return dest
    for rel in tracked_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
    return dest


# -- enumeration and sampling ---------------------------------------------------------


def annotation_lines(source: str) -> set[tuple[int, int]]:
    """(line, col) positions covered by type annotations, as spans per line."""
    spans: set[tuple[int, int]] = set()
    tree = ast.parse(source)
    nodes: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            nodes.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            nodes.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            nodes.append(node.annotation)
    for ann in nodes:
        end_line = ann.end_lineno or ann.lineno
        end_col = ann.end_col_offset or 0
        for line in range(ann.lineno, end_line + 1):
            start = ann.col_offset if line == ann.lineno else 0
            stop = end_col if line == end_line else 10_000
            spans.update((line, c) for c in range(start, stop))
    return spans


def scoped_lines(source: str, names: Sequence[str]) -> set[int]:
    """Lines of the top-level functions and classes called ``names`` (decorators too)."""
    lines: set[int] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in names:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines.update(range(first, (node.end_lineno or node.lineno) + 1))
    return lines


def enumerate_mutants(copy: Path, modules: Sequence[str], session: Path) -> list[Any]:
    """cosmic-ray's work items for ``modules`` (paths relative to ``copy``), minus the
    ones inside type annotations and outside :data:`SCOPE`; the session database is
    (re)created at ``session``."""
    from cosmic_ray.commands.init import init
    from cosmic_ray.work_db import WorkDB, use_db

    previous = Path.cwd()
    os.chdir(copy)  # cosmic-ray stores the module paths as given: keep them relative
    try:
        with use_db(str(session), WorkDB.Mode.create) as db:
            init([Path(m) for m in modules], db, {})
            items = list(db.work_items)
    finally:
        os.chdir(previous)
    annotated = {m: annotation_lines((copy / m).read_text()) for m in modules}
    scoped = {m: scoped_lines((copy / m).read_text(), SCOPE[m]) for m in modules if m in SCOPE}
    kept = []
    for item in items:
        spec = item.mutations[0]
        module = str(spec.module_path)
        line, col = spec.start_pos
        if (line, col) in annotated[module]:
            continue
        if module in scoped and line not in scoped[module]:
            continue
        kept.append(item)
    return kept


def stratified_sample(items: Sequence[Any], n: int | None, seed: int) -> list[Any]:
    """``n`` items split evenly over the modules (their :func:`stratum`: the issue's
    modules; a module with fewer mutants gives its share to the others), each module's
    drawn with ``random.Random(seed)``; all items when ``n`` is None.  Even, not
    proportional: the score is reported per module, and a small module (the plan) needs
    as many draws as a big one (the schedule)."""
    by_module: dict[str, list[Any]] = defaultdict(list)
    for item in sorted(items, key=_key):
        by_module[stratum(str(item.mutations[0].module_path))].append(item)
    if n is None or n >= len(items):
        return sorted(items, key=_key)
    quota = dict.fromkeys(by_module, 0)
    left = n
    while left:
        open_ = [m for m in sorted(by_module) if quota[m] < len(by_module[m])]
        for m in open_[:left] if len(open_) > left else open_:
            quota[m] += 1
            left -= 1
            if not left:
                break
    rng = random.Random(seed)
    chosen: list[Any] = []
    for module in sorted(by_module):
        chosen += rng.sample(by_module[module], quota[module])
    return sorted(chosen, key=_key)


def _key(item: Any) -> tuple[str, int, str, int]:
    spec = item.mutations[0]
    return (str(spec.module_path), spec.start_pos[0], spec.operator_name, spec.occurrence)


def mutate(source: str, spec: Any) -> str | None:
    """The module's source with cosmic-ray's mutation applied (None: nothing to mutate)."""
    import cosmic_ray.plugins
    from cosmic_ray.mutating import mutate_code

    operator = cosmic_ray.plugins.get_operator(spec.operator_name)(**(spec.operator_args or {}))
    result: str | None = mutate_code(source, operator, spec.occurrence)
    return result


# -- the coverage map -----------------------------------------------------------------


def build_coverage_map(
    copy: Path, modules: Sequence[str], out: Path, timeout: float, tests: Sequence[str] = ()
) -> None:
    """Run the whole suite (or ``tests``) once under ``coverage run`` with per-test
    contexts and write {module: {line: [pytest node ids]}} to ``out``."""
    rc = copy / ".mutation-coveragerc"
    data = copy / ".mutation-coverage"
    rc.write_text(
        "[run]\ndynamic_context = test_function\n"
        f"data_file = {data}\ninclude =\n" + "".join(f"    {copy / m}\n" for m in modules)
    )
    cmd = [sys.executable, "-m", "coverage", "run", f"--rcfile={rc}", *PYTEST, *tests]
    print(f"building the coverage map: {' '.join(cmd)} (in {copy})", flush=True)
    subprocess.run(cmd, cwd=copy, env=_env(copy, "ci"), timeout=timeout, check=False)
    write_coverage_map(data, copy, modules, out)


def write_coverage_map(data: Path, tree: Path, modules: Sequence[str], out: Path) -> None:
    """Coverage data recorded with ``dynamic_context = test_function`` over the tree at
    ``tree`` -> {module: {line: [pytest node ids]}} in ``out``."""
    import coverage

    cov = coverage.CoverageData(basename=str(data))
    cov.read()
    tests = {p.relative_to(tree).as_posix() for p in (tree / "tests").rglob("test_*.py")}
    result: dict[str, dict[str, list[str]]] = {}
    for module in modules:
        by_line = cov.contexts_by_lineno(str(tree / module))
        # "" is code run outside any test: at import (module constants, def lines and
        # their defaults, decorators), which every test depends on: AT_IMPORT
        result[module] = {str(line): _tests_of(ctxs, tests) for line, ctxs in by_line.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=0, sort_keys=True))
    print(f"wrote {out}", flush=True)


def _tests_of(contexts: Iterable[str], test_files: set[str]) -> list[str]:
    found: set[str] = set()
    for context in contexts:
        node = AT_IMPORT if not context else _node_id(context, test_files)
        if node is not None:
            found.add(node)
    return sorted(found)


def _node_id(context: str, test_files: set[str]) -> str | None:
    """``tests.cleanup.test_x.TestX.test_y`` -> ``tests/cleanup/test_x.py::TestX::test_y``."""
    parts = context.split(".")
    for i in range(len(parts) - 1, 0, -1):
        path = "/".join(parts[:i]) + ".py"
        if path in test_files:
            return "::".join([path, *parts[i:]])
    return None


#: the whole suite as far as it can see cleanup: faultdns never imports cleanup (the
#: architecture test enforces it), so its tests run the same under any cleanup mutant
NOT_FAULTDNS = ["--ignore=tests/faultdns"]

#: the coverage map's mark for a line run at import time, before any test
AT_IMPORT = "*"


def select_tests(
    cov_map: dict[str, dict[str, list[str]]],
    module: str,
    lines: range,
    *,
    props: bool = False,
    named_only: bool = False,
) -> list[str] | None:
    """The tests that execute any of ``lines`` of ``module``: of the property suite
    (``props``), or of the rest of the suite (the property suite already ran).  None
    when a line runs at import: then every test depends on it.  A test that never
    executes a mutated line runs exactly as on the real module (hypothesis is
    derandomized, time is virtual), so it cannot kill the mutant: leaving it out
    changes the cost, not the verdict.  ``named_only``: for such a line, the tests the map
    names anyway (a kill is a kill; a survival is then only a lower bound of the suite's
    power, and the caller says so)."""
    by_line = cov_map.get(module, {})
    chosen = {t for line in lines for t in by_line.get(str(line), ())}
    if AT_IMPORT in chosen and not named_only:
        return None
    chosen.discard(AT_IMPORT)
    return sorted(t for t in chosen if t.startswith(PROPS) == props)


# -- running --------------------------------------------------------------------------


def _env(copy: Path, profile: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy), *filter(None, [env.get("PYTHONPATH")])])
    env["HYPOTHESIS_PROFILE"] = profile
    env.pop("SIM_MUTANT", None)
    return env


def run_pytest(copy: Path, args: Sequence[str], profile: str, timeout: float) -> Verdict:
    cmd = [sys.executable, *PYTEST, "-x", "-rf", *args]
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            cwd=copy,
            env=_env(copy, profile),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Verdict("timeout", None, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    failed = ""
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            failed = line.split(" ", 1)[1].split(" - ", 1)[0]
            break
    code = proc.returncode
    outcome = {0: "survived", 1: "killed", 2: "killed", 5: "survived"}.get(code, "error")
    return Verdict(outcome, code, seconds, failed=failed)


def killed(v: Verdict | None) -> bool:
    return v is not None and v.outcome in ("killed", "timeout", "implied")


def test_one(
    copy: Path,
    item: Any,
    suites: str,
    cov_map: dict[str, dict[str, list[str]]] | None,
    whole_all: bool,
    timeout: float,
    whole_timeout: float,
    earlier: Verdict | None = None,
    props_map: dict[str, dict[str, list[str]]] | None = None,
    named_only: bool = False,
) -> MutantResult:
    spec = item.mutations[0]
    module = str(spec.module_path)
    path = copy / module
    original = path.read_text()
    result = MutantResult(
        job_id=item.job_id,
        module=module,
        line=spec.start_pos[0],
        end_line=spec.end_pos[0],
        operator=spec.operator_name,
        occurrence=spec.occurrence,
        definition=str(spec.definition_name or ""),
        diff="",
    )
    mutated = mutate(original, spec)
    whole_args: list[str] = []
    if mutated is None:
        result.notes.append("cosmic-ray could not apply the mutation")
        return result
    result.diff = "\n".join(
        difflib.unified_diff(
            original.splitlines(), mutated.splitlines(), f"a/{module}", f"b/{module}", lineterm=""
        )
    )
    try:
        path.write_text(mutated)
        if earlier is not None:
            result.props = earlier
        elif suites in ("props", "both"):
            chosen: list[str] | None = [PROPS]
            if props_map is not None:
                lines = range(result.line, result.end_line + 1)
                chosen = select_tests(props_map, module, lines, props=True)
            if chosen is None:
                chosen = [PROPS]
            if chosen:
                result.props = run_pytest(copy, chosen, "mutants", timeout)
                result.props.tests = len(chosen)
            else:
                result.props = Verdict("survived", None, 0.0)
                result.notes.append("no property test executes this line")
        if suites in ("whole", "both"):
            if killed(result.props) and not whole_all:
                assert result.props is not None
                result.whole = Verdict("implied", None, 0.0, failed=result.props.failed)
            elif whole_all:
                whole_args = []
                result.whole = run_pytest(copy, [], "ci", whole_timeout)
            else:
                assert cov_map is not None
                lines = range(result.line, result.end_line + 1)
                tests = select_tests(cov_map, module, lines, named_only=named_only)
                if named_only and AT_IMPORT in {
                    t for n in lines for t in cov_map.get(module, {}).get(str(n), ())
                }:
                    result.notes.append(
                        "a line run at import or in a thread: only the tests the map names "
                        "ran (--named-only), a survival is a lower bound"
                    )
                if tests is None:
                    whole_args = list(NOT_FAULTDNS)
                    result.whole = run_pytest(copy, whole_args, "ci", whole_timeout)
                    result.notes.append("a line run at import: the whole suite ran")
                elif not tests:
                    result.whole = Verdict("survived", None, 0.0)
                    result.notes.append("no test of the whole suite executes this line")
                else:
                    whole_args = tests
                    result.whole = run_pytest(copy, tests, "ci", whole_timeout)
                    result.whole.tests = len(tests)
    finally:
        path.write_text(original)
    whole = result.whole
    if whole is not None and whole.outcome == "killed" and whole.failed:
        # A test that fails on the real module too (a load-sensitive test on a busy
        # machine) proves nothing about the mutant: the run is repeated without it.
        flaky = whole.failed.split(" ", 1)[0]
        again = run_pytest(copy, [flaky], "ci", whole_timeout)
        if again.outcome == "killed":
            result.notes.append(f"{flaky} fails on the real module too: deselected")
            path.write_text(mutated)
            try:
                args = [*whole_args, "--deselect", flaky]
                result.whole = run_pytest(copy, args, "ci", whole_timeout)
            finally:
                path.write_text(original)
    return result


# -- reporting ------------------------------------------------------------------------


def score(results: Iterable[MutantResult], suite: str) -> tuple[int, int]:
    """(killed, counted) for ``suite``: runs that errored are not counted."""
    verdicts = [getattr(r, suite) for r in results]
    counted = [v for v in verdicts if v is not None and v.outcome != "error"]
    return sum(killed(v) for v in counted), len(counted)


def summary_table(results: Sequence[MutantResult]) -> str:
    """A markdown table: per module, the sample size and both suites' scores."""
    rows = ["| module | mutants | props killed | props score | whole killed | whole score |"]
    rows.append("|---|---:|---:|---:|---:|---:|")
    groups: dict[str, list[MutantResult]] = defaultdict(list)
    for r in results:
        groups[r.module].append(r)
        if r.module in STRATUM:  # a part: a row of its own and one for the whole module
            groups[f"{stratum(r.module)} (all parts)"].append(r)
    for module in [*sorted(groups), "all"]:
        rs = results if module == "all" else groups[module]
        pk, pn = score(rs, "props")
        wk, wn = score(rs, "whole")
        rows.append(
            f"| {'**all**' if module == 'all' else f'`{module}`'} | {len(rs)} | {pk}/{pn} | "
            f"{_pct(pk, pn)} | {wk}/{wn} | {_pct(wk, wn)} |"
        )
    return "\n".join(rows)


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.0f}%" if n else "-"


def write_back(session: Path, results: Sequence[MutantResult]) -> None:
    """The props verdicts into cosmic-ray's session (``cr-report`` shows them)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    outcomes = {"killed": TestOutcome.KILLED, "timeout": TestOutcome.KILLED}
    with use_db(str(session), WorkDB.Mode.open) as db:
        for r in results:
            if r.props is None:
                continue
            if r.props.outcome == "error":
                res = WorkResult(worker_outcome=WorkerOutcome.ABNORMAL, diff=r.diff)
            else:
                res = WorkResult(
                    worker_outcome=WorkerOutcome.NORMAL,
                    test_outcome=outcomes.get(r.props.outcome, TestOutcome.SURVIVED),
                    diff=r.diff,
                    output=r.props.failed,
                )
            db.set_result(r.job_id, res)


#: the hand review of survivors: mutant id -> {"verdict", "kind", "why", "after"}
#: (``after``: what a later suite did with it, e.g. killed by the issue-11 properties)
REVIEW = ROOT / "bench" / "mutation_review.json"


def in_scope(results: Iterable[MutantResult]) -> list[MutantResult]:
    """The results whose line is in :data:`SCOPE` as it stands now (a run made before
    the scope was narrowed is reported on the current scope)."""
    cache: dict[str, set[int] | None] = {}
    kept = []
    for r in results:
        if r.module not in cache:
            names = SCOPE.get(r.module)
            cache[r.module] = (
                None if names is None else scoped_lines((ROOT / r.module).read_text(), names)
            )
        lines = cache[r.module]
        if lines is None or r.line in lines:
            kept.append(r)
    return kept


def render_survivors(report: dict[str, Any], review: dict[str, dict[str, str]]) -> str:
    """Markdown, one section per mutant the property suite did not kill: where, the
    diff, which suite kills it, and the review (``open`` until someone judges it)."""
    results = in_scope(_result(m) for m in report["mutants"])
    out = [
        f"Sample: {report['sample']} mutants (seed {report['seed']}) of {report['population']}, "
        f"{report['tool']}, commit {report['commit']}, {report['date']}.",
        "",
        summary_table(results),
        "",
    ]
    if len(results) != len(report["mutants"]):
        out[0] += f" {len(report['mutants']) - len(results)} out of the current scope left out."
    for r in results:
        if r.props is None or killed(r.props) or r.props.outcome == "error":
            continue
        ident = f"{r.module}:{r.line}:{r.operator}:{r.occurrence}"
        whole = r.whole.outcome if r.whole else "not run"
        if r.whole and r.whole.failed:
            whole += f" (first failing: `{r.whole.failed}`)"
        judged = review.get(ident, {})
        out += [
            f"### {r.module}:{r.line} `{r.operator.removeprefix('core/')}` in `{r.definition}`",
            "",
            f"- id: `{ident}`",
            f"- property suite: {r.props.outcome}; whole suite: {whole}",
            f"- review: **{judged.get('verdict', 'open')}**"
            + (f" (kind {judged['kind']})" if judged.get("kind") else "")
            + (f": {judged['why']}" if judged.get("why") else ""),
            *([f"- after: {judged['after']}"] if judged.get("after") else []),
            *([f"- {judged['whole']}"] if judged.get("whole") else []),
            "",
            "```diff",
            r.diff,
            "```",
            "",
        ]
    return "\n".join(out)


def _result(m: dict[str, Any]) -> MutantResult:
    fields = {k: v for k, v in m.items() if k not in ("props", "whole")}
    r = MutantResult(**fields)
    r.props = Verdict(**m["props"]) if m.get("props") else None
    r.whole = Verdict(**m["whole"]) if m.get("whole") else None
    return r


# -- main -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--modules", default=",".join(MODULES), help="comma-separated module paths")
    p.add_argument("--sample", type=int, metavar="N", help="N mutants, stratified by module")
    p.add_argument("--seed", type=int, default=11, metavar="S", help="sampling seed")
    p.add_argument("--suite", choices=("props", "whole", "both"), default="both")
    p.add_argument("--whole-all", action="store_true",
                   help="run the complete suite on every mutant (no coverage map)")  # fmt: skip
    p.add_argument("--coverage-map", type=Path, default=DEFAULT_MAP, metavar="PATH")
    p.add_argument("--props-map", type=Path, metavar="PATH",
                   help="a coverage map of the property suite alone: run only its tests "
                   "that execute the mutated lines (same verdict, less time)")  # fmt: skip
    p.add_argument("--named-only", action="store_true",
                   help="for a line run at import or in a thread, run only the tests the "
                   "map names instead of the whole suite (survivals are lower bounds)")  # fmt: skip
    p.add_argument("--map-tests", nargs="+", default=[], metavar="TEST",
                   help="with --build-coverage-map: map these tests only")  # fmt: skip
    p.add_argument("--build-coverage-map", action="store_true",
                   help="build the map (the whole suite under coverage), then exit")  # fmt: skip
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="mutants at a time")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S",
                   help="seconds per property-suite run")  # fmt: skip
    p.add_argument("--whole-timeout", type=float, default=1800.0, metavar="S")
    p.add_argument("--out", type=Path, metavar="PATH", help="JSON results (default: print)")
    p.add_argument("--session", type=Path, metavar="PATH",
                   help="cosmic-ray session database (default: .mutation/OUT.sqlite)")  # fmt: skip
    p.add_argument("--list", action="store_true", help="print the sample and exit")
    p.add_argument("--only", metavar="IDS", help="comma-separated module:line:operator:occurrence")
    p.add_argument("--ref", metavar="REF",
                   help="measure the tree committed at REF (another branch's suite)")  # fmt: skip
    p.add_argument("--props-from", type=Path, metavar="JSON",
                   help="take the props verdicts from an earlier run's results")  # fmt: skip
    p.add_argument("--survivors", nargs=2, type=Path, metavar=("JSON", "MD"),
                   help="render a results file's survivors as markdown, then exit")  # fmt: skip
    args = p.parse_args(argv)
    args.modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    for m in args.modules:
        if not (ROOT / m).is_file():
            p.error(f"--modules: {m} is not a file under {ROOT}")
    if args.sample is not None and args.sample < 1:
        p.error(f"--sample: must be at least 1, got {args.sample}")
    if args.jobs < 1:
        p.error(f"--jobs: must be at least 1, got {args.jobs}")
    return args


def mutant_id(item: Any) -> str:
    spec = item.mutations[0]
    return f"{spec.module_path}:{spec.start_pos[0]}:{spec.operator_name}:{spec.occurrence}"


@contextlib.contextmanager
def copies(n: int, ref: str | None = None) -> Iterator[list[Path]]:
    with tempfile.TemporaryDirectory(prefix="retrylab-mutation-") as tmp:
        yield [make_copy(ROOT, Path(tmp) / f"copy{i}", ref) for i in range(n)]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.survivors:
        results, markdown = args.survivors
        review = json.loads(REVIEW.read_text()) if REVIEW.is_file() else {}
        markdown.write_text(render_survivors(json.loads(results.read_text()), review))
        print(f"wrote {markdown}")
        return 0
    earlier: dict[str, Verdict] = {}
    if args.props_from:
        for m in json.loads(args.props_from.read_text())["mutants"]:
            r = _result(m)
            if r.props is not None:
                earlier[f"{r.module}:{r.line}:{r.operator}:{r.occurrence}"] = r.props
    with copies(args.jobs, args.ref) as trees:
        if args.build_coverage_map:
            build_coverage_map(trees[0], args.modules, args.coverage_map, 4 * 3600, args.map_tests)
            return 0
        session = args.session or (
            ROOT / ".mutation" / f"{args.out.stem}.sqlite"
            if args.out
            else Path(tempfile.mkdtemp()) / "s.sqlite"
        )
        session = session.resolve()  # enumerate_mutants works from inside the copy
        session.parent.mkdir(parents=True, exist_ok=True)
        items = enumerate_mutants(trees[0], args.modules, session)
        chosen = stratified_sample(items, args.sample, args.seed)
        if args.only:  # in the order given: the most telling first, if time is short
            by_id = {mutant_id(i): i for i in items}
            wanted = [w.strip() for w in args.only.split(",") if w.strip()]
            unknown = [w for w in wanted if w not in by_id]
            if unknown:
                print(f"--only: no such mutant {unknown[0]!r}", file=sys.stderr)
                return 2
            chosen = [by_id[w] for w in wanted]
        print(f"{len(items)} mutants (annotations left out); {len(chosen)} chosen", flush=True)
        if args.list:
            for item in chosen:
                print(mutant_id(item))
            return 0
        cov_map = None
        if args.suite in ("whole", "both") and not args.whole_all:
            if not args.coverage_map.is_file():
                print(
                    f"--coverage-map: {args.coverage_map} not found; build it with "
                    "--build-coverage-map (or pass --whole-all)",
                    file=sys.stderr,
                )
                return 2
            cov_map = json.loads(args.coverage_map.read_text())
        props_map = json.loads(args.props_map.read_text()) if args.props_map else None
        free: queue.Queue[Path] = queue.Queue()
        for t in trees:
            free.put(t)
        lock = threading.Lock()
        done: list[MutantResult] = []
        partial = args.out.with_suffix(".partial.jsonl") if args.out else None
        if partial is not None:
            partial.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text("")

        def one(item: Any) -> MutantResult:
            tree = free.get()
            try:
                r = test_one(
                    tree, item, args.suite, cov_map, args.whole_all, args.timeout,
                    args.whole_timeout, earlier.get(mutant_id(item)), props_map,
                    args.named_only,
                )  # fmt: skip
            finally:
                free.put(tree)
            with lock:
                done.append(r)
                if partial is not None:  # survives a run cut short
                    with partial.open("a") as f:
                        f.write(json.dumps(asdict(r)) + "\n")
                p = r.props.outcome if r.props else "-"
                w = r.whole.outcome if r.whole else "-"
                print(
                    f"[{len(done)}/{len(chosen)}] {r.module}:{r.line} {r.operator} "
                    f"props={p} whole={w}",
                    flush=True,
                )
            return r

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(one, chosen))
    write_back(session, results)
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _commit(args.ref),
        "tool": f"cosmic-ray {_version('cosmic-ray')}",
        "modules": args.modules,
        "population": len(items),
        "sample": args.sample,
        "seed": args.seed,
        "suite": args.suite,
        "whole_selection": "all" if args.whole_all else "coverage map",
        "seconds": round(time.perf_counter() - started, 1),
        "mutants": [asdict(r) for r in results],
    }
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out} and the session {session}")
    print(summary_table(results))
    return 0


def _commit(ref: str | None = None) -> str:
    proc = subprocess.run(
        ["git", "rev-parse", ref or "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if ref is not None:
        return proc.stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "cleanup", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return proc.stdout.strip() + ("+dirty" if dirty else "")


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    sys.exit(main())

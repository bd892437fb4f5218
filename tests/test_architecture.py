"""The dependency rule: sim -> (cleanup, faultdns); cleanup and faultdns stand alone.

cleanup is the code under test and faultdns the peer that tests it; if either imported
the other, a bug in one could hide behind the other, and cleanup could not ship alone.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "cleanup": {"faultdns", "sim"},
    "faultdns": {"cleanup", "sim"},
    "sim": set(),
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_one_way(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    offenders = {file: bad for file, bad in offenders.items() if bad}
    assert not offenders, f"{package} must not import {sorted(FORBIDDEN[package])}: {offenders}"


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_public_api_is_declared(package: str) -> None:
    module = __import__(package)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{package}/__init__.py must declare __all__"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ names missing attributes: {missing}"


def test_forbidden_import_is_detected(tmp_path: Path) -> None:
    sample = tmp_path / "mod.py"
    sample.write_text("import os\nfrom faultdns._server import X\nfrom . import y\n")
    assert imported_packages(sample) == {"os", "faultdns"}


#: what the property suite's specifications may import (issue 11): the standard
#: library and each other, never the code under test or the simulation (a
#: specification that asks ``cleanup`` or ``sim`` what to expect checks nothing)
SPEC_DIR = ROOT / "tests" / "sim" / "spec"
SPEC_ALLOWED_PROJECT = {"tests"}


def test_specifications_import_nothing_from_the_code_they_judge() -> None:
    offenders: dict[str, list[str]] = {}
    for path in sorted(SPEC_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        bad = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in FORBIDDEN or (
                    top in SPEC_ALLOWED_PROJECT and not name.startswith("tests.sim.spec")
                ):
                    bad.append(name)
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert SPEC_DIR.is_dir()
    assert not offenders, f"specifications must not import the code they judge: {offenders}"


#: the packages ``sim`` models and drives, which it may use only through their public API
MODELLED = ("cleanup", "faultdns")
#: where only the public API of :data:`MODELLED` may be imported (issue 12): the
#: simulation, and the specifications (which import none of it at all, above)
PUBLIC_ONLY = (ROOT / "sim", SPEC_DIR)


def _public_module(name: str, packages: tuple[str, ...] = MODELLED) -> bool:
    """Whether ``name`` is one of ``packages`` or one of its public submodules (no ``_``
    part: ``cleanup.dnsrules``, ``faultdns.testing``, not ``cleanup._schedule``)."""
    parts = name.split(".")
    return parts[0] in packages and not any(part.startswith("_") for part in parts[1:])


def _public_name(module: str, name: str) -> bool:
    """Whether ``from module import name`` takes a public name: one in the module's
    ``__all__``, or a public submodule of it."""
    imported = importlib.import_module(module)
    if name in getattr(imported, "__all__", ()):
        return True
    return (
        not name.startswith("_")
        and hasattr(imported, "__path__")  # a package: ``name`` may be a submodule
        and importlib.util.find_spec(f"{module}.{name}") is not None
    )


def private_uses(path: Path, packages: tuple[str, ...] = MODELLED) -> list[str]:
    """What ``path`` takes from ``packages`` past the public API, as written: a
    private module imported (``cleanup._schedule``), a name outside a public module's
    ``__all__`` (``from cleanup.dnsrules import encode_name``, ``from cleanup import
    _x``), or a private attribute reached through a package (``cleanup._exchange.X`` is
    reported as ``cleanup._exchange``).  Dunders (``cleanup.__file__``) are every
    module's and allowed."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                alias.name
                for alias in node.names
                if alias.name.split(".")[0] in packages and not _public_module(alias.name, packages)
            ]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] not in packages:
                continue
            if not _public_module(node.module, packages):
                found.append(node.module)
                continue
            found += [
                f"{node.module}.{alias.name}"
                for alias in node.names
                if not _public_name(node.module, alias.name)
            ]
        elif isinstance(node, ast.Attribute) and not node.attr.startswith("__"):
            chain = [node.attr]
            value: ast.expr = node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in packages:
                dotted = ".".join([value.id, *reversed(chain)])
                if node.attr.startswith("_"):
                    found.append(dotted)
    return found


def test_sim_uses_only_the_public_api_of_what_it_models() -> None:
    """sim (and the specifications) reach cleanup and faultdns only through ``__all__``
    and the public submodules: a rule the evaluator shares with cleanup has a public
    home, so there is one copy of it and a newcomer can see what sim depends on."""
    offenders = {
        str(path.relative_to(ROOT)): bad
        for root in PUBLIC_ONLY
        for path in sorted(root.rglob("*.py"))
        if (bad := private_uses(path))
    }
    assert not offenders, f"private parts of {MODELLED} used: {offenders}"


def test_a_private_use_is_detected(tmp_path: Path) -> None:
    """Each way past the public API is caught; the public ways are not."""
    sample = tmp_path / "mod.py"
    sample.write_text(
        "import cleanup\n"
        "import cleanup.dnsrules\n"
        "import faultdns._sandbox\n"
        "from cleanup import Backoff, dnsrules\n"
        "from cleanup import _schedule\n"
        "from cleanup._exchange import HALF_NS\n"
        "from cleanup.dnsrules import encode_name, server_sequence\n"
        "from faultdns.testing import run_with_resolv_conf\n"
        "from . import _local\n"
        "cleanup.__file__, cleanup.dnsrules.walk_query, cleanup._schedule.to_ns\n"
    )
    assert private_uses(sample) == [
        "faultdns._sandbox",
        "cleanup._schedule",
        "cleanup._exchange",
        "cleanup.dnsrules.encode_name",
        "cleanup._schedule",
    ]


#: bench/ measures all three packages and, like sim, takes cleanup's and faultdns's
#: public API only, and sim's too, but where a benchmark times or stresses a part of
#: sim that is no API (issue 12): each such file, the private modules it may reach
#: and why.  Nothing of cleanup or faultdns is excepted.
BENCH_DIR = ROOT / "bench"
BENCH_PRIVATE: dict[str, dict[str, str]] = {
    "tune_bench.py": {
        "sim._evaluate": "times the vectorised evaluator's kernel (generate, "
        "evaluate_batch, draws_needed) below the public evaluate/run_sweep",
        "sim._world": "times the world model's batch generator (generate_worlds), "
        "which only the tuner uses",
    },
    "fidelity_bench.py": {
        "sim._fidelity": "times the Go differential oracle (its cases, probe and "
        "named cases), a test instrument inside sim, not API",
    },
    "determinism_stress.py": {
        "sim._dns": "slows the DNS peer's private hot path (DNSPeer._turn) to stress "
        "the virtual clock",
        "sim._repo_server": "slows the repo server's private hot path "
        "(RepoServer._service) likewise",
    },
}


def test_bench_uses_only_the_public_api_but_where_it_says_why() -> None:
    """bench/ reaches cleanup, faultdns and sim through their public API; the only
    private uses are sim's, listed with their reason in :data:`BENCH_PRIVATE` (and
    each listed one is still needed, so the list cannot go stale)."""
    offenders: dict[str, list[str]] = {}
    used: set[tuple[str, str]] = set()
    for path in sorted(BENCH_DIR.glob("*.py")):
        allowed = BENCH_PRIVATE.get(path.name, {})
        bad = []
        for use in private_uses(path, ("cleanup", "faultdns", "sim")):
            owner = next((m for m in allowed if use == m or use.startswith(m + ".")), None)
            if owner is None:
                bad.append(use)
            else:
                used.add((path.name, owner))
        if bad:
            offenders[path.name] = bad
    assert not offenders, f"bench/ uses private parts without a reason: {offenders}"
    listed = {(name, module) for name, modules in BENCH_PRIVATE.items() for module in modules}
    assert listed == used, f"exceptions no longer needed: {sorted(listed - used)}"


def test_a_private_use_of_sim_is_detected_for_bench(tmp_path: Path) -> None:
    """The bench check asks about sim too: its private modules and names outside
    ``sim.__all__`` are caught, its public names and submodules are not."""
    sample = tmp_path / "bench.py"
    sample.write_text(
        "import sim._dns\n"
        "from sim import Harness, load_scenario\n"
        "from sim._world import generate_worlds\n"
        "from sim.strategies import timelines\n"
        "from sim import _tune\n"
        "from cleanup.dnsrules import judge_reply\n"
    )
    assert private_uses(sample, ("cleanup", "faultdns", "sim")) == [
        "sim._dns",
        "sim._world",
        "sim._tune",
    ]

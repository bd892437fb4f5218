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


def _public_module(name: str) -> bool:
    """Whether ``name`` is a package of :data:`MODELLED` or one of its public submodules
    (no ``_`` part: ``cleanup.dnsrules``, ``faultdns.testing``, not ``cleanup._schedule``)."""
    parts = name.split(".")
    return parts[0] in MODELLED and not any(part.startswith("_") for part in parts[1:])


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


def private_uses(path: Path) -> list[str]:
    """What ``path`` takes from :data:`MODELLED` past the public API, as written: a
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
                if alias.name.split(".")[0] in MODELLED and not _public_module(alias.name)
            ]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] not in MODELLED:
                continue
            if not _public_module(node.module):
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
            if isinstance(value, ast.Name) and value.id in MODELLED:
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

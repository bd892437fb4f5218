"""The dependency rule: sim -> (cleanup, faultdns); cleanup and faultdns stand alone.

cleanup is the code under test and faultdns the peer that tests it; if either imported
the other, a bug in one could hide behind the other, and cleanup could not ship alone.
"""

from __future__ import annotations

import ast
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

"""The public surface of each package: every export documented, every type it speaks
exported.

As hypothesis checks its ``__all__``: a newcomer reads ``package.__all__`` and the
docstrings, and must not need a private module to name what the API takes or returns.
Two rules, per package in :data:`PACKAGES`:

1. Every name in ``__all__`` is documented: a class, function or module by a docstring
   of its own (not one inherited from a builtin); a constant or type alias by a ``#:``
   comment on the line above its assignment, or a trailing comment on it, in the
   module that defines it.
2. Every class of the package that a public signature or public class field names
   (parameters, return types, dataclass fields, element types inside ``list[...]``,
   ``X | None``...) is itself in ``__all__``.
3. Every exported ``Protocol`` is ``runtime_checkable``: a caller (and faultdns itself,
   for ``ListenerClock``) tells implementations apart with ``isinstance``, and the real
   implementations pass that check.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: the packages whose public surface is held to these rules
PACKAGES = (
    "faultdns",
    "faultdns.testing",
    "sim",
    "sim.strategies",
    "cleanup",
    "cleanup.events",
    "cleanup.testing",
    "cleanup.dnsrules",
    "cleanup.durations",
)


def exports(package: str) -> dict[str, Any]:
    module = importlib.import_module(package)
    return {name: getattr(module, name) for name in module.__all__}


def own_doc(obj: Any) -> str:
    """The object's own docstring ('' when it has none or only inherits one)."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    return (doc or "").strip()


def _defining_sources(package: str) -> Iterator[Path]:
    root = Path(importlib.import_module(package).__file__ or "").parent
    yield from sorted(root.rglob("*.py"))


def documented_constant(package: str, name: str) -> bool:
    """Whether ``name`` is assigned somewhere in the package with a ``#:`` comment above
    it or a comment on its line."""
    for path in _defining_sources(package):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.parse(text).body:
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            if not any(isinstance(t, ast.Name) and t.id == name for t in targets):
                continue
            above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
            if (
                above.startswith("#:")
                or "#" in lines[node.end_lineno - 1 if node.end_lineno else 0]
            ):
                return True
    return False


@pytest.mark.parametrize("package", PACKAGES)
def test_every_export_is_documented(package: str) -> None:
    undocumented = []
    for name, obj in exports(package).items():
        if inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
            if not own_doc(obj):
                undocumented.append(name)
        elif not documented_constant(package, name):
            undocumented.append(name)
    assert not undocumented, f"{package}: exported without documentation: {undocumented}"


def _classes_in(hint: Any) -> Iterator[type]:
    if isinstance(hint, type) and not typing.get_args(hint):
        yield hint
    for arg in typing.get_args(hint):
        yield from _classes_in(arg)
    origin = typing.get_origin(hint)
    if isinstance(origin, type) and origin is not types.UnionType:
        yield origin


def _hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj)
    except (NameError, TypeError):  # names imported only for type checking
        module = sys.modules.get(getattr(obj, "__module__", ""), None)
        namespace = dict(vars(module)) if module else {}
        for package in PACKAGES:
            namespace.update(exports(package))
        # still unresolvable: an error here, never a silently skipped signature
        return typing.get_type_hints(obj, globalns=namespace)


def _signatures(obj: Any) -> Iterator[tuple[str, Any]]:
    """(where, hints) for a public callable, or a class's fields and public methods."""
    if inspect.isclass(obj):
        yield obj.__name__, _hints(obj)
        for attr, member in vars(obj).items():
            if attr.startswith("_") and attr != "__init__":
                continue
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, property):
                member = member.fget
            if inspect.isfunction(member):
                yield f"{obj.__name__}.{attr}", _hints(member)
    elif inspect.isroutine(obj):
        yield obj.__name__, _hints(obj)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_type_the_api_speaks_is_exported(package: str) -> None:
    exported = exports(package)
    exported_ids = {id(obj) for obj in exported.values()}
    missing: dict[str, set[str]] = {}
    for obj in exported.values():
        for where, hints in _signatures(obj):
            for hint in hints.values():
                for cls in _classes_in(hint):
                    module = getattr(cls, "__module__", "")
                    if module.split(".")[0] == package and id(cls) not in exported_ids:
                        missing.setdefault(cls.__qualname__, set()).add(where)
    assert not missing, f"{package}: the API names types it does not export: {missing}"


def test_an_undocumented_export_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules can fail: a package with a bare class and a bare constant is refused."""
    pkg = tmp_path / "barepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        '__all__ = ["Bare", "LIMIT", "Said", "make"]\n'
        "class Bare: pass\n"
        "class Said:\n    '''A documented class.'''\n"
        "LIMIT = 3\n"
        "class Hidden:\n    '''Not exported.'''\n"
        "def make(x: Hidden) -> Said:\n    '''Make one.'''\n    return Said()\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys.modules[__name__], "PACKAGES", (*PACKAGES, "barepkg"))
    with pytest.raises(AssertionError, match=r"\['Bare', 'LIMIT'\]"):
        test_every_export_is_documented("barepkg")
    with pytest.raises(AssertionError, match="Hidden"):
        test_every_type_the_api_speaks_is_exported("barepkg")


def _implementations(protocol: str, tmp: Path) -> list[object]:
    """Real implementations of an exported Protocol, built without traffic."""
    import socket

    import cleanup
    import cleanup.testing
    import faultdns
    import sim

    store = tmp / "node.json"
    store.write_text('{"images": []}\n')
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.close()
    clocks: list[object] = [sim.SimClock(), sim.SocketlessClock(0.0)]
    known: dict[str, list[object]] = {
        "cleanup.Clock": [cleanup.SystemClock(), cleanup.testing.FastForwardClock(), *clocks],
        "cleanup.Resolver": [
            cleanup.StubResolver(["127.0.0.1"], clock=cleanup.SystemClock(), hosts=None),
            cleanup.SystemResolver(),
        ],
        "cleanup.ImageStore": [cleanup.MemoryStore(store)],
        "faultdns.Clock": [faultdns.MonotonicClock(), faultdns.ManualClock(), clocks[0]],
        "faultdns.ListenerClock": [faultdns.ManualClock(), clocks[0]],
        "faultdns.testing.SocketLike": [sock],
        "sim.WorldClock": clocks,
    }
    return known.get(protocol, [])


def _protocols() -> list[tuple[str, type]]:
    """Every exported ``Protocol`` class, by its public name, in name order."""
    found: dict[str, type] = {}
    for package in PACKAGES:
        for name, obj in exports(package).items():
            if isinstance(obj, type) and getattr(obj, "_is_protocol", False):
                found[f"{package}.{name}"] = obj
    return [(name, found[name]) for name in sorted(found)]


@pytest.mark.parametrize(("name", "protocol"), _protocols())
def test_every_exported_protocol_is_checkable_at_runtime(
    name: str, protocol: type, tmp_path: Path
) -> None:
    assert getattr(protocol, "_is_runtime_protocol", False), f"{name} is not runtime_checkable"
    assert not isinstance(object(), protocol), f"any object passes isinstance(x, {name})"
    for implementation in _implementations(name, tmp_path):
        assert isinstance(implementation, protocol), f"{implementation!r} is no {name}"

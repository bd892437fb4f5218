"""Issue 12: the exception tree drawn in ``cleanup._errors``'s docstring is the real one.

Every exception cleanup exports is drawn, under its real base class, and every input
error is under the package base class (and still a ``ValueError``).
"""

from __future__ import annotations

import re

import pytest

import cleanup
from cleanup import _errors


def drawn_tree() -> dict[str, str]:
    """``{class name: drawn parent}`` from the docstring's tree ("" for the root)."""
    doc = _errors.__doc__ or ""
    block = doc.split("::", 1)[1].split("\n\n", 2)[1]
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        found = re.match(r"^(\s*(?:[│ ]   )*)(?:[├└]── )?(\w+)", line)
        assert found, line
        depth, name = len(found.group(1)) + (4 if "── " in line else 0), found.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else ""
        stack.append((depth, name))
    return parents


EXCEPTIONS = sorted(
    name
    for name in cleanup.__all__
    if isinstance(getattr(cleanup, name), type) and issubclass(getattr(cleanup, name), Exception)
)


def test_the_tree_has_one_root_the_package_base() -> None:
    tree = drawn_tree()
    assert [name for name, parent in tree.items() if not parent] == ["CleanupError"]


@pytest.mark.parametrize("name", EXCEPTIONS)
def test_every_exported_exception_is_drawn_under_its_real_base(name: str) -> None:
    tree = drawn_tree()
    assert name in tree, f"{name} is exported but not drawn"
    cls = getattr(cleanup, name)
    if tree[name]:
        assert tree[name] in [base.__name__ for base in cls.__bases__]


@pytest.mark.parametrize(
    "name", ["PolicyError", "ResolvConfError", "InvalidReference", "StoreSpecError"]
)
def test_input_errors_are_under_the_package_base(name: str) -> None:
    cls = getattr(cleanup, name)
    assert issubclass(cls, cleanup.InputError)
    assert issubclass(cls, cleanup.CleanupError)
    assert issubclass(cls, ValueError)  # callers that caught ValueError still do

"""Plan files: a list of fault rules in TOML, loaded at start (``faultdns serve --plan``).

A plan is ``[[fault]]`` tables, one rule each, with the spec language's keys
(:mod:`faultdns._faults`; README "Fault spec reference" shows a plan), applied in file
order::

    [[fault]]
    action = "servfail"
    match = "a.test"
    first = 2

    [[fault]]
    spec = "delay=250ms match=*.svc.cluster.local"

Apart from the language because it is a file format over it: the file's own errors
(unreadable, not UTF-8, invalid TOML, a top-level key other than ``fault``) and the
table number an error names.  :func:`parse_plan` is pure; :func:`load_plan` reads the
file through :mod:`faultdns._files`, the same reading the zone file gets.
"""

from __future__ import annotations

from pathlib import Path

from faultdns._faults import FaultRule, FaultSpecError
from faultdns._files import parse_toml, read_text

__all__ = ["load_plan", "parse_plan"]


def load_plan(path: str | Path) -> list[FaultRule]:
    """Rules from a TOML plan file (see :func:`parse_plan`); FaultSpecError if unreadable."""
    path = Path(path)
    try:
        text = read_text(path, "TOML")
    except ValueError as exc:  # cannot read, a BOM or the first byte that is not UTF-8
        raise FaultSpecError(f"plan {path}: {exc}") from None
    return parse_plan(text, source=f"plan {path}")


def parse_plan(text: str, *, source: str = "plan") -> list[FaultRule]:
    """Rules from a TOML plan: ``[[fault]]`` tables with the spec's keys, in order.

    Raises FaultSpecError (a ValueError) naming ``source``, the table (``#N``) and the
    key, also for TOML nested past the parser's recursion limit.  Linear in the plan's
    size.
    """
    try:
        doc = parse_toml(text)
    except ValueError as exc:  # "invalid TOML: ..."
        raise FaultSpecError(f"{source}: {exc}") from None
    unknown = [k for k in doc if k != "fault"]
    if unknown:
        raise FaultSpecError(
            f"{source}: unknown top-level key {unknown[0]!r} (expected [[fault]] tables)"
        )
    tables = doc.get("fault", [])
    if not isinstance(tables, list):
        raise FaultSpecError(f"{source}: 'fault' must be an array of tables ([[fault]])")
    return [
        FaultRule.from_dict(table, where=f"{source}: [[fault]] #{i}")
        for i, table in enumerate(tables, 1)
    ]

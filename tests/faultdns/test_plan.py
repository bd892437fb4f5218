"""Plan files, without a network (faultdns._plan): ``[[fault]]`` tables in file order,
and every error naming the file, the table and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from faultdns._faults import FaultSpecError
from faultdns._plan import load_plan


def test_load_plan(tmp_path: Path) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(
        """
[[fault]]
action = "nxdomain"
match = "upgrade-repo-*.svc.cluster.local"
for = "30s"

[[fault]]
delay = "250ms"
p = 0.5

[[fault]]
action = "answer"
answer = "10.9.9.9"
match = "b.test"
qtype = "A"

[[fault]]
action = "lame"
qdcount = 2

[[fault]]
mismatch = "qdcount:3"
"""
    )
    rules = load_plan(plan)
    assert [r.spec for r in rules] == [
        "nxdomain match=upgrade-repo-*.svc.cluster.local for=30s",
        "delay=250ms p=0.5",
        "answer=10.9.9.9 match=b.test qtype=A",
        "lame qdcount=2",
        "mismatch=qdcount:3",
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            '[[fault]]\naction = "nxdomain"\n\n[[fault]]\nacton = "drop"\n',
            "[[fault]] #2: unknown key 'acton'",
        ),
        ('[[fault]]\naction = "drop"\nfirst = 0\n', "[[fault]] #1: first: expected a whole number"),
        (
            '[[fault]]\naction = "drop"\nqdcount = 2\n',
            "[[fault]] #1: qdcount= given with action 'drop'",
        ),
        ('[[fault]]\naction = "lame"\nqdcount = -1\n', "[[fault]] #1: qdcount: expected"),
        ("[[fault]\n", "invalid TOML"),
        ("seed = 3\n", "unknown top-level key 'seed'"),
        ('fault = "drop"\n', "array of tables"),
    ],
)
def test_load_plan_errors(tmp_path: Path, text: str, fragment: str) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text(text)
    with pytest.raises(FaultSpecError) as info:
        load_plan(plan)
    assert fragment in str(info.value)
    assert str(plan) in str(info.value)


def test_load_plan_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FaultSpecError, match="cannot read"):
        load_plan(tmp_path / "nope.toml")

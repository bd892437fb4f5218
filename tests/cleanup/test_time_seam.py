"""Issue 12: below the CLI, ``clock`` is required.

A resolver, transport or client that silently fell back to the system clock would mix
real and virtual time in a simulation with no error; a forgotten ``clock=`` must be a
``TypeError`` at the call, and only the CLI chooses ``SystemClock()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cleanup import StubResolver, SystemClock, make_http_client
from cleanup._backend import ClockNetworkBackend
from cleanup.testing import FastForwardClock

RESOLV_CONF = "nameserver 127.0.0.1\n"


def _resolver() -> StubResolver:
    return StubResolver(["127.0.0.1"], clock=FastForwardClock(), hosts=None)


# called through Any: the type checker would refuse these calls, which is the point
_Stub: Any = StubResolver
_Backend: Any = ClockNetworkBackend
_make_client: Any = make_http_client

FORGOTTEN: dict[str, Callable[[], object]] = {
    "StubResolver": lambda: _Stub(["127.0.0.1"], hosts=None),
    "StubResolver.from_resolv_conf": lambda: _Stub.from_resolv_conf(RESOLV_CONF, hosts=None),
    "ClockNetworkBackend": lambda: _Backend(_resolver()),
    "make_http_client": lambda: _make_client(_resolver()),
}


@pytest.mark.parametrize("where", sorted(FORGOTTEN))
def test_a_forgotten_clock_is_a_type_error(where: str) -> None:
    with pytest.raises(TypeError, match="clock"):
        FORGOTTEN[where]()


def test_the_clock_given_is_the_clock_used() -> None:
    clock = FastForwardClock()
    resolver = StubResolver(["127.0.0.1"], clock=clock, hosts=None)
    assert resolver.clock is clock
    assert ClockNetworkBackend(resolver, clock).clock is clock
    with make_http_client(resolver, clock=clock) as client:
        assert client.clock is clock
    system = SystemClock()
    conf = StubResolver.from_resolv_conf(RESOLV_CONF, hosts=None, clock=system)
    assert conf.clock is system

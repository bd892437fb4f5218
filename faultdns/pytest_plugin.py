"""pytest fixtures for faultdns (registered through the ``pytest11`` entry point).

Fixtures:

``faultdns``
    A running :class:`~faultdns.FaultDNSServer` on 127.0.0.1 and a free port, stopped
    after the test. Configure it with the ``faultdns`` marker, whose keyword arguments go
    to the constructor::

        @pytest.mark.faultdns(records=["a.test=10.0.0.1"], faults=["nxdomain for=30s"])
        def test_x(faultdns): ...

    It runs on the monotonic clock, unless the test also asks for ``faultdns_clock``:
    then it runs on that manual clock, so windows move only when the test says so.

``faultdns_clock``
    A fresh :class:`faultdns.testing.ManualClock` at 0.

``faultdns_factory``
    ``faultdns_factory(**kwargs)`` starts another server with any constructor arguments
    (several servers, a custom zone, ``clock=``...; the monotonic clock unless
    ``clock=`` is given); all are stopped after the test.

``faultdns_getaddrinfo``
    The ``faultdns`` server, with ``socket.getaddrinfo`` patched to resolve through it
    as glibc would (:func:`faultdns.patch_getaddrinfo`) for the test; the
    ``faultdns_getaddrinfo`` marker gives ``search=``, ``ndots=``, ``options=``.

This module is imported by every pytest run in an environment where retrylab is
installed, so it imports faultdns itself only when a fixture is used: a test session
that never touches faultdns pays nothing and cannot be broken by it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from faultdns._server import FaultDNSServer
    from faultdns.testing import ManualClock

__all__ = ["faultdns", "faultdns_clock", "faultdns_factory", "faultdns_getaddrinfo"]

_MARKER = "faultdns"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**kwargs): FaultDNSServer keyword arguments for the `faultdns` fixture"
        " (records=, origins=, faults=, plan=, seed=, ttl=, clock=...)",
    )
    config.addinivalue_line(
        "markers",
        f"{_PATCH_MARKER}(**kwargs): faultdns.patch_getaddrinfo keyword arguments for the"
        " `faultdns_getaddrinfo` fixture (search=, ndots=, options=)",
    )


@pytest.fixture
def faultdns_factory() -> Iterator[Callable[..., FaultDNSServer]]:
    """Start servers on demand; stop every one of them when the test ends."""
    from faultdns._clock import MonotonicClock
    from faultdns._server import FaultDNSServer

    started: list[FaultDNSServer] = []

    def start(*args: Any, **kwargs: Any) -> FaultDNSServer:
        # The fixtures are an entry point, like the CLI: the real clock unless given one.
        kwargs.setdefault("clock", MonotonicClock())
        server = FaultDNSServer(*args, **kwargs)
        server.start()
        started.append(server)
        return server

    yield start

    failures: list[BaseException] = []
    for server in reversed(started):
        try:
            server.stop()
        except Exception as exc:  # stop the rest before reporting
            failures.append(exc)
    if failures:
        raise failures[0]


@pytest.fixture
def faultdns_clock() -> ManualClock:
    """A manual clock; the ``faultdns`` fixture uses it when a test asks for both."""
    from faultdns.testing import ManualClock

    return ManualClock()


@pytest.fixture
def faultdns(
    request: pytest.FixtureRequest, faultdns_factory: Callable[..., FaultDNSServer]
) -> FaultDNSServer:
    """A running server on a free loopback port, configured by the ``faultdns`` marker."""
    marker = request.node.get_closest_marker(_MARKER)
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    if marker is not None and marker.args:
        raise pytest.UsageError(
            f"@pytest.mark.{_MARKER} takes keyword arguments only (got {marker.args!r})"
        )
    if "clock" not in kwargs and "faultdns_clock" in request.fixturenames:
        kwargs["clock"] = request.getfixturevalue("faultdns_clock")
    return faultdns_factory(**kwargs)


_PATCH_MARKER = "faultdns_getaddrinfo"


@pytest.fixture
def faultdns_getaddrinfo(
    request: pytest.FixtureRequest, faultdns: FaultDNSServer
) -> Iterator[FaultDNSServer]:
    """``socket.getaddrinfo`` (so requests, httpx, urllib, asyncio, aiohttp) resolving
    through the ``faultdns`` server, failing as glibc would, for the whole test; yields
    that server.  The ``faultdns_getaddrinfo`` marker's keyword arguments (``search=``,
    ``ndots=``, ``options=``) go to :func:`faultdns.patch_getaddrinfo`::

        @pytest.mark.faultdns(records=["repo.test=127.0.0.1"], faults=["nxdomain for=2s"])
        @pytest.mark.faultdns_getaddrinfo(options=["timeout:1", "attempts:1"])
        def test_x(faultdns_getaddrinfo): ...
    """
    from faultdns._patch import patch_getaddrinfo

    marker = request.node.get_closest_marker(_PATCH_MARKER)
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    with patch_getaddrinfo(faultdns, **kwargs):
        yield faultdns

"""Shared fixtures for the cleanup tests: a manual clock and a local HTTP server.

The DNS side comes from the faultdns pytest plugin (``faultdns_factory``), so the
cleanup code is always tested against the real fault-injecting server.

``ListServer`` serves image lists (or anything else) on 127.0.0.1 from a route table
that a test fills in, and records every request (path, Host header, client port), so
tests can check what was asked for, by which name, over how many connections.  A route
can also misbehave: ``hang`` (accept, read the request, never answer) or a callable
that writes the response itself (trickled or endless bodies).
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from cleanup.testing import FastForwardClock
from faultdns.testing import ClosedPort


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    # Takes over the response completely (write status line, headers, body).
    custom: Callable[[http.server.BaseHTTPRequestHandler], None] | None = None


@dataclass(frozen=True)
class SeenRequest:
    path: str
    host: str | None
    client_port: int


class ListServer:
    """A threaded HTTP/1.1 server (on ``host``:``port``; an IPv6 ``host`` such as
    ``::1`` works too) with a route table and a request log."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self._release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so pooling is observable

            def do_GET(self) -> None:
                server.requests.append(
                    SeenRequest(self.path, self.headers.get("Host"), self.client_address[1])
                )
                route = server.routes.get(self.path)
                if route is None:
                    route = Route(404, b"404 page not found\n")
                if route.hang:
                    server._release.wait(30)
                    self.close_connection = True
                    return
                if route.custom is not None:
                    route.custom(self)
                    self.close_connection = True
                    return
                self.send_response(route.status)
                headers = {"Content-Type": "text/plain", **route.headers}
                headers.setdefault("Content-Length", str(len(route.body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        self._httpd = Server((host, port), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        # a short poll interval: shutdown() waits up to one interval
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, host: str = "127.0.0.1", path: str = "") -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def list_server() -> Iterator[ListServer]:
    server = ListServer()
    yield server
    server.close()


@pytest.fixture
def clock() -> FastForwardClock:
    """Virtual time; socket waits look for up to 1 s of real time before charging."""
    return FastForwardClock(grace=1.0)


@pytest.fixture
def quick_clock() -> FastForwardClock:
    """For tests where nothing will ever arrive (drops, hangs): a short real grace."""
    return FastForwardClock(grace=0.1)


#: the ports :func:`closed_port` handed out, held until the test session ends
_CLOSED: list[ClosedPort] = []


def closed_port() -> int:
    """A loopback port where nothing listens (UDP: ICMP port unreachable; TCP: a
    reset), held until the session ends (``faultdns.testing.ClosedPort``): a port bound
    and released could be given to any socket, the one dialling it included."""
    closed = ClosedPort()
    _CLOSED.append(closed)
    return closed.port


@pytest.fixture(scope="session", autouse=True)
def _release_closed_ports() -> Iterator[None]:
    yield
    while _CLOSED:
        _CLOSED.pop().close()

"""The fake repo: per-path states at the current time, a port that really refuses.

The server has no thread: each test sends, calls ``settle()`` (as the SimClock does)
and then reads what is already in the socket.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from sim._clock import SocketlessClock
from sim._repo_server import RepoServer, service_accepting

OK_PATH = "/lists/current"
GONE_PATH = "/lists/v1"
DOWN_PATH = "/lists/down"


@pytest.fixture
def repo() -> Iterator[RepoServer]:
    server = RepoServer()
    states = {OK_PATH: "ok", GONE_PATH: "missing", DOWN_PATH: "refused"}
    server.configure(
        lambda path, t: states.get(path, "missing"),
        {OK_PATH: b"a:1\nb:2\n"},
        SocketlessClock(0.0),
    )
    yield server
    server.close()


def exchange(repo: RepoServer, sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    repo.settle()
    sock.setblocking(False)
    try:
        return sock.recv(65536)
    except BlockingIOError:
        return b""
    finally:
        sock.setblocking(True)


def get(path: str, *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: repo\r\n" + extra + b"\r\n"


def test_connections_are_refused_until_the_service_accepts(repo: RepoServer) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(repo.address, timeout=2)
    repo.set_accepting(True)
    with socket.create_connection(repo.address, timeout=2) as sock:
        assert b"200 OK" in exchange(repo, sock, get(OK_PATH))
    repo.set_accepting(False)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(repo.address, timeout=2)


def test_answers_follow_each_paths_state_on_one_keep_alive_connection(
    repo: RepoServer,
) -> None:
    repo.set_accepting(True)
    with socket.create_connection(repo.address, timeout=2) as sock:
        ok = exchange(repo, sock, get(OK_PATH))
        assert ok.startswith(b"HTTP/1.1 200") and ok.endswith(b"\r\n\r\na:1\nb:2\n")
        missing = exchange(repo, sock, get(GONE_PATH))
        assert missing.startswith(b"HTTP/1.1 404") and missing.endswith(b"404 page not found\n")
        post = exchange(repo, sock, b"POST / HTTP/1.1\r\nHost: r\r\nContent-Length: 0\r\n\r\n")
        assert post.startswith(b"HTTP/1.1 405 Method Not Allowed")
        head = exchange(repo, sock, b"HEAD " + OK_PATH.encode() + b" HTTP/1.1\r\nHost: r\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 8" in head
        assert head.endswith(b"\r\n\r\n")  # headers only
    assert [(r.path, r.result) for r in repo.log] == [
        (OK_PATH, "200"),
        (GONE_PATH, "404"),
        ("/", "405"),
        (OK_PATH, "200"),
    ]


def test_a_refused_path_on_an_open_port_resets_the_connection(repo: RepoServer) -> None:
    repo.set_accepting(True)
    with socket.create_connection(repo.address, timeout=2) as sock:
        sock.sendall(get(DOWN_PATH))
        repo.settle()
        with pytest.raises(ConnectionResetError):
            sock.recv(100)
    assert repo.log[-1].result == "reset"


def test_garbage_gets_a_400_and_the_connection_closed(repo: RepoServer) -> None:
    repo.set_accepting(True)
    with socket.create_connection(repo.address, timeout=2) as sock:
        assert exchange(repo, sock, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400")


def test_the_port_is_below_the_ephemeral_range_and_stays_ours() -> None:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
        low = int(fh.read().split()[0])
    server = RepoServer()
    try:
        assert server.port < low
        other = socket.socket()
        with pytest.raises(OSError):  # bound while refusing: nobody else can take it
            other.bind((server.host, server.port))
        other.close()
    finally:
        server.close()


def test_the_service_has_endpoints_unless_every_path_is_refused() -> None:
    assert not service_accepting({"a": "refused", "b": "refused"})
    assert service_accepting({"a": "refused", "b": "missing"})
    assert service_accepting({"a": "ok"})

"""The fake repo: per-path states at the current time, a port that really refuses.

The server has no thread: each test sends, calls ``settle()`` (as the SimClock does)
and then reads what is already in the socket.
"""

from __future__ import annotations

import gzip
import socket
from collections.abc import Iterator

import pytest

from sim._clock import SocketlessClock
from sim._harness import SERVED_HTTP_STATES
from sim._repo_server import (
    EARLY_CLOSES,
    MEDIA_TYPES,
    ODD_STATES,
    RepoServer,
    service_accepting,
)
from sim._timeline import HTTP_STATES, MEDIA_STATE, HTTPState

OK_PATH = "/lists/current"
GONE_PATH = "/lists/v1"
DOWN_PATH = "/lists/down"


@pytest.fixture
def repo() -> Iterator[RepoServer]:
    server = RepoServer()
    states: dict[str, HTTPState] = {OK_PATH: "ok", GONE_PATH: "missing", DOWN_PATH: "refused"}
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


@pytest.fixture
def unkind() -> Iterator[RepoServer]:
    """A server whose one path answers in the state the test sets."""
    state: dict[str, HTTPState] = {"now": "ok"}
    server = RepoServer()
    server.configure(
        lambda path, t: state["now"], {OK_PATH: b"a:1\nb:2\nc:3\nd:4\n"}, SocketlessClock(0.0)
    )
    server.state_box = state  # type: ignore[attr-defined]
    server.set_accepting(True)
    yield server
    server.close()


def answer_and_ending(repo: RepoServer, state: str, path: str = OK_PATH) -> tuple[bytes, str]:
    """The raw bytes sent for one GET in ``state`` and how the connection ended:
    ``fin`` (EOF) or ``rst`` (ECONNRESET after the bytes queued before it)."""
    repo.state_box["now"] = state  # type: ignore[attr-defined]
    with socket.create_connection(repo.address, timeout=2) as sock:
        sock.sendall(get(path, close=True))
        out = b""
        for _ in range(20):
            repo.settle()
            sock.setblocking(False)
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                return out, "rst"
            finally:
                sock.setblocking(True)
            if not chunk:
                return out, "fin"
            out += chunk
        return out, "open"


def answer(repo: RepoServer, state: str, path: str = OK_PATH) -> bytes:
    """The raw bytes the server sends for one GET of ``path`` in ``state``, to EOF, a
    reset, or until it stops sending."""
    return answer_and_ending(repo, state, path)[0]


@pytest.mark.parametrize(
    ("state", "head", "body"),
    [
        ("status-203", b"HTTP/1.1 203 Non-Authoritative Information", b"a:1\nb:2\nc:3\nd:4\n"),
        ("status-500", b"HTTP/1.1 500 Internal Server Error", b"500 Internal Server Error\n"),
        ("status-301", b"HTTP/1.1 301 Moved Permanently", b"301 Moved Permanently\n"),
    ],
)
def test_a_status_state_answers_that_final_status(
    unkind: RepoServer, state: str, head: bytes, body: bytes
) -> None:
    """A 2xx other than 200 carries the list itself (a client taking it for success has
    a list to act on); others carry their phrase; none has a Location."""
    raw = answer(unkind, state)
    assert raw.startswith(head) and raw.endswith(b"\r\n\r\n" + body), raw
    assert b"location" not in raw.lower()
    assert unkind.log[-1].result == state.split("-")[1]


def test_no_content_and_not_modified_have_neither_body_nor_length(unkind: RepoServer) -> None:
    for state in ("status-204", "status-304"):
        raw = answer(unkind, state)
        assert raw.endswith(b"\r\n\r\n") and b"content-length" not in raw.lower(), raw


def test_an_interim_103_comes_before_the_200(unkind: RepoServer) -> None:
    raw = answer(unkind, "informational")
    assert raw.startswith(b"HTTP/1.1 103 Early Hints\r\n"), raw
    assert b"\r\n\r\nHTTP/1.1 200 OK\r\n" in raw and raw.endswith(b"a:1\nb:2\nc:3\nd:4\n")


def test_redirects_point_to_a_target_that_serves_the_list(unkind: RepoServer) -> None:
    same = answer(unkind, "redirect")
    assert same.startswith(b"HTTP/1.1 302 Found") and b"Location: /moved/lists/current" in same
    other = answer(unkind, "redirect-other-host")
    location = f"Location: http://127.0.0.1:{unkind.port}/moved/lists/current".encode()
    assert other.startswith(b"HTTP/1.1 307 Temporary Redirect") and location in other
    target = answer(unkind, "redirect", "/moved" + OK_PATH)  # the target is served as ok
    assert target.startswith(b"HTTP/1.1 200 OK") and target.endswith(b"a:1\nb:2\nc:3\nd:4\n")
    assert [r.result for r in unkind.log] == ["302", "307", "200"]


def test_incomplete_bodies_are_what_each_mode_says(unkind: RepoServer) -> None:
    """Issue 9's misbehaving-repo modes: the whole list is 16 bytes in four lines."""
    cut = answer(unkind, "body-cut")
    assert b"Content-Length: 16\r\n" in cut and cut.endswith(b"\r\n\r\na:1\nb:2\n")
    small = answer(unkind, "body-cl-small")
    assert b"Content-Length: 13\r\n" in small and small.endswith(b"a:1\nb:2\nc:3\nd:4\n")
    close = answer(unkind, "body-close")
    assert b"Connection: close\r\n" in close and b"content-length" not in close.lower()
    assert close.endswith(b"\r\n\r\na:1\nb:2\n")
    gz = answer(unkind, "body-gzip-cut")
    head, _, payload = gz.partition(b"\r\n\r\n")
    assert b"Content-Encoding: gzip" in head
    assert f"Content-Length: {len(payload)}".encode() in head
    with pytest.raises(EOFError):
        gzip.decompress(payload)
    unterminated = answer(unkind, "body-unterminated")
    assert b"Content-Length: 13\r\n" in unterminated
    assert unterminated.endswith(b"\r\n\r\na:1\nb:2\nc:3\nd")
    assert [r.result for r in unkind.log] == [
        "body-cut",
        "body-cl-small",
        "body-close",
        "body-gzip-cut",
        "body-unterminated",
    ]


def test_a_closed_state_reads_the_request_and_closes_without_a_reply(unkind: RepoServer) -> None:
    assert answer(unkind, "closed") == b""
    assert unkind.log[-1].result == "closed"


@pytest.mark.parametrize("media", MEDIA_TYPES)
def test_a_media_type_state_serves_the_whole_list_under_that_content_type(
    unkind: RepoServer, media: str
) -> None:
    """``type:<value>``: a 200 with the whole list and ``Content-Type: <value>`` exactly
    as written (case, parameters, whitespace); the empty value sends no Content-Type."""
    raw = answer(unkind, MEDIA_STATE + media)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b"a:1\nb:2\nc:3\nd:4\n", raw
    types = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-type:")]
    assert types == ([b"Content-Type: " + media.encode()] if media else []), head
    assert unkind.log[-1].result == MEDIA_STATE + media


def test_a_repo_server_on_ipv6_loopback_serves_the_lists() -> None:
    """The harness's second repo server, for an ``http://[::1]:P/`` repo URL."""
    server = RepoServer("::1")
    try:
        server.configure(lambda path, t: "ok", {OK_PATH: b"a:1\n"}, SocketlessClock(0.0))
        server.set_accepting(True)
        with socket.create_connection(("::1", server.port), timeout=2) as sock:
            raw = exchange(server, sock, get(OK_PATH))
        assert raw.startswith(b"HTTP/1.1 200 OK") and raw.endswith(b"a:1\n"), raw
        server.set_accepting(False)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("::1", server.port), timeout=2)
    finally:
        server.close()


def test_early_closes_end_the_connection_where_each_mode_says(unkind: RepoServer) -> None:
    """Issue 11's early closes (``EARLY_CLOSES``; the whole list is 16 bytes in four
    lines): before any byte with RST, after the head, mid-chunk, mid-body with RST."""
    assert answer_and_ending(unkind, "closed") == (b"", "fin")
    assert answer_and_ending(unkind, "closed-reset") == (b"", "rst")
    head, ending = answer_and_ending(unkind, "headers-only")
    assert head.endswith(b"Content-Length: 16\r\n\r\n") and ending == "fin", (head, ending)
    chunked, ending = answer_and_ending(unkind, "chunk-cut")
    assert b"Transfer-Encoding: chunked\r\n" in chunked and ending == "fin"
    assert chunked.endswith(b"\r\n\r\n10\r\na:1\nb:2\n"), chunked
    reset, ending = answer_and_ending(unkind, "body-reset")
    assert b"Content-Length: 16\r\n" in reset and reset.endswith(b"\r\n\r\na:1\nb:2\n")
    assert ending == "rst"
    assert set(EARLY_CLOSES) <= set(ODD_STATES)
    assert [r.result for r in unkind.log] == [
        "closed",
        "closed-reset",
        "headers-only",
        "chunk-cut",
        "body-reset",
    ]


def test_the_http_vocabulary_is_what_the_repo_server_plays() -> None:
    """Issue 12: ``HTTPState`` is closed both ways: every fixed word of ``ServedState``
    is one the harness serves (sim._harness.SERVED_HTTP_STATES, which strategies draw
    from), and what it serves beyond them are media states of ``MEDIA_TYPES``."""
    words = [s for s in SERVED_HTTP_STATES if not s.startswith(MEDIA_STATE)]
    assert sorted(words) == sorted(HTTP_STATES) and len(set(words)) == len(words)
    media = [s[len(MEDIA_STATE) :] for s in SERVED_HTTP_STATES if s.startswith(MEDIA_STATE)]
    assert media == list(MEDIA_TYPES)

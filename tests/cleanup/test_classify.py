"""The classifier: every failure the stack can raise maps onto one typed error."""

from __future__ import annotations

import errno
import pickle
import socket
import threading
from collections.abc import Callable

import httpcore
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cleanup import (
    CleanupError,
    ConnectError,
    DialDNSError,
    DNSError,
    HTTPStatusError,
    ImageListError,
    ProtocolError,
    RequestTimeout,
    UnexpectedError,
)
from cleanup._classify import error_kind, to_error
from faultdns.testing import ClosedPort

URL = "http://upgrade-repo-hvst-upgrade-nv76q.harvester-system/harvester-iso/x.txt"
HOST = "upgrade-repo-hvst-upgrade-nv76q.harvester-system"


def raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    """``outer`` as Python leaves it after ``raise outer from inner``."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as exc:
        return exc


# --- the system resolver ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("code_name", "flag", "text"),
    [
        ("EAI_NONAME", "is_not_found", "no such host"),
        ("EAI_NODATA", "is_not_found", "no such host"),
        ("EAI_AGAIN", "is_temporary", "Temporary failure in name resolution"),
        ("EAI_FAIL", None, "Non-recoverable failure in name resolution"),
    ],
)
def test_gaierror_codes_map_like_go_cgo(code_name: str, flag: str | None, text: str) -> None:
    """Go ``cgoLookupHostIP``: NONAME/NODATA are "no such host"; the rest keep
    ``gai_strerror``'s text, temporary only for EAI_AGAIN (EAI_FAIL is not)."""
    code = getattr(socket, code_name, None)
    if code is None:
        pytest.skip(f"socket.{code_name} is not defined on this platform")
    exc = socket.gaierror(code, text)
    err = to_error(exc, url=URL)
    assert isinstance(err, DNSError)
    flags = {"is_not_found", "is_timeout", "is_temporary"}
    assert {f for f in flags if getattr(err, f)} == ({flag} if flag else set())
    assert err.name == HOST
    lookup = f"lookup {HOST}: {text}"
    # fetching a URL, the lookup reads as Go's url.Error around an OpError around it
    assert isinstance(err, DialDNSError) and str(err) == f'Get "{URL}": dial tcp: {lookup}'
    assert err.dns_text == lookup
    assert err.__cause__ is not None and err.__cause__.__cause__ is exc


def test_linux_eai_values_are_the_ones_the_reference_names() -> None:
    if not hasattr(socket, "EAI_NODATA"):
        pytest.skip("not glibc")
    assert (socket.EAI_NONAME, socket.EAI_AGAIN, socket.EAI_FAIL, socket.EAI_NODATA) == (
        -2,
        -3,
        -4,
        -5,
    )


def test_other_gaierror_is_a_dns_error_that_is_nothing_in_particular() -> None:
    err = to_error(socket.gaierror(socket.EAI_SERVICE, "Servname not supported"), host="h")
    assert isinstance(err, DNSError)
    assert not (err.is_not_found or err.is_timeout or err.is_temporary)
    assert error_kind(err) == "dns error"
    assert str(err) == "lookup h: Servname not supported"


def test_host_argument_wins_over_the_url() -> None:
    err = to_error(socket.gaierror(socket.EAI_NONAME, "x"), url=URL, host="other.name")
    assert isinstance(err, DNSError) and err.name == "other.name"


def test_gaierror_under_httpx_takes_the_name_from_the_request() -> None:
    request = httpx.Request("GET", URL)
    inner = httpcore.ConnectError(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    outer = raised_from(httpx.ConnectError("[Errno -2]", request=request), inner)
    err = to_error(outer)
    assert isinstance(err, DNSError) and err.is_not_found and err.name == HOST


# --- our own errors pass through ---------------------------------------------------------


def test_existing_cleanup_error_deep_in_the_chain_is_returned_unchanged() -> None:
    ours = DNSError(HOST, "no such host", server="127.0.0.1:5353", is_not_found=True)
    core = raised_from(httpcore.ConnectError(str(ours)), ours)
    outer = raised_from(httpx.ConnectError(str(ours)), core)
    assert to_error(outer) is ours
    assert ours.__cause__ is None  # not rewired: the resolver's own chain stays as it was


def test_cleanup_error_itself_is_returned() -> None:
    err = HTTPStatusError(URL, 404, "v1.4.1")
    assert to_error(err) is err


# --- sockets ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "reason", "kind"),
    [
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
            "refused",
            "connection refused",
        ),
        (ConnectionRefusedError(), "refused", "connection refused"),
        (ConnectionResetError(errno.ECONNRESET, "reset"), "reset", "connection reset"),
        (
            OSError(errno.ENETUNREACH, "Network is unreachable"),
            "network-unreachable",
            "network unreachable",
        ),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "host-unreachable", "host unreachable"),
        (OSError(errno.ENETDOWN, "Network is down"), "network-down", "network down"),
        (ConnectionAbortedError(errno.ECONNABORTED, "aborted"), "aborted", "connection aborted"),
        (BrokenPipeError(errno.EPIPE, "Broken pipe"), "other", "connection failed"),
        (OSError(errno.ETIMEDOUT, "Connection timed out"), "timed-out", "connection timed out"),
    ],
)
def test_socket_errors(exc: OSError, reason: str, kind: str) -> None:
    err = to_error(exc, url="http://repo.example:8080/list")
    assert isinstance(err, ConnectError)
    assert err.reason == reason
    assert err.address == "repo.example:8080"
    assert error_kind(err) == kind
    assert err.__cause__ is exc


def test_default_port_comes_from_the_scheme() -> None:
    err = to_error(ConnectionRefusedError(), url="http://repo.example/list")
    assert isinstance(err, ConnectError) and err.address == "repo.example:80"
    err = to_error(ConnectionRefusedError(), url="https://[::1]/list")
    assert isinstance(err, ConnectError) and err.address == "[::1]:443"


def test_kernel_connect_timeout_and_socket_timeout() -> None:
    """ETIMEDOUT is an errno in Go (``connect: connection timed out``, retried through
    errors.Is); a socket timeout with no errno is a timeout of unknown phase."""
    err = to_error(OSError(errno.ETIMEDOUT, "Connection timed out"), url=URL)
    assert isinstance(err, ConnectError) and err.reason == "timed-out"
    assert str(err) == f'Get "{URL}": dial tcp {HOST}:80: connect: connection timed out'
    err = to_error(TimeoutError("timed out"), url=URL)
    assert isinstance(err, RequestTimeout) and err.phase == "request"
    assert error_kind(err) == "timeout"


def test_real_refused_connection_on_loopback() -> None:
    with ClosedPort() as closed, httpx.Client(timeout=5) as client:  # nobody listens there
        port = closed.port
        with pytest.raises(httpx.HTTPError) as caught:
            client.get(f"http://127.0.0.1:{port}/list")
        err = to_error(caught.value)
    assert isinstance(err, ConnectError)
    assert err.reason == "refused"
    url = f"http://127.0.0.1:{port}/list"
    assert str(err) == f'Get "{url}": dial tcp 127.0.0.1:{port}: connect: connection refused'


# --- httpx / httpcore ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc_type", "phase"),
    [
        (httpx.ConnectTimeout, "connect"),
        (httpx.ReadTimeout, "headers"),
        (httpx.WriteTimeout, "write"),
        (httpx.PoolTimeout, "pool"),
    ],
)
def test_httpx_timeouts_keep_phase_and_limit(
    exc_type: type[httpx.TimeoutException], phase: str
) -> None:
    limits = {"connect": 5.0, "read": 30.0, "write": 31.0, "pool": 32.0}  # httpx's keys
    request = httpx.Request("GET", URL, extensions={"timeout": limits})
    inner = raised_from(httpcore.ReadTimeout("core"), TimeoutError("timed out"))
    exc = raised_from(exc_type("timed out", request=request), inner)
    err = to_error(exc)
    assert isinstance(err, RequestTimeout)
    key = "read" if phase == "headers" else phase
    assert (err.phase, err.timeout, err.url) == (phase, limits[key], URL)
    # Go names no phase: every timeout before the headers reads the same
    assert str(err) == (
        f'Get "{URL}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    )


def test_a_read_timeout_in_the_body_is_go_s_body_timeout_with_the_read_limit() -> None:
    """Issue 11: httpx raises the same ReadTimeout in the body as for the headers, so
    a plain httpx stack's body stall was reported as one awaiting the headers; the
    caller that knows it was reading the body (the repo client) says so, and the
    error is Go's body timeout (its text unwrapped) with httpx's read limit."""
    limits = {"connect": 5.0, "read": 30.0, "write": 31.0, "pool": 32.0}
    request = httpx.Request("GET", URL, extensions={"timeout": limits})
    exc = raised_from(httpx.ReadTimeout("timed out", request=request), TimeoutError("timed out"))
    err = to_error(exc, in_body=True)
    assert isinstance(err, RequestTimeout)
    assert (err.phase, err.timeout) == ("body", 30.0)
    assert str(err) == (
        "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
    )
    headers = to_error(exc)  # without the caller's word: the headers
    assert isinstance(headers, RequestTimeout) and headers.phase == "headers"


def test_httpcore_timeout_without_httpx_wrapper() -> None:
    err = to_error(httpcore.ConnectTimeout("timed out"), url=URL)
    assert isinstance(err, RequestTimeout) and err.phase == "connect" and err.timeout is None


def test_server_closing_without_answer_is_go_s_eof() -> None:
    exc = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    err = to_error(exc, url=URL)
    assert isinstance(err, ProtocolError) and str(err) == f'Get "{URL}": EOF'
    assert error_kind(err) == "eof"


def test_server_closing_in_the_body_is_go_s_unexpected_eof() -> None:
    exc = httpx.RemoteProtocolError(
        "peer closed connection without sending complete message body: incomplete chunked read"
    )
    err = to_error(exc, url=URL)
    assert isinstance(err, ProtocolError) and str(err) == "unexpected EOF"


def _plain_httpx_failure(reply: bytes) -> CleanupError:
    """What ``to_error`` makes of a plain ``httpx.Client``'s failure against a loopback
    server that reads the request, sends ``reply`` and closes (FIN)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    data = conn.recv(4096)
                    if not data:
                        return
                    request += data
                conn.sendall(reply)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with httpx.Client(timeout=10) as client, pytest.raises(httpx.TransportError) as caught:
            client.get(f"http://127.0.0.1:{port}/list")
        thread.join(10)
    return to_error(caught.value)


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\na\n\r\n0\r",
    ],
    ids=["chunk-size-line", "last-chunk-line"],
)
def test_plain_httpx_closed_inside_a_chunk_size_line_is_go_s_unexpected_eof(
    reply: bytes,
) -> None:
    """Regression (issue 11, found by the property on a plain httpx stack): h11 says
    "peer unexpectedly closed connection" for an EOF inside a chunk-size line, which was
    classified as a connection failure ("dial tcp ...: connect: ..."); Go 1.23's
    chunked reader reports io.ErrUnexpectedEOF there, unwrapped."""
    err = _plain_httpx_failure(reply)
    assert isinstance(err, ProtocolError) and str(err) == "unexpected EOF"
    assert err.in_body and error_kind(err) == "unexpected eof"


def test_suppressed_context_is_still_followed() -> None:
    # httpcore's pool re-raises with `from None`; the socket error is the context.
    try:
        try:
            raise ConnectionResetError(errno.ECONNRESET, "reset")
        except OSError as exc:
            core = httpcore.ReadError(exc)
            raise core from None
    except httpcore.ReadError as exc:
        err = to_error(exc, url=URL)
    assert isinstance(err, ConnectError) and err.reason == "reset"


# --- anything else -------------------------------------------------------------------------


def test_unknown_exception_is_wrapped_not_lost() -> None:
    exc = ValueError("bad things")
    err = to_error(exc, url=URL)
    assert isinstance(err, UnexpectedError)
    assert err.__cause__ is exc
    assert str(err) == f"unexpected error fetching {URL}: ValueError: bad things"
    assert error_kind(err) == "unexpected error"
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err)


def test_cyclic_chain_terminates() -> None:
    a = RuntimeError("a")
    b = RuntimeError("b")
    a.__cause__ = b
    b.__cause__ = a
    assert isinstance(to_error(a), UnexpectedError)


def test_error_kind_labels() -> None:
    assert error_kind(DNSError("h", "x", is_not_found=True)) == "dns not-found"
    assert error_kind(DNSError("h", "x", is_timeout=True)) == "dns timeout"
    assert error_kind(DNSError("h", "x", is_temporary=True)) == "dns temporary"
    assert error_kind(HTTPStatusError(URL, 404)) == "http status 404"
    assert error_kind(HTTPStatusError(URL, 503)) == "http status 503"
    assert error_kind(ImageListError(URL, 3, "bad")) == "invalid list"
    assert error_kind(RequestTimeout(URL, "read", 30.0)) == "timeout"


def test_error_kind_labels_of_protocol_errors() -> None:
    assert error_kind(ProtocolError(URL, "EOF")) == "eof"
    assert error_kind(ProtocolError(URL, "unexpected EOF", in_body=True)) == "unexpected eof"
    assert error_kind(ProtocolError("/x", "stopped after 10 redirects")) == "too many redirects"
    assert error_kind(ConnectError(URL, "a:80", "timed-out")) == "connection timed out"


# --- Go's texts, and errors that survive pickling (the simulation ships them) -----------

NXDOMAIN = DNSError(HOST, "no such host", server="10.53.0.10:53", is_not_found=True)
GO_TEXTS: list[tuple[CleanupError, str]] = [
    (
        DialDNSError(URL, NXDOMAIN),
        f'Get "{URL}": dial tcp: lookup {HOST} on 10.53.0.10:53: no such host',
    ),
    (
        ConnectError(URL, "10.53.1.20:80", "refused"),
        f'Get "{URL}": dial tcp 10.53.1.20:80: connect: connection refused',
    ),
    (
        ConnectError(URL, "10.53.1.20:80", "reset", op="read", source="10.52.0.7:41234"),
        f'Get "{URL}": read tcp 10.52.0.7:41234->10.53.1.20:80: read: connection reset by peer',
    ),
    (
        ConnectError(URL, "10.53.1.20:80", "other", "broken pipe", op="write", source="s:1"),
        f'Get "{URL}": write tcp s:1->10.53.1.20:80: write: broken pipe',
    ),
    (
        ConnectError(URL, "10.53.1.20:80", "reset", op="read", source="s:1", in_body=True),
        "read tcp s:1->10.53.1.20:80: read: connection reset by peer",
    ),
    (
        RequestTimeout(URL, "connect", 30.0),
        f'Get "{URL}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
    ),
    (
        RequestTimeout(URL, "body", 30.0),
        "context deadline exceeded (Client.Timeout or context cancellation while reading body)",
    ),
    (ProtocolError(URL, "EOF"), f'Get "{URL}": EOF'),
    (ProtocolError(URL, "unexpected EOF", in_body=True), "unexpected EOF"),
    (HTTPStatusError(URL, 404, "v1.4.1"), "unexpected status: 404 Not Found"),
    (
        HTTPStatusError(URL, 503, None, "Service Temporarily Unavailable"),
        "unexpected status: 503 Service Temporarily Unavailable",
    ),
]


@pytest.mark.parametrize(("err", "text"), GO_TEXTS, ids=lambda v: type(v).__name__)
def test_go_texts_and_pickling(err: CleanupError, text: str) -> None:
    assert str(err) == text
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err) and str(again) == text
    assert vars(again) == vars(err) or isinstance(err, DialDNSError)


def test_dial_dns_error_is_the_dns_error_for_the_predicates() -> None:
    err = DialDNSError(URL, NXDOMAIN)
    assert isinstance(err, DNSError) and err.__cause__ is NXDOMAIN
    assert (err.name, err.err, err.server) == (HOST, "no such host", "10.53.0.10:53")
    assert (err.is_not_found, err.is_timeout, err.is_temporary) == (True, False, False)
    assert err.dns_text == str(NXDOMAIN)
    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again, DialDNSError) and again.is_not_found and again.url == URL


def test_url_is_quoted_as_go_quotes_it() -> None:
    url = 'http://h/a"b\\c\x01d'
    err = ProtocolError(url, "EOF")
    assert str(err) == 'Get "http://h/a\\"b\\\\c\\x01d": EOF'


# --- property: wrappers never change the verdict -----------------------------------------

BASES = [
    ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
    ConnectionResetError(errno.ECONNRESET, "reset"),
    OSError(errno.EHOSTUNREACH, "No route to host"),
    socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
    socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
    DNSError(HOST, "i/o timeout", server="10.53.0.10:53", is_timeout=True),
]
WRAPPERS: list[Callable[[], BaseException]] = [
    lambda: httpcore.ConnectError("core"),
    lambda: httpx.ConnectError("httpx"),
    lambda: RuntimeError("layer"),
    lambda: OSError("no errno"),
]


def signature(err: CleanupError) -> tuple[object, ...]:
    assert not isinstance(err, UnexpectedError)
    return (type(err).__name__, error_kind(err), str(err))


@given(
    base=st.sampled_from(range(len(BASES))),
    layers=st.lists(st.sampled_from(range(len(WRAPPERS))), max_size=5),
    style=st.sampled_from(["cause", "context", "suppressed"]),
)
def test_wrapping_layers_keep_the_classification(base: int, layers: list[int], style: str) -> None:
    bottom: BaseException = BASES[base]
    expected = signature(to_error(bottom, url=URL))
    current = bottom
    for index in layers:
        outer = WRAPPERS[index]()
        if style == "cause":
            outer.__cause__ = current
        else:
            outer.__context__ = current
            outer.__suppress_context__ = style == "suppressed"
        current = outer
    assert signature(to_error(current, url=URL)) == expected


# --- errno15: any errno is Go's OpError over that syscall.Errno ------------------------


def test_a_connect_error_keeps_its_errno_and_flags_through_pickle() -> None:
    err = ConnectError.from_errno(URL, "10.53.1.20:80", errno.EAGAIN, op="dial")
    assert (err.reason, err.errno, err.is_timeout, err.is_temporary) == ("other", 11, True, True)
    again = pickle.loads(pickle.dumps(err))
    assert (again.errno, again.is_timeout, str(again)) == (11, True, str(err))
    assert str(err).endswith("dial tcp 10.53.1.20:80: connect: resource temporarily unavailable")


def test_a_reason_without_an_errno_stands_for_its_errno() -> None:
    err = ConnectError(URL, "a:80", "reset", op="read")
    assert err.errno == errno.ECONNRESET and not err.is_temporary  # Go: not Temporary()
    assert ConnectError(URL, "a:80", "other", "address x: no suitable address").errno is None


@pytest.mark.parametrize("bad", [0, -1, True, "11"])
def test_a_connect_error_refuses_what_is_no_errno(bad: object) -> None:
    with pytest.raises(ValueError, match="errno"):
        ConnectError(URL, "a:80", "other", errno=bad)  # type: ignore[arg-type]


def test_codes_of_other_libraries_in_the_errno_slot_are_no_errnos() -> None:
    """OpenSSL's code in ``ssl.SSLError.errno`` (1 is EPERM's number) is not an errno."""
    import ssl

    tls = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate")
    outer = raised_from(httpx.ConnectError("tls", request=httpx.Request("GET", URL)), tls)
    err = to_error(outer)
    assert isinstance(err, ConnectError) and err.errno is None
    assert "operation not permitted" not in str(err)

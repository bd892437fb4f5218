"""The classifier: every failure the stack can raise maps onto one typed error."""

from __future__ import annotations

import errno
import pickle
import socket
from collections.abc import Callable

import httpcore
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cleanup import (
    CleanupError,
    ConnectError,
    DNSError,
    HTTPStatusError,
    ImageListError,
    RequestTimeout,
    UnexpectedError,
)
from cleanup._classify import error_kind, to_error

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
    assert str(err) == f"lookup {HOST}: {text}"
    assert err.__cause__ is exc


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
    err = to_error(OSError(errno.ETIMEDOUT, "Connection timed out"), url=URL)
    assert isinstance(err, RequestTimeout) and err.phase == "connect"
    err = to_error(TimeoutError("timed out"), url=URL)
    assert isinstance(err, RequestTimeout) and err.phase == "request"
    assert error_kind(err) == "timeout"


def test_real_refused_connection_on_loopback() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # nobody listens on that port now
    with httpx.Client(timeout=5) as client:
        try:
            client.get(f"http://127.0.0.1:{port}/list")
        except httpx.HTTPError as exc:
            err = to_error(exc)
        else:  # pragma: no cover - a port reuse race
            pytest.skip("something started listening on the probe port")
    assert isinstance(err, ConnectError)
    assert err.reason == "refused"
    assert (
        str(err)
        == f"Get 'http://127.0.0.1:{port}/list': dial tcp 127.0.0.1:{port}: connection refused"
    )


# --- httpx / httpcore ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc_type", "phase"),
    [
        (httpx.ConnectTimeout, "connect"),
        (httpx.ReadTimeout, "read"),
        (httpx.WriteTimeout, "write"),
        (httpx.PoolTimeout, "pool"),
    ],
)
def test_httpx_timeouts_keep_phase_and_limit(
    exc_type: type[httpx.TimeoutException], phase: str
) -> None:
    limits = {"connect": 5.0, "read": 30.0, "write": 31.0, "pool": 32.0}
    request = httpx.Request("GET", URL, extensions={"timeout": limits})
    inner = raised_from(httpcore.ReadTimeout("core"), TimeoutError("timed out"))
    exc = raised_from(exc_type("timed out", request=request), inner)
    err = to_error(exc)
    assert isinstance(err, RequestTimeout)
    assert (err.phase, err.timeout, err.url) == (phase, limits[phase], URL)
    assert f"{phase} timed out after {limits[phase]:g}s" in str(err)


def test_httpcore_timeout_without_httpx_wrapper() -> None:
    err = to_error(httpcore.ConnectTimeout("timed out"), url=URL)
    assert isinstance(err, RequestTimeout) and err.phase == "connect" and err.timeout is None


def test_server_closing_without_answer_is_not_a_retriable_reason() -> None:
    exc = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    err = to_error(exc, url=URL)
    assert isinstance(err, ConnectError) and err.reason == "other"
    assert "Server disconnected without sending a response." in str(err)


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

"""Go 1.23's HTTP client when the server ends the connection early, restated for the
property suite: the error the controller meets, its text, its class for the retry
predicates, and the label the cleanup's report gives it.

Source: what Go 1.23.9's ``net/http`` client (``http.Client{Timeout: 10s}``, then the
body read as the controller reads it, ``bufio.Scanner`` over ``resp.Body``) returned
against a raw TCP server that read the request and then, per mode (a program run with
the venv's ``go``, ``GOTOOLCHAIN=local CGO_ENABLED=0``, on Linux loopback)::

    closed        nothing, FIN            Get "URL": EOF                       errors.Is(io.EOF)
    closed-reset  nothing, RST            Get "URL": read tcp A->B: read: connection reset by peer
                                                                               errors.Is(ECONNRESET)
    headers-only  200 head, Content-Length N, no body, FIN
                                          unexpected EOF (from the body read)  io.ErrUnexpectedEOF
    body-cut      200 head, Content-Length N, half the body, FIN
                                          unexpected EOF                       io.ErrUnexpectedEOF
    chunk-cut     200 head, chunked, mid-chunk, FIN
                                          unexpected EOF                       io.ErrUnexpectedEOF
    body-reset    200 head, Content-Length N, half the body, RST
                                          read tcp A->B: read: connection reset by peer
                                                                               errors.Is(ECONNRESET)

Cut anywhere in a ``Content-Length`` body, or in a chunked body before its last-chunk
line ``0\r\n`` is whole (in chunk data or in a chunk-size line), Go says ``unexpected
EOF``; cut after that line it says ``http: unexpected EOF reading trailer`` (not
generated: cleanup says ``unexpected EOF`` there, a known difference of text only).

``Client.Do`` returns once the head is read, so a failure in the body comes from the
read, unwrapped (no ``Get "URL":``).  Linux hands over the bytes queued before an RST
first, so an RST after the head is a body error even when it follows at once.  None of
these is ``os.IsTimeout``; ``ECONNRESET`` is one of the errnos Harvester's
``IsRetriableNetworkError`` retries (``spec.predicates``), ``io.EOF`` and
``io.ErrUnexpectedEOF`` are not.

The report labels (:func:`report_label`) are the documented report format (README,
"cleanup run", ``--json``: ``error_kind`` and each attempt's ``kind``), restated here for
every error class so a property can read the report the user sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.sim.spec import go_errno
from tests.sim.spec.go_dns import DNSFlags
from tests.sim.spec.predicates import ErrorClass

__all__ = [
    "CLOSES",
    "DEFAULT_PORTS",
    "DIAL_ERRNOS",
    "ERRNO_REASONS",
    "GoClose",
    "dial_errno_text",
    "dial_text",
    "refused_dial_text",
    "report_label",
    "text_matches",
    "unexpected_status_text",
]

# Go's net.OpError text for a read: "read tcp 127.0.0.1:41234->127.0.0.1:80: read: ..."
_ADDRESS = r"[0-9A-Za-z.:\[\]%]+"
_RESET = rf"read tcp {_ADDRESS}->{_ADDRESS}: read: connection reset by peer"


@dataclass(frozen=True)
class GoClose:
    """What Go meets for one way of closing: ``error`` its class, ``text`` a regular
    expression of its text with ``{url}`` standing for the quoted request URL."""

    error: ErrorClass
    text: str


#: each early close of ``sim._repo_server.EARLY_CLOSES`` (the module doc's table)
CLOSES: dict[str, GoClose] = {
    "closed": GoClose(("protocol", "EOF"), r"Get {url}: EOF"),
    "closed-reset": GoClose(("connect", "reset"), rf"Get {{url}}: {_RESET}"),
    "headers-only": GoClose(("protocol", "unexpected EOF"), r"unexpected EOF"),
    "body-cut": GoClose(("protocol", "unexpected EOF"), r"unexpected EOF"),
    "chunk-cut": GoClose(("protocol", "unexpected EOF"), r"unexpected EOF"),
    "body-reset": GoClose(("connect", "reset"), _RESET),
}


def text_matches(close: GoClose, text: str, url: str) -> bool:
    """True if ``text`` is Go's text for ``close`` when fetching a URL that the regular
    expression ``url`` matches (Go quotes the URL with ``strconv.Quote``; a plain URL
    needs no escapes)."""
    pattern = close.text.replace("{url}", f'"{url}"')
    return re.fullmatch(pattern, text) is not None


#: the report's words for a connection failure, by reason (README's error table)
_CONNECT_LABELS = {
    "refused": "connection refused",
    "reset": "connection reset",
    "network-unreachable": "network unreachable",
    "host-unreachable": "host unreachable",
    "network-down": "network down",
    "aborted": "connection aborted",
    "timed-out": "connection timed out",
}


def report_label(error: ErrorClass) -> str:
    """The report's ``kind`` for an error class: ``dns not-found`` / ``dns timeout`` /
    ``dns temporary`` (the first flag Go's error has, in that order), ``connection
    refused``, ``connection reset``... (for ``("errno", n)`` the label of
    :func:`errno_reason`, ``connection failed`` for an errno with none), ``timeout``,
    ``http status N``, ``eof`` (Go's ``EOF``), ``unexpected eof``, ``invalid list``,
    ``unexpected error`` (a failure no rule names)."""
    what, detail = error
    if what == "dns":
        flags: DNSFlags = detail
        if flags.not_found:
            return "dns not-found"
        if flags.timeout:
            return "dns timeout"
        if flags.temporary:
            return "dns temporary"
        return "dns error"
    if what == "connect":
        return _CONNECT_LABELS.get(detail, "connection failed")
    if what == "errno":
        return _CONNECT_LABELS.get(errno_reason(detail), "connection failed")
    if what == "timeout":
        return "timeout"
    if what == "status":
        return f"http status {detail}"
    if what == "protocol":
        return {"EOF": "eof", "unexpected EOF": "unexpected eof"}.get(detail, "protocol error")
    if what == "list":
        return "invalid list"
    if what == "unexpected":
        return "unexpected error"
    raise ValueError(f"no report label for the error class {error!r}")


#: the port Go's ``net/http`` dials for a URL without one (``transport.go``,
#: ``canonicalAddr`` over ``portMap``): Harvester's repo URL has none
DEFAULT_PORTS = {"http": 80, "https": 443}


#: errnos ``IsRetriableNetworkError`` names that a ``connect(2)`` fails with, most of
#: which Python raises as a plain ``OSError`` (no subclass, unlike ECONNREFUSED's
#: ``ConnectionRefusedError``): a node whose network is not up yet after its reboot.
#: errno name -> (the reason class, ``spec.predicates``) and Go's text of the
#: ``syscall.Errno`` on Linux (``zerrors_linux_amd64.go``'s ``errors`` table)
DIAL_ERRNOS: dict[str, tuple[str, str]] = {
    "ECONNREFUSED": ("refused", "connection refused"),
    "EHOSTUNREACH": ("host-unreachable", "no route to host"),
    "ENETUNREACH": ("network-unreachable", "network is unreachable"),
    "ENETDOWN": ("network-down", "network is down"),
}


#: the errnos the README's error table names a reason for (the report's ``connection
#: ...`` labels, :data:`_CONNECT_LABELS`): the six ``IsRetriableNetworkError`` tests and
#: ECONNABORTED; any other errno is ``other`` ("connection failed")
ERRNO_REASONS: dict[str, str] = {
    "ECONNREFUSED": "refused",
    "ECONNRESET": "reset",
    "ENETUNREACH": "network-unreachable",
    "EHOSTUNREACH": "host-unreachable",
    "ENETDOWN": "network-down",
    "ECONNABORTED": "aborted",
    "ETIMEDOUT": "timed-out",
}


def errno_reason(n: int) -> str:
    """The reason (:data:`ERRNO_REASONS`) of errno ``n``, ``other`` for the rest."""
    return next(
        (ERRNO_REASONS[name] for name in go_errno.entry(n).names if name in ERRNO_REASONS), "other"
    )


def dial_errno_text(url: str, address: str, n: int) -> str:
    """Go's ``http.Client`` error when the dial of ``address`` fails with errno ``n``
    (any errno, ``spec.go_errno``): ``Get "URL": dial tcp ADDR: connect: TEXT``, e.g.
    ``Get "http://10.0.0.1/v": dial tcp 10.0.0.1:80: connect: cannot assign requested
    address`` (asked of Go 1.23.9, ``tests/fidelity/test_spec_go_errno.py``)."""
    return f'Get "{url}": {go_errno.op_text("dial", address, n)}'


def dial_text(url: str, address: str, errno_name: str) -> str:
    """Go's ``http.Client`` error when the dial of ``address`` fails with the errno
    ``errno_name`` (a key of :data:`DIAL_ERRNOS`): ``*url.Error`` over
    ``*net.OpError`` over ``os.SyscallError("connect", errno)``, e.g. ``Get
    "http://10.53.0.7/v": dial tcp 10.53.0.7:80: connect: no route to host``."""
    return f'Get "{url}": dial tcp {address}: connect: {DIAL_ERRNOS[errno_name][1]}'


def refused_dial_text(url: str, address: str) -> str:
    """Go's ``http.Client`` error when the dial of ``address`` (``IP:PORT`` as Go prints
    it, the port from the URL or :data:`DEFAULT_PORTS`) is refused: ``*url.Error``
    over ``*net.OpError`` over ``os.SyscallError("connect", ECONNREFUSED)`` (asked of
    Go 1.23.9: ``Get "http://127.0.0.1/v": dial tcp 127.0.0.1:80: connect: connection
    refused``)."""
    return dial_text(url, address, "ECONNREFUSED")


def unexpected_status_text(status_line: str) -> str:
    """The controller's error for a final response other than 200, ``fmt.Errorf(
    "unexpected status: %s", resp.Status)``, where Go's ``resp.Status`` is the status
    line after its first space, left-trimmed (``net/http`` ``ReadResponse``): the code
    and the reason phrase *the server sent*, or the code alone when it sent none (asked
    of Go 1.23.9: ``HTTP/1.1 503 Service Temporarily Unavailable`` -> ``503 Service
    Temporarily Unavailable``; ``HTTP/1.1 404`` -> ``404``; ``HTTP/1.1 500 Internal
    Error`` -> ``500 Internal Error``).  Go keeps trailing spaces of the line
    (``404 `` stays); cleanup's text does not, a known difference of text only, not
    generated."""
    _, _, status = status_line.partition(" ")
    return f"unexpected status: {status.lstrip(' ')}"

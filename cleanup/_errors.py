"""Every exception the cleanup raises on purpose, and how they nest.

The tree (httpx's ``_exceptions.py`` is the model)::

    CleanupError                 base of everything below
    ├── DNSError                 a failed lookup (Go's net.DNSError: not found, timeout, temporary)
    │   └── DialDNSError         ... while dialing for a request (Go's url.Error around it)
    ├── ConnectError             a refused, reset or unreachable connection (errno kept)
    ├── RequestTimeout           Go's http.Client.Timeout, naming the phase it hit
    ├── ProtocolError            a malformed or truncated HTTP exchange
    ├── HTTPStatusError          the repo answered, with a status other than 200
    ├── ImageListError           a fetched image list is unusable (line named)
    ├── UnexpectedError          nobody has classified it yet; never retried
    ├── RetriesExhausted         the retry schedule or the deadline ran out (last_error kept)
    ├── StoreError               the image store cannot be read or used
    │   └── RemovalError         one image could not be removed; the run goes on
    └── InputError (ValueError)  input the cleanup cannot use, named; raised before any run
        ├── PolicyError          a policy, schedule field or policy file
        ├── ResolvConfError      a resolv.conf, or a bad HOST:PORT
        ├── InvalidReference     not an image reference
        └── StoreSpecError       a --store value or store file

    AddrError                    internal: Go's *net.AddrError, which the transport
                                 turns into a ConnectError before anyone sees it

The run errors (``DNSError`` to ``UnexpectedError``) are shaped like the ones the Go
controller sees.  Retry decisions are made on these types only, never on raw
``OSError``/httpx exceptions: :func:`cleanup.to_error` (in ``_classify``) maps whatever
the stack raises onto them first.  Every message says what was looked up or fetched,
from where, and why it failed, because the one line ``Unable to cleanup images:
<error>`` is often all an operator gets.

One idea: the exceptions, the vocabularies their fields and labels speak
(:data:`ConnectReason` with its errno table :data:`REASON_BY_ERRNO`,
:data:`TimeoutPhase`, :data:`ErrorKind`, ...) and what pickles them, with the tree
above as their table of contents.  Apart: Go's text rules the messages are built from
(``_gotext``: ``%q``, errno texts, ``url.Error``), and what maps a raw failure onto
the tree (``_classify``, ``_http_errors``).
"""

from __future__ import annotations

import errno
from http import HTTPStatus
from typing import ClassVar, Literal, NewType, get_args

from cleanup._goerrno import errno_temporary, errno_text, errno_timeout
from cleanup._gotext import url_error_text

__all__ = [
    "REASON_BY_ERRNO",
    "CleanupError",
    "ConnectError",
    "ConnectReason",
    "DNSError",
    "DialDNSError",
    "ErrorKind",
    "HTTPStatusError",
    "ImageListError",
    "InputError",
    "InvalidReference",
    "Limit",
    "PolicyError",
    "ProtocolError",
    "RemovalError",
    "RequestTimeout",
    "ResolvConfError",
    "RetriesExhausted",
    "SocketOp",
    "StatusKind",
    "StopReason",
    "StoreError",
    "StoreSpecError",
    "TimeoutPhase",
    "UnexpectedError",
]


#: The label :func:`cleanup.error_kind` gives an error, for logs, reports and traces
#: (``cleanup run --json``'s ``kind`` and ``error_kind``; change one only with its
#: readers).  Closed: the labels of the run errors, by their Go meaning (``dns ...`` by
#: ``net.DNSError``'s flags, ``connection ...`` by :data:`ConnectReason`, ``eof``,
#: ``unexpected eof``, ``too many redirects`` and ``protocol error`` by
#: :class:`ProtocolError`'s detail), a class's :attr:`CleanupError.kind_label`, and
#: ``error`` for any other CleanupError; the one label with a number in it is a
#: :data:`StatusKind`.
ErrorKind = Literal[
    "dns not-found",
    "dns timeout",
    "dns temporary",
    "dns error",
    "connection refused",
    "connection reset",
    "network unreachable",
    "host unreachable",
    "network down",
    "connection aborted",
    "connection timed out",
    "connection failed",
    "timeout",
    "eof",
    "unexpected eof",
    "too many redirects",
    "protocol error",
    "invalid list",
    "unexpected error",
    "store error",
    "removal failed",
    "gave up",
    "error",
]
#: ``http status N``: the label of an :class:`HTTPStatusError` with status N, the one
#: :func:`cleanup.error_kind` label that carries a number (Python's ``Literal`` cannot
#: spell a family), so a type of its own that only :func:`cleanup.error_kind` makes: a
#: label spelt by hand is neither this nor an :data:`ErrorKind`, and mypy says so.
StatusKind = NewType("StatusKind", str)

#: What ran out when the retries did: the schedule's attempts, or the deadline.
Limit = Literal["schedule", "deadline"]
#: Why a retry loop stopped without success: an error that is never retried, or a
#: :data:`Limit`.
StopReason = Literal["not-retriable", "schedule", "deadline"]


class CleanupError(Exception):
    """Base of every error the cleanup reports.

    ``kind_label``: what :func:`cleanup.error_kind` says of a class whose label does not
    depend on the instance (None: the instance decides, or ``error``).
    """

    kind_label: ClassVar[ErrorKind | None] = None


class DNSError(CleanupError):
    """A failed name lookup, with the meaning of Go's ``net.DNSError``.

    ``is_not_found``: every candidate name answered NXDOMAIN or NODATA ("no such host").
    ``is_timeout``: no server answered in time.
    ``is_temporary``: a server answered, but with a failure (SERVFAIL, REFUSED, ICMP
    port unreachable) that may clear up ("server misbehaving").
    """

    def __init__(
        self,
        name: str,
        err: str,
        *,
        server: str = "",
        is_not_found: bool = False,
        is_timeout: bool = False,
        is_temporary: bool = False,
    ) -> None:
        self.name = name
        self.err = err
        self.server = server
        self.is_not_found = is_not_found
        self.is_timeout = is_timeout
        self.is_temporary = is_temporary
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" on {self.server}" if self.server else ""
        return f"lookup {self.name}{where}: {self.err}"

    def renamed(self, name: str) -> DNSError:
        """A plain :class:`DNSError` for ``name`` with this one's text, server and flags:
        the lookup's error is a candidate's, reported under the name as asked (Go's
        ``goLookupIPCNAME``); also the ``*net.DNSError`` inside a
        :class:`DialDNSError`."""
        return DNSError(
            name,
            self.err,
            server=self.server,
            is_not_found=self.is_not_found,
            is_timeout=self.is_timeout,
            is_temporary=self.is_temporary,
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_dns_error,
            (
                self.name,
                self.err,
                self.server,
                self.is_not_found,
                self.is_timeout,
                self.is_temporary,
            ),
        )


def _rebuild_dns_error(name: str, err: str, server: str, nf: bool, to: bool, tmp: bool) -> DNSError:
    return DNSError(name, err, server=server, is_not_found=nf, is_timeout=to, is_temporary=tmp)


class DialDNSError(DNSError):
    """A failed lookup met while dialling for an HTTP request.

    Go reports it as ``url.Error{Op: "Get", Err: &net.OpError{Op: "dial", Net: "tcp",
    Err: *net.DNSError}}``: the text is ``Get "URL": dial tcp: lookup NAME on SERVER:
    no such host``, and ``errors.As`` still finds the ``*net.DNSError`` with its flags,
    which is what Harvester's retry predicates test.  So this *is* a :class:`DNSError`
    (same fields, copied from the resolver's error, which stays reachable as
    ``__cause__``) whose text is the whole ``url.Error``.
    """

    def __init__(self, url: str, error: DNSError) -> None:
        self.url = url
        DNSError.__init__(
            self,
            error.name,
            error.err,
            server=error.server,
            is_not_found=error.is_not_found,
            is_timeout=error.is_timeout,
            is_temporary=error.is_temporary,
        )
        # every field the resolver's error has, including any this class does not know
        fields = {k: v for k, v in vars(error).items() if k not in ("url", "__cause__")}
        self.__dict__.update(fields)
        self.url = url
        self.__cause__ = error

    @property
    def dns_text(self) -> str:
        """The ``*net.DNSError`` part alone: ``lookup NAME on SERVER: ERR``."""
        return DNSError.__str__(self)

    def __str__(self) -> str:
        return url_error_text(self.url, f"dial tcp: {self.dns_text}")

    def __reduce__(self) -> tuple[object, ...]:
        cause = self.__cause__
        if not isinstance(cause, DNSError):
            cause = self.renamed(self.name)
        return (DialDNSError, (self.url, cause))


#: Why a socket call failed (:attr:`ConnectError.reason`): the errnos Harvester's
#: ``IsRetriableNetworkError`` tests, plus ECONNABORTED, or ``other`` (any other errno)
ConnectReason = Literal[
    "refused",
    "reset",
    "network-unreachable",
    "host-unreachable",
    "network-down",
    "aborted",
    "timed-out",
    "other",
]
#: The failing socket call of a :class:`ConnectError` (Go's ``OpError.Op``)
SocketOp = Literal["dial", "read", "write"]

#: errno -> :data:`ConnectReason` (the one copy: the transport and ``to_error`` both
#: read it); any errno not here is ``other`` (EPIPE and the rest: Harvester's retry
#: predicate does not list them)
REASON_BY_ERRNO: dict[int, ConnectReason] = {
    errno.ECONNREFUSED: "refused",
    errno.ECONNRESET: "reset",
    errno.ENETUNREACH: "network-unreachable",
    errno.EHOSTUNREACH: "host-unreachable",
    errno.ENETDOWN: "network-down",
    errno.ECONNABORTED: "aborted",
    errno.ETIMEDOUT: "timed-out",
}

# ConnectError.reason -> its errno: what a ConnectError built from a reason alone (a
# Python subclass without an errno, the simulation's model) failed with
_ERRNO_BY_REASON: dict[ConnectReason, int] = {
    reason: code for code, reason in REASON_BY_ERRNO.items()
}


class AddrError(Exception):
    """Go's ``*net.AddrError`` (``net/net.go``): ``address ADDR: ERR``.  Raised by our
    dialer for a host whose lookup gave no address (a ``.onion`` name, whose candidates
    Go never asks): ``net.Dialer``'s ``errNoSuitableAddress``, "no suitable address
    found".  Internal: the transport turns it into a :class:`ConnectError`."""

    def __init__(self, err: str, addr: str) -> None:
        self.err = err
        self.addr = addr
        super().__init__(f"address {addr}: {err}")


class ConnectError(CleanupError):
    """A socket call of the HTTP exchange failed with an errno (Go's ``*net.OpError``).

    ``reason`` is one of ``refused``, ``reset``, ``network-unreachable``,
    ``host-unreachable``, ``network-down``, ``aborted``, ``timed-out`` (the errnos
    Harvester's ``IsRetriableNetworkError`` tests, plus ECONNABORTED) or ``other`` (any
    other errno, or none: then ``detail`` is the whole text).  ``errno`` is the errno the
    call failed with (Linux's number; for a named reason without one, that reason's), which
    gives the text (Go's ``syscall.Errno.Error()``, :mod:`cleanup._goerrno`) and Go's
    flags :attr:`is_timeout` and :attr:`is_temporary`; :meth:`from_errno` builds one
    from an errno alone.  ``op`` is the failing
    call: ``dial`` (``connect``), ``read`` or ``write``; ``address`` the peer
    ``IP:PORT`` and ``source`` the local one (Go names both for read/write).
    ``in_body``: the error came while reading the response body, which Go returns
    unwrapped (no ``Get "URL":``), since ``http.Client.Do`` had already returned.

    The text is Go's, e.g. ``Get "http://repo/x": dial tcp 10.53.1.20:80: connect:
    connection refused`` or ``Get "http://repo/x": read tcp
    10.52.0.7:41234->10.53.1.20:80: read: connection reset by peer``.
    """

    #: the values of :data:`ConnectReason` and :data:`SocketOp`, checked at runtime
    #: (a reason or op from an unchecked source, e.g. a pickle, is refused by name)
    REASONS: frozenset[str] = frozenset(get_args(ConnectReason))
    OPS: frozenset[str] = frozenset(get_args(SocketOp))

    def __init__(
        self,
        url: str,
        address: str,
        reason: ConnectReason,
        detail: str = "",
        *,
        op: SocketOp = "dial",
        source: str = "",
        in_body: bool = False,
        errno: int | None = None,
    ) -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown connect error reason {reason!r}")
        if op not in self.OPS:
            raise ValueError(f"unknown socket operation {op!r} (expected dial, read or write)")
        if errno is not None and (
            isinstance(errno, bool) or not isinstance(errno, int) or errno <= 0
        ):
            raise ValueError(f"an errno is a positive number, got {errno!r}")
        self.errno = errno if errno is not None else _ERRNO_BY_REASON.get(reason)
        self.url = url
        self.address = address
        self.reason = reason
        self.detail = detail
        self.op = op
        self.source = source
        self.in_body = in_body
        super().__init__(str(self))

    @classmethod
    def from_errno(
        cls,
        url: str,
        address: str,
        code: int,
        *,
        op: SocketOp = "dial",
        source: str = "",
        in_body: bool = False,
    ) -> ConnectError:
        """The error of a socket call that failed with errno ``code``: its reason by
        :data:`REASON_BY_ERRNO` (``other`` for the rest), its text and flags Go's."""
        reason = REASON_BY_ERRNO.get(code, "other")
        return cls(url, address, reason, op=op, source=source, in_body=in_body, errno=code)

    @property
    def errno_text(self) -> str:
        """What Go prints for the errno: ``connection refused``, ``broken pipe``...;
        without an errno, ``detail``."""
        if self.errno is not None:
            return errno_text(self.errno)
        return self.detail or "connection failed"

    @property
    def is_timeout(self) -> bool:
        """Go's ``Timeout()`` of the ``*net.OpError``: its errno's (EAGAIN, ETIMEDOUT),
        which ``os.IsTimeout`` sees through ``*url.Error``."""
        return self.errno is not None and errno_timeout(self.errno)

    @property
    def is_temporary(self) -> bool:
        """Go's ``Temporary()`` of the ``*net.OpError`` (not an accept): its errno's
        (EINTR, EMFILE, ENFILE and the timeouts; not ECONNRESET)."""
        return self.errno is not None and errno_temporary(self.errno)

    @property
    def op_text(self) -> str:
        """The ``*net.OpError`` part alone: ``dial tcp ADDR: connect: ...``; without an
        address (Go's ``OpError.Addr`` nil: nothing was dialled, ``detail`` is the
        whole error, e.g. ``address x.onion: no suitable address found``) ``dial tcp:
        DETAIL``."""
        if not self.address:
            return f"{self.op} tcp: {self.errno_text}"
        call = "connect" if self.op == "dial" else self.op
        where = (
            f"{self.source}->{self.address}" if self.source and self.op != "dial" else self.address
        )
        return f"{self.op} tcp {where}: {call}: {self.errno_text}"

    def __str__(self) -> str:
        return self.op_text if self.in_body else url_error_text(self.url, self.op_text)

    def __reduce__(self) -> tuple[object, ...]:
        fields = (self.url, self.address, self.reason, self.detail, self.op, self.source)
        return (_rebuild_connect_error, (*fields, self.in_body, self.errno))


def _rebuild_connect_error(
    url: str,
    address: str,
    reason: ConnectReason,
    detail: str,
    op: SocketOp,
    source: str,
    in_body: bool,
    errno: int | None = None,
) -> ConnectError:
    return ConnectError(
        url, address, reason, detail, op=op, source=source, in_body=in_body, errno=errno
    )


#: Where in the HTTP exchange a :class:`RequestTimeout` struck; all but ``body`` end in
#: Go's "(Client.Timeout exceeded while awaiting headers)".  ``read`` is the response
#: headers; ``request`` somewhere before them, where a foreign stack does not say
TimeoutPhase = Literal["lookup", "connect", "write", "read", "headers", "pool", "request", "body"]
_TIMEOUT_PHASES: frozenset[str] = frozenset(get_args(TimeoutPhase))


class RequestTimeout(CleanupError):
    """The HTTP exchange ran out of time: Go's ``http.Client.Timeout``, one deadline
    over lookup, connect, request, headers and the whole body (and redirects).

    ``phase`` says where the time ran out (``lookup``, ``connect``, ``write``,
    ``read``/``headers``, ``pool``, ``body``) and ``timeout`` is the client's timeout in
    seconds.  The text is Go's (``net/http/client.go``): before the response headers
    ``Get "URL": context deadline exceeded (Client.Timeout exceeded while awaiting
    headers)``; in the body, unwrapped, ``context deadline exceeded (Client.Timeout or
    context cancellation while reading body)``.  ``detail`` replaces the Client.Timeout
    text for a timeout that is *not* the client's (the dialer's own 30 s: ``dial tcp
    ADDR: i/o timeout``).  Always ``os.IsTimeout`` in Go, so both Harvester predicates
    retry it.
    """

    def __init__(
        self, url: str, phase: TimeoutPhase, timeout: float | None, detail: str = ""
    ) -> None:
        if phase not in _TIMEOUT_PHASES:
            raise ValueError(f"unknown timeout phase {phase!r}")
        self.url = url
        self.phase = phase
        self.timeout = timeout
        self.detail = detail
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.detail:
            return url_error_text(self.url, self.detail)
        if self.phase == "body":
            return (
                "context deadline exceeded"
                " (Client.Timeout or context cancellation while reading body)"
            )
        return url_error_text(
            self.url, "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (RequestTimeout, (self.url, self.phase, self.timeout, self.detail))


class ProtocolError(CleanupError):
    """The exchange failed with no errno and no timeout; never retried.

    Go's texts, each a fixed ``detail``: ``EOF`` (the server closed the connection
    before a response), ``unexpected EOF`` (it closed in the middle of the body; that
    one comes unwrapped, ``in_body``), ``stopped after 10 redirects`` (``url`` is then
    the raw ``Location`` that was not followed, as Go reports it), or ``net/http:
    HTTP/1.x transport connection broken: ...`` for a malformed response.  Harvester's
    ``IsRetriableNetworkError`` finds no errno and no timeout in any of them.
    """

    def __init__(self, url: str, detail: str, *, in_body: bool = False) -> None:
        self.url = url
        self.detail = detail
        self.in_body = in_body
        super().__init__(str(self))

    def __str__(self) -> str:
        return self.detail if self.in_body else url_error_text(self.url, self.detail)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_protocol_error, (self.url, self.detail, self.in_body))


def _rebuild_protocol_error(url: str, detail: str, in_body: bool) -> ProtocolError:
    return ProtocolError(url, detail, in_body=in_body)


class HTTPStatusError(CleanupError):
    """The repo answered with a status other than 200. Never retried, as in the controller.

    The text is the controller's ``fmt.Errorf("unexpected status: %s", resp.Status)``:
    ``resp.Status`` is the code and the reason phrase the server sent (``404 Not
    Found``; nginx says ``503 Service Temporarily Unavailable``).  ``reason`` defaults
    to the standard phrase.  ``version`` is which list was asked for (for reports).
    """

    def __init__(
        self, url: str, status: int, version: str | None = None, reason: str | None = None
    ) -> None:
        self.url = url
        self.status = status
        self.version = version
        if reason is None:
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = ""
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"unexpected status: {self.status} {self.reason}".rstrip()

    def __reduce__(self) -> tuple[object, ...]:
        return (HTTPStatusError, (self.url, self.status, self.version, self.reason))


class ImageListError(CleanupError):
    """A fetched image list is unusable; ``line`` is 1-based, 0 for the whole document."""

    def __init__(self, url: str, line: int, reason: str) -> None:
        self.url = url
        self.line = line
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "document"
        return f"invalid image list {self.url} ({where}): {self.reason}"

    def __reduce__(self) -> tuple[object, ...]:
        return (ImageListError, (self.url, self.line, self.reason))


class UnexpectedError(CleanupError):
    """A failure nobody has classified yet (a bug, or a new failure mode of the stack).

    Never retried: retrying what we do not understand would hide it for the whole
    budget.  The original exception is kept as ``__cause__`` and its type and text are
    in the message, so the one log line an operator sees still says what happened.
    """

    def __init__(self, description: str, url: str | None = None) -> None:
        self.description = description
        self.url = url
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" fetching {self.url}" if self.url else ""
        return f"unexpected error{where}: {self.description}"

    def __reduce__(self) -> tuple[object, ...]:
        return (UnexpectedError, (self.description, self.url))


# --------------------------------------------------------------------------- input errors


class InputError(CleanupError, ValueError):
    """Input the cleanup cannot use (a file, a flag, a policy field, a reference); the
    message names the field, line or flag.  Raised before anything runs, never retried;
    a ``ValueError`` too, so callers that caught ``ValueError`` still do."""


class PolicyError(InputError):
    """A policy, schedule field or policy file is unusable; the message names the field."""


class ResolvConfError(InputError):
    """A resolv.conf that cannot be read, or a bad ``HOST:PORT`` (``ports=True`` only)."""


class InvalidReference(InputError):
    """Not an image reference; the message says what is wrong with it."""


class StoreError(CleanupError):
    """The image store could not be read or used (tool missing, socket down, bad data)."""

    kind_label: ClassVar[ErrorKind | None] = "store error"


class StoreSpecError(InputError):
    """A ``--store`` value or store file that cannot be used; a usage error, not a run error."""


class RemovalError(StoreError):
    """One image could not be removed; the cleanup reports it and goes on with the rest."""

    kind_label: ClassVar[ErrorKind | None] = "removal failed"

    def __init__(self, image: str, reason: str) -> None:
        self.image = image
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"remove image {self.image}: {self.reason}"

    def __reduce__(self) -> tuple[object, ...]:
        return (RemovalError, (self.image, self.reason))


class RetriesExhausted(CleanupError):
    """The schedule or the deadline ran out; ``last_error`` is what the last attempt hit.

    The message starts with the last error, so ``Unable to cleanup images: <message>``
    reads like the controller's own log line, followed by how much was spent.
    """

    kind_label: ClassVar[ErrorKind | None] = "gave up"

    def __init__(
        self, last_error: CleanupError, attempts: int, elapsed: float, reason: Limit = "schedule"
    ) -> None:
        self.last_error = last_error
        self.attempts = attempts
        self.elapsed = elapsed
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        plural = "" if self.attempts == 1 else "s"
        why = "deadline reached" if self.reason == "deadline" else "retry schedule exhausted"
        return (
            f"{self.last_error} (gave up after {self.attempts} attempt{plural} "
            f"in {self.elapsed:.1f}s: {why})"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (RetriesExhausted, (self.last_error, self.attempts, self.elapsed, self.reason))

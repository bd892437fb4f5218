"""The errors the cleanup can end with, shaped like the ones the Go controller sees.

Retry decisions are made on these types only, never on raw ``OSError``/httpx
exceptions: :func:`cleanup.classify` (in ``_classify``) maps whatever the stack raises
onto them first.  Every message says what was looked up or fetched, from where, and
why it failed, because the one line ``Unable to cleanup images: <error>`` is often all
an operator gets.
"""

from __future__ import annotations

__all__ = [
    "CleanupError",
    "ConnectError",
    "DNSError",
    "HTTPStatusError",
    "ImageListError",
    "RequestTimeout",
    "UnexpectedError",
]


class CleanupError(Exception):
    """Base of every error the cleanup reports."""


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


class ConnectError(CleanupError):
    """The TCP connection could not be made or was cut.

    ``reason`` is one of ``refused``, ``reset``, ``network-unreachable``,
    ``host-unreachable``, ``network-down``, ``aborted``, ``other``.
    """

    REASONS = frozenset(
        {
            "refused",
            "reset",
            "network-unreachable",
            "host-unreachable",
            "network-down",
            "aborted",
            "other",
        }
    )

    def __init__(self, url: str, address: str, reason: str, detail: str = "") -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown connect error reason {reason!r}")
        self.url = url
        self.address = address
        self.reason = reason
        self.detail = detail
        super().__init__(str(self))

    def __str__(self) -> str:
        text = {
            "refused": "connection refused",
            "reset": "connection reset by peer",
            "network-unreachable": "network is unreachable",
            "host-unreachable": "no route to host",
            "network-down": "network is down",
            "aborted": "connection aborted",
            "other": "connection failed",
        }[self.reason]
        extra = f" ({self.detail})" if self.detail and self.reason == "other" else ""
        return f"Get {self.url!r}: dial tcp {self.address}: {text}{extra}"

    def __reduce__(self) -> tuple[object, ...]:
        return (ConnectError, (self.url, self.address, self.reason, self.detail))


class RequestTimeout(CleanupError):
    """An HTTP exchange did not finish in time; ``phase`` is connect/read/write/pool."""

    def __init__(self, url: str, phase: str, timeout: float | None) -> None:
        self.url = url
        self.phase = phase
        self.timeout = timeout
        super().__init__(str(self))

    def __str__(self) -> str:
        limit = f" after {self.timeout:g}s" if self.timeout is not None else ""
        return f"Get {self.url!r}: {self.phase} timed out{limit} (Client.Timeout exceeded)"

    def __reduce__(self) -> tuple[object, ...]:
        return (RequestTimeout, (self.url, self.phase, self.timeout))


class HTTPStatusError(CleanupError):
    """The repo answered with a status other than 200. Never retried, as in the controller."""

    def __init__(self, url: str, status: int, version: str | None = None) -> None:
        self.url = url
        self.status = status
        self.version = version
        super().__init__(str(self))

    def __str__(self) -> str:
        msg = f"unexpected status {self.status} from {self.url}"
        if self.status == 404 and self.version is not None:
            msg += f" (the image list of version {self.version!r} is missing from the repo)"
        return msg

    def __reduce__(self) -> tuple[object, ...]:
        return (HTTPStatusError, (self.url, self.status, self.version))


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

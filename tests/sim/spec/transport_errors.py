"""The errors cleanup gives another HTTP stack's timeouts and unclassified failures.

Source: README "cleanup: name resolution and HTTP", "Errors of other HTTP stacks" (the
contract: phase, limit, text), restated here, and for the texts Go 1.23.9's
``http.Client{Timeout: 300ms}`` against a raw loopback server that stalls (a program
run with the venv's ``go``, ``GOTOOLCHAIN=local CGO_ENABLED=0``)::

    stall in the response headers:
        Get "URL": context deadline exceeded (Client.Timeout exceeded while awaiting headers)
    stall in writing the request (a POST of 64 MiB to a server that never reads):
        Post "URL": context deadline exceeded (Client.Timeout exceeded while awaiting headers)
    stall in the body (after the head):
        context deadline exceeded (Client.Timeout or context cancellation while reading body)

so Go's text names neither the phase before the body nor the limit; the phase and the
limit are the error's fields (``RequestTimeout.phase``, ``.timeout``), the limit being
the one httpx's ``Timeout`` configures for that phase::

    phase    httpx exception   httpx.Timeout key
    connect  ConnectTimeout    connect
    write    WriteTimeout      write
    headers  ReadTimeout       read
    body     ReadTimeout       read       (raised while reading the body)
    pool     PoolTimeout       pool

An exception nobody classified is an ``UnexpectedError`` (never retried) whose text is
``unexpected error fetching URL: TYPE: TEXT``: TYPE the class as ``module.Qualname``
(a builtin class without its module), ``: TEXT`` its ``str()``, left out when empty.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "HTTPX_KEY",
    "PHASES",
    "UNEXPECTED_KIND",
    "limit_of",
    "timeout_text",
    "unexpected_text",
]

#: the phase a stall happens in -> the key of ``httpx.Timeout`` that limits it
HTTPX_KEY = {
    "connect": "connect",
    "write": "write",
    "headers": "read",
    "body": "read",
    "pool": "pool",
}
PHASES = tuple(HTTPX_KEY)
#: README ``--json``: the report's ``error_kind`` (and the attempt's ``kind``) of an
#: unexpected error
UNEXPECTED_KIND = "unexpected error"


def limit_of(phase: str, configured: Mapping[str, float | None]) -> float | None:
    """The configured limit of ``phase`` (``configured``: httpx.Timeout's keys)."""
    return configured.get(HTTPX_KEY[phase])


def _quote(url: str) -> str:
    # Go's %q of an ASCII URL without quotes or backslashes: the text in double quotes
    return f'"{url}"'


def timeout_text(url: str, phase: str, method: str = "GET") -> str:
    """Go's text for a Client.Timeout in ``phase`` of a request to ``url``."""
    if phase == "body":
        return (
            "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
        )
    op = method[:1].upper() + method[1:].lower()  # Go's urlErrorOp
    return (
        f"{op} {_quote(url)}: context deadline exceeded"
        " (Client.Timeout exceeded while awaiting headers)"
    )


def unexpected_text(url: str | None, module: str, qualname: str, text: str) -> str:
    """The text of the ``UnexpectedError`` for an exception of class ``module.qualname``
    whose ``str()`` is ``text``, met fetching ``url``."""
    name = qualname if module == "builtins" else f"{module}.{qualname}"
    described = f"{name}: {text}" if text else name
    where = f" fetching {url}" if url else ""
    return f"unexpected error{where}: {described}"

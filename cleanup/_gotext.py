"""How Go spells the parts of an error's text: a quoted string, an errno, a ``url.Error``.

One idea: the text rules every error of the cleanup is built from, so that our
messages are Go's word for word (the one line ``Unable to cleanup images: <error>``
an operator reads must be the controller's):

- :func:`go_quote`: ``%q`` / ``strconv.Quote`` (Go's ``strconv/quote.go``), how Go
  quotes a URL, a header value, a host in its errors;
- :func:`go_strerror`: the text Go prints for the errno a system call failed with
  (``syscall.Errno.Error()``, ``syscall/syscall_unix.go``, from Go's own table in
  :mod:`cleanup._goerrno`, not glibc's ``strerror``), with :func:`os_errno`, the errno
  a Python exception carries (Python's side of that bridge: which ``OSError`` holds a
  system errno and which holds another library's code);
- :func:`url_error_text`: ``url.Error.Error()`` (``net/url/url.go``), the
  ``Get "URL": ...`` wrapper of every failed request.

Go's ``time.ParseDuration`` quotes with its own rule (``time.quote``), which lives
beside the duration parser (``cleanup._schedule``).  The exceptions these texts go
into are in :mod:`cleanup._errors`; pure logic, no I/O.
"""

from __future__ import annotations

import socket
import ssl

from cleanup._goerrno import errno_text

__all__ = ["go_quote", "go_strerror", "os_errno", "url_error_text"]


def go_quote(text: str) -> str:
    """``text`` as Go's ``%q`` (``strconv.Quote``) prints it: in double quotes, with
    ``"`` and ``\\`` escaped and control characters as escapes (printable Unicode kept)."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not char.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_strerror(exc: OSError) -> str:
    """``exc``'s errno as Go's ``syscall.Errno.Error()`` prints it, from Go's own table
    (:mod:`cleanup._goerrno`: ``cannot assign requested address``, ``stale NFS file
    handle``, ``errno 41``; not glibc's ``strerror``, which Python keeps).  Without an
    errno, ``exc``'s own text with its first letter lowered."""
    code = os_errno(exc)
    if code is not None:
        return errno_text(code)
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def os_errno(exc: BaseException) -> int | None:
    """The errno a system call failed with, when ``exc`` carries one: an ``OSError``
    whose ``errno`` is a positive int; None for anything else, and for the ``OSError``
    subclasses whose ``errno`` slot holds another library's code (``ssl.SSLError``:
    OpenSSL's; ``socket.gaierror`` / ``herror``: getaddrinfo's and h_errno)."""
    if not isinstance(exc, OSError) or isinstance(exc, _NOT_ERRNOS):
        return None
    code = exc.errno
    if isinstance(code, int) and not isinstance(code, bool) and code > 0:
        return code
    return None


_NOT_ERRNOS = (ssl.SSLError, socket.gaierror, socket.herror)


def url_error_text(url: str, err: str, op: str = "Get") -> str:
    """Go's ``url.Error.Error()``: ``Get "URL": err`` (``fmt.Sprintf("%s %q: %s", ...)``)."""
    return f"{op} {go_quote(url)}: {err}"

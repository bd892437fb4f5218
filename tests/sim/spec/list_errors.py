"""The documented error of an image list that is no list: which line, what it says.

Source: README "cleanup: retry policy, image lists and the plan" ("Image lists are
validated before use ... an ``ImageListError`` naming the line"; the message grammar
is written down there, "What an invalid list's error says") and the grammar of
``github.com/distribution/reference`` (README, ``cleanup._images`` module docstring).
Restated here, importing nothing from ``cleanup``.

A run's error for a list that fails is ``invalid image list URL (WHERE): REASON``,
``WHERE`` being ``line N`` (1-based, lines split at ``\\n``) or ``document``.  The
checks, in order, first failure wins:

0. framing: a body with neither ``Content-Length`` nor chunked framing is refused
   before reading, "its end cannot be proven: no Content-Length and no chunked
   framing, so a connection closed early looks the same as the end of the list"
   (document; README "Complete lists only");
1. size: more than the client's limit of ``M`` bytes: with a ``Content-Length`` over
   ``M`` refused before reading, "the list is N bytes, more than the M-byte limit (is
   the repo serving the wrong file?)"; otherwise as soon as the bytes received pass
   ``M``: "the list is at least K bytes, ..." with ``K`` the bytes received up to the
   piece that passed it (document);
   then a body (not empty) whose last byte is no newline: "it does not end with a
   newline (the repo's lists do): the body was cut short after N bytes, or its
   Content-Length is too small" (document);
2. a NUL byte: "binary data (NUL byte at offset O), not a text list", on the line
   holding the first NUL (offset 0 too);
3. bytes that are not UTF-8: "not UTF-8 text (byte 0xHH at offset O)", the first byte
   that begins no valid UTF-8 sequence, on its line;
4. then each line, a leading BOM (U+FEFF) dropped and surrounding whitespace (Python's
   ``str.strip``: Unicode whitespace) removed; blank lines are skipped; a line starting
   with ``<`` is an HTML/XML page when it starts (case-insensitively) with one of
   :data:`HTML_MARKERS`, or when no reference came before it: "this is an HTML/XML
   page (CLIP), not an image list: is the repo URL right, or is a proxy answering
   instead?"; a line starting with ``#`` is a comment; a trailing comment (whitespace,
   then ``#``) is cut off; what is left must be a reference, else "CLIP is not an
   image reference: WHY";
5. no reference at all: "no image references (empty)" when the text (BOM dropped) is
   only whitespace, else "no image references (only blank lines and comments)"
   (document).

``CLIP`` is Python's ``repr`` of the line (stripped, trailing comment cut), the line
cut to its first 77 characters and ``...`` when it is longer than 80.  ``WHY`` for the
kinds of bad line this module judges (:func:`why_not_a_reference`; None for others):

- a character outside the grammar's ``[A-Za-z0-9._-/:@[]+]``, the first one: "whitespace
  at column C is not allowed in an image reference" (``str.isspace``) or "character
  'X' at column C is not allowed in an image reference" (``repr`` of it), C 1-based;
- a tag (after the last ``:`` that follows the last ``/``) that is empty, "empty tag
  after ':'", or not ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}``: "tag 'T' is invalid
  (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')";
- a registry (the first ``/``-separated part when it holds ``.`` or ``:`` or is
  ``localhost``) that is not ``host[:port]``: "registry 'R' is not a valid host[:port]".
"""

from __future__ import annotations

import re

__all__ = [
    "HTML_MARKERS",
    "clip",
    "document_error",
    "error",
    "list_error",
    "text_error",
    "too_big",
    "why_not_a_reference",
]

#: the starts of a line that make it an HTML/XML page wherever it is
HTML_MARKERS = ("<!doctype", "<html", "<head", "<body", "<?xml", "<title", "<meta", "<script")
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/:@[]+")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_HOST_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST_PORT = re.compile(
    rf"(?:{_HOST_COMPONENT}(?:\.{_HOST_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)


def clip(line: str) -> str:
    """A line as a message quotes it (before ``repr``)."""
    return line if len(line) <= 80 else line[:77] + "..."


def error(url: str, line: int, reason: str) -> str:
    """The run's error text: ``line`` 0 is the whole document."""
    where = f"line {line}" if line else "document"
    return f"invalid image list {url} ({where}): {reason}"


def too_big(size: str, limit: int) -> str:
    """The size reason; ``size`` is ``"N bytes"`` or ``"at least K bytes"``."""
    return (
        f"the list is {size}, more than the {limit}-byte limit"
        " (is the repo serving the wrong file?)"
    )


def why_not_a_reference(line: str) -> str | None:
    """Why ``line`` (stripped, no comment) is no reference, for the kinds above; None
    for a line outside them (a reference, or another kind of bad line)."""
    if any(c.isupper() for c in line):
        return None  # the lower-case rule comes first; not judged here
    for column, char in enumerate(line, start=1):
        if char not in _ALLOWED:
            what = "whitespace" if char.isspace() else f"character {char!r}"
            return f"{what} at column {column} is not allowed in an image reference"
    if "@" in line:
        return None
    slash, colon = line.rfind("/"), line.rfind(":")
    name = line
    if colon > slash:
        name, tag = line[:colon], line[colon + 1 :]
        if not tag:
            return "empty tag after ':'"
        if not _TAG.fullmatch(tag):
            return (
                f"tag {tag!r} is invalid (letters, digits, '_', '.', '-', at most 128, "
                "not starting with '.' or '-')"
            )
    parts = name.split("/")
    first = parts[0]
    registry = len(parts) > 1 and ("." in first or ":" in first or first == "localhost")
    if registry and not _HOST_PORT.fullmatch(first):
        return f"registry {first!r} is not a valid host[:port]"
    return None


def list_error(
    url: str, data: bytes, limit: int, framing: str | list[int] = "length"
) -> str | None:
    """The run's error for ``data`` served at ``url`` whole, to a client whose limit is
    ``limit`` bytes; ``framing``: ``"length"`` (a ``Content-Length``), ``"close"``
    (neither length nor chunking: the body ends when the connection does) or the sizes
    of the chunks (summing to ``len(data)``).  None when it is a list."""
    if framing == "close":
        return error(
            url,
            0,
            "its end cannot be proven: no Content-Length and no chunked framing, so a "
            "connection closed early looks the same as the end of the list",
        )
    if isinstance(framing, str):
        if len(data) > limit:
            return error(url, 0, too_big(f"{len(data)} bytes", limit))
    else:
        received = 0
        for size in framing:
            received += size
            if received > limit:
                return error(url, 0, too_big(f"at least {received} bytes", limit))
    if data and not data.endswith(b"\n"):
        return error(
            url,
            0,
            "it does not end with a newline (the repo's lists do): the body was cut "
            f"short after {len(data)} bytes, or its Content-Length is too small",
        )
    found = text_error(data)
    return None if found is None else error(url, *found)


def document_error(data: bytes) -> tuple[int, str] | None:
    """Checks 2 and 3 (NUL, UTF-8): (line, reason), or None."""
    nul = data.find(b"\x00")
    if nul >= 0:
        return data.count(b"\n", 0, nul) + 1, (
            f"binary data (NUL byte at offset {nul}), not a text list"
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:  # the first byte that begins no valid sequence
        return data.count(b"\n", 0, exc.start) + 1, (
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        )
    return None


def text_error(data: bytes) -> tuple[int, str] | None:
    """Checks 2-5 for a body within the size limit: (line, reason) for a list that
    fails, None for one that passes.  A line :func:`why_not_a_reference` does not judge
    counts as a reference: bodies given here hold references and the judged kinds of
    bad line only."""
    found = document_error(data)
    if found is not None:
        return found
    text = data.decode("utf-8").removeprefix("\ufeff")
    references = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("<") and (line.lower().startswith(HTML_MARKERS) or not references):
            return number, (
                f"this is an HTML/XML page ({clip(line)!r}), not an image list: "
                "is the repo URL right, or is a proxy answering instead?"
            )
        if line.startswith("#"):
            continue
        comment = re.search(r"\s#", line)
        if comment:
            line = line[: comment.start()].rstrip()
        why = why_not_a_reference(line)
        if why is not None:
            return number, f"{clip(line)!r} is not an image reference: {why}"
        references += 1
    if not references:
        described = "empty" if not text.strip() else "only blank lines and comments"
        return 0, f"no image references ({described})"
    return None

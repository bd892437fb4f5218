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
   (document; README "Complete lists only"); one with both a ``Content-Length`` of D
   and ``Transfer-Encoding: chunked`` (which HTTP/1.1 readers, h11 among them, take
   as chunked) is refused before reading, "the repo sent both Content-Length (D) and
   Transfer-Encoding (chunked): the framing is ambiguous (RFC 9112 section 6.3)"
   (document; RFC 9112 section 6.3 item 3: such a message "ought to be handled as an
   error", the two framings disagreeing about where the list ends);
1. size: more than the client's limit of ``M`` bytes: with a ``Content-Length`` over
   ``M`` refused before reading, "the list is N bytes, more than the M-byte limit (is
   the repo serving the wrong file?)"; otherwise as soon as the bytes received pass
   ``M``: "the list is at least K bytes, ..." with ``K`` the bytes received up to the
   piece that passed it (document);
   then a ``Content-Length`` D that the M bytes received do not meet: "Content-Length
   is D but M bytes arrived" (document; see the end of this docstring);
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
cut to its first 77 characters and ``...`` when it is longer than 80.  ``WHY``
(:func:`why_not_a_reference`, None exactly for a reference) is the first of these, in
this order, that the line fails:

a. the line is a 64-character lower-case hex string (an image ID, which
   ``ParseNormalizedNamed`` refuses first): "64-character hex strings are image IDs,
   not references (reserved by the grammar)";
b. splitDockerDomain (normalize.go): the text before the first ``/`` is the domain
   when there is a ``/`` and it contains ``.`` or ``:``, is ``localhost`` or is not
   all lower case; else the domain is ``docker.io`` and the remainder the whole line
   (``index.docker.io`` is ``docker.io``; a ``docker.io`` remainder without ``/`` gets
   ``library/``).  The remainder up to its first ``:`` (path, and an ``@digest``
   before any ``:``) must be lower case (``str.lower``, Unicode as Go's
   ``strings.ToLower``): "repository name 'REMOTE' must be lower-case";
c. ``DOMAIN/REMAINDER`` must match distribution/reference's ``ReferenceRegexp``
   (regexp.go)::

       reference := name [":" tag] ["@" digest]
       name      := [domain "/"] component ("/" component)*
       domain    := (dnsname | "[" [a-fA-F0-9:]+ "]") [":" [0-9]+]
       dnsname   := label ("." label)*    label: [a-zA-Z0-9] or [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
       component := [a-z0-9]+ (sep [a-z0-9]+)*   sep: "." "_" "__" "-"+
       tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
       digest    := [A-Za-z][A-Za-z0-9]* ([-_+.][A-Za-z][A-Za-z0-9]*)* ":" [0-9a-fA-F]{32,}

   When it does not, the reason is the first of, judging the line as written:

   1. a character outside ``[A-Za-z0-9._-/:@[]+]``, the first one: "whitespace at
      column C is not allowed in an image reference" (``str.isspace``) or "character
      'X' at column C is not allowed in an image reference" (``repr`` of it), C 1-based;
   2. more than one ``@``: "more than one '@'";
   3. the digest D after the ``@``: without ``:`` or with an algorithm outside the
      grammar, "digest 'D' is not ALGORITHM:HEX"; its hex part not 32 or more hex
      digits, "digest 'D': the encoded part must be at least 32 hex digits";
   4. the tag T (before the ``@``, after the last ``:`` that follows the last ``/``):
      empty, "empty tag after ':'"; outside the grammar, "tag 'T' is invalid (letters,
      digits, '_', '.', '-', at most 128, not starting with '.' or '-')";
   5. nothing before the tag or ``@``: "no repository name";
   6. the name's ``/``-separated parts: the first, when there are several and (b)'s
      rule takes it for a domain, must be ``domain``: "registry 'R' is not a valid
      host[:port]"; each other part (all of them when the first is no domain) in order:
      empty, "empty path component ('//', or a leading or trailing '/')"; outside
      ``component``, "path component 'P' is invalid (lower-case letters and digits,
      joined by '.', '_', '__' or dashes)";
   7. else "does not match [registry[:port]/]path[:tag][@digest]";

d. the name (``DOMAIN/PATH`` as normalised, ``docker.io/`` and ``library/`` counted)
   longer than 255 (``NameTotalLengthMax``): "repository name is N characters (at
   most 255)";
e. a digest's algorithm not one go-digest registers: "digest algorithm 'A' is not one
   of sha256, sha384, sha512"; its hex part not that algorithm's length in lower-case
   hex (64, 96, 128): "ALG digest must be N lower-case hex digits, got 'HEX'".

Framing as the repo client reads it (README "Complete lists only", ``check_complete``),
all on the document (line 0): besides (0) and the newline rule, a ``Content-Length``
D that the body's M bytes do not meet (a transport that does not hold the body to its
framing): "Content-Length is D but M bytes arrived", after the size checks and before
the newline rule (:func:`list_error`'s ``framing`` given as the integer D).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tests.sim.spec import deletion as spec_deletion

__all__ = [
    "DEFAULT_LIMIT",
    "DIGEST_HEX",
    "HTML_MARKERS",
    "NAME_TOTAL_LENGTH_MAX",
    "both_framings",
    "clip",
    "document_error",
    "error",
    "list_error",
    "list_error_at",
    "split_docker_domain",
    "takes_for_domain",
    "text_error",
    "too_big",
    "unrelated_error",
    "why_not_a_reference",
]

#: the size limit of a list when the client is given none (README "Image lists are
#: validated before use": "at most 4 MiB"), in bytes: a list of exactly this many
#: bytes is read, one byte more is :func:`too_big`
DEFAULT_LIMIT = 4 * 1024 * 1024

#: the starts of a line that make it an HTML/XML page wherever it is
HTML_MARKERS = ("<!doctype", "<html", "<head", "<body", "<?xml", "<title", "<meta", "<script")
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/:@[]+")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_HOST_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST_PORT_TEXT = rf"(?:{_HOST_COMPONENT}(?:\.{_HOST_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_HOST_PORT = re.compile(_HOST_PORT_TEXT)
_COMPONENT_TEXT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_COMPONENT = re.compile(_COMPONENT_TEXT)
_ALGORITHM_TEXT = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*"
_ALGORITHM = re.compile(_ALGORITHM_TEXT)
_REFERENCE = re.compile(
    rf"((?:{_HOST_PORT_TEXT}/)?{_COMPONENT_TEXT}(?:/{_COMPONENT_TEXT})*)"
    rf"(?::{_TAG.pattern})?(?:@({_ALGORITHM_TEXT}:[0-9a-fA-F]{{32,}}))?"
)
_IMAGE_ID = re.compile(r"[a-f0-9]{64}")
#: go-digest's registered algorithms and the length of their hex encoding
DIGEST_HEX = {"sha256": 64, "sha384": 96, "sha512": 128}
#: distribution/reference NameTotalLengthMax, on the normalised name
NAME_TOTAL_LENGTH_MAX = 255


def clip(line: str) -> str:
    """A line as a message quotes it (before ``repr``)."""
    return line if len(line) <= 80 else line[:77] + "..."


def error(url: str, line: int, reason: str) -> str:
    """The run's error text: ``line`` 0 is the whole document."""
    where = f"line {line}" if line else "document"
    return f"invalid image list {url} ({where}): {reason}"


def unrelated_error(url: str, current: Sequence[str]) -> str:
    """The run's error when the current list (served at ``url``) shares no namespace
    with the previous one (``spec.deletion.related`` false; README "A list, not another
    document"): the document's, naming the first three of the current list's
    namespaces in sorted order, or ``only image IDs`` when it names none (every entry
    an image ID, which names no repository)."""
    shown = ", ".join(sorted(spec_deletion.namespaces(current))[:3]) or "only image IDs"
    return error(
        url,
        0,
        f"it shares no registry/namespace with the previous list (it names {shown}):"
        " is it an image list at all, or did a proxy or error page answer?",
    )


def both_framings(declared: int, transfer_encoding: str) -> str:
    """Check 0's reason for a response with a ``Content-Length`` of ``declared`` and a
    ``Transfer-Encoding`` of ``transfer_encoding`` (RFC 9112 section 6.3 item 3)."""
    return (
        f"the repo sent both Content-Length ({declared}) and Transfer-Encoding"
        f" ({transfer_encoding}): the framing is ambiguous (RFC 9112 section 6.3)"
    )


def too_big(size: str, limit: int) -> str:
    """The size reason; ``size`` is ``"N bytes"`` or ``"at least K bytes"``."""
    return (
        f"the list is {size}, more than the {limit}-byte limit"
        " (is the repo serving the wrong file?)"
    )


def takes_for_domain(first: str) -> bool:
    """splitDockerDomain's rule for the text before a reference's first ``/`` (rule b)."""
    return "." in first or ":" in first or first == "localhost" or first.lower() != first


def split_docker_domain(line: str) -> tuple[str, str]:
    """(domain, remainder) as normalize.go's ``splitDockerDomain`` (rule b)."""
    first, slash, rest = line.partition("/")
    domain, remainder = (first, rest) if slash and takes_for_domain(first) else ("docker.io", line)
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in remainder:
        remainder = "library/" + remainder
    return domain, remainder


def why_not_a_reference(line: str) -> str | None:
    """Why ``line`` (stripped, no comment) is no image reference (rules a-e), None when
    it is one."""
    if not line:
        return "empty reference"
    if _IMAGE_ID.fullmatch(line):
        return "64-character hex strings are image IDs, not references (reserved by the grammar)"
    domain, remainder = split_docker_domain(line)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        return f"repository name {remote!r} must be lower-case"
    match = _REFERENCE.fullmatch(f"{domain}/{remainder}")
    if match is None:
        return _why_no_match(line)
    name, digest = match[1], match[2]
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        return f"repository name is {len(name)} characters (at most {NAME_TOTAL_LENGTH_MAX})"
    if digest is not None:
        algorithm, _, encoded = digest.partition(":")
        if algorithm not in DIGEST_HEX:
            return f"digest algorithm {algorithm!r} is not one of {', '.join(DIGEST_HEX)}"
        if len(encoded) != DIGEST_HEX[algorithm] or encoded.lower() != encoded:
            return (
                f"{algorithm} digest must be {DIGEST_HEX[algorithm]} lower-case hex digits,"
                f" got {encoded!r}"
            )
    return None


def _why_no_match(line: str) -> str:
    """Rule c's reasons 1-7, for a line the grammar refuses."""
    for column, char in enumerate(line, start=1):
        if char not in _ALLOWED:
            what = "whitespace" if char.isspace() else f"character {char!r}"
            return f"{what} at column {column} is not allowed in an image reference"
    if line.count("@") > 1:
        return "more than one '@'"
    before, at, digest = line.partition("@")
    if at:
        algorithm, colon, encoded = digest.partition(":")
        if not colon or not _ALGORITHM.fullmatch(algorithm):
            return f"digest {digest!r} is not ALGORITHM:HEX"
        if len(encoded) < 32 or any(c not in "0123456789abcdefABCDEF" for c in encoded):
            return f"digest {digest!r}: the encoded part must be at least 32 hex digits"
    name = before
    if before.rfind(":") > before.rfind("/"):
        name, _, tag = before.rpartition(":")
        if not tag:
            return "empty tag after ':'"
        if not _TAG.fullmatch(tag):
            return (
                f"tag {tag!r} is invalid (letters, digits, '_', '.', '-', at most 128, "
                "not starting with '.' or '-')"
            )
    if not name:
        return "no repository name"
    parts = name.split("/")
    if len(parts) > 1 and takes_for_domain(parts[0]):
        if not _HOST_PORT.fullmatch(parts[0]):
            return f"registry {parts[0]!r} is not a valid host[:port]"
        parts = parts[1:]
    for part in parts:
        if not part:
            return "empty path component ('//', or a leading or trailing '/')"
        if not _COMPONENT.fullmatch(part):
            return (
                f"path component {part!r} is invalid (lower-case letters and digits, "
                "joined by '.', '_', '__' or dashes)"
            )
    return "does not match [registry[:port]/]path[:tag][@digest]"


def list_error(
    url: str, data: bytes, limit: int, framing: str | int | list[int] = "length"
) -> str | None:
    """The run's error for ``data`` served at ``url`` whole, to a client whose limit is
    ``limit`` bytes; ``framing``: ``"length"`` (a ``Content-Length`` of ``len(data)``),
    an integer D (a ``Content-Length`` of D, the body arriving in one piece all the
    same), ``"both"`` (a ``Content-Length`` of ``len(data)`` and ``Transfer-Encoding:
    chunked``), ``"close"`` (neither length nor chunking: the body ends when the
    connection does) or the sizes of the chunks (summing to ``len(data)``).  None when it is a
    list."""
    found = list_error_at(data, limit, framing)
    return None if found is None else error(url, *found)


def list_error_at(
    data: bytes, limit: int, framing: str | int | list[int] = "length"
) -> tuple[int, str] | None:
    """:func:`list_error`'s (line, reason): the ``ImageListError``'s ``line`` (0 for
    the document) and ``reason`` fields; None when it is a list."""
    if framing == "both":
        return 0, both_framings(len(data), "chunked")
    if framing == "close":
        return 0, (
            "its end cannot be proven: no Content-Length and no chunked framing, so a "
            "connection closed early looks the same as the end of the list"
        )
    if isinstance(framing, str | int):
        declared = len(data) if isinstance(framing, str) else framing
        if declared > limit:  # refused before reading
            return 0, too_big(f"{declared} bytes", limit)
        if len(data) > limit:  # the one piece passes the limit
            return 0, too_big(f"at least {len(data)} bytes", limit)
        if declared != len(data):
            return 0, f"Content-Length is {declared} but {len(data)} bytes arrived"
    else:
        received = 0
        for size in framing:
            received += size
            if received > limit:
                return 0, too_big(f"at least {received} bytes", limit)
    if data and not data.endswith(b"\n"):
        return 0, (
            "it does not end with a newline (the repo's lists do): the body was cut "
            f"short after {len(data)} bytes, or its Content-Length is too small"
        )
    return text_error(data)


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
    fails, None for one that passes (every line judged by :func:`why_not_a_reference`)."""
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

"""Reading the files faultdns is configured from (a fault plan, a zone): TOML, UTF-8.

One rule for both, in three steps whose failures each give a one-line reason for the
caller to prefix with the file (``plan PATH: ``, ``zone PATH: ``) and raise as its own
error (:class:`~faultdns.FaultSpecError`, :class:`~faultdns.ZoneError`):
:func:`read_text` (the bytes, then :func:`utf8_text`) and :func:`parse_toml`; and
:func:`is_decimal`, the one reading of a whole number written as text in a spec, plan
or zone.

faultdns may not import cleanup (tests/test_architecture.py), so :func:`utf8_text` is
faultdns's copy of ``cleanup.utf8_text``: the same rule and the same words, so that a
BOM or a Latin-1 file reads the same whichever tool refuses it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

__all__ = ["is_decimal", "parse_toml", "read_text", "utf8_text"]

_UTF8_BOM = b"\xef\xbb\xbf"


def is_decimal(text: str) -> bool:
    """Whether ``int(text)`` reads ``text`` as a whole number every numeric key can
    bound: ASCII digits only (``str.isdigit()`` also accepts "²", ``str.strip()`` also
    strips "\\x1d", neither of which ``int()`` reads: a fuzz finding) and at most 18
    significant digits (every bound read is far below 10**18, and ``int()`` refuses a
    text of more than 4300 digits with a message naming no key)."""
    return text.isascii() and text.isdigit() and len(text.lstrip("0")) <= 18


def utf8_text(data: bytes, fmt: str) -> str:
    """``data`` decoded as the UTF-8 text a ``fmt`` file (``"TOML"``) must be.

    Raises ``ValueError`` with a one-line reason for the caller to prefix with the file:
    "starts with a UTF-8 byte order mark (BOM), which FMT does not allow: save it as
    UTF-8 without BOM", or "not UTF-8 text (byte 0xHH at offset O): a FMT file must be
    UTF-8" (O the first byte that begins no valid sequence, counted from 0; a UTF-16
    file's own BOM is byte 0xff or 0xfe at offset 0).

    Source: TOML 1.0 ("Spec"): "A TOML file must be a valid UTF-8 encoded Unicode
    document"; a BOM is no TOML statement (``tomllib`` says "Invalid statement (at line
    1, column 1)", which does not name the invisible character Windows editors write).
    """
    if data.startswith(_UTF8_BOM):
        raise ValueError(
            f"starts with a UTF-8 byte order mark (BOM), which {fmt} does not allow:"
            " save it as UTF-8 without BOM"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}):"
            f" a {fmt} file must be UTF-8"
        ) from None


def read_text(path: Path, fmt: str) -> str:
    """The text of the ``fmt`` file (``"TOML"``) at ``path``, read whole.

    Raises ``ValueError`` with a one-line reason: "cannot read: STRERROR" (the
    ``OSError``'s text: a missing file, a directory, no permission), or
    :func:`utf8_text`'s.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror or exc}") from None
    return utf8_text(raw, fmt)  # a BOM or the first byte that is not UTF-8, named


def parse_toml(text: str) -> dict[str, Any]:
    """``text`` parsed as a TOML 1.0 document (``tomllib``).

    Raises ``ValueError`` "invalid TOML: REASON" for every way ``tomllib`` refuses a
    text: its ``TOMLDecodeError`` (line and column), an integer with more digits than
    Python converts (its ``ValueError``), and nesting past the recursion limit
    (``x = [[[[...``: tomllib recurses per level, so a ``RecursionError``, named
    "nested too deeply").
    """
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ValueError("invalid TOML: nested too deeply") from None
    except ValueError as exc:  # TOMLDecodeError is a ValueError, as is int()'s limit
        raise ValueError(f"invalid TOML: {exc}") from None

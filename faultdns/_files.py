"""The one check that a file faultdns reads (a fault plan, a zone) is UTF-8 text.

faultdns may not import cleanup (tests/test_architecture.py), so this is faultdns's copy
of ``cleanup.utf8_text``: the same rule and the same words, so that a BOM or a Latin-1
file reads the same whichever tool refuses it.
"""

from __future__ import annotations

__all__ = ["utf8_text"]

_UTF8_BOM = b"\xef\xbb\xbf"


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

"""Argument types shared by the ``sim`` subcommands.

Each subcommand module (run/demo/serve, tune, mutants) builds its own parser, but a
seed or a count must be read, and refused, the same way everywhere.
"""

from __future__ import annotations

import argparse
import math
import re

__all__ = ["count", "decimal", "port", "positive", "seed"]


def _ascii(text: str, what: str) -> str:
    # int() and float() also read other scripts' digits (full-width, Arabic-Indic): a
    # flag is typed by hand, so a look-alike digit is a typing error, not a number
    # (the same rule as ``cleanup run``'s flags)
    if not text.isascii():
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}: ASCII digits only")
    return text


def seed(text: str) -> int:
    """A non-negative whole number (decimal, or 0x../0o../0b.. and ``_`` separators
    like Python literals; ASCII only).  Raises ``argparse.ArgumentTypeError``."""
    try:
        value = int(_ascii(text, "a whole number"), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def count(text: str) -> int:
    """A whole number of at least 1."""
    value = seed(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def decimal(text: str) -> float:
    """A number as Python's ``float()`` reads it, ASCII only (``nan`` and ``inf``
    included, for the caller's range check).  Raises ``argparse.ArgumentTypeError``."""
    try:
        return float(_ascii(text, "a number"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def positive(text: str) -> float:
    """A finite number > 0 (:func:`decimal`)."""
    value = decimal(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number > 0")
    return value


_PORT = re.compile(r"[0-9]{1,5}")


def port(text: str) -> int:
    """A TCP/UDP port, 0 (any free port) to 65535, in ASCII decimal digits (no sign,
    ``_`` or spaces, which ``int()`` would take).  Raises ``argparse.ArgumentTypeError``."""
    if not _PORT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a port number")
    value = int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return value

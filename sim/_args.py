"""Argument types shared by the ``sim`` subcommands.

Each subcommand module (run/demo/serve, tune, mutants) builds its own parser, but a
seed or a count must be read, and refused, the same way everywhere.
"""

from __future__ import annotations

import argparse
import math

__all__ = ["count", "positive", "seed"]


def seed(text: str) -> int:
    """A non-negative whole number (decimal, or 0x.. like Python literals)."""
    try:
        value = int(text, 0)
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


def positive(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number > 0")
    return value

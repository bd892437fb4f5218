"""``python -m sim``; the ``sim`` console script is :func:`retrylab_entry.sim`.

Ctrl-C at any moment is exit 130 without a traceback (see :mod:`retrylab_entry`).
"""

import sys

import retrylab_entry
from sim._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(retrylab_entry.run("sim", "sim._cli"))

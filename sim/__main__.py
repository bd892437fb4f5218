"""``sim`` command line (see :mod:`sim._cli`)."""

import sys

from sim._cli import main

if __name__ == "__main__":
    sys.exit(main())

"""``cleanup`` command line (``python -m cleanup`` and the ``cleanup`` console script)."""

import sys

from cleanup._cli import main

if __name__ == "__main__":
    sys.exit(main())

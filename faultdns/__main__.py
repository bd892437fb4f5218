"""``python -m faultdns`` and the ``faultdns`` console script."""

import sys

from faultdns._cli import main

if __name__ == "__main__":
    sys.exit(main())

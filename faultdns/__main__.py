"""``faultdns`` command line."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("faultdns: not built yet", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main())

"""``sim`` command line."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("sim: not built yet", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Run one faultdns fuzz target under atheris (libFuzzer, coverage-guided).

    python tests/fuzz/run.py TARGET [libFuzzer flags] [CORPUS_DIR ...]
    python tests/fuzz/run.py wire -max_total_time=20 /tmp/new tests/fuzz/corpus/wire

TARGET is one of tests/fuzz/targets.py's TARGETS (wire, server, control, specs, and
cleanup's image_list, resolv_conf, policy).
libFuzzer writes new interesting inputs to the first corpus directory, so put a
scratch directory first and the repository's corpus after it unless you mean to grow
the committed corpus.  faultdns, dnslib and the standard library's HTTP and TOML
parsers are instrumented, so coverage there guides the search.  Exit status: 0 when
the time or run budget ran out without a finding, non-zero with a crash-* (or
timeout-*, oom-*) file written otherwise.  Needs atheris (``pip install atheris``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports(
    include=["faultdns", "dnslib", "cleanup", "http", "tomllib", "tests.fuzz"]
):
    from tests.fuzz import targets


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in targets.TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(targets.TARGETS)}}} [libFuzzer args]")
    target = targets.TARGETS[sys.argv[1]]

    def test_one_input(data: bytes) -> None:
        target(data)

    atheris.Setup([sys.argv[0], *sys.argv[2:]], test_one_input)
    try:
        atheris.Fuzz()
    finally:
        targets.stop()


if __name__ == "__main__":
    main()

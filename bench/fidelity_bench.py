#!/usr/bin/env python3
"""Wall time and agreement of the Go differential oracle (``tests/fidelity``).

Target from issue 8: the CI profile checks at least 200 generated cases plus the named
ones in at most 120 s on this 2-core machine.  The test suite stops at the first
disagreement (and shrinks it), so on a branch that still disagrees with Go its wall
time says nothing about the target; this script runs the same work without stopping:

1. the probe build, cold (a fresh cache directory) and warm (cached);
2. every named case (``sim._fidelity._named.NAMED``) this faultdns can serve;
3. ``--cases`` generated cases (default 200), derandomized as under the ``ci`` profile.

It prints the wall time of each part, the agreement, and the fields that disagree;
``--pytest`` also times ``python -m pytest tests/fidelity`` in a fresh process (what CI
pays when everything agrees).  ``--check`` exits 1 when named + generated take more
than the target; ``--json`` prints the figures.  Timing lives here, never in a test.

    python bench/fidelity_bench.py                 # about 30-60 s when everything agrees
    python bench/fidelity_bench.py --cases 2000    # the deep profile's count
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim._fidelity import Case, Verdict, build_probe, run_case, unavailable_reason  # noqa: E402
from sim._fidelity._named import NAMED, runnable  # noqa: E402
from sim._fidelity._strategies import cases  # noqa: E402

TARGET = 120.0


def generated(n: int) -> list[Verdict]:
    verdicts: list[Verdict] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(cases())
    def draw(case: Case) -> None:
        verdicts.append(run_case(case))

    draw()
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--pytest", action="store_true", help="also time pytest tests/fidelity")
    parser.add_argument("--check", action="store_true", help="exit 1 when over the target")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        print(f"fidelity_bench: the oracle cannot run here: {reason}", file=sys.stderr)
        return 69
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        build_probe(cache=Path(tmp))
        figures["build_cold_s"] = round(time.monotonic() - start, 2)
    start = time.monotonic()
    build_probe()
    figures["build_warm_s"] = round(time.monotonic() - start, 3)

    start = time.monotonic()
    named = {name: run_case(n.case) for name, n in NAMED.items() if not runnable(n)}
    figures["named_s"] = round(time.monotonic() - start, 2)
    figures["named"] = len(named)
    figures["named_agree"] = sum(v.agrees for v in named.values())
    figures["named_disagree"] = sorted(name for name, v in named.items() if not v.agrees)

    start = time.monotonic()
    verdicts = generated(args.cases)
    figures["generated_s"] = round(time.monotonic() - start, 2)
    figures["generated"] = len(verdicts)
    figures["generated_agree"] = sum(v.agrees for v in verdicts)
    fields = Counter(d.field for v in verdicts for d in v.differences)
    figures["generated_fields_disagreeing"] = dict(fields.most_common())
    total = float(figures["named_s"]) + float(figures["generated_s"])  # type: ignore[arg-type]
    figures["named_plus_generated_s"] = round(total, 2)
    figures["target_s"] = TARGET
    if args.pytest:
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/fidelity", "-q", "-p", "no:cacheprovider"],
            cwd=ROOT,
            env={**os.environ, "HYPOTHESIS_PROFILE": "ci"},
            capture_output=True,
            text=True,
        )
        figures["pytest_s"] = round(time.monotonic() - start, 2)
        figures["pytest_summary"] = (done.stdout.strip().splitlines() or [""])[-1]
    if args.json:
        print(json.dumps(figures, indent=1))
    else:
        for key, value in figures.items():
            print(f"{key:32} {value}")
    return 1 if args.check and total > TARGET else 0


if __name__ == "__main__":
    raise SystemExit(main())

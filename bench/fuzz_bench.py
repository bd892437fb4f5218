#!/usr/bin/env python3
"""Longer coverage-guided fuzzing runs of faultdns's targets (atheris), with figures.

Each target of ``tests/fuzz/targets.py`` (faultdns's wire, server, control, specs and
cleanup's image_list, resolv_conf, policy) runs in turn
for ``--seconds`` (default 300) under ``tests/fuzz/run.py``, starting from the
committed corpus (``tests/fuzz/corpus/TARGET``) and writing what it finds new to a
scratch directory (``--keep DIR`` keeps them, e.g. to grow the committed corpus).  It
prints, per target: executions, executions per second, coverage (libFuzzer's ``cov``
edges and ``ft`` features), corpus size, peak RSS and findings (crash, timeout or
out-of-memory inputs, which fail ``--check``).  Same limits as the CI runs: 10 s per
input, 2 GiB of RSS.

    python bench/fuzz_bench.py                       # 5 minutes per target
    python bench/fuzz_bench.py --seconds 60 --only wire,specs --json
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "tests" / "fuzz" / "run.py"
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
TARGETS = ("wire", "server", "control", "specs", "image_list", "resolv_conf", "policy")
EX_UNAVAILABLE = 69


def run_target(target: str, seconds: int, scratch: Path) -> dict[str, object]:
    found = scratch / target
    found.mkdir(parents=True, exist_ok=True)
    artifacts = scratch / f"{target}-findings"
    artifacts.mkdir(exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            str(RUN),
            target,
            f"-max_total_time={seconds}",
            "-timeout=10",
            "-rss_limit_mb=2048",
            "-max_len=8192",
            "-print_final_stats=1",
            f"-artifact_prefix={artifacts}/",
            str(found),
            str(CORPUS / target),
        ],
        capture_output=True,
        text=True,
        timeout=seconds * 3 + 120,
        check=False,
        cwd=ROOT,
    )
    err = proc.stderr
    last = [line for line in err.splitlines() if re.search(r"\bcov: \d+", line)]
    stats = dict(re.findall(r"(cov|ft|corp|exec/s|rss): (\S+)", last[-1])) if last else {}
    runs = re.search(r"stat::number_of_executed_units: (\d+)", err) or re.search(
        r"Done (\d+) runs", err
    )
    peak = re.search(r"stat::peak_rss_mb: (\d+)", err) or re.search(
        r"(\d+)Mb", stats.get("rss", "")
    )
    findings = sorted(p for p in artifacts.iterdir() if p.is_file())
    return {
        "target": target,
        "seconds": seconds,
        "exit": proc.returncode,
        "runs": int(runs.group(1)) if runs else None,
        "exec_per_s": int(stats["exec/s"]) if "exec/s" in stats else None,
        "cov": int(stats["cov"]) if "cov" in stats else None,
        "ft": int(stats["ft"]) if "ft" in stats else None,
        "corpus": stats.get("corp"),
        "peak_rss_mb": int(peak.group(1)) if peak else None,
        "findings": {p.name: base64.b64encode(p.read_bytes()).decode() for p in findings},
        "tail": err.splitlines()[-5:] if proc.returncode else [],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=300, help="per target")
    parser.add_argument("--only", default=",".join(TARGETS), help="comma-separated targets")
    parser.add_argument("--keep", type=Path, help="keep new corpus entries and findings here")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 on any finding")
    args = parser.parse_args(argv)
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed: pip install atheris (or '.[fuzz]')", file=sys.stderr)
        return EX_UNAVAILABLE
    chosen = [t for t in args.only.split(",") if t]
    unknown = sorted(set(chosen) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target(s) {unknown}; choose from {', '.join(TARGETS)}")
    with tempfile.TemporaryDirectory(prefix="faultdns-fuzz-") as tmp:
        scratch = args.keep or Path(tmp)
        results = []
        for target in chosen:
            print(f"fuzzing {target} for {args.seconds}s ...", file=sys.stderr, flush=True)
            results.append(run_target(target, args.seconds, scratch))
    bad = [r for r in results if r["exit"] != 0 or r["findings"]]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            f"{'target':11} {'runs':>10} {'exec/s':>8} {'cov':>6} {'ft':>7} {'corpus':>12} "
            f"{'rss MB':>7}  findings"
        )
        for r in results:
            print(
                f"{r['target']!s:11} {r['runs']!s:>10} {r['exec_per_s']!s:>8} {r['cov']!s:>6}"
                f" {r['ft']!s:>7} {r['corpus']!s:>12} {r['peak_rss_mb']!s:>7}"
                f"  {len(r['findings']) if isinstance(r['findings'], dict) else '?'}"
            )
    return 1 if args.check and bad else 0


if __name__ == "__main__":
    sys.exit(main())

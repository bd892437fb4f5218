"""Fuzzing faultdns: the corpus replays on every run; atheris fuzzes each target for a
bounded time when it is installed (``FAULTDNS_FUZZ_SECONDS``, default 20 s each).

The targets and what each checks are in ``targets.py``; the runner is ``run.py``; a
longer run with its figures is ``bench/fuzz_bench.py`` (bench/README.md).  A finding
leaves its input in the test's temporary directory (printed, with its base64) so it
can be added to ``tests/fuzz/corpus/TARGET/`` as a regression seed once fixed.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz import targets

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
SECONDS = int(os.environ.get("FAULTDNS_FUZZ_SECONDS", "20"))


@pytest.fixture(scope="module", autouse=True)
def _stop_targets() -> Iterator[None]:
    yield
    targets.stop()


def _seeds() -> list[tuple[str, Path]]:
    return [
        (name, path)
        for name in targets.TARGETS
        for path in sorted((CORPUS / name).iterdir())
        if path.is_file()
    ]


def test_every_target_has_a_corpus() -> None:
    for name in targets.TARGETS:
        assert any((CORPUS / name).iterdir()), name


@pytest.mark.parametrize(("target", "seed"), _seeds(), ids=[f"{t}/{p.name}" for t, p in _seeds()])
def test_the_corpus_replays_clean(target: str, seed: Path) -> None:
    """Every committed input, findings of earlier runs included, passes its target."""
    targets.TARGETS[target](seed.read_bytes())


@pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris is not installed (pip install atheris; Linux x86_64 wheels on PyPI)",
)
@pytest.mark.timeout(SECONDS * 3 + 120)
@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_fuzz_for_a_bounded_time(target: str, tmp_path: Path) -> None:
    """No crash, no hang (10 s per input), no memory past 2 GiB, for SECONDS seconds."""
    found = tmp_path / "new"
    found.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / "run.py"),
            target,
            f"-max_total_time={SECONDS}",
            "-timeout=10",
            "-rss_limit_mb=2048",
            "-max_len=8192",
            f"-artifact_prefix={tmp_path}/",
            "-print_final_stats=1",
            str(found),
            str(CORPUS / target),
        ],
        capture_output=True,
        text=True,
        timeout=SECONDS * 3 + 60,
        check=False,
    )
    findings = [p for p in tmp_path.iterdir() if p.is_file()]
    report = "\n".join(f"{p.name}: {base64.b64encode(p.read_bytes()).decode()}" for p in findings)
    assert proc.returncode == 0 and not findings, (
        f"{target}: exit {proc.returncode}\n{report}\n{proc.stderr[-4000:]}"
    )
    assert "Done" in proc.stderr, proc.stderr[-2000:]

"""``sim fidelity``: exit status, the agreement table and the JSON it writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sim._cli import main
from sim._fidelity import Case, Verdict


def test_unavailable_oracle_exits_69_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sim._fidelity._report.unavailable_reason", lambda: "no Go here")
    assert main(["fidelity", "--cases", "1"]) == 69
    assert "no Go here" in capsys.readouterr().out


def test_bad_usage_exits_64(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fidelity", "--cases", "0"]) == 64


def test_run_writes_every_verdict_and_exits_by_agreement(
    oracle: Callable[[Case], Verdict], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "verdicts.json"
    status = main(
        ["fidelity", "--cases", "6", "--seed", "3", "--no-named", "--no-shrink", "--json", str(out)]
    )
    data = json.loads(out.read_text())
    assert len(data["verdicts"]) == 6
    agree = all(not v["differences"] for v in data["verdicts"])
    assert status == (0 if agree else 1)
    text = capsys.readouterr().out
    assert "Agreement per field" in text and "generated cases agree" in text
    # every disagreement kind is shown
    assert len(data["minimal_disagreements"]) == len(
        {tuple(sorted(d["field"] for d in v["differences"])) for v in data["verdicts"]} - {()}
    )

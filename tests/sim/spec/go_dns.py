"""Go 1.23's stub resolver, restated for what the property suite needs: which names a
lookup asks, and which ``*net.DNSError`` it reports for what the server answered.

Source: ``$GOROOT/src/net/dnsclient_unix.go`` (Go 1.23.9, the controller's build,
``CGO_ENABLED=0``), read as follows.  ``sim/_fidelity`` holds cleanup's resolver to Go
in detail; this is the small part the properties check on every generated world.

``dnsConfig.nameList(name)``: a rooted name is asked alone; otherwise ``hasNdots :=
count(name, '.') >= ndots`` (``>=``: a name with exactly ndots dots is tried as given
*first*), then each search suffix, then the name as given when it was not first;
``.onion`` names and candidates over 254 bytes are skipped.

``goLookupIPCNAMEOrder``: for each candidate, A and AAAA are asked in parallel (two
"lanes"); results are read in the order the lanes finish.  An error is kept when
``lastErr == nil || fqdn == name+"."``: the first error met, except that the name as
given ("Prefer error for original name") overwrites it, so its *last-finishing* lane's
error wins.  Any address ends the walk with success.  A lane's error
(``tryOneName``): the last exchange's, over ``attempts`` tries; NXDOMAIN ends the lane
at once (``errNoSuchHost``); NOERROR without an answer of the type is
``errNoSuchHost`` too (``skipToAnswer``).  Flags (``newDNSError``): ``IsNotFound``
for ``errNoSuchHost``; ``IsTemporary`` for SERVFAIL (``errServerTemporarilyMisbehaving``)
and for socket errors (an ``*OpError``: the ICMP "connection refused" of a DNS
Service without backends); a silent server is ``errTimeout`` (``IsTimeout`` and
``IsTemporary``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["OUTCOMES", "DNSFlags", "Lane", "flags_of", "lookup_error", "name_list"]

#: what one lane (a name and a query type) ended with
OUTCOMES = ("answer", "nxdomain", "nodata", "servfail", "timeout", "refused")


@dataclass(frozen=True)
class DNSFlags:
    """The three booleans of Go's ``*net.DNSError`` the retry predicates read."""

    not_found: bool
    timeout: bool
    temporary: bool


def flags_of(outcome: str) -> DNSFlags:
    """The error flags of a lane that ended with ``outcome`` (not ``answer``)."""
    if outcome in ("nxdomain", "nodata"):
        return DNSFlags(not_found=True, timeout=False, temporary=False)
    if outcome in ("servfail", "refused"):
        return DNSFlags(not_found=False, timeout=False, temporary=True)
    if outcome == "timeout":
        return DNSFlags(not_found=False, timeout=True, temporary=True)
    raise ValueError(f"no error for a lane that ended with {outcome!r}")


def name_list(name: str, search: Sequence[str], ndots: int) -> list[str]:
    """The candidates Go asks for ``name``, lower-case, without the trailing dot."""
    if len(name) > 254 or (len(name) == 254 and not name.endswith(".")):
        return []

    def avoid(fqdn: str) -> bool:
        return not fqdn or fqdn.rstrip(".").lower().endswith(".onion")

    if name.endswith("."):
        return [] if avoid(name) else [name[:-1].lower()]
    has_ndots = name.count(".") >= ndots
    rooted = name + "."
    names: list[str] = []
    if has_ndots and not avoid(rooted):
        names.append(rooted)
    for suffix in search:
        fqdn = rooted + suffix.rstrip(".") + "."
        if not avoid(fqdn) and len(fqdn) <= 254:
            names.append(fqdn)
    if not has_ndots and not avoid(rooted):
        names.append(rooted)
    return [n[:-1].lower() for n in names]


@dataclass(frozen=True)
class Lane:
    """One lane of a lookup: ``fqdn`` (as :func:`name_list` gives it), ``qtype``, how
    it ``ended`` (one of :data:`OUTCOMES`) and when (``done``, seconds)."""

    fqdn: str
    qtype: str
    ended: str
    done: float


def lookup_error(name: str, names: Sequence[str], lanes: Iterable[Lane]) -> set[DNSFlags] | None:
    """The error Go reports for a lookup of ``name`` over the candidates ``names`` whose
    lanes ended as ``lanes`` say: None when some lane got an answer, else the set of
    flags it may report (more than one only when the lanes that decide finished at the
    same instant: the race is Go's, either lane may be read last)."""
    as_given = name.rstrip(".").lower()
    by_name: dict[str, list[Lane]] = {}
    for lane in lanes:
        by_name.setdefault(lane.fqdn, []).append(lane)
    possible: set[DNSFlags | None] = {None}
    asked = False
    for fqdn in names:
        mine = by_name.get(fqdn, [])
        if not mine:
            continue
        asked = True
        if any(lane.ended == "answer" for lane in mine):
            return None
        orders = _finishing_orders(mine)
        after: set[DNSFlags | None] = set()
        for last in possible:
            for order in orders:
                kept = last
                for lane in order:
                    if kept is None or fqdn == as_given:
                        kept = flags_of(lane.ended)
                after.add(kept)
        possible = after
    if not asked:
        raise ValueError(f"no lane of a candidate of {name!r} was given")
    return {p for p in possible if p is not None}


def _finishing_orders(lanes: list[Lane]) -> list[tuple[Lane, ...]]:
    """The orders the lanes may finish in: by ``done``; lanes finishing together in
    either order."""
    ordered = sorted(lanes, key=lambda lane: lane.done)
    groups = [list(g) for _, g in itertools.groupby(ordered, key=lambda lane: lane.done)]
    out: list[tuple[Lane, ...]] = [()]
    for group in groups:
        out = [prefix + perm for prefix in out for perm in itertools.permutations(group)]
    return out

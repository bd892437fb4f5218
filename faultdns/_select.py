"""Rule selection: which fault rule, if any, a query meets.

Once a rule is written (:mod:`faultdns._faults`, the spec language), the server asks
three questions of it for every query, in this order:

1. **Which rules could match this name?**  :class:`RuleIndex` finds them without
   testing each: rules on a plain name sit in a dict, glob rules in a list, merged by
   position.
2. **Does the rule match the query?**  :func:`rule_matches`: the ``match=`` glob
   (``fnmatch`` syntax, on the lower-case name without its trailing dot), ``qtype=``,
   ``proto=``, and the transport an action needs (``truncate`` and ``tcponly`` exist to
   send a client to TCP, so they meet UDP only; ``frame=`` shapes a TCP length prefix,
   RFC 1035 section 4.2.2, so it meets TCP only; ``answer=ADDR`` meets its address's
   type only).
3. **Is it active for this query?**  :class:`RuleState` counts the matching queries
   and replies it fired on, and applies the activation keys: the window ``after=``/
   ``for=`` on the server's clock, then ``count=``, ``first=``, ``every=`` and last the
   seeded draw ``p=``.  :func:`select_rule` offers a query to every matching rule in
   rule order: the first active one wins, and all of them count the query.

Pure: no sockets, no clock reads.  The server hands in the query's name, type and
transport and the seconds elapsed on its clock (``faultdns._answer``), and precomputes,
per cached query, which rules could ever match it.  The README's "Fault rules" states
the same rules for users.
"""

from __future__ import annotations

import fnmatch
import heapq
import math
import random
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from faultdns._faults import answer_qtype

if TYPE_CHECKING:
    from faultdns._faults import FaultRule

__all__ = [
    "TCP_ACTIONS",
    "UDP_ACTIONS",
    "RuleIndex",
    "RuleState",
    "is_plain_name",
    "rule_matches",
    "select_rule",
]

# Without proto=, these apply to UDP only: they exist to send the client to TCP.
UDP_ACTIONS = ("truncate", "tcponly")
# These apply to TCP only: a UDP datagram has no length prefix to get wrong.
TCP_ACTIONS = ("frame",)

_GLOB_CACHE: dict[str, re.Pattern[str]] = {}
_GLOB_CHARS = frozenset("*?[")


def is_plain_name(pattern: str) -> bool:
    """A ``match=`` pattern with no glob character (``*``, ``?``, ``[``): one name."""
    return _GLOB_CHARS.isdisjoint(pattern)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    regex = _GLOB_CACHE.get(pattern)
    if regex is None:
        regex = re.compile(fnmatch.translate(pattern))
        if len(_GLOB_CACHE) > 4096:
            _GLOB_CACHE.clear()
        _GLOB_CACHE[pattern] = regex
    return regex


def rule_matches(rule: FaultRule, name: str, qtype: str, proto: str) -> bool:
    """Whether a query (lower-case name without trailing dot, its type's mnemonic,
    ``"udp"`` or ``"tcp"``) is ``rule``'s business.

    Only matching queries touch the rule's counters, so a rule on one name never
    changes what happens to another.  ``truncate`` and ``tcponly`` match UDP only
    unless ``proto=tcp`` is given (for ``truncate``): their point is to send the
    client to TCP, where it gets the real answer.  ``frame=`` matches TCP only (a
    UDP datagram carries no length prefix).  ``answer=`` only matches the
    address type of its address.
    """
    if rule.proto is not None:
        if rule.proto != proto:
            return False
    elif rule.action in UDP_ACTIONS:
        if proto != "udp":
            return False
    elif rule.action in TCP_ACTIONS and proto != "tcp":
        return False
    if rule.qtype is not None and rule.qtype != qtype:
        return False
    if rule.action == "answer" and qtype != answer_qtype(rule.answer):
        return False
    if is_plain_name(rule.match):  # no regex (nor glob cache churn) for a plain name
        return name == rule.match
    return _glob_regex(rule.match).match(name) is not None


class RuleIndex:
    """The rules a query name can match, in evaluation order, found without testing each.

    Rules whose ``match`` is a plain name sit in a dict by name; glob rules are kept in
    a list.  :meth:`candidates` merges the name's plain rules with every glob rule by
    position, so a plan of 32,000 one-name rules costs a dict lookup per new query, not
    32,000 matches.  The caller still applies :func:`rule_matches` (qtype, proto,
    the glob itself) to the candidates.  Built once per rule set (``rules`` is the tuple
    it was built from, so the server can tell when to rebuild); O(len(rules)).
    """

    __slots__ = ("_exact", "_globs", "rules")

    def __init__(self, rules: tuple[RuleState, ...]) -> None:
        self.rules = rules
        exact: dict[str, list[int]] = {}
        globs: list[int] = []
        for position, state in enumerate(rules):
            match = state.rule.match
            if is_plain_name(match):
                exact.setdefault(match, []).append(position)
            else:
                globs.append(position)
        self._exact = exact
        self._globs = globs

    def candidates(self, name: str) -> list[RuleState]:
        """Rules that may match ``name`` (lower-case, no trailing dot), in rule order."""
        exact = self._exact.get(name, [])
        if not self._globs:
            positions: Iterable[int] = exact
        elif not exact:
            positions = self._globs
        else:
            positions = heapq.merge(exact, self._globs)
        rules = self.rules
        return [rules[i] for i in positions]


class RuleState:
    """A rule plus its counters: how many matching queries it has seen and fired on.

    The state lives in the server's event-loop thread; each rule gets its own random
    stream seeded from the server seed and the rule id, so whether a ``p=`` rule fires
    on its Nth matching query depends only on the seed, never on other rules' traffic.
    """

    __slots__ = (
        "count",
        "every",
        "fired",
        "first",
        "hi",
        "lo",
        "p",
        "rng",
        "rule",
        "seen",
        "simple",
    )

    def __init__(self, rule: FaultRule, seed: int | str) -> None:
        self.rule = rule
        self.seen = 0
        self.fired = 0
        self.rng = random.Random(f"{seed}/{rule.id}/{rule.spec}")
        self.lo = rule.after if rule.after is not None else -math.inf
        start = rule.after if rule.after is not None else 0.0  # for= alone: from start/reset
        self.hi = start + rule.for_ if rule.for_ is not None else math.inf
        self.first = rule.first
        self.every = rule.every
        self.p = rule.p
        self.count = rule.count
        # Only a window (or nothing): the server's hot path can skip check().
        self.simple = rule.first is None and rule.every is None and rule.p is None
        self.simple = self.simple and rule.count is None

    def offer(self, elapsed: float) -> bool:
        """Count one matching query and say whether the rule is active for it.

        The window is half-open, ``[after, after + for)``, in seconds since the server
        started or was last reset.
        """
        self.seen += 1
        return self.lo <= elapsed < self.hi and (self.simple or self.check())

    def check(self) -> bool:
        """The count-based conditions, for a query already counted in ``seen``.

        The random draw happens last, only when every other condition holds, so a
        replay with the same seed and the same queries fires on exactly the same ones.
        """
        if self.count is not None and self.fired >= self.count:
            return False
        if self.first is not None and self.seen > self.first:
            return False
        if self.every is not None and self.seen % self.every:
            return False
        return self.p is None or self.rng.random() < self.p

    def snapshot(self) -> dict[str, Any]:
        return {"id": self.rule.id, "spec": self.rule.spec, "seen": self.seen, "fired": self.fired}


def select_rule(candidates: Iterable[RuleState], elapsed: float) -> RuleState | None:
    """The first active rule among those matching a query (in rule order), or None.

    Every matching rule counts the query, whether or not an earlier one wins, so
    ``first=N`` means the first N queries the rule matches, not the first N that no
    other rule took.
    """
    winner = None
    for state in candidates:
        if winner is None:
            if state.offer(elapsed):
                state.fired += 1
                winner = state
        else:
            state.seen += 1
    return winner

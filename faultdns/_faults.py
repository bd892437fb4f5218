"""The fault-spec language: what a fault rule says, written, checked and written back.

A rule is an *action* (what goes wrong), a *match* (which queries it is about) and an
*activation* (when, among those queries, it goes wrong).  The same spec string is used
by the CLI, the control API and the library::

    nxdomain match=upgrade-repo-*.svc.cluster.local for=30s
    servfail p=0.2
    drop match=a.test first=2
    delay=250ms
    answer=10.9.9.9 match=b.test qtype=A
    rcode=BADVERS match=a.test
    truncate=512 match=big.test
    lame qdcount=2 match=a.test

Read top to bottom: the vocabularies (actions, keys, the rcode registry of RFC 6895
section 2.3, mismatch fields and CLASS names, ``frame=`` shapes, the ``qdcount=`` key)
and what a Go client reports for each action (``ACTION_HELP``, the README's table);
the values (rcodes, durations); :class:`FaultRule`, checked whole whichever way it was made
(``_validate``) and written back as its canonical spec; then the three ways in: a spec
string (:func:`parse_fault`), a JSON object or TOML table
(:meth:`FaultRule.from_dict`), or a rule (:func:`coerce_rule`).  Every error is a
:class:`FaultSpecError` naming the token or key.

What a rule does to a query is elsewhere: which queries it matches and whether it is
active for one (:mod:`faultdns._select`), a file of rules (:mod:`faultdns._plan`), the
reply each action sends (:mod:`faultdns._answer`, :mod:`faultdns._wire`) and the TCP
length prefix ``frame=`` writes (:func:`faultdns._tcp.frame_prefix`).  Pure: no
sockets, files or clock.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from dnslib import QTYPE

from faultdns._files import is_decimal

__all__ = [
    "ACTIONS",
    "CLASS_NAMES",
    "FRAME_SHAPES",
    "MISMATCH_FIELDS",
    "MISMATCH_VALUED",
    "NO_SHAPE_ACTIONS",
    "RCODE_NAMES",
    "Action",
    "FaultRule",
    "FaultSpecError",
    "answer_qtype",
    "coerce_rule",
    "format_duration",
    "mismatch_text",
    "parse_duration",
    "parse_fault",
    "parse_rcode",
    "rcode_name",
]

# Actions that take no value, and those written ``action=VALUE``.  ``truncate`` is both:
# bare it sends the question only, ``truncate=N`` the real reply cut at N bytes.
BareAction = Literal[
    "nxdomain", "servfail", "refused", "nodata", "drop", "truncate", "lame", "tcponly", "noedns"
]
ValueAction = Literal["delay", "answer", "rcode", "truncate", "mismatch", "frame"]
#: what ``mismatch=FIELD`` alters in the reply: the header ID or the question's
#: name, type or class (each by flipping its lowest bit, so it differs from the query's
#: under any case folding), or the header's QDCOUNT (1 becomes 0: no question)
MismatchField = Literal["id", "name", "type", "class", "qdcount"]
MISMATCH_FIELDS: tuple[MismatchField, ...] = get_args(MismatchField)
#: the named shapes of ``frame=``: the TCP reply's two-byte length prefix (RFC 1035
#: section 4.2.2) says 12 (``short``: the header alone; the whole reply follows), or
#: one byte more than the reply holds, after which the server closes (``long``) or
#: stays silent (``hang``); ``frame=N`` (0..65535) says N bytes, the whole reply
#: following, then a close when N is past the reply's end
FRAME_SHAPES = ("short", "long", "hang")
MAX_FRAME = 65535
#: the fields ``mismatch=FIELD:VALUE`` can set to a value of the user's choosing (16-bit
#: numbers: RFC 1035 sections 4.1.1 and 4.1.2), instead of flipping the query's lowest
#: bit (which only ever gives IN's neighbour 0, never a class above IN, and QDCOUNT 0,
#: never 2 or more)
MISMATCH_VALUED: tuple[MismatchField, ...] = ("type", "class", "qdcount")
#: the largest ``qdcount=N`` and ``mismatch=qdcount:N``: QDCOUNT is a 16-bit header
#: field (RFC 1035 section 4.1.1)
MAX_QDCOUNT = 65535
#: the CLASS mnemonics ``mismatch=class:NAME`` reads (IANA "DNS CLASSes", RFC 6895
#: section 3.2: IN, CH, HS; QCLASS NONE from RFC 2136 section 2.3, ANY "*" from RFC 1035
#: section 3.2.5), and writes back for their numbers
CLASS_NAMES: Mapping[int, str] = {1: "IN", 3: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
_CLASS_NUMBERS = {name: number for number, name in CLASS_NAMES.items()}
#: what a fault rule does (README "Fault rules"): a bare or an ``action=VALUE`` action
Action = Literal[BareAction, ValueAction]
BARE_ACTIONS: tuple[BareAction, ...] = get_args(BareAction)
VALUE_ACTIONS: tuple[ValueAction, ...] = get_args(ValueAction)
#: every action a fault rule can take, bare or ``action=VALUE`` (README "Fault rules")
ACTIONS: tuple[Action, ...] = get_args(Action)
_ACTIONS_TEXT = (
    "nxdomain, servfail, refused, nodata, drop, truncate, lame, tcponly, noedns, "
    "delay=DURATION, answer=ADDR, rcode=NAME, truncate=BYTES, mismatch=FIELD[:VALUE], "
    "frame=short|long|hang|BYTES"
)
#: the actions that send no reply of their own making, so ``qdcount=`` has nothing to
#: shape: ``drop`` sends nothing, ``delay`` the zone's reply later, ``frame`` the zone's
#: reply under a wrong TCP length prefix (``mismatch=qdcount:N`` is the zone's reply
#: with QDCOUNT N)
NO_SHAPE_ACTIONS: tuple[Action, ...] = ("drop", "delay", "frame")
# Smallest truncate=N: a reply cut inside its 12-byte header is not a DNS message.
MIN_TRUNCATE = 12
MAX_TRUNCATE = 65535
MAX_RCODE = 4095  # 4 header bits + 8 bits of EDNS EXTENDED-RCODE (RFC 6891 section 6.1.3)

#: The IANA "DNS RCODEs" registry (RFC 6895 section 2.3): number -> mnemonic, upper case.
#: 16 is both BADVERS (in OPT) and BADSIG (in TSIG); BADVERS is the name we write back.
RCODE_NAMES: Mapping[int, str] = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
    11: "DSOTYPENI",
    16: "BADVERS",
    17: "BADKEY",
    18: "BADTIME",
    19: "BADMODE",
    20: "BADNAME",
    21: "BADALG",
    22: "BADTRUNC",
    23: "BADCOOKIE",
}
_RCODE_NUMBERS = {name: number for number, name in RCODE_NAMES.items()} | {"BADSIG": 16}

# Each action as written, what the server sends, and what a Go 1.23 client (pure-Go
# resolver, net.Resolver{PreferGo: true}) reports for it: users pick an action by the
# symptom they want.  Measured with Go 1.23.9 against faultdns; the README's table says
# the same.  ``faultdns --help`` prints it.
ACTION_HELP: tuple[tuple[str, str, str], ...] = (
    ("nxdomain", "NXDOMAIN with the SOA", "no such host (IsNotFound)"),
    ("servfail", "SERVFAIL", "server misbehaving (IsTemporary); tries the next server"),
    ("refused", "REFUSED", "server misbehaving (not temporary); tries the next server"),
    ("nodata", "NOERROR, no answer, SOA, AA", "no such host (IsNotFound)"),
    ("drop", "no reply", "i/o timeout (IsTimeout, IsTemporary) after timeout x attempts"),
    ("truncate", "UDP: TC, question only", "retries over TCP at once"),
    (
        "truncate=N",
        "UDP: the real reply with TC, cut at N bytes (N >= 12)",
        "retries over TCP at once (reads header and question only)",
    ),
    ("tcponly", "UDP: as truncate; TCP: the normal answer", "retries over TCP, gets the answer"),
    (
        "lame",
        "NOERROR, no records at all (no OPT), AA and RA clear",
        "lame referral (not temporary); tries the next server",
    ),
    (
        "noedns",
        "the normal answer without OPT (a server without EDNS); UDP over 512 bytes: TC",
        "the answer (AA set: not lame); NODATA/NXDOMAIN: no such host",
    ),
    (
        "rcode=NAME",
        "that rcode (mnemonic or 0..4095), no records; above 15 via OPT",
        "SERVFAIL: server misbehaving (temporary); NXDOMAIN, NOERROR: no such host; "
        "any other (NOTIMP, FORMERR, BADVERS, ...): server misbehaving (not temporary); "
        "all but NXDOMAIN/NOERROR try the next server",
    ),
    ("delay=DURATION", "the normal answer, DURATION later", "the answer, later (or a timeout)"),
    ("answer=ADDR", "ADDR instead of the zone's answer (A or AAAA)", "ADDR"),
    (
        "mismatch=FIELD",
        "the zone's answer with FIELD (id, name, type, class) not the query's (lowest bit flipped)",
        "UDP: ignored, i/o timeout (IsTimeout, IsTemporary) after timeout x attempts; "
        "TCP: invalid DNS response (not temporary); tries the next server",
    ),
    (
        "frame=SHAPE",
        "TCP only: the zone's reply under a wrong 2-byte length prefix: short (12, the "
        "header; the whole reply follows), long (one byte past the reply, then FIN), "
        "hang (one byte past, then silence), or a number of bytes",
        "short, or a cut before the first record's data: cannot unmarshal DNS message "
        "(not temporary); long: unexpected EOF (not temporary); hang: i/o timeout "
        "(IsTimeout, IsTemporary); each tries the next server",
    ),
    (
        "mismatch=FIELD:VALUE",
        "the zone's answer with the question's type or class VALUE (0..65535 or a "
        "mnemonic: class:CH, class:ANY, type:AAAA)",
        "as mismatch=FIELD when VALUE is not the query's (class CH, HS, ANY, 0 alike); "
        "VALUE equal to the query's: the answer",
    ),
    (
        "mismatch=qdcount[:N]",
        "the zone's answer whose header counts N questions (0..65535; bare: 0), its "
        "bytes unchanged: from 2 on the next section's first bytes read as a question",
        "0: UDP: ignored, i/o timeout (IsTimeout, IsTemporary) after timeout x attempts; "
        "TCP: cannot unmarshal DNS message (not temporary); 2 or more: invalid DNS "
        "response (not temporary) over UDP and TCP, TC or not; tries the next server",
    ),
)

# Spec keys in canonical order (the order ``FaultRule.spec`` writes them): the reply's
# shape (``qdcount=``), right after the action it shapes, then match, then activation.
SHAPE_KEYS = ("qdcount",)
MATCH_KEYS = ("match", "qtype", "proto")
ACTIVATION_KEYS = ("after", "for", "first", "every", "p", "count")
SPEC_KEYS = SHAPE_KEYS + MATCH_KEYS + ACTIVATION_KEYS
DICT_KEYS = ("id", "action", *VALUE_ACTIONS, *SPEC_KEYS, "spec")

_DURATION_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class FaultSpecError(ValueError):
    """A fault spec, plan file or rule object is invalid; the message names the token."""


def rcode_name(rcode: int) -> str:
    """The registry mnemonic of an rcode (``BADVERS`` for 16), else ``RCODE<n>``."""
    return RCODE_NAMES.get(rcode) or f"RCODE{rcode}"


def _whole_number(value: object) -> int | None:
    """``value`` as a whole number, as every numeric key reads one: an ``int`` (not a
    ``bool``: TOML and JSON ``true`` is no count) or ASCII decimal digits, surrounding
    white space allowed; None for anything else (the caller names the key)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and is_decimal(value.strip()):
        return int(value.strip())
    return None


def parse_rcode(value: str | int) -> int:
    """An rcode number 0..4095 from a mnemonic (any case, RFC 6895) or a number.

    Raises FaultSpecError naming the value.  ``BADSIG`` is accepted as 16.
    """
    number = _whole_number(value)
    if number is None and isinstance(value, str) and value.strip().upper() in _RCODE_NUMBERS:
        return _RCODE_NUMBERS[value.strip().upper()]
    if number is None:
        raise FaultSpecError(
            f"rcode: expected a mnemonic (NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, "
            f"REFUSED, YXDOMAIN, ..., BADVERS, BADCOOKIE) or a number 0..{MAX_RCODE}, "
            f"got {value!r}"
        )
    if not 0 <= number <= MAX_RCODE:
        raise FaultSpecError(f"rcode: expected a number 0..{MAX_RCODE}, got {value!r}")
    return number


def parse_duration(text: str | float | int, *, what: str = "duration") -> float:
    """Seconds from ``250ms``, ``2s``, ``1m``, ``1h`` or a bare number of seconds."""
    if isinstance(text, bool):
        raise FaultSpecError(f"{what}: expected a duration like 250ms, 2s, 1m, got {text!r}")
    if isinstance(text, int | float):
        value = float(text)
    else:
        m = _DURATION_RE.match(text)
        if not m:
            raise FaultSpecError(
                f"{what}: expected a duration like 250ms, 2s, 1m or a number of seconds, "
                f"got {text!r}"
            )
        value = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if not math.isfinite(value) or value < 0:
        raise FaultSpecError(f"{what}: expected a finite duration >= 0, got {text!r}")
    return value


def format_duration(seconds: float) -> str:
    """The shortest spec spelling that :func:`parse_duration` reads back as the same
    float.  Whole seconds, then whole milliseconds, are used only when they round-trip:
    ``690 * 0.001`` is ``0.6900000000000001``, not ``0.69``, so 0.69 s is ``0.69s``
    (found by fuzzing the spec language: ``parse_fault(rule.spec) == rule``)."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    ms = seconds * 1000
    if ms == int(ms) and seconds < 1 and parse_duration(f"{int(ms)}ms") == seconds:
        return f"{int(ms)}ms"
    return f"{seconds!r}s"


@dataclass(frozen=True, kw_only=True)
class FaultRule:
    """One fault rule, immutable; the server keeps its counters apart
    (:class:`faultdns._select.RuleState`).

    ``id`` is empty until a server adds the rule.  ``spec`` is the canonical spec string,
    so ``parse_fault(rule.spec)`` gives back an equal rule (apart from the id).
    ``rcode`` (action ``rcode``) is the number 0..4095; ``truncate`` (action
    ``truncate``) is the cut size in bytes, or None for the question-only reply;
    ``mismatch`` (action ``mismatch``) the reply field that is not the query's, and
    ``mismatch_to`` the 16-bit value that field (``type``, ``class`` or ``qdcount``)
    carries instead (None: the query's with its lowest bit flipped); the spec writes both as
    ``mismatch=FIELD[:VALUE]``, and so do :meth:`to_dict` and :meth:`from_dict`;
    ``frame`` (action ``frame``) the TCP length prefix's shape: one of
    :data:`FRAME_SHAPES` or a number of bytes written in decimal (``"0"``..``"65535"``).
    ``qdcount`` (spec ``qdcount=N``, 0..65535; any action but those of
    :data:`NO_SHAPE_ACTIONS`): the QDCOUNT the header of the reply the action builds
    says, its bytes otherwise as built (``lame qdcount=2``: a second question counted
    and nothing left to read it from; ``truncate qdcount=0``: a TC reply without a
    question); None: the reply's own count.
    """

    id: str = ""
    action: Action
    delay: float | None = None
    answer: str | None = None
    rcode: int | None = None
    truncate: int | None = None
    mismatch: MismatchField | None = None
    frame: str | None = None
    mismatch_to: int | None = None
    qdcount: int | None = None
    match: str = "*"
    qtype: str | None = None
    proto: str | None = None
    after: float | None = None
    for_: float | None = None
    first: int | None = None
    every: int | None = None
    p: float | None = None
    count: int | None = None
    spec: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _validate(self)
        if not self.spec:
            object.__setattr__(self, "spec", _canonical_spec(self))

    def with_id(self, rule_id: str) -> FaultRule:
        """The same rule under another id (rules are frozen)."""
        return dataclasses.replace(self, id=rule_id)

    def matches(self, name: str, qtype: str, proto: str) -> bool:
        """Whether a query (lower-case name without trailing dot, its type's mnemonic,
        ``"udp"`` or ``"tcp"``) is this rule's business: :func:`faultdns._select.rule_matches`,
        where selection's rules are (``match=`` globs, the transport an action needs)."""
        # Imported here: _select imports this module (answer_qtype, the FaultRule type).
        from faultdns._select import rule_matches

        return rule_matches(self, name, qtype, proto)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able object with the spec's keys (``for``, not ``for_``)."""
        return {
            "id": self.id,
            "action": self.action,
            "delay": self.delay,
            "answer": self.answer,
            "rcode": self.rcode,
            "truncate": self.truncate,
            "mismatch": None if self.mismatch is None else mismatch_text(self),
            "frame": self.frame,
            "qdcount": self.qdcount,
            "match": self.match,
            "qtype": self.qtype,
            "proto": self.proto,
            "after": self.after,
            "for": self.for_,
            "first": self.first,
            "every": self.every,
            "p": self.p,
            "count": self.count,
            "spec": self.spec,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "fault") -> FaultRule:
        """Build a rule from a JSON object or TOML table with the spec's keys.

        Durations may be numbers (seconds) or strings (``"250ms"``); ``rcode`` a
        mnemonic or a number.  ``delay``, ``answer``, ``rcode``, ``truncate``,
        ``mismatch`` or ``frame`` alone imply the action; a lone ``spec`` key is parsed
        as a spec.
        ``where`` prefixes error messages (e.g. the plan file and table number).
        """
        if not isinstance(data, Mapping):
            raise FaultSpecError(f"{where}: expected an object with fault keys, got {data!r}")
        unknown = [k for k in data if k not in DICT_KEYS]
        if unknown:
            raise FaultSpecError(
                f"{where}: unknown key {unknown[0]!r} (expected one of {', '.join(DICT_KEYS)})"
            )
        values = {k: v for k, v in data.items() if v is not None}
        rule_id = values.pop("id", "")
        if not isinstance(rule_id, str):
            raise FaultSpecError(f"{where}: key 'id': expected a string, got {rule_id!r}")
        spec = values.pop("spec", None)
        if spec is not None and not (set(values) - {"action"}) and "action" not in values:
            if not isinstance(spec, str):
                raise FaultSpecError(f"{where}: key 'spec': expected a string, got {spec!r}")
            return parse_fault(spec).with_id(rule_id)
        action = values.pop("action", None)
        if action is None:
            given = [a for a in VALUE_ACTIONS if a in values]
            if len(given) != 1:
                raise FaultSpecError(
                    f"{where}: missing key 'action' (expected one of {', '.join(ACTIONS)})"
                )
            action = given[0]
        if not isinstance(action, str) or action.lower() not in ACTIONS:
            raise FaultSpecError(
                f"{where}: key 'action': expected one of {', '.join(ACTIONS)}, got {action!r}"
            )
        action = action.lower()
        for other in VALUE_ACTIONS:
            if other != action and other in values:
                raise FaultSpecError(
                    f"{where}: key {other!r} only goes with action {other!r}, not {action!r}"
                )
        kwargs: dict[str, Any] = {"id": rule_id, "action": action}
        if action in VALUE_ACTIONS:
            if action not in values:
                if action not in BARE_ACTIONS:
                    raise FaultSpecError(f"{where}: action {action!r} needs key {action!r}")
            else:
                kwargs[action] = _convert(action, values.pop(action), where)
        for key, raw in values.items():
            kwargs["for_" if key == "for" else key] = _convert(key, raw, where)
        try:
            return cls(**kwargs)
        except FaultSpecError as exc:
            raise FaultSpecError(f"{where}: {exc}") from None


def answer_qtype(answer: str | None) -> str:
    """The query type ``answer=ADDR`` answers: ``"AAAA"`` for an IPv6 address, else
    ``"A"`` (the address is canonical text by then: only IPv6 has a colon)."""
    return "AAAA" if answer is not None and ":" in answer else "A"


def _as_action(text: str) -> Action:
    """``text`` as an :data:`Action`; raises :class:`FaultSpecError` if it is none."""
    for action in ACTIONS:
        if action == text:
            return action
    raise FaultSpecError(f"unknown action {text!r} (expected one of {', '.join(ACTIONS)})")


def _validate(rule: FaultRule) -> None:
    """Check a rule's fields; the messages name the spec key at fault."""
    if rule.action not in ACTIONS:
        raise FaultSpecError(
            f"unknown action {rule.action!r} (expected one of {', '.join(ACTIONS)})"
        )
    if rule.action == "delay":
        if rule.delay is None or not math.isfinite(rule.delay) or rule.delay < 0:
            raise FaultSpecError(f"delay: expected a duration >= 0, got {rule.delay!r}")
    elif rule.delay is not None:
        raise FaultSpecError(f"delay= given with action {rule.action!r}")
    if rule.action == "answer":
        if rule.answer is None:
            raise FaultSpecError("answer: expected an IPv4 or IPv6 address")
        try:
            addr = ipaddress.ip_address(rule.answer)
        except ValueError:
            raise FaultSpecError(
                f"answer: expected an IPv4 or IPv6 address, got {rule.answer!r}"
            ) from None
        object.__setattr__(rule, "answer", str(addr))
        wanted = answer_qtype(rule.answer)
        if rule.qtype is not None and rule.qtype != wanted:
            raise FaultSpecError(
                f"answer={rule.answer} answers {wanted} queries, but qtype={rule.qtype}"
            )
    elif rule.answer is not None:
        raise FaultSpecError(f"answer= given with action {rule.action!r}")
    if rule.action == "rcode":
        if rule.rcode is None:
            raise FaultSpecError(f"rcode: expected a mnemonic or a number 0..{MAX_RCODE}")
        object.__setattr__(rule, "rcode", parse_rcode(rule.rcode))
    elif rule.rcode is not None:
        raise FaultSpecError(f"rcode= given with action {rule.action!r}")
    if rule.truncate is not None:
        if rule.action != "truncate":
            raise FaultSpecError(f"truncate= given with action {rule.action!r}")
        size = rule.truncate
        if isinstance(size, bool) or not isinstance(size, int):
            raise FaultSpecError(f"truncate: expected a number of bytes, got {size!r}")
        if not MIN_TRUNCATE <= size <= MAX_TRUNCATE:
            raise FaultSpecError(
                f"truncate: expected {MIN_TRUNCATE}..{MAX_TRUNCATE} bytes "
                f"(a cut inside the 12-byte header is no DNS message), got {size}"
            )
    if rule.action == "mismatch":
        field_, to = _parse_mismatch(rule.mismatch, rule.mismatch_to)
        object.__setattr__(rule, "mismatch", field_)
        object.__setattr__(rule, "mismatch_to", to)
    elif rule.mismatch is not None or rule.mismatch_to is not None:
        raise FaultSpecError(f"mismatch= given with action {rule.action!r}")
    if rule.action == "frame":
        object.__setattr__(rule, "frame", _frame_shape(rule.frame))
        if rule.proto == "udp":
            raise FaultSpecError(
                "frame shapes a TCP reply's length prefix, so proto=udp makes no sense"
            )
    elif rule.frame is not None:
        raise FaultSpecError(f"frame= given with action {rule.action!r}")
    if rule.qdcount is not None:
        _check_qdcount(rule)
    match = rule.match.strip().lower().rstrip(".") if isinstance(rule.match, str) else None
    if not match:
        raise FaultSpecError(f"match: expected a name glob like *.example.test, got {rule.match!r}")
    if any(c.isspace() or not c.isprintable() for c in match):
        # A spec is split on whitespace, so such a glob could not be written back as
        # the canonical spec (and no DNS name has a space or control character).
        raise FaultSpecError(
            f"match: a name glob has no spaces or control characters, got {match!r}"
        )
    object.__setattr__(rule, "match", match)
    if rule.qtype is not None:
        qtype = str(rule.qtype).upper()
        if qtype not in QTYPE.reverse:
            raise FaultSpecError(
                f"qtype: expected a DNS type like A, AAAA, TXT, got {rule.qtype!r}"
            )
        object.__setattr__(rule, "qtype", qtype)
    if rule.proto is not None:
        proto = str(rule.proto).lower()
        if proto not in ("udp", "tcp"):
            raise FaultSpecError(f"proto: expected udp or tcp, got {rule.proto!r}")
        object.__setattr__(rule, "proto", proto)
    if rule.action == "tcponly" and rule.proto == "tcp":
        raise FaultSpecError("tcponly answers TCP normally, so proto=tcp makes no sense")
    for key, value in (("after", rule.after), ("for", rule.for_)):
        if value is not None and (not math.isfinite(value) or value < 0):
            raise FaultSpecError(f"{key}: expected a duration >= 0, got {value!r}")
    for key, count in (("first", rule.first), ("every", rule.every), ("count", rule.count)):
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise FaultSpecError(f"{key}: expected a whole number >= 1, got {count!r}")
    if rule.p is not None and not (0.0 <= rule.p <= 1.0):
        raise FaultSpecError(f"p: expected a probability between 0 and 1, got {rule.p!r}")


def _check_qdcount(rule: FaultRule) -> None:
    """``qdcount=``: a whole number 0..65535, with an action that builds its reply, and
    not twice (``mismatch=qdcount`` sets it already); FaultSpecError naming the key."""
    count = rule.qdcount
    if isinstance(count, bool) or not isinstance(count, int):
        raise FaultSpecError(
            f"qdcount: expected a number of questions 0..{MAX_QDCOUNT}, got {count!r}"
        )
    if not 0 <= count <= MAX_QDCOUNT:
        raise FaultSpecError(
            f"qdcount: expected a number of questions 0..{MAX_QDCOUNT} (a 16-bit header "
            f"field), got {count}"
        )
    if rule.action in NO_SHAPE_ACTIONS:
        what = {
            "drop": "sends no reply",
            "delay": "sends the zone's reply as it is (mismatch=qdcount:N is the zone's "
            "reply with QDCOUNT N)",
            "frame": "frames the zone's reply as it is",
        }[rule.action]
        raise FaultSpecError(f"qdcount= given with action {rule.action!r}, which {what}")
    if rule.action == "mismatch" and rule.mismatch == "qdcount":
        raise FaultSpecError("qdcount= given with mismatch=qdcount, which sets QDCOUNT already")


def _frame_shape(value: object) -> str:
    """``frame=``'s value in canonical form: a shape of :data:`FRAME_SHAPES` (any case)
    or a decimal number of bytes 0..65535 without leading zeros; FaultSpecError else."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip().lower()
    else:
        text = ""
    if text in FRAME_SHAPES:
        return text
    if is_decimal(text) and int(text) <= MAX_FRAME:
        return str(int(text))
    raise FaultSpecError(
        f"frame: expected {', '.join(FRAME_SHAPES)} or a number of bytes 0..{MAX_FRAME}, "
        f"got {value!r}"
    )


def _parse_mismatch(raw: object, value: object) -> tuple[MismatchField, int | None]:
    """``mismatch=FIELD`` or ``FIELD:VALUE`` (or a FIELD and a separate ``mismatch_to``)
    as the field and the value (None: flip the lowest bit); FaultSpecError naming the
    key.  VALUE is a number 0..65535 or a mnemonic: :data:`CLASS_NAMES` for a class,
    dnslib's QTYPE names for a type (RFC 1035 section 3.2.2, the IANA registry); a
    QDCOUNT is a number only."""
    text = raw.strip().lower() if isinstance(raw, str) else raw
    given: object = value
    if isinstance(text, str) and ":" in text:
        if given is not None:
            raise FaultSpecError(f"mismatch: a value given twice ({raw!r} and {value!r})")
        text, _, given = text.partition(":")
        given = given.strip()
    field_ = next((f for f in MISMATCH_FIELDS if f == text), None)
    if field_ is None:
        raise FaultSpecError(
            f"mismatch: expected one of {', '.join(MISMATCH_FIELDS)}, optionally "
            f"type:VALUE, class:VALUE or qdcount:VALUE, got {raw!r}"
        )
    if given is None:
        return field_, None
    if field_ not in MISMATCH_VALUED:
        raise FaultSpecError(
            f"mismatch: only {', '.join(MISMATCH_VALUED[:-1])} and {MISMATCH_VALUED[-1]} "
            f"take a value "
            f"(FIELD:VALUE), got {raw!r}"
        )
    names: Mapping[str, Any] = {
        "class": _CLASS_NUMBERS,
        "type": QTYPE.reverse,
        "qdcount": {},
    }[field_]
    number: int | None = None
    if isinstance(given, int) and not isinstance(given, bool):
        number = given
    elif isinstance(given, str) and is_decimal(given):
        number = int(given)
    elif isinstance(given, str) and given.upper() in names:
        number = int(names[given.upper()])
    if number is None or not 0 <= number <= 0xFFFF:
        got = raw if value is None else value
        if field_ == "qdcount":
            raise FaultSpecError(
                f"mismatch: qdcount:VALUE expects a number of questions 0..{MAX_QDCOUNT}, "
                f"got {got!r}"
            )
        hint = "IN, CH, HS, NONE, ANY" if field_ == "class" else "A, AAAA, TXT, ANY, ..."
        raise FaultSpecError(
            f"mismatch: {field_}:VALUE expects a number 0..65535 or a mnemonic ({hint}), "
            f"got {got!r}"
        )
    return field_, number


def mismatch_text(rule: FaultRule) -> str:
    """The ``mismatch=`` value as the spec writes it: ``FIELD``, or ``FIELD:VALUE`` with
    a class's or type's mnemonic when it has one (``class:CH``, ``type:AAAA``), else the
    number (``class:0``, ``type:65280``)."""
    if rule.mismatch_to is None:
        return str(rule.mismatch)
    if rule.mismatch == "qdcount":
        return f"qdcount:{rule.mismatch_to}"
    if rule.mismatch == "class":
        name = CLASS_NAMES.get(rule.mismatch_to)
    else:
        name = QTYPE.forward.get(rule.mismatch_to)
        # dnslib names unassigned numbers TYPEnnn (and some oddly): only names that read
        # back as the same number are written
        if name is not None and QTYPE.reverse.get(str(name).upper()) != rule.mismatch_to:
            name = None
    return f"{rule.mismatch}:{name if name is not None else rule.mismatch_to}"


def _canonical_spec(rule: FaultRule) -> str:
    if rule.action == "delay":
        assert rule.delay is not None
        parts = [f"delay={format_duration(rule.delay)}"]
    elif rule.action == "answer":
        parts = [f"answer={rule.answer}"]
    elif rule.action == "rcode":
        assert rule.rcode is not None
        parts = [f"rcode={RCODE_NAMES.get(rule.rcode, rule.rcode)}"]
    elif rule.action == "mismatch":
        parts = [f"mismatch={mismatch_text(rule)}"]
    elif rule.action == "frame":
        parts = [f"frame={rule.frame}"]
    elif rule.truncate is not None:
        parts = [f"truncate={rule.truncate}"]
    else:
        parts = [rule.action]
    if rule.qdcount is not None:
        parts.append(f"qdcount={rule.qdcount}")
    if rule.match != "*":
        parts.append(f"match={rule.match}")
    if rule.qtype is not None:
        parts.append(f"qtype={rule.qtype}")
    if rule.proto is not None:
        parts.append(f"proto={rule.proto}")
    if rule.after is not None:
        parts.append(f"after={format_duration(rule.after)}")
    if rule.for_ is not None:
        parts.append(f"for={format_duration(rule.for_)}")
    for key, value in (("first", rule.first), ("every", rule.every), ("p", rule.p)):
        if value is not None:
            parts.append(f"{key}={value}")
    if rule.count is not None:
        parts.append(f"count={rule.count}")
    return " ".join(parts)


def _convert(key: str, raw: Any, where: str) -> Any:
    """Turn a spec/TOML/JSON value into the field's type, naming the key on failure."""
    try:
        if key in ("delay", "after", "for"):
            if isinstance(raw, str | int | float):
                return parse_duration(raw, what=key)
        elif key == "rcode":
            return parse_rcode(raw)
        elif key == "frame":
            return _frame_shape(raw)
        elif key == "truncate":
            if (size := _whole_number(raw)) is not None:
                return size
            raise FaultSpecError(f"truncate: expected a number of bytes >= 12, got {raw!r}")
        elif key in ("first", "every", "count"):
            if (count := _whole_number(raw)) is not None:
                return count
            raise FaultSpecError(f"{key}: expected a whole number >= 1, got {raw!r}")
        elif key == "qdcount":
            if (count := _whole_number(raw)) is not None:
                return count
            raise FaultSpecError(
                f"qdcount: expected a number of questions 0..{MAX_QDCOUNT}, got {raw!r}"
            )
        elif key == "p":
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                return float(raw)
            if isinstance(raw, str):
                try:
                    return float(raw)
                except ValueError:
                    pass
            raise FaultSpecError(f"p: expected a probability between 0 and 1, got {raw!r}")
        elif isinstance(raw, str):
            return raw
    except FaultSpecError as exc:
        raise FaultSpecError(f"{where}: {exc}") from None
    raise FaultSpecError(f"{where}: key {key!r}: unexpected value {raw!r}")


def parse_fault(spec: str) -> FaultRule:
    """Parse one spec string such as ``nxdomain match=a.test for=30s``.

    Raises FaultSpecError naming the offending token.
    """
    if not isinstance(spec, str):
        raise FaultSpecError(f"fault spec: expected a string, got {spec!r}")
    tokens = spec.split()
    if not tokens:
        raise FaultSpecError(f"fault spec {spec!r}: empty (expected an action: {_ACTIONS_TEXT})")
    where = f"fault spec {spec.strip()!r}"
    action: str | None = None
    values: dict[str, Any] = {}
    for token in tokens:
        key, eq, value = token.partition("=")
        key = key.lower()
        found: str
        if not eq:
            if key not in BARE_ACTIONS:
                hint = f"; write {key}=VALUE" if key in VALUE_ACTIONS or key in SPEC_KEYS else ""
                raise FaultSpecError(
                    f"{where}: unknown token {token!r} (expected an action "
                    f"{_ACTIONS_TEXT}, or KEY=VALUE{hint})"
                )
            found = key
        elif key == "action":
            found = value.lower()
            if found not in BARE_ACTIONS:
                raise FaultSpecError(
                    f"{where}: token {token!r}: expected action={'|'.join(BARE_ACTIONS)}"
                )
        elif key in VALUE_ACTIONS:
            found = key
            if not value:
                raise FaultSpecError(f"{where}: token {token!r}: {key}= needs a value")
            values[key] = _convert(key, value, f"{where}: token {token!r}")
        elif key in SPEC_KEYS:
            if key in values:
                raise FaultSpecError(f"{where}: token {token!r}: {key}= given twice")
            if not value:
                raise FaultSpecError(f"{where}: token {token!r}: {key}= needs a value")
            values[key] = _convert(key, value, f"{where}: token {token!r}")
            continue
        else:
            raise FaultSpecError(
                f"{where}: unknown key {key!r} in token {token!r} "
                f"(expected one of {', '.join(SPEC_KEYS)})"
            )
        if action is not None:
            raise FaultSpecError(
                f"{where}: token {token!r}: a rule has one action, already have {action!r}"
            )
        action = found
    if action is None:
        raise FaultSpecError(f"{where}: no action (expected one of {_ACTIONS_TEXT})")
    kwargs = {("for_" if k == "for" else k): v for k, v in values.items()}
    try:
        return FaultRule(action=_as_action(action), **kwargs)
    except FaultSpecError as exc:
        raise FaultSpecError(f"{where}: {exc}") from None


def coerce_rule(rule: str | Mapping[str, Any] | FaultRule) -> FaultRule:
    """Accept the three ways callers hand over a rule (spec, JSON object, FaultRule)."""
    if isinstance(rule, FaultRule):
        return rule
    if isinstance(rule, str):
        return parse_fault(rule)
    if isinstance(rule, Mapping):
        return FaultRule.from_dict(rule)
    raise FaultSpecError(f"fault: expected a spec string, an object or a FaultRule, got {rule!r}")

"""The zone: the records faultdns answers from, and the authority rules around them.

faultdns behaves like a small authoritative server, because the resolvers under test
treat each kind of "no" differently: NXDOMAIN (the name does not exist), NODATA (the
name exists but not with that type) and REFUSED (not my zone) each lead a stub
resolver down a different path.  So:

* ``origins`` name the zones we are authoritative for.  A name inside an origin that
  has no records is NXDOMAIN with the origin's SOA in the authority section (its
  minimum field is the negative-caching TTL); a name with records but not the asked
  type is NOERROR/NODATA with the SOA; a name outside every origin is REFUSED (so a
  record there is refused when added: no query could reach it).  With
  no origins we are authoritative for every name and synthesize a SOA for the name's
  parent (or the root), so a negative answer still carries one.
* We never recurse or forward: CNAMEs are followed only inside our own authority
  (RFC 1034 section 4.3.2, step 3a): the chain goes in the answer section, then the
  final target's records of the asked type; an NXDOMAIN or NODATA at the final target
  keeps the chain in the answer and that target's SOA in the authority section (RFC
  6604).  A chain that leaves our origins, loops, or runs past 16 CNAMEs is answered
  NOERROR with the CNAMEs so far: the client's resolver chases the rest, or gives up.
* Names are compared case-insensitively; answers for the asked name use the name as
  asked (its 0x20 case mixing), which is what case-randomising resolvers check.
* The default TTL is 0, so no cache between a client and us hides a fault window.

Records come from ``NAME=ADDR`` (A or AAAA by the address), ``NAME TYPE VALUE [TTL]``
or a TOML zone file.  The zone is copy-on-write: readers (the server's event loop) take
one immutable snapshot per lookup while another thread adds records, and every change
bumps :attr:`Zone.generation` so the server knows when its answer cache is stale.

One idea at ~680 lines: the records and the authority rules that answer from them
(RFC 1034, 2308, 4592, 6604) change together; DNS messages are apart
(:mod:`faultdns._wire`).
"""

from __future__ import annotations

import ipaddress
import shlex
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnslib import AAAA, CNAME, NS, QTYPE, RCODE, RR, SOA, SRV, TXT, A, DNSLabel

from faultdns._files import is_decimal, parse_toml, read_text

__all__ = [
    "RECORD_TYPES",
    "Resolution",
    "Zone",
    "ZoneError",
    "name_key",
    "wire_name_key",
]

RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT", "SRV", "NS", "SOA")
_TYPE_CODE = {t: getattr(QTYPE, t) for t in RECORD_TYPES}
_ANY = QTYPE.ANY
_SOA = QTYPE.SOA
# CNAMEs followed for one answer: a chain longer than this is answered as far as it got.
_MAX_CHASE = 16
# Synthesized SOA fields: names under .invalid so nobody mistakes them for a real server.
_SOA_MNAME = "ns.faultdns.invalid."
_SOA_RNAME = "hostmaster.faultdns.invalid."
_SOA_TIMES = (1, 3600, 600, 86400)
_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-_*")
_SAFE_CHARS = frozenset(bytes([b]) for b in _SAFE)
_MAX_RDATA = 65535  # RDLENGTH is 16 bits


class ZoneError(ValueError):
    """A record, origin or zone file is invalid; the message names the record or line."""


def wire_name_key(labels: Iterable[bytes]) -> str:
    """Lower-case text of a wire name, without trailing dot ("" is the root).

    Bytes outside the hostname alphabet are written ``\\DDD``, so a label that contains
    a dot can never be confused with two labels.
    """
    parts = []
    for label in labels:
        low = label.lower()
        if all(b in _SAFE for b in low):
            parts.append(low.decode("ascii"))
        else:
            parts.append("".join(chr(b) if b in _SAFE else f"\\{b:03d}" for b in low))
    return ".".join(parts)


def name_key(name: str, *, what: str = "name") -> str:
    """Validate a user-written domain name and return its lookup key."""
    text = name.strip()
    if text in (".", ""):
        if text == ".":
            return ""
        raise ZoneError(f"{what}: empty name")
    text = text.rstrip(".") if text.endswith(".") and not text.endswith("..") else text
    labels = text.split(".")
    for label in labels:
        if not label:
            raise ZoneError(f"{what} {name!r}: empty label")
        if len(label.encode("utf-8")) > 63:
            raise ZoneError(f"{what} {name!r}: label {label!r} longer than 63 bytes")
        if any(c.isspace() or c == "\\" or not c.isprintable() for c in label):
            raise ZoneError(f"{what} {name!r}: label {label!r} has a space or backslash")
    if len(text.encode("utf-8")) > 253:
        raise ZoneError(f"{what} {name!r}: longer than 253 bytes")
    return text.lower()


def answerable_key(name: str, *, what: str = "name") -> str:
    """:func:`name_key` for a name the server must be able to answer (an owner or origin).

    Questions are matched by :func:`wire_name_key`, which keeps only letters, digits,
    ``-``, ``_`` and ``*`` as they are; a name with any other character (``a!b.test``,
    a non-ASCII ``ü.test``, which clients send in IDNA form as ``xn--tda.test``) could
    be stored but never asked for, so it is refused (ZoneError naming the label).
    """
    key = name_key(name, what=what)
    for label in key.split(".") if key else ():
        bad = sorted({c for c in label if ord(c) > 127 or c.encode() not in _SAFE_CHARS})
        if not bad:
            continue
        if any(ord(c) > 127 for c in bad):
            try:
                idna = repr(label.encode("idna").decode())
            except UnicodeError:
                idna = "its xn-- form"
            why = f"clients ask for non-ASCII names in IDNA form; write {idna}"
        else:
            why = "questions are matched on letters, digits, '-', '_' and '*' only"
        raise ZoneError(
            f"{what} {name!r}: label {label!r} has {''.join(bad)!r}: {why},"
            " so the record could never be answered"
        )
    return key


def _parent(key: str) -> str:
    return key.partition(".")[2] if "." in key else ""


def _ancestors(key: str) -> Iterable[str]:
    """The name itself, then each parent up to and including the root ("")."""
    while key:
        yield key
        key = _parent(key)
    yield ""


def _label(key: str) -> DNSLabel:
    return DNSLabel(key + "." if key else ".")


@dataclass(frozen=True)
class _Record:
    name: str  # key form
    type: str
    value: str  # canonical text
    ttl: int | None  # None: the zone's default TTL
    rdata: Any
    target: str | None  # CNAME target key


@dataclass(frozen=True)
class Resolution:
    """What the zone says about one question (before any fault rule).

    ``rcode``: the reply's rcode number (``dnslib.RCODE``); ``answer``/``authority``:
    the records of those sections (dnslib ``RR``); ``authoritative``: the AA bit.
    """

    rcode: int
    answer: tuple[RR, ...] = ()
    authority: tuple[RR, ...] = ()
    authoritative: bool = True


@dataclass(frozen=True)
class _Snapshot:
    records: Mapping[str, tuple[_Record, ...]]
    existing: frozenset[str]  # names with records, their ancestors, the origins
    origins: tuple[str, ...]  # longest first, so the innermost origin wins
    ttl: int


def _parse_ttl(text: Any, where: str) -> int:
    if isinstance(text, bool):
        raise ZoneError(f"{where}: TTL: expected a whole number of seconds, got {text!r}")
    if isinstance(text, int):
        value = text
    elif isinstance(text, str) and is_decimal(text.strip(" \t")):
        value = int(text.strip(" \t"))
    else:
        raise ZoneError(f"{where}: TTL: expected a whole number of seconds, got {text!r}")
    if not 0 <= value <= 2**31 - 1:
        raise ZoneError(f"{where}: TTL: expected 0..2147483647, got {value}")
    return value


def _parse_int(text: str, field: str, limit: int, where: str) -> int:
    if not is_decimal(text) or int(text) > limit:
        raise ZoneError(f"{where}: {field}: expected a whole number 0..{limit}, got {text!r}")
    return int(text)


def _make_record(name: str, rtype: str, value: Any, ttl: Any, where: str) -> _Record:
    """Validate one record and build its rdata; errors name the record (``where``)."""
    key = answerable_key(name, what=f"{where}: name") if isinstance(name, str) else None
    if key is None:
        raise ZoneError(f"{where}: name: expected a domain name, got {name!r}")
    if not isinstance(rtype, str) or rtype.upper() not in _TYPE_CODE:
        raise ZoneError(f"{where}: type: expected one of {', '.join(RECORD_TYPES)}, got {rtype!r}")
    rtype = rtype.upper()
    ttl_value = None if ttl is None else _parse_ttl(ttl, where)
    fields: list[str]
    if isinstance(value, str):
        fields = [value] if rtype == "TXT" else value.split()
    elif isinstance(value, list | tuple) and all(isinstance(v, str | int) for v in value):
        fields = [str(v) for v in value]
    else:
        raise ZoneError(f"{where}: value: expected text, got {value!r}")
    target = None
    try:
        if rtype in ("A", "AAAA"):
            if len(fields) != 1:
                raise ZoneError(f"{where}: value: expected one address, got {value!r}")
            try:
                addr = ipaddress.ip_address(fields[0])
            except ValueError:
                raise ZoneError(
                    f"{where}: value: expected an IP address, got {fields[0]!r}"
                ) from None
            if (addr.version == 4) != (rtype == "A"):
                raise ZoneError(f"{where}: value: {fields[0]} is not an {rtype} address")
            text = str(addr)
            rdata: Any = A(text) if rtype == "A" else AAAA(text)
        elif rtype in ("CNAME", "NS"):
            if len(fields) != 1:
                raise ZoneError(f"{where}: value: expected one domain name, got {value!r}")
            target = name_key(fields[0], what=f"{where}: value")
            text = target + "."
            rdata = CNAME(_label(target)) if rtype == "CNAME" else NS(_label(target))
            if rtype == "NS":
                target = None
        elif rtype == "TXT":
            strings = [s.encode("utf-8") for s in fields]
            chunks = [s[i : i + 255] for s in strings for i in range(0, max(len(s), 1), 255)]
            text = fields[0] if len(fields) == 1 else " ".join(shlex.quote(f) for f in fields)
            size = sum(1 + len(chunk) for chunk in chunks)
            if size > _MAX_RDATA:
                # RDLENGTH is 16 bits (RFC 1035 section 3.2.1): no message can carry it.
                raise ZoneError(
                    f"{where}: value: {size} bytes of TXT data (with a length byte per"
                    f" 255-byte string) is over the {_MAX_RDATA} a record can hold,"
                    " so the record could never be answered"
                )
            rdata = TXT(chunks)
        elif rtype == "SRV":
            if len(fields) != 4:
                raise ZoneError(
                    f"{where}: value: expected 'PRIORITY WEIGHT PORT TARGET', got {value!r}"
                )
            prio, weight, port = (
                _parse_int(f, n, 65535, where)
                for f, n in zip(fields[:3], ("priority", "weight", "port"), strict=True)
            )
            srv_target = name_key(fields[3], what=f"{where}: value: target")
            text = f"{prio} {weight} {port} {srv_target}."
            rdata = SRV(prio, weight, port, _label(srv_target))
        else:  # SOA
            if len(fields) != 7:
                raise ZoneError(
                    f"{where}: value: expected 'MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM',"
                    f" got {value!r}"
                )
            mname = name_key(fields[0], what=f"{where}: value: mname")
            rname = name_key(fields[1], what=f"{where}: value: rname")
            names = ("serial", "refresh", "retry", "expire", "minimum")
            times = tuple(
                _parse_int(f, n, 2**32 - 1, where) for f, n in zip(fields[2:], names, strict=True)
            )
            text = f"{mname}. {rname}. " + " ".join(str(t) for t in times)
            rdata = SOA(_label(mname), _label(rname), times)
    except ZoneError:
        raise
    except Exception as exc:  # dnslib validates sizes; report them against the record
        raise ZoneError(f"{where}: value {value!r}: {exc}") from None
    return _Record(key, rtype, text, ttl_value, rdata, target)


def parse_record(spec: str) -> _Record:
    """``NAME=ADDR`` or ``NAME TYPE VALUE [TTL]`` (TXT values with spaces are quoted)."""
    where = f"record {spec.strip()!r}"
    text = spec.strip()
    if not text:
        raise ZoneError("record '': empty (expected NAME=ADDR or NAME TYPE VALUE [TTL])")
    head = text.split(None, 1)[0]
    if "=" in head and head == text:
        name, _, addr = text.partition("=")
        try:
            version = ipaddress.ip_address(addr).version
        except ValueError:
            raise ZoneError(
                f"{where}: expected NAME=ADDR with an IP address, got {addr!r}"
            ) from None
        return _make_record(name, "A" if version == 4 else "AAAA", addr, None, where)
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise ZoneError(f"{where}: {exc}") from None
    if len(tokens) < 3:
        raise ZoneError(f"{where}: expected NAME=ADDR or NAME TYPE VALUE [TTL]")
    name, rtype, rest = tokens[0], tokens[1].upper(), tokens[2:]
    arity = {"SRV": 4, "SOA": 7}.get(rtype, 1)
    if rtype not in _TYPE_CODE:
        raise ZoneError(
            f"{where}: type: expected one of {', '.join(RECORD_TYPES)}, got {tokens[1]!r}"
        )
    if len(rest) == arity:
        ttl = None
    elif len(rest) == arity + 1:
        ttl = rest.pop()
    else:
        raise ZoneError(
            f"{where}: {rtype} takes {arity} value field(s) and an optional TTL, got {len(rest)}"
        )
    value: Any = rest[0] if arity == 1 else rest
    return _make_record(name, rtype, value, ttl, where)


def _check_inside(record: _Record, origins: Sequence[str], where: str) -> None:
    """Refuse a record no query can reach: with origins, one outside all of them.

    A name outside every origin is answered REFUSED (RFC 1034 4.3.2: we are not
    authoritative there), so such a record would be silently dead.  With no origins
    we answer every name and anything goes.  Raises ZoneError naming the record.
    """
    if not origins:
        return
    name = record.name
    if not any(not o or name == o or name.endswith("." + o) for o in origins):
        raise ZoneError(
            f"{where}: {name!r} is outside every origin ({', '.join(origins)}): it would"
            " be answered REFUSED, never with this record (serve an origin that contains it)"
        )


class Zone:
    """Records plus origins; thread-safe, copy-on-write.

    ``ttl`` is the default TTL for records that do not give one, and the negative TTL
    of synthesized SOAs.
    """

    def __init__(
        self,
        records: Iterable[str | Mapping[str, Any]] = (),
        *,
        origins: Iterable[str] = (),
        ttl: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, list[_Record]] = {}
        self._origins: list[str] = []
        self._ttl = _parse_ttl(ttl, "zone")
        self.generation = 0
        self._snap = self._build()
        for origin in origins:
            self.add_origin(origin)
        for record in records:
            if isinstance(record, str):
                self.add(record)
            else:
                self.add_dict(record)

    # -- reading ------------------------------------------------------------------

    @property
    def ttl(self) -> int:
        return self._ttl

    @ttl.setter
    def ttl(self, value: int) -> None:
        with self._lock:
            self._ttl = _parse_ttl(value, "zone ttl")
            self._commit()

    @property
    def origins(self) -> tuple[str, ...]:
        return tuple(self._origins)

    def records(self) -> list[dict[str, Any]]:
        """Every record as a JSON-able dict: name, type, value, ttl (effective)."""
        snap = self._snap
        return [
            {
                "name": r.name,
                "type": r.type,
                "value": r.value,
                "ttl": snap.ttl if r.ttl is None else r.ttl,
            }
            for recs in snap.records.values()
            for r in recs
        ]

    # -- changing -----------------------------------------------------------------

    def add(self, spec: str) -> dict[str, Any]:
        """Add ``NAME=ADDR`` or ``NAME TYPE VALUE [TTL]``; returns the record as a dict."""
        if not isinstance(spec, str):
            raise ZoneError(f"record: expected a string, got {spec!r}")
        return self._add(parse_record(spec))

    def add_record(
        self, name: str, rtype: str, value: str | list[str], ttl: int | None = None
    ) -> dict[str, Any]:
        where = f"record {name} {rtype}"
        return self._add(_make_record(name, rtype, value, ttl, where))

    def add_dict(self, data: Mapping[str, Any], *, where: str = "record") -> dict[str, Any]:
        """Add a record from ``{"name", "type", "value", "ttl"?}`` or ``{"spec"}``."""
        if not isinstance(data, Mapping):
            raise ZoneError(f"{where}: expected an object with name, type, value, got {data!r}")
        unknown = [k for k in data if k not in ("name", "type", "value", "ttl", "spec")]
        if unknown:
            raise ZoneError(
                f"{where}: unknown key {unknown[0]!r} (expected name, type, value, ttl)"
            )
        if "spec" in data:
            if set(data) != {"spec"} or not isinstance(data["spec"], str):
                raise ZoneError(f"{where}: 'spec' must be a string and stand alone")
            try:
                return self.add(data["spec"])
            except ZoneError as exc:
                raise ZoneError(f"{where}: {exc}") from None
        missing = [k for k in ("name", "type", "value") if k not in data]
        if missing:
            raise ZoneError(f"{where}: missing key {missing[0]!r}")
        return self._add(
            _make_record(data["name"], data["type"], data["value"], data.get("ttl"), where)
        )

    def add_origin(self, origin: str) -> None:
        key = answerable_key(origin, what="origin") if isinstance(origin, str) else None
        if key is None:
            raise ZoneError(f"origin: expected a domain name, got {origin!r}")
        with self._lock:
            if key not in self._origins:
                self._origins.append(key)
                self._commit()

    def remove(self, name: str, rtype: str | None = None) -> int:
        """Remove a name's records (of one type, or all); returns how many went."""
        key = name_key(name)
        with self._lock:
            recs = self._records.get(key, [])
            keep = [r for r in recs if rtype is not None and r.type != rtype.upper()]
            removed = len(recs) - len(keep)
            if keep:
                self._records[key] = keep
            else:
                self._records.pop(key, None)
            if removed:
                self._commit()
            return removed

    def load_toml(self, path: str | Path) -> None:
        """Load a TOML zone file.

        Keys: ``ttl`` (default TTL), ``origins`` (list) or ``origin``, ``records`` (list
        of record spec strings) and ``[[record]]`` tables with name, type, value, ttl.
        The whole file is checked before anything is added.  Raises ZoneError naming
        the file (unreadable, invalid or too deeply nested TOML, bad keys or records).
        """
        path = Path(path)
        try:  # unreadable, not UTF-8 or invalid TOML: the one reading a plan gets too
            doc = parse_toml(read_text(path, "TOML"))
        except ValueError as exc:
            raise ZoneError(f"zone {path}: {exc}") from None
        allowed = ("ttl", "origin", "origins", "records", "record")
        unknown = [k for k in doc if k not in allowed]
        if unknown:
            raise ZoneError(
                f"zone {path}: unknown key {unknown[0]!r} (expected {', '.join(allowed)})"
            )
        ttl = _parse_ttl(doc["ttl"], f"zone {path}: ttl") if "ttl" in doc else None
        origins = doc.get("origins", [])
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise ZoneError(f"zone {path}: origins: expected a list of names")
        if "origin" in doc:
            if not isinstance(doc["origin"], str):
                raise ZoneError(f"zone {path}: origin: expected a name")
            origins = [doc["origin"], *origins]
        origin_keys = [name_key(o, what=f"zone {path}: origin") for o in origins]
        specs = doc.get("records", [])
        if not isinstance(specs, list):
            raise ZoneError(f"zone {path}: records: expected a list of record strings")
        parsed: list[_Record] = []
        for i, spec in enumerate(specs, 1):
            if not isinstance(spec, str):
                raise ZoneError(
                    f"zone {path}: records[{i}]: expected a record string, got {spec!r}"
                )
            try:
                parsed.append(parse_record(spec))
            except ZoneError as exc:
                raise ZoneError(f"zone {path}: records[{i}]: {exc}") from None
        tables = doc.get("record", [])
        if not isinstance(tables, list):
            raise ZoneError(f"zone {path}: 'record' must be an array of tables ([[record]])")
        for i, table in enumerate(tables, 1):
            where = f"zone {path}: [[record]] #{i}"
            if not isinstance(table, dict):
                raise ZoneError(f"{where}: expected a table")
            unknown = [k for k in table if k not in ("name", "type", "value", "ttl")]
            if unknown:
                raise ZoneError(
                    f"{where}: unknown key {unknown[0]!r} (expected name, type, value, ttl)"
                )
            missing = [k for k in ("name", "type", "value") if k not in table]
            if missing:
                raise ZoneError(f"{where}: missing key {missing[0]!r}")
            parsed.append(
                _make_record(table["name"], table["type"], table["value"], table.get("ttl"), where)
            )
        with self._lock:
            if ttl is not None:
                self._ttl = ttl
            known = [*self._origins, *(k for k in origin_keys if k not in self._origins)]
            for record in parsed:
                _check_inside(record, known, f"zone {path}")
            self._origins[:] = known
            for record in parsed:
                self._insert(record)
            self._commit()

    def _add(self, record: _Record) -> dict[str, Any]:
        with self._lock:
            _check_inside(record, self._origins, "record")
            self._insert(record)
            self._commit()
        ttl = self._ttl if record.ttl is None else record.ttl
        return {"name": record.name, "type": record.type, "value": record.value, "ttl": ttl}

    def _insert(self, record: _Record) -> None:
        recs = self._records.setdefault(record.name, [])
        others = [r for r in recs if r.type != "CNAME"]
        if (record.type == "CNAME" and others) or (recs and recs[0].type == "CNAME"):
            # A CNAME owns its name alone (RFC 1034 3.6.2); the newer record replaces.
            recs.clear()
        if not any(r.type == record.type and r.value == record.value for r in recs):
            recs.append(record)
        elif record.ttl is not None:
            recs[:] = [
                record if (r.type, r.value) == (record.type, record.value) else r for r in recs
            ]

    def _commit(self) -> None:
        self._snap = self._build()
        self.generation += 1

    def _build(self) -> _Snapshot:
        existing: set[str] = set()
        for key in [*self._records, *self._origins]:
            existing.update(_ancestors(key))
        origins = tuple(sorted(self._origins, key=len, reverse=True))
        records = {k: tuple(v) for k, v in self._records.items()}
        return _Snapshot(records, frozenset(existing), origins, self._ttl)

    # -- answering ----------------------------------------------------------------

    def resolve(self, qname: str, qtype: int, asked: DNSLabel | None = None) -> Resolution:
        """Answer ``qname`` (key form) / ``qtype`` from the zone, chasing CNAMEs inside it.

        ``asked`` is the question's name as it came off the wire: answers for the asked
        name use it, so the owner names echo the client's case.  CNAMEs are followed
        as RFC 1034 section 4.3.2 says, inside our origins only; a loop or a chain of
        more than 16 CNAMEs ends the chase with NOERROR and the CNAMEs so far (each
        once), never a hang or an endless answer.
        """
        snap = self._snap
        if snap.origins and self._origin_of(snap, qname) is None:
            return Resolution(RCODE.REFUSED, authoritative=False)
        owner = asked if asked is not None else _label(qname)
        answer: list[RR] = []
        name = qname
        seen = {qname}
        for _ in range(_MAX_CHASE + 1):
            recs, exists = self._lookup(snap, name)
            if not exists:
                return Resolution(RCODE.NXDOMAIN, tuple(answer), (self._soa(snap, name),))
            hits = [r for r in recs if qtype in (_ANY, _TYPE_CODE[r.type])]
            if hits:
                answer.extend(self._rr(snap, owner, r) for r in hits)
                return Resolution(RCODE.NOERROR, tuple(answer))
            if qtype == _SOA and name in snap.origins:
                # An origin without an explicit SOA still has one: the synthesized SOA.
                soa = self._soa(snap, name)
                answer.append(RR(owner, _SOA, ttl=soa.ttl, rdata=soa.rdata))
                return Resolution(RCODE.NOERROR, tuple(answer))
            cname = next((r for r in recs if r.type == "CNAME"), None)
            if cname is None or cname.target is None:
                return Resolution(RCODE.NOERROR, tuple(answer), (self._soa(snap, name),))
            answer.append(self._rr(snap, owner, cname))
            name = cname.target
            owner = _label(name)
            if snap.origins and self._origin_of(snap, name) is None:
                # The target is someone else's: the client's resolver chases it, we don't.
                return Resolution(RCODE.NOERROR, tuple(answer))
            if name in seen:
                break  # a loop: every CNAME of it is in the answer once
            seen.add(name)
        # A loop, or a chain longer than _MAX_CHASE: answer with what we have.
        return Resolution(RCODE.NOERROR, tuple(answer))

    def soa_for(self, qname: str) -> RR:
        """The SOA to put in the authority section of a negative answer for ``qname``."""
        return self._soa(self._snap, qname)

    @staticmethod
    def _origin_of(snap: _Snapshot, key: str) -> str | None:
        for origin in snap.origins:
            if key == origin or not origin or key.endswith("." + origin):
                return origin
        return None

    @staticmethod
    def _lookup(snap: _Snapshot, key: str) -> tuple[tuple[_Record, ...], bool]:
        """(records, exists) for ``key``, synthesizing from a wildcard per RFC 4592.

        The wildcard that applies is ``*.`` + the closest existing ancestor (the closest
        encloser), and only when the name itself does not exist (an empty non-terminal
        exists: NODATA).  A wildcard owner that is itself an empty non-terminal (say
        only ``f.*.e.test`` exists) still exists, so the name exists with no records:
        NODATA, not NXDOMAIN (RFC 4592 section 4.9).
        """
        recs = snap.records.get(key)
        if recs is not None or key in snap.existing:
            return recs or (), True
        if not key:
            return (), False
        for ancestor in _ancestors(_parent(key)):
            if ancestor in snap.existing:
                wild = "*." + ancestor if ancestor else "*"
                if wild in snap.existing:
                    return snap.records.get(wild, ()), True
                return (), False
        return (), False

    def _soa(self, snap: _Snapshot, key: str) -> RR:
        if snap.origins:
            apex = self._origin_of(snap, key) or ""
        else:
            # Authoritative for everything: the closest explicit SOA, else the parent.
            apex = next(
                (
                    a
                    for a in _ancestors(key)
                    if any(r.type == "SOA" for r in snap.records.get(a, ()))
                ),
                _parent(key),
            )
        explicit = next((r for r in snap.records.get(apex, ()) if r.type == "SOA"), None)
        if explicit is not None:
            minimum = explicit.rdata.times[4]
            ttl = snap.ttl if explicit.ttl is None else explicit.ttl
            return RR(_label(apex), _SOA, ttl=min(ttl, minimum), rdata=explicit.rdata)
        rdata = SOA(_SOA_MNAME, _SOA_RNAME, (*_SOA_TIMES, snap.ttl))
        return RR(_label(apex), _SOA, ttl=snap.ttl, rdata=rdata)

    def _rr(self, snap: _Snapshot, owner: DNSLabel, record: _Record) -> RR:
        ttl = snap.ttl if record.ttl is None else record.ttl
        return RR(owner, _TYPE_CODE[record.type], ttl=ttl, rdata=record.rdata)

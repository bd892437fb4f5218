"""DNS wire format for faultdns: decoding questions and building replies (with dnslib).

This is the server's *cold* path: it runs once per distinct query (the server caches
the packed reply and patches the 2-byte ID for repeats) and for anything unusual.  It
never raises on bad input: :func:`decode` turns every malformed message into either a
ready FORMERR/NOTIMP/REFUSED reply or "drop" (when not even the 12-byte header can be
read, or the message is itself a response: answering responses invites loops).
"""

from __future__ import annotations

from dataclasses import dataclass

from dnslib import AAAA, EDNS0, QTYPE, RCODE, RR, A, DNSHeader, DNSQuestion, DNSRecord

from faultdns._faults import FaultRule
from faultdns._zone import Resolution, Zone, wire_name_key

__all__ = [
    "EDNS_PAYLOAD",
    "Query",
    "WireError",
    "decode",
    "fault_reply",
    "fit_udp",
    "rcode_name",
    "zone_reply",
]

# What we advertise in our OPT record: the DNS Flag Day 2020 size, safe from fragmentation.
EDNS_PAYLOAD = 1232
PLAIN_UDP_LIMIT = 512
MAX_UDP_LIMIT = 65507
_OPT = QTYPE.OPT
_IN, _ANY_CLASS = 1, 255

_RCODE_NAMES = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    16: "BADVERS",
}


def rcode_name(rcode: int) -> str:
    return _RCODE_NAMES.get(rcode) or RCODE.get(rcode, f"RCODE{rcode}")


@dataclass(frozen=True, slots=True)
class Query:
    """A well-formed standard query, decoded once."""

    record: DNSRecord
    name: str  # as asked (case preserved), without trailing dot
    key: str  # lower-case lookup key
    qtype: int
    qtype_name: str
    edns: bool
    udp_limit: int  # largest UDP reply the client accepts


class WireError(Exception):
    """A message we will not answer normally: ``reply`` is sent (if any) as is."""

    def __init__(self, reply: bytes | None, rcode: str, reason: str) -> None:
        super().__init__(reason)
        self.reply = reply
        self.rcode = rcode


def _header_reply(data: bytes, rcode: int) -> bytes:
    """A bare reply built from the 12-byte header only: same ID, opcode and RD."""
    return data[:2] + bytes(((data[2] & 0x79) | 0x80, rcode & 0x0F)) + bytes(8)


def decode(data: bytes) -> Query:
    """Decode one query or raise :class:`WireError` saying what to send back."""
    if len(data) < 12:
        raise WireError(None, "drop", f"{len(data)} bytes: shorter than a DNS header")
    if data[2] & 0x80:
        raise WireError(None, "drop", "QR bit set: a response, not a query")
    opcode = (data[2] >> 3) & 0x0F
    if opcode != 0:
        raise WireError(_header_reply(data, RCODE.NOTIMP), "NOTIMP", f"opcode {opcode}")
    try:
        record = DNSRecord.parse(data)
    except Exception as exc:  # dnslib raises several types on malformed input
        raise WireError(_header_reply(data, RCODE.FORMERR), "FORMERR", str(exc)) from None
    if len(record.questions) != 1:
        raise WireError(
            _header_reply(data, RCODE.FORMERR), "FORMERR", f"{len(record.questions)} questions"
        )
    question: DNSQuestion = record.q
    labels = question.qname.label
    name = ".".join(label.decode("ascii", "backslashreplace") for label in labels)
    key = wire_name_key(labels)
    edns = False
    limit = PLAIN_UDP_LIMIT
    for rr in record.ar:
        if rr.rtype == _OPT:
            edns = True
            limit = min(max(rr.rclass, PLAIN_UDP_LIMIT), MAX_UDP_LIMIT)
            version = (rr.ttl >> 16) & 0xFF
            if version != 0:
                reply = _reply(record, RCODE.NOERROR, aa=False, edns=True)
                reply.ar[-1].ttl = 1 << 24  # extended rcode 16 (BADVERS), version 0
                raise WireError(_pack(reply, data), "BADVERS", f"EDNS version {version}")
    qtype = question.qtype
    query = Query(record, name, key, qtype, QTYPE.get(qtype, f"TYPE{qtype}"), edns, limit)
    if question.qclass not in (_IN, _ANY_CLASS):
        reply = _pack(_reply(record, RCODE.REFUSED, aa=False, edns=edns), data)
        raise WireError(reply, "REFUSED", f"class {question.qclass}")
    return query


def _reply(record: DNSRecord, rcode: int, *, aa: bool, edns: bool) -> DNSRecord:
    header = DNSHeader(
        id=record.header.id, qr=1, aa=int(aa), rd=record.header.rd, ra=0, rcode=rcode
    )
    reply = DNSRecord(header, q=record.q)
    if edns:
        reply.add_ar(EDNS0(udp_len=EDNS_PAYLOAD))
    return reply


def _pack(reply: DNSRecord, data: bytes) -> bytes:
    try:
        packed = bytes(reply.pack())  # dnslib gives a bytearray; replies must not change
    except Exception:  # e.g. a name dnslib parsed but cannot compress back
        return _header_reply(data, RCODE.SERVFAIL)
    return packed


def zone_reply(query: Query, resolution: Resolution) -> bytes:
    """The full (untruncated) reply the zone gives."""
    reply = _reply(query.record, resolution.rcode, aa=resolution.authoritative, edns=query.edns)
    reply.rr = list(resolution.answer)
    reply.auth = list(resolution.authority)
    return _pack(reply, query.record.header.id.to_bytes(2, "big") + bytes(10))


def truncated(query: Query) -> bytes:
    """TC set, question only: tells the client to ask again over TCP."""
    reply = _reply(query.record, RCODE.NOERROR, aa=True, edns=query.edns)
    reply.header.tc = 1
    return _pack(reply, query.record.header.id.to_bytes(2, "big") + bytes(10))


def fit_udp(query: Query, packed: bytes) -> bytes:
    """``packed`` if it fits the client's UDP limit (512 without EDNS), else a TC reply."""
    return packed if len(packed) <= query.udp_limit else truncated(query)


def fault_reply(query: Query, rule: FaultRule, zone: Zone) -> tuple[bytes, str]:
    """The reply (full size) and its rcode name for a rule that changes the answer."""
    action = rule.action
    if action == "truncate":
        return truncated(query), "NOERROR"
    if action in ("nxdomain", "nodata"):
        rcode = RCODE.NXDOMAIN if action == "nxdomain" else RCODE.NOERROR
        reply = _reply(query.record, rcode, aa=True, edns=query.edns)
        reply.auth = [zone.soa_for(query.key)]
    elif action in ("servfail", "refused"):
        rcode = RCODE.SERVFAIL if action == "servfail" else RCODE.REFUSED
        reply = _reply(query.record, rcode, aa=False, edns=query.edns)
    elif action == "answer":
        assert rule.answer is not None
        rcode = RCODE.NOERROR
        reply = _reply(query.record, rcode, aa=True, edns=query.edns)
        rdata = AAAA(rule.answer) if ":" in rule.answer else A(rule.answer)
        reply.rr = [RR(query.record.q.qname, query.qtype, ttl=zone.ttl, rdata=rdata)]
    else:
        raise ValueError(f"action {action!r} does not build a reply")
    return _pack(reply, query.record.header.id.to_bytes(2, "big") + bytes(10)), rcode_name(rcode)

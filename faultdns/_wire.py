"""DNS wire format for faultdns: decoding questions and building replies (with dnslib).

This is the server's *cold* path: it runs once per distinct query (the server caches
the packed reply and patches the 2-byte ID for repeats) and for anything unusual.  It
never raises on bad input: :func:`decode` turns every malformed message into either a
ready FORMERR/NOTIMP/REFUSED reply or "drop" (when not even the 12-byte header can be
read, or the message is itself a response: answering responses invites loops).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dnslib import AAAA, EDNS0, QTYPE, RCODE, RR, A, DNSHeader, DNSQuestion, DNSRecord
from dnslib.bimap import BimapError
from dnslib.buffer import BufferError
from dnslib.dns import DNSBuffer

from faultdns._faults import FaultRule, rcode_name
from faultdns._zone import Resolution, Zone, wire_name_key

__all__ = [
    "EDNS_PAYLOAD",
    "Query",
    "WireError",
    "cut_reply",
    "decode",
    "fault_reply",
    "fit_tcp",
    "fit_udp",
    "zone_reply",
]

# What we advertise in our OPT record: the DNS Flag Day 2020 size, safe from fragmentation.
EDNS_PAYLOAD = 1232
PLAIN_UDP_LIMIT = 512
MAX_UDP_LIMIT = 65507
MAX_TCP_MESSAGE = 65535  # the 2-byte length prefix's limit (RFC 1035 section 4.2.2)
_OPT = QTYPE.OPT
_IN, _ANY_CLASS = 1, 255
_BADVERS = 16
_DO = 0x8000  # the DO bit in an OPT record's TTL field (RFC 3225)


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
    """A bare reply built from the 12-byte header only: same ID, opcode, RD and CD."""
    return data[:2] + bytes(((data[2] & 0x79) | 0x80, (data[3] & 0x10) | (rcode & 0x0F))) + bytes(8)


def _parse(data: bytes) -> DNSRecord:
    """dnslib's DNSRecord.parse, also refusing bytes after the last record.

    Raises ValueError (dnslib's DNSError is one) for anything RFC 1035 section 4.1
    does not describe: counts that run past the data, bad names or RDATA, or
    trailing bytes (which dnslib would silently ignore).
    """
    buffer = DNSBuffer(data)
    try:
        header = DNSHeader.parse(buffer)
        questions = [DNSQuestion.parse(buffer) for _ in range(header.q)]
        sections = [
            [RR.parse(buffer) for _ in range(n)] for n in (header.a, header.auth, header.ar)
        ]
    except (BufferError, BimapError) as exc:
        raise ValueError(f"malformed at byte {buffer.offset}: {exc}") from None
    if buffer.remaining():
        raise ValueError(f"{buffer.remaining()} bytes after the last record")
    return DNSRecord(header, questions, sections[0], auth=sections[1], ar=sections[2])


def _opt_error(record: DNSRecord) -> str | None:
    """Why the message's OPT records break RFC 6891 section 6.1.1, or None."""
    if any(rr.rtype == _OPT for rr in (*record.rr, *record.auth)):
        return "OPT record outside the additional section"
    opts = [rr for rr in record.ar if rr.rtype == _OPT]
    if len(opts) > 1:
        return f"{len(opts)} OPT records"
    if opts and opts[0].rname.label:
        return f"OPT owner {opts[0].rname} is not the root"
    return None


def decode(data: bytes) -> Query:
    """Decode one query or raise :class:`WireError` saying what to send back.

    The header and EDNS rules applied, in this order, each with its source and test,
    are the README's conformance table (faultdns section): no reply to a message
    shorter than a header or with QR set; FORMERR for a malformed message or broken
    OPT records (RFC 6891 6.1.1); NOTIMP for an opcode other than QUERY; FORMERR
    unless there is exactly one question; BADVERS for EDNS version > 0 (RFC 6891
    6.1.3); REFUSED for a class other than IN or ANY.  Error replies echo ID,
    opcode, RD, CD and the question, with an OPT record when the query had a valid
    one (RFC 6891 section 7).
    """
    if len(data) < 12:
        raise WireError(None, "drop", f"{len(data)} bytes: shorter than a DNS header")
    if data[2] & 0x80:
        raise WireError(None, "drop", "QR bit set: a response, not a query")
    try:
        record = _parse(data)
    except Exception as exc:  # dnslib raises several types on malformed input
        raise WireError(_header_reply(data, RCODE.FORMERR), "FORMERR", str(exc)) from None
    opt_error = _opt_error(record)
    if opt_error is not None:
        raise WireError(_header_reply(data, RCODE.FORMERR), "FORMERR", opt_error)
    opt = next((rr for rr in record.ar if rr.rtype == _OPT), None)
    edns = opt is not None
    opcode = record.header.opcode
    if opcode != 0:
        reply = _reply(
            record, RCODE.NOTIMP, aa=False, edns=edns, question=len(record.questions) == 1
        )
        raise WireError(_pack(reply, data), "NOTIMP", f"opcode {opcode}")
    if len(record.questions) != 1:
        reply = _reply(record, RCODE.FORMERR, aa=False, edns=edns, question=False)
        raise WireError(_pack(reply, data), "FORMERR", f"{len(record.questions)} questions")
    limit = PLAIN_UDP_LIMIT
    if opt is not None:
        limit = min(max(opt.rclass, PLAIN_UDP_LIMIT), MAX_UDP_LIMIT)
        version = (opt.ttl >> 16) & 0xFF
        if version != 0:
            reply = _reply(record, _BADVERS, aa=False, edns=True)
            raise WireError(_pack(reply, data), "BADVERS", f"EDNS version {version}")
    question: DNSQuestion = record.q
    labels = question.qname.label
    name = ".".join(label.decode("ascii", "backslashreplace") for label in labels)
    key = wire_name_key(labels)
    qtype = question.qtype
    query = Query(record, name, key, qtype, QTYPE.get(qtype, f"TYPE{qtype}"), edns, limit)
    if question.qclass not in (_IN, _ANY_CLASS):
        reply = _pack(_reply(record, RCODE.REFUSED, aa=False, edns=edns), data)
        raise WireError(reply, "REFUSED", f"class {question.qclass}")
    return query


def _reply(
    record: DNSRecord,
    rcode: int,
    *,
    aa: bool,
    edns: bool,
    tc: bool = False,
    question: bool = True,
) -> DNSRecord:
    """A reply header, the question and (when due) an OPT record.

    The header echoes ID, opcode and RD (RFC 1035 section 4.1.1) and CD (RFC 4035
    section 3.1.6 / RFC 6840 section 5.9); RA, Z and AD are always clear (we never
    recurse or validate).  ``rcode`` may be up to 4095: the header carries its low 4
    bits and an OPT record its upper 8 (EXTENDED-RCODE, RFC 6891 section 6.1.3), so
    an rcode above 15 adds the OPT record even when ``edns`` is false.  The OPT
    record copies the query's DO bit (RFC 3225 section 3) and carries no options.
    """
    query_header = record.header
    header = DNSHeader(
        id=query_header.id,
        qr=1,
        opcode=query_header.opcode,
        aa=int(aa),
        tc=int(tc),
        rd=query_header.rd,
        ra=0,
        cd=query_header.cd,
        rcode=rcode & 0x0F,
    )
    reply = DNSRecord(header, q=record.q) if question and record.questions else DNSRecord(header)
    if edns or rcode > 0x0F:
        opt = next((rr for rr in record.ar if rr.rtype == _OPT), None)
        flags = "do" if opt is not None and opt.ttl & _DO else ""
        reply.add_ar(EDNS0(ext_rcode=rcode >> 4, udp_len=EDNS_PAYLOAD, flags=flags))
    return reply


def _pack(reply: DNSRecord, data: bytes) -> bytes:
    try:
        packed = bytes(reply.pack())  # dnslib gives a bytearray; replies must not change
    except Exception:  # e.g. a name dnslib parsed but cannot compress back
        return _header_reply(data, RCODE.SERVFAIL)
    return packed


def zone_reply(query: Query, resolution: Resolution, *, tc: bool = False) -> bytes:
    """The full (untruncated) reply the zone gives; ``tc`` sets the TC bit in it."""
    return _zone_reply(query, resolution, len(resolution.answer) + len(resolution.authority), tc)


def _zone_reply(query: Query, resolution: Resolution, keep: int, tc: bool) -> bytes:
    """The zone's reply with only its first ``keep`` records (answer, then authority)."""
    reply = _reply(
        query.record, resolution.rcode, aa=resolution.authoritative, edns=query.edns, tc=tc
    )
    records = [*resolution.answer, *resolution.authority][:keep]
    reply.rr = records[: len(resolution.answer)]
    reply.auth = records[len(resolution.answer) :]
    return _pack(reply, query.record.header.id.to_bytes(2, "big") + bytes(10))


def fit_tcp(query: Query, resolution: Resolution, packed: bytes) -> bytes:
    """``packed`` if it fits a TCP message (65,535 bytes), else what fits, with TC set.

    A TCP message's length is a 16-bit field (RFC 1035 section 4.2.2), so a larger
    reply cannot be sent at all.  RFC 2181 section 9 says a reply that cannot hold all
    its records sets TC and carries the records that fit: the longest prefix of the
    answer-then-authority records whose reply fits (found by bisection: O(n log n)
    packing for n records), possibly none but the question.
    """
    if len(packed) <= MAX_TCP_MESSAGE:
        return packed
    lo, hi = 0, len(resolution.answer) + len(resolution.authority) - 1
    best = _zone_reply(query, resolution, 0, True)
    while lo <= hi:  # best: the most records found to fit; the answer is in [lo, hi]
        mid = (lo + hi + 1) // 2
        candidate = _zone_reply(query, resolution, mid, True)
        if len(candidate) <= MAX_TCP_MESSAGE:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best


def truncated(query: Query) -> bytes:
    """TC set, question only: tells the client to ask again over TCP."""
    reply = _reply(query.record, RCODE.NOERROR, aa=True, edns=query.edns, tc=True)
    return _pack(reply, query.record.header.id.to_bytes(2, "big") + bytes(10))


def fit_udp(query: Query, packed: bytes) -> bytes:
    """``packed`` if it fits the client's UDP limit (512 without EDNS), else a TC reply."""
    return packed if len(packed) <= query.udp_limit else truncated(query)


def cut_reply(query: Query, zone: Zone, size: int) -> tuple[bytes, str]:
    """The zone's real reply with TC set, cut to its first ``size`` bytes, and its rcode.

    What a middlebox that truncates without re-encoding sends: the header still counts
    every record, and the cut usually falls inside one.  A reply no longer than ``size``
    is sent whole (with TC).  dnslib builds the message; only the cut is ours.
    """
    resolution = zone.resolve(query.key, query.qtype, query.record.q.qname)
    return zone_reply(query, resolution, tc=True)[:size], rcode_name(resolution.rcode)


def mismatched(reply: bytes, field_: str, value: int | None = None) -> bytes:
    """``reply`` (a whole DNS message) with ``field_`` not the query's.

    ``field_`` is one of :data:`faultdns._faults.MISMATCH_FIELDS`: the header ID
    (bytes 0-1), the header's QDCOUNT (bytes 4-5, RFC 1035 section 4.1.1: without
    ``value`` 1 becomes 0, with it the count is ``value``, 0..65535; the bytes after
    the header are left as they are, so a count above 1 makes the client read the next
    section's first bytes, or the end of the message, as further questions), or in the
    question (from byte 12, uncompressed as dnslib packs it) the
    first byte of the first label (``name``: a flip of bit 0 survives ASCII case
    folding), QTYPE or QCLASS.  Without ``value`` the field's lowest bit is flipped
    (QCLASS IN becomes 0); with it (``type``, ``class`` and ``qdcount``, 0..65535)
    QDCOUNT, QTYPE or QCLASS is set to it (``mismatch=class:CH``: a class above IN),
    which is the query's own when the query asked it.  A reply without a question, or
    ``name`` of the root, has nothing to alter there and is returned as it is.
    """
    out = bytearray(reply)
    if field_ == "id":
        out[1] ^= 1
        return bytes(out)
    if field_ == "qdcount":
        if len(out) >= 6:
            if value is None:
                out[5] ^= 1
            else:
                out[4:6] = value.to_bytes(2, "big")
        return bytes(out)
    if len(out) < 12 or int.from_bytes(out[4:6], "big") == 0:
        return reply
    if field_ == "name":
        if len(out) > 13 and out[12]:
            out[13] ^= 1
        return bytes(out)
    i = 12
    while i < len(out) and out[i]:  # the uncompressed QNAME's labels
        i += out[i] + 1
    i += 1 if field_ == "type" else 3  # past the root label: QTYPE, or QCLASS
    if value is not None:
        if i + 2 <= len(out):
            out[i : i + 2] = value.to_bytes(2, "big")
    elif i + 1 < len(out):
        out[i + 1] ^= 1  # the low byte
    return bytes(out)


def fault_reply(query: Query, rule: FaultRule, zone: Zone) -> tuple[bytes, bytes, str]:
    """The UDP reply, the TCP reply and the rcode name for a rule that changes the answer.

    The UDP reply is fitted to the client's UDP limit (a TC reply if too big), except
    ``truncate=N``'s cut, which is N bytes whatever the client's limit, as a middlebox
    sends it.  ``rcode=`` replies carry an OPT record whenever the rcode is above 15.
    A rule's ``qdcount=N`` then sets both replies' QDCOUNT to N (:func:`mismatched`'s
    ``qdcount``), whatever the action built.
    What a Go client reports for each action: ``ACTION_HELP`` in :mod:`faultdns._faults`
    (printed by ``faultdns --help``) and the README's fault table.
    """
    udp, tcp, rcode = _built_reply(query, rule, zone)
    if rule.qdcount is not None:
        udp = mismatched(udp, "qdcount", rule.qdcount)
        tcp = mismatched(tcp, "qdcount", rule.qdcount)
    return udp, tcp, rcode


def _built_reply(query: Query, rule: FaultRule, zone: Zone) -> tuple[bytes, bytes, str]:
    """:func:`fault_reply` before ``qdcount=``: the replies the rule's action builds."""
    action = rule.action
    if action == "mismatch":
        # Go's checkResponse: a reply whose question is not the query's is not ours.
        # The ID is the caller's to alter (faultdns._answer.fire): replies here start
        # with the ID the cache drops.
        resolution = zone.resolve(query.key, query.qtype, query.record.q.qname)
        full = zone_reply(query, resolution)
        udp, tcp = fit_udp(query, full), fit_tcp(query, resolution, full)
        field_ = rule.mismatch
        assert field_ is not None
        return (
            mismatched(udp, field_, rule.mismatch_to),
            mismatched(tcp, field_, rule.mismatch_to),
            rcode_name(resolution.rcode),
        )
    if action in ("truncate", "tcponly"):
        if rule.truncate is not None:
            cut, rcode_text = cut_reply(query, zone, rule.truncate)
            return cut, cut, rcode_text
        reply_tc = truncated(query)
        return reply_tc, reply_tc, "NOERROR"
    if action == "noedns":
        # A server that predates EDNS (RFC 6891 section 7): it answers from the zone but
        # never echoes OPT, and holds UDP replies to 512 bytes (RFC 1035 section 4.2.1).
        # Go's checkHeader then sees no additional record: such a reply is lame only
        # when it also lacks AA, RA and an answer, which the zone's replies never do.
        plain = dataclasses.replace(query, edns=False, udp_limit=PLAIN_UDP_LIMIT)
        resolution = zone.resolve(query.key, query.qtype, query.record.q.qname)
        full = zone_reply(plain, resolution)
        return fit_udp(plain, full), fit_tcp(plain, resolution, full), rcode_name(resolution.rcode)
    if action == "lame":
        # A lame referral as Go's checkHeader sees it: NOERROR, no AA, no RA, and no
        # record in any section (not even OPT, whose presence makes it not lame).
        reply = _reply(query.record, RCODE.NOERROR, aa=False, edns=False)
        rcode = RCODE.NOERROR
    elif action == "rcode":
        assert rule.rcode is not None
        rcode = rule.rcode
        # AA as an authoritative server sets it: on NOERROR and NXDOMAIN answers (like
        # nodata/nxdomain), not on errors (like servfail/refused).
        reply = _reply(query.record, rcode, aa=rcode in (0, 3), edns=query.edns)
    elif action in ("nxdomain", "nodata"):
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
    full = _pack(reply, query.record.header.id.to_bytes(2, "big") + bytes(10))
    return fit_udp(query, full), full, rcode_name(rcode)

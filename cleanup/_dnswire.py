"""Go 1.23's DNS messages on the wire, pure: building a query, reading a reply.

The message layer of the stub resolver's rules (:mod:`cleanup._dnsrules`): what Go's
``vendor/golang.org/x/net/dns/dnsmessage`` does for the pure-Go resolver.  A name goes on
the wire only as ``Name.pack`` allows (:func:`encode_name`); a query is built as
``newRequest`` builds it (:func:`build_query`, with the OPT record Go adds); a reply is
read section by section as dnsmessage's ``Parser`` reads it (:class:`Parser`: a record
it cannot read ends its section with an error, compression pointers are followed as Go
follows them), its header and question checked as ``exchange`` checks them
(:func:`read_head`, :func:`matches`), its extended rcode taken from the OPT record as
``extractExtendedRCode`` takes it and its addresses read as ``goLookupIPCNAME``'s answer
loop reads them.  What a reply *means* (NXDOMAIN, lame, SERVFAIL ...) is judged in
:func:`cleanup._dnsrules.judge_reply`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import struct
from dataclasses import dataclass

__all__ = [
    "CANNOT_MARSHAL",
    "EDNS_PAYLOAD",
    "QTYPE_A",
    "QTYPE_AAAA",
    "QTYPE_CNAME",
    "QTYPE_OPT",
    "NotStarted",
    "Parser",
    "ReplyHead",
    "SectionDone",
    "WireError",
    "answer_addresses",
    "build_query",
    "encode_name",
    "extended_rcode",
    "head_of",
    "matches",
    "read_head",
]

#: what Go advertises in its OPT record (``maxDNSPacketSize``, dnsflagday.net/2020)
EDNS_PAYLOAD = 1232
QTYPE_A = 1
QTYPE_AAAA = 28
QTYPE_CNAME = 5
QTYPE_OPT = 41
#: Go's text for a name ``Name.pack`` refuses (a label over 63 bytes, an empty label)
CANNOT_MARSHAL = "cannot marshal DNS message"


def encode_name(fqdn: str) -> bytes | None:
    """dnsmessage ``Name.pack`` without compression; None when Go cannot marshal it.

    Go refuses a name over 254 bytes, one without the trailing dot, an empty label
    (``a..b.``) and a label of 64 bytes or more.  It checks nothing else: any byte but
    ``.`` may stand in a label.
    """
    raw = fqdn.encode("utf-8", "surrogatepass")
    if len(raw) > 254 or not raw.endswith(b"."):
        return None
    if raw == b".":
        return b"\x00"
    out = bytearray()
    for label in raw[:-1].split(b"."):
        if not label or len(label) >= 64:
            return None
        out.append(len(label))
        out += label
    out.append(0)
    return bytes(out)


def build_query(qid: int, fqdn: str, qtype: int, *, edns: bool = True, ad: bool = False) -> bytes:
    """Go ``newRequest``: the UDP form of the query (TCP adds a 2-byte length).

    Header with RD (and AD with ``trust-ad``), one question of class IN, and an OPT
    record advertising :data:`EDNS_PAYLOAD` bytes.  Raises ``ValueError`` when the name
    cannot be marshalled (see :func:`encode_name`).
    """
    wire_name = encode_name(fqdn)
    if wire_name is None:
        raise ValueError(f"{CANNOT_MARSHAL}: {fqdn!r}")
    flags = 0x0100 | (0x0020 if ad else 0)
    header = struct.pack("!HHHHHH", qid & 0xFFFF, flags, 1, 0, 0, 1 if edns else 0)
    question = wire_name + struct.pack("!HH", qtype, 1)
    opt = b"\x00" + struct.pack("!HHIH", QTYPE_OPT, EDNS_PAYLOAD, 0, 0) if edns else b""
    return header + question + opt


class WireError(Exception):
    """A message dnsmessage's parser would not accept."""


class SectionDone(Exception):
    """dnsmessage ``ErrSectionDone``: no more records in the section."""


class NotStarted(Exception):
    """dnsmessage ``ErrNotStarted``: a section asked for before the previous ended."""


def _u16(msg: bytes, off: int) -> int:
    if off + 2 > len(msg):
        raise WireError("insufficient data for base length type")
    return int(msg[off]) << 8 | msg[off + 1]


def _walk_name(msg: bytes, off: int, *, read: bool) -> tuple[bytes, int]:
    """One walk over a wire name at ``off``: (presentation name, offset after it).

    ``read=True`` is dnsmessage ``Name.unpack``: pointers are followed (at most 10), a
    label may not hold ``.``, and the name may not be longer than 254.  ``read=False``
    is ``skipName``: labels are only counted, and the walk ends at the first pointer
    without following it (the name returned is then ``b""``).  Raises ``WireError``
    with dnsmessage's text.
    """
    cur = off
    new_off = off
    pointers = 0
    name = bytearray()
    while True:
        if cur >= len(msg):
            raise WireError("insufficient data for base length type")
        c = msg[cur]
        cur += 1
        kind = c & 0xC0
        if kind == 0x00:
            if c == 0:
                break
            end = cur + c
            if end > len(msg):
                raise WireError("insufficient data for calculated length type")
            if read:
                if b"." in msg[cur:end]:
                    raise WireError("invalid name")
                name += msg[cur:end] + b"."
            cur = end
        elif kind == 0xC0:
            if not read:
                return b"", cur + 1  # skipName: a pointer ends the name
            if cur >= len(msg):
                raise WireError("invalid pointer")
            c1 = msg[cur]
            cur += 1
            if pointers == 0:
                new_off = cur
            pointers += 1
            if pointers > 10:
                raise WireError("too many pointers (>10)")
            cur = (c ^ 0xC0) << 8 | c1
        else:
            raise WireError("segment prefix is reserved")
    if not read:
        return b"", cur
    if not name:
        name = bytearray(b".")
    if len(name) > 254:
        raise WireError("name too long")
    if pointers == 0:
        new_off = cur
    return bytes(name), new_off


def _read_name(msg: bytes, off: int) -> tuple[bytes, int]:
    """dnsmessage ``Name.unpack``: (presentation name, offset after it)."""
    return _walk_name(msg, off, read=True)


def _skip_name(msg: bytes, off: int) -> int:
    """dnsmessage ``skipName``: the offset after the name."""
    return _walk_name(msg, off, read=False)[1]


@dataclass(frozen=True)
class _RRHeader:
    rtype: int
    rclass: int
    ttl: int
    length: int


class Parser:
    """dnsmessage ``Parser``, the parts the resolver uses, with its section state.

    Faithful where it matters for verdicts: a message is read lazily, so a reply cut
    in the middle of a record still yields its header and question, and a record
    header stays valid until its body is read or skipped.
    """

    _QUESTIONS, _ANSWERS, _AUTHORITIES, _ADDITIONALS, _DONE = range(1, 6)

    def __init__(self, msg: bytes) -> None:
        if len(msg) < 12:
            raise WireError("unpacking header")
        self.msg = bytes(msg)
        (self.id, self.bits, qd, an, ns, ar) = struct.unpack("!HHHHHH", msg[:12])
        self.counts = {self._QUESTIONS: qd, self._ANSWERS: an, self._AUTHORITIES: ns}
        self.counts[self._ADDITIONALS] = ar
        self.section = self._QUESTIONS
        self.off = 12
        self.index = 0
        self.hdr_valid = False
        self.hdr_offset = 0
        self.hdr: _RRHeader | None = None

    def copy(self) -> Parser:
        twin = Parser.__new__(Parser)
        twin.__dict__.update(self.__dict__)
        twin.counts = dict(self.counts)
        return twin

    def _advance(self, sec: int) -> None:
        if self.section < sec:
            raise NotStarted
        if self.section > sec:
            raise SectionDone
        self.hdr_valid = False
        if self.index == self.counts[sec]:
            self.index = 0
            self.section += 1
            raise SectionDone

    def question(self) -> tuple[bytes, int, int]:
        self._advance(self._QUESTIONS)
        name, off = _read_name(self.msg, self.off)
        qtype = _u16(self.msg, off)
        qclass = _u16(self.msg, off + 2)
        self.off = off + 4
        self.index += 1
        return name, qtype, qclass

    def skip_question(self) -> None:
        self._advance(self._QUESTIONS)
        off = _skip_name(self.msg, self.off)
        _u16(self.msg, off)
        _u16(self.msg, off + 2)
        self.off = off + 4
        self.index += 1

    def header(self, sec: int) -> _RRHeader:
        if self.hdr_valid:
            self.off = self.hdr_offset
        self._advance(sec)
        _name, off = _read_name(self.msg, self.off)
        rtype = _u16(self.msg, off)
        rclass = _u16(self.msg, off + 2)
        _u16(self.msg, off + 4)
        _u16(self.msg, off + 6)
        ttl = int.from_bytes(self.msg[off + 4 : off + 8], "big")
        length = _u16(self.msg, off + 8)
        self.hdr_valid = True
        self.hdr_offset = self.off
        self.hdr = _RRHeader(rtype, rclass, ttl, length)
        self.off = off + 10
        return self.hdr

    def skip(self, sec: int) -> None:
        if self.hdr_valid and self.section == sec and self.hdr is not None:
            new_off = self.off + self.hdr.length
            if new_off > len(self.msg):
                raise WireError("insufficient data for resource body length")
            self.off = new_off
            self.hdr_valid = False
            self.index += 1
            return
        self._advance(sec)
        off = _skip_name(self.msg, self.off)
        for width in (2, 2, 2, 2):  # type, class, TTL (two halves)
            _u16(self.msg, off)
            off += width
        length = _u16(self.msg, off)
        off += 2 + length
        if off > len(self.msg):
            raise WireError("insufficient data for resource body length")
        self.off = off
        self.index += 1

    def skip_all(self, sec: int) -> None:
        while True:
            try:
                self.skip(sec)
            except SectionDone:
                return

    def body(self, width: int) -> bytes:
        """``AResource``/``AAAAResource``: ``width`` bytes at the body, then the next."""
        assert self.hdr is not None and self.hdr_valid
        if self.off + width > len(self.msg):
            raise WireError("insufficient data for base length type")
        data = self.msg[self.off : self.off + width]
        self.off += self.hdr.length
        self.hdr_valid = False
        self.index += 1
        return data

    def cname(self) -> None:
        """``CNAMEResource``: the target must unpack; we only need to step over it."""
        assert self.hdr is not None and self.hdr_valid
        _read_name(self.msg, self.off)
        self.off += self.hdr.length
        self.hdr_valid = False
        self.index += 1


@dataclass(frozen=True)
class ReplyHead:
    """A message's header and first question (what Go reads before matching it)."""

    id: int
    response: bool
    truncated: bool
    authoritative: bool
    recursion_available: bool
    rcode: int
    qname: bytes
    qtype: int
    qclass: int


def read_head(data: bytes) -> ReplyHead | None:
    """dnsmessage ``Start`` + ``Question``: None when either fails.

    Over UDP such a message is ignored and the wait goes on (Go
    ``dnsPacketRoundTrip``, golang.org/issue/13281); over TCP it is "cannot unmarshal
    DNS message".
    """
    try:
        parser = Parser(data)
        question = parser.question()
    except (WireError, SectionDone, NotStarted):
        return None
    return head_of(parser, *question)


def head_of(parser: Parser, name: bytes, qtype: int, qclass: int) -> ReplyHead:
    bits = parser.bits
    return ReplyHead(
        id=parser.id,
        response=bool(bits & 0x8000),
        truncated=bool(bits & 0x0200),
        authoritative=bool(bits & 0x0400),
        recursion_available=bool(bits & 0x0080),
        rcode=bits & 0x000F,
        qname=name,
        qtype=qtype,
        qclass=qclass,
    )


def matches(head: ReplyHead, qid: int, fqdn: str, qtype: int) -> bool:
    """Go ``checkResponse``: a response, our ID, our question (ASCII case folded)."""
    if not head.response or head.id != qid or head.qtype != qtype or head.qclass != 1:
        return False
    return _fold(head.qname) == _fold(fqdn.encode("utf-8", "surrogatepass"))


def _fold(name: bytes) -> bytes:
    return bytes(b + 0x20 if 0x41 <= b <= 0x5A else b for b in name)


def extended_rcode(parser: Parser, rcode: int) -> tuple[int, bool]:
    """Go ``extractExtendedRCode``: the rcode with the OPT record's upper bits."""
    for sec in (Parser._ANSWERS, Parser._AUTHORITIES):
        with contextlib.suppress(WireError, NotStarted):
            parser.skip_all(sec)
    has_additional = False
    while True:
        try:
            hdr = parser.header(Parser._ADDITIONALS)
        except (WireError, SectionDone, NotStarted):
            return rcode, has_additional
        has_additional = True
        if hdr.rtype == QTYPE_OPT:
            if hdr.ttl & 0x00FF0000 == 0:  # EDNS version 0 (RFC 6891 section 6.1.3)
                return (hdr.ttl >> 24) << 4 | rcode, has_additional
            return rcode, has_additional
        try:
            parser.skip(Parser._ADDITIONALS)
        except (WireError, SectionDone, NotStarted):
            return rcode, has_additional


def answer_addresses(parser: Parser) -> tuple[list[str], bool]:
    """The answer loop of ``goLookupIPCNAME``: A and AAAA records; a bad one stops it."""
    addresses: list[str] = []
    while True:
        try:
            hdr = parser.header(Parser._ANSWERS)
        except SectionDone:
            return addresses, False
        except (WireError, NotStarted):
            return addresses, True
        try:
            if hdr.rtype == QTYPE_A:
                addresses.append(str(ipaddress.IPv4Address(parser.body(4))))
            elif hdr.rtype == QTYPE_AAAA:
                addresses.append(str(ipaddress.IPv6Address(parser.body(16))))
            elif hdr.rtype == QTYPE_CNAME:
                parser.cname()
            else:
                parser.skip(Parser._ANSWERS)
        except (WireError, SectionDone, NotStarted):
            return addresses, True

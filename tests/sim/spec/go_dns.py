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

Several nameservers (:func:`try_one_name`, :func:`server_order`, :func:`lane_offsets`):
``tryOneName`` asks ``servers[(serverOffset + j) % len(servers)]`` for ``j`` over the
servers, ``attempts`` times over; ``serverOffset`` is 0 unless resolv.conf says
``options rotate``, when it is a counter on the resolver's config that every
``tryOneName`` takes one from (``dnsConfig.serverOffset``: ``AddUint32(&soffset, 1) -
1``), so it grows over the lanes and lookups of one resolver.  The AAAA goroutine,
started last, runs first (the scheduler's ``runnext``) and takes the first offset of a
candidate, A the next (the Go oracle's rotate cases, every run).  One exchange
(``exchange``): UDP, unless ``use-vc``; a UDP reply with TC is asked again over TCP
of the same server at once.  Its verdict (``checkHeader`` then ``skipToAnswer``):
NXDOMAIN, and NOERROR without a record of the asked type in the answer section
(skipped records of other types, a CNAME among them, do not count), end the lane with
``errNoSuchHost`` and that server (``checkHeader`` first: a NOERROR reply with AA and
RA clear, no answer and no additional record, an EDNS OPT counting as one, is
``errLameReferral``: "lame referral", no flag, remembered, next server (``lame``);
faultdns's zone replies set AA, so only its ``lame`` rule sends one, and its ``noedns``
rule's replies, without OPT but AA, are read as the zone's); SERVFAIL, any other
rcode, a timeout or a socket error is remembered (``lastErr``, with that server) and
the next server is asked; a
record of the asked type is the answer, whose addresses are the A and AAAA records
from that record on (``goLookupIPCNAME``'s answer loop; CNAMEs and other types
skipped).

A reply that does not parse to a header and a question (one cut inside its question,
say) is ignored over UDP: ``dnsPacketRoundTrip`` reads on until the exchange's
deadline, so the exchange ends as a ``timeout``; over TCP ``dnsStreamRoundTrip``
returns ``errCannotUnmarshalDNSMessage`` at once (``unmarshal``: "cannot unmarshal DNS
message", no flag) and the next server is asked.  (Asked of Go 1.23.9 with a server
that sends the query's header, QR and TC set, and two bytes of its question: over UDP
"read udp L->S: i/o timeout" after timeout x attempts, IsTimeout and IsTemporary; over
TCP "cannot unmarshal DNS message" at once, no flag.  Asked of Go 1.23.9 with faultdns's
``lame`` and ``noedns`` rules, ``LookupIP`` over two servers: lame then lame ->
"lame referral", no flag; lame then a healthy or ``noedns`` server -> the address;
lame then SERVFAIL -> "server misbehaving", temporary; SERVFAIL then lame -> "lame
referral"; ``noedns`` alone -> the address, and its NODATA "no such host".)

A reply that is not ours (``checkResponse``: not a response, or its header ID, its
question's name (ASCII case folded), QTYPE or QCLASS not the query's) is ignored over
UDP too: ``dnsPacketRoundTrip`` reads on, so the exchange ends as a ``timeout``; over
TCP ``dnsStreamRoundTrip`` returns ``errInvalidDNSResponse`` at once (``invalid``:
"invalid DNS response", no flag) and the next server is asked.  (Asked of Go 1.23.9
with a server that echoes the query as a response with one of the four fields' lowest
bit flipped, QCLASS IN becoming 0 among them: over UDP "i/o timeout", IsTimeout and
IsTemporary, for each field; over TCP "invalid DNS response" at once, no flag.)

A TCP reply whose two-byte length prefix (RFC 1035 section 4.2.2, RFC 7766 section 8)
disagrees with the message that follows (:data:`TCP_FRAMING`, :func:`stream_outcome`):
``dnsStreamRoundTrip`` reads the prefix with ``io.ReadFull(c, b[:2])``, then exactly
that many bytes with ``io.ReadFull(c, b[:l])``, and parses those alone; the bytes after
them are never read (the connection is closed)::

    if _, err := io.ReadFull(c, b[:2]); err != nil { return ..., err }
    l := int(b[0])<<8 | int(b[1])
    ...
    n, err := io.ReadFull(c, b[:l])
    if err != nil { return ..., err }
    var p dnsmessage.Parser
    h, err := p.Start(b[:n])          // -> errCannotUnmarshalDNSMessage
    q, err := p.Question()            // -> errCannotUnmarshalDNSMessage

So a prefix shorter than the message cuts it there, and Go judges the cut message as
the whole reply: cut anywhere before the end of the first answer record's header
(prefix 0, inside or at the end of the header, inside the question, at its end with an
answer announced, inside the answer's header) it "cannot unmarshal DNS message", no
flag, next server; cut inside the record's data, the answer loop fails on it:
"cannot unmarshal DNS message" with the server, and the lookup ends there (no next
server); cut after a whole record, the records before the cut are the answer.  A prefix
longer than the message: Go waits for the missing bytes; a server that then closes
gives ``io.ErrUnexpectedEOF`` ("unexpected EOF", a plain error: no flag, next server),
one that stays silent the read deadline ("read tcp L->S: i/o timeout", IsTimeout and
IsTemporary, next server).  (Asked of Go 1.23.9, ``net.Resolver{PreferGo: true}`` whose
``Dial`` connects over TCP to a server that frames its reply so, ``LookupIP("ip4",
"repo.example.")``, one nameserver and two attempts: "next server" is Go dialling
again for its second attempt; tests/fidelity/test_spec_go_framing.py asks again.  And
against faultdns's ``frame=`` through the Go oracle, ``sim/_fidelity/_named.py``'s
``tcp-frame-*`` cases: the next server answers after ``short``, ``0``, ``long`` and
``hang``; with ``search a.test``, ``repo`` framed ``short`` or ``long`` for
``repo.a.test`` goes on to the next name, ``repo``, and its address.)

QTYPE and QCLASS are compared as whole 16-bit numbers (``checkResponse``: ``q.Type ==
respQ.Type && q.Class == respQ.Class``), so a class above IN is as foreign as one below
it (:func:`reply_is_ours`, :data:`NOT_OURS`).  (Asked of Go 1.23.9, ``LookupIPAddr``
over one server echoing the question with QCLASS 0, 2, CH 3, HS 4, ANY 255 or 65535,
or QTYPE 0 or ANY 255, and an answer record: over UDP "read udp L->S: i/o timeout"
after timeout x attempts, IsTimeout and IsTemporary; over TCP "invalid DNS response"
at once, no flag; QTYPE AAAA 28 to the AAAA query is its own: the address.)

A reply whose header counts other than one question (QDCOUNT, RFC 1035 section 4.1.1;
:func:`question_count_outcome`).  None: ``p.Question()`` finds the question section
done, so ``dnsPacketRoundTrip`` ignores it over UDP (reads on: ``timeout``) and
``dnsStreamRoundTrip`` returns ``errCannotUnmarshalDNSMessage`` over TCP
(``unmarshal``).  Two or more: the first question is read and matched as ever, then
``exchange`` asks for the section's end::

    if err := p.SkipQuestion(); err != dnsmessage.ErrSectionDone {
        return dnsmessage.Parser{}, dnsmessage.Header{}, errInvalidDNSResponse
    }

A second question that parses (from the next section's bytes: an answer's compressed
name, type and class, or an OPT record's root name, type 41 and payload size) returns
nil, one that runs out of bytes an error: either is not ``ErrSectionDone``, so both are
``invalid`` ("invalid DNS response", no flag, next server), over UDP and TCP alike and
before the TC test (a UDP reply with TC and two questions is no retry over TCP).
(Asked of Go 1.23.9, ``LookupIP("ip4", ...)`` through a ``net.Resolver{PreferGo:
true}`` whose ``Dial`` reaches a server in the same program that echoes the query's ID
and question under QR, AA, RA and the given counts: QDCOUNT 0 with an A record after the
question -> UDP "read udp L->S: i/o timeout", IsTimeout and IsTemporary, TC set or not;
TCP "cannot unmarshal DNS message", no flag.  QDCOUNT 2, 3 or 65535 with the A record
after the question (a second question that parses), with nothing after it, or with 3,
4 or 5 bytes of a name pointer and type -> "invalid DNS response", no flag, over UDP
(TC set or not, no TCP query sent) and TCP.  QDCOUNT 1: the address.
tests/fidelity/test_spec_go_qdcount.py asks again.  And against faultdns's
``mismatch=qdcount[:2]``, ``lame qdcount=2`` and ``truncate qdcount=2`` through the Go
oracle, ``sim/_fidelity/_named.py``'s ``qdcount-*`` cases.)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "DEADLINE_FLAGS",
    "ERROR_TEXTS",
    "MORE_QUESTIONS",
    "NOT_OURS",
    "NO_CANDIDATE_ADDRESSES",
    "NO_QUESTION",
    "OUTCOMES",
    "QCLASS_IN",
    "QTYPES",
    "TCP_FRAMING",
    "WORLD_STATES",
    "DNSFlags",
    "Exchange",
    "Lane",
    "LaneRun",
    "StreamFraming",
    "avoid_dns",
    "error_text_fits",
    "exchange_error_fits",
    "exchange_error_text",
    "flags_of",
    "go_addresses",
    "kept_lanes",
    "lane_offsets",
    "lookup_error",
    "name_list",
    "no_address_text",
    "question_count_outcome",
    "reply_is_ours",
    "server_order",
    "skip_to_answer",
    "try_one_name",
]

#: what one lane (a name and a query type) ended with; ``rcode`` is an rcode other than
#: NOERROR, NXDOMAIN and SERVFAIL (REFUSED, NOTIMP, ...), ``refused`` the socket's ICMP
#: "connection refused", ``unmarshal`` a TCP reply that does not parse to a header and
#: a question (``errCannotUnmarshalDNSMessage``), ``lame`` a lame referral
#: (``errLameReferral``), ``invalid`` a TCP reply that is not ours
#: (``errInvalidDNSResponse``: ``checkResponse`` refused its ID or question), ``eof`` a
#: TCP server that closed inside the reply its length prefix announced
#: (``io.ErrUnexpectedEOF``)
OUTCOMES = (
    "answer",
    "nxdomain",
    "nodata",
    "servfail",
    "rcode",
    "timeout",
    "refused",
    "unmarshal",
    "lame",
    "invalid",
    "eof",
)


#: the class every query of Go's stub resolver asks (``dnsmessage.ClassINET``, RFC 1035
#: section 3.2.4) and the type numbers of the two lanes (RFC 1035 section 3.2.2, RFC 3596
#: section 2.1)
QCLASS_IN = 1
QTYPES = {"A": 1, "AAAA": 28}
#: what Go makes of an exchange whose reply is not ours (``checkResponse`` false), by
#: transport: UDP reads past it until the exchange's deadline, TCP gives
#: ``errInvalidDNSResponse`` at once
NOT_OURS = {"udp": "timeout", "tcp": "invalid"}


def reply_is_ours(qtype: str, reply_type: int, reply_class: int) -> bool:
    """Go ``checkResponse``'s question test for a reply to a ``qtype`` (``A``/``AAAA``)
    query of class IN whose question says ``reply_type`` and ``reply_class`` (16-bit
    numbers): both equal to the query's.  Any other class, below IN (0) or above it
    (CH 3, HS 4, ANY 255, 65535), is not ours."""
    return reply_type == QTYPES[qtype] and reply_class == QCLASS_IN


def question_count_outcome(qdcount: int, transport: str) -> str | None:
    """What Go 1.23 ``exchange`` makes of a reply to our query whose header counts
    ``qdcount`` questions (0..65535), its first question (when counted) the query's,
    over ``transport`` (``udp``/``tcp``), whatever follows the first question and
    whether TC is set: None for 1 (the reply is judged on: TC, ``checkHeader``, ...);
    for 0 :data:`NO_QUESTION`'s outcome; for 2 or more :data:`MORE_QUESTIONS`'
    (``invalid``: ``SkipQuestion`` is not ``ErrSectionDone`` whether the second
    question parses or not)."""
    if not 0 <= qdcount <= 0xFFFF:
        raise ValueError(f"QDCOUNT is a 16-bit field, got {qdcount}")
    if qdcount == 1:
        return None
    if qdcount == 0:
        return NO_QUESTION[transport]
    return MORE_QUESTIONS[transport]


#: what Go makes of a reply without a question (``p.Question()`` fails), by transport:
#: UDP reads past it until the exchange's deadline, TCP cannot unmarshal it
NO_QUESTION = {"udp": "timeout", "tcp": "unmarshal"}
#: what Go makes of a reply counting two or more questions, the first the query's
#: (``SkipQuestion`` not ``ErrSectionDone``), by transport: ``errInvalidDNSResponse``
#: on both, before the TC test
MORE_QUESTIONS = {"udp": "invalid", "tcp": "invalid"}


@dataclass(frozen=True)
class DNSFlags:
    """The three booleans of Go's ``*net.DNSError`` the retry predicates read."""

    not_found: bool
    timeout: bool
    temporary: bool


#: the flags of the error a lookup returns when the caller's deadline ends it first (Go
#: 1.23 ``lookupIPAddr``: ``ctx.Done()`` maps ``context.DeadlineExceeded`` to
#: ``errTimeout``; asked of Go 1.23.9, a Go resolver whose server never answers under a
#: 300 ms context: ``lookup repo.example.: i/o timeout``, IsTimeout and IsTemporary, no
#: server): its text is :func:`deadline_text`
DEADLINE_FLAGS = DNSFlags(not_found=False, timeout=True, temporary=True)


def deadline_text(name: str) -> str:
    """Go's text for a lookup of ``name`` (as asked) the caller's deadline ended."""
    return f"lookup {name}: i/o timeout"


#: what one exchange with the world's cluster DNS ends with in each of its DNS states
#: (``sim._timeline.DNSState``, written out here, not imported), ``ok`` aside (the zone's
#: reply: the repo name's A, NODATA for its AAAA, NXDOMAIN for any other name):
#: ``conn-refused`` is the socket's ICMP refusal, ``timeout`` silence, ``lame`` a lame
#: referral (faultdns ``lame``: NOERROR, AA and RA clear, no record, no OPT), ``refused``
#: the rcode REFUSED (faultdns ``refused``), an "other rcode" (``rcode``).  Asked of Go
#: 1.23.9, ``LookupIPAddr`` over one server, UDP and TCP alike: a lame referral ->
#: "lame referral", REFUSED -> "server misbehaving", neither IsNotFound, IsTimeout nor
#: IsTemporary (SERVFAIL, the same text, is IsTemporary); both move on to the next
#: server and attempt, taking no time.
WORLD_STATES = {
    "conn-refused": "refused",
    "timeout": "timeout",
    "nxdomain": "nxdomain",
    "servfail": "servfail",
    "lame": "lame",
    "refused": "rcode",
}


def flags_of(outcome: str) -> DNSFlags:
    """The error flags of a lane that ended with ``outcome`` (not ``answer``)."""
    if outcome in ("nxdomain", "nodata"):
        return DNSFlags(not_found=True, timeout=False, temporary=False)
    if outcome in ("servfail", "refused"):
        return DNSFlags(not_found=False, timeout=False, temporary=True)
    if outcome == "rcode":  # errServerMisbehaving: newDNSError sets no flag
        return DNSFlags(not_found=False, timeout=False, temporary=False)
    if outcome == "timeout":
        return DNSFlags(not_found=False, timeout=True, temporary=True)
    # plain errors (io.ErrUnexpectedEOF is no net.Error): newDNSError sets no flag
    if outcome in ("unmarshal", "lame", "invalid", "eof"):
        return DNSFlags(not_found=False, timeout=False, temporary=False)
    raise ValueError(f"no error for a lane that ended with {outcome!r}")


#: the text Go's ``*net.DNSError`` carries as ``Err`` for a lane that ended so (a socket
#: error's text ends with it: ``read udp L->S: i/o timeout``, ``read udp L->S: read:
#: connection refused``): ``errNoSuchHost``, ``errServerMisbehaving`` (SERVFAIL's
#: ``errServerTemporarilyMisbehaving`` has the same text), ``errTimeout``, ECONNREFUSED
ERROR_TEXTS = {
    "nxdomain": "no such host",
    "nodata": "no such host",
    "servfail": "server misbehaving",
    "rcode": "server misbehaving",
    "timeout": "i/o timeout",
    "refused": "connection refused",
    "unmarshal": "cannot unmarshal DNS message",
    "lame": "lame referral",
    "invalid": "invalid DNS response",
    "eof": "unexpected EOF",
}


def error_text_fits(outcome: str, text: str) -> bool:
    """Whether ``text`` is the ``Err`` Go gives a lane that ended with ``outcome``."""
    want = ERROR_TEXTS[outcome]
    return text == want or text.endswith(": " + want)


def exchange_error_text(outcome: str, transport: str, server: str, local: str) -> str:
    """The whole ``Err`` of Go's ``*net.DNSError`` for a lane whose last exchange, over
    ``transport`` (``udp``/``tcp``) with ``server`` (``HOST:PORT``) from the local
    address ``local``, ended with ``outcome`` (not ``answer``).

    A socket error's text is its ``*net.OpError`` (``newDNSError`` keeps
    ``err.Error()``): a silent server is the read deadline, ``read NET L->S: i/o
    timeout``.  A server that is down (``refused``) fails where Go's ``exchange``
    meets it: over UDP ``r.dial`` only connects the socket, the query is written and
    the ICMP port unreachable comes back to the read, ``read udp L->S: read:
    connection refused``; over TCP ``r.dial`` is the connect, which the reset fails
    before any read or write, ``dial tcp S: connect: connection refused`` (no local
    address: a dial's ``*OpError`` has no Source).  Every other outcome is its fixed
    text (:data:`ERROR_TEXTS`).  (Asked of Go 1.23.9, ``LookupIPAddr`` with one server
    whose port is closed: UDP ``read udp 127.0.0.1:P->127.0.0.1:Q: read: connection
    refused``; ``options use-vc``: ``dial tcp 127.0.0.1:Q: connect: connection
    refused``; tests/fidelity/test_spec_go_refused.py asks again.)
    """
    if transport not in ("udp", "tcp"):
        raise ValueError(f"no transport {transport!r}")
    if outcome == "timeout":
        return f"read {transport} {local}->{server}: i/o timeout"
    if outcome == "refused":
        if transport == "tcp":
            return f"dial tcp {server}: connect: connection refused"
        return f"read udp {local}->{server}: read: connection refused"
    return ERROR_TEXTS[outcome]


def exchange_error_fits(outcome: str, transport: str, server: str, text: str) -> bool:
    """Whether ``text`` is :func:`exchange_error_text` for some local address (one
    without spaces; empty for a model that has no socket)."""
    for local in {"", *_locals(text)}:
        if text == exchange_error_text(outcome, transport, server, local):
            return True
    return False


def _locals(text: str) -> set[str]:
    """The local addresses ``text`` may name: what stands between the transport and
    ``->``."""
    head, arrow, _ = text.partition("->")
    return {head.rsplit(" ", 1)[-1]} if arrow else set()


def avoid_dns(name: str) -> bool:
    """Go ``avoidDNS`` (RFC 7686 section 2: ``.onion`` names must not reach DNS): the
    empty name, and a name whose last label is ``onion`` (any case) with at least one
    label before it, one trailing dot allowed (``x.onion``, ``X.ONION.``; not ``onion``,
    ``xonion``, ``onion.x``)."""
    if not name:
        return True
    bare = name[:-1] if name.endswith(".") else name
    return bare.lower().endswith(".onion")


#: Go 1.23.9's ``Resolver.LookupIPAddr`` (``PreferGo``) for a name whose candidate list
#: is empty (every candidate ``.onion``): no address and no error, no query sent
#: (asked of Go: ``x.onion``, ``x.onion.``, ``X.ONION``, ``a.b.onion`` -> ``[] <nil>``;
#: ``onion``, ``xonion``, ``onion.`` -> "no such host" from the server)
NO_CANDIDATE_ADDRESSES: tuple[str, ...] = ()


def no_address_text(url: str, host: str) -> str:
    """Go's ``http.Client`` error for a URL whose host resolved to no address (a
    ``.onion`` host): ``net.Dialer``'s ``errNoSuitableAddress`` for the host, under the
    ``*url.Error`` (asked of Go 1.23.9: ``Get "http://x.onion:5000/v": dial tcp:
    address x.onion: no suitable address found``; the host as the URL spells it, case
    and trailing dot kept).  An ``*AddrError`` is no timeout, carries no errno and is
    no ``*DNSError``: no Harvester predicate retries it (``spec.predicates``)."""
    return f'Get "{url}": dial tcp: address {host}: no suitable address found'


def name_list(name: str, search: Sequence[str], ndots: int) -> list[str]:
    """The candidates Go asks for ``name``, lower-case, without the trailing dot."""
    if len(name) > 254 or (len(name) == 254 and not name.endswith(".")):
        return []

    avoid = avoid_dns
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
    it ``ended`` (one of :data:`OUTCOMES`) and when (``done``, seconds); ``server``
    (optional) the server whose exchange supplied the outcome (the error's Server)."""

    fqdn: str
    qtype: str
    ended: str
    done: float
    server: str = ""


def lookup_error(
    name: str, names: Sequence[str], lanes: Iterable[Lane], *, strict_errors: bool = False
) -> set[DNSFlags] | None:
    """The error Go reports for a lookup of ``name`` over the candidates ``names`` whose
    lanes ended as ``lanes`` say: None when some lane got an answer, else the set of
    flags it may report (more than one only when the lanes that decide finished at the
    same instant: the race is Go's, either lane may be read last).  ``strict_errors``:
    :func:`kept_lanes`' rule."""
    kept = kept_lanes(name, names, lanes, strict_errors=strict_errors)
    return None if kept is None else {flags_of(lane.ended) for lane in kept}


def kept_lanes(
    name: str, names: Sequence[str], lanes: Iterable[Lane], *, strict_errors: bool = False
) -> set[Lane] | None:
    """The lanes whose error Go may report for ``name`` (as :func:`lookup_error`), or
    None when some lane got an answer; their ``server`` is the error's Server.

    ``strict_errors``: Go's ``Resolver.StrictErrors`` (Go 1.23 ``dnsclient_unix.go``
    ``goLookupIPCNAME``; the Go default, and the controller's, is false): a lane whose
    error is ``Temporary()`` (a timeout, SERVFAIL, a refused socket: ``flags_of``'s
    ``temporary``) always becomes the error, and once a candidate's lanes hold one the
    lookup ends there with that error, the candidate's addresses discarded ("network
    flakiness cannot turn a dualstack hostname IPv4/IPv6-only"), later candidates
    unasked."""
    as_given = name.rstrip(".").lower()
    by_name: dict[str, list[Lane]] = {}
    for lane in lanes:
        by_name.setdefault(lane.fqdn, []).append(lane)
    possible: set[Lane | None] = {None}
    asked = False
    for fqdn in names:
        mine = by_name.get(fqdn, [])
        if not mine:
            continue
        asked = True
        hit = strict_errors and any(
            lane.ended != "answer" and flags_of(lane.ended).temporary for lane in mine
        )
        if not hit and any(lane.ended == "answer" for lane in mine):
            return None
        orders = _finishing_orders(mine)
        after: set[Lane | None] = set()
        for last in possible:
            for order in orders:
                kept = last
                for lane in order:
                    if lane.ended == "answer":
                        continue  # its addresses are discarded; it sets no error
                    # a strict hit's temporary error always replaces the one kept;
                    # otherwise "prefer error for original name"
                    strict_hit = hit and flags_of(lane.ended).temporary
                    if strict_hit or kept is None or fqdn == as_given:
                        kept = lane
                after.add(kept)
        possible = after
        if hit:
            break
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


# -- several nameservers: tryOneName ------------------------------------------------------


def server_order(servers: int, attempts: int, offset: int) -> list[int]:
    """Indices of the servers one ``tryOneName`` asks, in order: the ring of servers
    read from ``offset`` (mod the count), once per attempt."""
    if servers < 1 or attempts < 1:
        raise ValueError(f"servers and attempts must be >= 1, got {servers}, {attempts}")
    ring = list(range(servers))
    start = offset % servers
    return (ring[start:] + ring[:start]) * attempts


def lane_offsets(rotate: bool, taken: int) -> dict[str, int]:
    """The ``serverOffset`` of a candidate's A and AAAA lanes when ``taken`` offsets
    were taken before on this resolver (two per candidate asked, with ``rotate``):
    without rotate both 0; with it AAAA takes ``taken`` and A ``taken + 1``."""
    if not rotate:
        return {"A": 0, "AAAA": 0}
    return {"AAAA": taken, "A": taken + 1}


def skip_to_answer(answer_types: Sequence[str], qtype: str) -> str:
    """Go ``skipToAnswer`` on a NOERROR reply whose answer section holds records of
    ``answer_types`` in order: ``answer`` when one is of ``qtype``, else ``nodata``
    (``errNoSuchHost``)."""
    return "answer" if qtype in answer_types else "nodata"


def go_addresses(answer: Sequence[tuple[str, str]], qtype: str) -> list[str]:
    """The addresses ``goLookupIPCNAME`` takes from a reply's answer section
    (``(type, value)`` records in order): every A and AAAA from the first record of
    ``qtype`` on; nothing when there is none (then the lane is ``nodata``)."""
    types = [rtype for rtype, _ in answer]
    if qtype not in types:
        return []
    return [value for rtype, value in answer[types.index(qtype) :] if rtype in ("A", "AAAA")]


@dataclass(frozen=True)
class Exchange:
    """One exchange of a lane: the server's index, ``udp``/``tcp``, and what Go made of
    it: one of :data:`OUTCOMES` or ``truncated`` (a UDP reply with TC)."""

    server: int
    transport: str
    outcome: str


@dataclass(frozen=True)
class LaneRun:
    """A lane as ``tryOneName`` runs it: its exchanges in order, how it ``ended``
    (one of :data:`OUTCOMES`), the index of the ``server`` that supplied that (None when
    nothing was asked) and its duration ``took`` (seconds: ``timeout`` per silent
    exchange, replies taking no time)."""

    exchanges: tuple[Exchange, ...]
    ended: str
    server: int | None
    took: float


def try_one_name(
    outcome_of: Callable[[int, str], str],
    *,
    servers: int,
    attempts: int,
    offset: int,
    use_vc: bool,
    timeout: float,
) -> LaneRun:
    """Go ``tryOneName`` over ``servers`` servers; ``outcome_of(server, transport)``
    says what one exchange with that server over ``udp``/``tcp`` ends with (one of
    :data:`OUTCOMES`, or ``truncated`` over UDP).  Raises ``ValueError`` for a
    ``truncated`` over TCP (TC over TCP is not a retry in Go's ``exchange``)."""
    exchanges: list[Exchange] = []
    took = 0.0
    last: tuple[str, int] | None = None
    for server in server_order(servers, attempts, offset):
        outcome = ""
        for transport in ("tcp",) if use_vc else ("udp", "tcp"):
            outcome = outcome_of(server, transport)
            if outcome == "truncated" and transport == "tcp":
                raise ValueError("a truncated reply over TCP is not a retry")
            exchanges.append(Exchange(server, transport, outcome))
            if outcome == "timeout":
                took += timeout
            if outcome != "truncated":
                break
        if outcome in ("answer", "nxdomain", "nodata"):
            return LaneRun(tuple(exchanges), outcome, server, took)
        last = (outcome, server)
    assert last is not None
    return LaneRun(tuple(exchanges), last[0], last[1], took)


# -- a TCP reply whose length prefix disagrees with the message: dnsStreamRoundTrip ------


@dataclass(frozen=True)
class StreamFraming:
    """One TCP reply framed wrongly, and what Go 1.23.9 made of it (module docstring).

    The server builds ``reply`` for a query of ``repo.example.`` A: ``one`` (NOERROR,
    AA and RA, one A record 10.0.0.1; 46 bytes: header 0-12, question 12-30, the
    record's header 30-42, its data 42-46), ``two`` (a second A record 10.0.0.2 after
    it; 62 bytes) or ``nxdomain`` (NXDOMAIN, no record; 30 bytes), and sends a length
    prefix saying ``prefix`` bytes, then the whole reply; then it closes (``closes``)
    or stays silent until Go closes.  Go's lookup then ends with ``addresses`` or with
    a ``*DNSError`` whose ``Err`` is ``err`` (for the read deadline it ends so:
    ``read tcp L->S: i/o timeout``) and whose flags are ``flags``; ``again``: whether
    ``tryOneName`` went on to the next server (here: the same one, second attempt)
    after this exchange.  ``outcome`` is the exchange's ending as :data:`OUTCOMES`
    names it (``answer`` also for the cut record's data, whose error ends the lookup).
    """

    reply: str
    prefix: int
    closes: bool
    outcome: str
    err: str | None
    flags: DNSFlags | None
    addresses: tuple[str, ...]
    again: bool


_PLAIN = DNSFlags(not_found=False, timeout=False, temporary=False)
_TIMEOUT = DNSFlags(not_found=False, timeout=True, temporary=True)
_UNMARSHAL = ("unmarshal", "cannot unmarshal DNS message", _PLAIN, (), True)

#: Go 1.23.9's answers for TCP replies whose length prefix disagrees with the message
#: (asked as the module docstring says; ``tests/fidelity/test_spec_go_framing.py``
#: asks Go again and ``tests/cleanup/test_resolver_framing.py`` holds cleanup's
#: resolver to the same table).  Go said, per case: "cannot unmarshal DNS message", no
#: flag, dialled again, for every cut before the end of the first record's header; the
#: same text but no second dial for a cut inside the record's data (the answer loop's
#: ``AResource`` fails and ``break loop`` ends the lookup); ``[10.0.0.1]`` for a cut
#: after the first of two records; "unexpected EOF", no flag, dialled again, for a
#: prefix one or ten bytes past the message and a close; "read tcp ...: i/o timeout",
#: IsTimeout and IsTemporary, dialled again, past the message and silence.
TCP_FRAMING: dict[str, StreamFraming] = {
    "zero": StreamFraming("one", 0, False, *_UNMARSHAL),
    "inside-header": StreamFraming("one", 5, False, *_UNMARSHAL),
    "header-but-one": StreamFraming("one", 11, False, *_UNMARSHAL),
    "at-header": StreamFraming("one", 12, False, *_UNMARSHAL),
    "inside-question": StreamFraming("one", 20, False, *_UNMARSHAL),
    "question-but-one": StreamFraming("one", 29, False, *_UNMARSHAL),
    "at-question-end": StreamFraming("one", 30, False, *_UNMARSHAL),
    "inside-record-header": StreamFraming("one", 36, False, *_UNMARSHAL),
    "at-record-data": StreamFraming(
        "one", 42, False, "answer", "cannot unmarshal DNS message", _PLAIN, (), False
    ),
    "inside-record-data": StreamFraming(
        "one", 44, False, "answer", "cannot unmarshal DNS message", _PLAIN, (), False
    ),
    "after-first-record": StreamFraming(
        "two", 46, False, "answer", None, None, ("10.0.0.1",), False
    ),
    "inside-second-record": StreamFraming(
        "two", 50, False, "answer", None, None, ("10.0.0.1",), False
    ),
    "nxdomain-at-header": StreamFraming("nxdomain", 12, False, *_UNMARSHAL),
    "nxdomain-question-but-one": StreamFraming("nxdomain", 29, False, *_UNMARSHAL),
    "longer-by-one-then-close": StreamFraming(
        "one", 47, True, "eof", "unexpected EOF", _PLAIN, (), True
    ),
    "longer-then-close": StreamFraming("one", 56, True, "eof", "unexpected EOF", _PLAIN, (), True),
    "nxdomain-longer-then-close": StreamFraming(
        "nxdomain", 40, True, "eof", "unexpected EOF", _PLAIN, (), True
    ),
    "longer-then-silent": StreamFraming(
        "one", 56, False, "timeout", "i/o timeout", _TIMEOUT, (), True
    ),
}

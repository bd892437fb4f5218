"""glibc's getaddrinfo over DNS, as decisions: which names, what each reply means, which
error wins.  Pure logic, no I/O; :mod:`faultdns._patch` does the sending.

Source: glibc 2.36 (Debian 12), checked against the real library by
tests/faultdns/test_patch_glibc.py, which runs ``getaddrinfo`` under ``faultdns run``
and :func:`faultdns.patch_getaddrinfo` on the same faults.

- The search walk is ``__res_context_search`` (resolv/res_query.c): a name with at
  least ``ndots`` dots (or a trailing dot) is tried as is first; then each search
  domain (``RES_DNSRCH``); then as is, if not tried yet (and not skipped by
  ``no-tld-query`` for a dotless name, or by ``.`` on the search list).  NXDOMAIN and
  NODATA continue the walk, SERVFAIL too; any other failure (a timeout, REFUSED from
  every server, FORMERR) ends the search-list part but still tries the name as is.
  The error reported is the first as-is attempt's, else NODATA if any candidate had
  it, else SERVFAIL's TRY_AGAIN if any had it, else the last one's.  A nameserver that
  refuses the connection (``ECONNREFUSED``: ICMP port unreachable) ends everything
  with TRY_AGAIN.
- One candidate is an A and an AAAA query (``T_QUERY_A_AND_AAAA``, both at once unless
  ``single-request``).  In ``send_dg`` (resolv/res_send.c) SERVFAIL, NOTIMP, REFUSED and
  a lame reply (NOERROR, no records, AA and RA clear) mean "ask the next server"; a
  truncated reply is asked again over TCP.  In ``__res_context_query`` an answer to
  either query is success; else NXDOMAIN is HOST_NOT_FOUND, NOERROR without answers is
  NO_DATA, FORMERR and other rcodes NO_RECOVERY; when every server and attempt failed
  it is TRY_AGAIN.
- ``getaddrinfo`` (nss/getaddrinfo.c, via nss_dns ``_nss_dns_gethostbyname4_r``):
  TRY_AGAIN is ``EAI_AGAIN``, NO_DATA ``EAI_NODATA``, HOST_NOT_FOUND and NO_RECOVERY
  ``EAI_NONAME``.  With ``AF_INET6`` and ``AI_V4MAPPED`` it looks up AAAA, then (none
  found, or ``AI_ALL``) A, each a walk of its own (``gaih_inet``'s two ``gethosts``);
  when both fail the code is :func:`v4mapped_code`'s.
- Before any query nss_dns rejects a name that is not a host name (``res_hnok``,
  resolv/res-name-checking.c): :func:`hostname_ok`; it fails ``EAI_NONAME`` without a
  packet sent.  A search candidate that cannot be put on the wire (``ns_name_pton``:
  a label over 63 bytes, a name over 255) is ``NO_RECOVERY`` without a packet
  (``res_nmkquery`` fails in ``__res_context_query``): :func:`name_labels`.
"""

from __future__ import annotations

import enum
from collections.abc import Generator, Sequence
from dataclasses import dataclass

__all__ = [
    "EAI_AGAIN",
    "EAI_NODATA",
    "EAI_NONAME",
    "RESOLV_OPTIONS",
    "Candidate",
    "HErrno",
    "Reply",
    "ResolverOptions",
    "check_resolv_option",
    "classify",
    "gai_code",
    "hostname_ok",
    "judge_pair",
    "name_labels",
    "search_walk",
    "send_dg_timeout",
    "server_usable",
    "udp_retry",
    "v4mapped_code",
]

# <netdb.h> (glibc): the values Python's socket module exposes as socket.EAI_*.
EAI_NONAME = -2
EAI_AGAIN = -3
EAI_NODATA = -5

_RCODE_NOERROR = 0
_RCODE_FORMERR = 1
_RCODE_SERVFAIL = 2
_RCODE_NXDOMAIN = 3
_RCODE_NOTIMP = 4
_RCODE_REFUSED = 5


#: ``options`` a resolv.conf may carry (glibc ``res_init.c`` table, Go's
#: ``dnsconfig_unix.go``); ``ndots`` (which ``faultdns run`` takes
#: as ``--ndots``) is not listed.  Those with a value take ``:N``.
RESOLV_OPTIONS: dict[str, bool] = {
    "attempts": True,
    "timeout": True,
    "rotate": False,
    "single-request": False,
    "single-request-reopen": False,
    "use-vc": False,
    "edns0": False,
    "no-tld-query": False,
    "no-reload": False,
    "no-aaaa": False,
    "trust-ad": False,
    "inet6": False,
    "debug": False,
    "insecure1": False,
    "insecure2": False,
    "no-check-names": False,
    "ip6-bytestring": False,
    "ip6-dotint": False,
    "no-ip6-dotint": False,
    "lookup-unsigned": False,
}


def check_resolv_option(word: str) -> str:
    """``word`` stripped, if it is a resolv.conf option of :data:`RESOLV_OPTIONS` (or
    ``ndots:N``) in the right form; else ``ValueError`` saying what is wrong:
    ``'timeout=1': unknown option (known: ...)``, ``'timeout': expected timeout:N``,
    ``'rotate:1': rotate takes no value``.  glibc itself ignores what it does not know,
    which turns a typo into a silent default."""
    name, sep, value = word.strip().partition(":")
    if name != "ndots" and name not in RESOLV_OPTIONS:
        known = ", ".join(sorted(RESOLV_OPTIONS))
        raise ValueError(f"{word!r}: unknown option (known: {known})")
    if name == "ndots" or RESOLV_OPTIONS[name]:
        if not sep or not (value.isascii() and value.isdigit()):
            raise ValueError(f"{word!r}: expected {name}:N")
    elif sep:
        raise ValueError(f"{word!r}: {name} takes no value")
    return word.strip()


class Reply(enum.Enum):
    """What one reply (or its absence) means to glibc."""

    ANSWER = "answer"  # NOERROR with address records
    NODATA = "nodata"  # NOERROR, no answer, an authoritative or recursive server
    NXDOMAIN = "nxdomain"
    SERVFAIL = "servfail"  # next server; remembered by the search walk
    NEXT = "next"  # REFUSED, NOTIMP, lame: next server
    NO_RECOVERY = "no_recovery"  # FORMERR and any other rcode
    TRUNCATED = "truncated"  # TC: ask again over TCP
    TIMEOUT = "timeout"
    MISSING = "missing"  # given up on after the single-request retries (send_dg)
    UNREACHABLE = "unreachable"  # ICMP port unreachable / TCP reset: ECONNREFUSED


class HErrno(enum.Enum):
    """A candidate's outcome (``h_errno``, resolv/netdb.h)."""

    SUCCESS = 0
    HOST_NOT_FOUND = 1
    TRY_AGAIN = 2
    NO_RECOVERY = 3
    NO_DATA = 4


@dataclass(frozen=True)
class Candidate:
    """A candidate's outcome: ``servfail`` when the failing reply held SERVFAIL (the
    walk goes on), ``refused`` when no server could be reached at all."""

    herrno: HErrno
    servfail: bool = False
    refused: bool = False


@dataclass(frozen=True)
class ResolverOptions:
    """resolv.conf ``options`` glibc acts on here (resolv.conf(5); defaults
    RES_TIMEOUT 5, RES_DFLRETRY 2, ndots 1).  ``timeout`` is seconds per try."""

    ndots: int = 1
    timeout: float = 5.0
    attempts: int = 2
    single_request: bool = False
    single_request_reopen: bool = False
    use_vc: bool = False
    no_tld_query: bool = False
    no_aaaa: bool = False

    @classmethod
    def parse(cls, ndots: int, options: Sequence[str]) -> ResolverOptions:
        """From ``ndots`` and resolv.conf option words (``"timeout:2"``...); glibc caps
        timeout at 30 and attempts at 5 (RES_MAXRETRANS, RES_MAXRETRY; res_init.c),
        waits at least a second per try (``send_dg``), takes ``attempts:0`` as no try
        at all (``__res_context_send``'s loop never runs: ECONNREFUSED, so
        ``EAI_AGAIN`` with nothing sent), and ignores words it does not know.  Raises
        ``ValueError`` for a non-numeric value."""
        values: dict[str, object] = {"ndots": min(max(ndots, 0), 15)}
        for word in options:
            name, _, value = word.partition(":")
            if name == "timeout":
                values["timeout"] = float(min(max(int(value), 1), 30))
            elif name == "attempts":
                # 0 (or less) is kept: res_send then makes no try at all (ECONNREFUSED)
                values["attempts"] = min(max(int(value), 0), 5)
            elif name == "single-request":
                values["single_request"] = True
            elif name == "single-request-reopen":
                values["single_request_reopen"] = True
            elif name == "use-vc":
                values["use_vc"] = True
            elif name == "no-tld-query":
                values["no_tld_query"] = True
            elif name == "no-aaaa":
                values["no_aaaa"] = True
            elif name == "ndots":
                values["ndots"] = min(max(int(value), 0), 15)
        return cls(**values)  # type: ignore[arg-type]


def classify(rcode: int, answers: int, aa: bool, ra: bool, tc: bool, records: int) -> Reply:
    """One reply: ``answers`` address records for the question, ``records`` all
    records in any section (a lame reply has none)."""
    if tc:
        return Reply.TRUNCATED
    if rcode == _RCODE_NOERROR:
        if answers:
            return Reply.ANSWER
        if records == 0 and not aa and not ra:
            return Reply.NEXT
        return Reply.NODATA
    if rcode == _RCODE_NXDOMAIN:
        return Reply.NXDOMAIN
    if rcode == _RCODE_SERVFAIL:
        return Reply.SERVFAIL
    if rcode in (_RCODE_NOTIMP, _RCODE_REFUSED):
        return Reply.NEXT
    return Reply.NO_RECOVERY


_NEXT_SERVER = frozenset(
    {Reply.SERVFAIL, Reply.NEXT, Reply.TIMEOUT, Reply.UNREACHABLE, Reply.MISSING}
)
_FINAL = frozenset({Reply.ANSWER, Reply.NODATA, Reply.NXDOMAIN, Reply.NO_RECOVERY})


def udp_retry(replies: Sequence[Reply], single: bool, reopen: bool) -> str | None:
    """After one UDP exchange with a server: ``"single"`` or ``"reopen"`` when glibc asks
    the same server again in that mode, else None.

    ``send_dg`` on a timeout after one usable reply ("quite a few broken name servers
    out there which don't handle two outstanding requests from the same source"):
    switch to single-request (second query only after the first reply) and retry, then
    to single-request-reopen (a new socket for the second), then give up on the missing
    reply and return the one it has (:data:`Reply.MISSING`).  A SERVFAIL, REFUSED,
    NOTIMP or lame reply does not count: its buffer is dropped (``next_ns``).
    """
    if Reply.TIMEOUT not in replies or not any(r in _FINAL for r in replies):
        return None
    if not single:
        return "single"
    if not reopen:
        return "reopen"
    return None


def server_usable(replies: Sequence[Reply]) -> bool:
    """Whether one server's replies to a candidate's queries end the candidate (else
    glibc asks the next server, then the next attempt).  A usable reply to one query is
    enough when the other only asks for the next server (``send_dg``'s ``next_ns``
    returns what it already has), unless the other timed out (see :func:`udp_retry`
    for what glibc does then)."""
    if Reply.ANSWER in replies:
        return True
    if Reply.TIMEOUT in replies or Reply.UNREACHABLE in replies:
        return False
    return any(r in _FINAL for r in replies)


def judge_pair(replies: Sequence[Reply]) -> Candidate:
    """A candidate's outcome from the replies of the server that ended it (usable), or
    from the last try when none did."""
    if Reply.ANSWER in replies:
        return Candidate(HErrno.SUCCESS)
    usable = [r for r in replies if r not in _NEXT_SERVER]
    if not usable:
        return Candidate(
            HErrno.TRY_AGAIN,
            servfail=Reply.SERVFAIL in replies,
            refused=all(r is Reply.UNREACHABLE for r in replies),
        )
    first = usable[0]
    if first is Reply.NXDOMAIN:
        return Candidate(HErrno.HOST_NOT_FOUND)
    if first is Reply.NODATA:
        return Candidate(HErrno.NO_DATA)
    return Candidate(HErrno.NO_RECOVERY)


def search_walk(
    name: str, search: Sequence[str], ndots: int, no_tld_query: bool = False
) -> Generator[str, Candidate, tuple[HErrno, str | None]]:
    """``__res_context_search`` as a generator: it yields each name to ask and is sent
    that name's :class:`Candidate`; it returns ``(HErrno.SUCCESS, name_that_answered)``
    or ``(the walk's h_errno, None)``."""
    trailing = name.endswith(".")
    bare = name.rstrip(".")
    dots = bare.count(".")
    saved: HErrno | None = None
    tried_as_is = False
    if dots >= ndots or trailing:
        outcome = yield bare
        if outcome.herrno is HErrno.SUCCESS:
            return HErrno.SUCCESS, bare
        if trailing:
            return outcome.herrno, None
        saved = outcome.herrno
        tried_as_is = True
    searched = root_on_list = got_nodata = got_servfail = False
    last = HErrno.HOST_NOT_FOUND
    for domain in search:
        searched = True
        suffix = domain.strip(".")
        root_on_list = root_on_list or not suffix
        candidate = f"{bare}.{suffix}" if suffix else bare
        outcome = yield candidate
        if outcome.herrno is HErrno.SUCCESS:
            return HErrno.SUCCESS, candidate
        last = outcome.herrno
        if outcome.refused:  # errno == ECONNREFUSED: no server at all
            return HErrno.TRY_AGAIN, None
        if outcome.herrno is HErrno.NO_DATA:
            got_nodata = True
        elif outcome.herrno is HErrno.TRY_AGAIN and outcome.servfail:
            got_servfail = True
        elif outcome.herrno is not HErrno.HOST_NOT_FOUND:
            break  # a timeout, REFUSED everywhere, FORMERR: stop searching up
    if (dots or not searched or not no_tld_query) and not (tried_as_is or root_on_list):
        outcome = yield bare
        if outcome.herrno is HErrno.SUCCESS:
            return HErrno.SUCCESS, bare
        last = outcome.herrno
    if saved is not None:
        return saved, None
    if got_nodata:
        return HErrno.NO_DATA, None
    if got_servfail:
        return HErrno.TRY_AGAIN, None
    return last, None


def gai_code(herrno: HErrno) -> int:
    """``getaddrinfo``'s EAI code for a failed walk's ``h_errno``."""
    if herrno is HErrno.TRY_AGAIN:
        return EAI_AGAIN
    if herrno is HErrno.NO_DATA:
        return EAI_NODATA
    return EAI_NONAME


_MAX_LABEL = 63  # NS_MAXLABEL
_MAX_WIRE = 255  # NS_MAXCDNAME: a name's wire form, length bytes and root included


def name_labels(name: bytes) -> tuple[bytes, ...] | None:
    """``ns_name_pton`` (resolv/ns_name.c): a presentation-form name (``\\X`` and
    ``\\DDD`` escapes, ``.`` between labels, one trailing ``.`` for the root allowed)
    as its labels, or None when it has no wire form (an empty label, a label over 63
    bytes, ``\\DDD`` over 255, a name over 255 bytes on the wire).  ``b""`` and
    ``b"."`` are the root: ``()``."""
    labels: list[bytes] = []
    label = bytearray()
    i = 0
    while i < len(name):
        c = name[i]
        i += 1
        if c == 0x5C:  # backslash
            if i >= len(name):
                return None
            if name[i : i + 3].isdigit() and len(name[i : i + 3]) == 3:
                value = int(name[i : i + 3])
                if value > 255:
                    return None
                label.append(value)
                i += 3
            else:
                label.append(name[i])
                i += 1
        elif c == 0x2E:  # an unescaped dot ends a label
            if not label:
                # only "." alone (the root) may have an empty label before a dot
                return () if len(name) == 1 else None
            labels.append(bytes(label))
            label = bytearray()
        else:
            label.append(c)
        if len(label) > _MAX_LABEL:
            return None
    if label:
        labels.append(bytes(label))
    if sum(len(lab) + 1 for lab in labels) + 1 > _MAX_WIRE:
        return None
    return tuple(labels)


def hostname_ok(name: bytes) -> bool:
    """``res_hnok`` (resolv/res-name-checking.c), which nss_dns asks before it sends
    anything: printable ASCII without spaces, a wire form (:func:`name_labels`), no
    ``-`` first, and labels of letters, digits, ``-`` and ``_`` only.  The empty name
    fails too (glibc sends nothing for it either; checked against the real library)."""
    if not name or any(c <= 0x20 or c > 0x7E for c in name):
        return False
    labels = name_labels(name)
    if labels is None or (labels and labels[0][:1] == b"-"):
        return False
    return all(chr(c).isalnum() or c in b"-_" for label in labels for c in label)


def v4mapped_code(inet6: HErrno, inet: HErrno) -> int:
    """getaddrinfo's code when both the AAAA walk and the A walk of an ``AF_INET6`` +
    ``AI_V4MAPPED`` lookup failed (``gaih_inet``: each ``gethosts`` sets ``no_data``
    to ``EAI_AGAIN`` for TRY_AGAIN, to 1 for NO_DATA, else 0; both set: ``EAI_AGAIN``
    if both timed out, else ``EAI_NODATA``; otherwise ``EAI_NONAME``)."""

    def no_data(herrno: HErrno) -> int:
        if herrno is HErrno.TRY_AGAIN:
            return EAI_AGAIN
        return 1 if herrno is HErrno.NO_DATA else 0

    six, four = no_data(inet6), no_data(inet)
    if six and four:
        return EAI_AGAIN if six == four == EAI_AGAIN else EAI_NODATA
    return EAI_NONAME


def send_dg_timeout(timeout: float, ns: int, nscount: int) -> float:
    """Seconds ``send_dg`` (resolv/res_send.c) waits for the replies from nameserver
    number ``ns`` (from 0) of ``nscount``: ``retrans << ns``, divided by ``nscount``
    for every server but the first, at least 1.  So with 3 servers and ``timeout:5``
    the waits are 5, 3 and 6 seconds (checked against the real library); with 1 or 2
    servers each wait is ``timeout``."""
    seconds = int(timeout) << ns
    if ns > 0:
        seconds //= nscount
    return float(max(seconds, 1))

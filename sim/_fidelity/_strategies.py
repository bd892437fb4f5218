"""Hypothesis strategies for differential cases (``tests/fidelity``, ``sim fidelity``).

What varies, as issue 8 lists it:

- resolv.conf: 1-4 nameservers (Go reads only the first 3), some down; 0-6 search
  domains (``.`` and a label over 63 bytes included); ``ndots`` 0-15 or a bad value
  (``ndots:five``); ``timeout:1``; ``attempts`` 1-3; ``rotate``, ``single-request``,
  ``single-request-reopen``, ``use-vc``, ``edns0``, unknown options; ``#``/``;``
  comments at line start and after values; CRLF line ends;
- nameserver lines Go's ``dnsReadConfig`` ignores (``IP:53``, ``IP:5353``, ``IP:abc``,
  a host name), among the others;
- the name: 0-4 dots, trailing dot, mixed case, a label over 63 bytes, IP literals,
  ``localhost`` (any case: answered from /etc/hosts);
- per candidate name and query type, faultdns faults: NXDOMAIN, NODATA, SERVFAIL,
  REFUSED, drop, delay, truncation; and, once faultdns understands them, NOTIMP,
  FORMERR, an extended RCODE, a lame referral, a TC reply cut at 512 bytes, TCP-only;
  CNAME chains in the zone.  About one lookup in six drops the first name Go asks on
  one server (a DNS timeout; ``attempts`` at most 2 then, so it costs 1-2 s);
- HTTP (a fifth of the cases): refused, silence at connect, reset, EOF mid-body,
  silence at headers/body, dribbled headers/body (some outlasting the 1 s timeout),
  status other than 200 (with a body that resets or goes silent), redirects 301, 302,
  303, 307, 308 to the same host and to another; targets with two addresses (the first
  silent at connect or refusing, the second answering).

Draws are arranged so that shrinking (toward 0, the first choice, False) switches
options and faults *off*: a minimal disagreement carries only what it needs.  Cost is
bounded by construction, so a case takes at most a few seconds: silence
(``drop``) only ever matches one candidate name, on one nameserver, and delays are
short and matched too.
"""

from __future__ import annotations

import functools

from hypothesis import strategies as st

import faultdns
from sim._fidelity._case import Case, ServerPlan
from sim._fidelity._http import MIRROR_HOST

__all__ = ["cases", "supported_action"]

_SEARCH = (
    "svc.cluster.local",
    "harvester-system.svc.cluster.local",
    "a.test",
    "B.Test",
    ".",
    "x" * 64 + ".test",
)
_LABELS = ("repo", "upgrade-repo-x", "Repo", "a", "harvester-system", "svc")
_LITERALS = ("10.1.2.3", "127.0.0.1", "::1", "fe80::1", "localhost", "LocalHost")
_ADDRESSES = ("10.0.0.1", "10.0.0.2", "fd00::1")
_BASE_ACTIONS = ("nxdomain", "nodata", "servfail", "refused", "truncate")
_NEW_ACTIONS = ("rcode=NOTIMP", "rcode=FORMERR", "rcode=16", "lame", "truncate=512", "tcponly")
_HTTP = (
    "ok",
    "status=404",
    "status=503",
    "status-reset=500",
    "status-silent=404",
    "redirect",
    "redirect=301",
    "redirect=303",
    "redirect=307",
    "redirect=308",
    "redirect-host=302",
    "redirect-host=301",
    "redirect-host=307",
    "redirect-loop",
    "reset",
    "eof-body",
    "silent-headers",
    "silent-body",
    "dribble-headers=0.2x3",
    "dribble-body=0.2x3",
    # these outlast the 1 s Client.Timeout (0.3 s x 5 bytes)
    "dribble-headers=0.3x5",
    "dribble-body=0.3x5",
)
# Nameserver lines Go's dnsReadConfig ignores (netip.ParseAddr fails): {i} is a server.
_IGNORED_NAMESERVERS = ("{{ns{i}}}:53", "{{ns{i}}}:5353", "{{ns{i}}}:abc", "dns.example")


@functools.cache
def supported_action(spec: str) -> bool:
    """Whether this faultdns understands ``spec`` (new actions are being added to it)."""
    try:
        faultdns.parse_fault(spec)
    except faultdns.FaultSpecError:
        return False
    return True


def _actions() -> tuple[str, ...]:
    return _BASE_ACTIONS + tuple(a for a in _NEW_ACTIONS if supported_action(a))


@st.composite
def _name(draw: st.DrawFn, *, for_url: bool) -> str:
    if not for_url and draw(st.integers(0, 9)) == 9:
        return draw(st.sampled_from(_LITERALS))
    labels = draw(st.lists(st.sampled_from(_LABELS), min_size=1, max_size=5))
    if not for_url and draw(st.integers(0, 14)) == 14:
        labels[-1] = "y" * 64
    name = ".".join(labels)
    if draw(st.booleans()) and draw(st.booleans()):
        name += "."
    return name


def _candidates(name: str, search: list[str]) -> list[str]:
    """Names a resolver may ask for: the name as given and with each search suffix.

    Only to aim records and faults at likely queries; which are really asked, and in
    which order, is what the two sides are compared on.
    """
    bare = name.rstrip(".")
    out = [bare]
    if not name.endswith("."):
        out += [f"{bare}.{s.rstrip('.')}" for s in search if s.rstrip(".")]
    return [c for c in out if _zone_name(c)]


def _first_asked(name: str, search: list[str], ndots: str) -> str:
    """The first name Go's ``dnsConfig.nameList`` asks for (``net/dnsclient_unix.go``):
    a rooted name alone; else the name first when it has at least ``ndots`` dots
    (``dnsReadConfig``: ``dtoi``, so a bad value reads as 0; capped at 15), else the first
    search suffix.  "" when that name cannot be held in a zone (nothing to aim at)."""
    bare = name.rstrip(".")
    dots = min(int(ndots), 15) if ndots.isdigit() else (1 if ndots == "" else 0)
    suffixes = [x.rstrip(".") for x in search if x.rstrip(".")]
    if name.endswith(".") or name.count(".") >= dots or not suffixes:
        first = bare
    else:
        first = f"{bare}.{suffixes[0]}"
    return first if _zone_name(first) else ""


def _zone_name(name: str) -> bool:
    """A name faultdns can hold (labels of 1-63 letters, digits, ``-``, ``_``)."""
    labels = name.split(".")
    return len(name) <= 253 and all(
        0 < len(label) <= 63 and all(ch.isalnum() or ch in "-_" for ch in label) for label in labels
    )


@st.composite
def _fault(draw: st.DrawFn, candidates: list[str], silence_ok: bool) -> tuple[str, str]:
    """A fault spec and its kind (for the agreement table)."""
    choices = list(_actions()) + ["delay"] + (["drop"] if silence_ok else [])
    action = draw(st.sampled_from(choices))
    parts: list[str] = []
    match = draw(st.sampled_from([None, *candidates]))
    if action in ("drop", "delay") and not candidates:
        action = "servfail"
    if action in ("drop", "delay"):
        match = draw(st.sampled_from(candidates))
        if action == "delay":
            action = f"delay={draw(st.sampled_from((50, 200, 400)))}ms"
    parts.append(action)
    if match is not None:
        parts.append(f"match={match}")
    qtype = draw(st.sampled_from((None, None, "A", "AAAA")))
    if draw(st.integers(0, 4)) == 4:
        # An activation counter shared by A and AAAA would go to whichever query Go's
        # goroutines send first: a race the plan itself makes.  Count one type only.
        qtype = qtype or draw(st.sampled_from(("A", "AAAA")))
        parts.append(f"first={draw(st.integers(1, 2))}")
    if qtype is not None:
        parts.append(f"qtype={qtype}")
    return " ".join(parts), action.split("=")[0] if action.startswith("delay") else action


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """One generated :class:`~sim._fidelity.Case` (``kinds`` lists what it exercises)."""
    kinds: list[str] = []
    http = draw(st.integers(0, 4)) == 4
    n_servers = draw(st.integers(1, 4))
    down = [draw(st.integers(0, 3)) == 3 for _ in range(n_servers)]
    if all(down) and not draw(st.booleans()):
        down[0] = False
    search = draw(st.lists(st.sampled_from(_SEARCH), max_size=6))
    name = draw(_name(for_url=http))
    candidates = _candidates(name, search)

    # resolv.conf
    lines: list[str] = []
    comment = draw(st.sampled_from(("", "# pod dns", "; generated")))
    if comment:
        lines.append(comment)
        kinds.append("comment")
    if search or draw(st.integers(0, 9)) == 9:
        lines.append("search" + "".join(f" {s}" for s in search))
    for i in range(n_servers):
        trailing = " # cluster dns" if draw(st.integers(0, 7)) == 7 else ""
        lines.append(f"nameserver {{ns{i}}}{trailing}")
        if trailing:
            kinds.append("comment after value")
    if draw(st.integers(0, 7)) == 7:
        ignored = draw(st.sampled_from(_IGNORED_NAMESERVERS)).format(i=n_servers - 1)
        at = draw(st.integers(0, n_servers))
        lines.insert(len(lines) - n_servers + at, f"nameserver {ignored}")
        kinds.append("ignored nameserver")
    options = ["timeout:1"]
    ndots = draw(st.sampled_from(("", "0", "1", "2", "5", "15", "16", "five")))
    if ndots:
        options.append(f"ndots:{ndots}")
        if not ndots.isdigit():
            kinds.append("bad value")
    # A DNS timeout on the first name Go asks (bounded: attempts <= 2, one server).
    first = _first_asked(name, search, ndots)
    timeout_server = -1
    if not http and first and draw(st.integers(0, 5)) == 5:
        timeout_server = draw(st.integers(0, n_servers - 1))
        down[timeout_server] = False
    attempts = draw(st.integers(1, 2 if timeout_server >= 0 else 3))
    options.append(f"attempts:{attempts}")
    for flag in ("rotate", "single-request", "single-request-reopen", "use-vc", "edns0", "foo:1"):
        if draw(st.integers(0, 5)) == 5:
            options.append(flag)
            kinds.append(flag if flag != "foo:1" else "unknown option")
    lines.append("options " + " ".join(draw(st.permutations(options))))
    crlf = draw(st.integers(0, 7)) == 7
    if crlf:
        kinds.append("crlf")
    resolv_conf = ("\r\n" if crlf else "\n").join(lines) + ("\r\n" if crlf else "\n")

    # zone
    records: list[str] = []
    target = draw(st.sampled_from(("{http}", "{http}", "{refused}", "{blackhole}")))
    two = http and target != "{http}" and draw(st.booleans())
    if two:
        kinds.append("two addresses")
    for candidate in candidates:
        roll = draw(st.integers(0, 5))
        if roll == 0:
            records.append(f"{candidate}={target if http else draw(st.sampled_from(_ADDRESSES))}")
            if two:  # the first address fails (silent or refusing), the second answers
                records.append(f"{candidate}={{http}}")
        elif roll == 1 and not http:
            records.append(f"{candidate}=fd00::2")
        elif roll == 2:
            records.append(f"{candidate} CNAME cname-target.test")
            records.append(f"cname-target.test={target if http else '10.0.0.9'}")
            kinds.append("cname")

    # faults: at most one server may be silent, and only for one candidate
    silent_server = draw(st.integers(0, n_servers - 1)) if draw(st.integers(0, 4)) == 4 else -1
    plans: list[ServerPlan] = []
    for i in range(n_servers):
        if down[i]:
            plans.append(ServerPlan(down=True))
            kinds.append("down")
            continue
        specs: list[str] = []
        if i == timeout_server:
            qtype = draw(st.sampled_from(("", " qtype=A", " qtype=AAAA")))
            specs.append(f"drop match={first}{qtype}")
            kinds.append("dns timeout")
        for _ in range(draw(st.integers(0, 2))):
            silence_ok = i == silent_server and not specs and timeout_server < 0
            spec, kind = draw(_fault(candidates, silence_ok=silence_ok))
            specs.append(spec)
            kinds.append(kind)
        plans.append(ServerPlan(tuple(specs)))

    behaviour = "ok"
    if http:
        behaviour = draw(st.sampled_from(_HTTP))
        kinds.append(f"http:{behaviour.split('=')[0]}")
        if behaviour.startswith("redirect-host"):
            records.append(f"{MIRROR_HOST}={{http}}")
        if target != "{http}":
            kinds.append(f"http:{target.strip('{}')}")
    return Case(
        resolv_conf,
        tuple(plans),
        lookup=None if http else name,
        get=f"http://{name}" if http else None,
        records=tuple(dict.fromkeys(records)),
        http=behaviour,
        timeout=1.0,
        label=",".join(dict.fromkeys(kinds)) or "plain",
        kinds=tuple(dict.fromkeys(kinds)),
    )

"""``faultdns.patch_getaddrinfo``: Python's resolver through faultdns, failing as glibc.

Inside ``with patch_getaddrinfo(server, search=..., ndots=..., options=...)``,
``socket.getaddrinfo`` asks ``server`` (a :class:`~faultdns.FaultDNSServer`, or
``(host, port)``, or a list of either: the nameservers in order) the way glibc's stub
resolver would, and fails with the ``socket.gaierror`` code and message glibc gives for
the same replies.  Everything built on ``socket.getaddrinfo`` follows: ``urllib``,
``requests``, ``httpx``, ``asyncio``'s ``loop.getaddrinfo`` (it calls the module
attribute in an executor) and so aiohttp's default ``ThreadedResolver``.

The decisions (search walk, what a reply means, which error wins) are glibc's, kept in
:mod:`faultdns._glibc`; this module sends the queries (dnslib for the wire format):
per candidate an A and an AAAA query on one UDP socket (one after the other with
``single-request``), a truncated reply asked again over TCP (``use-vc``: TCP from the
start), ``attempts`` rounds over the nameservers, each try waiting ``timeout`` seconds;
when one of the pair times out after the other was answered, the same server is asked
again in single-request, then single-request-reopen mode, as ``send_dg`` does
(:func:`faultdns._glibc.udp_retry`), and that thread stays in that mode.  Those waits
are real time (socket timeouts, as in glibc's ``poll``): a server on a
:class:`~faultdns.ManualClock` still moves its fault windows only when the test says so,
but a ``drop`` costs the patched lookup ``timeout`` real seconds.
``None``, ``AI_NUMERICHOST`` and the names of the hosts file ``faultdns run`` mounts
(``localhost``, ``ip6-localhost``, ``ip6-loopback``) go to the real ``getaddrinfo``
untouched.  Every other call is first put to the real ``getaddrinfo`` with
``AI_NUMERICHOST``, which looks nothing up: a numeric host in any form ``inet_aton``
takes (``127.1``) or ``*`` is answered by it, and its own errors (bad flags, family,
service or socket type; Python's IDNA encoding) are raised as they are, before any
query, as glibc checks them before it asks NSS.  A host that is not a host name
(:func:`faultdns._glibc.hostname_ok`) fails ``EAI_NONAME`` with nothing sent.  A str
host is sent as Python encodes it (IDNA), bytes as they are.  ``AF_INET6`` with
``AI_V4MAPPED`` (and ``AI_ALL``) looks up AAAA then A, as glibc does.  Every found
address goes back through the real ``getaddrinfo`` (with ``AI_NUMERICHOST``), so ports,
service names, socket types and ``AI_*`` flags behave as unpatched.  Addresses are
returned A records first, then AAAA, in the order of the answers (glibc sorts by RFC
6724; with one family, the order is the server's).
"""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import dnslib

from faultdns._glibc import (
    Candidate,
    HErrno,
    Reply,
    ResolverOptions,
    check_resolv_option,
    classify,
    gai_code,
    hostname_ok,
    judge_pair,
    name_labels,
    search_walk,
    send_dg_timeout,
    server_usable,
    udp_retry,
    v4mapped_code,
)
from faultdns._sandbox import HOSTS

__all__ = ["patch_getaddrinfo"]

#: Names the hosts file ``faultdns run`` mounts holds (localhost and its IPv6 aliases).
_LOCAL_NAMES = frozenset(name.lower() for line in HOSTS.splitlines() for name in line.split()[1:])
_QTYPES: dict[int, tuple[str, ...]] = {int(socket.AF_INET): ("A",), int(socket.AF_INET6): ("AAAA",)}
_lock = threading.Lock()


def _address(server: Any) -> tuple[str, int]:
    if isinstance(server, tuple):
        return str(server[0]), int(server[1])
    host, port = server.address
    return str(host), int(port)


@contextlib.contextmanager
def patch_getaddrinfo(
    server: Any,
    *,
    search: Sequence[str] = (),
    ndots: int = 1,
    options: Sequence[str] = (),
) -> Iterator[None]:
    """Patch ``socket.getaddrinfo`` while inside (see the module docstring).

    ``server``: a FaultDNSServer, a ``(host, port)`` pair, or a list of them.
    ``search``: the search list; ``ndots`` (0-15); ``options``: resolv.conf option
    words (``"timeout:1"``, ``"attempts:1"``, ``"single-request"``, ``"use-vc"``,
    ``"no-tld-query"``, ``"no-aaaa"``; any word of
    :data:`faultdns._glibc.RESOLV_OPTIONS`).  Raises ``ValueError`` naming the word for
    an unknown option or a bad value (``faultdns run --resolv-option`` refuses the same
    words), ``TypeError`` when ``search`` or ``options`` is one string rather than a
    list of them.  Nested patches restore each other in order.
    """
    for what, value in (("search", search), ("options", options)):
        if isinstance(value, (str, bytes)):
            raise TypeError(f"patch_getaddrinfo {what}={value!r}: expected a list of strings")
    for word in options:
        try:
            check_resolv_option(word)
        except ValueError as exc:
            raise ValueError(f"patch_getaddrinfo options: {exc}") from None
    servers = server if isinstance(server, list) else [server]
    addresses = [_address(s) for s in servers]
    opts = ResolverOptions.parse(ndots, options)
    original = socket.getaddrinfo
    state = _ThreadState()
    patched = functools.partial(_getaddrinfo, original, addresses, tuple(search), opts, state)
    with _lock:
        socket.getaddrinfo = functools.wraps(original)(patched)
    try:
        yield
    finally:
        with _lock:
            socket.getaddrinfo = original


class _ThreadState(threading.local):
    """glibc's per-thread ``_res`` options that a lookup changes for the next ones:
    once ``send_dg`` has switched to single-request (and -reopen) mode, that thread's
    later queries start in it (``statp->options |= RES_SNGLKUP``; kept while
    resolv.conf is unchanged, ``maybe_init`` in resolv/resolv_context.c)."""

    def __init__(self) -> None:
        self.single = False
        self.reopen = False


def _getaddrinfo(
    original: Any,
    servers: list[tuple[str, int]],
    search: tuple[str, ...],
    opts: ResolverOptions,
    state: _ThreadState,
    host: str | bytes | None,
    port: Any,
    family: int = 0,
    type: int = 0,
    proto: int = 0,
    flags: int = 0,
) -> list[Any]:
    if host is None or flags & socket.AI_NUMERICHOST or _local(host):
        return list(original(host, port, family, type, proto, flags))
    try:
        # The real library's own checks first, with no lookup: a numeric host in any
        # form inet_aton takes ("127.1", "0x7f000001"), "*", the flags, the family, the
        # service and socket type (EAI_SERVICE, EAI_SOCKTYPE...), and Python's IDNA
        # encoding of a str host (UnicodeError).  Only EAI_NONAME means "a name to look
        # up" (getaddrinfo.c checks all of these before it asks NSS).
        original(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
    except socket.gaierror as exc:
        if exc.errno != socket.EAI_NONAME:
            raise
    else:
        return list(original(host, port, family, type, proto, flags))
    looked_up = _addrconfig_family(original, family, flags)
    if looked_up is None:  # AI_ADDRCONFIG: no address of that family here
        return list(original(host, port, family, type, proto, flags))  # fails, no lookup
    family = looked_up
    # What glibc is given: a str as Python encodes it (IDNA), bytes as they are.
    raw = host.encode("idna") if isinstance(host, str) else bytes(host)
    if not hostname_ok(raw):
        raise socket.gaierror(socket.EAI_NONAME, _strerror(socket.EAI_NONAME))
    name = raw.decode("ascii")
    if family == socket.AF_INET6 and flags & socket.AI_V4MAPPED:
        # gaih_inet: AAAA first, then A (mapped) when none was found or AI_ALL says so
        found, herrno6 = _lookup(servers, name, ("AAAA",), search, opts, state)
        if not found or flags & socket.AI_ALL:
            found4, herrno4 = _lookup(servers, name, ("A",), search, opts, state)
            if not found and not found4:
                code = v4mapped_code(herrno6, herrno4)
                raise socket.gaierror(code, _strerror(code))
            found += found4
    else:
        qtypes = _QTYPES.get(family, ("A",) if opts.no_aaaa else ("A", "AAAA"))
        found, herrno = _lookup(servers, name, qtypes, search, opts, state)
        if herrno is not HErrno.SUCCESS:
            code = gai_code(herrno)
            raise socket.gaierror(code, _strerror(code))
    results: list[Any] = []
    for _, address in found:
        for entry in original(address, port, family, type, proto, flags | socket.AI_NUMERICHOST):
            results.append(entry)
    if results and flags & socket.AI_CANONNAME:
        # glibc: the owner of the address records (a CNAME's target), as the server wrote it
        results[0] = (*results[0][:3], found[0][0], results[0][4])
    return results


def _addrconfig_family(original: Any, family: int, flags: int) -> int | None:
    """The family glibc looks up with ``AI_ADDRCONFIG`` (getaddrinfo.c, before any
    lookup): ``AF_UNSPEC`` narrowed to the one family this machine has a non-loopback
    address of (neither or both: unchanged); None when the family asked for has none
    (the real library then fails ``EAI_NONAME``).  Which families are configured is
    the real library's own answer (``__check_pf``), asked with a numeric probe."""
    if not flags & socket.AI_ADDRCONFIG:
        return family

    def configured(probe: str, probe_family: int) -> bool:
        try:
            original(probe, None, probe_family, 0, 0, socket.AI_ADDRCONFIG | socket.AI_NUMERICHOST)
        except socket.gaierror:
            return False
        return True

    inet, inet6 = configured("127.0.0.1", socket.AF_INET), configured("::1", socket.AF_INET6)
    if family == socket.AF_UNSPEC:
        if inet == inet6:
            return family
        return int(socket.AF_INET if inet else socket.AF_INET6)
    if (family == socket.AF_INET and not inet) or (family == socket.AF_INET6 and not inet6):
        return None
    return family


def _local(host: str | bytes) -> bool:
    """A name the hosts file under ``faultdns run`` holds (:data:`HOSTS`): left to the
    real library, as the issue asks for ``localhost``.  Matched as nss_files matches,
    ignoring case only: ``localhost.`` is not in the hosts file, so glibc asks DNS for
    it (and under ``faultdns run``, faultdns), and so does the patch."""
    name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
    return name.lower() in _LOCAL_NAMES


def _lookup(
    servers: list[tuple[str, int]],
    name: str,
    qtypes: tuple[str, ...],
    search: tuple[str, ...],
    opts: ResolverOptions,
    state: _ThreadState,
) -> tuple[list[tuple[str, str]], HErrno]:
    """One search walk for ``qtypes``: the (owner, address) pairs found, and h_errno."""
    walk = search_walk(name, search, opts.ndots, opts.no_tld_query)
    found: list[tuple[str, str]] = []
    try:
        candidate = next(walk)
        while True:
            outcome, found = _ask(servers, candidate, qtypes, opts, state)
            candidate = walk.send(outcome)
    except StopIteration as stop:
        herrno, _ = stop.value
    return (found if herrno is HErrno.SUCCESS else []), herrno


@functools.cache
def _strerror(code: int) -> str:
    """The C library's ``gai_strerror`` text (what Python's own gaierror carries)."""
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.gai_strerror.restype = ctypes.c_char_p
    text: bytes | None = libc.gai_strerror(code)
    return text.decode() if text else f"getaddrinfo error {code}"


def _ask(
    servers: list[tuple[str, int]],
    name: str,
    qtypes: tuple[str, ...],
    opts: ResolverOptions,
    state: _ThreadState,
) -> tuple[Candidate, list[tuple[str, str]]]:
    """One candidate: ``attempts`` rounds over the servers until one's replies end it.
    A candidate with no wire form (a search domain made it too long) is NO_RECOVERY
    with nothing sent (``res_nmkquery`` fails in ``__res_context_query``)."""
    if name_labels(name.encode("ascii")) is None:
        return Candidate(HErrno.NO_RECOVERY), []
    # no try at all (attempts:0): res_send's "not gotsomewhere", ECONNREFUSED
    replies: list[Reply] = [Reply.UNREACHABLE]
    addresses: list[tuple[str, str]] = []
    for _ in range(opts.attempts):
        for ns, server in enumerate(servers):
            wait = send_dg_timeout(opts.timeout, ns, len(servers))
            replies, addresses = _ask_server(server, name, qtypes, opts, state, wait)
            if server_usable(replies):
                return judge_pair(replies), addresses
    return judge_pair(replies), []


def _parse(data: bytes, qtype: str) -> tuple[Reply, list[tuple[str, str]]]:
    try:
        record = dnslib.DNSRecord.parse(data)
    except Exception:  # a reply glibc cannot parse is no reply: wait on
        return Reply.TIMEOUT, []
    header = record.header
    found = [
        (str(rr.rname).rstrip("."), str(rr.rdata))
        for rr in record.rr
        if dnslib.QTYPE.get(rr.rtype) == qtype
    ]
    reply = classify(
        header.rcode,
        len(found),
        bool(header.aa),
        bool(header.ra),
        bool(header.tc),
        len(record.rr) + len(record.auth) + len(record.ar),
    )
    return reply, found


def _query(name: str, qtype: str) -> tuple[int, bytes]:
    # the labels as ns_name_pton reads them (escapes included); checked by _ask
    labels = name_labels(name.encode("ascii")) or ()
    request = dnslib.DNSRecord.question(dnslib.DNSLabel(list(labels)), qtype)
    return request.header.id, request.pack()


def _ask_server(
    server: tuple[str, int],
    name: str,
    qtypes: tuple[str, ...],
    opts: ResolverOptions,
    state: _ThreadState,
    udp_timeout: float,
) -> tuple[list[Reply], list[tuple[str, str]]]:
    """One try at one server: each query's reply, and the addresses answered; a UDP
    reply is waited for ``udp_timeout`` seconds (:func:`send_dg_timeout`)."""
    if opts.use_vc:
        results = [_ask_tcp(server, name, qtype, opts.timeout) for qtype in qtypes]
    else:
        single = opts.single_request or state.single
        reopen = opts.single_request_reopen or state.reopen
        while True:
            results = _ask_udp(server, name, qtypes, udp_timeout, single=single or reopen)
            again = udp_retry([reply for reply, _ in results], single, reopen)
            if again is None:
                break
            single, reopen = True, again == "reopen" or reopen
            state.single, state.reopen = single or state.single, reopen or state.reopen
        if udp_retry([reply for reply, _ in results], False, False) is not None:
            # still one reply missing after both retries: glibc returns what it has
            results = [(Reply.MISSING, []) if r is Reply.TIMEOUT else (r, f) for r, f in results]
    for i, (reply, _) in enumerate(results):
        if reply is Reply.TRUNCATED:
            results[i] = _ask_tcp(server, name, qtypes[i], opts.timeout)
    return [reply for reply, _ in results], [a for _, found in results for a in found]


def _ask_udp(
    server: tuple[str, int], name: str, qtypes: tuple[str, ...], timeout: float, *, single: bool
) -> list[tuple[Reply, list[tuple[str, str]]]]:
    """The queries on one UDP socket, all at once or (``single``) each after the
    previous one's reply; a query not answered within ``timeout`` of being sent is a
    TIMEOUT, and in single mode the ones after it are never sent (TIMEOUT too)."""
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    results: list[tuple[Reply, list[tuple[str, str]]]] = [(Reply.TIMEOUT, []) for _ in qtypes]
    batches = [[i] for i in range(len(qtypes))] if single else [list(range(len(qtypes)))]
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(server)
        except ConnectionRefusedError:
            return [(Reply.UNREACHABLE, []) for _ in qtypes]
        for batch in batches:
            pending: dict[int, int] = {}  # query id -> index in qtypes
            try:
                for index in batch:
                    query_id, wire = _query(name, qtypes[index])
                    pending[query_id] = index
                    sock.send(wire)
            except ConnectionRefusedError:
                return [(Reply.UNREACHABLE, []) for _ in qtypes]
            _collect(sock, pending, qtypes, results, timeout)
            if pending:  # timed out (or unreachable): nothing more is sent
                break
    return results


def _collect(
    sock: socket.socket,
    pending: dict[int, int],
    qtypes: tuple[str, ...],
    results: list[tuple[Reply, list[tuple[str, str]]]],
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        sock.settimeout(left)
        try:
            data = sock.recv(65535)
        except TimeoutError:
            return
        except ConnectionRefusedError:
            for index in pending.values():
                results[index] = (Reply.UNREACHABLE, [])
            return
        if len(data) < 2:
            continue
        answered = pending.pop(struct.unpack("!H", data[:2])[0], None)
        if answered is not None:  # else a late reply to an earlier try: ignored
            results[answered] = _parse(data, qtypes[answered])


def _ask_tcp(
    server: tuple[str, int], name: str, qtype: str, timeout: float
) -> tuple[Reply, list[tuple[str, str]]]:
    _, wire = _query(name, qtype)
    try:
        with socket.create_connection(server, timeout=timeout) as sock:
            sock.sendall(struct.pack("!H", len(wire)) + wire)
            length = struct.unpack("!H", _read(sock, 2))[0]
            return _parse(_read(sock, length), qtype)
    except ConnectionRefusedError:
        return Reply.UNREACHABLE, []
    except OSError:  # timed out, reset or closed before a whole reply
        return Reply.TIMEOUT, []


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("closed mid-reply")
        data += chunk
    return data

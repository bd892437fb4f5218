"""A raw DNS-over-TCP server that frames its reply with a length prefix of our choosing.

faultdns always frames a reply with its own length (RFC 1035 section 4.2.2); this one
writes the two bytes itself, so a test can send what ``spec.go_dns.TCP_FRAMING``
describes: a prefix shorter than the message with the rest following, a prefix longer
than the message and then a close (FIN) or silence.  It answers every connection the
same way (``repo.example.`` A: the reply named by ``StreamFraming.reply``), so a client
that goes on to its next attempt meets the same framing again.  Used by
``tests/cleanup/test_resolver_framing.py`` (cleanup's resolver) and
``tests/fidelity/test_spec_go_framing.py`` (Go 1.23 itself).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dnslib

from tests.sim.spec.go_dns import StreamFraming

__all__ = ["FRAMED_NAME", "framing_server", "reply_for"]

#: the name every case asks for (A only)
FRAMED_NAME = "repo.example."


def reply_for(query: bytes, reply: str) -> bytes:
    """The message :class:`StreamFraming` calls ``reply`` (``one``, ``two`` or
    ``nxdomain``) for ``query`` (its ID and question echoed), without EDNS, so its
    layout is the one the table states (one A record: 46 bytes)."""
    asked = dnslib.DNSRecord.parse(query)
    rcode = 3 if reply == "nxdomain" else 0
    header = dnslib.DNSHeader(id=asked.header.id, qr=1, aa=1, rd=1, ra=1, rcode=rcode)
    message = dnslib.DNSRecord(header, q=asked.q)
    for n in range({"one": 1, "two": 2, "nxdomain": 0}[reply]):
        record = dnslib.RR(asked.q.qname, dnslib.QTYPE.A, rdata=dnslib.A(f"10.0.0.{n + 1}"), ttl=60)
        message.add_answer(record)
    packed: bytes = message.pack()
    return packed


def _answer(conn: socket.socket, case: StreamFraming) -> None:
    with conn:
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        message = reply_for(data[2:], case.reply)
        # one write: the prefix and the whole message reach the client together, as the
        # rest of a short frame does from a real server that wrote its reply at once
        conn.sendall(struct.pack("!H", case.prefix) + message)
        if not case.closes:
            conn.settimeout(30.0)
            with contextlib.suppress(OSError):
                conn.recv(1)  # silent until the client closes (or 30 s pass)


@contextmanager
def framing_server(case: StreamFraming) -> Iterator[tuple[str, int]]:
    """A TCP server on 127.0.0.1 answering every connection as ``case`` says; yields
    its ``(host, port)``.  Each connection is served on its own daemon thread."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)  # so that the accepting thread sees ``stop`` soon
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=_answer, args=(conn, case), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    host, port = listener.getsockname()
    try:
        yield host, port
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()

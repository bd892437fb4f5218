"""The server's TCP clients: DNS messages over TCP (RFC 1035 4.2.2, RFC 7766).

Messages are 2-byte length-prefixed, many per connection, answered in order through
the server's cache and rules (:func:`faultdns._answer.handle_tcp`); a ``frame=`` rule
puts a prefix that disagrees with its reply (:func:`frame_prefix`, pure, the shapes'
meaning; the language that spells them is :mod:`faultdns._faults`).  The
guards of RFC 7766 section 6 live here: in :class:`TCPConnection` (one client:
eviction at the connection cap, small send buffers, reading paused while the client
does not read) and in :class:`TCPSweeper` (the idle and write timeouts over all open
connections, shrinking under pressure), which reads what each connection records.
The timeouts are resource guards and run on the event loop's real time, not on the
server's injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import TYPE_CHECKING, Any

from faultdns._answer import handle_tcp
from faultdns._held import Held
from faultdns._sockq import unsent_bytes

if TYPE_CHECKING:
    from faultdns._server import FaultDNSServer

__all__ = ["TCPConnection", "TCPSweeper", "frame_prefix"]

_DNS_HEADER = 12  # bytes (RFC 1035 section 4.1.1)
_TCP_SNDBUF = 64 * 1024  # kernel send buffer per TCP client (bytes)
_TCP_WRITE_HIGH = 16 * 1024  # replies buffered in the transport before reading pauses
_BUSY_SHARE = 0.75  # TCP slots in use from which the shorter timeouts apply
_SWEEP_INTERVAL = 0.25  # seconds between TCP timeout sweeps (at most)


def frame_prefix(shape: str, length: int) -> tuple[int, bool]:
    """The length prefix ``frame=shape`` puts before a reply of ``length`` bytes, and
    whether the server closes the connection after the reply (a prefix past the reply's
    end, except ``hang``, which stays silent).  ``shape`` is a canonical ``frame=``
    value (:data:`faultdns._faults.FRAME_SHAPES` or decimal bytes 0..65535).  RFC 1035
    section 4.2.2 frames a message with its own length; these prefixes disagree with it
    on purpose."""
    if shape == "short":
        return _DNS_HEADER, False  # the header (RFC 1035 section 4.1.1) alone
    if shape == "long":
        return length + 1, True
    if shape == "hang":
        return length + 1, False
    prefix = int(shape)
    return prefix, prefix > length


class TCPConnection(asyncio.Protocol):
    """One TCP client: length-prefixed messages in, replies out (RFC 1035 4.2.2, RFC 7766).

    :class:`TCPSweeper` enforces the timeouts; this object only records what they are
    measured from: ``useful_at`` (loop time of the last *complete* message, or of the
    connect) and ``stalled_since`` (loop time since when our unsent replies have not
    moved).

    A client that half-closes (EOF after its queries) still gets the replies to the
    queries it sent, delayed ones included: EOF only says no more queries will come,
    and the client can still read (RFC 7766 section 6.2.4 stops replies once a session
    is closed or interrupted, which a reset or a failed write shows).  The connection
    closes once none is held and everything is written; a held reply whose connection
    goes away is logged as a drop.
    """

    def __init__(self, server: FaultDNSServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.sock: socket.socket | None = None
        self.buffer = bytearray()
        self.peer: Any = None
        self.useful_at = 0.0
        self.held: set[Held] = set()  # replies held by delay= for this client
        self.written = 0  # bytes handed to the transport
        self.acked = 0  # written minus unsent, at the last sweep
        self.stalled_since = 0.0
        self.closed = False
        self.eof = False  # the client half-closed: no more questions will come

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        self.sock = transport.get_extra_info("socket")
        server = self.server
        conns = server._tcp_conns
        while len(conns) >= server.max_tcp_connections and conns:
            # At the cap (RFC 7766 section 6.2.2 lets a server limit concurrent
            # connections) the newcomer is served and the least recently useful client
            # goes: refusing newcomers would let idle or hostile connections lock every
            # legitimate client out.
            victim = next(iter(conns))
            server._tcp_evicted += 1
            victim.abort()
        # Small send buffers: a client that does not read is noticed (paused, then
        # timed out) after a few kilobytes of replies, not after the server answered
        # megabytes of its questions for nobody.
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _TCP_SNDBUF)
        transport.set_write_buffer_limits(high=_TCP_WRITE_HIGH)
        loop = server._require_loop()
        self.useful_at = self.stalled_since = loop.time()
        conns[self] = None
        server._tcp_total += 1
        server._sweeper.watch()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.buffer += data
        self._drain()

    def _drain(self) -> None:
        """Answer the complete messages buffered, until the client stops reading.

        One read can hold thousands of pipelined questions; once the replies back up
        (``pause_writing``) the rest wait in the buffer until the client reads, so a
        client that never reads costs a bounded amount of work.
        """
        server = self.server
        buffer = self.buffer
        transport = self.transport
        while len(buffer) >= 2 and transport is not None and transport.is_reading():
            size = (buffer[0] << 8) | buffer[1]
            if len(buffer) < 2 + size:
                break
            message = bytes(buffer[2 : 2 + size])
            del buffer[: 2 + size]
            # Only a complete message makes a connection useful (RFC 7766 6.2.3): a
            # client dribbling bytes of one keeps no slot, nor one sending frames too
            # short to hold a DNS header (two zero bytes make an empty "message").
            if size >= _DNS_HEADER:
                self.useful_at = server._require_loop().time()
                conns = server._tcp_conns
                if self in conns:
                    conns.move_to_end(self)
            handle_tcp(server, message, self)
            if self.closed:
                return

    def eof_received(self) -> bool:
        """Keep the connection (return True) for the replies still owed.

        asyncio's default closes the transport on EOF, which dropped replies held by
        ``delay=`` without a word (issue 10 review).
        """
        self.eof = True
        self.finish_if_done()
        return True

    def finish_if_done(self) -> None:
        """After EOF: close once no reply is held and the transport has written all.

        Bytes already in the kernel's send queue are delivered before the FIN by a
        plain close; bytes still in the transport's buffer (a client that does not
        read) are left to the sweeper's write timeout.
        """
        transport = self.transport
        if (
            self.eof
            and not self.closed
            and not self.held
            and transport is not None
            and transport.get_write_buffer_size() == 0
        ):
            self.closed = True
            self.server._tcp_conns.pop(self, None)
            transport.close()

    def send(self, reply: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(len(reply).to_bytes(2, "big") + reply)
            self.written += 2 + len(reply)

    def send_framed(self, reply: bytes, shape: str) -> None:
        """Send ``reply`` under the length prefix ``frame=shape`` gives it
        (:func:`frame_prefix`), in one write, so the bytes after a short
        prefix reach the client with it; then close (FIN, after the bytes are written)
        when the prefix runs past the reply, unless the shape is ``hang``."""
        if self.closed or self.transport is None:
            return
        prefix, closes = frame_prefix(shape, len(reply))
        self.transport.write(prefix.to_bytes(2, "big") + reply)
        self.written += 2 + len(reply)
        if closes:
            # asyncio's close() writes what is buffered, then closes: a FIN, no reset
            self.closed = True
            self.server._tcp_conns.pop(self, None)
            self.transport.close()

    def unsent(self) -> int:
        """Reply bytes not yet delivered: in the transport's buffer or the kernel's."""
        transport = self.transport
        if transport is None:
            return 0
        return transport.get_write_buffer_size() + unsent_bytes(self.sock)

    def close(self) -> None:
        """Close once nothing is unsent; with unsent replies, abort (never linger)."""
        if self.closed or self.transport is None:
            return
        if self.unsent():
            self.abort()
            return
        self.closed = True
        self.transport.close()

    def abort(self) -> None:
        """Reset the connection now, discarding unsent replies, and free its slot."""
        self.closed = True
        self.server._tcp_conns.pop(self, None)
        if self.transport is not None:
            # asyncio's abort drops only its own buffer; with replies still in the
            # kernel's send buffer close() would queue a FIN behind them and keep the
            # socket alive as an orphan.  SO_LINGER 0 makes close() send RST and drop them.
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()

    def pause_writing(self) -> None:
        # The client does not read its replies: stop reading its questions.
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()
            self._drain()
            self.finish_if_done()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        server = self.server
        server._tcp_conns.pop(self, None)
        for held in list(self.held):
            # Its reply can no longer be sent: the query's outcome is a drop.
            server._held.drop(held, lost=True)
        self.buffer = bytearray()


class TCPSweeper:
    """The TCP timeouts of RFC 7766 section 6.2.3 over a server's open connections.

    Runs on the server's event loop (real time) while any connection is open, every
    ``_SWEEP_INTERVAL`` seconds at most (a quarter of the shortest timeout when that is
    less), reading the server's ``tcp_idle_timeout``, ``tcp_write_timeout``,
    ``tcp_busy_timeout`` and ``max_tcp_connections``.  ``timed_out`` counts the
    connections it closed or aborted (the server's ``tcp_timed_out`` statistic).
    """

    def __init__(self, server: FaultDNSServer) -> None:
        self.server = server
        self.timed_out = 0
        self._handle: asyncio.TimerHandle | None = None

    def limits(self) -> tuple[float, float]:
        """``(idle, write)`` timeouts in seconds for the current number of connections.

        From ``_BUSY_SHARE`` of ``max_tcp_connections`` in use both shrink to
        ``tcp_busy_timeout`` (when that is shorter): RFC 7766 section 6.2.3 lets a
        server under pressure close idle connections sooner.
        """
        server = self.server
        idle, write = server.tcp_idle_timeout, server.tcp_write_timeout
        if len(server._tcp_conns) >= _BUSY_SHARE * server.max_tcp_connections:
            busy = server.tcp_busy_timeout
            return min(idle, busy), min(write, busy)
        return idle, write

    def watch(self) -> None:
        """Make sure the sweep runs while any TCP connection is open (loop thread)."""
        server = self.server
        if self._handle is None and server._loop is not None:
            interval = min(
                _SWEEP_INTERVAL,
                server.tcp_idle_timeout / 4,
                server.tcp_write_timeout / 4,
                server.tcp_busy_timeout / 4,
            )
            self._handle = server._loop.call_later(interval, self._sweep, interval)

    def cancel(self) -> None:
        """Stop sweeping (the server is closing)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _sweep(self, interval: float) -> None:
        """Close idle connections and abort those whose replies stay unread.

        Idle: no complete message for the idle timeout, nothing unsent and no reply
        held by ``delay=`` (a client still waiting for an answer is not idle).
        Write timeout: unsent reply bytes that have not moved for the write timeout;
        such a connection is aborted (RST, unsent data discarded), since a graceful
        close would wait for a reader that never comes.
        """
        self._handle = None
        server = self.server
        loop = server._loop
        if not server._running or loop is None:
            return
        now = loop.time()
        idle, write = self.limits()
        conns = server._tcp_conns
        for conn in list(conns):
            if conn.closed:
                conns.pop(conn, None)
                continue
            unsent = conn.unsent()
            if unsent:
                acked = conn.written - unsent
                if acked != conn.acked:
                    conn.acked, conn.stalled_since = acked, now
                elif now - conn.stalled_since >= write:
                    self.timed_out += 1
                    conn.abort()
                continue
            conn.acked, conn.stalled_since = conn.written, now
            if not conn.held and now - conn.useful_at >= idle:
                self.timed_out += 1
                conn.close()
        if conns:
            self._handle = loop.call_later(interval, self._sweep, interval)

"""Batched UDP I/O: Linux ``recvmmsg``/``sendmmsg`` through ctypes.

Why: under a benchmark the server's time goes to two system calls per query
(``recvfrom`` and ``sendto``), each also releasing and re-taking the GIL and
converting the client address to and from a Python tuple.  ``recvmmsg`` fills up to
``batch`` datagrams in one call and ``sendmmsg`` sends a run of replies in one call,
with the client addresses never leaving C memory: reply *i* goes to the address that
datagram *i* came from.  That is worth about a third more queries per second.

The layout, fixed at construction so the hot loop only writes two numbers per reply:

* slot *i* of ``buffers`` receives datagram *i*; ``names`` slot *i* its sender;
* send message *i* has two iovecs: the first two bytes of slot *i* (the query's ID)
  and the cached reply minus its ID: the hot loop writes that iovec's address and
  length through :attr:`BatchIO.reply_layout`, pointing at a ``bytes`` object
  (:func:`buffer_address`) that it keeps alive until :meth:`BatchIO.send` returns.

A datagram longer than a slot (4096 bytes: no DNS client sends such a query) is cut
to the slot and then fails to parse, so it gets FORMERR like any malformed query.

Where the platform lacks these calls, :func:`available` says so and the server
falls back to plain ``recvfrom``/``sendto``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import socket
import struct
import sys
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["NAME_SIZE", "BatchIO", "available", "buffer_address", "sockaddr_to_tuple"]

MSG_DONTWAIT = 0x40
NAME_SIZE = 32  # fits sockaddr_in (16) and sockaddr_in6 (28)


class _IOVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.c_void_p),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class _MMsgHdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _MsgHdr), ("msg_len", ctypes.c_uint)]


def _load() -> tuple[Any, Any] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        recvmmsg, sendmmsg = libc.recvmmsg, libc.sendmmsg
    except (OSError, AttributeError):
        return None
    recvmmsg.argtypes = [
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_void_p,
    ]
    recvmmsg.restype = ctypes.c_int
    sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
    sendmmsg.restype = ctypes.c_int
    return recvmmsg, sendmmsg


_CALLS = _load()


def available() -> bool:
    return _CALLS is not None


def buffer_address(data: bytes) -> int:
    """The address of a bytes object's contents (valid while the object lives)."""
    address = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
    assert address is not None
    return address


def sockaddr_to_tuple(raw: bytes) -> tuple[str, int]:
    """``(host, port)`` from a raw ``sockaddr_in``/``sockaddr_in6``."""
    family = int.from_bytes(raw[:2], sys.byteorder)
    port = int.from_bytes(raw[2:4], "big")
    if family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24]), port
    return socket.inet_ntop(socket.AF_INET, raw[4:8]), port


class BatchIO:
    """Receive and send buffers for ``batch`` datagrams on one UDP socket."""

    def __init__(self, sock: socket.socket, *, batch: int = 64, slot: int = 4096) -> None:
        if _CALLS is None:
            raise OSError("recvmmsg/sendmmsg are not available on this platform")
        self._recvmmsg, self._sendmmsg = _CALLS
        self.fd = sock.fileno()
        self.batch = batch
        self.slot = slot
        self.name_len = 28 if sock.family == socket.AF_INET6 else 16
        self._buffers = (ctypes.c_char * (slot * batch))()
        self._names = (ctypes.c_char * (NAME_SIZE * batch))()
        self._recv_iov = (_IOVec * batch)()
        self._recv = (_MMsgHdr * batch)()
        self._send_iov = (_IOVec * (2 * batch))()
        self._send = (_MMsgHdr * batch)()
        self.base = ctypes.addressof(self._buffers)
        self.names = ctypes.addressof(self._names)
        iov_size = ctypes.sizeof(_IOVec)
        for i in range(batch):
            self._recv_iov[i].iov_base = self.base + i * slot
            self._recv_iov[i].iov_len = slot
            header = self._recv[i].msg_hdr
            header.msg_name = self.names + i * NAME_SIZE
            header.msg_namelen = NAME_SIZE
            header.msg_iov = ctypes.addressof(self._recv_iov) + i * iov_size
            header.msg_iovlen = 1
            self._send_iov[2 * i].iov_base = self.base + i * slot  # the query's ID
            self._send_iov[2 * i].iov_len = 2
            header = self._send[i].msg_hdr
            header.msg_name = self.names + i * NAME_SIZE
            header.msg_namelen = self.name_len
            header.msg_iov = ctypes.addressof(self._send_iov) + 2 * i * iov_size
            header.msg_iovlen = 2
        self._msg_size = ctypes.sizeof(_MMsgHdr)
        self._recv_addr = ctypes.addressof(self._recv)
        self._send_addr = ctypes.addressof(self._send)
        # Byte views of the slots: slicing one and calling tobytes() costs a quarter of
        # a ctypes.string_at() call, which goes through libffi.
        self.buffer_view = memoryview(self._buffers).cast("B")
        self.name_view = memoryview(self._names).cast("B")
        self._recv_view = memoryview(self._recv).cast("B")
        self._iov_view = memoryview(self._send_iov).cast("B")
        offset = _MMsgHdr.msg_len.offset
        self._lengths = struct.Struct(f"{offset}xI{self._msg_size - offset - 4}x")
        self._iov_size = iov_size
        self._reply = struct.Struct("PN")

    def receive(self) -> int:
        """Fill slots with waiting datagrams without blocking; how many (0: none)."""
        count: int = self._recvmmsg(self.fd, self._recv_addr, self.batch, MSG_DONTWAIT, None)
        return max(count, 0)

    def lengths(self, count: int) -> Iterator[tuple[int]]:
        """``(length,)`` of each received datagram, in slot order."""
        return self._lengths.iter_unpack(self._recv_view[: count * self._msg_size])

    @property
    def reply_layout(self) -> tuple[Callable[..., None], memoryview, int, int]:
        """(pack_into, view, offset of reply 0, step): for loops that inline set_reply."""
        return self._reply.pack_into, self._iov_view, self._iov_size, 2 * self._iov_size

    def send(self, start: int, end: int) -> None:
        """Send the replies set for datagrams ``start .. end-1`` (UDP: best effort)."""
        while start < end:
            sent: int = self._sendmmsg(
                self.fd, self._send_addr + start * self._msg_size, end - start, 0
            )
            if sent <= 0:
                return  # e.g. the send buffer is full: UDP may drop, so do we
            start += sent

    def data(self, i: int, length: int) -> bytes:
        start = i * self.slot
        return self.buffer_view[start : start + length].tobytes()

    def sender(self, i: int) -> bytes:
        """The raw sockaddr of datagram ``i`` (cheap; decode with sockaddr_to_tuple)."""
        start = i * NAME_SIZE
        return self.name_view[start : start + self.name_len].tobytes()

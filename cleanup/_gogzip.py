"""Go's transparent gzip decoding of a response body, with Go's errors.

Pure logic, no I/O.  Go's ``Transport`` asks for ``Accept-Encoding: gzip`` when the
request names no encoding, and then reads a ``Content-Encoding: gzip`` body through
``compress/gzip.Reader`` (``net/http/transport.go``: ``gzipReader``), multistream.  Its
errors reach the caller unwrapped, as body errors (``compress/gzip/gunzip.go``):

- not a gzip header (magic, method) or a header CRC mismatch: ``gzip: invalid header``;
- input ending inside a header, the deflate data or the trailer: ``unexpected EOF``
  (an empty body is an empty result: ``readHeader`` sees a clean ``io.EOF``);
- a CRC-32 or length mismatch in a trailer: ``gzip: invalid checksum``;
- corrupt deflate data: ``flate: corrupt input before offset N``, N counting deflate
  bytes up to the first one rejected (zlib does not say where it stopped: found by
  bisection; Go can name a later byte when it reads ahead of the one zlib rejects).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

__all__ = ["GZIP_PIECE", "GoGzipDecoder", "GzipError"]

GZIP_PIECE = 64 * 1024  # most bytes one decode step yields: a bomb expands piece by piece
_FLAG_HCRC, _FLAG_EXTRA, _FLAG_NAME, _FLAG_COMMENT = 0x02, 0x04, 0x08, 0x10


class GzipError(ValueError):
    """A body Go's gzip reader rejects; ``str`` is Go's text."""


def _header_length(data: bytes | bytearray) -> int | None:
    """Length of the gzip member header at the start of ``data``; None if incomplete.

    Raises :class:`GzipError` (``gzip: invalid header``) as Go's ``readHeader``.
    """
    if len(data) < 10:
        return None
    if data[0] != 0x1F or data[1] != 0x8B or data[2] != 8:
        raise GzipError("gzip: invalid header")
    flags = data[3]
    at = 10
    if flags & _FLAG_EXTRA:
        if len(data) < at + 2:
            return None
        at += 2 + int.from_bytes(data[at : at + 2], "little")
        if len(data) < at:
            return None
    for flag in (_FLAG_NAME, _FLAG_COMMENT):
        if flags & flag:
            end = data.find(b"\0", at)
            if end < 0:
                return None
            at = end + 1
    if flags & _FLAG_HCRC:
        if len(data) < at + 2:
            return None
        if int.from_bytes(data[at : at + 2], "little") != zlib.crc32(data[:at]) & 0xFFFF:
            raise GzipError("gzip: invalid header")
        at += 2
    return at


def _first_rejected(inflate: zlib._Decompress, data: bytes) -> int:
    """The length of the shortest prefix of ``data`` that ``inflate`` rejects (a
    binary search over copies: a rejected prefix stays rejected when extended).  Go's
    flate reader reads byte by byte and names the same count (``roffset``)."""
    low, high = 0, len(data)  # data[:high] is rejected, data[:low] is not
    while high - low > 1:
        middle = (low + high) // 2
        try:
            inflate.copy().decompress(data[:middle])
        except zlib.error:
            high = middle
        else:
            low = middle
    return high


class GoGzipDecoder:
    """Incremental: :meth:`feed` the body's bytes, then :meth:`finish` at its end.

    Both yield decoded pieces of at most :data:`GZIP_PIECE` bytes and raise
    :class:`GzipError` with Go's text.
    """

    def __init__(self) -> None:
        self._pending = bytearray()
        self._state = "header"
        self._inflate: zlib._Decompress | None = None
        self._crc = 0
        self._size = 0
        self._fed = 0  # deflate bytes given to zlib in this member

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._pending += data
        while True:
            if self._state == "header":
                length = _header_length(self._pending)
                if length is None:
                    return
                del self._pending[:length]
                self._state = "deflate"
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                self._crc = self._size = self._fed = 0
            if self._state == "deflate":
                yield from self._deflate()
                if self._state == "deflate":
                    return
            if self._state == "trailer":
                if len(self._pending) < 8:
                    return
                crc = int.from_bytes(self._pending[:4], "little")
                size = int.from_bytes(self._pending[4:8], "little")
                if crc != self._crc or size != self._size & 0xFFFFFFFF:
                    raise GzipError("gzip: invalid checksum")
                del self._pending[:8]
                self._state = "header"  # multistream: another member, or the end

    def _deflate(self) -> Iterator[bytes]:
        inflate = self._inflate
        assert inflate is not None
        data = bytes(self._pending)
        self._pending.clear()
        while data:
            before = inflate.copy()
            try:
                piece = inflate.decompress(data, GZIP_PIECE)
            except zlib.error:
                offset = self._fed + _first_rejected(before, data)
                raise GzipError(f"flate: corrupt input before offset {offset}") from None
            self._fed += len(data) - len(inflate.unconsumed_tail) - len(inflate.unused_data)
            data = inflate.unconsumed_tail
            if piece:
                self._crc = zlib.crc32(piece, self._crc)
                self._size += len(piece)
                yield piece
            if inflate.eof:
                self._pending += inflate.unused_data
                self._state = "trailer"
                return

    def finish(self) -> None:
        """The body ended: fine between members (or with no body at all), else Go's
        ``unexpected EOF``."""
        if self._state == "header" and not self._pending:
            return
        raise GzipError("unexpected EOF")

"""Reading the small files a run is configured from, with a bound on their size.

resolv.conf, hosts, a policy file and a ``MemoryStore`` file are read whole.  A path
that names ``/dev/zero``, a FIFO nobody writes to, or a 300 MB file by mistake must
fail at once with a message naming the file, never hang or take all memory.  So each
is opened without blocking (``O_NONBLOCK``: opening a FIFO for reading otherwise waits
for a writer), must be a regular file (``fstat``), and is read to at most ``limit``
bytes.

:func:`utf8_text` is the one check that such bytes are the text their format requires
(TOML 1.0 and RFC 8259 both require UTF-8), naming a byte order mark and the first byte
that is not UTF-8 rather than leaving the parser to trip over an invisible character.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["MAX_CONFIG_BYTES", "MAX_STORE_BYTES", "read_regular_file", "utf8_text"]

#: resolv.conf, hosts and policy files: far above any real one (a few KiB).
MAX_CONFIG_BYTES = 1 << 20
#: A ``MemoryStore`` file: a 10,000-image node is about 1 MB of JSON.
MAX_STORE_BYTES = 64 << 20


def read_regular_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises ``OSError``: the open's or read's own, ``EINVAL`` "not a regular file" for a
    device, FIFO, socket or directory, ``EFBIG`` "larger than the N-byte limit".
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise OSError(errno.EFBIG, f"larger than the {limit}-byte limit", os.fspath(path))
        return b"".join(chunks)
    finally:
        os.close(fd)


_UTF8_BOM = b"\xef\xbb\xbf"


def utf8_text(data: bytes, fmt: str) -> str:
    """``data`` decoded as the UTF-8 text a ``fmt`` file (``"TOML"``, ``"JSON"``) must be.

    Raises ``ValueError`` with a one-line reason for the caller to prefix with the file:
    "starts with a UTF-8 byte order mark (BOM), which FMT does not allow: save it as
    UTF-8 without BOM", or "not UTF-8 text (byte 0xHH at offset O): a FMT file must be
    UTF-8" (O the first byte that begins no valid sequence, counted from 0; a UTF-16
    file's own BOM is byte 0xff or 0xfe at offset 0).

    Sources: TOML 1.0 ("Spec"): "A TOML file must be a valid UTF-8 encoded Unicode
    document", and a BOM is no TOML statement (``tomllib`` says "Invalid statement (at
    line 1, column 1)"); RFC 8259 section 8.1: JSON text "MUST be encoded using UTF-8"
    and implementations "MUST NOT add a byte order mark" (a parser MAY ignore one; ours
    are our own files, whose writers never add one, so one is named rather than
    guessed past).  Windows editors ("UTF-8 with BOM") write one.
    """
    if data.startswith(_UTF8_BOM):
        raise ValueError(
            f"starts with a UTF-8 byte order mark (BOM), which {fmt} does not allow:"
            " save it as UTF-8 without BOM"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}):"
            f" a {fmt} file must be UTF-8"
        ) from None

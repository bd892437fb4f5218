"""Reading the small files a run is configured from, with a bound on their size.

resolv.conf, hosts, a policy file and a ``MemoryStore`` file are read whole.  A path
that names ``/dev/zero``, a FIFO nobody writes to, or a 300 MB file by mistake must
fail at once with a message naming the file, never hang or take all memory.  So each
is opened without blocking (``O_NONBLOCK``: opening a FIFO for reading otherwise waits
for a writer), must be a regular file (``fstat``), and is read to at most ``limit``
bytes.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["MAX_CONFIG_BYTES", "MAX_STORE_BYTES", "read_regular_file"]

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

"""The memory store: a node's images in a JSON file (``--store memory:FILE``).

So tests and the simulation run the whole cleanup without a container runtime and
look at the result afterwards; its lock and crash-safe writes are what let two
cleanups share one file (see :class:`MemoryStore`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cleanup._files import MAX_STORE_BYTES, read_regular_file, utf8_text
from cleanup._plan import staying_because
from cleanup._store import RemovalError, StoreError, StoreSpecError

__all__ = ["MemoryStore"]


@dataclass(frozen=True)
class _MemoryState:
    images: list[str]
    in_use: list[str]
    pinned: list[str]
    ids: dict[str, str]

    def to_doc(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "images": self.images,
            "in_use": self.in_use,
            "pinned": self.pinned,
        }
        if self.ids:
            doc["ids"] = self.ids
        return doc


class MemoryStore:
    """A node's images kept in a JSON file ``{"images": [...], "in_use": [...], "pinned": [...]}``.

    ``images`` is required; ``in_use`` and ``pinned`` default to empty; ``ids`` (optional)
    maps image names to a content identity (an image ID), for names that are the same
    image, as a CRI runtime reports them; a name without an entry is its own identity.

    The file is shared: other cleanups and other writers (a test or the simulation
    pulling an image, starting a container) may change it at any time.  So:

    - :meth:`locked` takes an exclusive ``flock`` on the file; ``cleanup run`` holds it
      from its first read of the store to its last removal, and :meth:`remove` /
      :meth:`update` take it for themselves otherwise.  The lock is on the file's
      inode; a waiter that wakes up on a file since replaced locks the new one.
    - every removal re-reads the file under the lock and refuses an image that is gone,
      in use or pinned by then, and writes back what it read minus that one image.
    - the file is replaced atomically (temporary file, fsync, rename), so a crash never
      leaves a half-written node and a reader (locked or not) sees the old or the new
      file.  A store path that is a symlink is written through the link: the link stays
      and the file it points to is replaced, keeping that file's mode and owner.
    - the file keeps its mode, owner and group.  When the new file cannot be given the
      old one's owner and group (only root and the owner may ``chown``, and only to a
      group of their own: a ``root:images`` 0664 file written by a member of
      ``images``), it is rewritten in place under the lock instead (:func:`_rewrite_in_place`:
      a crash part-way leaves a file that is refused, never a mix that is read).
    - a store the user may not write is refused, not replaced behind its permissions
      (the directory's permissions would allow a rename): a file with no write bit at
      all (``chmod a-w``: read-only for everyone, root included), or one the kernel
      would not open for writing for this user (``access(W_OK)``: mode, ACLs, a
      read-only mount).  :meth:`check_writable` says so before a run starts (the CLI:
      exit 64 naming ``--store``; ``--dry-run`` needs only reading), :meth:`remove` and
      :meth:`update` refuse too.
    """

    FIELDS = ("images", "in_use", "pinned", "ids")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock_fd: int | None = None
        self._load(StoreSpecError)  # a bad file is a usage error: report it before any work

    def __repr__(self) -> str:
        return f"MemoryStore({str(self.path)!r})"

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        images: Sequence[str],
        *,
        in_use: Sequence[str] = (),
        pinned: Sequence[str] = (),
        ids: dict[str, str] | None = None,
    ) -> MemoryStore:
        """Write a new store file and open it."""
        state = _MemoryState(list(images), list(in_use), list(pinned), dict(ids or {}))
        _write_json_atomically(Path(path), state.to_doc())
        return cls(path)

    def _load(self, error: type[Exception] = StoreError) -> _MemoryState:
        """Read and check the file; ``error`` is the type to raise when it is bad."""
        where = f"memory store {self.path}"
        try:
            return self._parse(where)
        except StoreSpecError as exc:
            if error is StoreSpecError:
                raise
            raise error(str(exc)) from exc

    def _parse(self, where: str) -> _MemoryState:
        try:
            raw = read_regular_file(self.path, MAX_STORE_BYTES)
        except FileNotFoundError as exc:
            raise StoreSpecError(f"{where}: file does not exist") from exc
        except OSError as exc:
            raise StoreSpecError(f"{where}: cannot read it ({exc.strerror})") from exc
        if raw.startswith(_REWRITING):
            raise StoreSpecError(
                f"{where}: an in-place rewrite did not finish (the file still starts with "
                "its '#' marker; a crash part-way?): it may mix two versions and is not "
                "read; check its images by hand and restore the leading '{'"
            )
        try:
            text = utf8_text(raw, "JSON")
        except ValueError as exc:
            raise StoreSpecError(f"{where}: {exc}") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreSpecError(
                f"{where}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from exc
        except RecursionError as exc:
            raise StoreSpecError(f"{where}: JSON nested too deeply") from exc
        if not isinstance(doc, dict):
            raise StoreSpecError(
                f"{where}: the top level must be a JSON object with the fields "
                f"{', '.join(self.FIELDS)}, not {type(doc).__name__}"
            )
        unknown = sorted(set(doc) - set(self.FIELDS))
        if unknown:
            raise StoreSpecError(
                f"{where}: unknown field {unknown[0]!r} (expected {', '.join(self.FIELDS)})"
            )
        if "images" not in doc:
            raise StoreSpecError(f"{where}: missing field 'images'")
        lists = {name: _string_list(doc.get(name, []), where, name) for name in self.FIELDS[:3]}
        ids = doc.get("ids", {})
        if not isinstance(ids, dict) or not all(
            isinstance(v, str) and v.strip() for v in ids.values()
        ):
            raise StoreSpecError(
                f"{where}: field 'ids' must be an object mapping image names to non-empty strings"
            )
        return _MemoryState(lists["images"], lists["in_use"], lists["pinned"], dict(ids))

    def check_writable(self) -> None:
        """Raise :class:`StoreSpecError` if this user may not write the store file."""
        why = _write_refusal(self.path)
        if why is not None:
            raise StoreSpecError(f"memory store {self.path}: {why}")

    # ----------------------------------------------------------------- locking

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's exclusive lock (re-entrant within this object).

        Raises :class:`StoreError` if the file cannot be opened to lock it.
        """
        if self._lock_fd is not None:
            yield
            return
        self._lock_fd = self._acquire()
        try:
            yield
        finally:
            fd, self._lock_fd = self._lock_fd, None
            os.close(fd)  # closing the last descriptor releases the flock

    def _acquire(self) -> int:
        while True:
            try:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise StoreError(
                    f"memory store {self.path}: cannot open it to lock it ({exc.strerror})"
                ) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                held = os.fstat(fd)
                try:
                    now = os.stat(self.path)
                except FileNotFoundError:
                    now = None
            except BaseException:
                os.close(fd)
                raise
            # another writer replaced the file while we waited: lock the new one
            if now is not None and (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
                return fd
            os.close(fd)

    # ----------------------------------------------------------------- reads

    def images(self) -> list[str]:
        return list(self._load().images)

    def in_use(self) -> set[str]:
        return set(self._load().in_use)

    def pinned(self) -> set[str]:
        return set(self._load().pinned)

    def identities(self) -> dict[str, str]:
        """Every name ``ids`` maps (an image or not: an ``in_use`` spelling that is no
        entry of ``images`` still names its identity) and every image name -> its
        identity (``ids``, else the name itself)."""
        state = self._load()
        return {**state.ids, **{name: state.ids.get(name, name) for name in state.images}}

    # ----------------------------------------------------------------- writes

    def remove(self, image: str) -> None:
        """Remove ``image`` as the file says *now*: re-read under the lock, refuse an
        image that is gone, or in use or pinned (:func:`cleanup._plan.staying_because`
        with full references, whose text the refusal carries: by its own name or any
        spelling of the same reference, ``rancher/x:v1`` for ``docker.io/rancher/x:v1``;
        by any name or ID with the same ``ids`` identity, ``sha256:<hex>``, bare hex,
        ``name@sha256:``; by the content of such a name), write back everything else
        as read."""
        try:
            with self.locked():
                state = self._load()
                if image not in state.images:
                    raise RemovalError(image, "no such image")
                # the plan's own rules for one name, the one copy of them: the name
                # itself or another spelling of it in use or pinned (a container made
                # from rancher/x:v1 keeps docker.io/rancher/x:v1), or the content of
                # one (``ids``, any spelling).  Full references only: a container names
                # the image it runs, as distribution/reference normalises it; the short
                # name:tag match is the plan's for lists (mirror.example/x:v1 may be
                # other content), which it applied already
                identity = {**state.ids, **{n: state.ids.get(n, n) for n in state.images}}
                kept = staying_because(
                    image,
                    in_use=state.in_use,
                    pinned=state.pinned,
                    identity=identity,
                    match="full",
                )
                if kept is not None:
                    raise RemovalError(image, kept)
                refusal = _write_refusal(self.path)
                if refusal is not None:
                    raise RemovalError(image, refusal)
                rest = [i for i in state.images if i != image]
                ids = {k: v for k, v in state.ids.items() if k != image}
                self._write(_MemoryState(rest, state.in_use, state.pinned, ids), image)
        except RemovalError:
            raise
        except StoreError as exc:
            raise RemovalError(image, str(exc)) from exc

    def update(
        self,
        *,
        add: Sequence[str] = (),
        in_use: Sequence[str] = (),
        pinned: Sequence[str] = (),
    ) -> None:
        """Another writer's change, under the lock: pull images (``add``), mark images in
        use by a container, pin images.  Raises :class:`StoreError` if it cannot."""
        with self.locked():
            state = self._load()
            why = _write_refusal(self.path)
            if why is not None:
                raise StoreError(f"memory store {self.path}: {why}")
            new = _MemoryState(
                state.images + [i for i in dict.fromkeys(add) if i not in state.images],
                state.in_use + [i for i in dict.fromkeys(in_use) if i not in state.in_use],
                state.pinned + [i for i in dict.fromkeys(pinned) if i not in state.pinned],
                state.ids,
            )
            try:
                self._replace(new)
            except OSError as exc:
                raise StoreError(f"cannot rewrite {self.path}: {exc.strerror or exc}") from exc

    def _write(self, state: _MemoryState, image: str) -> None:
        try:
            self._replace(state)
        except OSError as exc:
            raise RemovalError(image, f"cannot rewrite {self.path}: {exc.strerror or exc}") from exc

    def _replace(self, state: _MemoryState) -> None:
        """Write ``state`` as the new file; called holding the lock, which moves with it.

        Atomically when the new file can keep the old one's owner and group, else in
        place (same inode: the lock stays where it is)."""
        try:
            new_fd = _write_json_atomically(self.path, state.to_doc(), lock=True)
        except _OwnerNotKept:
            _rewrite_in_place(self.path, state.to_doc())
            return
        assert new_fd is not None
        old_fd, self._lock_fd = self._lock_fd, new_fd
        if old_fd is not None:
            os.close(old_fd)


def _write_refusal(path: Path) -> str | None:
    """Why this user may not write the store file ``path`` (``None``: they may).

    Raises nothing: a file that cannot be looked at is the readers' error to report.
    """
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except OSError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o222:
        return (
            f"the file is read-only (mode {mode:04o}): cleanup removes images only from a "
            "store it may write; make it writable (chmod u+w) or use --dry-run"
        )
    effective = os.access in os.supports_effective_ids
    if not os.access(target, os.W_OK, effective_ids=effective):
        return (
            f"this user (uid {os.geteuid()}) may not write the file (owner "
            f"{st.st_uid}:{st.st_gid}, mode {mode:04o}, or a read-only filesystem); "
            "cleanup removes images only from a store it may write"
        )
    return None


class _OwnerNotKept(PermissionError):
    """The replacement file could not be given the old file's owner and group."""


#: The first byte of a store file while :func:`_rewrite_in_place` writes it: JSON never
#: starts with ``#``, so a rewrite cut short by a crash is refused, never read.
_REWRITING = b"#"


def _rewrite_in_place(path: Path, doc: object) -> None:
    """Overwrite the file ``path`` (through a symlink) with ``doc``, keeping its inode.

    For a file this user may write but could not re-create with the same owner and
    group.  Readers that take the lock (every cleanup) never see the file part-written.
    Order, each step on disk (fsync) before the next: the first byte becomes
    :data:`_REWRITING`; the rest of the new text is written and the file cut to its
    length; the first byte becomes ``{``.  A crash in between leaves a file that starts
    with ``#``: :meth:`MemoryStore._parse` refuses it (no run deletes from it, and none
    can read a mix of the old and the new text as a node with fewer images).

    Raises ``OSError`` (the open's or a write's).
    """
    data = (json.dumps(doc, indent=2) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.pwrite(fd, _REWRITING, 0)
        os.fsync(fd)
        view, offset = memoryview(data)[1:], 1
        while view:
            done = os.pwrite(fd, view, offset)
            view, offset = view[done:], offset + done
        os.ftruncate(fd, len(data))
        os.fsync(fd)
        os.pwrite(fd, data[:1], 0)
        os.fsync(fd)
    finally:
        os.close(fd)


def _string_list(value: Any, where: str, field: str) -> list[str]:
    if not isinstance(value, list):
        raise StoreSpecError(
            f"{where}: field {field!r} must be a list of strings, not {type(value).__name__}"
        )
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise StoreSpecError(
                f"{where}: field {field!r} item {i} must be a non-empty string, got {item!r}"
            )
    return list(dict.fromkeys(value))  # first occurrence wins; linear, not quadratic


def _write_json_atomically(path: Path, doc: object, *, lock: bool = False) -> int | None:
    """Replace ``path`` so readers see the old or the new file, never a partial one.

    A symlink is followed: the file it points to is replaced (in its own directory) and
    the link stays.  The new file keeps the old one's mode, owner and group; if they
    cannot be kept (neither root nor the owner, or a group this user is not in),
    :class:`_OwnerNotKept` (a ``PermissionError``) is raised and nothing changes.

    ``lock``: take the new file's ``flock`` *before* it becomes visible and return that
    descriptor (the caller closes it), so a lock holder that replaces the file keeps
    holding the lock of the file everyone now opens; waiters on the old file see it
    was replaced and move on to the new one (see ``MemoryStore._acquire``).
    """
    target = Path(os.path.realpath(path))
    try:
        old: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        old = None
    data = memoryview((json.dumps(doc, indent=2) + "\n").encode())
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    keep = False
    try:
        if old is not None:
            os.fchmod(fd, stat.S_IMODE(old.st_mode))
            mine = os.fstat(fd)
            if (mine.st_uid, mine.st_gid) != (old.st_uid, old.st_gid):
                try:
                    os.fchown(fd, old.st_uid, old.st_gid)
                except PermissionError as exc:
                    raise _OwnerNotKept(exc.errno, exc.strerror, str(target)) from exc
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
        if lock:
            fcntl.flock(fd, fcntl.LOCK_EX)  # nobody else can know this file yet
        os.replace(tmp, target)
        keep = lock
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        if not keep:
            os.close(fd)
    try:  # make the rename itself durable; not every filesystem allows this
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return fd if keep else None
    try:
        with contextlib.suppress(OSError):
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return fd if keep else None

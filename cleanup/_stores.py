"""Image stores: where the cleanup finds images and removes them.

The plan (``_plan``) is pure; it needs to know which images a node has, which of them
running or stopped containers use, and which are pinned.  A store answers those three
questions and removes one image at a time.  One at a time on purpose: a bulk
``crictl rmi a b c`` aborts entirely when one image is locked, which is how old images
used to survive the Harvester cleanup.

Three stores:

- :class:`MemoryStore` keeps the node in a JSON file, so tests and the simulation can
  run the whole cleanup without a container runtime and look at the result afterwards.
- :class:`ContainerdStore` talks to a real containerd through ``ctr``.  ``ctr images rm``
  does *not* refuse an image a container was created from, so the store checks that
  itself before removing anything (the CRI plugin's users rely on the same rule).
- :class:`CrictlStore` talks CRI through ``crictl`` (what the Harvester job runs).  CRI
  removes an image with *all* its tags, so the store refuses to remove a tag whose image
  carries another tag that is not being removed too; otherwise deleting an old tag could
  take a current image with it.

Failures are typed: :class:`StoreError` when the store cannot be read at all,
:class:`RemovalError` when one image could not be removed (the caller reports it and goes
on with the rest).

Two optional capabilities a store may have, which :func:`cleanup.run_cleanup` uses when
present:

- ``locked()``: a context manager held from the first read of the store to the last
  removal, so two cleanups (or a cleanup and another writer that takes the lock) never
  act on each other's stale view.  :class:`MemoryStore` takes an exclusive ``flock`` on
  the store file.  Every ``remove`` also re-reads the store (under the lock) and refuses
  an image that has since become in use or pinned, so a writer that ignores the lock
  is not overwritten either.
- ``identities()``: every name the store knows (tags and digest references) mapped to
  the content identity the store removes by (containerd: the image's target digest;
  CRI: the image ID).  The plan uses it to keep a name whose content something that
  stays also names (see :func:`cleanup.plan`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import stat
import subprocess
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cleanup._errors import CleanupError
from cleanup._files import MAX_STORE_BYTES, read_regular_file

__all__ = [
    "DEFAULT_CONTAINERD_SOCKET",
    "CommandRunner",
    "ContainerdStore",
    "CrictlStore",
    "ImageStore",
    "MemoryStore",
    "RemovalError",
    "StoreError",
    "StoreSpecError",
    "open_store",
    "run_command",
]

#: Where k3s/RKE2 (and so Harvester) run their containerd.
DEFAULT_CONTAINERD_SOCKET = "/run/k3s/containerd/containerd.sock"

#: The label the CRI plugin puts on images the kubelet must never garbage-collect.
PINNED_LABEL = "io.cri-containerd.pinned"

# A containerd image record named by its config digest: the CRI plugin's "image ID".
_ID_REF = re.compile(r"^sha256:[0-9a-f]{64}$")


class StoreError(CleanupError):
    """The image store could not be read or used (tool missing, socket down, bad data)."""

    kind_label = "store error"  # what cleanup.error_kind reports for it


class StoreSpecError(ValueError):
    """A ``--store`` value or store file that cannot be used; a usage error, not a run error."""


class RemovalError(StoreError):
    """One image could not be removed; the cleanup reports it and goes on with the rest."""

    kind_label = "removal failed"

    def __init__(self, image: str, reason: str) -> None:
        self.image = image
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"remove image {self.image}: {self.reason}"

    def __reduce__(self) -> tuple[object, ...]:
        return (RemovalError, (self.image, self.reason))


@runtime_checkable
class ImageStore(Protocol):
    """What the cleanup needs from a node's image store.

    A store may also have ``plan_removal(images)``: the cleanup calls it (when present)
    with the whole delete list before the first ``remove``, so a store that can only
    remove whole images (CRI) knows which sibling tags are going anyway.
    """

    def images(self) -> list[str]:
        """Every image reference the store has (tags, as the lists name them)."""
        ...

    def in_use(self) -> set[str]:
        """References of images that existing containers (running or not) were made from."""
        ...

    def pinned(self) -> set[str]:
        """References of images marked as never to be removed."""
        ...

    def remove(self, image: str) -> None:
        """Remove one reference; raise :class:`RemovalError` if it cannot be removed."""
        ...


# --------------------------------------------------------------------------- commands

#: Runs one command (argv) and returns its result; injectable so stores can be tested on
#: recorded outputs.  It must not raise for a non-zero exit status.
CommandRunner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def run_command(argv: Sequence[str], *, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with captured text output; a missing tool or a hang is a StoreError."""
    try:
        done = subprocess.run(list(argv), capture_output=True, timeout=timeout, check=False)
        # Decoded by hand: text mode would turn a "\r" inside a label value into a line
        # break, and Go programs print what they hold (a label value need not be UTF-8).
        return subprocess.CompletedProcess(
            done.args,
            done.returncode,
            done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"),
        )
    except FileNotFoundError as exc:
        raise StoreError(f"{argv[0]}: command not found ({exc.strerror})") from exc
    except PermissionError as exc:
        raise StoreError(f"{argv[0]}: cannot run it ({exc.strerror})") from exc
    except subprocess.TimeoutExpired as exc:
        raise StoreError(f"{' '.join(argv)}: no answer within {timeout:g}s") from exc


def _failure_text(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr or "").strip() or (proc.stdout or "").strip()
    return text.splitlines()[-1] if text else f"exit status {proc.returncode}"


# --------------------------------------------------------------------------- memory


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
            doc = json.loads(raw)
        except UnicodeDecodeError as exc:
            raise StoreSpecError(f"{where}: not UTF-8 text ({exc.reason})") from exc
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
        image that is gone, in use or pinned (by any name or ID with the same ``ids``
        identity: ``sha256:<hex>``, bare hex, ``name@sha256:``), write back everything
        else as read."""
        try:
            with self.locked():
                state = self._load()
                if image not in state.images:
                    raise RemovalError(image, "no such image")
                if image in state.in_use:
                    raise RemovalError(image, "image is in use by a container")
                if image in state.pinned:
                    raise RemovalError(image, "image is pinned")
                ident = _id_form(state.ids.get(image, ""))
                for names, why in (
                    (state.in_use, "in use by a container"),
                    (state.pinned, "pinned"),
                ):
                    same = [n for n in names if ident and _id_form(state.ids.get(n, n)) == ident]
                    if same:
                        raise RemovalError(image, f"image {ident} is {why} (as {same[0]})")
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


_ID_TEXT = re.compile(r"^(?:.*@)?(?:sha256:)?([0-9a-f]{64})$")


def _id_form(text: str) -> str:
    """``sha256:<hex>`` for an identity in any spelling (``sha256:<hex>``, bare 64 hex,
    ``name@sha256:<hex>``); "" for anything else."""
    found = _ID_TEXT.match(text)
    return "sha256:" + found.group(1) if found else ""


# --------------------------------------------------------------------------- containerd


@dataclass(frozen=True)
class _CtrImage:
    ref: str
    digest: str
    labels: dict[str, str]
    #: The ``LABELS`` cell as ctr printed it (``k=v`` pairs joined by an unescaped ``,``).
    labels_text: str = ""

    @property
    def pinned(self) -> bool:
        """Whether the image may be pinned: ``io.cri-containerd.pinned=pinned`` appears
        anywhere in the ``LABELS`` cell.

        ctr joins labels with ``,`` and escapes nothing, so the cell is ambiguous: a label
        ``a.note=x,io.cri-containerd.pinned=no`` printed after the real pin looks like a
        second, overriding pin label (issue 9).  Ambiguity must resolve toward keeping, so
        the parsed ``labels`` are not trusted for this: any occurrence of the exact text
        counts, even inside another label's value (a false pin only keeps an image).
        """
        return _PINNED_TOKEN in self.labels_text or self.labels.get(PINNED_LABEL) == "pinned"


_CTR_COLUMNS = ("REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS")


def parse_ctr_images(out: str) -> list[_CtrImage]:
    """Parse ``ctr images ls`` output (containerd 1.6/1.7) into records.

    Why this column parse is exact (ctr has no structured output for images: no
    ``--format``/JSON for ``images ls``, ``images label`` *sets* labels, and the
    containerd gRPC API needs a client this project does not ship).  ctr's
    ``images ls`` writes, through Go's ``text/tabwriter``, one line per image:
    ``REF\tTYPE\tDIGEST\tSIZE\tPLATFORMS\tLABELS\t\n``, LABELS being the sorted
    ``k=v`` pairs joined by ``,`` (or ``-``).

    1. The five cells before LABELS hold no tab, line break or non-ASCII text (an image
       reference, a media type, a digest, a size such as ``742.0 B``, platform names),
       so tabwriter pads each to the same column offset as the header's (it counts
       runes; Python indexes code points: the same for ASCII).  The columns are cut at
       the header's offsets, not split on whitespace, and each start must follow a
       space.  LABELS is the last column: everything from its offset to the line's
       end.  A tab or vertical tab inside a label value only starts another cell after
       it (padding inside our LABELS text); Unicode in it only changes padding after it.
    2. Lines end at ``"\n"`` only (not ``str.splitlines``' ``\r``, U+2028, ...; the
       output is decoded without newline translation).  A label value may hold a line
       break (``\n``, or a form feed, which tabwriter turns into one): containerd checks
       only a label's length.  So the caller proves every line is one whole record:
       its refs must equal ``ctr images ls -q``'s names (one per line, nothing else;
       ``ContainerdStore._image_records``), else nothing is read.
    3. Inside LABELS the commas are not escaped, so ``labels`` is a best reading (a
       piece without ``=`` belongs to the value before it); the pin is decided on the
       raw text (``_CtrImage.pinned``): the exact ``io.cri-containerd.pinned=pinned``
       anywhere in the cell keeps the image, since ctr prints a real pin label as that
       contiguous text and a value that imitates it only keeps an image.

    Raises :class:`StoreError` naming the line for output of any other shape.
    """
    # ctr ends lines with "\n" only; str.splitlines() would also split at "\r", U+0085,
    # U+2028 ... inside a label value
    lines = out.split("\n")
    if not lines[0].strip():
        return []
    header = lines[0]
    names = header.split()
    if tuple(names) != _CTR_COLUMNS:
        raise StoreError(f"ctr images ls: unexpected header {header.strip()!r}")
    starts = [header.index(" " + n) + 1 if i else 0 for i, n in enumerate(names)]
    records = []
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], len(line)], strict=True)]
        # tabwriter leaves at least one space before each column
        aligned = all(a == 0 or line[a - 1 : a] == " " for a in starts)
        ref, _, digest, _, _, labels = cells
        if not aligned or not ref or " " in ref or not _DIGEST.match(digest):
            raise StoreError(f"ctr images ls: cannot parse line {lineno}: {line.strip()!r}")
        records.append(_CtrImage(ref, digest, _ctr_labels(labels), labels))
    return records


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_PINNED_TOKEN = f"{PINNED_LABEL}=pinned"


def _ctr_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    if text in ("", "-"):
        return labels
    key = ""
    for piece in text.split(","):
        name, eq, value = piece.partition("=")
        if eq and name and " " not in name:
            key = name
            labels[key] = value
        elif key:
            labels[key] += "," + piece
    return labels


class ContainerdStore:
    """A real containerd, through ``ctr --address SOCKET -n NAMESPACE``.

    Images are the records of ``ctr images ls``; records named only by a config digest
    (``sha256:...``, the CRI plugin's image IDs) are aliases, not images a list can name.
    In use: the image of every container (``ctr containers ls``; a container counts from
    the moment it is created, running or not).  Pinned: the ``io.cri-containerd.pinned``
    label, seen as the text ``io.cri-containerd.pinned=pinned`` anywhere in ctr's
    ``LABELS`` cell (ctr does not escape the ``,`` that joins labels, so the cell is
    ambiguous and ambiguity keeps the image).  Removing a tag also removes its digest/ID
    aliases once no other tag points to the same manifest, as the CRI plugin does, so the
    content can be garbage-collected.
    """

    def __init__(
        self,
        socket: str = DEFAULT_CONTAINERD_SOCKET,
        namespace: str = "k8s.io",
        ctr: str = "ctr",
        *,
        connect_timeout: float = 10.0,
        runner: CommandRunner | None = None,
    ) -> None:
        self.socket = socket
        self.namespace = namespace
        self.ctr = ctr
        self.connect_timeout = connect_timeout
        self._run: CommandRunner = runner or run_command

    def __repr__(self) -> str:
        return f"ContainerdStore({self.socket!r}, namespace={self.namespace!r})"

    def _ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run(
            [
                self.ctr,
                "--address",
                self.socket,
                "--connect-timeout",
                f"{self.connect_timeout:g}s",
                "-n",
                self.namespace,
                *args,
            ]
        )

    def _ctr_ok(self, *args: str) -> str:
        proc = self._ctr(*args)
        if proc.returncode != 0:
            raise StoreError(
                f"ctr {' '.join(args)} (containerd at {self.socket}): {_failure_text(proc)}"
            )
        return proc.stdout

    def _image_records(self) -> list[_CtrImage]:
        """``ctr images ls``, each line proven to be one whole record (see
        :func:`parse_ctr_images`): its refs must be exactly ``ctr images ls -q``'s.

        A label value may hold a line break (containerd checks only a label's length),
        which would cut a record's ``LABELS`` cell and could even print a line that reads
        as another record; ``-q`` prints the names alone, one per line.  Read again (3
        times at most) when images change between the two reads; then a
        :class:`StoreError`, which stops the run before anything is removed.
        """
        for _ in range(3):
            records = parse_ctr_images(self._ctr_ok("images", "ls"))
            names = [n for n in self._ctr_ok("images", "ls", "-q").split("\n") if n]
            if sorted(r.ref for r in records) == sorted(names):
                return records
        raise StoreError(
            "ctr images ls: its lines do not match the names of `ctr images ls -q` "
            "(a label value with a line break, or images changing while read); "
            "nothing is removed from a listing that cannot be read exactly"
        )

    def images(self) -> list[str]:
        return [r.ref for r in self._image_records() if not _ID_REF.match(r.ref)]

    def _containers(self) -> dict[str, str]:
        """Container ID -> the image reference it was created from."""
        out = self._ctr_ok("containers", "ls")
        users: dict[str, str] = {}
        for lineno, line in enumerate(out.splitlines(), 1):
            fields = line.split()
            if not fields or (lineno == 1 and fields[0] == "CONTAINER"):
                continue
            if len(fields) == 3:  # CONTAINER IMAGE RUNTIME
                users[fields[0]] = fields[1]
            elif len(fields) != 2:  # 2 fields: a container made without an image
                raise StoreError(f"ctr containers ls: cannot parse line {lineno}: {line.strip()!r}")
        return users

    def in_use(self) -> set[str]:
        return set(self._containers().values())

    def pinned(self) -> set[str]:
        return {r.ref for r in self._image_records() if r.pinned}

    def identities(self) -> dict[str, str]:
        """Every record's name (tags, ``name@digest`` and ID aliases) -> its target digest."""
        return {r.ref: r.digest for r in self._image_records()}

    def remove(self, image: str) -> None:
        try:
            records = self._image_records()
            users = self._containers()
        except StoreError as exc:
            raise RemovalError(image, str(exc)) from exc
        record = next((r for r in records if r.ref == image), None)
        if record is None:
            raise RemovalError(image, "no such image")
        same_content = [r for r in records if r.digest == record.digest]
        names = {r.ref for r in same_content}
        holders = sorted(cid for cid, ref in users.items() if ref in names)
        if holders:
            raise RemovalError(image, f"image is in use by container {', '.join(holders)}")
        if any(r.pinned for r in same_content):
            raise RemovalError(image, f"image is pinned ({PINNED_LABEL}=pinned)")
        same = [r.ref for r in records if r.digest == record.digest and r.ref != image]
        other_tags = [ref for ref in same if not _is_alias(ref)]
        aliases = [] if other_tags else [ref for ref in same if ref not in users.values()]
        proc = self._ctr("images", "rm", image)
        if proc.returncode != 0:
            raise RemovalError(image, f"ctr images rm: {_failure_text(proc)}")
        for alias in aliases:
            proc = self._ctr("images", "rm", alias)
            if proc.returncode != 0:
                raise RemovalError(
                    image, f"removed, but its alias {alias} stayed: {_failure_text(proc)}"
                )


def _is_alias(ref: str) -> bool:
    """A record that names content by digest (``name@sha256:...`` or an image ID)."""
    return "@" in ref or bool(_ID_REF.match(ref))


# --------------------------------------------------------------------------- crictl


@dataclass(frozen=True)
class _CriImage:
    id: str
    tags: list[str]
    digests: list[str]
    pinned: bool


class CrictlStore:
    """The node's CRI runtime through ``crictl`` with JSON output.

    ``crictl images -o json`` for images (their ``repoTags``; ``pinned`` where the
    runtime reports it), ``crictl ps -a -o json`` for the images of all containers,
    ``crictl pods -o json`` and ``crictl inspectp -o json ID`` for the image of every pod
    sandbox (the pause image: on containerd, ``crictl ps -a`` does not list sandboxes,
    and their image is only in the sandbox's verbose ``info.image``), ``crictl rmi ID``
    to remove.  A sandbox, ready or not, holds its image as a container does.  CRI
    removes an image with every tag it has, so a tag is only removed when all other
    tags of its image are being removed too (announced with :meth:`plan_removal`);
    otherwise it is reported as not removable.
    """

    def __init__(
        self,
        crictl: str = "crictl",
        endpoint: str | None = None,
        *,
        runner: CommandRunner | None = None,
    ) -> None:
        self.crictl = crictl
        self.endpoint = endpoint
        self._run: CommandRunner = runner or run_command
        self._going: set[str] = set()
        self._removed_with: dict[str, str] = {}  # sibling tag -> the tag whose rmi took it

    def __repr__(self) -> str:
        return f"CrictlStore(endpoint={self.endpoint!r})"

    def _argv(self, *args: str) -> list[str]:
        argv = [self.crictl]
        if self.endpoint:
            argv += ["--runtime-endpoint", self.endpoint, "--image-endpoint", self.endpoint]
        return argv + list(args)

    def _json(self, *args: str) -> dict[str, Any]:
        what = "crictl " + " ".join(args)
        proc = self._run(self._argv(*args))
        if proc.returncode != 0:
            raise StoreError(f"{what}: {_failure_text(proc)}")
        try:
            doc = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise StoreError(
                f"{what}: output is not JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
            ) from exc
        if not isinstance(doc, dict):
            raise StoreError(f"{what}: output must be a JSON object")
        return doc

    def _images(self) -> list[_CriImage]:
        doc = self._json("images", "-o", "json")
        items = _json_list(doc, "images", "crictl images")
        images = []
        for i, item in enumerate(items):
            where = f"crictl images: images[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise StoreError(f"{where}: missing string field 'id'")
            tags = _json_strings(item, "repoTags", where)
            digests = _json_strings(item, "repoDigests", where)
            images.append(_CriImage(item["id"], tags, digests, item.get("pinned") is True))
        return images

    def images(self) -> list[str]:
        return [tag for image in self._images() for tag in image.tags]

    def pinned(self) -> set[str]:
        return {tag for image in self._images() if image.pinned for tag in image.tags}

    def _container_refs(self) -> dict[str, set[str]]:
        """Container ID -> every reference it names its image by (ID, tag, digest)."""
        doc = self._json("ps", "-a", "-o", "json")
        refs: dict[str, set[str]] = {}
        for i, item in enumerate(_json_list(doc, "containers", "crictl ps")):
            where = f"crictl ps: containers[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise StoreError(f"{where}: missing string field 'id'")
            names = set()
            for key in ("imageRef", "imageId"):
                if isinstance(item.get(key), str) and item[key]:
                    names.add(item[key])
            spec = item.get("image")
            if isinstance(spec, dict) and isinstance(spec.get("image"), str) and spec["image"]:
                names.add(spec["image"])
            if not names:
                raise StoreError(f"{where}: names no image (no 'imageRef' or 'image.image')")
            refs[item["id"]] = names
        return refs

    def _sandbox_refs(self) -> dict[str, set[str]]:
        """Pod sandbox ID -> the image it runs (``info.image`` of ``crictl inspectp``).

        Raises :class:`StoreError` when a sandbox's image cannot be found: an unknown
        pause image could be the one we are about to delete.
        """
        doc = self._json("pods", "-o", "json")
        refs: dict[str, set[str]] = {}
        for i, item in enumerate(_json_list(doc, "items", "crictl pods")):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise StoreError(f"crictl pods: items[{i}]: missing string field 'id'")
            pod = item["id"]
            status = self._json("inspectp", "-o", "json", pod)
            info = status.get("info")
            image = info.get("image") if isinstance(info, dict) else None
            if not isinstance(image, str) or not image:
                raise StoreError(
                    f"crictl inspectp {pod}: no 'info.image' (the sandbox image); "
                    "cannot tell which image the pod sandbox uses"
                )
            refs["pod " + pod] = {image}
        return refs

    def _users_refs(self) -> dict[str, set[str]]:
        return {**self._container_refs(), **self._sandbox_refs()}

    @staticmethod
    def _users(image: _CriImage, containers: dict[str, set[str]]) -> list[str]:
        names = {image.id, *image.tags, *image.digests}
        return sorted(cid for cid, refs in containers.items() if refs & names)

    def identities(self) -> dict[str, str]:
        """Every tag, ``name@digest`` and ID of an image -> the image ID."""
        out: dict[str, str] = {}
        for image in self._images():
            for name in (image.id, *image.tags, *image.digests):
                out[name] = image.id
        return out

    def in_use(self) -> set[str]:
        containers = self._users_refs()
        used: set[str] = set()
        for image in self._images():
            if self._users(image, containers):
                used.update(image.tags)
        for refs in containers.values():  # images already gone still name what is in use
            used.update(r for r in refs if not _ID_REF.match(r))
        return used

    def plan_removal(self, images: Collection[str]) -> None:
        """Announce every tag this run will remove (see the class docstring)."""
        self._going = set(images)

    def remove(self, image: str) -> None:
        try:
            images = self._images()
            containers = self._users_refs()
        except StoreError as exc:
            raise RemovalError(image, str(exc)) from exc
        found = next((i for i in images if image in i.tags), None)
        if found is None:
            if image in self._removed_with:
                return  # went with its sibling tag: one CRI image, one rmi
            raise RemovalError(image, "no such image")
        users = self._users(found, containers)
        if users:
            raise RemovalError(image, f"image is in use by container {', '.join(users)}")
        if found.pinned:
            raise RemovalError(image, f"image {found.id} is pinned")
        staying = [t for t in found.tags if t != image and t not in self._going]
        if staying:
            raise RemovalError(
                image,
                f"image {found.id} is also tagged {', '.join(staying)}, which is not being "
                "removed; crictl rmi would remove every tag, so it was left in place",
            )
        proc = self._run(self._argv("rmi", found.id))
        if proc.returncode != 0:
            raise RemovalError(image, f"crictl rmi {found.id}: {_failure_text(proc)}")
        for tag in found.tags:
            if tag != image:
                self._removed_with[tag] = image


def _json_list(doc: dict[str, Any], field: str, what: str) -> list[Any]:
    value = doc.get(field)
    if value is None:
        return []  # crictl prints {} / null lists when there is nothing
    if not isinstance(value, list):
        raise StoreError(f"{what}: field {field!r} must be a list, not {type(value).__name__}")
    return value


def _json_strings(item: dict[str, Any], field: str, where: str) -> list[str]:
    value = item.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StoreError(f"{where}: field {field!r} must be a list of strings")
    return list(value)


# --------------------------------------------------------------------------- spec


def open_store(spec: str) -> ImageStore:
    """Open a store from a ``--store`` value.

    ``memory:FILE``, ``containerd`` or ``containerd:SOCKET`` (default
    :data:`DEFAULT_CONTAINERD_SOCKET`), ``crictl`` or ``crictl:ENDPOINT`` (default: crictl's
    own configuration).  Raises :class:`StoreSpecError` for anything else.
    """
    kind, sep, arg = spec.partition(":")
    if kind == "memory":
        if not arg:
            raise StoreSpecError(f"--store {spec!r}: memory needs a file, as memory:FILE")
        return MemoryStore(arg)
    if kind == "containerd":
        if sep and not arg:
            raise StoreSpecError(f"--store {spec!r}: containerd: needs a socket path after ':'")
        return ContainerdStore(arg or DEFAULT_CONTAINERD_SOCKET)
    if kind == "crictl":
        if sep and not arg:
            raise StoreSpecError(f"--store {spec!r}: crictl: needs an endpoint after ':'")
        return CrictlStore(endpoint=arg or None)
    raise StoreSpecError(
        f"--store {spec!r}: unknown store {kind!r} "
        "(expected memory:FILE, containerd[:SOCKET] or crictl[:ENDPOINT])"
    )

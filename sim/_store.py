"""A node image store that fails or changes under the run: the world's store faults.

The harness gives the cleanup a ``cleanup.MemoryStore`` file; a world whose
:attr:`Scenario.store_faults <sim.Scenario.store_faults>` is not empty gets it wrapped
in a :class:`FaultyStore`, which plays three kinds of misbehaviour a real node's store
shows (``ctr``/``crictl`` against containerd, ``cleanup._containerd`` and
``cleanup._crictl``):

- **unreadable**: one read of the run (taking the lock, listing images, containers,
  pins or identities) raises :class:`cleanup.StoreError` with the world's text - a
  permission denied on the socket, a socket that is not there, an answer that does
  not parse.  README "cleanup run": outcome ``store-error``, exit status 2, nothing
  removed.
- **refused removals**: removing some images fails, with a :class:`cleanup.RemovalError`
  (the runtime refuses that image) or a plain :class:`cleanup.StoreError` (the socket
  went away mid-run); the run goes on with the rest, reports each in ``failed`` with
  the store's reason and an ``ImageRemovalFailed`` event, and still succeeds (exit 0).
- **a concurrent writer**: between the run's listing and its first removal another
  process starts a container from an image, pins one, pulls one or removes one
  (:class:`WriterChange`).  It writes the file while the run holds the lock, as a
  container runtime writes its own state without asking our lock: containers, pins
  and pulls through the same ``MemoryStore`` object (``update``, the lock being
  re-entrant), a removal by rewriting the file in place (``ctr images rm`` checks no
  container).  Nothing that became in use or pinned may be deleted (README "What
  cleanup run guarantees": every removal re-reads the store).

Deterministic: the faults are plain data of the world (no clock, no randomness), the
writer acts at the run's first ``remove`` call, so a seed and a world replay exactly.
The vectorised evaluator never sees these worlds: it evaluates timelines, and store
faults live on the scenario (set in code, not in scenario files, like
``Scenario.repo_literal``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, get_args

from cleanup import MemoryStore, RemovalError, StoreError

__all__ = [
    "REMOVAL_FAULTS",
    "STORE_READS",
    "WRITER_ACTIONS",
    "FaultyStore",
    "RemovalFailure",
    "RemovalFault",
    "StoreFaults",
    "StoreRead",
    "WriterAction",
    "WriterChange",
]

#: the reads of one run, in the order ``cleanup.run_cleanup`` makes them: the lock
#: (``locked()``), then ``images()``, ``in_use()``, ``pinned()``, ``identities()``
StoreRead = Literal["lock", "images", "in_use", "pinned", "identities"]
STORE_READS: tuple[StoreRead, ...] = get_args(StoreRead)
#: how a removal fails: the runtime refuses the one image (``RemovalError``), or the
#: store itself is gone for that call (``StoreError``)
RemovalFailure = Literal["refused", "store-error"]
REMOVAL_FAULTS: tuple[RemovalFailure, ...] = get_args(RemovalFailure)
#: what another writer does: start a container from an image (in use), pin an image,
#: pull an image, remove an image
WriterAction = Literal["start-container", "pin", "pull", "remove"]
WRITER_ACTIONS: tuple[WriterAction, ...] = get_args(WriterAction)


@dataclass(frozen=True)
class RemovalFault:
    """Removing ``image`` fails with ``reason`` (the store's text) as ``failure``."""

    image: str
    reason: str
    failure: RemovalFailure = "refused"


@dataclass(frozen=True)
class WriterChange:
    """Another writer's change to the store, made after the run listed the store and
    before its first removal.  ``image`` is the name the writer uses: a node image's
    name, another spelling of it, or its content identity (an image ID)."""

    action: WriterAction
    image: str

    def describe(self) -> str:
        """The change in words, for the trace (e.g. ``a container started from X``)."""
        return {
            "start-container": f"a container started from {self.image}",
            "pin": f"{self.image} pinned",
            "pull": f"{self.image} pulled",
            "remove": f"{self.image} removed by another process",
        }[self.action]


@dataclass(frozen=True)
class StoreFaults:
    """How a world's node store misbehaves; the default: not at all.

    ``unreadable``: the read that fails (:data:`STORE_READS`) with ``reason``;
    ``removals``: removals that fail; ``writer``: a concurrent writer's changes.
    """

    unreadable: StoreRead | None = None
    reason: str = ""
    removals: tuple[RemovalFault, ...] = ()
    writer: tuple[WriterChange, ...] = ()

    def __post_init__(self) -> None:
        if self.unreadable is not None and self.unreadable not in STORE_READS:
            raise ValueError(
                f"store_faults.unreadable: {self.unreadable!r} is no store read "
                f"(expected one of {', '.join(STORE_READS)})"
            )
        if self.unreadable is not None and not self.reason:
            raise ValueError("store_faults.reason: an unreadable store needs the store's text")
        for fault in self.removals:
            if fault.failure not in REMOVAL_FAULTS or not fault.reason:
                raise ValueError(f"store_faults.removals: {fault!r} needs a reason and a failure")
        for change in self.writer:
            if change.action not in WRITER_ACTIONS:
                raise ValueError(
                    f"store_faults.writer: {change.action!r} is no writer action "
                    f"(expected one of {', '.join(WRITER_ACTIONS)})"
                )

    def __bool__(self) -> bool:
        return bool(self.unreadable or self.removals or self.writer)

    def describe(self) -> list[str]:
        """One line per fault of this world, for the trace; empty when the store
        behaves."""
        lines = []
        if self.unreadable:
            lines.append(f"store: {self.unreadable} fails: {self.reason}")
        lines += [
            f"store: removing {f.image} fails ({f.failure}): {f.reason}" for f in self.removals
        ]
        lines += [f"store: before the first removal, {c.describe()}" for c in self.writer]
        return lines


class FaultyStore:
    """``inner`` (a :class:`cleanup.MemoryStore`) with ``faults`` played on it.

    ``on_change(change)`` is called as the writer makes each change (the harness puts
    it in the trace); ``applied`` lists the changes made so far.
    """

    def __init__(
        self,
        inner: MemoryStore,
        faults: StoreFaults,
        on_change: Callable[[WriterChange], None] | None = None,
    ) -> None:
        self.inner = inner
        self.faults = faults
        self.applied: list[WriterChange] = []
        self._on_change = on_change
        self._refusals = {f.image: f for f in faults.removals}
        self._written = False

    def __repr__(self) -> str:
        return repr(self.inner)  # the report names the store the run was given

    def _read(self, what: StoreRead) -> None:
        if self.faults.unreadable == what:
            raise StoreError(self.faults.reason)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The wrapped store's lock; raises the world's ``StoreError`` when the lock
        is the read that fails."""
        self._read("lock")
        with self.inner.locked():
            yield

    def images(self) -> list[str]:
        """The wrapped store's images, or the world's ``StoreError`` for this read."""
        self._read("images")
        return self.inner.images()

    def in_use(self) -> set[str]:
        """The wrapped store's in-use names, or the world's ``StoreError``."""
        self._read("in_use")
        return self.inner.in_use()

    def pinned(self) -> set[str]:
        """The wrapped store's pinned names, or the world's ``StoreError``."""
        self._read("pinned")
        return self.inner.pinned()

    def identities(self) -> dict[str, str]:
        """The wrapped store's name -> identity map, or the world's ``StoreError``."""
        self._read("identities")
        return self.inner.identities()

    def _write(self) -> None:
        """The concurrent writer's changes, once, in order (under the store's lock)."""
        self._written = True
        with self.inner.locked():
            for change in self.faults.writer:
                if change.action == "start-container":
                    self.inner.update(in_use=[change.image])
                elif change.action == "pin":
                    self.inner.update(pinned=[change.image])
                elif change.action == "pull":
                    self.inner.update(add=[change.image])
                elif not self._drop(change.image):
                    continue
                self.applied.append(change)
                if self._on_change is not None:
                    self._on_change(change)

    def _drop(self, image: str) -> bool:
        """Another process removes ``image`` whatever uses it (``ctr images rm`` checks
        no container, README "Image stores"): the file rewritten in place without it
        (its ``ids`` entry stays: a name need not be an image to name an identity).
        False when the node has no such image."""
        path = self.inner.path
        doc = json.loads(path.read_text("utf-8"))
        if image not in doc["images"]:
            return False
        doc["images"] = [name for name in doc["images"] if name != image]
        with path.open("r+", encoding="utf-8") as file:
            file.write(json.dumps(doc, indent=2) + "\n")
            file.truncate()
        return True

    def remove(self, image: str) -> None:
        """Remove ``image`` from the wrapped store.  The concurrent writer acts first,
        once (at the run's first removal, under its lock); a removal the world refuses
        raises its ``RemovalError`` (or a plain ``StoreError``) and removes nothing."""
        if not self._written:
            self._write()
        fault = self._refusals.get(image)
        if fault is not None:
            if fault.failure == "refused":
                raise RemovalError(image, fault.reason)
            raise StoreError(fault.reason)
        self.inner.remove(image)

"""Image stores: where the cleanup finds images and removes them.

The plan (``_plan``) is pure; it needs to know which images a node has, which of them
running or stopped containers use, and which are pinned.  A store answers those three
questions and removes one image at a time.  One at a time on purpose: a bulk
``crictl rmi a b c`` aborts entirely when one image is locked, which is how old images
used to survive the Harvester cleanup.

Three stores, one module each (``_memory_store``, ``_containerd``, ``_crictl``; what they
share is in ``_store``), opened from a ``--store`` value by :func:`open_store`:

- :class:`MemoryStore` keeps the node in a JSON file, so tests and the simulation can
  run the whole cleanup without a container runtime and look at the result afterwards.
- :class:`ContainerdStore` talks to a real containerd through ``ctr``.  ``ctr images rm``
  does *not* refuse an image a container was created from, so the store checks that
  itself before removing anything (the CRI plugin's users rely on the same rule).
- :class:`CrictlStore` talks CRI through ``crictl`` (what the Harvester job runs).  CRI
  removes an image with *all* its tags, so the store refuses to remove a tag whose image
  carries another tag that is not being removed too; otherwise deleting an old tag could
  take a current image with it.

Failures are typed: :class:`~cleanup.StoreError` when the store cannot be read at
all, :class:`~cleanup.RemovalError` when one image could not be removed (the caller
reports it and goes on with the rest).

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

from cleanup._containerd import DEFAULT_CONTAINERD_SOCKET, ContainerdStore
from cleanup._crictl import CrictlStore
from cleanup._memory_store import MemoryStore
from cleanup._store import ImageStore, StoreSpecError

__all__ = ["open_store"]


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

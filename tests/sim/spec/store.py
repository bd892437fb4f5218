"""What a run does when the node's image store fails or changes under it.

Source: README "cleanup: running it (`cleanup run`)" (the exit-status list and the
``--json`` report) and "What `cleanup run` guarantees" (locking and re-reading; reports
say only what happened), restated here, not imported::

    the store cannot be read (the lock, the images, the containers, the pins or the
    identities; after both lists came):
        outcome store-error, exit status 2, error = the store's text, error_kind
        "store error"; nothing planned, nothing removed, nothing failed
    otherwise (both lists fetched and related):
        doomed   = deletion set of the node as the run read it          (spec.deletion)
        a concurrent writer acts between the listing and the first removal, so only
        when doomed is not empty; the node then is node' (pulled images added, removed
        ones gone) with in_use' and pinned' (the writer's marks added)
        marked   = {n : n is the same reference as a writer's mark, or its content}
        deleted  = doomed - refused - marked - removed by the writer
        failed   = doomed - deleted (each refused one with the store's reason)
        outcome success, exit status 0 ("also when some images could not be
        removed: they are listed"), error none; the node keeps node' - deleted

A mark the writer puts on a name protects every node name that is the same reference
(any spelling distribution/reference normalises alike; not the lists' short
``name:tag`` match: a container names the image it runs) and every name of the same
content: README "every removal re-reads the store and refuses what became in use or
pinned meanwhile" (:func:`_marked`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tests.sim.spec.deletion import _identity, _stated, deletion_set, same

__all__ = ["EXIT_STATUS", "STORE_ERROR_KIND", "Expected", "faulty_store_run"]

#: README "cleanup run", exit status: 0 success (also when some images could not be
#: removed), 1 gave up, 2 an error the policy does not retry or the image store could
#: not be read
EXIT_STATUS = {"success": 0, "gave-up": 1, "not-retriable": 2, "store-error": 2}
#: README ``--json``: the report's ``error_kind`` when the store could not be read
STORE_ERROR_KIND = "store error"


@dataclass(frozen=True)
class Expected:
    """What the run must report and leave behind."""

    outcome: str
    error: str | None
    deleted: frozenset[str]
    #: image -> the store's reason when the world gave one (a refused removal), None
    #: when the store words it (gone, in use, pinned since the plan)
    failed: Mapping[str, str | None]
    node_after: frozenset[str]
    #: whether the writer got to act (there was a first removal)
    writer_acted: bool


def faulty_store_run(
    previous: Sequence[str],
    current: Sequence[str],
    node: Sequence[str],
    *,
    in_use: Sequence[str],
    pinned: Sequence[str],
    ids: Mapping[str, str],
    unreadable: str | None,
    refused: Mapping[str, str],
    started: Sequence[str] = (),
    pinned_now: Sequence[str] = (),
    pulled: Sequence[str] = (),
    removed: Sequence[str] = (),
) -> Expected:
    """The expectation of the module docstring.

    ``unreadable``: the store's text when a read fails (None: it reads).  ``refused``:
    image -> reason for removals the store refuses.  The writer's changes: containers
    ``started`` from images, ``pinned_now``, ``pulled``, ``removed`` (by another
    process, whatever uses them).
    """
    if unreadable is not None:
        return Expected("store-error", unreadable, frozenset(), {}, frozenset(node), False)
    doomed = deletion_set(previous, current, node, in_use=in_use, pinned=pinned, ids=ids)
    acted = bool(doomed)
    now_node = list(node)
    still = set(doomed)
    if acted:
        now_node = [n for n in node if n not in set(removed)]
        now_node += [p for p in dict.fromkeys(pulled) if p not in now_node]
        marks = [*started, *pinned_now]
        still = {
            n
            for n in doomed
            if n in now_node and not any(_marked(n, m, now_node, ids) for m in marks)
        }
    deleted = {n for n in doomed if n in still and n not in refused}
    failed = {n: refused.get(n) for n in doomed - deleted}
    after = frozenset(n for n in now_node if n not in deleted)
    return Expected("success", None, frozenset(deleted), failed, after, acted)


def _marked(name: str, mark: str, node: Sequence[str], ids: Mapping[str, str]) -> bool:
    """Whether a container started from (or a pin on) ``mark`` keeps node image
    ``name``: the same reference (full, as distribution/reference normalises it: a
    container names the image it runs, so the lists' short ``name:tag`` match is not
    the store's), or the same content: ``name``'s identity is ``mark``'s own (its
    ``ids`` entry, the image ID or digest it states) or that of a node name that is
    ``mark``'s reference."""
    if same(name, mark, "full"):
        return True

    def ident(n: str) -> str:
        return _identity(ids.get(n, n))

    marked = {ident(n) for n in node if same(n, mark, "full")}
    if mark in ids:
        marked.add(ident(mark))
    stated = _stated(mark)
    if stated is not None:
        marked.add(stated)
    return ident(name) in marked

"""The node images a successful cleanup deletes, as a set expression.

Source: /work/shared/reference/harvester-image-cleanup.md ("What the controller does")
and issue 9 ("Same image, other name"); the names are compared as
``github.com/distribution/reference`` normalises them, restated here in a few lines
rather than taken from ``cleanup._images``::

    entries    = previous list, one per image (first spelling), in list order
    same(a, b) = full(a) == full(b) or short(a) == short(b)
    current    = the current list as the controller reads it: an image ID
                 sha256:<hex> also as the name docker.io/library/sha256:<hex>
    candidates = entries - {e : same(e, c) for some c in current} - {e : e is vmdp}
    retained   = for each retain substring, in order: the first candidate, not already
                 retained, whose text contains it
    doomed     = candidates - retained - {e : same(e, p), p pinned}
                                       - {e : same(e, u), u in use}
    staying    = current + in use + pinned + (entries - candidates) + retained
    protected  = {id(n) : n a node name or a name ids maps, same(n, s) for some s
                          in staying}
                 + {the digest or image ID s states itself : s in staying}
    deleted    = {n in the node's images : same(n, e) for some e in doomed,
                                           id(n) not in protected}

Each deleted node name is deleted once, by the first doomed entry that matches it, and
an entry is decided node name by node name (``a.io/x:1`` matches ``a.io/x:1`` and
``b.io/x:1``: the one whose identity is protected stays, the other goes)::

    deleter(n) = the first e in doomed, in list order, with same(n, e)   (n in deleted)

A doomed entry that matches node names, none of them protected and every one deleted by
an earlier entry (so it deletes nothing itself), stays with the reason::

    same node image as X,   X = the first in list order of {deleter(n) : same(n, e)}

(:func:`deleters`, :func:`same_node_image_as`).

A node name kept because its identity is protected says which staying name holds the
identity (README "cleanup", "Identity, not names")::

    same image (ID) as NAME (WHY)

``ID`` the identity as the store spells it; ``NAME (WHY)``: a current-list entry
written as ``full`` spells it with ``current list``, a container's or pinned name as
written with ``in use`` or ``pinned``, or a previous-list entry as the list writes it
(its first spelling) with the reason it stays: ``in current list``, ``vmdp image``,
``retained (SUBSTRING)`` (:func:`identity_keepers`); ``NAME`` is ``same`` as a node
name whose identity is ``ID``, or states ``ID`` itself (a digest, an image ID).

``full``: ``[domain/]path[:tag][@digest]`` as distribution/reference's
``ParseNormalizedNamed`` + ``TagNameOnly`` spell it (normalize.go ``splitDockerDomain``:
the text up to the first ``/`` is a registry host only if it contains ``.`` or ``:``,
is ``localhost``, or has upper case - so ``localhost/x`` is on the registry
``localhost`` while ``docker.io/localhost/x`` is the Docker Hub user ``localhost`` -
else the domain is ``docker.io``; ``index.docker.io`` is ``docker.io``; a
one-component Docker Hub path gets ``library/``), ``:latest`` without tag and digest.
``short``: the last path component with the tag (or the digest when there is no tag), whatever the
registry.  ``id(n)``: the store's content identity of node name ``n`` (its ``ids``
entry, else ``n``), in one spelling: an image ID spelt ``sha256:<hex>`` or as the bare
64 hex digits, or a digest reference ``name@sha256:<hex>``, is ``sha256:<hex>`` (the
content it names: so a node name ``x@sha256:D`` the store maps to nothing is the
content ``D`` a container run ``sha256:D`` holds, README "Identity, not names").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "NAME_TOTAL_LENGTH_MAX",
    "RETAIN",
    "TAG_LENGTH_MAX",
    "as_read",
    "candidates_of",
    "deleters",
    "deletion_set",
    "full",
    "identity",
    "identity_keepers",
    "is_vmdp",
    "listed",
    "namespaces",
    "normalised_name",
    "related",
    "retained_of",
    "same",
    "same_image_reason",
    "same_node_image_as",
    "short",
]

#: distribution/reference ``NameTotalLengthMax`` (reference.go): ``Parse`` refuses a
#: name longer than this with ``ErrNameTooLong``, and ``ParseNormalizedNamed`` parses
#: the *normalised* text (``domain + "/" + remainder``), so the count includes
#: ``docker.io/`` and ``library/`` where normalisation adds them
NAME_TOTAL_LENGTH_MAX = 255
#: the tag grammar ``[\w][\w.-]{0,127}`` (regexp.go): at most 128 characters
TAG_LENGTH_MAX = 128

#: pkg/controller/master/upgrade/upgrade_repo.go imageRetainList
RETAIN = (
    "rancher/harvester-upgrade",
    "longhornio/longhorn-engine",
    "longhornio/longhorn-instance-manager",
    "rancher/mirrored-banzaicloud-fluentd",
    "rancher/mirrored-fluent-fluent-bit",
)

_ID = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")


def _split(ref: str) -> tuple[str, str, str | None, str | None] | None:
    """(domain, path, tag, digest), or None for what is no reference (an image ID)."""
    if _ID.match(ref):
        return None
    name, _, digest = ref.partition("@")
    tag: str | None = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = "docker.io", name
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in path:
        path = "library/" + path
    return domain, path, tag, digest or None


def normalised_name(ref: str) -> str:
    """The name (``domain/path``, no tag or digest) ``ParseNormalizedNamed`` measures
    against :data:`NAME_TOTAL_LENGTH_MAX`."""
    parts = _split(ref)
    if parts is None:
        raise ValueError(f"{ref!r} is an image ID, not a reference")
    return f"{parts[0]}/{parts[1]}"


def full(ref: str) -> str:
    parts = _split(ref)
    if parts is None:
        return "id:" + ref
    domain, path, tag, digest = parts
    if tag is None and digest is None:
        tag = "latest"
    return f"{domain}/{path}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def short(ref: str) -> str:
    parts = _split(ref)
    if parts is None:
        return "id:" + ref
    _, path, tag, digest = parts
    last = path.rsplit("/", 1)[-1]
    if tag is not None:
        return f"{last}:{tag}"
    return f"{last}@{digest}" if digest else f"{last}:latest"


def same(a: str, b: str, match: str = "both") -> bool:
    """The controller's match (``match="both"``): the full references or the short
    ``name:tag`` agree; ``"full"``: the full references only; ``"short"``: the short
    keys only (cleanup's matching modes, README "cleanup")."""
    if match == "full":
        return full(a) == full(b)
    if match == "short":
        return short(a) == short(b)
    return full(a) == full(b) or short(a) == short(b)


_same = same


def related(previous: Sequence[str], current: Sequence[str]) -> bool:
    """Whether two lists can be consecutive Harvester lists: they name at least one
    common repository namespace (``domain/path`` without the last component).  A 200
    whose body merely parses as a list (``ok``, an error word) shares none, and would
    make every previous image "not in the current list" (retrylab's guard, README
    "cleanup": the repo client refuses such a current list, not retried)."""

    return bool(namespaces(previous) & namespaces(current))


def namespaces(refs: Sequence[str]) -> set[str]:
    """The repository namespaces ``refs`` name (``docker.io/rancher`` for
    ``rancher/harvester:v1``: the normalised name without its last component); an image
    ID (``sha256:<64 hex>``) is content with no name, and names none."""
    out = set()
    for ref in refs:
        parts = _split(ref)
        if parts is not None:
            out.add(f"{parts[0]}/{parts[1]}".rsplit("/", 1)[0])
    return out


def _identity(value: str) -> str:
    found = _ID.match(value)
    if found:
        return "sha256:" + found.group(1)
    digest = value.rpartition("@")[2]
    if "@" in value and digest.startswith("sha256:") and _ID.match(digest):
        return digest  # a digest reference: the content it names
    return value


def _stated(name: str) -> str | None:
    """The identity a name states by itself: an image ID, or a reference's digest."""
    if _ID.match(name):
        return _identity(name)
    parts = _split(name)
    return parts[3] if parts is not None else None


def listed(previous: Sequence[str]) -> list[str]:
    """The previous list's entries: one per image (its first spelling), in list order."""
    entries: dict[str, str] = {}
    for raw in previous:
        entries.setdefault(full(raw), raw)
    return list(entries.values())


def is_vmdp(ref: str) -> bool:
    """A ``vmdp`` image (the controller skips ``vmdp:*``): a reference whose last path
    component is ``vmdp``, whatever the registry or tag; an image ID is none."""
    parts = _split(ref)
    return parts is not None and parts[1].rsplit("/", 1)[-1] == "vmdp"


def as_read(current: Sequence[str]) -> list[str]:
    """The current list as the controller reads it: each entry, and after an image ID
    ``sha256:<hex>`` the name Go's ``ParseNormalizedNamed`` makes of its text,
    ``docker.io/library/sha256:<hex>`` (a previous entry of that name is in the current
    list to the controller)."""
    read: list[str] = []
    for raw in current:
        read.append(raw)
        if _ID.match(raw) and raw.startswith("sha256:"):
            read.append("docker.io/library/" + raw)
    return read


def candidates_of(
    previous: Sequence[str], current: Sequence[str], match: str = "both"
) -> list[str]:
    """The entries of ``previous`` (:func:`listed`) not in ``current`` (:func:`as_read`,
    by ``same`` in mode ``match``), image IDs and vmdp images left out, in list order."""
    current = as_read(current)
    return [
        raw
        for raw in listed(previous)
        if not any(same(raw, c, match) for c in current)
        and _split(raw) is not None
        and not is_vmdp(raw)
    ]


def retained_of(candidates: Sequence[str], retain: Sequence[str] = RETAIN) -> dict[str, str]:
    """``{candidate: substring}``: for each retain substring in order, the first
    candidate not already retained whose text contains it (Harvester's retain list)."""
    retained: dict[str, str] = {}
    for substring in retain:
        for raw in candidates:
            if raw not in retained and substring in raw:
                retained[raw] = substring
                break
    return retained


def deletion_set(
    previous: Sequence[str],
    current: Sequence[str],
    node: Sequence[str],
    *,
    in_use: Iterable[str] = (),
    pinned: Iterable[str] = (),
    ids: Mapping[str, str] | None = None,
    retain: Sequence[str] = RETAIN,
    match: str = "both",
) -> set[str]:
    """The node names a successful cleanup deletes (see the module docstring), with
    ``same`` in the matching mode ``match``."""
    return _decide(previous, current, node, in_use, pinned, ids, retain, match)[1]


def deleters(
    previous: Sequence[str],
    current: Sequence[str],
    node: Sequence[str],
    *,
    in_use: Iterable[str] = (),
    pinned: Iterable[str] = (),
    ids: Mapping[str, str] | None = None,
    retain: Sequence[str] = RETAIN,
    match: str = "both",
) -> dict[str, str]:
    """``{node name: the entry that deletes it}`` for every name of :func:`deletion_set`:
    the first doomed entry in list order ``same`` as it (module docstring, ``deleter``)."""
    doomed, deleted = _decide(previous, current, node, in_use, pinned, ids, retain, match)
    return {n: next(e for e in doomed if same(n, e, match)) for n in deleted}


def same_node_image_as(
    previous: Sequence[str],
    current: Sequence[str],
    node: Sequence[str],
    *,
    in_use: Iterable[str] = (),
    pinned: Iterable[str] = (),
    ids: Mapping[str, str] | None = None,
    retain: Sequence[str] = RETAIN,
    match: str = "both",
) -> dict[str, str]:
    """``{entry: X}`` for every doomed entry (as the list writes it) that stays with
    ``same node image as X``: it matches node names, none of them protected, every one
    deleted by an earlier entry; ``X`` is the first of those deleters in list order."""
    doomed, deleted = _decide(previous, current, node, in_use, pinned, ids, retain, match)
    deleter = {n: next(e for e in doomed if same(n, e, match)) for n in deleted}
    out: dict[str, str] = {}
    for entry in doomed:
        matched = [n for n in dict.fromkeys(node) if same(n, entry, match)]
        if matched and all(n in deleted and deleter[n] != entry for n in matched):
            by = {deleter[n] for n in matched}
            out[entry] = next(e for e in doomed if e in by)
    return out


def _decide(
    previous: Sequence[str],
    current: Sequence[str],
    node: Sequence[str],
    in_use: Iterable[str],
    pinned: Iterable[str],
    ids: Mapping[str, str] | None,
    retain: Sequence[str],
    match: str,
) -> tuple[list[str], set[str]]:
    """(doomed, deleted) of the module docstring: the doomed entries in list order, and
    the node names deleted."""
    ids = dict(ids or {})

    def same(a: str, b: str) -> bool:
        return _same(a, b, match)

    in_use, pinned = list(in_use), list(pinned)
    entries = {full(raw): raw for raw in listed(previous)}
    candidates = candidates_of(previous, current, match)
    retained = list(retained_of(candidates, retain))
    doomed = [
        raw
        for raw in candidates
        if raw not in retained
        and not any(same(raw, p) for p in pinned)
        and not any(same(raw, u) for u in in_use)
    ]
    staying = [*as_read(current), *in_use, *pinned, *retained]
    staying += [raw for raw in entries.values() if raw not in candidates]

    def ident(name: str) -> str:
        return _identity(ids.get(name, name))

    known = list(dict.fromkeys([*node, *ids]))
    protected = {ident(n) for n in known if any(same(n, s) for s in staying)}
    protected |= {_identity(s) for s in map(_stated, staying) if s is not None}
    deleted = {n for n in node if any(same(n, e) for e in doomed) and ident(n) not in protected}
    return doomed, deleted


_SAME_IMAGE = re.compile(r"^same image \((?P<ident>[^()]+)\) as (?P<label>.+ \(.+\))$")


def same_image_reason(reason: str) -> tuple[str, str] | None:
    """``(ID, "NAME (WHY)")`` of a ``same image (ID) as NAME (WHY)`` reason, else None."""
    found = _SAME_IMAGE.match(reason)
    return (found["ident"], found["label"]) if found else None


def identity_keepers(
    previous: Sequence[str],
    current: Sequence[str],
    node: Sequence[str],
    *,
    in_use: Iterable[str] = (),
    pinned: Iterable[str] = (),
    ids: Mapping[str, str] | None = None,
    retain: Sequence[str] = RETAIN,
    match: str = "both",
) -> dict[str, set[str]]:
    """``{"NAME (WHY)": identities}``: every label the reason ``same image (ID) as NAME
    (WHY)`` may give (module docstring), with the identities (``sha256:<hex>``) that
    label's name holds: those of the node names (and ``ids``' names) ``same`` as it,
    and the digest or image ID it states by itself."""
    ids = dict(ids or {})
    candidates = candidates_of(previous, current, match)
    retained = retained_of(candidates, retain)
    named: list[tuple[str, str]] = [
        (full(c) if _split(c) is not None else c, "current list") for c in current
    ]
    named += [(u, "in use") for u in in_use]
    named += [(p, "pinned") for p in pinned]
    for raw in listed(previous):
        if raw in retained:
            named.append((raw, f"retained ({retained[raw]})"))
        elif _split(raw) is None:
            named.append((raw, "an image ID, not an image name"))
        elif raw in candidates:
            continue
        elif any(same(raw, c, match) for c in as_read(current)):
            named.append((raw, "in current list"))
        elif is_vmdp(raw):
            named.append((raw, "vmdp image"))
    known = list(dict.fromkeys([*node, *ids]))
    keepers: dict[str, set[str]] = {}
    for name, why in named:
        # a current-list image ID holds what its name as read holds too (as_read)
        read = as_read([name]) if why == "current list" else [name]
        held = {_identity(ids.get(n, n)) for n in known if any(same(n, r, match) for r in read)}
        stated = _stated(name)
        if stated is not None:
            held.add(_identity(stated))
        keepers.setdefault(f"{name} ({why})", set()).update(held)
    return keepers


def identity(value: str) -> str:
    """An identity in one spelling: ``sha256:<hex>`` for an image ID written either way
    (``sha256:<hex>`` or the bare 64 hex) and for a digest reference
    ``name@sha256:<hex>``, else as it is."""
    return _identity(value)

"""Which images to delete after an upgrade, and why each one stays or goes.

A pure function of the two lists and what the node reports, so the real run, the
dry run, the report and the simulation all see the same decision.  The rule is the
Harvester controller's (``getImagesDiffList`` + ``applyImageRetainList``)::

    candidates = previous - current                    (Go: difference of two sets)
    for each retain substring, in order:
        keep the first candidate whose text contains it (one image per substring)
    delete the other candidates

plus what newer versions added: images pinned in containerd and ``vmdp`` images are
skipped, and matching also works on the short ``name:tag`` so images pulled through a
custom registry prefix are found.  We also keep images a container uses (containerd
would refuse to remove them anyway; Harvester finds out by failing) and, when the
caller says what the node holds (``present``), images that are not there, and we
delete by the node's own names for the matching images.

Retain applies to the candidates *before* pinned/in-use/presence are considered,
exactly as the controller applies it to the diff list: a retained image may also be
pinned, and it still uses up its substring.  The controller's "first" match depends on
Go's random map order; ours is the previous list's order, so plans are deterministic.

Same image, other name: when the caller gives the store's ``identity`` (every node name
-> the content identity the store removes by: an image ID or target digest), a name is
deleted only if its identity is not also the identity of anything that stays: an image
of the current list (by any spelling, including ``name@sha256:...``), an image a
container uses, a pinned image, or a previous-list image kept for any other reason
(retained, vmdp).  Removing by identity takes every name of the content (CRI ``rmi``, a
containerd record and its aliases), so one shared identity is enough to keep it; the
reason says which name kept it.  A digest reference's digest also protects a node image
whose identity is that digest, as a list entry written as an image ID
(``sha256:<hex>``) protects that content: such an entry names content, not an image to
remove by name, so in the previous list it is kept (``an image ID, not an image
name``); and every identity is read in one spelling, as a store's
re-check reads it (:func:`staying_because`): ``sha256:<hex>``, the bare hex and
``name@sha256:<hex>`` are the same content, so a node name ``x@sha256:<hex>`` the store
maps to nothing (or to itself) is the content a container run as ``sha256:<hex>`` holds;
a retained or ``vmdp`` entry written by digest protects its digest as a current one does.

Node name by node name: with ``present`` given, one list entry may match several node
images (``a.io/x:1`` matches ``b.io/x:1`` by the short ``name:tag`` key, yet to the store
they are two images, perhaps of other content), and each is decided by itself, as the
deletion set is (``tests/sim/spec/deletion.py``): kept when its own identity is
protected, else deleted by the first entry in list order that matches it.  An entry that
deletes none of its node images stays as a whole, with one reason: the first protected
identity among them (``same image (ID) as NAME (WHY)``), ``not present on node``, or
``same node image as X`` when an earlier entry deletes every one of them (X: the first
entry in list order that deletes a node image this one matches).  An entry that deletes
some is a deletion per node image it deletes and a keep per node image it keeps for its
identity, each named by the node's name (:class:`PlanItem`), so the report says why each
one stays and the dry run, the run and a store's re-check see the same names.

Matching modes: ``full`` compares normalised references (``docker.io/`` and
``library/`` added, ``:latest`` by default), ``short`` compares ``name:tag``, ``both``
treats two images as the same when either key matches - the safe choice for deleting,
since an image is deleted only when no key of it is current, in use or pinned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from cleanup._images import (
    ImageRef,
    InvalidReference,
    image_id_of,
    image_id_spellings,
    parse_reference,
    stated_image_id,
)

__all__ = ["MATCH_MODES", "RETAIN", "MatchMode", "Plan", "PlanItem", "plan", "staying_because"]

#: Image names the cleanup never removes, whatever the lists say (Harvester's
#: ``imageRetainList``, pkg/controller/master/upgrade/upgrade_repo.go).
RETAIN = (
    "rancher/harvester-upgrade",
    "longhornio/longhorn-engine",
    "longhornio/longhorn-instance-manager",
    "rancher/mirrored-banzaicloud-fluentd",
    "rancher/mirrored-fluent-fluent-bit",
)

#: How list entries and store images are compared: both spellings, full references only,
#: or short keys only (see :func:`plan`).
MatchMode = Literal["both", "full", "short"]
#: Every :data:`MatchMode`, in order.
MATCH_MODES: tuple[MatchMode, ...] = get_args(MatchMode)

IN_CURRENT = "in current list"
VMDP = "vmdp image"
PINNED = "pinned"
IN_USE = "in use by a container"
NOT_PRESENT = "not present on node"
NOT_IN_CURRENT = "not in current list"
IMAGE_ID = "an image ID, not an image name"


@dataclass(frozen=True)
class PlanItem:
    """One decision.  ``image`` is what it is about: for a deletion with ``present``
    given, the node's own name for it; for a keep, the previous list's spelling (the
    entry stays as a whole), except the node images an entry keeps for their identity
    while it deletes others it matches: each is a keep named by the node's name (module
    docstring, "Node name by node name").  ``listed`` always holds the previous list's
    spelling of the entry."""

    image: str
    reason: str
    listed: str

    def to_dict(self) -> dict[str, str]:
        return {"image": self.image, "reason": self.reason, "listed": self.listed}


@dataclass(frozen=True)
class Plan:
    """Deletions and keeps, each in previous-list order (by ``listed``).  An entry that
    deletes nothing is one item of ``keep``; one that deletes is an item of ``delete``
    per node image it deletes, and an item of ``keep`` per node image it matches and
    keeps for its identity."""

    delete: list[PlanItem]
    keep: list[PlanItem]
    match: MatchMode = "both"

    def to_dict(self) -> dict[str, object]:
        return {
            "match": self.match,
            "delete": [item.to_dict() for item in self.delete],
            "keep": [item.to_dict() for item in self.keep],
        }


def _keys(ref: ImageRef, match: MatchMode) -> frozenset[str]:
    # prefixes keep a full reference from ever equalling someone's short key
    keys = set()
    if match in ("full", "both"):
        keys.add("full:" + ref.full)
    if match in ("short", "both"):
        keys.add("short:" + ref.short)
    return frozenset(keys)


def _name_keys(name: str, match: MatchMode, ref: ImageRef | None = None) -> frozenset[str]:
    """Keys for a name a store reported or a list entry (``ref``: the entry parsed).

    An image ID (``sha256:<64 hex>`` or the bare hex) is content with no name: it
    matches that ID alone, in either spelling, never the image ``docker.io/library/sha256``
    it parses as (a list entry ``docker.io/library/sha256:<hex>`` is that image, and is
    not a node's record of the ID).  A name we cannot parse matches only itself.
    """
    image_id = image_id_of(name)
    if image_id is not None:
        return frozenset({"id:" + image_id})
    if ref is None:
        try:
            ref = parse_reference(name)
        except InvalidReference:
            return frozenset({"raw:" + name})
    return _keys(ref, match)


def _current_keys(raw: str, ref: ImageRef, match: MatchMode) -> frozenset[str]:
    """Keys of a current-list entry: its own (:func:`_name_keys`), and for an image ID
    also those of the name Go's controller reads it as (``ParseNormalizedNamed``:
    ``docker.io/library/sha256:<hex>``, short ``sha256:<hex>``), so a previous entry of
    that name stays as the controller keeps it: the current list keeps more, never less."""
    return _name_keys(raw, match, ref) | _keys(ref, match)


def _digest(name: str) -> str | None:
    """The identity a node name states by itself, or None.

    ``name@sha256:<64 hex>`` -> its digest; an image ID or digest on its own
    (``sha256:<64 hex>``, or the bare 64 hex that ``crictl`` and ``docker`` print) ->
    ``sha256:<64 hex>`` (:func:`~cleanup._images.image_id_of`).  Such a name in
    ``in_use`` or ``pinned`` protects every node name with that identity (issue 9: an
    image in use by its ID was deleted, because the ID parsed as no reference and
    matched nothing).
    """
    image_id = image_id_of(name)
    if image_id is not None:
        return image_id
    try:
        return parse_reference(name).digest
    except InvalidReference:
        return None


def _stated(raw: str, ref: ImageRef) -> str | None:
    """The identity a list entry states by itself: a digest reference's digest, or an
    image ID written as the entry (``sha256:<64 hex>``), else None."""
    return ref.digest or image_id_of(raw)


def _label(raw: str, ref: ImageRef) -> str:
    """How a reason names a current-list entry: its full reference, or an image ID as
    written."""
    return raw if image_id_of(raw) is not None else ref.full


def _identity_form(ident: str) -> str:
    """One spelling per content identity: ``sha256:<hex>`` for ``sha256:<hex>``, the
    bare 64 hex (``crictl``, ``docker``) and ``name@sha256:<hex>`` (a store's ``ids``
    may hold any of them, :func:`~cleanup._images.stated_image_id`); any other identity
    as it is."""
    return stated_image_id(ident) or ident


def _key_set(names: Iterable[str], match: MatchMode) -> set[str]:
    keys: set[str] = set()
    for name in names:
        keys |= _name_keys(name, match)
    return keys


def _parse_list(images: Iterable[str], which: str) -> list[tuple[str, ImageRef]]:
    parsed: list[tuple[str, ImageRef]] = []
    for image in images:
        try:
            parsed.append((image, parse_reference(image)))
        except InvalidReference as exc:
            raise ValueError(f"{which} list: {image!r} is not an image reference: {exc}") from None
    return parsed


def plan(
    previous: Iterable[str],
    current: Iterable[str],
    *,
    present: Iterable[str] | None = None,
    in_use: Iterable[str] = (),
    pinned: Iterable[str] = (),
    retain: Iterable[str] = RETAIN,
    match: MatchMode = "both",
    identity: Mapping[str, str] | None = None,
) -> Plan:
    """Decide, for every image of the previous list, whether it is deleted and why.

    ``present``: the node's image names; None means unknown (delete by list names).
    ``in_use``/``pinned``: node image names.  ``retain``: substrings, see module doc.
    ``identity``: node name -> content identity (see module doc); None: names only.
    Raises ``ValueError`` for an unknown ``match`` or an unparseable list entry.
    """
    if match not in MATCH_MODES:
        raise ValueError(f"match must be one of {', '.join(MATCH_MODES)}; got {match!r}")
    current_keys: set[str] = set()
    for raw, ref in _parse_list(current, "current"):
        current_keys |= _current_keys(raw, ref, match)
    in_use = list(in_use)
    pinned = list(pinned)
    current_refs = _parse_list(current, "current")
    in_use_keys = _key_set(in_use, match)
    pinned_keys = _key_set(pinned, match)
    by_key: dict[str, list[str]] | None = None
    if present is not None:
        by_key = {}
        for name in dict.fromkeys(present):
            for key in _name_keys(name, match):
                by_key.setdefault(key, []).append(name)

    # one entry per image (the first spelling wins), in previous-list order; an image
    # ID is its own entry, not the image ``docker.io/library/sha256`` it parses as
    entries: dict[str, tuple[str, ImageRef]] = {}
    for raw, ref in _parse_list(previous, "previous"):
        entries.setdefault(image_id_of(raw) or ref.full, (raw, ref))

    reasons: dict[str, str] = {}
    candidates: list[str] = []
    for full, (raw, ref) in entries.items():
        if _name_keys(raw, match, ref) & current_keys:
            reasons[full] = IN_CURRENT
        elif image_id_of(raw) is not None:
            # ``sha256:<hex>`` parses as the image "sha256" tagged with the hex, yet it
            # is a store's image ID: it names content, not an image to remove by name
            reasons[full] = IMAGE_ID
        elif ref.path.rsplit("/", 1)[-1] == "vmdp":
            reasons[full] = VMDP
        else:
            candidates.append(full)

    for substring in retain:
        for full in candidates:
            if full not in reasons and substring in entries[full][0]:
                reasons[full] = f"retained ({substring})"
                break

    # node name -> identity as the store spells it (the reasons quote it so)
    ids: Mapping[str, str] = identity if identity is not None else {}
    protected: dict[str, str] = {}  # identity (every spelling) -> what stays with it
    if identity is None:
        # names only: each node name is its own identity, so a node image that a
        # staying entry names (a retained ``my-registry.local/rancher/harvester-upgrade``)
        # is not deleted because another entry names it by the short ``name:tag``; and,
        # node names unknown too, an entry that states its content (``x@sha256:B``)
        # stays when something staying states the same (``sha256:B`` current or pinned)
        identity = {}
    if identity is not None:
        # one spelling per identity, as a store's re-check has it (:func:`staying_because`):
        # ``name@sha256:<hex>`` is the content it names, ``sha256:<hex>`` or bare hex an ID;
        # a node name the map does not give is its own identity, in that spelling too
        identity = {name: _identity_form(ident) for name, ident in identity.items()}
        for name in present or ():
            identity.setdefault(name, _identity_form(name))
        staying: list[tuple[str, frozenset[str], str | None]] = [
            (
                f"{_label(raw, ref)} (current list)",
                _current_keys(raw, ref, match),
                _stated(raw, ref),
            )
            for raw, ref in current_refs
        ]
        staying += [(f"{n} (in use)", _name_keys(n, match), _digest(n)) for n in in_use]
        staying += [(f"{n} (pinned)", _name_keys(n, match), _digest(n)) for n in pinned]
        staying += [
            (f"{raw} ({why})", _name_keys(raw, match, ref), _stated(raw, ref))
            for full, why in reasons.items()
            for raw, ref in [entries[full]]
        ]
        protected = _protected_identities(identity, staying, match)

    keep: list[PlanItem] = []
    delete: list[PlanItem] = []
    deleting: dict[str, str] = {}  # node name -> the list entry that deletes it
    position = {raw: n for n, (raw, _) in enumerate(entries.values())}
    for full, (raw, ref) in entries.items():
        reason = reasons.get(full)
        keys = _name_keys(raw, match, ref)
        if reason is None:
            if keys & pinned_keys:
                reason = PINNED
            elif keys & in_use_keys:
                reason = IN_USE
        if reason is None and by_key is not None:
            matched = list(dict.fromkeys(n for key in sorted(keys) for n in by_key.get(key, [])))
            # each node name the entry matches is decided by itself (one entry may match
            # ``a.io/x:1`` and ``b.io/x:1``, two images to the store): kept when its
            # identity is protected, else deleted by the first entry that matches it
            held = [n for n in matched if _identity_form(ids.get(n, n)) in protected]
            fresh = [n for n in matched if n not in deleting and n not in held]
            for name in fresh:
                deleting[name] = raw
                delete.append(PlanItem(name, NOT_IN_CURRENT, raw))
            if fresh:
                # a mixed entry: each node name it keeps is an item of its own
                keep.extend(PlanItem(n, _same_image(ids.get(n, n), protected), raw) for n in held)
                continue
            if held:
                reason = _same_image(ids.get(held[0], held[0]), protected)
            elif not matched:
                reason = NOT_PRESENT
            else:
                # every node image it matches an earlier entry deletes: delete once, and
                # name the first such entry in list order
                first = min((deleting[n] for n in matched), key=position.__getitem__)
                reason = f"same node image as {first}"
        if reason is None and by_key is None and _identity_form(ids.get(raw, raw)) in protected:
            reason = _same_image(ids.get(raw, raw), protected)
        if reason is None:
            delete.append(PlanItem(raw, NOT_IN_CURRENT, raw))
        else:
            keep.append(PlanItem(raw, reason, raw))
    return Plan(delete=delete, keep=keep, match=match)


def _same_image(ident: str, protected: Mapping[str, str]) -> str:
    """The reason a name stays for its identity ``ident``, as the store spells it (in
    :func:`_identity_form`'s spelling, a key of ``protected``: identity -> what stays
    with it, :func:`_protected_identities`)."""
    return f"same image ({ident}) as {protected[_identity_form(ident)]}"


def _protected_identities(
    identity: Mapping[str, str],
    staying: list[tuple[str, frozenset[str], str | None]],
    match: MatchMode,
) -> dict[str, str]:
    """Identity -> the first staying name (with why it stays) that resolves to it.

    ``staying``: (label, keys, digest) per thing that must stay.  A name resolves through
    its keys to every node name with a matching key; a digest reference's digest, an
    image ID or a bare 64-hex ID is also an identity by itself (containerd's target
    digest, crictl's image ID), under both its ``sha256:`` and its bare spelling.
    """
    ids_by_key: dict[str, list[str]] = {}
    for name, ident in identity.items():
        for key in _name_keys(name, match):
            ids_by_key.setdefault(key, []).append(ident)
    protected: dict[str, str] = {}
    for label, keys, digest in staying:
        for key in sorted(keys):
            for ident in ids_by_key.get(key, ()):
                # a store may spell one image ID two ways, name by name (``sha256:<hex>``
                # and the bare hex crictl prints): both are the identity
                for spelling in image_id_spellings(ident):
                    protected.setdefault(spelling, label)
        if digest is not None:
            for spelling in image_id_spellings(digest):
                protected.setdefault(spelling, label)
    return protected


def staying_because(
    image: str,
    *,
    in_use: Iterable[str] = (),
    pinned: Iterable[str] = (),
    identity: Mapping[str, str] | None = None,
    match: MatchMode = "both",
) -> str | None:
    """Why the node image ``image`` must stay by the store's state alone, or None.

    The in-use and pinned rules of :func:`plan` for one node name, for a store to ask
    again just before it removes ``image`` (a container may have started, or a pin been
    set, since the plan was made): ``image`` is the same image (by ``match``'s keys; an
    exact name, or one that parses as no reference, matches itself) as a name in
    ``in_use``/``pinned``, or shares its content identity (``identity``: node name ->
    identity, as in :func:`plan`, in any spelling: ``sha256:<hex>``, bare hex,
    ``name@sha256:<hex>``) with one, or with the digest or image ID such a name states
    by itself.  The one wording of a store's refusal: the text says which name keeps
    it, e.g. ``in use by a container (as rancher/x:v1)``, or ``same image
    (sha256:<hex>) as one pinned (as sha256:<hex>)``.
    """
    keys = _name_keys(image, match)
    staying: list[tuple[str, frozenset[str], str | None]] = []
    for names, why in ((in_use, IN_USE), (pinned, PINNED)):
        for name in names:
            name_keys = _name_keys(name, match)
            if name == image or name_keys & keys:
                return f"{why} (as {name})"
            staying.append((f"{why} (as {name})", name_keys, _digest(name)))
    ids = {name: _identity_form(ident) for name, ident in (identity or {}).items()}
    ids.setdefault(image, _identity_form(image))
    protected = _protected_identities(ids, staying, match)
    ident = ids[image]
    if ident in protected:
        return f"same image ({ident}) as one {protected[ident]}"
    return None

"""The plan: previous - current - retained - in use - pinned, every item with its reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cleanup._images import parse_reference
from cleanup._plan import MATCH_MODES, RETAIN, MatchMode, Plan, PlanItem, plan, staying_because

PREVIOUS = [
    "rancher/harvester:v1.4.1",
    "rancher/harvester-upgrade:v1.4.1",
    "longhornio/longhorn-engine:v1.7.1",
    "longhornio/longhorn-engine:v1.6.3",
    "longhornio/longhorn-instance-manager:v1.7.1",
    "rancher/mirrored-banzaicloud-fluentd:v1.14.6",
    "rancher/mirrored-fluent-fluent-bit:2.1.8",
    "rancher/kubectl:v1.28.1",
    "rancher/mirrored-pause:3.7",
    "registry.suse.com/suse/vmdp/vmdp:2.5.4.2",
    "rancher/harvester-webhook:v1.4.1",
    "rancher/harvester-network-controller:v0.5.4",
]
CURRENT = [
    "rancher/harvester:v1.5.0",
    "docker.io/rancher/mirrored-pause:3.7",  # same image, other spelling
    "rancher/harvester-upgrade:v1.5.0",
    "longhornio/longhorn-engine:v1.8.1",
]


def reasons(items: list[PlanItem]) -> dict[str, str]:
    return {item.listed: item.reason for item in items}


def test_the_controller_rule_with_every_reason() -> None:
    decided = plan(
        PREVIOUS,
        CURRENT,
        in_use={"docker.io/rancher/harvester-webhook:v1.4.1"},
        pinned={"docker.io/rancher/harvester-network-controller:v0.5.4"},
    )
    assert [item.image for item in decided.delete] == [
        "rancher/harvester:v1.4.1",
        "longhornio/longhorn-engine:v1.6.3",  # only the FIRST longhorn-engine is retained
        "rancher/kubectl:v1.28.1",
    ]
    assert all(item.reason == "not in current list" for item in decided.delete)
    retained = [
        "rancher/harvester-upgrade:v1.4.1",
        "longhornio/longhorn-engine:v1.7.1",
        "longhornio/longhorn-instance-manager:v1.7.1",
        "rancher/mirrored-banzaicloud-fluentd:v1.14.6",
        "rancher/mirrored-fluent-fluent-bit:2.1.8",
    ]
    assert reasons(decided.keep) == {
        **{image: f"retained ({image.split(':')[0]})" for image in retained},
        "rancher/mirrored-pause:3.7": "in current list",
        "registry.suse.com/suse/vmdp/vmdp:2.5.4.2": "vmdp image",
        "rancher/harvester-webhook:v1.4.1": "in use by a container",
        "rancher/harvester-network-controller:v0.5.4": "pinned",
    }
    # both lists keep the previous list's order
    order = [item.listed for item in decided.keep]
    assert order == [image for image in PREVIOUS if image in reasons(decided.keep)]


def test_retain_list_is_the_controllers() -> None:
    assert RETAIN == (
        "rancher/harvester-upgrade",
        "longhornio/longhorn-engine",
        "longhornio/longhorn-instance-manager",
        "rancher/mirrored-banzaicloud-fluentd",
        "rancher/mirrored-fluent-fluent-bit",
    )


def test_retain_applies_to_candidates_only() -> None:
    # the first longhorn-engine is in the current list, so it is not a candidate: the
    # retain slot goes to the first *candidate* that matches.
    previous = [
        "longhornio/longhorn-engine:v1.8.1",
        "longhornio/longhorn-engine:v1.7.1",
        "longhornio/longhorn-engine:v1.6.0",
    ]
    decided = plan(
        previous, ["longhornio/longhorn-engine:v1.8.1"], retain=["longhornio/longhorn-engine"]
    )
    assert reasons(decided.keep) == {
        "longhornio/longhorn-engine:v1.8.1": "in current list",
        "longhornio/longhorn-engine:v1.7.1": "retained (longhornio/longhorn-engine)",
    }
    assert [item.image for item in decided.delete] == ["longhornio/longhorn-engine:v1.6.0"]


def test_retained_image_uses_its_slot_even_when_pinned() -> None:
    # as in the controller: retain runs on the diff list, before anything else
    previous = ["longhornio/longhorn-engine:v1.7.1", "longhornio/longhorn-engine:v1.6.0"]
    decided = plan(
        previous, [], pinned={"longhornio/longhorn-engine:v1.7.1"}, retain=["longhorn-engine"]
    )
    assert reasons(decided.keep) == {
        "longhornio/longhorn-engine:v1.7.1": "retained (longhorn-engine)"
    }
    assert [item.image for item in decided.delete] == ["longhornio/longhorn-engine:v1.6.0"]


def test_one_image_cannot_be_retained_twice() -> None:
    previous = ["rancher/harvester-upgrade:v1", "rancher/harvester-upgrade:v0"]
    decided = plan(previous, [], retain=["harvester", "rancher/harvester-upgrade"])
    assert reasons(decided.keep) == {
        "rancher/harvester-upgrade:v1": "retained (harvester)",
        "rancher/harvester-upgrade:v0": "retained (rancher/harvester-upgrade)",
    }
    assert decided.delete == []


def test_custom_registry_prefix_needs_the_short_match() -> None:
    previous = ["rancher/harvester:v1.4.1", "rancher/kubectl:v1.28.1"]
    present = ["myreg.local:5000/rancher/harvester:v1.4.1", "docker.io/rancher/kubectl:v1.28.1"]
    full = plan(previous, [], present=present, match="full", retain=())
    assert [item.image for item in full.delete] == ["docker.io/rancher/kubectl:v1.28.1"]
    assert reasons(full.keep) == {"rancher/harvester:v1.4.1": "not present on node"}
    for mode in ("short", "both"):
        decided = plan(previous, [], present=present, match=mode, retain=())
        assert [(i.image, i.listed) for i in decided.delete] == [
            ("myreg.local:5000/rancher/harvester:v1.4.1", "rancher/harvester:v1.4.1"),
            ("docker.io/rancher/kubectl:v1.28.1", "rancher/kubectl:v1.28.1"),
        ]


def test_short_match_keeps_an_image_current_under_another_registry() -> None:
    previous = ["rancher/harvester:v1.5.0", "rancher/kubectl:v1"]
    current = ["myreg.local/rancher/harvester:v1.5.0"]
    assert [i.image for i in plan(previous, current, match="full", retain=()).delete] == previous
    for mode in ("short", "both"):
        assert [i.image for i in plan(previous, current, match=mode, retain=()).delete] == [
            "rancher/kubectl:v1"
        ]


def test_in_use_and_pinned_match_in_every_mode() -> None:
    previous = ["nginx:1.25", "rancher/kubectl:v1"]
    for mode in MATCH_MODES:
        decided = plan(
            previous,
            [],
            in_use={"docker.io/library/nginx:1.25"},
            pinned={"rancher/kubectl:v1"},
            match=mode,
        )
        assert decided.delete == [] and decided.match == mode
        assert reasons(decided.keep) == {
            "nginx:1.25": "in use by a container",
            "rancher/kubectl:v1": "pinned",
        }


def test_spellings_of_one_image_collapse_to_the_first() -> None:
    decided = plan(["nginx", "docker.io/library/nginx:latest", "nginx:latest"], ["busybox"])
    assert decided.delete == [PlanItem("nginx", "not in current list", "nginx")]
    assert decided.keep == []


def test_two_list_entries_sharing_one_node_image_delete_it_once() -> None:
    previous = ["rancher/kubectl:v1", "other/kubectl:v1"]
    present = ["myreg/kubectl:v1"]
    decided = plan(previous, [], present=present, match="short", retain=())
    assert decided.delete == [
        PlanItem("myreg/kubectl:v1", "not in current list", "rancher/kubectl:v1")
    ]
    assert reasons(decided.keep) == {"other/kubectl:v1": "same node image as rancher/kubectl:v1"}


def test_unparseable_store_names_match_only_themselves() -> None:
    decided = plan(
        ["rancher/x:1"], [], present=["sha256:abc", "rancher/x:1"], in_use={"NOT A NAME"}
    )
    assert [i.image for i in decided.delete] == ["rancher/x:1"]


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="match must be one of both, full, short; got 'fuzzy'"):
        plan([], [], match="fuzzy")  # type: ignore[arg-type]  # outside MatchMode on purpose
    with pytest.raises(ValueError, match="previous list: 'Bad Image' is not an image reference"):
        plan(["Bad Image"], [])
    with pytest.raises(ValueError, match="current list: 'x::y'"):
        plan([], ["x::y"])


def test_to_dict() -> None:
    decided = plan(["rancher/a:1", "rancher/b:1"], ["rancher/b:1"])
    assert decided.to_dict() == {
        "match": "both",
        "delete": [
            {"image": "rancher/a:1", "reason": "not in current list", "listed": "rancher/a:1"}
        ],
        "keep": [{"image": "rancher/b:1", "reason": "in current list", "listed": "rancher/b:1"}],
    }
    assert isinstance(decided, Plan)


# --- properties ---------------------------------------------------------------------------

_registry = st.sampled_from(["", "docker.io/", "myreg.local:5000/", "registry.suse.com/"])
_namespace = st.sampled_from(["rancher/", "longhornio/", "library/", "", "suse/vmdp/"])
_repo = st.sampled_from(
    [
        "harvester",
        "harvester-upgrade",
        "longhorn-engine",
        "longhorn-instance-manager",
        "nginx",
        "vmdp",
        "mirrored-fluent-fluent-bit",
        "kubectl",
    ]
)
_tag = st.sampled_from([":v1", ":v2", ":latest", "", "@sha256:" + "ab" * 32])
images = st.builds(lambda r, n, p, t: r + n + p + t, _registry, _namespace, _repo, _tag)
image_lists = st.lists(images, max_size=25)


def keys(name: str, mode: str) -> set[str]:
    ref = parse_reference(name)
    out = set()
    if mode != "short":
        out.add("F" + ref.full)
    if mode != "full":
        out.add("S" + ref.short)
    return out


def all_keys(names: list[str], mode: str) -> set[str]:
    return set().union(*(keys(n, mode) for n in names)) if names else set()


@given(
    previous=image_lists,
    current=image_lists,
    present=st.none() | image_lists,
    in_use=image_lists,
    pinned=image_lists,
    mode=st.sampled_from(MATCH_MODES),
    retain=st.lists(st.sampled_from([*RETAIN, "harvester", "nginx", "v1"]), max_size=4),
)
def test_plan_never_deletes_what_must_stay(
    previous: list[str],
    current: list[str],
    present: list[str] | None,
    in_use: list[str],
    pinned: list[str],
    mode: MatchMode,
    retain: list[str],
) -> None:
    decided = plan(
        previous, current, present=present, in_use=in_use, pinned=pinned, retain=retain, match=mode
    )
    protected = all_keys(current, mode) | all_keys(in_use, mode) | all_keys(pinned, mode)
    retained = {item.listed for item in decided.keep if item.reason.startswith("retained (")}

    for item in decided.delete:
        assert item.listed in previous
        assert not keys(item.listed, mode) & protected
        assert not keys(item.image, mode) & protected
        assert item.listed not in retained
        assert parse_reference(item.listed).path.rsplit("/", 1)[-1] != "vmdp"
        if present is None:
            assert item.image == item.listed
        else:
            assert item.image in present and keys(item.image, mode) & keys(item.listed, mode)
    assert len({item.image for item in decided.delete}) == len(decided.delete)

    # every distinct previous image is decided exactly once (a deletion may name several
    # node images for one list entry; by names only no entry both deletes a node image
    # and keeps another, which store identities can make: see the seed-20 tests below)
    distinct = list(dict.fromkeys(parse_reference(p).full for p in previous))
    decided_entries = [item.listed for item in decided.keep] + list(
        dict.fromkeys(item.listed for item in decided.delete)
    )
    assert sorted(parse_reference(e).full for e in decided_entries) == sorted(distinct)
    assert not {i.listed for i in decided.keep} & {i.listed for i in decided.delete}

    # at most one image per retain substring, and it contains the substring
    for item in decided.keep:
        if item.reason.startswith("retained ("):
            substring = item.reason[len("retained (") : -1]
            assert substring in retain and substring in item.listed
    # each retain entry keeps at most one image (a repeated entry keeps one more, as in Go)
    substrings = [
        i.reason[len("retained (") : -1] for i in decided.keep if i.reason.startswith("retained (")
    ]
    assert all(substrings.count(s) <= retain.count(s) for s in substrings)

    # deterministic, and in previous-list order
    assert (
        plan(
            previous,
            current,
            present=present,
            in_use=in_use,
            pinned=pinned,
            retain=retain,
            match=mode,
        )
        == decided
    )
    order = {p: n for n, p in reversed(list(enumerate(previous)))}
    for items in (decided.keep, [i for i in decided.delete]):
        positions = [order[i.listed] for i in items]
        assert positions == sorted(positions)


@given(previous=image_lists, current=image_lists, mode=st.sampled_from(MATCH_MODES))
def test_without_node_facts_delete_is_previous_minus_current_minus_retained(
    previous: list[str], current: list[str], mode: MatchMode
) -> None:
    decided = plan(previous, current, retain=(), match=mode)
    current_keys = all_keys(current, mode)
    candidates = [
        p
        for p in dict.fromkeys(previous)
        if not keys(p, mode) & current_keys and parse_reference(p).path.rsplit("/", 1)[-1] != "vmdp"
    ]
    # by names, an entry's stated digest is its content: one that something staying
    # (the current list, an entry kept) also states stays with it (review9)
    staying = [*current, *(p for p in previous if p not in candidates)]
    held = {parse_reference(s).digest for s in staying} - {None}
    expected = [p for p in candidates if parse_reference(p).digest not in held]
    # one spelling per image
    seen: set[str] = set()
    unique = []
    for p in expected:
        full = parse_reference(p).full
        if full not in seen:
            seen.add(full)
            unique.append(p)
    first_spelling: dict[str, str] = {}
    for p in previous:
        first_spelling.setdefault(parse_reference(p).full, p)
    assert [i.image for i in decided.delete] == [
        first_spelling[parse_reference(p).full] for p in unique
    ]


# --------------------------------------------------------------------------- identity (issue 9)

D_AAA = "sha256:" + "a" * 64
ID_1 = "sha256:" + "1" * 64
ID_2 = "sha256:" + "2" * 64


def test_current_digest_reference_keeps_the_old_tag_of_the_same_manifest() -> None:
    """Issue 9: previous ``rancher/foo:v1``, current ``rancher/foo@sha256:aaa...``."""
    node = {
        "docker.io/rancher/foo:v1": D_AAA,
        f"docker.io/rancher/foo@{D_AAA}": D_AAA,
    }
    decided = plan(["rancher/foo:v1"], [f"rancher/foo@{D_AAA}"], present=list(node), identity=node)
    assert decided.delete == []
    assert [(k.image, k.reason) for k in decided.keep] == [
        ("rancher/foo:v1", f"same image ({D_AAA}) as docker.io/rancher/foo@{D_AAA} (current list)")
    ]


def test_a_digest_alone_protects_the_content_it_names() -> None:
    """The node lacks the ``name@digest`` record: the digest is still the identity."""
    node = {"docker.io/rancher/foo:v1": D_AAA}
    decided = plan(["rancher/foo:v1"], [f"rancher/foo@{D_AAA}"], present=list(node), identity=node)
    assert decided.delete == []


@pytest.mark.parametrize(
    ("in_use", "pinned", "why"),
    [
        (["docker.io/rancher/bar:v9"], [], "docker.io/rancher/bar:v9 (in use)"),
        ([], ["docker.io/rancher/bar:v9"], "docker.io/rancher/bar:v9 (pinned)"),
    ],
)
def test_content_used_or_pinned_under_another_name_stays(
    in_use: list[str], pinned: list[str], why: str
) -> None:
    node = {"docker.io/rancher/foo:v1": ID_1, "docker.io/rancher/bar:v9": ID_1}
    decided = plan(
        ["rancher/foo:v1"],
        ["rancher/new:v2"],
        present=list(node),
        in_use=in_use,
        pinned=pinned,
        identity=node,
    )
    assert [(k.image, k.reason) for k in decided.keep] == [
        ("rancher/foo:v1", f"same image ({ID_1}) as {why}")
    ]


def test_content_of_a_retained_image_stays_under_its_other_names() -> None:
    node = {
        "docker.io/rancher/harvester-upgrade:v1.4.1": ID_1,
        "docker.io/rancher/harvester-upgrade:v1.4.0": ID_1,
        "docker.io/rancher/other:v1": ID_2,
    }
    decided = plan(
        [
            "rancher/harvester-upgrade:v1.4.1",
            "rancher/harvester-upgrade:v1.4.0",
            "rancher/other:v1",
        ],
        ["rancher/harvester-upgrade:v1.5.0"],
        present=list(node),
        identity=node,
    )
    assert [d.image for d in decided.delete] == ["docker.io/rancher/other:v1"]
    reasons = {k.listed: k.reason for k in decided.keep}
    assert reasons["rancher/harvester-upgrade:v1.4.1"] == "retained (rancher/harvester-upgrade)"
    assert reasons["rancher/harvester-upgrade:v1.4.0"] == (
        f"same image ({ID_1}) as rancher/harvester-upgrade:v1.4.1 "
        "(retained (rancher/harvester-upgrade))"
    )


def test_a_container_named_by_digest_protects_that_content() -> None:
    """A container made from ``name@sha256:...`` whose record is gone still pins it."""
    node = {"docker.io/rancher/foo:v1": D_AAA}
    decided = plan(
        ["rancher/foo:v1"],
        ["rancher/new:v2"],
        present=list(node),
        in_use=[f"docker.io/rancher/foo@{D_AAA}"],
        identity=node,
    )
    assert decided.delete == []
    assert decided.keep[0].reason == (
        f"same image ({D_AAA}) as docker.io/rancher/foo@{D_AAA} (in use)"
    )


def test_identity_without_present_uses_list_names() -> None:
    node = {"rancher/foo:v1": ID_1, "rancher/foo:v2": ID_1}
    decided = plan(["rancher/foo:v1"], ["rancher/foo:v2"], identity=node)
    assert decided.delete == [] and decided.keep[0].reason.startswith(f"same image ({ID_1})")


_NAMES = [f"docker.io/rancher/img{i}:v{j}" for i in range(4) for j in range(3)]


@given(
    ids=st.dictionaries(st.sampled_from(_NAMES), st.sampled_from([ID_1, ID_2, D_AAA]), min_size=1),
    previous=st.lists(st.sampled_from(_NAMES), max_size=8),
    current=st.lists(st.sampled_from(_NAMES), min_size=1, max_size=4),
    in_use=st.lists(st.sampled_from(_NAMES), max_size=2),
    pinned=st.lists(st.sampled_from(_NAMES), max_size=2),
)
def test_no_deleted_name_shares_an_identity_with_anything_that_stays(
    ids: dict[str, str],
    previous: list[str],
    current: list[str],
    in_use: list[str],
    pinned: list[str],
) -> None:
    present = list(ids)
    decided = plan(previous, current, present=present, in_use=in_use, pinned=pinned, identity=ids)
    deleted = {d.image for d in decided.delete}
    staying = set(current) | set(in_use) | set(pinned)
    staying |= {
        k.listed
        for k in decided.keep
        if k.reason != "not present on node" and not k.reason.startswith("same node image")
    }
    staying_ids = {ids[n] for n in staying if n in ids}
    assert not {ids[n] for n in deleted} & staying_ids


D_BBB = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    "spelling",
    [D_BBB, "b" * 64, f"docker.io/rancher/foo@{D_BBB}", "docker.io/rancher/foo:v1-alias"],
)
@pytest.mark.parametrize("field", ["in_use", "pinned"])
def test_an_image_in_use_or_pinned_by_its_id_is_protected(spelling: str, field: str) -> None:
    """Issue 9: ``in_use: ["sha256:bbbb..."]`` with ``ids: {foo:v1: sha256:bbbb...}``
    deleted foo:v1, because an ID parsed as no reference and became a key that never
    matched.  Any spelling of the identity (an ID, bare hex, ``name@sha256:``, another
    name the store maps to the same ID) protects every name with it."""
    node = {"docker.io/rancher/foo:v1": D_BBB}
    identity = {**node, "docker.io/rancher/foo:v1-alias": D_BBB}
    decided = plan(
        ["rancher/foo:v1"],
        ["rancher/bar:v2"],
        present=list(node),
        identity=identity,
        in_use=[spelling] if field == "in_use" else [],
        pinned=[spelling] if field == "pinned" else [],
    )
    assert decided.delete == []
    assert decided.keep[0].reason.startswith(f"same image ({D_BBB}) as {spelling} (")


def test_a_bare_hex_identity_in_the_store_is_matched_by_a_sha256_id() -> None:
    node = {"docker.io/rancher/foo:v1": "b" * 64}
    decided = plan(
        ["rancher/foo:v1"], ["rancher/bar:v2"], present=list(node), in_use=[D_BBB], identity=node
    )
    assert decided.delete == []


# ------------------------------- one entry, several node images (issue 11, seed 20's plan bug)

H1 = "sha256:" + "1" * 64
H2 = "sha256:" + "2" * 64


def test_an_entry_matching_two_node_images_deletes_the_one_no_staying_name_holds() -> None:
    """Issue 11 (seed 20): ``a.io/x:1`` matches the node's ``a.io/x:1`` and, by the short
    ``name:tag``, ``b.io/x:1``, another image to the store.  Only ``a.io/x:1``'s identity
    is pinned (as ``c.io/y:2``); the whole entry was kept, so ``b.io/x:1`` filled the
    disk.  Each node name is decided by itself (``spec.deletion.deletion_set``)."""
    node = {"a.io/x:1": H1, "b.io/x:1": H2, "c.io/y:2": H1}
    decided = plan(
        ["a.io/x:1"], ["z.io/q:9"], present=list(node), pinned=["c.io/y:2"], identity=node
    )
    assert decided.delete == [PlanItem("b.io/x:1", "not in current list", "a.io/x:1")]
    assert decided.keep == [
        PlanItem("a.io/x:1", f"same image ({H1}) as c.io/y:2 (pinned)", "a.io/x:1")
    ]
    # a store's re-check before the removal agrees with the plan, name by name
    assert staying_because("b.io/x:1", pinned=["c.io/y:2"], identity=node) is None
    assert staying_because("a.io/x:1", pinned=["c.io/y:2"], identity=node) is not None


@pytest.mark.parametrize("mode", ["both", "short"])
@pytest.mark.parametrize("protected", ["a.io/x:1", "b.io/x:1"])
@pytest.mark.parametrize(
    "how", ["pinned elsewhere", "in use by ID", "in use by bare ID", "current by digest"]
)
def test_each_node_image_an_entry_matches_is_kept_only_for_its_own_identity(
    mode: MatchMode, protected: str, how: str
) -> None:
    """The kind: one entry (here ``x:1``, written as neither node name) matches node
    images of several identities; whichever of them something staying holds (a pin on
    another name, a container by ID or bare ID, a current digest reference) stays under
    the node's name with its reason, and the others are deleted by the entry."""
    node = {"a.io/x:1": H1, "b.io/x:1": H2, "c.io/y:2": H1 if protected == "a.io/x:1" else H2}
    ident = node[protected]
    pinned = ["c.io/y:2"] if how == "pinned elsewhere" else []
    in_use = {"in use by ID": [ident], "in use by bare ID": [ident[7:]]}.get(how, [])
    current = [f"z.io/y@{ident}"] if how == "current by digest" else ["z.io/q:9"]
    decided = plan(
        ["x:1"], current, present=list(node), in_use=in_use, pinned=pinned, identity=node,
        match=mode, retain=(),
    )  # fmt: skip
    other = "b.io/x:1" if protected == "a.io/x:1" else "a.io/x:1"
    assert decided.delete == [PlanItem(other, "not in current list", "x:1")]
    assert [(k.image, k.listed) for k in decided.keep] == [(protected, "x:1")]
    assert decided.keep[0].reason.startswith(f"same image ({ident}) as ")


def test_in_full_mode_the_entry_matches_only_its_own_node_image() -> None:
    node = {"a.io/x:1": H1, "b.io/x:1": H2, "c.io/y:2": H1}
    decided = plan(
        ["a.io/x:1"], ["z.io/q:9"], present=list(node), pinned=["c.io/y:2"], identity=node,
        match="full",
    )  # fmt: skip
    assert decided.delete == []
    assert [k.image for k in decided.keep] == ["a.io/x:1"]


def test_an_entry_whose_node_images_are_all_protected_stays_whole() -> None:
    """Nothing to delete: one keep, named as the list writes it, as before."""
    node = {"a.io/x:1": H1, "b.io/x:1": H1, "c.io/y:2": H1}
    decided = plan(["x:1"], ["z.io/q:9"], present=list(node), pinned=["c.io/y:2"], identity=node)
    assert decided.delete == []
    assert decided.keep == [PlanItem("x:1", f"same image ({H1}) as c.io/y:2 (pinned)", "x:1")]


def test_an_entry_already_deleted_for_and_protected_stays_for_its_identity() -> None:
    """``a.io/x:1`` deletes ``b.io/x:1`` (unprotected) and keeps ``a.io/x:1``; the
    second spelling ``x:1`` matches both, deletes neither again, and stays for the
    identity it still matches, not as ``same node image``."""
    node = {"a.io/x:1": H1, "b.io/x:1": H2, "c.io/y:2": H1}
    decided = plan(
        ["a.io/x:1", "x:1"], ["z.io/q:9"], present=list(node), pinned=["c.io/y:2"],
        identity=node,
    )  # fmt: skip
    assert decided.delete == [PlanItem("b.io/x:1", "not in current list", "a.io/x:1")]
    why = f"same image ({H1}) as c.io/y:2 (pinned)"
    assert decided.keep == [PlanItem("a.io/x:1", why, "a.io/x:1"), PlanItem("x:1", why, "x:1")]


def test_same_node_image_names_the_first_entry_in_list_order_that_deletes_one() -> None:
    """Three spellings of one image (``b.io/x:1``, ``a.io/x:1``, ``x:1``), the node holding
    two of them: the first entry deletes both, the others name it
    (``spec.deletion.same_node_image_as``), whatever order the node's names sort in."""
    previous = ["b.io/x:1", "a.io/x:1", "x:1"]
    decided = plan(previous, ["z.io/q:9"], present=["a.io/x:1", "b.io/x:1"])
    assert sorted((d.image, d.listed) for d in decided.delete) == [
        ("a.io/x:1", "b.io/x:1"),
        ("b.io/x:1", "b.io/x:1"),
    ]
    assert reasons(decided.keep) == {
        "a.io/x:1": "same node image as b.io/x:1",
        "x:1": "same node image as b.io/x:1",
    }


@pytest.mark.parametrize("identity", [None, {}, {f"docker.io/rancher/kubectl@{D_BBB}": "x"}])
def test_a_node_digest_reference_is_the_content_it_names(
    identity: dict[str, str] | None,
) -> None:
    """Found by the seed-20 worlds: a node name ``kubectl@sha256:bbb...`` the store maps
    to nothing (or to itself, as ``MemoryStore.identities`` does) and a container run as
    ``sha256:bbb...``.  The store's re-check (``staying_because``) took the name's
    identity for the digest it states and refused the removal the plan had made; the
    plan now reads every identity in that one spelling, so it keeps it."""
    name = f"docker.io/rancher/kubectl@{D_BBB}"
    ids = None if identity is None else {k: name if v == "x" else v for k, v in identity.items()}
    decided = plan([name], ["rancher/other:v2"], present=[name], in_use=[D_BBB], identity=ids)
    assert decided.delete == []
    assert decided.keep[0].reason == f"same image ({name}) as {D_BBB} (in use)"
    assert staying_because(name, in_use=[D_BBB], identity=ids) is not None


def test_a_retained_digest_reference_protects_the_content_it_names() -> None:
    """A retained entry written by digest keeps that content under every other name, as
    a current-list digest reference does (``spec.deletion``: the digest every staying
    name states is protected)."""
    node = {"docker.io/rancher/harvester-upgrade:v1.4.1": D_BBB}
    decided = plan(
        [f"rancher/harvester-upgrade@{D_BBB}", "rancher/harvester-upgrade:v1.4.1"],
        ["rancher/harvester-upgrade:v1.5.0"],
        present=list(node),
        identity=node,
    )
    assert decided.delete == []
    assert reasons(decided.keep)["rancher/harvester-upgrade:v1.4.1"] == (
        f"same image ({D_BBB}) as rancher/harvester-upgrade@{D_BBB} "
        "(retained (rancher/harvester-upgrade))"
    )


# --- a list entry written as an image ID (review7): content, never a name to remove ---

_H = "a" * 64


def test_a_current_list_image_id_protects_its_content() -> None:
    """``sha256:<hex>`` parses as the image ``sha256`` tagged with the hex, but in a
    list it is the content a store's image ID names: a node name with that identity
    stays, the reason naming the ID as written."""
    spelt = f"sha256:{_H}"
    result = plan(
        ["a.io/x:1"], [spelt], present=["a.io/x:1"], identity={"a.io/x:1": f"sha256:{_H}"}
    )
    assert result.delete == []
    assert [(k.image, k.reason) for k in result.keep] == [
        ("a.io/x:1", f"same image (sha256:{_H}) as {spelt} (current list)")
    ]


def test_a_previous_list_image_id_is_never_deleted_and_protects_its_content() -> None:
    ident = f"sha256:{_H}"
    result = plan(
        [ident, "b.io/z:1"],
        ["a.io/y:1"],
        present=[ident, "b.io/z:1"],
        identity={"b.io/z:1": ident},
    )
    assert result.delete == []
    assert [(k.image, k.reason) for k in result.keep] == [
        (ident, "an image ID, not an image name"),
        ("b.io/z:1", f"same image ({ident}) as {ident} (an image ID, not an image name)"),
    ]
    by_names = plan([ident], ["a.io/y:1"])  # no node images given: names only
    assert by_names.delete == [] and by_names.keep[0].reason == "an image ID, not an image name"


# --- an image ID and the image named like it (review8): other names, not the same ---


@pytest.mark.parametrize(
    "name", [f"docker.io/library/sha256:{_H}", f"example.io/rancher/sha256:{_H}"]
)
def test_a_name_spelt_like_an_image_id_never_matches_the_nodes_record_of_that_id(
    name: str,
) -> None:
    """``docker.io/library/sha256:<hex>`` is the image ``sha256`` tagged with the hex (how
    Go normalises the ID's text), and ``example.io/rancher/sha256:<hex>`` shares its short
    ``name:tag``: neither is the node's record of the image ID ``sha256:<hex>``, which
    a name entry must never delete (by CRI's rmi that ID would also take every other
    name of the content)."""
    ident = f"sha256:{_H}"
    result = plan(
        [name, "docker.io/rancher/x:1"],
        ["docker.io/rancher/y:2"],
        present=[ident, "docker.io/rancher/x:1", "z.io/z:9"],
        identity={ident: ident, "z.io/z:9": ident, "docker.io/rancher/x:1": "sha256:" + "b" * 64},
    )
    assert [d.image for d in result.delete] == ["docker.io/rancher/x:1"]
    assert [(k.image, k.reason) for k in result.keep] == [(name, "not present on node")]


def test_an_image_id_entry_is_its_own_entry_next_to_a_name_spelt_like_it() -> None:
    """Entries are one per image: the ID ``sha256:<hex>`` after the image
    ``library/sha256:<hex>`` (the same text once normalised) is not dropped as its
    duplicate, so the content it names stays protected."""
    ident = f"sha256:{_H}"
    result = plan(
        [f"library/sha256:{_H}", ident, "docker.io/rancher/x:1"],
        ["docker.io/rancher/y:2"],
        present=["docker.io/rancher/x:1"],
        identity={"docker.io/rancher/x:1": ident},
    )
    assert result.delete == []
    assert (
        "docker.io/rancher/x:1",
        f"same image ({ident}) as {ident} (an image ID, not an image name)",
    ) in [(k.image, k.reason) for k in result.keep]


@pytest.mark.parametrize("name", [f"docker.io/library/sha256:{_H}", f"quay.io/x/sha256:{_H}"])
def test_a_current_list_image_id_keeps_the_name_the_controller_reads_it_as(name: str) -> None:
    """Review9: Go's controller reads the current entry ``sha256:<hex>`` as the name
    ``docker.io/library/sha256:<hex>`` (short ``sha256:<hex>``) and keeps a previous
    entry of that name; so does the plan (keeping more, never less), while the ID still
    never matches a name as a *previous* entry or a node name."""
    result = plan([name, "docker.io/rancher/old:1"], [f"sha256:{_H}"], present=None)
    assert [d.image for d in result.delete] == ["docker.io/rancher/old:1"]
    assert [(k.image, k.reason) for k in result.keep] == [(name, "in current list")]


@pytest.mark.parametrize("field", ["current", "pinned", "in_use"])
def test_by_names_only_an_entry_stating_protected_content_stays(field: str) -> None:
    """Review9: ``plan`` with neither the node's names nor identities deleted
    ``rancher/x@sha256:B`` while ``sha256:B`` was current, pinned or in use; the
    content an entry states is its identity by names too (``spec.deletion``)."""
    ident = "sha256:" + "b" * 64
    current = [ident] if field == "current" else ["docker.io/rancher/y:2"]
    in_use = [ident] if field == "in_use" else []
    pinned = [ident] if field == "pinned" else []
    previous = [f"docker.io/rancher/x@{ident}", "docker.io/rancher/old:1"]
    result = plan(previous, current, in_use=in_use, pinned=pinned)
    assert [d.image for d in result.delete] == ["docker.io/rancher/old:1"]

"""Timeline owns the repo Service name and the list versions its paths name.

The harness, the evaluator and ``sim run --timeline`` all read them from here; these
tests pin the rule: the paths are ``cleanup.LIST_PATH`` (what the cleanup fetches),
the Service is the repo host without ``.svc.cluster.local``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, Literal, cast

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import cleanup
from sim._scenario import load_scenario
from sim._timeline import (
    DNS_STATES,
    HTTP_STATES,
    MEDIA_STATE,
    Interval,
    Timeline,
    as_dns_state,
    as_http_state,
    intervals_from,
    list_path,
    list_version,
    media_state,
)
from sim._world import generate_timeline

OK: tuple[Interval[Literal["ok"]]] = (Interval(0.0, math.inf, "ok"),)  # "ok" in both tables
HOST = "upgrade-repo-hvst-upgrade-abc.harvester-system.svc.cluster.local"


def timeline(repo_host: str = HOST, paths: tuple[str, ...] = ()) -> Timeline:
    paths = paths or (list_path("v1.4.1"), list_path("current"))
    return Timeline(
        scenario="t",
        seed=0,
        cleanup_start=0.0,
        repo_host=repo_host,
        dns={repo_host: OK},
        http={p: OK for p in paths},
        events=(),
    )


@pytest.mark.parametrize("version", ["v1.4.1", "current"])
def test_the_list_path_is_the_one_the_cleanup_fetches(version: str) -> None:
    # RepoClient.list_url only reads repo_url: ask the cleanup itself for its URL
    client = cast(cleanup.RepoClient, SimpleNamespace(repo_url="http://repo"))
    assert "http://repo" + list_path(version) == cleanup.RepoClient.list_url(client, version)


@given(st.text(st.characters(blacklist_characters="/"), min_size=1, max_size=20))
def test_a_list_path_names_its_version_back(version: str) -> None:
    assert list_version(list_path(version)) == version


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/harvester-iso/bundle/harvester/images-lists-archive//image_list_all.txt",
        "/harvester-iso/bundle/harvester/images-lists-archive/a/b/image_list_all.txt",
        "/harvester-iso/bundle/harvester/images-lists-archive/v1/other.txt",
        "/x/harvester-iso/bundle/harvester/images-lists-archive/v1/image_list_all.txt",
    ],
)
def test_other_paths_name_no_version(path: str) -> None:
    assert list_version(path) is None


def test_the_service_is_the_host_without_the_cluster_suffix() -> None:
    assert timeline().repo_service == "upgrade-repo-hvst-upgrade-abc.harvester-system"
    assert timeline(HOST + ".").repo_service == "upgrade-repo-hvst-upgrade-abc.harvester-system"


def test_a_host_outside_cluster_local_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Service name"):
        _ = timeline("repo.example.com").repo_service


def test_the_previous_version_comes_from_the_paths() -> None:
    assert timeline().previous_version == "v1.4.1"


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ((list_path("current"),), "one previous list and 'current'"),
        ((list_path("v1"), list_path("v2")), "one previous list and 'current'"),
        ((list_path("v1"), list_path("v2"), list_path("current")), "one previous list"),
        ((list_path("v1"), list_path("current"), "/healthz"), "not an image list path"),
    ],
)
def test_paths_that_do_not_name_one_upgrade_are_refused(
    paths: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _ = timeline(paths=paths).previous_version


def test_change_points_become_intervals_each_until_the_next() -> None:
    assert intervals_from([(0, "timeout"), (2.5, "nxdomain"), (7, "ok")]) == (
        Interval(0.0, 2.5, "timeout"),
        Interval(2.5, 7.0, "nxdomain"),
        Interval(7.0, math.inf, "ok"),
    )
    assert intervals_from([(0.0, "ok")]) == (Interval(0.0, math.inf, "ok"),)


def test_text_becomes_a_dns_state_only_if_it_spells_one() -> None:
    assert [as_dns_state(text) for text in DNS_STATES] == list(DNS_STATES)
    # HTTP-only states, case, spaces, nothing ("refused" is a DNS state too: the rcode)
    for text in ("hang", "missing", "OK", "LAME", "nxdomain ", ""):
        with pytest.raises(ValueError, match="unknown DNS state"):
            as_dns_state(text)
    with pytest.raises(ValueError, match=r"servfail, lame, refused, ok\)"):
        as_dns_state("lame-referral")


# -- the HTTP vocabulary: closed, checked where text becomes a state -------------------


def test_text_becomes_an_http_state_only_if_it_spells_one() -> None:
    """Every fixed word, and ``type:`` with any header field value (the empty one too),
    is an HTTP state; anything else is refused, naming it and the allowed forms."""
    assert [as_http_state(text) for text in HTTP_STATES] == list(HTTP_STATES)
    for text in ("type:text/plain", "type:", "type:Text/JSON\t;\tcharset=utf-8"):
        assert as_http_state(text) == text == media_state(text[len(MEDIA_STATE) :])
    for text in ("slow", "OK", "ok ", "", "status-200", "nxdomain", "type: text/plain",
                 "type:text/plain\r\nX: y", "Type:text/plain"):  # fmt: skip
        with pytest.raises(ValueError, match="unknown HTTP state") as caught:
            as_http_state(text)
        assert repr(text) in str(caught.value) and "type:<a header field value>" in str(
            caught.value
        )


@pytest.mark.parametrize("value", [" text/plain", "text/plain ", "text/\x7fplain", "a\nb"])
def test_a_media_state_is_made_only_of_a_header_field_value(value: str) -> None:
    """RFC 9110 5.5: visible characters, spaces and tabs only between them."""
    with pytest.raises(ValueError, match="not a header field value"):
        media_state(value)


def _saved(http_rows: list[list[object]]) -> dict[str, object]:
    doc = timeline().to_dict()
    doc["http"] = {list_path("current"): http_rows, list_path("v1.4.1"): [[0.0, None, "ok"]]}
    return doc


def test_a_saved_timeline_with_an_unknown_http_state_is_refused_naming_where() -> None:
    """The loader reads HTTP states through ``as_http_state``: the error names the path,
    the interval and the state (``sim run --timeline`` exits 64 with it, test_cli)."""
    rows: list[list[object]] = [[0.0, 12.5, "ok"], [12.5, None, "slow"]]
    with pytest.raises(ValueError) as caught:
        Timeline.from_dict(_saved(rows))
    message = str(caught.value)
    assert f"http[{list_path('current')!r}]" in message, message
    assert "interval [12.5, inf)" in message and "'slow'" in message, message
    loaded = Timeline.from_dict(_saved([[0.0, 3.0, "type:text/html"], [3.0, None, "hang"]]))
    assert loaded.http_state(list_path("current"), 1.0) == "type:text/html"


def test_a_timeline_built_past_the_types_is_refused_too() -> None:
    """An HTTP state that bypassed the type checker (text as ``Any``) is refused by
    ``Timeline`` itself, so no world holds a state the repo server cannot play."""
    odd: Any = "slow"
    with pytest.raises(ValueError, match=r"interval \[0, inf\): unknown HTTP state 'slow'"):
        Timeline("t", 0, 0.0, HOST, {HOST: OK},
                 {list_path("current"): (Interval(0.0, math.inf, odd),)}, ())  # fmt: skip


# -- saved timelines of any shape (sim run --timeline): ValueError or an exact copy ----

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
_JSON: st.SearchStrategy[object] = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _json_kind(value: object) -> str:
    """JSON's kind of a value as Python's json reads it: null, boolean, integer,
    number (a float, ``2.0`` too: a seed must be written as an integer), text, list or
    object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    kinds: dict[type, str] = {str: "text", list: "list", dict: "object"}
    return kinds[type(value)]


_NUMBER = frozenset({"integer", "number"})
#: What README's timeline format allows at each place of a saved timeline (path
#: pattern: a table's key is ``*``, a row's index ``#``): the seed an integer, times
#: numbers, an interval's end a number or null, names, keys and states text.
_ALLOWED: dict[tuple[str, ...], frozenset[str]] = {
    ("scenario",): frozenset({"text"}),
    ("seed",): frozenset({"integer"}),
    ("cleanup_start",): _NUMBER,
    ("repo_host",): frozenset({"text"}),
    ("dns",): frozenset({"object"}),
    ("http",): frozenset({"object"}),
    ("dns", "*"): frozenset({"list"}),
    ("http", "*"): frozenset({"list"}),
    ("dns", "*", "#"): frozenset({"list"}),
    ("http", "*", "#"): frozenset({"list"}),
    ("dns", "*", "#", "0"): _NUMBER,
    ("http", "*", "#", "0"): _NUMBER,
    ("dns", "*", "#", "1"): _NUMBER | {"null"},
    ("http", "*", "#", "1"): _NUMBER | {"null"},
    ("dns", "*", "#", "2"): frozenset({"text"}),
    ("http", "*", "#", "2"): frozenset({"text"}),
    ("events",): frozenset({"list"}),
    ("events", "#"): frozenset({"list"}),
    ("events", "#", "0"): _NUMBER,
    ("events", "#", "1"): frozenset({"text"}),
}


def _places(doc: dict[str, Any]) -> list[tuple[tuple[str, ...], list[Any]]]:
    """Every place of ``doc`` as (its pattern in :data:`_ALLOWED`, its path of keys
    and indexes)."""
    places: list[tuple[tuple[str, ...], list[Any]]] = [((key,), [key]) for key in doc]
    for table in ("dns", "http"):
        for key, rows in doc[table].items():
            places.append(((table, "*"), [table, key]))
            for i in range(len(rows)):
                places.append(((table, "*", "#"), [table, key, i]))
                places += [((table, "*", "#", str(c)), [table, key, i, c]) for c in range(3)]
    for i in range(len(doc["events"])):
        places.append((("events", "#"), ["events", i]))
        places += [(("events", "#", str(c)), ["events", i, c]) for c in range(2)]
    return places


def _saved_timelines() -> list[dict[str, Any]]:
    return [generate_timeline(load_scenario("single-node"), seed).to_dict() for seed in (1, 2)]


_SAVED = _saved_timelines()


def _of_kind(kinds: frozenset[str], original: object) -> st.SearchStrategy[object]:
    """Values of an allowed kind, so that changes that keep the shape are met as often
    as those that break it: states of both vocabularies or any text, times within a
    year or past it, any integer seed; a list or object stays the original."""
    options: list[st.SearchStrategy[object]] = []
    if "text" in kinds:
        options.append(st.sampled_from((*DNS_STATES, *HTTP_STATES, "type:")) | st.text(max_size=6))
    if "number" in kinds:
        options.append(st.floats(0, 400 * 86400.0) | st.integers(0, 10**6))
    elif "integer" in kinds:
        options.append(st.integers())
    if "null" in kinds:
        options.append(st.none())
    if kinds & {"list", "object"}:
        options.append(st.just(original))
    return st.one_of(options)


@st.composite
def malformed_timelines(draw: st.DrawFn) -> tuple[object, bool]:
    """A saved timeline with one change at a random place, and whether the change alone
    makes it malformed (a value of a kind :data:`_ALLOWED` does not list there, a
    missing or unknown key, a row one cell short or long, the document not an object).
    A change of an allowed kind may still be refused (a gap, a time past a year)."""
    doc = copy.deepcopy(draw(st.sampled_from(_SAVED)))
    change = draw(st.sampled_from(("replace", "replace", "replace", "top", "drop", "add", "width")))
    if change == "top":
        event("timeline: the document not an object")
        return draw(_SCALARS | st.lists(_JSON, max_size=3)), True
    if change == "drop":
        key = draw(st.sampled_from(sorted(doc)))
        event("timeline: a key missing")
        del doc[key]
        return doc, True
    if change == "add":
        key = draw(st.text(max_size=8).filter(lambda k: k not in doc))
        event("timeline: an unknown key")
        doc[key] = draw(_JSON)
        return doc, True
    places = _places(doc)
    if change == "width":
        rows = [path for pattern, path in places if pattern[-1] == "#"]
        *outer, i = draw(st.sampled_from(rows))
        container = doc
        for step in outer:
            container = container[step]
        row = container[i]
        if draw(st.booleans()):
            row.pop(draw(st.integers(0, len(row) - 1)))
        else:
            row.append(draw(_JSON))
        event("timeline: a row one cell short or long")
        return doc, True
    pattern, path = draw(st.sampled_from(places))
    *outer, last = path
    container = doc
    for step in outer:
        container = container[step]
    value = draw(_JSON | _of_kind(_ALLOWED[pattern], container[last]))
    container[last] = value
    bad = _json_kind(value) not in _ALLOWED[pattern]
    event(f"timeline: {'wrong' if bad else 'allowed'} kind at {'/'.join(pattern)}")
    return doc, bad


@settings(max_examples=300)
@given(malformed_timelines())
def test_a_saved_timeline_of_any_shape_is_refused_with_valueerror_or_read_exactly(
    case: tuple[object, bool],
) -> None:
    """Review of this session: ``from_dict`` gave Python's own text ("'int' object is
    not iterable", "list indices must be integers or slices, not str", "not enough
    values to unpack") and truncated ``"seed": 1.5`` to 1.  Now every document is
    either refused with ``ValueError`` (the exit-64 path of ``sim run --timeline``),
    always so when the change put a value of a kind README's timeline format does not
    allow, or read back exactly: ``to_dict`` gives the document again, so nothing was
    coerced on the way in."""
    doc, malformed = case
    try:
        loaded = Timeline.from_dict(doc)
    except ValueError as exc:
        assert str(exc), "a refusal says why"
        event("timeline: refused")
        return
    event("timeline: read back")
    assert not malformed, f"accepted a malformed timeline: {doc!r}"
    assert loaded.to_dict() == doc


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (lambda d: d.__setitem__("events", 5), "events: expected a list of rows, got an integer 5"),
        (lambda d: [1, 2], "a timeline is a JSON object"),
        (lambda d: d["events"].append([1.0]), "events row 9: expected [time, what]"),
        (lambda d: d["events"].append(["x", "y"]), "events row 9 time: expected a number"),
        (lambda d: d.__setitem__("seed", 1.5), "seed: expected an integer, got a number 1.5"),
        (lambda d: d.__setitem__("seed", True), "seed: expected an integer, got a boolean"),
        (lambda d: d["dns"].__setitem__("x", [[0, None]]), "dns['x'] row 0: expected [start"),
        (lambda d: d.pop("repo_host"), "missing key 'repo_host'"),
    ],
    ids=[
        "rows-an-int",
        "top-a-list",
        "row-short",
        "time-text",
        "seed-1.5",
        "seed-bool",
        "interval-short",
        "key-missing",
    ],
)
def test_the_reviewed_malformed_timelines_name_the_key_and_row(
    change: Callable[[dict[str, Any]], object], names: str
) -> None:
    """The review's examples, each a member of the kind above."""
    doc = copy.deepcopy(_SAVED[0])
    assert len(doc["events"]) == 9, "the rows named below count this timeline's events"
    changed = change(doc)
    with pytest.raises(ValueError) as caught:
        Timeline.from_dict(changed if isinstance(changed, list) else doc)
    assert names in str(caught.value), str(caught.value)

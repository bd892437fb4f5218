"""Timeline owns the repo Service name and the list versions its paths name.

The harness, the evaluator and ``sim run --timeline`` all read them from here; these
tests pin the rule: the paths are ``cleanup.LIST_PATH`` (what the cleanup fetches),
the Service is the repo host without ``.svc.cluster.local``.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Literal, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cleanup
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

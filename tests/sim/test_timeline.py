"""Timeline owns the repo Service name and the list versions its paths name.

The harness, the evaluator and ``sim run --timeline`` all read them from here; these
tests pin the rule: the paths are ``cleanup.LIST_PATH`` (what the cleanup fetches),
the Service is the repo host without ``.svc.cluster.local``.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cleanup
from sim._timeline import (
    DNS_STATES,
    DNSState,
    Interval,
    Timeline,
    as_dns_state,
    intervals_from,
    list_path,
    list_version,
)

OK: tuple[Interval[DNSState]] = (Interval(0.0, math.inf, "ok"),)  # "ok" in both tables
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

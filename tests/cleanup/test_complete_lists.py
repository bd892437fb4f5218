"""Incomplete lists are not lists (issue 9).

A list is accepted only when the response's framing proves it whole and it ends with a
newline; anything else is an ``ImageListError`` naming the URL and what was missing,
and nothing is deleted.  The named tests are the issue's examples; the property runs
the whole cleanup against every mode of :mod:`tests.cleanup.misbehaving_repo` at every
cut point and checks the one promise: every image that should stay is still there.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleanup import (
    CleanupError,
    CleanupReport,
    ImageListError,
    MemoryStore,
    RepoClient,
    StubResolver,
    get_policy,
    make_http_client,
    run_cleanup,
)
from cleanup._repo import LIST_PATH
from cleanup.testing import FastForwardClock
from tests.cleanup.misbehaving_repo import MODES, WHOLE, MisbehavingRepo, Serve

KUBECTL = "docker.io/rancher/kubectl:v1.30.5"
PREVIOUS = [
    KUBECTL,  # in both lists: only a cut current list could make it a candidate
    "docker.io/rancher/kubectl:v1.29.9",
    "docker.io/rancher/harvester-upgrade:v1.4.1",
    "docker.io/rancher/old-tool:v0.9",
    "docker.io/rancher/pinned-old:v1",
    "docker.io/rancher/used-old:v1",
    "docker.io/rancher/kubectl-mirror:v1.30.5",
]
CURRENT = [
    "docker.io/rancher/harvester:v1.5.0",
    "docker.io/rancher/harvester-upgrade:v1.5.0",
    KUBECTL,
]
PINNED = ["docker.io/rancher/pinned-old:v1"]
IN_USE = ["docker.io/rancher/used-old:v1"]
# the mirror tag is the same image as the current kubectl
IDS = {
    KUBECTL: "sha256:" + "5" * 64,
    "docker.io/rancher/kubectl-mirror:v1.30.5": "sha256:" + "5" * 64,
}
MUST_STAY = {
    *CURRENT,
    *PINNED,
    *IN_USE,
    "docker.io/rancher/harvester-upgrade:v1.4.1",  # retained
    "docker.io/rancher/kubectl-mirror:v1.30.5",  # same image as a current one
}


def text(images: list[str]) -> bytes:
    return ("\n".join(images) + "\n").encode()


def list_path(version: str) -> str:
    return "/" + LIST_PATH.format(version=version)


def cleanup_against(repo: MisbehavingRepo, store: MemoryStore) -> CleanupReport:
    clock = FastForwardClock(grace=0.05)  # a stalled socket costs 50 ms of real time
    client = make_http_client(StubResolver(["127.0.0.1:9"], clock=clock), clock=clock, timeout=5)
    with client:
        return run_cleanup(
            RepoClient(repo.url, client, timeout=5),
            previous_version="v1",
            policy=get_policy("client-go-default-retry"),
            store=store,
            clock=clock,
            rng=random.Random(0),
        )


def node(tmp_path: Path) -> MemoryStore:
    return MemoryStore.create(
        tmp_path / "node.json",
        sorted(set(PREVIOUS) | set(CURRENT)),
        in_use=IN_USE,
        pinned=PINNED,
        ids=IDS,
    )


def fetch(repo: MisbehavingRepo, version: str = "current") -> list[str]:
    clock = FastForwardClock(grace=0.05)
    client = make_http_client(StubResolver(["127.0.0.1:9"], clock=clock), clock=clock, timeout=5)
    with client:
        return RepoClient(repo.url, client, timeout=5).fetch_list(version)


# --------------------------------------------------------------------------- the examples


def test_close_delimited_list_cut_three_bytes_early_deletes_nothing(tmp_path: Path) -> None:
    """Issue 9: ``Connection: close``, no Content-Length, no chunked framing, closed three
    bytes early: ``kubectl:v1.30.5`` arrived as ``...:v1.30`` and was deleted."""
    body = text(CURRENT)
    store = node(tmp_path)
    with MisbehavingRepo() as repo:
        repo.routes[list_path("v1")] = Serve(text(PREVIOUS))
        repo.routes[list_path("current")] = Serve(body, "close", len(body) - 3)
        with pytest.raises(ImageListError) as info:
            fetch(repo)
        report = cleanup_against(repo, store)
    assert info.value.url == repo.url + list_path("current")
    assert "no Content-Length and no chunked framing" in str(info.value)
    assert report.outcome == "not-retriable"
    assert report.error_kind == "invalid list"
    assert report.deleted == [] and report.planned == []
    assert KUBECTL in store.images()
    assert sorted(store.images()) == sorted(set(PREVIOUS) | set(CURRENT))


def test_close_delimited_list_is_refused_even_when_whole(tmp_path: Path) -> None:
    """The kind: a close-delimited body's end is never proven, whole or not."""
    body = text(CURRENT)
    with MisbehavingRepo() as repo:
        repo.routes[list_path("current")] = Serve(body, "close", len(body))
        with pytest.raises(ImageListError, match="its end cannot be proven"):
            fetch(repo)


def test_gzip_body_missing_its_trailer_is_refused(tmp_path: Path) -> None:
    """Issue 9: a gzip body without its trailer was accepted.  The client asks for gzip
    as Go's Transport does and reads the stream to its CRC-32/size trailer: a stream cut
    there is Go's "unexpected EOF" (never retried, never used)."""
    body = text(CURRENT)
    store = node(tmp_path)
    with MisbehavingRepo() as repo:
        repo.routes[list_path("v1")] = Serve(text(PREVIOUS))
        trailerless = len(gzip.compress(body, mtime=0)) - 8  # the 8-byte CRC/size trailer
        repo.routes[list_path("current")] = Serve(body, "gzip-cut", trailerless)
        with pytest.raises(CleanupError, match=r"unexpected EOF"):
            fetch(repo)
        report = cleanup_against(repo, store)
    assert report.deleted == []
    assert KUBECTL in store.images()


def test_a_whole_gzip_list_is_decoded_and_accepted() -> None:
    """Go's Transport asks for gzip and decodes it; the trailer proves the stream whole."""
    with MisbehavingRepo() as repo:
        repo.routes[list_path("current")] = Serve(text(CURRENT), "gzip")
        assert fetch(repo) == CURRENT


def test_an_encoding_we_did_not_ask_for_is_refused_even_when_whole() -> None:
    with MisbehavingRepo() as repo:
        repo.routes[list_path("current")] = Serve(text(CURRENT), "deflate")
        with pytest.raises(ImageListError, match=r"Content-Encoding 'deflate'.*not asked for"):
            fetch(repo)


def test_content_length_smaller_than_the_body_is_refused(tmp_path: Path) -> None:
    """Issue 9: a Content-Length smaller than the real body (Go reads that many bytes and
    stops, silently): the list no longer ends with a newline."""
    body = text(CURRENT)
    store = node(tmp_path)
    with MisbehavingRepo() as repo:
        repo.routes[list_path("v1")] = Serve(text(PREVIOUS))
        repo.routes[list_path("current")] = Serve(body, "cl-small", len(body) - 3)
        with pytest.raises(ImageListError, match=r"does not end with a newline"):
            fetch(repo)
        report = cleanup_against(repo, store)
    assert report.deleted == []
    assert KUBECTL in store.images()


def test_whole_lists_are_accepted() -> None:
    body = text(CURRENT)
    with MisbehavingRepo() as repo:
        for mode in WHOLE:
            repo.routes[list_path("current")] = Serve(body, mode)
            assert fetch(repo) == CURRENT, mode


@pytest.mark.parametrize(
    ("mode", "cut", "message"),
    [
        ("cl-cut", 10, r"unexpected EOF"),
        ("chunked-cut", 10, r"unexpected EOF"),
        ("reset", 10, r"connection reset|unexpected EOF"),
        ("stall-body", 10, r"Client.Timeout"),
        ("stall-head", 0, r"Client.Timeout"),
    ],
)
def test_cut_or_stalled_bodies_fail_the_attempt(mode: str, cut: int, message: str) -> None:
    with MisbehavingRepo() as repo:
        repo.routes[list_path("current")] = Serve(text(CURRENT), mode, cut, stall=0.3)
        with pytest.raises(Exception, match=message):
            fetch(repo)


def test_a_redirect_to_a_cut_list_is_refused() -> None:
    body = text(CURRENT)
    with MisbehavingRepo() as repo:
        repo.routes[list_path("current")] = Serve(
            body, "redirect", then=Serve(body, "close", len(body) - 3)
        )
        with pytest.raises(ImageListError, match=r"/moved/.*its end cannot be proven"):
            fetch(repo)
        repo.routes[list_path("current")] = Serve(body, "redirect", then=Serve(body))
        assert fetch(repo) == CURRENT


# --------------------------------------------------------------------------- the property


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    mode=st.sampled_from(MODES),
    then=st.sampled_from([m for m in MODES if m != "redirect"]),
    which=st.sampled_from(["current", "v1", "both"]),
    cut=st.floats(0, 1),
)
def test_whatever_the_repo_does_nothing_that_should_stay_is_deleted(
    tmp_path_factory: pytest.TempPathFactory, mode: str, then: str, which: str, cut: float
) -> None:
    store = node(tmp_path_factory.mktemp("node"))
    with MisbehavingRepo() as repo:
        for version, images in (("v1", PREVIOUS), ("current", CURRENT)):
            body = text(images)
            if which in (version, "both"):
                at = round(cut * len(body))
                target = Serve(body, then, at, stall=0.1)
                repo.routes[list_path(version)] = Serve(body, mode, at, stall=0.1, then=target)
            else:
                repo.routes[list_path(version)] = Serve(body)
        report = cleanup_against(repo, store)
    left = set(store.images())
    assert left >= MUST_STAY, (report.outcome, report.error)
    assert set(report.deleted) == (set(PREVIOUS) | set(CURRENT)) - left
    if report.deleted:  # deleting at all means both lists arrived whole
        assert set(report.deleted) == {
            "docker.io/rancher/kubectl:v1.29.9",
            "docker.io/rancher/old-tool:v0.9",
        }


# --------------------------------------------------------------------------- not a list


@pytest.mark.parametrize("word", [b"ok\n", b"null\n", b"true\n"])
def test_a_one_word_body_is_not_the_current_list(tmp_path: Path, word: bytes) -> None:
    """Review of issue 9: a 200 whose body is ``ok\\n`` parsed as
    ``docker.io/library/ok:latest`` and drove deletions of every previous image.  The
    kind: a current list that shares no registry/namespace with the previous list."""
    store = node(tmp_path)
    with MisbehavingRepo() as repo:
        repo.routes[list_path("v1")] = Serve(text(PREVIOUS))
        repo.routes[list_path("current")] = Serve(word)
        report = cleanup_against(repo, store)
    assert report.outcome == "not-retriable", report.error
    assert report.error_kind == "invalid list"
    assert "shares no registry/namespace with the previous list" in (report.error or "")
    assert report.deleted == []
    assert sorted(store.images()) == sorted(set(PREVIOUS) | set(CURRENT))


def test_a_current_list_of_image_ids_alone_is_related_to_no_list(tmp_path: Path) -> None:
    """Issue 11: an entry written as an image ID (``sha256:<64 hex>``) is content with
    no name, so it names no namespace; a current list of IDs alone shares none with any
    list and is refused, saying so, while IDs next to names relate by the names."""
    ids = ["sha256:" + "a" * 64, "sha256:" + "b" * 64]
    store = node(tmp_path)
    with MisbehavingRepo() as repo:
        repo.routes[list_path("v1")] = Serve(text(PREVIOUS))
        repo.routes[list_path("current")] = Serve(text(ids))
        report = cleanup_against(repo, store)
    assert report.outcome == "not-retriable", report.error
    assert report.error is not None
    assert report.error.endswith(
        "(document): it shares no registry/namespace with the previous list (it names only"
        " image IDs): is it an image list at all, or did a proxy or error page answer?"
    ), report.error
    assert report.deleted == []
    with MisbehavingRepo() as repo:
        repo.routes[list_path("v1")] = Serve(text(PREVIOUS))
        repo.routes[list_path("current")] = Serve(text([*ids, *CURRENT]))
        report = cleanup_against(repo, store)
    assert report.ok, report.error
    # an ID of the previous list names no namespace either: the names relate the lists
    with MisbehavingRepo() as repo:
        repo.routes[list_path("v1")] = Serve(text([ids[0], *PREVIOUS]))
        repo.routes[list_path("current")] = Serve(text(["docker.io/library/ok:latest"]))
        report = cleanup_against(repo, node(tmp_path))
    assert report.outcome == "not-retriable"
    assert "(it names docker.io/library)" in (report.error or ""), report.error


@pytest.mark.parametrize(
    "content_type",
    ["text/html; charset=utf-8", "application/json", "application/problem+json", "text/xml"],
)
def test_a_body_sent_as_another_kind_of_document_is_refused(
    tmp_path: Path, content_type: str
) -> None:
    """A list served as HTML/JSON/XML is an error page or API answer, even if its text
    happens to parse as references."""
    store = node(tmp_path)
    with MisbehavingRepo() as repo:
        repo.routes[list_path("v1")] = Serve(text(PREVIOUS))
        repo.routes[list_path("current")] = Serve(text(CURRENT), content_type=content_type)
        with pytest.raises(ImageListError, match="not a plain-text list"):
            fetch(repo)
        report = cleanup_against(repo, store)
    assert report.deleted == []
    assert report.error_kind == "invalid list"


def test_content_length_and_chunked_together_are_refused(tmp_path: Path) -> None:
    """Review of issue 9: Content-Length and ``Transfer-Encoding: chunked`` together, the
    chunked body properly terminated but shorter than the Content-Length, was accepted.
    RFC 9112 section 6.3: such a message ought to be handled as an error."""
    store = node(tmp_path)
    with MisbehavingRepo() as repo:
        repo.routes[list_path("v1")] = Serve(text(PREVIOUS))
        repo.routes[list_path("current")] = Serve(text(CURRENT), "cl-chunked", 12)
        with pytest.raises(ImageListError, match=r"both Content-Length \(\d+\) and Transfer"):
            fetch(repo)
        report = cleanup_against(repo, store)
    assert report.deleted == []
    assert sorted(store.images()) == sorted(set(PREVIOUS) | set(CURRENT))


def test_content_length_cutting_at_a_line_end_with_more_bytes_sent_is_refused(
    tmp_path: Path,
) -> None:
    """Review of issue 9: a ``Connection: close`` response whose Content-Length cuts
    exactly at a line end, with the rest of the list sent after it, passed the newline
    rule and the dropped lines' images were deleted.  Bytes past the declared end mean
    the framing disagrees with what was sent: refused."""
    body = text(CURRENT)
    cut = body.index(KUBECTL.encode())  # the list loses its last line, kubectl:v1.30.5
    store = node(tmp_path)
    with MisbehavingRepo() as repo:
        repo.routes[list_path("v1")] = Serve(text(PREVIOUS))
        repo.routes[list_path("current")] = Serve(body, "cl-small", cut)
        with pytest.raises(ImageListError, match=r"more bytes after the end its framing"):
            fetch(repo)
        report = cleanup_against(repo, store)
    assert report.deleted == []
    assert KUBECTL in store.images()

"""run_cleanup: ordering, safety and the report, with a scripted repo and a real MemoryStore.

The network path (faultdns + HTTP server + the real RepoClient) is in test_end_to_end.py;
here the repo is a script of outcomes per attempt so each rule is checked on its own.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from cleanup import (
    CleanupError,
    DNSError,
    HTTPStatusError,
    ImageListError,
    MemoryStore,
    RemovalError,
    StoreError,
    get_policy,
)
from cleanup._run import CleanupReport, ImageRemovalFailed, ImageRemoved, run_cleanup
from cleanup.testing import FastForwardClock

PREVIOUS = [
    "docker.io/rancher/harvester:v1.4.1",
    "docker.io/rancher/harvester-webhook:v1.4.1",
    "docker.io/rancher/harvester-upgrade:v1.4.1",
    "docker.io/longhornio/longhorn-engine:v1.7.2",
    "docker.io/rancher/shared:v1",
    "docker.io/rancher/old-tool:v0.9",
    "docker.io/rancher/pinned-tool:v1",
]
CURRENT = [
    "docker.io/rancher/harvester:v1.5.0",
    "docker.io/rancher/harvester-webhook:v1.5.0",
    "docker.io/rancher/harvester-upgrade:v1.5.0",
    "docker.io/longhornio/longhorn-engine:v1.8.1",
    "docker.io/rancher/shared:v1",
]
NODE = [*PREVIOUS, *CURRENT[:4]]
REPO_NAME = "upgrade-repo-hvst-upgrade-nv76q.harvester-system"


def not_found() -> DNSError:
    return DNSError(REPO_NAME, "no such host", server="127.0.0.1:5353", is_not_found=True)


def servfail() -> DNSError:
    return DNSError(REPO_NAME, "server misbehaving", server="127.0.0.1:5353", is_temporary=True)


class ScriptedRepo:
    """Answers ``fetch_lists`` from a script: an exception to raise, or the two lists."""

    def __init__(self, script: Sequence[Exception | tuple[list[str], list[str]]]) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, str]] = []

    def fetch_lists(self, previous: str, current: str) -> tuple[list[str], list[str]]:
        self.calls.append((previous, current))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


LISTS = (PREVIOUS, CURRENT)


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return MemoryStore.create(
        tmp_path / "node.json",
        NODE,
        in_use=["docker.io/rancher/harvester-webhook:v1.4.1"],
        pinned=["docker.io/rancher/pinned-tool:v1"],
    )


def run(
    repo: ScriptedRepo,
    store: Any,
    policy: str = "harvester-v1.5",
    *,
    clock: FastForwardClock | None = None,
    events: list[object] | None = None,
    **kwargs: Any,
) -> CleanupReport:
    return run_cleanup(
        repo,  # type: ignore[arg-type]
        previous_version="v1.4.1",
        policy=get_policy(policy),
        store=store,
        clock=clock or FastForwardClock(),
        rng=random.Random(7),
        on_event=events.append if events is not None else None,
        **kwargs,
    )


def test_success_deletes_exactly_the_plan(store: MemoryStore) -> None:
    repo = ScriptedRepo([LISTS])
    report = run(repo, store)
    assert repo.calls == [("v1.4.1", "current")]
    assert report.outcome == "success" and report.exit_code == 0
    # harvester:v1.4.1 and old-tool go; webhook is in use, harvester-upgrade and
    # longhorn-engine are retained, shared is still current, pinned-tool is pinned
    assert sorted(report.deleted) == [
        "docker.io/rancher/harvester:v1.4.1",
        "docker.io/rancher/old-tool:v0.9",
    ]
    assert [p.image for p in report.planned] == report.deleted
    assert sorted(store.images()) == sorted(set(NODE) - set(report.deleted))
    kept = {k.image for k in report.kept}
    assert {
        "docker.io/rancher/harvester-webhook:v1.4.1",
        "docker.io/rancher/harvester-upgrade:v1.4.1",
        "docker.io/longhornio/longhorn-engine:v1.7.2",
        "docker.io/rancher/pinned-tool:v1",
    } <= kept
    assert all(k.reason for k in report.kept)
    assert report.failed == []
    assert [(a.attempt, a.ok) for a in report.attempts] == [(1, True)]
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["outcome"] == "success" and doc["exit_code"] == 0
    assert doc["deleted"] == report.deleted


def test_report_rows_say_which_entry_each_comes_from(tmp_path: Path) -> None:
    """Review of issue 11: ``a.io/x:1`` matches ``b.io/x:1`` too by the short
    ``name:tag``; its content is in use, so the entry deletes ``a.io/x:1`` and keeps
    ``b.io/x:1`` (a keep named by the node's name); the later entry ``b.io/x:1`` is kept
    as a whole.  Two ``kept`` rows name ``b.io/x:1``: ``listed`` tells them apart, in the
    report and its JSON."""
    previous = ["a.io/rancher/x:1", "b.io/rancher/x:1"]
    current = ["a.io/rancher/y:2"]
    store = MemoryStore.create(
        tmp_path / "node.json",
        [*previous, *current],
        in_use=["sha256:" + "b" * 64],  # a container naming its image by ID
        ids={"a.io/rancher/x:1": "sha256:" + "a" * 64, "b.io/rancher/x:1": "sha256:" + "b" * 64},
    )
    report = run(ScriptedRepo([(previous, current)]), store)
    assert report.deleted == ["a.io/rancher/x:1"]
    assert [(p.image, p.listed) for p in report.planned] == [("a.io/rancher/x:1", previous[0])]
    assert sorted((k.image, k.listed) for k in report.kept) == [
        ("b.io/rancher/x:1", "a.io/rancher/x:1"),
        ("b.io/rancher/x:1", "b.io/rancher/x:1"),
    ]
    doc = json.loads(json.dumps(report.to_dict()))
    assert sorted((k["image"], k["listed"]) for k in doc["kept"]) == sorted(
        (k.image, k.listed) for k in report.kept
    )
    assert doc["planned"] == [
        {"image": "a.io/rancher/x:1", "reason": report.planned[0].reason, "listed": previous[0]}
    ]


def test_v15_retries_not_found_and_records_each_attempt(store: MemoryStore) -> None:
    clock = FastForwardClock(start=1000.0)
    repo = ScriptedRepo([not_found(), not_found(), LISTS])
    report = run(repo, store, clock=clock)
    assert report.outcome == "success"
    assert len(clock.sleeps) == 2
    assert all(10.0 <= s <= 11.0 for s in clock.sleeps)  # Duration 10s, Jitter 0.1
    failed = report.attempts[:2]
    assert [a.kind for a in failed] == ["dns not-found", "dns not-found"]
    assert all(a.retriable and not a.ok for a in failed)
    assert [a.sleep for a in failed] == clock.sleeps
    assert "no such host" in (failed[0].error or "")
    assert report.attempts[2].ok and report.attempts[2].attempt == 3
    assert report.elapsed == pytest.approx(sum(clock.sleeps))
    assert report.attempts[2].at == pytest.approx(sum(clock.sleeps))
    assert len(report.deleted) == 2


def test_v14_stops_on_not_found_and_deletes_nothing(store: MemoryStore) -> None:
    before = store.path.read_bytes()
    clock = FastForwardClock()
    repo = ScriptedRepo([not_found(), LISTS])
    report = run(repo, store, "harvester-v1.4", clock=clock)
    assert report.outcome == "not-retriable" and report.exit_code == 2
    assert len(repo.calls) == 1 and clock.sleeps == []
    assert report.error_kind == "dns not-found"
    assert "no such host" in (report.error or "")
    assert report.deleted == [] and report.planned == []
    assert store.path.read_bytes() == before


def test_v14_does_retry_temporary_dns_errors(store: MemoryStore) -> None:
    repo = ScriptedRepo([servfail(), LISTS])
    report = run(repo, store, "harvester-v1.4")
    assert report.outcome == "success"
    assert [a.kind for a in report.attempts] == ["dns temporary", None]


def test_gave_up_after_the_schedule(store: MemoryStore) -> None:
    before = store.path.read_bytes()
    clock = FastForwardClock()
    repo = ScriptedRepo([servfail()] * 30)
    report = run(repo, store, clock=clock)
    assert report.outcome == "gave-up" and report.exit_code == 1
    assert len(report.attempts) == 30 and len(clock.sleeps) == 29
    assert report.error_kind == "dns temporary"
    assert 290.0 <= report.elapsed <= 319.0
    assert store.path.read_bytes() == before


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            HTTPStatusError(
                "http://repo/harvester-iso/bundle/harvester/images-lists-archive/v1.4.1/image_list_all.txt",
                404,
                "v1.4.1",
            ),
            "http status 404",
        ),
        (HTTPStatusError("http://repo/x", 503), "http status 503"),
        (ImageListError("http://repo/x", 3, "not an image reference: '<html>'"), "invalid list"),
    ],
)
def test_errors_the_policy_never_retries(
    store: MemoryStore, error: CleanupError, kind: str
) -> None:
    before = store.path.read_bytes()
    repo = ScriptedRepo([error, LISTS])
    report = run(repo, store)
    assert report.outcome == "not-retriable"
    assert report.error_kind == kind
    assert report.error == str(error)
    assert len(repo.calls) == 1
    assert store.path.read_bytes() == before


def test_dry_run_plans_but_removes_nothing(store: MemoryStore) -> None:
    before = store.path.read_bytes()
    report = run(ScriptedRepo([LISTS]), store, dry_run=True)
    assert report.outcome == "success" and report.dry_run
    assert sorted(p.image for p in report.planned) == [
        "docker.io/rancher/harvester:v1.4.1",
        "docker.io/rancher/old-tool:v0.9",
    ]
    assert report.deleted == []
    assert store.path.read_bytes() == before


class RefusingStore:
    """A MemoryStore whose ``remove`` refuses some images (as a locked image would)."""

    def __init__(self, inner: MemoryStore, refuse: set[str]) -> None:
        self.inner = inner
        self.refuse = refuse
        self.announced: list[str] | None = None

    def images(self) -> list[str]:
        return self.inner.images()

    def in_use(self) -> set[str]:
        return self.inner.in_use()

    def pinned(self) -> set[str]:
        return self.inner.pinned()

    def plan_removal(self, images: Sequence[str]) -> None:
        self.announced = list(images)

    def remove(self, image: str) -> None:
        if image in self.refuse:
            raise RemovalError(image, "image is locked")
        self.inner.remove(image)


def test_one_refused_removal_does_not_stop_the_rest(store: MemoryStore) -> None:
    refusing = RefusingStore(store, {"docker.io/rancher/harvester:v1.4.1"})
    events: list[object] = []
    report = run(ScriptedRepo([LISTS]), refusing, events=events)
    assert report.outcome == "success"
    assert report.deleted == ["docker.io/rancher/old-tool:v0.9"]
    assert [(f.image, f.reason) for f in report.failed] == [
        ("docker.io/rancher/harvester:v1.4.1", "image is locked")
    ]
    assert refusing.announced == [p.image for p in report.planned]
    removal_events = [e for e in events if isinstance(e, ImageRemoved | ImageRemovalFailed)]
    assert [type(e).__name__ for e in removal_events] == ["ImageRemovalFailed", "ImageRemoved"]
    assert "docker.io/rancher/harvester:v1.4.1" in store.images()


class BrokenStore(RefusingStore):
    def images(self) -> list[str]:
        raise StoreError("ctr images ls (containerd at /run/x.sock): connection refused")


def test_unreadable_store_is_an_error_and_removes_nothing(store: MemoryStore) -> None:
    broken = BrokenStore(store, set())
    report = run(ScriptedRepo([LISTS]), broken)
    assert report.outcome == "store-error" and report.exit_code == 2
    assert report.error_kind == "store error"
    assert "connection refused" in (report.error or "")
    assert report.deleted == [] and broken.announced is None


def test_events_come_in_order(store: MemoryStore) -> None:
    events: list[object] = []
    run(ScriptedRepo([not_found(), LISTS]), store, events=events)
    names = [type(e).__name__ for e in events]
    assert names.index("AttemptFailed") < names.index("Sleeping") < names.index("Succeeded")
    assert names.index("Succeeded") < names.index("ImageRemoved")


@pytest.mark.parametrize(
    "in_use", [["sha256:" + "b" * 64], ["docker.io/rancher/foo:v1-alias"]], ids=["id", "alias"]
)
def test_memory_store_image_in_use_by_its_id_stays(tmp_path: Path, in_use: list[str]) -> None:
    """Issue 9: the reviewer's store: foo:v1 in use only through its ID (or through a
    name that is not in ``images`` but has the same ID) was deleted."""
    ident = "sha256:" + "b" * 64
    path = tmp_path / "node.json"
    path.write_text(
        json.dumps(
            {
                "images": ["docker.io/rancher/foo:v1"],
                "in_use": in_use,
                "ids": {"docker.io/rancher/foo:v1": ident, "docker.io/rancher/foo:v1-alias": ident},
            }
        )
    )
    store = MemoryStore(path)
    report = run(ScriptedRepo([(["rancher/foo:v1"], ["rancher/bar:v2"])]), store)
    assert report.outcome == "success", report.error
    assert report.deleted == []
    assert store.images() == ["docker.io/rancher/foo:v1"]

"""sim._store: the faulty node store the harness hands a run when the world says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleanup import MemoryStore, RemovalError, StoreError
from sim._store import STORE_READS, FaultyStore, RemovalFault, StoreFaults, WriterChange

IMAGES = ["docker.io/rancher/a:v1", "docker.io/rancher/b:v1", "docker.io/rancher/c:v1"]


def _store(tmp_path: Path, faults: StoreFaults) -> FaultyStore:
    return FaultyStore(MemoryStore.create(tmp_path / "node.json", IMAGES), faults)


@pytest.mark.parametrize("read", STORE_READS)
def test_the_named_read_fails_with_the_worlds_text_and_the_others_do_not(
    tmp_path: Path, read: str
) -> None:
    store = _store(tmp_path, StoreFaults(unreadable=read, reason="permission denied"))  # type: ignore[arg-type]
    calls = {
        "lock": lambda: store.locked().__enter__(),
        "images": store.images,
        "in_use": store.in_use,
        "pinned": store.pinned,
        "identities": store.identities,
    }
    for name, call in calls.items():
        if name == read:
            with pytest.raises(StoreError, match=r"^permission denied$"):
                call()
        elif name != "lock":
            call()


def test_refused_removals_raise_as_the_world_says_and_the_rest_go(tmp_path: Path) -> None:
    store = _store(
        tmp_path,
        StoreFaults(
            removals=(
                RemovalFault(IMAGES[0], "busy"),
                RemovalFault(IMAGES[1], "socket gone", "store-error"),
            )
        ),
    )
    with pytest.raises(RemovalError) as refused:
        store.remove(IMAGES[0])
    assert refused.value.reason == "busy"
    with pytest.raises(StoreError) as failed:
        store.remove(IMAGES[1])
    assert not isinstance(failed.value, RemovalError) and str(failed.value) == "socket gone"
    store.remove(IMAGES[2])
    assert store.inner.images() == IMAGES[:2]


def test_the_writer_acts_once_before_the_first_removal(tmp_path: Path) -> None:
    seen: list[WriterChange] = []
    writer = (
        WriterChange("start-container", "rancher/a:v1"),
        WriterChange("pin", "docker.io/rancher/b:v1"),
        WriterChange("pull", "docker.io/rancher/d:v1"),
        WriterChange("remove", IMAGES[2]),
        WriterChange("remove", "docker.io/rancher/not-there:v1"),
    )
    store = FaultyStore(
        MemoryStore.create(tmp_path / "node.json", IMAGES), StoreFaults(writer=writer), seen.append
    )
    assert store.images() == IMAGES  # listing: nothing yet
    with store.locked():  # the run holds the lock; the writer does not ask for it
        with pytest.raises(RemovalError, match=r"in use by a container \(as rancher/a:v1\)"):
            store.remove(IMAGES[0])
        with pytest.raises(RemovalError, match="pinned"):
            store.remove(IMAGES[1])
        with pytest.raises(RemovalError, match="no such image"):
            store.remove(IMAGES[2])
    assert seen == list(writer[:4]) == store.applied  # the absent image: nothing to remove
    assert store.inner.images() == [*IMAGES[:2], "docker.io/rancher/d:v1"]


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        (
            lambda: StoreFaults(unreadable="disk"),  # type: ignore[arg-type]
            r"store_faults\.unreadable: 'disk' is no store read",
        ),
        (lambda: StoreFaults(unreadable="images"), r"store_faults\.reason"),
        (lambda: StoreFaults(removals=(RemovalFault("x", ""),)), r"store_faults\.removals"),
        (
            lambda: StoreFaults(writer=(WriterChange("delete", "x"),)),  # type: ignore[arg-type]
            r"store_faults\.writer: 'delete' is no writer action",
        ),
    ],
)
def test_a_fault_the_store_cannot_play_is_refused_by_its_field(
    faults: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        faults()  # type: ignore[operator]


def test_no_faults_is_false_and_describes_nothing() -> None:
    assert not StoreFaults() and StoreFaults().describe() == []
    assert StoreFaults(writer=(WriterChange("pull", "x"),)).describe() == [
        "store: before the first removal, x pulled"
    ]

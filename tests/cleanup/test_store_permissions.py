"""Issue 9: a ``memory:`` store keeps its permissions, owner and group, and is never
written behind them.

Semantics (README, "Image stores"; ``MemoryStore``): a file with no write bit (``chmod
a-w``) is read-only for everyone, root included, and a file this user may not write is
refused too (exit 64 naming ``--store`` before anything is fetched; ``--dry-run`` only
reads); a file this user may write keeps its mode, owner and group, also when only root
could have given a new file that owner (then it is rewritten in place, under the lock,
so that a crash part-way leaves a file that is refused rather than read).

The tests that change users need root (CI runs as root); they switch the effective ids
only (``setresuid`` keeps root as the saved id) and switch back.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cleanup import MemoryStore, RemovalError, StoreError, StoreSpecError
from cleanup._cli import main

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="changes users: needs root")

NOBODY = 65534
IMAGES_GID = 5678  # a group the user is in, not their primary group


@contextlib.contextmanager
def acting_as(uid: int, gid: int, groups: list[int]) -> Iterator[None]:
    """Run the block with these effective ids (real and saved stay root)."""
    saved = os.getgroups()
    os.setgroups(groups)
    os.setresgid(-1, gid, -1)
    os.setresuid(-1, uid, -1)
    try:
        yield
    finally:
        os.setresuid(-1, 0, -1)
        os.setresgid(-1, 0, -1)
        os.setgroups(saved)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory everyone may write (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="i9-store-"))
    os.chmod(path, 0o1777)
    try:
        yield path
    finally:
        for child in path.iterdir():
            child.unlink()
        path.rmdir()


def _fingerprint(path: Path) -> tuple[bytes, int, int, int, int]:
    st = os.stat(path)
    return path.read_bytes(), st.st_ino, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def test_read_only_store_file_is_refused_not_rewritten(tmp_path: Path) -> None:
    """Issue 9 example: a 0444 store file was replaced through its writable directory."""
    store = MemoryStore.create(tmp_path / "node.json", ["a:v1", "b:v1"])
    os.chmod(store.path, 0o444)
    before = _fingerprint(store.path)
    with pytest.raises(RemovalError, match=r"read-only \(mode 0444\)"):
        store.remove("a:v1")
    with pytest.raises(StoreError, match="read-only"):
        store.update(add=["c:v1"])
    with pytest.raises(StoreSpecError, match="read-only"):
        store.check_writable()
    assert _fingerprint(store.path) == before  # same bytes, same inode
    assert sorted(os.listdir(tmp_path)) == ["node.json"]


def test_read_only_store_is_exit_64_naming_store_before_any_fetch(tmp_path: Path) -> None:
    node = MemoryStore.create(tmp_path / "node.json", ["a/b:v1"])
    os.chmod(node.path, 0o444)
    out, err = _run_cli(
        # nothing listens on port 9: a fetch would fail with exit 1 or 2, not 64
        "--repo-url=http://127.0.0.1:9",
        "--previous-version=v1",
        "--nameserver=127.0.0.1:9",
        f"--store=memory:{node.path}",
        "--steps=1",  # were the store not checked first, fail fast
    )
    assert out == 64, err
    assert err.startswith("cleanup: --store: memory store ") and "read-only" in err, err
    assert "Traceback" not in err
    assert node.images() == ["a/b:v1"]


def test_dry_run_only_reads_a_read_only_store(tmp_path: Path) -> None:
    from tests.cleanup.test_end_to_end import ListServer, list_text

    node = MemoryStore.create(tmp_path / "node.json", ["docker.io/rancher/a:v1"])
    os.chmod(node.path, 0o444)
    with ListServer() as repo:
        repo.serve("v1", (200, list_text(["docker.io/rancher/a:v1"])))
        repo.serve("current", (200, list_text(["docker.io/rancher/a:v2"])))
        code, err = _run_cli(
            f"--repo-url=http://127.0.0.1:{repo.port}",
            "--previous-version=v1",
            "--nameserver=127.0.0.1:9",
            f"--store=memory:{node.path}",
            "--dry-run",
        )
    assert code == 0, err
    assert "would delete 1 image(s)" in err
    assert node.images() == ["docker.io/rancher/a:v1"]


def _run_cli(*flags: str) -> tuple[int, str]:
    import io

    out, err = io.StringIO(), io.StringIO()
    code = main(["run", *flags], stdout=out, stderr=err)
    return code, err.getvalue()


@root_only
def test_root_keeps_another_owner_group_and_mode(tmp_path: Path) -> None:
    """Issue 9: written through, the file keeps mode and owner/group (as root)."""
    store = MemoryStore.create(tmp_path / "node.json", ["a:v1", "b:v1"])
    os.chown(store.path, 1234, IMAGES_GID)
    os.chmod(store.path, 0o640)
    store.remove("a:v1")
    _, _, mode, uid, gid = _fingerprint(store.path)
    assert (mode, uid, gid) == (0o640, 1234, IMAGES_GID)
    assert store.images() == ["b:v1"]


@root_only
def test_group_writable_store_of_another_owner_keeps_owner_and_group(shared_dir: Path) -> None:
    """Issue 9 example: a store whose group is not the user's primary group failed
    removals (the new file could not be given root's ownership); it is written in place."""
    store = MemoryStore.create(shared_dir / "node.json", ["a:v1", "b:v1", "c:v1"])
    os.chown(store.path, 0, IMAGES_GID)
    os.chmod(store.path, 0o664)
    _, inode, *_ = _fingerprint(store.path)
    with acting_as(NOBODY, NOBODY, [IMAGES_GID]):
        store.remove("a:v1")
        store.update(add=["d:v1"], in_use=["c:v1"])
        with pytest.raises(RemovalError, match="in use"):
            store.remove("c:v1")
    text, inode_after, mode, uid, gid = _fingerprint(store.path)
    assert (mode, uid, gid) == (0o664, 0, IMAGES_GID)
    assert inode_after == inode
    assert json.loads(text) == {
        "images": ["b:v1", "c:v1", "d:v1"],
        "in_use": ["c:v1"],
        "pinned": [],
    }
    assert sorted(os.listdir(shared_dir)) == ["node.json"]  # no temporary file left


@root_only
def test_owner_in_a_supplementary_group_keeps_the_group_atomically(shared_dir: Path) -> None:
    store = MemoryStore.create(shared_dir / "node.json", ["a:v1", "b:v1"])
    os.chown(store.path, NOBODY, IMAGES_GID)
    os.chmod(store.path, 0o660)
    _, inode, *_ = _fingerprint(store.path)
    with acting_as(NOBODY, NOBODY, [IMAGES_GID]):
        store.remove("a:v1")
    _, inode_after, mode, uid, gid = _fingerprint(store.path)
    assert (mode, uid, gid) == (0o660, NOBODY, IMAGES_GID)
    assert inode_after != inode  # replaced atomically: the owner could keep the group
    assert store.images() == ["b:v1"]


@root_only
def test_store_this_user_may_not_write_is_refused(shared_dir: Path) -> None:
    store = MemoryStore.create(shared_dir / "node.json", ["a:v1", "b:v1"])
    os.chmod(store.path, 0o644)  # root's; others may read only
    before = _fingerprint(store.path)
    with acting_as(NOBODY, NOBODY, []):
        with pytest.raises(RemovalError, match="may not write the file"):
            store.remove("a:v1")
        with pytest.raises(StoreSpecError, match="may not write the file"):
            store.check_writable()
    assert _fingerprint(store.path) == before


def test_an_unfinished_in_place_rewrite_is_refused_not_read(tmp_path: Path) -> None:
    """A crash part-way through an in-place rewrite leaves its ``#`` marker first: the
    file may mix two versions, so it is not read as a node (which could hold fewer
    images than it should)."""
    path = tmp_path / "node.json"
    path.write_text('#\n  "images": ["a:v1"]\n}\n')
    with pytest.raises(StoreSpecError, match="in-place rewrite did not finish"):
        MemoryStore(path)

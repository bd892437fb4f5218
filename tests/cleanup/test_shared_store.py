"""The store is shared: other cleanups and other writers change it during a run (issue 9).

Real concurrent processes (``python -m cleanup run`` and a writer script) on one
``MemoryStore`` file.  Whatever the interleaving, afterwards: no other writer's change
is lost, nothing in use or pinned at the moment of its removal is removed, and each
report's ``deleted`` is exactly what that run removed.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cleanup import MemoryStore, RemovalError, RepoClient, get_policy, run_cleanup
from cleanup._resolver import StubResolver
from cleanup._run import ImageRemoved
from cleanup._transport import make_http_client
from cleanup.testing import FastForwardClock
from tests.cleanup.test_end_to_end import ListServer, list_text

OLD = [f"docker.io/rancher/x{i}:v1" for i in range(800)]
NEW = ["docker.io/rancher/y:v2"]
X799 = "docker.io/rancher/x799:v1"


@pytest.fixture
def repo() -> Iterator[ListServer]:
    with ListServer() as server:
        server.serve("v1", (200, list_text(OLD)))
        server.serve("current", (200, list_text(NEW)))
        yield server


def _cli(repo: ListServer, store: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cleanup",
            "run",
            f"--repo-url=http://127.0.0.1:{repo.port}",
            "--previous-version=v1",
            "--nameserver=127.0.0.1:9",  # never asked: the repo host is an IP literal
            f"--store=memory:{store}",
            "--policy=harvester-v1.5",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _report(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    doc = json.loads(out)
    assert isinstance(doc, dict)
    return doc


def test_two_cleanups_on_one_store_800_images_each(tmp_path: Path, repo: ListServer) -> None:
    """Issue 9: both runs reported 800 deleted while 448 and 300 were still in the file."""
    path = tmp_path / "node.json"
    MemoryStore.create(path, OLD + NEW)
    first, second = _cli(repo, path), _cli(repo, path)
    reports = [_report(first), _report(second)]
    left = MemoryStore(path).images()
    assert left == NEW
    deleted = [set(r["deleted"]) for r in reports]  # type: ignore[call-overload]
    assert deleted[0] | deleted[1] == set(OLD)
    assert not deleted[0] & deleted[1]  # nobody claims a removal the other one did
    for report in reports:
        assert report["failed"] == []


WRITER = textwrap.dedent(
    """
    import json, sys
    from cleanup import MemoryStore
    store = MemoryStore(sys.argv[1])
    seen = []
    for i in range(int(sys.argv[2])):
        with store.locked():
            present = "docker.io/rancher/x799:v1" in store.images()
            store.update(add=[f"docker.io/rancher/newpull{i}:v1"], in_use=(
                ["docker.io/rancher/x799:v1"] if i == 0 else []))
        seen.append(present)
    print(json.dumps(seen))
    """
)


def test_a_writer_during_a_run_loses_nothing(tmp_path: Path, repo: ListServer) -> None:
    """Issue 9: a second process added ``newpull:v1`` and marked ``x799`` in use during a
    run; afterwards ``newpull:v1`` was gone and ``x799`` deleted."""
    path = tmp_path / "node.json"
    MemoryStore.create(path, OLD + NEW)
    run = _cli(repo, path)
    # start writing once the run has begun removing (or has finished)
    deadline = time.monotonic() + 60
    while len(MemoryStore(path).images()) == len(OLD) + 1 and run.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    writer = subprocess.run(
        [sys.executable, "-c", WRITER, str(path), "50"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    report = _report(run)
    x799_present_when_marked = json.loads(writer.stdout)[0]
    store = MemoryStore(path)
    images = set(store.images())
    assert {f"docker.io/rancher/newpull{i}:v1" for i in range(50)} <= images
    assert X799 in store.in_use()
    if x799_present_when_marked:  # marked in use while there: it must have stayed
        assert X799 in images
        assert X799 not in report["deleted"]  # type: ignore[operator]
    else:
        assert X799 in report["deleted"]  # type: ignore[operator]
    # the report says exactly what happened to the file
    assert set(OLD) - images == set(report["deleted"])  # type: ignore[call-overload]


def test_a_writer_that_ignores_the_lock_is_seen_by_the_next_removal(tmp_path: Path) -> None:
    """Between two removals another tool rewrites the file (atomically, without our
    lock): the next removal re-reads it, keeps the new image and refuses x799."""
    path = tmp_path / "node.json"
    store = MemoryStore.create(path, OLD + NEW)
    with ListServer() as server:
        server.serve("v1", (200, list_text(OLD)))
        server.serve("current", (200, list_text(NEW)))
        done: list[str] = []

        def rogue(event: object) -> None:
            if isinstance(event, ImageRemoved) and not done:
                doc = json.loads(path.read_text())
                doc["images"].append("docker.io/rancher/newpull:v1")
                doc["in_use"].append(X799)
                tmp = path.with_name("rogue.tmp")
                tmp.write_text(json.dumps(doc))
                os.replace(tmp, path)
                done.append(event.image)

        clock = FastForwardClock()
        resolver = StubResolver(["127.0.0.1:9"], clock=clock)
        with make_http_client(resolver, clock=clock, timeout=30.0) as client:
            import random

            report = run_cleanup(
                RepoClient(f"http://127.0.0.1:{server.port}", client),
                previous_version="v1",
                policy=get_policy("harvester-v1.5"),
                store=store,
                clock=clock,
                rng=random.Random(1),
                on_event=rogue,
            )
    images = store.images()
    assert "docker.io/rancher/newpull:v1" in images
    assert X799 in images
    assert [(f.image, f.reason) for f in report.failed] == [
        (X799, f"in use by a container (as {X799})")
    ]
    assert set(report.deleted) == set(OLD) - {X799}
    assert set(images) == {X799, "docker.io/rancher/newpull:v1", *NEW}


def test_removal_refuses_an_image_pinned_since_the_plan(tmp_path: Path) -> None:
    path = tmp_path / "node.json"
    store = MemoryStore.create(path, ["a:1", "b:1"])
    MemoryStore(path).update(pinned=["a:1"])
    with pytest.raises(RemovalError, match=r"^remove image a:1: pinned \(as a:1\)$"):
        store.remove("a:1")
    assert store.images() == ["a:1", "b:1"]


def test_lock_follows_a_replaced_file(tmp_path: Path) -> None:
    """A waiter that wakes up on a file replaced meanwhile locks the new file."""
    path = tmp_path / "node.json"
    store = MemoryStore.create(path, ["a:1", "b:1", "c:1"])
    other = MemoryStore(path)
    script = textwrap.dedent(
        """
        import sys, time
        from cleanup import MemoryStore
        s = MemoryStore(sys.argv[1])
        with s.locked():
            print("locked", flush=True)
            sys.stdin.readline()
            s.remove("a:1")  # replaces the file while holding the lock
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "locked"
    holder.stdin.write("go\n")
    holder.stdin.flush()
    other.remove("b:1")  # waits for the holder, then works on the file it wrote
    assert holder.wait(timeout=60) == 0
    assert store.images() == ["c:1"]


def test_symlinked_store_is_written_through_the_link(tmp_path: Path) -> None:
    """Issue 9: a store given as a symlink stays a symlink; the target keeps its mode
    and owner."""
    real = tmp_path / "state" / "node.json"
    real.parent.mkdir()
    MemoryStore.create(real, ["a:1", "b:1"])
    os.chmod(real, 0o640)
    owner = (os.stat(real).st_uid, os.stat(real).st_gid)
    if os.geteuid() == 0:
        os.chown(real, 1234, 5678)
        owner = (1234, 5678)
    link = tmp_path / "node-link.json"
    link.symlink_to(real)
    MemoryStore(link).remove("a:1")
    assert link.is_symlink()
    assert os.readlink(link) == str(real)
    st = os.stat(real)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == owner
    assert MemoryStore(real).images() == ["b:1"]
    assert sorted(os.listdir(real.parent)) == ["node.json"]  # no temporary file left

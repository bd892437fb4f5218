"""ContainerdStore against a real containerd (Debian ``containerd`` package).

A fixture starts ``containerd`` on a temporary root, state dir and socket (CRI plugin
disabled: ``ctr`` is all we need), so nothing on the machine is touched.  Images are built
here as OCI image layouts (one tiny layer each, no network), imported with
``ctr images import``, and a container is created from one of them (creating a container
needs no running task) so its image counts as in use.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cleanup import ContainerdStore, RemovalError, StoreError, get_policy
from cleanup._cli import main as cli_main
from cleanup._containerd import parse_ctr_images
from cleanup._repo import RepoClient
from cleanup._resolver import StubResolver
from cleanup._run import CleanupReport, run_cleanup
from cleanup._transport import make_http_client
from cleanup.testing import FastForwardClock
from tests.cleanup.test_end_to_end import (
    CURRENT,
    EXPECTED_DELETE,
    NODE_IN_USE,
    PREVIOUS,
    ListServer,
    list_text,
)
from tests.tools import require_tool

pytestmark = pytest.mark.containerd

NAMESPACE = "k8s.io"
# the layers are unpacked with the native snapshotter: it works on any filesystem,
# including overlay-on-overlay inside CI containers where overlayfs mounts fail
SNAPSHOTTER = "native"


# --------------------------------------------------------------------------- images


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def build_oci_archive(path: Path, ref: str, content: str) -> tuple[str, str]:
    """Write an OCI image layout tarball holding one image named ``ref``.

    ``content`` goes into the single layer, so different contents give different
    manifests.  Returns the manifest digest and the config digest (the image ID).
    """
    layer_tar = io.BytesIO()
    with tarfile.open(fileobj=layer_tar, mode="w", format=tarfile.PAX_FORMAT) as layer:
        _tar_add(layer, "hello.txt", content.encode() + b"\n")
    diff = layer_tar.getvalue()
    blob = gzip.compress(diff, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/hello"]},
            "rootfs": {"type": "layers", "diff_ids": [_digest(diff)]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _digest(blob),
                    "size": len(blob),
                }
            ],
        }
    ).encode()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": _digest(manifest),
                    "size": len(manifest),
                    "platform": {"architecture": "amd64", "os": "linux"},
                    "annotations": {"org.opencontainers.image.ref.name": ref},
                }
            ],
        }
    ).encode()
    with tarfile.open(path, "w") as tar:
        _tar_add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        _tar_add(tar, "index.json", index)
        for data in (config, manifest, blob):
            _tar_add(tar, "blobs/sha256/" + _digest(data)[7:], data)
    return _digest(manifest), _digest(config)


# --------------------------------------------------------------------------- daemon


@dataclass
class Containerd:
    socket: str
    ctr: str
    base: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.ctr, "--address", self.socket, "-n", NAMESPACE, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def import_image(self, ref: str, content: str | None = None) -> str:
        """Import ``ref`` and give it the aliases the CRI plugin adds to pulled images
        (``name@digest`` and the image ID ``sha256:<config digest>``); return the digest."""
        archive = self.base / f"img-{hashlib.sha256(ref.encode()).hexdigest()[:12]}.tar"
        digest, image_id = build_oci_archive(archive, ref, content or ref)
        self.run("images", "import", "--snapshotter", SNAPSHOTTER, str(archive))
        name = ref.rsplit(":", 1)[0]
        self.run("images", "tag", ref, f"{name}@{digest}")
        if image_id not in self.refs():
            self.run("images", "tag", ref, image_id)
        return digest

    def create_container(self, image: str, container_id: str) -> None:
        self.run("containers", "create", "--snapshotter", SNAPSHOTTER, image, container_id)

    def refs(self) -> list[str]:
        return sorted(self.run("images", "ls", "-q").stdout.split())


def _unmount_under(base: Path) -> None:
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(str(base))]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


@pytest.fixture
def containerd() -> Iterator[Containerd]:
    if os.geteuid() != 0:
        pytest.skip("containerd needs root (it owns its root dir and mounts snapshots)")
    daemon = require_tool("containerd")
    ctr = require_tool("ctr")
    # a short path: a unix socket path must fit in 108 bytes
    base = Path(tempfile.mkdtemp(prefix="ctrd-", dir="/tmp"))
    socket = str(base / "c.sock")
    config = base / "config.toml"
    config.write_text(
        "version = 2\n"
        f'root = "{base / "root"}"\n'
        f'state = "{base / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        "[grpc]\n"
        f'  address = "{socket}"\n'
        "[ttrpc]\n"
        f'  address = "{socket}.ttrpc"\n'
        "[debug]\n"
        '  address = ""\n'
    )
    log_path = base / "containerd.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen([daemon, "--config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    instance = Containerd(socket, ctr, base)
    try:
        reason = _wait_until_serving(instance, proc, log_path)
        if reason:
            pytest.skip(f"containerd cannot run here: {reason}")
        yield instance
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()
        _unmount_under(base)
        shutil.rmtree(base, ignore_errors=True)


def _wait_until_serving(c: Containerd, proc: subprocess.Popen[bytes], log: Path) -> str:
    """Poll (bounded) until containerd answers on its socket; else return why not."""
    deadline = time.monotonic() + 30.0
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            return f"containerd exited with status {proc.returncode}: {' | '.join(tail)}"
        if os.path.exists(c.socket):
            check = c.run("version", check=False)
            if check.returncode == 0:
                return ""
            last = check.stderr.strip()
        time.sleep(0.05)
    return f"containerd did not answer on {c.socket} within 30s ({last or 'no socket'})"


# --------------------------------------------------------------------------- tests


def test_store_reads_images_containers_and_pins(containerd: Containerd) -> None:
    for ref in ("docker.io/rancher/harvester:v1.4.1", "docker.io/rancher/harvester:v1.5.0"):
        containerd.import_image(ref)
    containerd.import_image("registry.k8s.io/pause:3.6")
    containerd.run(
        "images", "label", "registry.k8s.io/pause:3.6", "io.cri-containerd.pinned=pinned"
    )
    containerd.create_container("docker.io/rancher/harvester:v1.5.0", "harvester-0")
    store = ContainerdStore(containerd.socket, ctr=containerd.ctr)
    images = store.images()
    assert {
        "docker.io/rancher/harvester:v1.4.1",
        "docker.io/rancher/harvester:v1.5.0",
        "registry.k8s.io/pause:3.6",
    } <= set(images)
    assert store.in_use() == {"docker.io/rancher/harvester:v1.5.0"}
    assert store.pinned() == {"registry.k8s.io/pause:3.6"}


def test_store_removes_a_tag_and_its_digest_alias(containerd: Containerd) -> None:
    digest = containerd.import_image("docker.io/rancher/harvester:v1.4.1")
    assert f"docker.io/rancher/harvester@{digest}" in containerd.refs()
    assert len(containerd.refs()) == 3  # tag, name@digest, image ID
    store = ContainerdStore(containerd.socket, ctr=containerd.ctr)
    assert store.images() == [
        "docker.io/rancher/harvester:v1.4.1",
        f"docker.io/rancher/harvester@{digest}",
    ]
    store.remove("docker.io/rancher/harvester:v1.4.1")
    assert containerd.refs() == []


def test_store_keeps_content_another_tag_points_to(containerd: Containerd) -> None:
    digest = containerd.import_image("docker.io/rancher/harvester-upgrade:v1.4.1", "same")
    containerd.run(
        "images",
        "tag",
        "docker.io/rancher/harvester-upgrade:v1.4.1",
        "docker.io/rancher/harvester-upgrade:v1.5.0",
    )
    before = containerd.refs()
    ContainerdStore(containerd.socket, ctr=containerd.ctr).remove(
        "docker.io/rancher/harvester-upgrade:v1.4.1"
    )
    after = containerd.refs()
    assert after == [r for r in before if r != "docker.io/rancher/harvester-upgrade:v1.4.1"]
    assert f"docker.io/rancher/harvester-upgrade@{digest}" in after
    assert "docker.io/rancher/harvester-upgrade:v1.5.0" in after


def test_store_refuses_an_image_a_container_uses(containerd: Containerd) -> None:
    containerd.import_image("docker.io/rancher/harvester:v1.4.1")
    containerd.create_container("docker.io/rancher/harvester:v1.4.1", "old-pod")
    store = ContainerdStore(containerd.socket, ctr=containerd.ctr)
    with pytest.raises(
        RemovalError,
        match=r"^remove image docker.io/rancher/harvester:v1.4.1: in use by a container "
        r"\(as docker.io/rancher/harvester:v1.4.1\): container old-pod$",
    ):
        store.remove("docker.io/rancher/harvester:v1.4.1")
    assert "docker.io/rancher/harvester:v1.4.1" in containerd.refs()


def test_store_on_a_dead_socket(containerd: Containerd) -> None:
    store = ContainerdStore(
        str(containerd.base / "nobody.sock"), ctr=containerd.ctr, connect_timeout=0.5
    )
    with pytest.raises(StoreError, match=r"containerd at .*nobody.sock"):
        store.images()


# --------------------------------------------------------------------------- whole cleanup


def test_cleanup_removes_exactly_the_plan_and_keeps_the_in_use_image(
    containerd: Containerd,
) -> None:

    node = sorted(set(PREVIOUS) | set(CURRENT))
    for ref in node:
        containerd.import_image(ref)
    containerd.create_container(NODE_IN_USE[0], "webhook-old")
    before = containerd.refs()
    store = ContainerdStore(containerd.socket, ctr=containerd.ctr)
    with ListServer() as server:
        server.serve("v1.4.1", (200, list_text(PREVIOUS)))
        server.serve("current", (200, list_text(CURRENT)))
        clock = FastForwardClock()
        # an IP literal: no lookup, so the resolver is never asked
        client = make_http_client(StubResolver(["127.0.0.1:9"], clock=clock), clock=clock)
        with client:
            report = run_cleanup(
                RepoClient(f"http://127.0.0.1:{server.port}", client),
                previous_version="v1.4.1",
                policy=get_policy("harvester-v1.5"),
                store=store,
                clock=clock,
                rng=random.Random(0),
            )
    assert report.outcome == "success", report.error
    assert sorted(report.deleted) == EXPECTED_DELETE
    assert report.failed == []
    kept = {k.image: k.reason for k in report.kept}
    assert kept[NODE_IN_USE[0]] == "in use by a container"
    after = containerd.refs()
    gone = set(before) - set(after)
    # each deleted tag went with its digest alias and image ID, nothing else did
    assert {ref for ref in gone if "@" not in ref and not ref.startswith("sha256:")} == set(
        EXPECTED_DELETE
    )
    assert len(gone) == 3 * len(EXPECTED_DELETE)
    assert set(node) - set(EXPECTED_DELETE) <= set(after)
    assert NODE_IN_USE[0] in after


def test_cli_against_containerd_dry_run_then_real(containerd: Containerd) -> None:

    for ref in sorted(set(PREVIOUS) | set(CURRENT)):
        containerd.import_image(ref)
    containerd.create_container(NODE_IN_USE[0], "webhook-old")
    with ListServer() as server:
        server.serve("v1.4.1", (200, list_text(PREVIOUS)))
        server.serve("current", (200, list_text(CURRENT)))
        argv = [
            "run",
            f"--repo-url=http://127.0.0.1:{server.port}",
            "--previous-version=v1.4.1",
            "--nameserver=127.0.0.1:9",
            f"--store=containerd:{containerd.socket}",
            "--json",
        ]
        before = containerd.refs()
        out = io.StringIO()
        code = cli_main(
            [*argv, "--dry-run"], clock=FastForwardClock(), stdout=out, stderr=io.StringIO()
        )
        assert code == 0
        doc = json.loads(out.getvalue())
        assert sorted(p["image"] for p in doc["planned"]) == EXPECTED_DELETE
        assert doc["deleted"] == [] and containerd.refs() == before
        out = io.StringIO()
        code = cli_main(argv, clock=FastForwardClock(), stdout=out, stderr=io.StringIO())
        assert code == 0
        assert sorted(json.loads(out.getvalue())["deleted"]) == EXPECTED_DELETE
        assert not set(EXPECTED_DELETE) & set(containerd.refs())


class _PodStartsMidCleanup(ContainerdStore):
    """A pod starts from a planned image between planning and removal (a real race)."""

    def __init__(self, containerd: Containerd, image: str) -> None:
        super().__init__(containerd.socket, ctr=containerd.ctr)
        self.containerd = containerd
        self.image = image

    def plan_removal(self, images: object) -> None:
        self.containerd.create_container(self.image, "late-pod")


def test_a_refused_removal_is_reported_and_the_rest_go_on(containerd: Containerd) -> None:
    for ref in sorted(set(PREVIOUS) | set(CURRENT)):
        containerd.import_image(ref)
    containerd.create_container(NODE_IN_USE[0], "webhook-old")
    racing = EXPECTED_DELETE[0]
    store = _PodStartsMidCleanup(containerd, racing)
    with ListServer() as server:
        server.serve("v1.4.1", (200, list_text(PREVIOUS)))
        server.serve("current", (200, list_text(CURRENT)))
        clock = FastForwardClock()
        client = make_http_client(StubResolver(["127.0.0.1:9"], clock=clock), clock=clock)
        with client:
            report = run_cleanup(
                RepoClient(f"http://127.0.0.1:{server.port}", client),
                previous_version="v1.4.1",
                policy=get_policy("harvester-v1.5"),
                store=store,
                clock=clock,
                rng=random.Random(0),
            )
    assert report.outcome == "success"
    assert [(f.image, f.reason) for f in report.failed] == [
        (racing, f"in use by a container (as {racing}): container late-pod")
    ]
    assert report.deleted == [i for i in EXPECTED_DELETE if i != racing]
    refs = containerd.refs()
    assert racing in refs
    assert not set(report.deleted) & set(refs)


# --------------------------------------------------------------------------- issue 9


def _cleanup(store: ContainerdStore, previous: list[str], current: list[str]) -> CleanupReport:
    with ListServer() as server:
        server.serve("v1", (200, list_text(previous)))
        server.serve("current", (200, list_text(current)))
        clock = FastForwardClock()
        client = make_http_client(StubResolver(["127.0.0.1:9"], clock=clock), clock=clock)
        with client:
            return run_cleanup(
                RepoClient(f"http://127.0.0.1:{server.port}", client),
                previous_version="v1",
                policy=get_policy("harvester-v1.5"),
                store=store,
                clock=clock,
                rng=random.Random(0),
            )


def test_same_manifest_named_by_digest_in_the_current_list_stays(containerd: Containerd) -> None:
    """Issue 9: previous ``rancher/foo:v1``, current ``rancher/foo@sha256:...`` (the same
    manifest): the tag, the digest reference and the image record all used to go."""
    digest = containerd.import_image("docker.io/rancher/foo:v1")
    before = containerd.refs()
    store = ContainerdStore(containerd.socket, ctr=containerd.ctr)
    report = _cleanup(store, ["rancher/foo:v1"], [f"rancher/foo@{digest}"])
    assert report.outcome == "success", report.error
    assert report.deleted == [] and report.planned == []
    kept = {k.image: k.reason for k in report.kept}
    assert kept["rancher/foo:v1"] == (
        f"same image ({digest}) as docker.io/rancher/foo@{digest} (current list)"
    )
    assert containerd.refs() == before


def test_same_content_under_another_current_tag_stays(containerd: Containerd) -> None:
    """The kind: any current spelling of the content keeps every name of it."""
    digest = containerd.import_image("docker.io/rancher/bar:v1", "shared")
    containerd.run("images", "tag", "docker.io/rancher/bar:v1", "docker.io/rancher/bar:v2")
    containerd.import_image("docker.io/rancher/old:v1")
    store = ContainerdStore(containerd.socket, ctr=containerd.ctr)
    report = _cleanup(store, ["rancher/bar:v1", "rancher/old:v1"], ["rancher/bar:v2"])
    assert report.deleted == ["docker.io/rancher/old:v1"]
    kept = {k.image: k.reason for k in report.kept}
    assert kept["rancher/bar:v1"].startswith(f"same image ({digest}) as docker.io/rancher/bar:v2")
    assert "docker.io/rancher/bar:v1" in containerd.refs()


def test_a_pin_next_to_a_label_with_a_space_is_seen(containerd: Containerd) -> None:
    """Issue 9: labels were read from the last whitespace-separated field, so a label
    value with a space hid ``io.cri-containerd.pinned=pinned``."""
    ref = "docker.io/rancher/pinned-thing:v1"
    containerd.import_image(ref)
    containerd.run(
        "images", "label", ref, "io.cri-containerd.pinned=pinned", "note=kept by the operator"
    )
    containerd.import_image("docker.io/rancher/plain:v1")
    containerd.run("images", "label", "docker.io/rancher/plain:v1", "note=a, b=c d")
    store = ContainerdStore(containerd.socket, ctr=containerd.ctr)
    assert store.pinned() == {ref}
    records = {r.ref: r for r in parse_ctr_images(containerd.run("images", "ls").stdout)}
    assert records[ref].labels == {
        "io.cri-containerd.pinned": "pinned",
        "note": "kept by the operator",
    }
    assert records["docker.io/rancher/plain:v1"].labels == {"note": "a, b=c d"}
    report = _cleanup(store, [ref], ["docker.io/rancher/other:v2"])
    assert report.outcome == "success", report.error
    assert report.deleted == []
    assert {k.image: k.reason for k in report.kept} == {ref: "pinned"}
    with pytest.raises(RemovalError, match=r"pinned"):
        store.remove(ref)  # and the store itself refuses it
    assert ref in containerd.refs()


@pytest.mark.parametrize(
    "note",
    [
        "pinned=pinned,io.cri-containerd.pinned=no",
        "x,io.cri-containerd.pinned=",
        "z,z=",
    ],
)
def test_a_pin_is_not_overridden_by_a_label_value_with_a_comma(
    containerd: Containerd, note: str
) -> None:
    """Issue 9: ctr joins labels with an unescaped ``,``, so a later label whose value
    holds ``,io.cri-containerd.pinned=no`` read as a second pin label overriding the real
    one, and the pinned image was deleted.  The pin is now seen in the raw cell."""
    ref = "docker.io/rancher/pinned-thing:v1"
    containerd.import_image(ref)
    containerd.run("images", "label", ref, "io.cri-containerd.pinned=pinned", f"zz.note={note}")
    store = ContainerdStore(containerd.socket, ctr=containerd.ctr)
    assert store.pinned() == {ref}
    report = _cleanup(store, [ref], ["docker.io/rancher/other:v2"])
    assert report.deleted == []
    assert ref in containerd.refs()


def test_a_pin_token_inside_another_value_keeps_the_image() -> None:
    """The LABELS cell is ambiguous; the exact pin text anywhere in it resolves toward
    keeping (a false pin only keeps an image), whatever the parsed labels say."""
    digest = "sha256:" + "a" * 64
    header = "REF                       TYPE DIGEST" + " " * 66 + "SIZE    PLATFORMS   LABELS"
    starts = [header.index(c) for c in ("TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS")]
    labels = "a.note=x,io.cri-containerd.pinned=pinned,zz=io.cri-containerd.pinned=no"
    cells = ["docker.io/rancher/a:v1", "oci", digest, "1.0 KiB", "linux/amd64", labels]
    line = cells[0]
    for start, cell in zip(starts, cells[1:], strict=True):
        line = line.ljust(start) + cell
    [record] = parse_ctr_images(header + "\n" + line + "\n")
    assert record.pinned
    plain = line.replace("=pinned,", "=unpinned,")
    [record] = parse_ctr_images(header + "\n" + plain + "\n")
    assert not record.pinned


FAKE_DIGEST = "sha256:" + "f" * 64


@pytest.mark.parametrize(
    "note",
    [
        "kept by the operator",  # spaces
        "a=b=c==",  # '='
        "x, y,,z,",  # commas
        "ünïcödé 日本語 🙂 ‮reversed",  # wide and bidi characters: tabwriter counts runes
        "tab\there\tand\tthere",  # a tab starts a new tabwriter cell
        "io.cri-containerd.pinned",  # the key's text without its value
        " ",
        "\u00a0\u2028\u3000",  # Unicode spaces and a line separator
        "cr\rnel\x85fs\x1cvt\x0b",  # what str.splitlines() (not Go) breaks lines at
    ],
)
def test_adversarial_label_values_never_hide_a_pin(containerd: Containerd, note: str) -> None:
    """Issue 9: ctr's LABELS column is read exactly (the argument is in
    ``parse_ctr_images``); label values with spaces, ``=``, commas, tabs and Unicode,
    sorted before and after the pin's key, neither hide a pin nor invent one."""
    pinned, plain = "docker.io/rancher/pinned-thing:v1", "docker.io/rancher/plain:v1"
    containerd.import_image(pinned)
    containerd.import_image(plain)
    containerd.run(
        "images", "label", pinned, "io.cri-containerd.pinned=pinned",
        f"a.note={note}", f"zz.note={note}",
    )  # fmt: skip
    containerd.run("images", "label", plain, f"a.note={note}", f"zz.note={note}")
    store = ContainerdStore(containerd.socket, ctr=containerd.ctr)
    assert {pinned, plain} <= set(store.images())
    assert store.pinned() == {pinned}
    report = _cleanup(store, [pinned, plain], ["docker.io/rancher/other:v2"])
    assert report.outcome == "success", report.error
    assert report.deleted == [plain]
    assert pinned in containerd.refs()


@pytest.mark.parametrize(
    "note",
    [
        "x\nio.cri-containerd.pinned=no",  # the rest of the cell on a line of its own
        "form\x0cfeed",  # Go's tabwriter ends a line at a form feed too
        # a line that reads as a record of its own, aligned like ctr's
        "x\ndocker.io/rancher/fake:v1 application/vnd.oci.image.manifest.v1+json "
        + FAKE_DIGEST
        + " 1.0 KiB linux/amd64 -",
    ],
)
def test_a_label_value_with_a_line_break_stops_the_run(containerd: Containerd, note: str) -> None:
    """A label value may hold a line break (containerd checks only the length): it cuts
    the record's LABELS cell, the pin may move to the next line, and that line may even
    read as another record.  ``ctr images ls -q`` names every record alone; when the
    listing's lines disagree with it, nothing is read, so nothing is removed."""
    pinned = "docker.io/rancher/pinned-thing:v1"
    containerd.import_image(pinned)
    containerd.run("images", "label", pinned, "a.note=" + note, "io.cri-containerd.pinned=pinned")
    store = ContainerdStore(containerd.socket, ctr=containerd.ctr)
    with pytest.raises(StoreError, match=r"do not match|cannot parse line"):
        store.pinned()
    report = _cleanup(store, [pinned], ["docker.io/rancher/other:v2"])
    assert report.outcome == "store-error"
    assert report.deleted == []
    assert pinned in containerd.refs()

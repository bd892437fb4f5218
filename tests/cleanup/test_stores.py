"""Image stores: the JSON memory store, crictl on recorded outputs, ctr output parsing."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from cleanup import (
    ContainerdStore,
    CrictlStore,
    MemoryStore,
    RemovalError,
    StoreError,
    StoreSpecError,
    open_store,
)
from cleanup._plan import plan
from cleanup._store import run_command

DATA = Path(__file__).parent / "data"


# --------------------------------------------------------------------------- memory


def test_memory_store_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "node.json"
    store = MemoryStore.create(path, ["a:1", "b:1", "c:1"], in_use=["b:1"], pinned=["c:1"])
    assert store.images() == ["a:1", "b:1", "c:1"]
    assert store.in_use() == {"b:1"}
    assert store.pinned() == {"c:1"}
    store.remove("a:1")
    # the file itself holds the new state, for a fresh reader too
    assert json.loads(path.read_text()) == {
        "images": ["b:1", "c:1"],
        "in_use": ["b:1"],
        "pinned": ["c:1"],
    }
    assert MemoryStore(path).images() == ["b:1", "c:1"]
    assert sorted(os.listdir(tmp_path)) == ["node.json"]  # no temporary files left


def test_memory_store_optional_fields_default_to_empty(tmp_path: Path) -> None:
    path = tmp_path / "node.json"
    path.write_text('{"images": ["x:1", "x:1"]}')
    store = MemoryStore(path)
    assert store.images() == ["x:1"]  # duplicates collapse
    assert store.in_use() == set()
    assert store.pinned() == set()


def test_memory_store_refuses_in_use_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "node.json"
    store = MemoryStore.create(path, ["a:1", "b:1"], in_use=["b:1"])
    before = path.read_bytes()
    with pytest.raises(
        RemovalError, match=r"^remove image b:1: in use by a container \(as b:1\)$"
    ) as info:
        store.remove("b:1")
    assert info.value.image == "b:1"
    with pytest.raises(RemovalError, match=r"remove image zzz:1: no such image"):
        store.remove("zzz:1")
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"not valid JSON at line 1 column 2"),
        ("[]", r"top level must be a JSON object .* not list"),
        ('{"in_use": []}', r"missing field 'images'"),
        ('{"images": [], "inuse": []}', r"unknown field 'inuse'"),
        ('{"images": "a:1"}', r"field 'images' must be a list of strings, not str"),
        ('{"images": ["a:1", 5]}', r"field 'images' item 1 must be a non-empty string, got 5"),
        ('{"images": [], "in_use": [""]}', r"field 'in_use' item 0 must be a non-empty string"),
        ('{"images": [], "pinned": {}}', r"field 'pinned' must be a list of strings, not dict"),
    ],
)
def test_memory_store_malformed_file_names_the_field(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "node.json"
    path.write_text(content)
    with pytest.raises(StoreSpecError, match=message) as info:
        MemoryStore(path)
    assert str(path) in str(info.value)


def test_memory_store_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreSpecError, match=r"file does not exist"):
        MemoryStore(tmp_path / "nope.json")


def test_memory_store_file_broken_after_open_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "node.json"
    store = MemoryStore.create(path, ["a:1"])
    path.write_text('{"images": 3}')
    with pytest.raises(StoreError, match=r"field 'images'"):
        store.images()
    with pytest.raises(RemovalError, match=r"field 'images'"):
        store.remove("a:1")


def test_memory_store_failed_rewrite_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "node.json"
    store = MemoryStore.create(path, ["a:1", "b:1"])
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(RemovalError, match=r"cannot rewrite .*No space left on device"):
        store.remove("a:1")
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["node.json"]


# --------------------------------------------------------------------------- open_store


def test_open_store_specs(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    path.write_text('{"images": []}')
    memory = open_store(f"memory:{path}")
    assert isinstance(memory, MemoryStore) and memory.path == path
    default = open_store("containerd")
    assert isinstance(default, ContainerdStore)
    assert default.socket == "/run/k3s/containerd/containerd.sock"
    assert default.namespace == "k8s.io"
    custom = open_store("containerd:/tmp/x.sock")
    assert isinstance(custom, ContainerdStore) and custom.socket == "/tmp/x.sock"
    crictl = open_store("crictl")
    assert isinstance(crictl, CrictlStore) and crictl.endpoint is None
    crictl2 = open_store("crictl:unix:///run/k3s/containerd/containerd.sock")
    assert isinstance(crictl2, CrictlStore)
    assert crictl2.endpoint == "unix:///run/k3s/containerd/containerd.sock"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("memory", r"memory needs a file"),
        ("memory:", r"memory needs a file"),
        ("containerd:", r"needs a socket path"),
        ("crictl:", r"needs an endpoint"),
        ("docker", r"unknown store 'docker'"),
    ],
)
def test_open_store_rejects_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(StoreSpecError, match=message) as info:
        open_store(spec)
    assert "--store" in str(info.value)


def test_run_command_missing_tool_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"command not found"):
        run_command([str(tmp_path / "no-such-crictl"), "images"])


# --------------------------------------------------------------------------- crictl


class FakeCrictl:
    """A command runner that answers like crictl from the recorded JSON outputs.

    ``rmi ID`` drops the whole image, every tag of it, as the CRI runtime does.
    """

    def __init__(self, node: str = "crictl_") -> None:
        """``node``: the prefix of the data files (``{node}images.json`` etc.)."""
        self.images: dict[str, Any] = json.loads((DATA / f"{node}images.json").read_text())
        self.ps: dict[str, Any] = json.loads((DATA / f"{node}ps.json").read_text())
        self.pods: dict[str, Any] = json.loads((DATA / f"{node}pods.json").read_text())
        self.inspectp: dict[str, Any] = json.loads((DATA / f"{node}inspectp.json").read_text())
        self.calls: list[list[str]] = []
        self.fail: dict[str, tuple[int, str, str]] = {}

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        self.calls.append(argv)
        args = argv[1:]
        while args and args[0] in ("--runtime-endpoint", "--image-endpoint"):
            args = args[2:]
        key = " ".join(args)
        if key in self.fail:
            rc, out, err = self.fail[key]
            return subprocess.CompletedProcess(argv, rc, out, err)
        if key == "images -o json":
            return subprocess.CompletedProcess(argv, 0, json.dumps(self.images), "")
        if key == "ps -a -o json":
            return subprocess.CompletedProcess(argv, 0, json.dumps(self.ps), "")
        if key == "pods -o json":
            return subprocess.CompletedProcess(argv, 0, json.dumps(self.pods), "")
        if args[:3] == ["inspectp", "-o", "json"] and len(args) == 4:
            if args[3] not in self.inspectp:
                err = f'time="..." level=fatal msg="getting the pod sandbox status for {args[3]}"\n'
                return subprocess.CompletedProcess(argv, 1, "", err)
            return subprocess.CompletedProcess(argv, 0, json.dumps(self.inspectp[args[3]]), "")
        if args[:1] == ["rmi"] and len(args) == 2:
            before = len(self.images["images"])
            self.images["images"] = [i for i in self.images["images"] if i["id"] != args[1]]
            if len(self.images["images"]) == before:
                err = f'time="..." level=fatal msg="no such image {args[1]}"\n'
                return subprocess.CompletedProcess(argv, 1, "", err)
            return subprocess.CompletedProcess(argv, 0, f"Deleted: {args[1]}\n", "")
        raise AssertionError(f"unexpected crictl call {argv}")

    def image_id(self, tag: str) -> str:
        for image in self.images["images"]:
            if tag in image["repoTags"]:
                return str(image["id"])
        raise KeyError(tag)


@pytest.fixture
def crictl() -> FakeCrictl:
    return FakeCrictl()


def test_crictl_reads_images_pinned_and_in_use(crictl: FakeCrictl) -> None:
    store = CrictlStore(runner=crictl)
    assert store.images() == [
        "registry.k8s.io/pause:3.6",
        "docker.io/rancher/harvester:v1.4.1",
        "docker.io/rancher/harvester:v1.5.0",
        "docker.io/rancher/harvester-webhook:v1.4.1",
        "docker.io/longhornio/longhorn-engine:v1.7.2",
        "docker.io/registry.suse.com/suse/sles/15.6/virt-operator:1.3.1",
        "my-mirror.local/suse/sles/15.6/virt-operator:1.3.1",
        "docker.io/rancher/harvester-upgrade:v1.4.1",
        "docker.io/rancher/harvester-upgrade:v1.5.0",
    ]
    assert store.pinned() == {"registry.k8s.io/pause:3.6"}
    # containers name images by ID; an exited container still holds its image
    assert store.in_use() == {
        "registry.k8s.io/pause:3.6",
        "docker.io/rancher/harvester:v1.5.0",
        "docker.io/rancher/harvester-webhook:v1.4.1",
    }
    assert crictl.calls[0] == ["crictl", "images", "-o", "json"]
    assert ["crictl", "ps", "-a", "-o", "json"] in crictl.calls
    assert ["crictl", "pods", "-o", "json"] in crictl.calls


# --------------------------------------------------------------------------- every use counts


PAUSE_36 = "docker.io/rancher/mirrored-pause:3.6"
PAUSE_37 = "docker.io/rancher/mirrored-pause:3.7"


def test_crictl_pause_image_of_a_ready_sandbox_stays() -> None:
    """Issue 9: previous list mirrored-pause:3.6, current 3.7, one READY sandbox runs 3.6
    and nothing is pinned; ``crictl ps -a`` lists no container for it (containerd)."""
    crictl = FakeCrictl("crictl_pause_")
    store = CrictlStore(runner=crictl)
    assert store.pinned() == set()
    assert store.in_use() == {PAUSE_36}
    decided = plan(
        [PAUSE_36, PAUSE_37],
        [PAUSE_37],
        present=store.images(),
        in_use=store.in_use(),
        pinned=store.pinned(),
        identity=store.identities(),
    )
    assert decided.delete == []
    assert [(k.image, k.reason) for k in decided.keep] == [
        (PAUSE_36, "in use by a container"),
        (PAUSE_37, "in current list"),
    ]
    with pytest.raises(RemovalError) as info:
        store.remove(PAUSE_36)  # the store refuses it too, on its own re-read
    assert info.value.image == PAUSE_36
    assert re.fullmatch(
        rf"in use by a container \(as {re.escape(PAUSE_36)}\): container pod 8b3c1f0a[0-9a-f]*",
        info.value.reason,
    ), info.value.reason
    assert not any(call[1] == "rmi" for call in crictl.calls)


def test_crictl_current_image_named_by_repo_digest_keeps_its_tag() -> None:
    """Issue 9, crictl: the "other tags stay" check looked at tags only.  The current
    list names the 3.6 image by its repo digest; its tag must not be removed."""
    crictl = FakeCrictl("crictl_pause_")
    crictl.pods = {"items": []}
    store = CrictlStore(runner=crictl)
    digest = crictl.images["images"][0]["repoDigests"][0]
    decided = plan(
        [PAUSE_36],
        [digest],
        present=store.images(),
        in_use=store.in_use(),
        pinned=store.pinned(),
        identity=store.identities(),
    )
    image_id = crictl.image_id(PAUSE_36)
    assert decided.delete == []
    assert decided.keep[0].reason == f"same image ({image_id}) as {digest} (current list)"


@pytest.mark.parametrize("state", ["SANDBOX_READY", "SANDBOX_NOTREADY"])
def test_crictl_every_sandbox_holds_its_image(state: str) -> None:
    crictl = FakeCrictl("crictl_pause_")
    for pod in crictl.pods["items"]:
        pod["state"] = state
    assert CrictlStore(runner=crictl).in_use() == {PAUSE_36}


def test_crictl_sandbox_without_an_image_is_a_store_error() -> None:
    """Not knowing a sandbox's image must stop the run, not be taken as 'no image'."""
    crictl = FakeCrictl("crictl_pause_")
    for doc in crictl.inspectp.values():
        del doc["info"]["image"]
    with pytest.raises(StoreError, match=r"crictl inspectp 8b3c1f0a.*no 'info.image'"):
        CrictlStore(runner=crictl).in_use()
    crictl.inspectp.clear()  # the pod went away between the two calls: still no guessing
    with pytest.raises(StoreError, match=r"crictl inspectp -o json 8b3c1f0a"):
        CrictlStore(runner=crictl).in_use()


def test_crictl_refuses_a_pinned_image_at_removal() -> None:
    crictl = FakeCrictl("crictl_pause_")
    crictl.pods = {"items": []}
    store = CrictlStore(runner=crictl)
    crictl.images["images"][0]["pinned"] = True  # pinned after the plan was made
    with pytest.raises(RemovalError) as info:
        store.remove(PAUSE_36)
    assert (info.value.image, info.value.reason) == (PAUSE_36, f"pinned (as {PAUSE_36})")
    assert not any(call[1] == "rmi" for call in crictl.calls)


def test_crictl_removes_one_image_by_id(crictl: FakeCrictl) -> None:
    store = CrictlStore(runner=crictl)
    image_id = crictl.image_id("docker.io/rancher/harvester:v1.4.1")
    store.remove("docker.io/rancher/harvester:v1.4.1")
    assert crictl.calls[-1] == ["crictl", "rmi", image_id]
    assert "docker.io/rancher/harvester:v1.4.1" not in store.images()
    with pytest.raises(RemovalError, match=r"no such image"):
        store.remove("docker.io/rancher/harvester:v1.4.1")


def test_crictl_refuses_an_image_an_exited_container_holds(crictl: FakeCrictl) -> None:
    store = CrictlStore(runner=crictl)
    image_id = crictl.image_id("docker.io/rancher/harvester-webhook:v1.4.1")
    with pytest.raises(RemovalError) as info:
        store.remove("docker.io/rancher/harvester-webhook:v1.4.1")
    # the container names the image by its ID: the same image, and which container
    assert re.fullmatch(
        rf"same image \({image_id}\) as one in use by a container \(as {image_id}\): "
        r"container [0-9a-f]{64}",
        info.value.reason,
    ), info.value.reason
    assert not any(call[1] == "rmi" for call in crictl.calls)


def test_crictl_never_takes_a_sibling_tag_that_stays(crictl: FakeCrictl) -> None:
    store = CrictlStore(runner=crictl)
    store.plan_removal(["docker.io/rancher/harvester-upgrade:v1.4.1"])
    with pytest.raises(
        RemovalError, match=r"also tagged docker.io/rancher/harvester-upgrade:v1.5.0"
    ):
        store.remove("docker.io/rancher/harvester-upgrade:v1.4.1")
    assert "docker.io/rancher/harvester-upgrade:v1.5.0" in store.images()
    assert not any(call[1] == "rmi" for call in crictl.calls)


def test_crictl_removes_an_image_when_all_its_tags_go(crictl: FakeCrictl) -> None:
    old = "docker.io/registry.suse.com/suse/sles/15.6/virt-operator:1.3.1"
    mirror = "my-mirror.local/suse/sles/15.6/virt-operator:1.3.1"
    store = CrictlStore(runner=crictl)
    with pytest.raises(RemovalError, match=r"also tagged my-mirror.local"):
        store.remove(old)  # nothing announced: the sibling tag would go unasked
    store.plan_removal([old, mirror])
    store.remove(old)
    store.remove(mirror)  # already gone with the same image: fine
    rmis = [call for call in crictl.calls if call[1] == "rmi"]
    assert len(rmis) == 1
    assert old not in store.images() and mirror not in store.images()


def test_crictl_endpoint_flags(crictl: FakeCrictl) -> None:
    store = CrictlStore(endpoint="unix:///run/k3s/containerd/containerd.sock", runner=crictl)
    store.images()
    assert crictl.calls[0] == [
        "crictl",
        "--runtime-endpoint",
        "unix:///run/k3s/containerd/containerd.sock",
        "--image-endpoint",
        "unix:///run/k3s/containerd/containerd.sock",
        "images",
        "-o",
        "json",
    ]


def test_crictl_failures(crictl: FakeCrictl) -> None:
    store = CrictlStore(runner=crictl)
    crictl.fail["images -o json"] = (
        1,
        "",
        'time="x" level=fatal msg="validate service connection: connection refused"\n',
    )
    with pytest.raises(StoreError, match=r"crictl images -o json: .*connection refused"):
        store.images()
    crictl.fail["images -o json"] = (0, "IMAGE TAG\n", "")
    with pytest.raises(StoreError, match=r"output is not JSON"):
        store.images()
    crictl.fail["images -o json"] = (0, '{"images": [{"repoTags": []}]}', "")
    with pytest.raises(StoreError, match=r"images\[0\]: missing string field 'id'"):
        store.images()
    crictl.fail["images -o json"] = (0, '{"images": [{"id": "x", "repoTags": "a"}]}', "")
    with pytest.raises(StoreError, match=r"field 'repoTags' must be a list of strings"):
        store.images()
    crictl.fail["images -o json"] = (0, "{}", "")
    assert store.images() == []


def test_crictl_rmi_failure_is_a_removal_error(crictl: FakeCrictl) -> None:
    image_id = crictl.image_id("docker.io/longhornio/longhorn-engine:v1.7.2")
    crictl.fail[f"rmi {image_id}"] = (1, "", 'level=fatal msg="image is locked"\n')
    store = CrictlStore(runner=crictl)
    with pytest.raises(RemovalError, match=r"crictl rmi sha256:[0-9a-f]+: .*image is locked"):
        store.remove("docker.io/longhornio/longhorn-engine:v1.7.2")


def test_crictl_recorded_data_is_unchanged_by_tests(crictl: FakeCrictl) -> None:
    # the fake mutates its own copy only
    pristine = json.loads((DATA / "crictl_images.json").read_text())
    CrictlStore(runner=crictl).remove("docker.io/rancher/harvester:v1.4.1")
    assert json.loads((DATA / "crictl_images.json").read_text()) == pristine
    assert copy.deepcopy(pristine) != crictl.images


# --------------------------------------------------------------------------- ctr parsing


class RecordedCtr:
    """Answers ``ctr images ls`` / ``ctr containers ls`` from real recorded outputs."""

    def __init__(self) -> None:
        listing = (DATA / "ctr_images_ls.txt").read_text()
        self.outputs = {
            "images ls": listing,
            # ``-q`` prints each record's name alone (ctr: fmt.Println(image.Name))
            "images ls -q": "".join(line.split()[0] + "\n" for line in listing.splitlines()[1:]),
            "containers ls": (DATA / "ctr_containers_ls.txt").read_text(),
        }
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        self.calls.append(argv)
        assert argv[:7] == [
            "ctr",
            "--address",
            "/run/test.sock",
            "--connect-timeout",
            "10s",
            "-n",
            "k8s.io",
        ]
        key = " ".join(argv[7:])
        if key in self.outputs:
            return subprocess.CompletedProcess(argv, 0, self.outputs[key], "")
        if argv[7:9] == ["images", "rm"]:
            return subprocess.CompletedProcess(argv, 0, argv[9] + "\n", "")
        raise AssertionError(f"unexpected ctr call {argv}")


def test_ctr_recorded_outputs_parse() -> None:
    ctr = RecordedCtr()
    store = ContainerdStore("/run/test.sock", runner=ctr)
    images = store.images()
    assert "docker.io/rancher/harvester:v1.4.1" in images
    assert not any(i.startswith("sha256:") for i in images)
    assert store.in_use() == {"docker.io/rancher/harvester:v1.5.0"}
    assert store.pinned() == {"registry.k8s.io/pause:3.6"}


def test_ctr_removal_checks_containers_and_aliases() -> None:
    ctr = RecordedCtr()
    store = ContainerdStore("/run/test.sock", runner=ctr)
    with pytest.raises(
        RemovalError,
        match=r"^remove image docker.io/rancher/harvester:v1.5.0: in use by a container "
        r"\(as docker.io/rancher/harvester:v1.5.0\): container harvester-",
    ):
        store.remove("docker.io/rancher/harvester:v1.5.0")
    with pytest.raises(RemovalError, match=r"no such image"):
        store.remove("docker.io/rancher/nope:v1")
    store.remove("docker.io/rancher/harvester:v1.4.1")
    removed = [call[9] for call in ctr.calls if call[7:9] == ["images", "rm"]]
    # the only tag of its manifest: its digest alias and image ID go too, nothing else
    assert removed == [
        "docker.io/rancher/harvester:v1.4.1",
        "docker.io/rancher/harvester@sha256:"
        "27bffe019bd99f5ba1a87048615cdee2971ef4c41adcb08b47c4752d0a848982",
        "sha256:c009aa8631ff470285861114de8954580350df79a1dc3e0a784d32959e51c1e8",
    ]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("REF TYPE\nweird line\n", r"unexpected header 'REF TYPE'"),
        (
            "REF TYPE DIGEST SIZE PLATFORMS LABELS\nweird line\n",
            r"cannot parse line 2: 'weird line'",
        ),
    ],
)
def test_ctr_unparseable_output(output: str, message: str) -> None:
    def runner(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(argv), 0, output, "")

    with pytest.raises(StoreError, match=message):
        ContainerdStore("/s", runner=runner).images()


def test_ctr_unreachable_socket_is_a_store_error() -> None:
    def runner(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        err = (
            'ctr: failed to dial "/s": context deadline exceeded: connection error: '
            'desc = "transport: error while dialing: dial unix /s: connect: no such file"\n'
        )
        return subprocess.CompletedProcess(list(argv), 1, "", err)

    with pytest.raises(StoreError, match=r"containerd at /s.*failed to dial"):
        ContainerdStore("/s", runner=runner).in_use()


@pytest.mark.parametrize(
    "spelling", ["sha256:" + "b" * 64, "b" * 64, "rancher/foo@sha256:" + "b" * 64]
)
@pytest.mark.parametrize("field", ["in_use", "pinned"])
def test_memory_store_refuses_an_image_in_use_or_pinned_by_its_id(
    tmp_path: Path, spelling: str, field: str
) -> None:
    """Review of issue 9: the re-check under the lock looked at names only, so an image
    marked in use by its ID after the plan was made would still be removed."""
    ident = "sha256:" + "b" * 64
    path = tmp_path / "node.json"
    store = MemoryStore.create(
        path, ["docker.io/rancher/foo:v1"], ids={"docker.io/rancher/foo:v1": ident}
    )
    # another writer, after the plan
    store.update(
        in_use=[spelling] if field == "in_use" else [],
        pinned=[spelling] if field == "pinned" else [],
    )
    why = "in use by a container" if field == "in_use" else "pinned"
    with pytest.raises(RemovalError) as info:
        store.remove("docker.io/rancher/foo:v1")
    assert info.value.image == "docker.io/rancher/foo:v1"
    assert info.value.reason == f"same image ({ident}) as one {why} (as {spelling})"
    assert store.images() == ["docker.io/rancher/foo:v1"]


@pytest.mark.parametrize(
    "spelling", ["sha256:" + "d" * 64, "d" * 64, "rancher/other@sha256:" + "d" * 64]
)
@pytest.mark.parametrize("field", ["in_use", "pinned"])
def test_memory_store_refuses_an_image_whose_id_another_marked_name_spells_otherwise(
    tmp_path: Path, spelling: str, field: str
) -> None:
    """Issue 12: the store's own loop compared ``ids`` in any spelling; the one rule
    (``staying_because``) does too.  ``ids`` gives the marked name the removed image's
    identity spelt another way (bare hex, ``name@sha256:``): it stays, and nothing is
    removed."""
    ident = "sha256:" + "d" * 64
    path = tmp_path / "node.json"
    images = ["docker.io/rancher/foo:v1", "docker.io/rancher/bar:v1"]
    ids = {images[0]: ident, images[1]: spelling}
    store = MemoryStore.create(path, images, ids=ids)
    store.update(
        in_use=[images[1]] if field == "in_use" else [],
        pinned=[images[1]] if field == "pinned" else [],
    )
    before = path.read_bytes()
    why = "in use by a container" if field == "in_use" else "pinned"
    with pytest.raises(RemovalError) as info:
        store.remove(images[0])
    assert info.value.image == images[0]
    assert info.value.reason == f"same image ({ident}) as one {why} (as {images[1]})"
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("node", "marked", "ids"),
    [
        # the Docker Hub spellings of one image (distribution/reference normalises them)
        ("docker.io/rancher/foo:v1", "rancher/foo:v1", {}),
        ("docker.io/library/busybox:latest", "busybox", {}),
        ("docker.io/rancher/foo:v1", "index.docker.io/rancher/foo:v1", {}),
        # another name of the same content: the marked spelling names a node image
        # whose identity the removed one shares
        (
            "docker.io/rancher/foo:v1",
            "rancher/bar:v2",
            {
                "docker.io/rancher/foo:v1": "sha256:" + "c" * 64,
                "docker.io/rancher/bar:v2": "sha256:" + "c" * 64,
            },
        ),
    ],
)
@pytest.mark.parametrize("field", ["in_use", "pinned"])
def test_memory_store_refuses_an_image_in_use_or_pinned_under_another_spelling(
    tmp_path: Path, node: str, marked: str, ids: dict[str, str], field: str
) -> None:
    """Issue 11 (a concurrent writer in the property suite's worlds): the re-check under
    the lock compared the exact text only, so a container started from ``rancher/foo:v1``
    after the plan was made did not stop the removal of ``docker.io/rancher/foo:v1``,
    which the plan itself keeps as in use.  The re-check now applies the plan's rules."""
    images = [node, *(name for name in ids if name != node)]
    path = tmp_path / "node.json"
    store = MemoryStore.create(path, images, ids=ids)
    assert [p.image for p in plan([node], [], present=images).delete] == [node]
    store.update(  # another writer, after the plan
        in_use=[marked] if field == "in_use" else [],
        pinned=[marked] if field == "pinned" else [],
    )
    kept = plan(
        [node], [], present=images, in_use=store.in_use(), pinned=store.pinned(),
        identity=store.identities(),
    )  # fmt: skip
    assert not kept.delete, "the plan keeps it: so must the removal"
    with pytest.raises(RemovalError, match=rf"\(as {re.escape(marked)}\)"):
        store.remove(node)
    assert node in store.images()


def test_memory_store_removes_an_image_another_registry_names_by_its_short_name(
    tmp_path: Path,
) -> None:
    """The re-check compares full references: a container started from
    ``mirror.example/foo:v1`` runs that image, not ``docker.io/rancher/foo:v1`` (the
    same only by the lists' short ``name:tag`` match, which a plan in mode ``full``
    does not apply), so it does not stop that removal."""
    path = tmp_path / "node.json"
    store = MemoryStore.create(path, ["docker.io/rancher/foo:v1", "mirror.example/foo:v1"])
    store.update(in_use=["mirror.example/foo:v1"])
    store.remove("docker.io/rancher/foo:v1")
    assert store.images() == ["mirror.example/foo:v1"]

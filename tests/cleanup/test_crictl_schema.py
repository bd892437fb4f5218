"""The crictl fixtures (``tests/cleanup/data/crictl_*.json``) follow crictl's JSON schema.

crictl is not packaged on Debian (``apt-cache search cri-tools crictl``: nothing on
Debian 12, checked again for issue 9), so ``CrictlStore`` is tested on outputs built from
the schema crictl prints, never on a live CRI runtime.  The schema, from its sources:

- crictl prints ``-o json`` with ``protobufObjectToJSON`` (cri-tools
  ``cmd/crictl/util.go``): ``protojson.MarshalOptions{EmitDefaultValues: true,
  Indent: "  "}`` of the CRI response message.  So: field names are the proto fields'
  lowerCamelCase JSON names; every field is present (defaults too, an unset message is
  ``null``); 64-bit integers are JSON *strings*; enums are their value *names*.
- the messages are CRI's (``k8s.io/cri-api``, ``pkg/apis/runtime/v1/api.proto``):
  ``ListImagesResponse{images: [Image]}``, ``ListContainersResponse{containers:
  [Container]}``, ``ListPodSandboxResponse{items: [PodSandbox]}``;
  ``crictl inspectp -o json`` prints ``{"status": PodSandboxStatus, "info": {...}}``
  (``outputStatusData``), containerd's ``info`` carrying the sandbox image as
  ``info.image`` (containerd ``pkg/cri/server/sandbox_status.go``).

The field sets below are api.proto's (kubernetes/cri-api at 791729b, 2026-07).  Fields
added to CRI after crictl 1.28 (the fixtures' version: ``pinned`` is there) may be absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"

#: message -> {json name: kind}; kinds: str, bool, int64 (a JSON string of digits),
#: uint32 (a JSON number), strings (list), map (object of strings), enum:NAME, msg:NAME
#: (an object or null), and "later" marks a field newer than crictl 1.28.
SCHEMA: dict[str, dict[str, str]] = {
    "Image": {
        "id": "str",
        "repoTags": "strings",
        "repoDigests": "strings",
        "size": "int64",
        "uid": "msg:Int64Value",
        "username": "str",
        "spec": "msg:ImageSpec",
        "pinned": "bool",
    },
    "Container": {
        "id": "str",
        "podSandboxId": "str",
        "metadata": "msg:ContainerMetadata",
        "image": "msg:ImageSpec",
        "imageRef": "str",
        "state": "enum:ContainerState",
        "createdAt": "int64",
        "labels": "map",
        "annotations": "map",
        "imageId": "later:str",
    },
    "PodSandbox": {
        "id": "str",
        "metadata": "msg:PodSandboxMetadata",
        "state": "enum:PodSandboxState",
        "createdAt": "int64",
        "labels": "map",
        "annotations": "map",
        "runtimeHandler": "str",
    },
    "PodSandboxStatus": {
        "id": "str",
        "metadata": "msg:PodSandboxMetadata",
        "state": "enum:PodSandboxState",
        "createdAt": "int64",
        "network": "msg:PodSandboxNetworkStatus",
        "linux": "msg:LinuxPodSandboxStatus",
        "labels": "map",
        "annotations": "map",
        "runtimeHandler": "str",
    },
    "PodSandboxMetadata": {"name": "str", "uid": "str", "namespace": "str", "attempt": "uint32"},
    "ContainerMetadata": {"name": "str", "attempt": "uint32"},
    "ImageSpec": {
        "image": "str",
        "annotations": "map",
        "userSpecifiedImage": "later:str",
        "runtimeHandler": "later:str",
        "imageRef": "later:str",
    },
    "Int64Value": {"value": "int64"},
}

ENUMS = {
    "ContainerState": {
        "CONTAINER_CREATED",
        "CONTAINER_RUNNING",
        "CONTAINER_EXITED",
        "CONTAINER_UNKNOWN",
    },
    "PodSandboxState": {"SANDBOX_READY", "SANDBOX_NOTREADY"},
}


def check(message: str, value: Any, where: str) -> None:
    fields = SCHEMA[message]
    assert isinstance(value, dict), where
    unknown = set(value) - set(fields)
    assert not unknown, f"{where}: not fields of CRI {message}: {sorted(unknown)}"
    for name, kind in fields.items():
        here = f"{where}.{name}"
        later = kind.startswith("later:")
        kind = kind.removeprefix("later:")
        if name not in value:
            # EmitDefaultValues prints every field crictl's CRI version knows
            assert later, f"{here}: missing (crictl prints every field)"
            continue
        item = value[name]
        if kind == "str":
            assert isinstance(item, str), here
        elif kind == "bool":
            assert isinstance(item, bool), here
        elif kind == "int64":  # protojson prints 64-bit integers as strings
            assert isinstance(item, str) and re.fullmatch(r"-?\d+", item), here
        elif kind == "uint32":
            assert isinstance(item, int) and not isinstance(item, bool) and item >= 0, here
        elif kind == "strings":
            assert isinstance(item, list) and all(isinstance(s, str) for s in item), here
        elif kind == "map":
            assert isinstance(item, dict), here
            assert all(isinstance(v, str) for v in item.values()), here
        elif kind.startswith("enum:"):
            assert item in ENUMS[kind[5:]], f"{here}: {item!r} is not an enum name"
        elif kind.startswith("msg:"):
            sub = kind[4:]
            if item is not None and sub in SCHEMA:
                check(sub, item, here)
            else:
                assert item is None or isinstance(item, dict), here
        else:  # pragma: no cover - a kind this table does not use
            raise AssertionError(kind)


LISTS = [
    ("crictl_images.json", "images", "Image"),
    ("crictl_pause_images.json", "images", "Image"),
    ("crictl_ps.json", "containers", "Container"),
    ("crictl_pause_ps.json", "containers", "Container"),
    ("crictl_pods.json", "items", "PodSandbox"),
    ("crictl_pause_pods.json", "items", "PodSandbox"),
]


@pytest.mark.parametrize(("name", "key", "message"), LISTS)
def test_list_fixtures_are_crictl_json(name: str, key: str, message: str) -> None:
    doc = json.loads((DATA / name).read_text())
    assert list(doc) == [key], f"{name}: crictl prints one field, {key!r}"
    for i, item in enumerate(doc[key]):
        check(message, item, f"{name}:{key}[{i}]")


@pytest.mark.parametrize("name", ["crictl_inspectp.json", "crictl_pause_inspectp.json"])
def test_inspectp_fixtures_are_crictl_json(name: str) -> None:
    by_id = json.loads((DATA / name).read_text())
    for sandbox_id, doc in by_id.items():
        assert set(doc) >= {"status", "info"}, name
        check("PodSandboxStatus", doc["status"], f"{name}:{sandbox_id}.status")
        assert doc["status"]["id"] == sandbox_id
        assert isinstance(doc["info"].get("image"), str) and doc["info"]["image"], name


def test_the_schema_check_catches_a_hand_written_shape() -> None:
    """What the check is for: shapes that are not crictl's."""
    good = json.loads((DATA / "crictl_images.json").read_text())["images"][0]
    for bad in (
        {**good, "size": 1020480},  # a uint64 as a number: protojson prints a string
        {**good, "repo_tags": good["repoTags"]},  # proto names, not JSON names
        {k: v for k, v in good.items() if k != "username"},  # defaults are printed
    ):
        with pytest.raises(AssertionError):
            check("Image", bad, "bad")

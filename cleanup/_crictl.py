"""The CRI store: the node's runtime through ``crictl`` (``--store crictl[:ENDPOINT]``).

CRI removes an image with *all* its tags, so the store refuses to remove a tag whose
image carries another tag that is not being removed too; otherwise deleting an old tag
could take a current image with it.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from cleanup._images import is_image_id
from cleanup._store import (
    CommandRunner,
    RemovalError,
    StoreError,
    _failure_text,
    held_back,
    run_command,
)

__all__ = ["CrictlStore"]


@dataclass(frozen=True)
class _CriImage:
    id: str
    tags: list[str]
    digests: list[str]
    pinned: bool


class CrictlStore:
    """The node's CRI runtime through ``crictl`` with JSON output.

    ``crictl images -o json`` for images (their ``repoTags``; ``pinned`` where the
    runtime reports it), ``crictl ps -a -o json`` for the images of all containers,
    ``crictl pods -o json`` and ``crictl inspectp -o json ID`` for the image of every pod
    sandbox (the pause image: on containerd, ``crictl ps -a`` does not list sandboxes,
    and their image is only in the sandbox's verbose ``info.image``), ``crictl rmi ID``
    to remove.  A sandbox, ready or not, holds its image as a container does.  CRI
    removes an image with every tag it has, so a tag is only removed when all other
    tags of its image are being removed too (announced with :meth:`plan_removal`);
    otherwise it is reported as not removable.
    """

    def __init__(
        self,
        crictl: str = "crictl",
        endpoint: str | None = None,
        *,
        runner: CommandRunner | None = None,
    ) -> None:
        self.crictl = crictl
        self.endpoint = endpoint
        self._run: CommandRunner = runner or run_command
        self._going: set[str] = set()
        self._removed_with: dict[str, str] = {}  # sibling tag -> the tag whose rmi took it

    def __repr__(self) -> str:
        return f"CrictlStore(endpoint={self.endpoint!r})"

    def _argv(self, *args: str) -> list[str]:
        argv = [self.crictl]
        if self.endpoint:
            argv += ["--runtime-endpoint", self.endpoint, "--image-endpoint", self.endpoint]
        return argv + list(args)

    def _json(self, *args: str) -> dict[str, Any]:
        what = "crictl " + " ".join(args)
        proc = self._run(self._argv(*args))
        if proc.returncode != 0:
            raise StoreError(f"{what}: {_failure_text(proc)}")
        try:
            doc = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise StoreError(
                f"{what}: output is not JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
            ) from exc
        if not isinstance(doc, dict):
            raise StoreError(f"{what}: output must be a JSON object")
        return doc

    def _images(self) -> list[_CriImage]:
        doc = self._json("images", "-o", "json")
        items = _json_list(doc, "images", "crictl images")
        images = []
        for i, item in enumerate(items):
            where = f"crictl images: images[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise StoreError(f"{where}: missing string field 'id'")
            tags = _json_strings(item, "repoTags", where)
            digests = _json_strings(item, "repoDigests", where)
            images.append(_CriImage(item["id"], tags, digests, item.get("pinned") is True))
        return images

    def images(self) -> list[str]:
        return [tag for image in self._images() for tag in image.tags]

    def pinned(self) -> set[str]:
        return {tag for image in self._images() if image.pinned for tag in image.tags}

    def _container_refs(self) -> dict[str, set[str]]:
        """Container ID -> every reference it names its image by (ID, tag, digest)."""
        doc = self._json("ps", "-a", "-o", "json")
        refs: dict[str, set[str]] = {}
        for i, item in enumerate(_json_list(doc, "containers", "crictl ps")):
            where = f"crictl ps: containers[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise StoreError(f"{where}: missing string field 'id'")
            names = set()
            for key in ("imageRef", "imageId"):
                if isinstance(item.get(key), str) and item[key]:
                    names.add(item[key])
            spec = item.get("image")
            if isinstance(spec, dict) and isinstance(spec.get("image"), str) and spec["image"]:
                names.add(spec["image"])
            if not names:
                raise StoreError(f"{where}: names no image (no 'imageRef' or 'image.image')")
            refs[item["id"]] = names
        return refs

    def _sandbox_refs(self) -> dict[str, set[str]]:
        """Pod sandbox ID -> the image it runs (``info.image`` of ``crictl inspectp``).

        Raises :class:`StoreError` when a sandbox's image cannot be found: an unknown
        pause image could be the one we are about to delete.
        """
        doc = self._json("pods", "-o", "json")
        refs: dict[str, set[str]] = {}
        for i, item in enumerate(_json_list(doc, "items", "crictl pods")):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise StoreError(f"crictl pods: items[{i}]: missing string field 'id'")
            pod = item["id"]
            status = self._json("inspectp", "-o", "json", pod)
            info = status.get("info")
            image = info.get("image") if isinstance(info, dict) else None
            if not isinstance(image, str) or not image:
                raise StoreError(
                    f"crictl inspectp {pod}: no 'info.image' (the sandbox image); "
                    "cannot tell which image the pod sandbox uses"
                )
            refs["pod " + pod] = {image}
        return refs

    def _users_refs(self) -> dict[str, set[str]]:
        return {**self._container_refs(), **self._sandbox_refs()}

    @staticmethod
    def _users(image: _CriImage, containers: dict[str, set[str]]) -> list[str]:
        names = {image.id, *image.tags, *image.digests}
        return sorted(cid for cid, refs in containers.items() if refs & names)

    def identities(self) -> dict[str, str]:
        """Every tag, ``name@digest`` and ID of an image -> the image ID."""
        return _identities(self._images())

    def in_use(self) -> set[str]:
        containers = self._users_refs()
        used: set[str] = set()
        for image in self._images():
            if self._users(image, containers):
                used.update(image.tags)
        for refs in containers.values():  # images already gone still name what is in use
            used.update(r for r in refs if not is_image_id(r))
        return used

    def plan_removal(self, images: Collection[str]) -> None:
        """Announce every tag this run will remove (see the class docstring)."""
        self._going = set(images)

    def remove(self, image: str) -> None:
        try:
            images = self._images()
            containers = self._users_refs()
        except StoreError as exc:
            raise RemovalError(image, str(exc)) from exc
        found = next((i for i in images if image in i.tags), None)
        if found is None:
            if image in self._removed_with:
                return  # went with its sibling tag: one CRI image, one rmi
            raise RemovalError(image, "no such image")
        kept = held_back(
            image,
            users=containers,
            pinned=[n for i in images if i.pinned for n in (i.id, *i.tags, *i.digests)],
            identity=_identities(images),
        )
        if kept is not None:
            raise RemovalError(image, kept)
        staying = [t for t in found.tags if t != image and t not in self._going]
        if staying:
            raise RemovalError(
                image,
                f"image {found.id} is also tagged {', '.join(staying)}, which is not being "
                "removed; crictl rmi would remove every tag, so it was left in place",
            )
        proc = self._run(self._argv("rmi", found.id))
        if proc.returncode != 0:
            raise RemovalError(image, f"crictl rmi {found.id}: {_failure_text(proc)}")
        for tag in found.tags:
            if tag != image:
                self._removed_with[tag] = image


def _identities(images: list[_CriImage]) -> dict[str, str]:
    """Every tag, ``name@digest`` and ID of ``images`` -> its image ID."""
    return {name: image.id for image in images for name in (image.id, *image.tags, *image.digests)}


def _json_list(doc: dict[str, Any], field: str, what: str) -> list[Any]:
    value = doc.get(field)
    if value is None:
        return []  # crictl prints {} / null lists when there is nothing
    if not isinstance(value, list):
        raise StoreError(f"{what}: field {field!r} must be a list, not {type(value).__name__}")
    return value


def _json_strings(item: dict[str, Any], field: str, where: str) -> list[str]:
    value = item.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StoreError(f"{where}: field {field!r} must be a list of strings")
    return list(value)

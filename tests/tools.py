"""Debian tools the tests use as independent peers (dig, dnsperf, dnsmasq, containerd).

The test setup installs a missing tool with apt when it runs as root (as CI does on
a fresh machine); otherwise the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

import pytest

# executable -> Debian package that ships it
PACKAGES = {
    "dig": "bind9-dnsutils",
    "dnsperf": "dnsperf",
    "dnsmasq": "dnsmasq-base",
    "containerd": "containerd",
    "ctr": "containerd",
}

_apt_updated = False


def _apt_install(package: str) -> str | None:
    """Install ``package``; return None on success, else why it failed."""
    global _apt_updated
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        if not _apt_updated:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300)
            _apt_updated = True
        proc = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"apt-get install {package} failed: {exc}"
    if proc.returncode != 0:
        return f"apt-get install {package} failed: {proc.stderr.strip()[-300:]}"
    return None


@functools.cache
def find_tool(name: str) -> tuple[str | None, str]:
    """Return (path, reason): the tool's path, or None and why it is unavailable."""
    path = shutil.which(name)
    if path:
        return path, ""
    package = PACKAGES.get(name, name)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, f"{name} is not installed (Debian package {package}); run as root to install"
    failure = _apt_install(package)
    path = shutil.which(name)
    if path:
        return path, ""
    return None, failure or f"{name} still missing after installing {package}"


def require_tool(name: str) -> str:
    """The tool's path, installing it if possible; skips the calling test otherwise."""
    path, reason = find_tool(name)
    if path is None:
        pytest.skip(reason)
    return path

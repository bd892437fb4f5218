"""Running the Go probe with a case's resolv.conf, in a private mount namespace.

Go's pure resolver reads its search list, ndots and options only from /etc/resolv.conf
(``net/dnsconfig_unix.go``: ``dnsReadConfig("/etc/resolv.conf")``), its lookup order from
/etc/nsswitch.conf and static names from /etc/hosts.  To give it a case's configuration
without touching the machine's, the probe runs under ``unshare --mount --propagation
private`` with the case's files bind-mounted over those three (``hosts: files dns`` and
a hosts file naming only localhost, so no host entry can answer for a case's name).  As
root that is enough; otherwise a user namespace (``unshare --user --map-root-user``)
gives the mount rights.  :func:`sandbox_status` says which works, or exactly why none.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SandboxStatus", "run_with_resolv_conf", "sandbox_status"]

HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
NSSWITCH = "hosts: files dns\n"

# $1 resolv.conf, $2 hosts, $3 nsswitch.conf, then the command.
_SCRIPT = (
    'mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/hosts && '
    '{ [ ! -e /etc/nsswitch.conf ] || mount --bind "$3" /etc/nsswitch.conf; } && '
    'shift 3 && exec "$@"'
)


# A clean environment: HTTP_PROXY & co would send Go's client to a proxy (ours ignores
# them: trust_env=False), GODEBUG=netdns=... would change Go's resolver.
_ENV = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"}


@dataclass(frozen=True)
class SandboxStatus:
    """``prefix`` is the unshare command to use, or empty with ``reason`` saying why."""

    prefix: tuple[str, ...]
    reason: str

    @property
    def available(self) -> bool:
        return bool(self.prefix)


def _prefixes() -> list[tuple[str, ...]]:
    root = ("unshare", "--mount", "--propagation", "private", "--")
    user = ("unshare", "--user", "--map-root-user", "--mount", "--propagation", "private", "--")
    return [root, user] if os.geteuid() == 0 else [user]


@functools.cache
def sandbox_status() -> SandboxStatus:
    """Which namespace recipe can bind-mount over /etc/resolv.conf here (cached per process)."""
    if shutil.which("unshare") is None:
        return SandboxStatus((), "unshare(1) is not installed (util-linux)")
    if not Path("/etc/resolv.conf").exists() or not Path("/etc/hosts").exists():
        return SandboxStatus((), "/etc/resolv.conf or /etc/hosts is missing: nothing to mount over")
    failures: list[str] = []
    for prefix in _prefixes():
        try:
            done = _run(prefix, "nameserver 127.0.0.1\n", ["/bin/cat", "/etc/resolv.conf"], 30.0)
        except (OSError, subprocess.SubprocessError) as exc:
            failures.append(f"{' '.join(prefix[:3])}: {exc}")
            continue
        if done.returncode == 0 and done.stdout == "nameserver 127.0.0.1\n":
            return SandboxStatus(prefix, "")
        failures.append(f"{' '.join(prefix[:4])}: {done.stderr.strip() or done.returncode}")
    return SandboxStatus((), "no private mount namespace: " + "; ".join(failures))


def _run(
    prefix: Sequence[str],
    resolv_conf: str,
    command: Sequence[str],
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="retrylab-ns-") as tmp:
        files = []
        for name, text in (("resolv.conf", resolv_conf), ("hosts", HOSTS), ("nss", NSSWITCH)):
            path = Path(tmp) / name
            path.write_bytes(text.encode("utf-8", "surrogateescape"))
            files.append(str(path))
        return subprocess.run(
            [*prefix, "/bin/sh", "-c", _SCRIPT, "sh", *files, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**_ENV, **(env or {})},
        )


def run_with_resolv_conf(
    resolv_conf: str,
    command: Sequence[str],
    timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` seeing ``resolv_conf`` (text) as /etc/resolv.conf, in a clean
    environment plus ``env``.

    Raises ``RuntimeError`` with the reason when no namespace recipe works, and
    ``subprocess.TimeoutExpired`` after ``timeout`` seconds.
    """
    status = sandbox_status()
    if not status.available:
        raise RuntimeError(status.reason)
    return _run(status.prefix, resolv_conf, command, timeout, env)

"""Running a command that sees its own /etc/resolv.conf, in a private mount namespace.

Every system resolver reads its nameservers, search list, ndots and options from
/etc/resolv.conf (glibc ``resolv/res_init.c``, Go's ``net/dnsconfig_unix.go``, musl's
``resolvconf.c``, Java's ``ResolverConfigurationImpl``), its lookup order from
/etc/nsswitch.conf (glibc, Go) and static names from /etc/hosts.  To give one command a
configuration without touching the machine's, the command runs under ``unshare --mount
--propagation private`` with our files bind-mounted over those three: ``hosts: files
dns`` (so no NSS module such as nss-resolve, mdns or myhostname answers first) and a
hosts file naming only localhost.  nscd's socket, when there is one, is hidden too:
glibc would otherwise ask the machine's cache before reading our resolv.conf.

As root the mount namespace is enough; otherwise a user namespace (``unshare --user
--map-root-user``) gives the mount rights, and ``--net`` adds a network namespace when
the caller needs to bind port 53 (the command then sees only its own loopback).  The
mounts live in the namespace and vanish with its last process: the machine's files are
never written, however the command or its parent dies.  :func:`sandbox_status` says
which recipe works here, or exactly why none does.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "HOSTS",
    "NSSWITCH",
    "SandboxStatus",
    "namespace_prefix",
    "probe_prefix",
    "run_with_resolv_conf",
    "sandbox_status",
    "sandboxed",
]

#: The /etc/hosts a sandboxed command sees: localhost only, so no name of the machine's
#: answers before DNS does.
HOSTS = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
#: The /etc/nsswitch.conf a sandboxed command sees: the hosts file, then DNS, and no NSS
#: module (nss-resolve, mdns, myhostname) in between.
NSSWITCH = "hosts: files dns\n"

# $1 the directory holding our files (removed once mounted, so nothing is left in /tmp
# even if our parent is killed), $2 resolv.conf, $3 hosts, $4 nsswitch.conf, $5 the
# parent-death wrapper or "" ; then the command.  The files are copied to a tmpfs of
# the namespace's own and bound from there; the tmpfs is then detached (umount -l),
# kept alive by the binds.  Bound straight from $1, the files would be deleted under
# the binds, and the kernel refuses to mount on a deleted file (ENOENT): a CMD that
# gives its own children another resolv.conf (a nested `faultdns run`, a test suite
# using `faultdns run`) could not.
_SCRIPT = (
    'm="$1/m" && mkdir "$m" && mount -t tmpfs -o mode=0755,size=1m faultdns "$m" && '
    'cp -p "$2" "$3" "$4" "$m/" && '
    'mount --bind "$m/${2##*/}" /etc/resolv.conf && mount --bind "$m/${3##*/}" /etc/hosts && '
    '{ [ ! -e /etc/nsswitch.conf ] || mount --bind "$m/${4##*/}" /etc/nsswitch.conf; } && '
    "for s in /run/nscd/socket /var/run/nscd/socket; do "
    '{ [ ! -S "$s" ] || mount --bind /dev/null "$s"; } || exit 1; done && '
    'umount -l "$m" && rm -rf -- "$1" && wrap="$5" && shift 5 && '
    'if [ -n "$wrap" ]; then exec setpriv --pdeathsig KILL -- "$@"; else exec "$@"; fi'
)


@dataclass(frozen=True)
class SandboxStatus:
    """``prefix`` is the unshare command to use, or empty with ``reason`` saying why."""

    prefix: tuple[str, ...]
    reason: str

    @property
    def available(self) -> bool:
        """Whether a recipe works here."""
        return bool(self.prefix)

    @property
    def user_namespace(self) -> bool:
        """Whether the recipe needs a user namespace (we are not root)."""
        return "--user" in self.prefix


def namespace_prefix(*, user: bool, network: bool = False) -> tuple[str, ...]:
    """The ``unshare`` argv that opens a private mount namespace (``user``: inside a new
    user namespace mapping us to root; ``network``: and a new network namespace)."""
    args = ["unshare"]
    if user:
        args += ["--user", "--map-root-user"]
    if network:
        args.append("--net")
    return (*args, "--mount", "--propagation", "private", "--")


def probe_prefix(prefix: Sequence[str], timeout: float = 30.0) -> str:
    """Empty if ``prefix`` can bind-mount over /etc/resolv.conf here, else why not
    (unshare's own message, e.g. ``unshare failed: Operation not permitted``)."""
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed (util-linux)"
    if not Path("/etc/resolv.conf").exists() or not Path("/etc/hosts").exists():
        return "/etc/resolv.conf or /etc/hosts is missing: nothing to mount over"
    text = "nameserver 127.0.0.1\n"
    try:
        with sandboxed(prefix, text, ["/bin/cat", "/etc/resolv.conf"]) as argv:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, env=_probe_env()
            )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{' '.join(prefix[:4])}: {exc}"
    if done.returncode == 0 and done.stdout == text:
        return ""
    return f"{' '.join(prefix[:4])}: {done.stderr.strip() or f'exit {done.returncode}'}"


def _probe_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"}


@functools.cache
def sandbox_status() -> SandboxStatus:
    """Which recipe (no network namespace) works here: the plain mount namespace as
    root, else a user namespace.  Cached per process."""
    candidates = [namespace_prefix(user=False)] if os.geteuid() == 0 else []
    candidates.append(namespace_prefix(user=True))
    failures = []
    for prefix in candidates:
        reason = probe_prefix(prefix)
        if not reason:
            return SandboxStatus(prefix, "")
        failures.append(reason)
    return SandboxStatus((), "no private mount namespace: " + "; ".join(dict.fromkeys(failures)))


@contextmanager
def sandboxed(
    prefix: Sequence[str],
    resolv_conf: str,
    command: Sequence[str],
    *,
    die_with_parent: bool = False,
) -> Iterator[list[str]]:
    """The argv that runs ``command`` under ``prefix`` seeing ``resolv_conf`` (text) as
    /etc/resolv.conf, with our hosts and nsswitch.conf.

    The files live in a temporary directory until the command has mounted them (it then
    removes the directory itself) or this context exits.  ``die_with_parent``: the
    command gets SIGKILL when the process that started it dies (``setpriv
    --pdeathsig``; prctl(2) PR_SET_PDEATHSIG), so it never outlives its DNS server.
    """
    tmp = tempfile.mkdtemp(prefix="faultdns-ns-")
    try:
        files = []
        for name, text in (("resolv.conf", resolv_conf), ("hosts", HOSTS), ("nss", NSSWITCH)):
            path = Path(tmp) / name
            path.write_bytes(text.encode("utf-8", "surrogateescape"))
            path.chmod(0o644)
            files.append(str(path))
        Path(tmp).chmod(0o755)
        wrap = "setpriv" if die_with_parent and shutil.which("setpriv") else ""
        yield [*prefix, "/bin/sh", "-c", _SCRIPT, "sh", tmp, *files, wrap, *command]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_with_resolv_conf(
    resolv_conf: str,
    command: Sequence[str],
    timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to completion seeing ``resolv_conf`` as /etc/resolv.conf, with
    environment ``env`` (None: ours), capturing its output as text.

    Raises ``RuntimeError`` with the reason when no namespace recipe works, and
    ``subprocess.TimeoutExpired`` after ``timeout`` seconds.
    """
    status = sandbox_status()
    if not status.available:
        raise RuntimeError(status.reason)
    with sandboxed(status.prefix, resolv_conf, command) as argv:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env is not None else None,
        )

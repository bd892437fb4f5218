"""Running the Go probe with a case's resolv.conf, in a private mount namespace.

Go's pure resolver reads its search list, ndots and options only from /etc/resolv.conf
(``net/dnsconfig_unix.go``: ``dnsReadConfig("/etc/resolv.conf")``), its lookup order from
/etc/nsswitch.conf and static names from /etc/hosts.  The namespace recipe (bind mounts
over those three, ``hosts: files dns``, a hosts file naming only localhost; as root or in
a user namespace) is faultdns's, the same one ``faultdns run`` uses:
:func:`faultdns.testing.run_with_resolv_conf`.  This module adds what the oracle needs
on top: a clean environment, so the probe's behaviour depends on the case alone.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence

import faultdns.testing
from faultdns.testing import HOSTS, NSSWITCH, SandboxStatus, sandbox_status

__all__ = ["HOSTS", "NSSWITCH", "SandboxStatus", "run_with_resolv_conf", "sandbox_status"]

# A clean environment: HTTP_PROXY & co would send Go's client to a proxy (ours ignores
# them: trust_env=False), GODEBUG=netdns=... would change Go's resolver.
_ENV = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LC_ALL": "C"}


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
    return faultdns.testing.run_with_resolv_conf(
        resolv_conf, command, timeout, {**_ENV, **(env or {})}
    )

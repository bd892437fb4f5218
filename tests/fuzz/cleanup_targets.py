"""Fuzz targets for cleanup's input parsers: each takes one input (bytes), raises on a bug.

Registered in ``targets.TARGETS`` next to faultdns's, so ``run.py``, ``test_fuzz.py``
(corpus replay on every run, 20 s of atheris each in CI) and ``bench/fuzz_bench.py``
drive them the same way.  "No crash" is the assertion: a target fails by raising
anything but the documented error of its parser, or when an accepted input breaks
the parser's promise.

* ``image_list``: the list parser and the completeness rule, on the input as a body
  served with a ``Content-Length`` and as chunked: either ``ImageListError`` or a list of
  references that each parse, taken from a body that ends with a newline.
* ``resolv_conf``: the resolv.conf parser: either ``ResolvConfError`` or settings within
  Go's clamps (``dnsReadConfig``: ndots 0..15, attempts >= 1, timeout >= 1 s; Go does
  not cap attempts at 5 or timeout at 30 as glibc does) with IP-literal servers.
* ``policy``: the policy-file loader: either ``PolicyError`` or a policy within the
  documented limits that ``policy_to_toml`` writes back to an equal policy.
"""

from __future__ import annotations

import atexit
import ipaddress
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from cleanup import (
    MAX_DURATION,
    MAX_STEPS,
    ImageListError,
    PolicyError,
    ResolvConfError,
    get_policy,
    parse_image_list,
    parse_reference,
    parse_resolv_conf,
    policy_to_toml,
)
from cleanup._repo import check_complete

URL = "http://repo.fuzz/list"


def image_list(data: bytes) -> None:
    for headers in (
        {"content-length": str(len(data))},
        {"transfer-encoding": "chunked"},
    ):
        try:
            check_complete(URL, headers, data)
            refs = parse_image_list(data, url=URL, max_bytes=1 << 16)
        except ImageListError as exc:
            assert exc.url == URL
            continue
        assert data.endswith(b"\n")
        assert refs and all(isinstance(r, str) for r in refs)
        for ref in refs:
            parse_reference(ref)  # every accepted line is a reference


def resolv_conf(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    try:
        conf = parse_resolv_conf(text, source="fuzz")
    except ResolvConfError:
        return
    assert 0 <= conf.ndots <= 15
    assert conf.attempts >= 1
    assert conf.timeout >= 1
    for server in conf.nameservers:  # IP literals only, with an optional port
        if server.startswith("["):
            host = server[1 : server.index("]")]
        elif server.count(":") == 1:
            host = server.split(":", 1)[0]
        else:
            host = server
        ipaddress.ip_address(host.split("%", 1)[0])


_POLICY_DIR = Path(tempfile.mkdtemp(prefix="cleanup-fuzz-policy-"))
atexit.register(shutil.rmtree, _POLICY_DIR, True)


def policy(data: bytes) -> None:
    path = _POLICY_DIR / f"p{os.getpid()}.toml"
    path.write_bytes(data)
    try:
        loaded = get_policy(path)
    except PolicyError:
        return
    b = loaded.backoff
    assert 1 <= b.steps <= MAX_STEPS
    assert math.isfinite(b.duration) and 0 <= b.duration <= MAX_DURATION
    assert b.cap is None or 0 < b.cap <= MAX_DURATION
    assert loaded.deadline is None or 0 < loaded.deadline <= MAX_DURATION
    assert b.attempts <= b.steps  # bounded: no walk past the limit
    again = _POLICY_DIR / f"q{os.getpid()}.toml"
    again.write_text(policy_to_toml(loaded), encoding="utf-8")
    assert get_policy(again) == loaded


TARGETS: dict[str, Callable[[bytes], None]] = {
    "image_list": image_list,
    "resolv_conf": resolv_conf,
    "policy": policy,
}

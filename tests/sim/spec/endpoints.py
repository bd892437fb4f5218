"""Where a run is pointed: the repo URL and a nameserver's ``HOST:PORT``, restated.

Neither is Go's input: Harvester builds its URL from the repo Service and reads the
pod's resolv.conf, where Go has no port (:mod:`.go_resolvconf`).  These are retrylab's
own grammars for ``cleanup run --repo-url`` / ``RepoClient(url, ...)`` and for
``--nameserver`` / ``StubResolver(nameservers=[...])`` /
``StubResolver.from_resolv_conf(..., ports=True)``, restated from README ("cleanup run":
"`--repo-url` takes ports 1-65535 and at most 2048 characters", exit 64 naming the
flag; "the stub resolver": "`StubResolver(["IP:PORT"])` / `cleanup run --nameserver
IP:PORT`", "`from_resolv_conf(..., ports=True)`") and the docstrings of
``RepoClient`` and ``parse_nameserver``.  Imports nothing from ``cleanup``.

**A repo URL** is refused, first rule first, when
0. Go's ``url.Parse`` refuses it (the controller's URL is a Go URL):
   ``repo URL {url!r} is not a valid URL: {Go's error}``; :data:`GO_URL_ERRORS` holds
   Go 1.23.9's texts for the refused URLs the properties draw (asked again of Go by
   ``tests/fidelity/test_spec_go_url.py``); every other URL drawn is one Go parses;
1. its scheme is not ``http`` or ``https`` (in any case, RFC 3986 section 3.1) or it
   has no host: ``repo URL {url!r} must be http:// or https:// with a host, e.g.
   http://upgrade-repo-hvst-upgrade-abc12.harvester-system``;
2. its port (after the host's last ``:``, as written) is not ASCII digits (Go's
   ``url.Parse``, ``validOptionalPort``: ``8_0``, ``+80`` or full-width digits are no
   port): ``repo URL {url!r} has port {text!r}, not 1-65535``; or it is outside
   1-65535: ``repo URL {url!r} has port {port}, not 1-65535``;
3. it is longer than :data:`MAX_REPO_URL` characters: ``repo URL is {n} characters,
   more than 2048``;
4. it has a (non-empty) query or fragment: ``repo URL {url!r} must not have a query or
   fragment``.
On the command line the message is ``cleanup: --repo-url: {message}``, exit 64.

**A version** (``--previous-version``, ``RepoClient.list_url``) is a path segment: at
most :data:`MAX_VERSION` characters (``version is {n} characters, more than 253
(expected e.g. v1.4.1 or current)``), not empty, ``.`` or ``..``, without ``/ ? # %
\\``, whitespace or characters Python's ``str.isprintable`` refuses (``version
{version!r} cannot be part of a list URL (expected e.g. v1.4.1 or current)``); on the
command line ``cleanup: --previous-version: {message}``.  Through the Python API a
version that is no ``str`` is refused first: ``version must be a string (e.g. v1.4.1
or current), got {shown}``.

**The client's own limits** (``RepoClient(url, client, timeout=, max_bytes=)``, README
"HTTP"): ``timeout`` a number of seconds (an ``int`` or ``float``, never a ``bool``),
finite and > 0 (an ``int`` too large for a float64 is no finite timeout):
``timeout must be a number of seconds > 0, got {shown}`` for a value of another type,
``timeout must be a finite number of seconds > 0, got {shown}`` for a number out of
range; ``max_bytes`` an ``int`` (never a ``bool``) >= 1: ``max_bytes must be an integer
>= 1, got {shown}``; both ``ValueError``.  ``{shown}`` is the value as every message of
the API quotes it (:func:`.policy_input.shown`: an ``int`` of 200 bits or more is ``a
huge integer``, else its ``repr``, cut to 57 characters and ``...`` when longer than 60).

**A nameserver** ``TEXT`` (surrounding whitespace stripped) is an IP address Go's
``netip.ParseAddr`` takes (:mod:`.ip_literal`; port 53), ``IP:PORT`` (one colon, an
IPv4 address) or ``[IP]`` / ``[IP]:PORT``; the port one to five ASCII digits,
1-65535 (a colon with no port after it is refused: ``10.0.0.1:`` is a typo, not port
53; so is a port of thousands of digits, whatever their value).  Refusals
(``ResolvConfError``), with ``{text!r}`` the text as given:
``nameserver {text!r}: missing ']' after IPv6 address``; ``nameserver {text!r}:
expected ':PORT' after ']'``; ``nameserver {text!r}: {host!r} is not an IP address
(expected IP, IP:PORT or [IPv6]:PORT)``; ``nameserver {text!r}: port {port!r} is not
1-65535``.  It is shown as Go prints a server: ``IP:PORT``, ``[IPv6]:PORT``, the IP as
written.  In a resolv.conf read with ``ports=True`` a ``nameserver`` line's first
argument that ParseAddr takes is that server, port 53; one that starts with ``[`` or
has one colon after an IPv4 address is read as above, its refusal prefixed with
``{source} line {n}: `` (``n`` counting every line from 1); anything else is skipped,
as Go skips it.  Once :data:`MAX_NAMESERVERS` servers are read, later ``nameserver``
lines are skipped unread (Go's ``dnsReadConfig``: ``len(conf.servers) < 3``, maxNS).
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from tests.sim.spec import ip_literal
from tests.sim.spec.policy_input import shown

__all__ = [
    "GO_URL_ERRORS",
    "MAX_NAMESERVERS",
    "MAX_REPO_URL",
    "MAX_VERSION",
    "client_refusal",
    "go_parse_error",
    "nameserver",
    "nameserver_line",
    "repo_url_refusal",
    "version_refusal",
]

#: Go 1.23.9's ``url.Parse`` errors for URLs it refuses (asked of Go): ports that are
#: not ASCII digits (Python's ``int`` would take ``1_0``, ``+80``, Arabic-Indic digits),
#: spaces and bad escapes in the host, an unclosed ``[``, a control character
GO_URL_ERRORS: dict[str, str] = {
    "http://x:1_0": 'parse "http://x:1_0": invalid port ":1_0" after host',
    "http://x:+80": 'parse "http://x:+80": invalid port ":+80" after host',
    "http://x:-1": 'parse "http://x:-1": invalid port ":-1" after host',
    "http://x:\u0663": 'parse "http://x:\u0663": invalid port ":\u0663" after host',
    "http://x:80x": 'parse "http://x:80x": invalid port ":80x" after host',
    "http://a b/": 'parse "http://a b/": invalid character " " in host name',
    "http://re po.example": 'parse "http://re po.example": invalid character " " in host name',
    "http://a%zz/": 'parse "http://a%zz/": invalid URL escape "%zz"',
    "http://x/%zz": 'parse "http://x/%zz": invalid URL escape "%zz"',
    "http://[::1": "parse \"http://[::1\": missing ']' in host",
    "http://a\x00b/": 'parse "http://a\\x00b/": net/url: invalid control character in URL',
}

#: the most servers a resolv.conf gives (Go's maxNS)
MAX_NAMESERVERS = 3
#: the longest repo URL (characters)
MAX_REPO_URL = 2048
#: the longest version (characters: a DNS name's 253)
MAX_VERSION = 253
_EXPECTED = " (expected e.g. v1.4.1 or current)"


def version_refusal(version: object) -> str | None:
    """The refusal's message for a version (``--previous-version``, ``list_url``),
    None if it is taken."""
    if not isinstance(version, str):
        return f"version must be a string (e.g. v1.4.1 or current), got {shown(version)}"
    if len(version) > MAX_VERSION:
        return f"version is {len(version)} characters, more than {MAX_VERSION}{_EXPECTED}"
    path_like = version in ("", ".", "..") or any(c in version for c in "/?#%\\")
    if path_like or any(c.isspace() or not c.isprintable() for c in version):
        return f"version {version!r} cannot be part of a list URL{_EXPECTED}"
    return None


def client_refusal(timeout: object, max_bytes: object) -> str | None:
    """The ``ValueError`` message ``RepoClient(url, client, timeout=timeout,
    max_bytes=max_bytes)`` gives (the module docstring; ``timeout`` checked first),
    None when both are taken."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        return f"timeout must be a number of seconds > 0, got {shown(timeout)}"
    try:
        finite = math.isfinite(float(timeout))
    except OverflowError:  # an int past float64's range
        finite = False
    if not (finite and timeout > 0):
        return f"timeout must be a finite number of seconds > 0, got {shown(timeout)}"
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        return f"max_bytes must be an integer >= 1, got {shown(max_bytes)}"
    return None


def _port_text(url: str) -> str:
    """The text after the host's ``:`` ('' when none)."""
    after_host = urlsplit(url).netloc.rpartition("@")[2].rpartition("]")[2]  # past [IPv6]
    return after_host.partition(":")[2]


def go_parse_error(url: str) -> str | None:
    """Go's ``url.Parse`` error for a URL the properties draw, None when Go parses it:
    :data:`GO_URL_ERRORS`' text, or for a port that is not ASCII digits Go's
    ``validOptionalPort`` refusal, ``parse "URL": invalid port ":PORT" after host``
    (the URLs drawn need no escaping in Go's quotes)."""
    if url in GO_URL_ERRORS:
        return GO_URL_ERRORS[url]
    port = _port_text(url)
    if port and not re.fullmatch(r"[0-9]+", port):
        head = url.partition("#")[0]  # Go's Parse cuts the fragment off before it quotes
        return f'parse "{head}": invalid port ":{port}" after host'
    return None


def repo_url_refusal(url: str) -> str | None:
    """The refusal's message for ``url`` (one Go parses, one :func:`go_parse_error`
    knows), None if taken."""
    problem = go_parse_error(url)
    if problem is not None:
        return f"repo URL {url!r} is not a valid URL: {problem}"
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return (
            f"repo URL {url!r} must be http:// or https:// with a host,"
            " e.g. http://upgrade-repo-hvst-upgrade-abc12.harvester-system"
        )
    port_text = _port_text(url)
    if port_text and not 0 < int(port_text) <= 65535:
        return f"repo URL {url!r} has port {int(port_text)}, not 1-65535"
    if len(url) > MAX_REPO_URL:
        return f"repo URL is {len(url)} characters, more than {MAX_REPO_URL}"
    if parts.query or parts.fragment:
        return f"repo URL {url!r} must not have a query or fragment"
    return None


def _shown(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _port(text: str, port: str) -> int:
    if re.fullmatch(r"[0-9]{1,5}", port) and 1 <= int(port) <= 65535:
        return int(port)
    raise ValueError(f"nameserver {text!r}: port {port!r} is not 1-65535")


def nameserver(text: str) -> str:
    """``text`` as a server (``IP:PORT``), or raise ``ValueError`` with the message."""
    value = text.strip()
    if value.startswith("["):  # [IP] or [IP]:PORT
        host, closed, after = value[1:].partition("]")
        if not closed:
            raise ValueError(f"nameserver {text!r}: missing ']' after IPv6 address")
        if after and not after.startswith(":"):
            raise ValueError(f"nameserver {text!r}: expected ':PORT' after ']'")
        port = after[1:] if after else None
    elif value.count(":") == 1:  # IPv4:PORT (an IPv6 address has two colons or more)
        host, _, port = value.partition(":")
    else:
        host, port = value, None
    if not ip_literal.is_address(host):
        raise ValueError(
            f"nameserver {text!r}: {host!r} is not an IP address"
            " (expected IP, IP:PORT or [IPv6]:PORT)"
        )
    return _shown(host, 53 if port is None else _port(text, port))


def nameserver_line(argument: str, source: str, number: int) -> str | None:
    """A ``nameserver ARGUMENT`` line (line ``number`` of ``source``) read with
    ``ports=True``: the server, None when skipped; raises ``ValueError`` with the
    message."""
    if ip_literal.is_address(argument):
        return _shown(argument, 53)
    head = argument.split(":")[0]
    if not (argument.startswith("[") or (argument.count(":") == 1 and ip_literal.is_address(head))):
        return None
    try:
        return nameserver(argument)
    except ValueError as exc:
        raise ValueError(f"{source} line {number}: {exc}") from None

"""Go's ``net/url.Parse`` verdict on a URL reference: accepted, or Go's error text.

Pure logic, no I/O.  The transport needs it for one rule: Go's ``Client.do`` parses a
redirect's ``Location`` with ``req.URL.Parse(loc)`` and, when that fails, ends the
request with ``failed to parse Location header "LOC": parse "LOC": REASON``
(``net/http/client.go``).  httpx's URL parser accepts and rejects other strings (it
takes ``%zz``, Go does not), so the check is Go's, ported from ``net/url/url.go`` (Go
1.23.9): ``parse``, ``getScheme``, ``parseAuthority``, ``parseHost``, ``unescape``,
``validOptionalPort``, ``validUserinfo``, ``setFragment``.
"""

from __future__ import annotations

from cleanup._gotext import go_quote

__all__ = ["go_url_error"]

_HEX = frozenset("0123456789abcdefABCDEF")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# shouldEscape(c, encodeHost) is false for these (and letters, digits)
_HOST_OK = frozenset("-_.~!$&'()*+,;=:[]<>\"")
_USERINFO_OK = _ALNUM | frozenset("-._:~!$&'()*+,;=%@")


class _URLError(ValueError):
    """One of Go's url parse errors; ``str`` is Go's text."""


def _unescape(text: str, mode: str) -> None:
    """Go's ``unescape`` checks (``mode``: "host", "zone" or "other"); raises
    :class:`_URLError` with ``invalid URL escape "%.."`` or ``invalid character "c" in
    host name``."""
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%":
            if i + 2 >= len(text) or text[i + 1] not in _HEX or text[i + 2] not in _HEX:
                raise _URLError(f"invalid URL escape {go_quote(text[i : i + 3])}")
            value = int(text[i + 1 : i + 3], 16)
            if mode == "host" and value < 0x80 and text[i : i + 3] != "%25":
                # RFC 3986: in a host, %-encoding is only for non-ASCII bytes
                raise _URLError(f"invalid URL escape {go_quote(text[i : i + 3])}")
            byte_ok = value < 0x80 and (chr(value) in _ALNUM or chr(value) in _HOST_OK)
            if mode == "zone" and text[i : i + 3] not in ("%25", "%20") and not byte_ok:
                # a zone may escape only what it could write plainly (and a space)
                raise _URLError(f"invalid URL escape {go_quote(text[i : i + 3])}")
            i += 3
            continue
        plain_ok = char in _ALNUM or char in _HOST_OK
        if mode in ("host", "zone") and ord(char) < 0x80 and not plain_ok:
            raise _URLError(f"invalid character {go_quote(char)} in host name")
        i += 1


def _valid_optional_port(port: str) -> bool:
    return port == "" or (port[0] == ":" and all("0" <= c <= "9" for c in port[1:]))


def _parse_host(host: str) -> None:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise _URLError("missing ']' in host")
        if not _valid_optional_port(host[end + 1 :]):
            raise _URLError(f"invalid port {go_quote(host[end + 1 :])} after host")
        zone = host.find("%25", 0, end)
        if zone >= 0:
            _unescape(host[:zone], "host")
            _unescape(host[zone:end], "zone")
            _unescape(host[end:], "host")
            return
    elif ":" in host:
        colon_port = host[host.rfind(":") :]
        if not _valid_optional_port(colon_port):
            raise _URLError(f"invalid port {go_quote(colon_port)} after host")
    _unescape(host, "host")


def _parse_authority(authority: str) -> None:
    at = authority.rfind("@")
    _parse_host(authority[at + 1 :])
    if at < 0:
        return
    userinfo = authority[:at]
    if any(c not in _USERINFO_OK for c in userinfo):
        raise _URLError("net/url: invalid userinfo")
    for part in userinfo.split(":", 1):
        _unescape(part, "other")


def _scheme(raw: str) -> tuple[str, str]:
    """Go's ``getScheme``: (scheme, rest)."""
    for i, char in enumerate(raw):
        if char.isascii() and char.isalpha():
            continue
        if char.isascii() and (char.isdigit() or char in "+-."):
            if i == 0:
                return "", raw
            continue
        if char == ":":
            if i == 0:
                raise _URLError("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return "", raw
    return "", raw


def _parse(raw: str) -> None:
    """Go's ``parse(raw, viaRequest=false)``, errors only."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise _URLError("net/url: invalid control character in URL")
    if raw == "*":
        return
    scheme, rest = _scheme(raw)
    rest = rest.partition("?")[0]  # Go keeps the query unchecked
    if not rest.startswith("/"):
        if scheme:
            return  # opaque: scheme:rest
        if ":" in rest.partition("/")[0]:
            raise _URLError("first path segment in URL cannot contain colon")
    if (scheme or not rest.startswith("///")) and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        _parse_authority(authority)
        rest = slash + path
    _unescape(rest, "other")


def go_url_error(ref: str) -> str | None:
    """Go's ``url.Parse(ref)`` error text (``parse "REF": REASON``), or None when Go
    accepts ``ref``.  ``ref``: a URL or a reference relative to one, as a server
    wrote it in a ``Location`` header."""
    head, hashmark, fragment = ref.partition("#")
    try:
        _parse(head)
    except _URLError as exc:
        return f"parse {go_quote(head)}: {exc}"
    if hashmark:
        try:
            _unescape(fragment, "other")
        except _URLError as exc:
            return f"parse {go_quote(ref)}: {exc}"
    return None

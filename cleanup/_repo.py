"""The upgrade repo: where the two image lists come from.

The controller fetches
``<repo>/harvester-iso/bundle/harvester/images-lists-archive/<version>/image_list_all.txt``
for the previous version and for the literal ``current``, both inside one retried
operation (so a failure on the second list repeats the first fetch too, as in the
original).  Any status other than 200 is an error the controller never retries.

What this client adds to a plain GET, and why:

- Every failure leaves as a :class:`~cleanup.CleanupError` (``to_error`` walks the
  httpx/httpcore cause chain), so the retry predicate and the report never see raw
  library exceptions.
- The body is read as a stream with a size limit: a misconfigured repo serving a disk
  image must cost a bounded amount of memory, not all of it.
- ``timeout`` is Go's ``http.Client.Timeout`` (30 s in the controller), passed to the
  client per request: with :func:`~cleanup.make_http_client` it is one deadline over
  lookup, connect, headers, redirects and the whole body (the client enforces it; a
  plain ``httpx.Client`` would apply it per phase).
- Errors are Go's: the client's for the exchange (``Get "URL": ...``, ``unexpected
  EOF``...), the controller's ``unexpected status: 404 Not Found`` for a status other
  than 200 (the status of the final response, after redirects).
- A list is validated (:func:`~cleanup._images.parse_image_list`) before anyone can act
  on it: a half list or an HTML error page must never drive deletions.
- A list is accepted only when the response's framing proves it whole (see
  :func:`check_complete`): a ``Content-Length`` that was met, a chunked body whose
  terminator arrived (httpcore/h11 raise "unexpected EOF" otherwise, as Go does), or a
  gzip stream that ended cleanly (the client asks for gzip as Go's Transport does, and
  decodes it; its CRC-32/ISIZE trailer proves the stream whole, a cut stream is Go's
  "unexpected EOF"); any other ``Content-Encoding`` was not asked for and is refused,
  never decoded; and a last byte that is a newline (the repo's files end with one).
  A close-delimited body (no ``Content-Length``, not chunked) is refused:
  a connection cut three bytes early looks exactly like the end, and Go's client
  accepts it silently (``docker.io/rancher/kubectl:v1.30.5`` arrived as ``...:v1.30``
  and the controller deleted ``v1.30.5``).  So does a ``Content-Length`` smaller than
  the body: Go reads that many bytes and stops; the newline rule catches every cut
  that is not at a line end, and bytes already received past the declared end
  (:data:`~cleanup._transport.TRAILING_BYTES`) catch a cut at a line end when the rest
  came with it.  A cut at a line end with nothing more received is undetectable.  Each is an
  :class:`~cleanup.ImageListError` naming the URL and what was missing; like Go's
  "unexpected EOF" (which Harvester's predicate does not retry either), it ends the
  attempt and is never used.
"""

from __future__ import annotations

import math

import httpx

from cleanup._classify import to_error
from cleanup._errors import CleanupError, HTTPStatusError, ImageListError
from cleanup._gourl import go_url_error
from cleanup._images import DEFAULT_MAX_BYTES, is_image_id, parse_image_list, parse_reference
from cleanup._schedule import shown
from cleanup._transport import GZIP_DECODED, HTTP_CLIENT_TIMEOUT, TRAILING_BYTES

__all__ = [
    "DEFAULT_MAX_LIST_BYTES",
    "LIST_PATH",
    "MAX_REPO_URL",
    "MAX_VERSION",
    "RepoClient",
    "check_complete",
    "check_related",
]

#: The one list-path template: a version's image list under the repo URL (Harvester's
#: upgrade repo layout); ``{version}`` is the Harvester version.
LIST_PATH = "harvester-iso/bundle/harvester/images-lists-archive/{version}/image_list_all.txt"
#: Longest ``version`` a list URL takes: a Kubernetes object name's limit (a DNS
#: subdomain, 253), far above any Harvester version (``v1.4.1``).
MAX_VERSION = 253
#: Longest repo URL: a service URL is a scheme, a DNS name (<= 253) and a short path.
MAX_REPO_URL = 2048
#: The most bytes of one list read off the wire (the list validator's limit: what is
#: read is what gets validated).
DEFAULT_MAX_LIST_BYTES = DEFAULT_MAX_BYTES


def _timeout_seconds(timeout: object) -> float:
    """``timeout`` as float seconds: a number (not a bool, not a text), finite, > 0."""
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValueError(f"timeout must be a number of seconds > 0, got {shown(timeout)}")
    try:
        seconds = float(timeout)
    except OverflowError:  # an int past float64: no finite timeout
        seconds = math.inf
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {shown(timeout)}")
    return seconds


class RepoClient:
    """Fetches and validates image lists from the upgrade repo over ``client``.

    ``client`` is normally :func:`~cleanup.make_http_client` (resolving through our
    resolver, waiting on its clock, with Go's whole-request ``timeout``).
    """

    def __init__(
        self,
        repo_url: str,
        client: httpx.Client,
        *,
        timeout: float = HTTP_CLIENT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_LIST_BYTES,
    ) -> None:
        """Raises ``ValueError`` naming the parameter: ``repo_url`` not an http(s) URL
        with a host (or over :data:`MAX_REPO_URL` characters, or with a query or
        fragment), ``timeout`` not a finite number of seconds > 0, ``max_bytes`` not an
        integer >= 1."""
        # Go's url.Parse first: httpx reads "x:1_0" as port 10 and "a b" as a host, which
        # would fail only at the lookup, after every retry
        problem = go_url_error(repo_url) if isinstance(repo_url, str) else None
        if problem is not None:
            raise ValueError(f"repo URL {repo_url!r} is not a valid URL: {problem}")
        try:
            parsed = httpx.URL(repo_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ValueError(f"repo URL {repo_url!r} is not a valid URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(
                f"repo URL {repo_url!r} must be http:// or https:// with a host,"
                " e.g. http://upgrade-repo-hvst-upgrade-abc12.harvester-system"
            )
        if parsed.port is not None and not 0 < parsed.port <= 65535:
            raise ValueError(f"repo URL {repo_url!r} has port {parsed.port}, not 1-65535")
        if len(repo_url) > MAX_REPO_URL:
            raise ValueError(f"repo URL is {len(repo_url)} characters, more than {MAX_REPO_URL}")
        if parsed.query or parsed.fragment:
            raise ValueError(f"repo URL {repo_url!r} must not have a query or fragment")
        self.repo_url = repo_url.rstrip("/")
        self.client = client
        self.timeout = _timeout_seconds(timeout)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"max_bytes must be an integer >= 1, got {shown(max_bytes)}")
        self.max_bytes = max_bytes

    def list_url(self, version: str) -> str:
        """The URL of ``version``'s list (``version`` is e.g. ``v1.4.1`` or ``current``).

        Raises ``ValueError`` naming the version when it is no text, longer than
        :data:`MAX_VERSION`, or has characters a URL path segment cannot carry as is.
        """
        if not isinstance(version, str):
            raise ValueError(
                f"version must be a string (e.g. v1.4.1 or current), got {shown(version)}"
            )
        if len(version) > MAX_VERSION:
            raise ValueError(
                f"version is {len(version)} characters, more than {MAX_VERSION}"
                " (expected e.g. v1.4.1 or current)"
            )
        bad = not version or version in (".", "..") or any(c in version for c in "/?#%\\")
        if bad or any(c.isspace() or not c.isprintable() for c in version):
            raise ValueError(
                f"version {version!r} cannot be part of a list URL"
                " (expected e.g. v1.4.1 or current)"
            )
        return f"{self.repo_url}/{LIST_PATH.format(version=version)}"

    def fetch_list(self, version: str) -> list[str]:
        """The validated image references of ``version``'s list.

        Raises :class:`~cleanup.DialDNSError` (a :class:`~cleanup.DNSError`),
        :class:`~cleanup.ConnectError`, :class:`~cleanup.RequestTimeout`,
        :class:`~cleanup.ProtocolError`, :class:`~cleanup.HTTPStatusError` (with the
        version), :class:`~cleanup.ImageListError` or another
        :class:`~cleanup.CleanupError`.
        """
        url = self.list_url(version)
        try:
            body = self._get(url, version)
        except CleanupError:
            raise
        except Exception as exc:
            raise to_error(exc, url=url) from exc
        return parse_image_list(body, url=url, max_bytes=self.max_bytes)

    def fetch_lists(self, previous: str, current: str = "current") -> tuple[list[str], list[str]]:
        """Both lists, previous first, as one operation (one retry attempt).

        Raises what :meth:`fetch_list` raises, and :class:`~cleanup.ImageListError`
        naming the current list's URL when the two lists share no repository namespace
        (see :func:`check_related`).
        """
        old, new = self.fetch_list(previous), self.fetch_list(current)
        check_related(self.list_url(current), old, new)
        return old, new

    def _get(self, url: str, version: str) -> bytes:
        # No Accept-Encoding of ours, as the controller sets none: Go's Transport then
        # asks for gzip and decodes it (make_http_client does the same), in pieces of
        # at most GZIP_PIECE bytes, so the size limit below also stops a gzip bomb.
        with self.client.stream("GET", url, timeout=self.timeout) as response:
            if response.status_code != 200:
                reason = response.extensions.get("reason_phrase", b"")
                text = reason.decode("latin-1") if isinstance(reason, bytes) else None
                raise HTTPStatusError(url, response.status_code, version, text)
            headers = {k.lower(): v for k, v in response.headers.items()}
            served = str(response.url)  # after redirects: where the body comes from
            gzipped = bool(response.extensions.get(GZIP_DECODED, False))
            # refuse before reading what we cannot use
            check_complete(served, headers, None, gzip_decoded=gzipped)
            declared = headers.get("content-length", "")
            if declared.isascii() and declared.isdigit() and int(declared) > self.max_bytes:
                raise ImageListError(url, 0, self._too_big(f"{int(declared)} bytes"))
            body = bytearray()
            try:
                for chunk in response.iter_raw():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise ImageListError(url, 0, self._too_big(f"at least {len(body)} bytes"))
            except CleanupError:
                raise
            except Exception as exc:
                # after the headers: a stall here is Go's body timeout (another stack's
                # exception types do not say where it came; our client's error does)
                raise to_error(exc, url=url, in_body=True) from exc
            check_complete(served, headers, bytes(body), gzip_decoded=gzipped)
            trailing = response.extensions.get(TRAILING_BYTES)
            if isinstance(trailing, int) and trailing > 0:
                # Go reads Content-Length bytes and drops the rest; but bytes past the
                # declared end mean the framing disagrees with what was sent, so the
                # declared length may have cut the list (even at a line end)
                raise ImageListError(
                    served,
                    0,
                    f"the repo sent {trailing} more bytes after the end its framing declared"
                    " (a Content-Length too small?): the list may be cut",
                )
            return bytes(body)

    def _too_big(self, size: str) -> str:
        return (
            f"the list is {size}, more than the {self.max_bytes}-byte limit"
            " (is the repo serving the wrong file?)"
        )


def _namespaces(refs: list[str]) -> set[str]:
    """The repository namespaces ``refs`` name; an image ID (``sha256:<64 hex>``, content
    with no name) names none."""
    namespaces = set()
    for text in refs:
        if not is_image_id(text):
            namespaces.add(parse_reference(text).name.rsplit("/", 1)[0])
    return namespaces


def check_related(url: str, previous: list[str], current: list[str]) -> None:
    """Raise :class:`~cleanup.ImageListError` (for ``url``, the current list) unless the
    two lists name at least one common repository namespace (``docker.io/rancher``,
    the reference's name without its last component; an image ID names none, so a list
    of image IDs alone is related to no list: ``it names only image IDs``).

    A body that is not a list at all but parses as one (a ``200`` whose body is
    ``ok``, ``null`` or ``true``: ``docker.io/library/ok:latest``) would make every
    previous image "not in the current list".  Consecutive Harvester lists share
    ``docker.io/rancher`` and ``docker.io/longhornio`` on every line but a few, so
    lists with nothing in common mean one of them is not what the repo should serve;
    the run stops rather than delete.  A non-list body that happens to share a
    namespace with the previous list is not caught by this rule.
    """
    if previous and current and not _namespaces(previous) & _namespaces(current):
        shown = ", ".join(sorted(_namespaces(current))[:3]) or "only image IDs"
        raise ImageListError(
            url,
            0,
            f"it shares no registry/namespace with the previous list (it names {shown}):"
            " is it an image list at all, or did a proxy or error page answer?",
        )


#: Media types that are a document of another kind, never a plain list (``+json`` and
#: ``+xml`` suffixes too).
_NOT_A_LIST = (
    "text/html",
    "application/xhtml+xml",
    "application/json",
    "text/json",
    "application/xml",
    "text/xml",
    "application/javascript",
    "text/javascript",
)


def _check_content_type(url: str, headers: dict[str, str]) -> None:
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media in _NOT_A_LIST or media.endswith(("+json", "+xml")):
        raise ImageListError(
            url,
            0,
            f"the repo sent it as {media!r}, which is not a plain-text list"
            " (an error page or API answer?)",
        )


def check_complete(
    url: str, headers: dict[str, str], body: bytes | None, *, gzip_decoded: bool = False
) -> None:
    """Raise :class:`~cleanup.ImageListError` unless the response proves the list whole.

    ``headers``: the response's headers, names lower-case.  ``body``: the bytes read,
    decoded if ``gzip_decoded`` (None: check the headers only).  ``gzip_decoded``: the
    client asked for gzip and decoded the stream, which it reads to its trailer (a cut
    stream fails the read with Go's "unexpected EOF" before this is called).  The rule
    (module docstring): ``Content-Encoding`` absent or ``identity`` (the client removes
    the ``gzip`` it decoded); a gzip stream decoded to its end, chunked framing, or a
    ``Content-Length`` that equals the body's length; a body that ends with ``\n``;
    a ``Content-Type`` that is not a document of another kind (HTML, JSON, XML,
    JavaScript).
    """
    _check_content_type(url, headers)
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise ImageListError(
            url,
            0,
            f"the repo sent it with Content-Encoding {encoding!r}, which was not asked for "
            "(the client asks for gzip only); it is not decoded or trusted",
        )
    if gzip_decoded:
        # the CRC-32 and length in the gzip trailer prove the stream whole
        if body:
            _check_newline(url, body)
        return
    codings = [c.strip().lower() for c in headers.get("transfer-encoding", "").split(",")]
    chunked = codings[-1] == "chunked"
    declared = headers.get("content-length", "").strip()
    if "content-length" in headers and headers.get("transfer-encoding", "").strip():
        # RFC 9112 section 6.3 (3): Transfer-Encoding overrides Content-Length, but "such
        # a message might indicate an attempt to perform request smuggling or response
        # splitting and ought to be handled as an error"; the two framings disagree about
        # where the list ends, so neither proves it whole.
        raise ImageListError(
            url,
            0,
            f"the repo sent both Content-Length ({declared}) and Transfer-Encoding"
            f" ({headers['transfer-encoding'].strip()}): the framing is ambiguous"
            " (RFC 9112 section 6.3)",
        )
    if not chunked and not (declared.isascii() and declared.isdigit()):
        raise ImageListError(
            url,
            0,
            "its end cannot be proven: no Content-Length and no chunked framing, so a "
            "connection closed early looks the same as the end of the list",
        )
    if body is None:
        return
    if not chunked and len(body) != int(declared):
        raise ImageListError(
            url, 0, f"Content-Length is {int(declared)} but {len(body)} bytes arrived"
        )
    if body:  # empty: parse_image_list says "empty"
        _check_newline(url, body)


def _check_newline(url: str, body: bytes) -> None:
    if not body.endswith(b"\n"):
        raise ImageListError(
            url,
            0,
            "it does not end with a newline (the repo's lists do): the body was cut "
            f"short after {len(body)} bytes, or its Content-Length is too small",
        )

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
"""

from __future__ import annotations

import httpx

from cleanup._classify import to_error
from cleanup._errors import CleanupError, HTTPStatusError, ImageListError
from cleanup._images import DEFAULT_MAX_BYTES, parse_image_list

__all__ = ["DEFAULT_MAX_LIST_BYTES", "LIST_PATH", "RepoClient"]

LIST_PATH = "harvester-iso/bundle/harvester/images-lists-archive/{version}/image_list_all.txt"
# The list validator's limit: what is read off the wire is what gets validated.
DEFAULT_MAX_LIST_BYTES = DEFAULT_MAX_BYTES


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
        timeout: float = 30.0,
        max_bytes: int = DEFAULT_MAX_LIST_BYTES,
    ) -> None:
        try:
            parsed = httpx.URL(repo_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ValueError(f"repo URL {repo_url!r} is not a valid URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(
                f"repo URL {repo_url!r} must be http:// or https:// with a host,"
                " e.g. http://upgrade-repo-hvst-upgrade-abc12.harvester-system"
            )
        if parsed.query or parsed.fragment:
            raise ValueError(f"repo URL {repo_url!r} must not have a query or fragment")
        if not timeout > 0:
            raise ValueError(f"HTTP timeout must be > 0 seconds, got {timeout}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
        self.repo_url = repo_url.rstrip("/")
        self.client = client
        self.timeout = float(timeout)
        self.max_bytes = max_bytes

    def list_url(self, version: str) -> str:
        """The URL of ``version``'s list (``version`` is e.g. ``v1.4.1`` or ``current``)."""
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
        """Both lists, previous first, as one operation (one retry attempt)."""
        return self.fetch_list(previous), self.fetch_list(current)

    def _get(self, url: str, version: str) -> bytes:
        # No Accept-Encoding of ours, as the controller sets none: Go's Transport then
        # asks for gzip and decodes it (make_http_client does the same), in pieces of
        # at most GZIP_PIECE bytes, so the size limit below also stops a gzip bomb.
        with self.client.stream("GET", url, timeout=self.timeout) as response:
            if response.status_code != 200:
                reason = response.extensions.get("reason_phrase", b"")
                text = reason.decode("latin-1") if isinstance(reason, bytes) else None
                raise HTTPStatusError(url, response.status_code, version, text)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise ImageListError(url, 0, self._too_big(f"{int(declared)} bytes"))
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > self.max_bytes:
                    raise ImageListError(url, 0, self._too_big(f"at least {len(body)} bytes"))
            return bytes(body)

    def _too_big(self, size: str) -> str:
        return (
            f"the list is {size}, more than the {self.max_bytes}-byte limit"
            " (is the repo serving the wrong file?)"
        )

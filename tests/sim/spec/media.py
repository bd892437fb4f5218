"""Whether a 200's ``Content-Type`` lets its body be used as an image list.

Rule (README "cleanup", "A list, not another document"; issue 9): a response whose
media type is a document of another kind - HTML, JSON, XML, JavaScript, or any type
with a ``+json`` / ``+xml`` structured syntax suffix (RFC 6839 3.1, 4.1) - is refused
even when its body parses as a list; any other type, and no ``Content-Type`` at all,
is read as the list.

The header is read as RFC 9110 8.3.1 writes it::

    Content-Type = media-type
    media-type   = type "/" subtype parameters
    parameters   = *( OWS ";" OWS [ parameter ] )

"The type and subtype tokens are case-insensitive", and parameters (``charset=utf-8``)
do not change which type it is; OWS is optional spaces and tabs (RFC 9110 5.6.3).
So ``Text/HTML ;charset=utf-8`` is ``text/html``.
"""

from __future__ import annotations

__all__ = ["DOCUMENTS", "media_type", "refusal", "refused"]

#: the media types of a document of another kind (besides the suffixes)
DOCUMENTS = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "application/json",
        "text/json",
        "application/xml",
        "text/xml",
        "application/javascript",
        "text/javascript",
    }
)
_OWS = " \t"


def media_type(content_type: str) -> str:
    """``type/subtype`` in lower case: what precedes the first ``;``, OWS trimmed."""
    head = content_type.split(";")[0]
    return head.strip(_OWS).lower()


def refused(content_type: str | None) -> bool:
    """True when a 200 with this ``Content-Type`` (None: no header) is not a list."""
    if content_type is None:
        return False
    media = media_type(content_type)
    subtype = media.partition("/")[2]
    return media in DOCUMENTS or subtype.endswith(("+json", "+xml"))


def refusal(url: str, content_type: str) -> str:
    """The error of a list at ``url`` refused for its type (README "A list, not another
    document"): the document's error (no line), quoting the media type as read."""
    return (
        f"invalid image list {url} (document): the repo sent it as "
        f"{media_type(content_type)!r}, which is not a plain-text list (an error page or "
        "API answer?)"
    )

"""Image references and image lists: parse, normalise, validate.

The plan compares image lists with what a node's containerd holds.  Both sides spell
the same image differently (``rancher/harvester:v1.4.1`` in a list,
``docker.io/rancher/harvester:v1.4.1`` in containerd, ``nginx`` for
``docker.io/library/nginx:latest``), so each reference is parsed with the grammar of
``github.com/distribution/reference`` (what containerd, Docker and Kubernetes use)
and normalised the way its ``ParseNormalizedNamed`` + ``TagNameOnly`` do::

    reference    := name [ ":" tag ] [ "@" digest ]
    name         := [domain "/"] path          (whole name <= 255 characters)
    domain       := host [":" port]            host: DNS-ish name, IPv4, or [IPv6]
    path         := component ("/" component)*
    component    := [a-z0-9]+ (separator [a-z0-9]+)*   separator: "." "_" "__" "-"+
    tag          := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest       := algorithm ":" hex          (sha256: 64, sha384: 96, sha512: 128)

The first component is a domain only if it contains "." or ":", is ``localhost``, or
has upper-case letters (:func:`_names_a_domain`, also where a refusal says which part
is wrong); otherwise the domain is ``docker.io``, and a single-component
Docker Hub path gets ``library/``.  No tag and no digest means ``:latest``.

An image list is what the repo serves: one reference per line.  Before anything is
deleted on the strength of it, :func:`parse_image_list` makes sure it *is* one, because
a captive portal's HTML page or a truncated binary would otherwise parse as "nothing
in the current list" and delete everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cleanup._errors import ImageListError, InvalidReference

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ImageRef",
    "InvalidReference",
    "image_id_of",
    "image_id_spellings",
    "is_image_id",
    "normalize",
    "parse_image_list",
    "parse_reference",
    "short_key",
    "stated_image_id",
]

DEFAULT_MAX_BYTES = 4 * 1024 * 1024  # real lists are ~20 KiB; 4 MiB is generous
NAME_TOTAL_LENGTH_MAX = 255
DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

# --- the grammar (distribution/reference regexp.go) ----------------------------------------
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_AND_PORT = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME}"
# identifierRegexp: an image ID's 64 lower-case hex digits, which no reference may be
_IDENTIFIER = r"[a-f0-9]{64}"

# re.ASCII: Go's \w is [0-9A-Za-z_], Python's would accept any Unicode letter.
_REFERENCE_RE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_ANCHORED_NAME_RE = re.compile(rf"(?:({_DOMAIN_AND_PORT})/)?({_REMOTE_NAME})", re.ASCII)
_IDENTIFIER_RE = re.compile(_IDENTIFIER)
_TAG_RE = re.compile(_TAG, re.ASCII)
_COMPONENT_RE = re.compile(_PATH_COMPONENT)
_DOMAIN_RE = re.compile(_DOMAIN_AND_PORT)

# go-digest's registered algorithms and their encoded lengths (lower-case hex only).
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
_ALGORITHM_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*")
_ALLOWED_CHARS = re.compile(r"[A-Za-z0-9._\-/:@\[\]+]")


@dataclass(frozen=True)
class ImageRef:
    """A parsed, normalised reference.  ``tag`` is ``latest`` unless a digest is given."""

    domain: str
    path: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def full(self) -> str:
        """The normalised reference, e.g. ``docker.io/library/nginx:latest``."""
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text

    @property
    def short(self) -> str:
        """Last path component and tag (``harvester:v1.4.1``), whatever the registry.

        Newer Harvester versions match on this too, so images pulled through a custom
        registry prefix (``myregistry.local/rancher/harvester:v1.4.1``) are still found.
        A digest-only reference keeps its digest (``nginx@sha256:...``).
        """
        last = self.path.rsplit("/", 1)[-1]
        if self.tag is not None:
            return f"{last}:{self.tag}"
        return f"{last}@{self.digest}"

    def __str__(self) -> str:
        return self.full


def _names_a_domain(first: str) -> bool:
    """Whether ``first``, the text before a reference's first ``/``, is its domain:
    distribution/reference ``splitDockerDomain`` (normalize.go) takes it for one when it
    contains ``.`` or ``:``, is ``localhost``, or is not all lower case."""
    return "." in first or ":" in first or first == "localhost" or first.lower() != first


def _split_domain(text: str) -> tuple[str, str]:
    """distribution/reference ``splitDockerDomain``."""
    first, slash, rest = text.partition("/")
    if not slash:
        # a single element ("ubuntu", "ubuntu:22.04") is always a Docker Hub name
        return DEFAULT_DOMAIN, OFFICIAL_PREFIX + text
    if first == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, rest
    elif _names_a_domain(first):
        domain, remote = first, rest
    else:
        domain, remote = DEFAULT_DOMAIN, text
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_PREFIX + remote
    return domain, remote


def _explain(text: str) -> str:
    """Why ``text`` does not match the grammar, as precisely as we can say it."""
    for index, char in enumerate(text):
        if not _ALLOWED_CHARS.fullmatch(char):
            what = "whitespace" if char.isspace() else f"character {char!r}"
            return f"{what} at column {index + 1} is not allowed in an image reference"
    if text.count("@") > 1:
        return "more than one '@'"
    name_and_tag, at, digest = text.partition("@")
    if at:
        algorithm, separator, encoded = digest.partition(":")
        if not separator or not _ALGORITHM_RE.fullmatch(algorithm):
            return f"digest {digest!r} is not ALGORITHM:HEX"
        if not re.fullmatch(r"[0-9a-fA-F]{32,}", encoded):
            return f"digest {digest!r}: the encoded part must be at least 32 hex digits"
    slash = name_and_tag.rfind("/")
    colon = name_and_tag.rfind(":")
    if colon > slash:
        name, tag = name_and_tag[:colon], name_and_tag[colon + 1 :]
        if not tag:
            return "empty tag after ':'"
        if not _TAG_RE.fullmatch(tag):
            return (
                f"tag {tag!r} is invalid (letters, digits, '_', '.', '-', at most 128, "
                "not starting with '.' or '-')"
            )
    else:
        name = name_and_tag
    if not name:
        return "no repository name"
    parts = name.split("/")
    start = 0
    # the same rule the grammar was matched with: an upper-case first part is a registry
    # ("Foo/x_" quotes 'x_', not the valid host 'Foo'; "Foo_x/y" is a bad registry)
    if len(parts) > 1 and _names_a_domain(parts[0]):
        if not _DOMAIN_RE.fullmatch(parts[0]):
            return f"registry {parts[0]!r} is not a valid host[:port]"
        start = 1
    for part in parts[start:]:
        if not part:
            return "empty path component ('//', or a leading or trailing '/')"
        if not _COMPONENT_RE.fullmatch(part):
            return (
                f"path component {part!r} is invalid (lower-case letters and digits, "
                "joined by '.', '_', '__' or dashes)"
            )
    return "does not match [registry[:port]/]path[:tag][@digest]"


def parse_reference(text: str) -> ImageRef:
    """Parse and normalise like ``reference.ParseNormalizedNamed`` + ``TagNameOnly``."""
    if not text:
        raise InvalidReference("empty reference")
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReference(
            "64-character hex strings are image IDs, not references (reserved by the grammar)"
        )
    domain, remainder = _split_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidReference(f"repository name {remote!r} must be lower-case")
    match = _REFERENCE_RE.fullmatch(f"{domain}/{remainder}")
    if match is None:
        raise InvalidReference(_explain(text))
    name, tag, digest = match.group(1), match.group(2), match.group(3)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            f"repository name is {len(name)} characters (at most {NAME_TOTAL_LENGTH_MAX})"
        )
    if digest is not None:
        algorithm, _, encoded = digest.partition(":")
        expected = _DIGEST_HEX_LENGTH.get(algorithm)
        if expected is None:
            raise InvalidReference(
                f"digest algorithm {algorithm!r} is not one of {', '.join(_DIGEST_HEX_LENGTH)}"
            )
        if len(encoded) != expected or not re.fullmatch(r"[0-9a-f]+", encoded):
            raise InvalidReference(
                f"{algorithm} digest must be {expected} lower-case hex digits, got {encoded!r}"
            )
    parts = _ANCHORED_NAME_RE.fullmatch(name)
    assert parts is not None  # name matched the same grammar above
    found_domain, path = parts.group(1) or "", parts.group(2)
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return ImageRef(found_domain, path, tag, digest)


def normalize(text: str) -> str:
    """The full normalised reference; raises :class:`InvalidReference`.

    ``rancher/x:1`` -> ``docker.io/rancher/x:1``, ``nginx`` -> ``docker.io/library/nginx:latest``.
    """
    return parse_reference(text).full


def short_key(text: str) -> str:
    """``myreg.local/rancher/harvester:v1`` -> ``harvester:v1`` (see :attr:`ImageRef.short`)."""
    return parse_reference(text).short


# --- image identities ------------------------------------------------------------------------
# What a store removes by, spelt as names are: an image ID is the sha256 digest of the
# image's config, ``sha256:<64 hex>`` (containerd's config digest, the CRI image ID); the
# same ID bare (distribution/reference's identifier: ``crictl`` and ``docker`` print it
# so); and a digest reference ``name@sha256:<64 hex>`` states its identity too (with
# its algorithm: ``name@<64 hex>`` is no digest reference, and states nothing).  Each
# form once, built on the last.  ``re.match`` with ``$``, as the plan and the stores
# always matched them.
_ID_ALGORITHM = "sha256:"
_IMAGE_ID = rf"{_ID_ALGORITHM}{_IDENTIFIER}"
_ID_ALONE = rf"(?:{_ID_ALGORITHM})?({_IDENTIFIER})"
_ID_STATED = rf"(?:.*@{_ID_ALGORITHM}|(?:{_ID_ALGORITHM})?)({_IDENTIFIER})"
_IMAGE_ID_RE = re.compile(rf"^{_IMAGE_ID}$")
_ID_ALONE_RE = re.compile(rf"^{_ID_ALONE}$")
_ID_STATED_RE = re.compile(rf"^{_ID_STATED}$")


def is_image_id(name: str) -> bool:
    """Whether ``name`` has an image ID's own spelling, ``sha256:<64 hex>``: a containerd
    record named by its config digest (the CRI plugin's "image ID", no image name), a
    container naming its image by ID; also the form of a sha256 digest on its own
    (``ctr images ls``'s DIGEST column)."""
    return _IMAGE_ID_RE.match(name) is not None


def image_id_of(name: str) -> str | None:
    """The image ID ``name`` is on its own, as ``sha256:<64 hex>``: ``name`` is
    ``sha256:<64 hex>`` or the bare 64 hex; None for anything else (a reference,
    ``name@sha256:...`` included)."""
    found = _ID_ALONE_RE.match(name)
    return _ID_ALGORITHM + found.group(1) if found else None


def stated_image_id(spelling: str) -> str | None:
    """The sha256 identity a spelling states by itself, as ``sha256:<64 hex>``: an
    image ID (:func:`image_id_of`'s two spellings) or a digest reference
    ``name@sha256:<64 hex>``; None for anything else."""
    found = _ID_STATED_RE.match(spelling)
    return _ID_ALGORITHM + found.group(1) if found else None


def image_id_spellings(ident: str) -> tuple[str, ...]:
    """The spellings an identity may have as a key of a store's identity map: an image
    ID both as ``sha256:<64 hex>`` and bare (in that order); any other identity (a
    sha384/sha512 digest, a name) only as it is."""
    image_id = image_id_of(ident)
    return (ident,) if image_id is None else (image_id, image_id[len(_ID_ALGORITHM) :])


# --- image lists ------------------------------------------------------------------------------

_HTML_MARKERS = ("<!doctype", "<html", "<head", "<body", "<?xml", "<title", "<meta", "<script")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def parse_image_list(data: bytes, *, url: str, max_bytes: int = DEFAULT_MAX_BYTES) -> list[str]:
    """The references in an image list, in file order, as written (duplicates kept).

    Accepts UTF-8 text (a BOM is tolerated), LF or CRLF line ends, blank lines, ``#``
    comment lines, and a trailing ``  # comment`` after a reference.  Raises
    :class:`~cleanup.ImageListError` naming the 1-based line (0 = the whole document)
    for: more than ``max_bytes``, NUL bytes (binary), invalid UTF-8, an HTML/XML page,
    no reference at all, or any line that is not an image reference.
    """
    if len(data) > max_bytes:
        raise ImageListError(
            url, 0, f"{len(data)} bytes is more than the limit of {max_bytes} bytes"
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ImageListError(
            url, _line_of(data, nul), f"binary data (NUL byte at offset {nul}), not a text list"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImageListError(
            url,
            _line_of(data, exc.start),
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
        ) from None
    text = text.removeprefix("\ufeff")
    images: list[str] = []
    lines = text.split("\n")
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        lowered = line.lower()
        if lowered.startswith("<") and (lowered.startswith(_HTML_MARKERS) or not images):
            raise ImageListError(
                url,
                number,
                f"this is an HTML/XML page ({_clip(line)!r}), not an image list: "
                "is the repo URL right, or is a proxy answering instead?",
            )
        if line.startswith("#"):
            continue
        hash_at = _comment_start(line)
        if hash_at is not None:
            line = line[:hash_at].rstrip()
        try:
            parse_reference(line)
        except InvalidReference as exc:
            raise ImageListError(
                url, number, f"{_clip(line)!r} is not an image reference: {exc}"
            ) from None
        images.append(line)
    if not images:
        described = "empty" if not text.strip() else "only blank lines and comments"
        raise ImageListError(url, 0, f"no image references ({described})")
    return images


def _comment_start(line: str) -> int | None:
    """Where a trailing ``# comment`` starts: a '#' after whitespace ('#' is never valid
    in a reference, so this cannot cut a real one short)."""
    match = re.search(r"\s#", line)
    return match.start() if match else None


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."

"""Image references (distribution/reference grammar) and image-list validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cleanup import ImageListError
from cleanup._images import (
    DEFAULT_MAX_BYTES,
    InvalidReference,
    image_id_of,
    image_id_spellings,
    is_image_id,
    normalize,
    parse_image_list,
    parse_reference,
    short_key,
    stated_image_id,
)

URL = "http://upgrade-repo-x.harvester-system/harvester-iso/bundle/harvester/images-lists-archive/current/image_list_all.txt"
SHA = "sha256:" + "0123456789abcdef" * 4


# --- references ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "full", "short"),
    [
        ("nginx", "docker.io/library/nginx:latest", "nginx:latest"),
        ("ubuntu:22.04", "docker.io/library/ubuntu:22.04", "ubuntu:22.04"),
        ("rancher/harvester:v1.4.1", "docker.io/rancher/harvester:v1.4.1", "harvester:v1.4.1"),
        (
            "docker.io/rancher/harvester:v1.4.1",
            "docker.io/rancher/harvester:v1.4.1",
            "harvester:v1.4.1",
        ),
        ("docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest"),
        ("index.docker.io/rancher/x:1", "docker.io/rancher/x:1", "x:1"),
        (
            "registry.suse.com/suse/vmdp/vmdp:2.5.4.3",
            "registry.suse.com/suse/vmdp/vmdp:2.5.4.3",
            "vmdp:2.5.4.3",
        ),
        (
            "myreg.local:5000/rancher/harvester:v1.4.1",
            "myreg.local:5000/rancher/harvester:v1.4.1",
            "harvester:v1.4.1",
        ),
        ("localhost/foo", "localhost/foo:latest", "foo:latest"),
        ("localhost:5000/a/b:c", "localhost:5000/a/b:c", "b:c"),
        ("[::1]:5000/img:1", "[::1]:5000/img:1", "img:1"),
        ("10.0.0.1/img", "10.0.0.1/img:latest", "img:latest"),
        (
            "Registry.Example/img",
            "Registry.Example/img:latest",
            "img:latest",
        ),  # upper case: a domain
        (f"busybox@{SHA}", f"docker.io/library/busybox@{SHA}", f"busybox@{SHA}"),
        (f"busybox:1.36@{SHA}", f"docker.io/library/busybox:1.36@{SHA}", "busybox:1.36"),
        ("a__b/c--d/e.f_g:T_a.g-1", "docker.io/a__b/c--d/e.f_g:T_a.g-1", "e.f_g:T_a.g-1"),
        # a bare "host:port" is a Docker Hub name with a tag (distribution's own FIXME)
        ("localhost:5000", "docker.io/library/localhost:5000", "localhost:5000"),
    ],
)
def test_normalisation(text: str, full: str, short: str) -> None:
    assert normalize(text) == full
    assert short_key(text) == short
    assert normalize(full) == full


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty reference"),
        ("nginx latest", "whitespace at column 6"),
        ("Rancher", "must be lower-case"),
        ("example.com/Rancher/x", "repository name 'Rancher/x' must be lower-case"),
        ("foo//bar", "empty path component"),
        ("foo/", "empty path component"),
        ("foo:", "empty tag"),
        ("foo:-x", "tag '-x' is invalid"),
        ("foo:" + "a" * 129, "is invalid"),
        ("foo@sha256:abc", "at least 32 hex digits"),
        ("foo@md5:" + "a" * 32, "digest algorithm 'md5' is not one of sha256"),
        ("foo@sha256:" + "A" * 64, "64 lower-case hex digits"),
        ("foo@sha256:" + "a" * 63, "64 lower-case hex digits"),
        ("a" * 64, "image IDs"),
        ("foo_-bar", "path component 'foo_-bar' is invalid"),
        ("-foo", "path component '-foo' is invalid"),
        ("ex_ample.com:5000/x", "registry 'ex_ample.com:5000' is not a valid host[:port]"),
        ("foo@bar@baz", "more than one '@'"),
        ("caf\u00e9", "character 'é' at column 4"),
        ("x" * 250 + "/y" * 3, "at most 255"),
        # an upper-case first part is a registry (splitDockerDomain), also in the reason:
        # the bad part is quoted, not the valid host before it
        ("Foo/b_", "path component 'b_' is invalid"),
        ("Foo_x/bar", "registry 'Foo_x' is not a valid host[:port]"),
        # a middle component is checked, not only the last (the seed-15 sample's
        # start = -1 mutant quoted nothing); a first part that sorts before "localhost"
        # is no registry (its parts[0] < "localhost" mutant)
        ("registry.local/a_/x:v1", "path component 'a_' is invalid"),
        ("a_b/c_", "path component 'c_' is invalid"),
    ],
)
def test_invalid_references_say_why(text: str, why: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_reference(text)
    assert why in str(caught.value)


# generated references, straight from the grammar
_alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
_component = st.builds(
    lambda first, rest: first + "".join(sep + part for sep, part in rest),
    _alnum,
    st.lists(st.tuples(st.sampled_from([".", "_", "__", "-", "--"]), _alnum), max_size=2),
)
_path = st.lists(_component, min_size=1, max_size=4).map("/".join)
_label = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?", fullmatch=True)
_domain = st.one_of(
    st.lists(_label, min_size=2, max_size=3).map(".".join),
    st.just("localhost"),
    st.builds(
        lambda labels, port: ".".join(labels) + f":{port}",
        st.lists(_label, min_size=1, max_size=3),
        st.integers(1, 65535),
    ),
    st.builds(lambda port: f"[fd00::1]:{port}", st.integers(1, 65535)),
)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_digest = st.sampled_from(["sha256", "sha512"]).flatmap(
    lambda alg: st.text(
        "0123456789abcdef",
        min_size=64 if alg == "sha256" else 128,
        max_size=64 if alg == "sha256" else 128,
    ).map(lambda hx: f"{alg}:{hx}")
)
references = st.builds(
    lambda domain, path, tag, digest: (
        (f"{domain}/" if domain else "")
        + path
        + (f":{tag}" if tag else "")
        + (f"@{digest}" if digest else "")
    ),
    st.none() | _domain,
    _path,
    st.none() | _tag,
    st.none() | _digest,
)


@given(text=references)
def test_generated_references_parse_and_normalise_stably(text: str) -> None:
    ref = parse_reference(text)
    assert normalize(ref.full) == ref.full  # idempotent
    assert short_key(ref.full) == ref.short
    assert ref.tag is not None or ref.digest is not None
    assert ref.full.endswith(
        ref.path + (f":{ref.tag}" if ref.tag else "") + (f"@{ref.digest}" if ref.digest else "")
    )
    assert ref.short.split(":")[0].split("@")[0] == ref.path.rsplit("/", 1)[-1]


# --- image identities ----------------------------------------------------------------------

HEX = SHA.removeprefix("sha256:")


@pytest.mark.parametrize(
    ("name", "is_id", "alone", "stated"),
    [
        # an image ID, canonical: every form
        (SHA, True, SHA, SHA),
        # bare, as crictl and docker print it: an ID on its own, not canonical
        (HEX, False, SHA, SHA),
        # a digest reference states its identity, but is no ID on its own
        (f"docker.io/rancher/x@{SHA}", False, None, SHA),
        (f"rancher/x:v1@{SHA}", False, None, SHA),
        # not a sha256 ID: upper case, a length off by one, another algorithm, a tag
        (SHA.upper(), False, None, None),
        ("sha256:" + HEX.upper(), False, None, None),
        (SHA[:-1], False, None, None),
        (SHA + "0", False, None, None),
        ("sha512:" + HEX * 2, False, None, None),
        ("rancher/x:v1", False, None, None),
        ("", False, None, None),
        # a digest without its algorithm is no digest reference: it states nothing
        # (review of issue 11; spec.deletion's identity agrees)
        (f"docker.io/rancher/x@{HEX}", False, None, None),
        (f"rancher/x:v1@{HEX}", False, None, None),
    ],
)
def test_image_identity_forms(
    name: str, is_id: bool, alone: str | None, stated: str | None
) -> None:
    """The three spellings of an image's identity (README: the plan's "same image, other
    name"), each with its one function: canonical ID, an ID on its own, any stated one."""
    assert is_image_id(name) is is_id
    assert image_id_of(name) == alone
    assert stated_image_id(name) == stated


def test_an_image_id_is_keyed_in_both_spellings_other_identities_as_they_are() -> None:
    assert image_id_spellings(SHA) == (SHA, HEX)
    assert image_id_spellings(HEX) == (SHA, HEX)
    other = "sha512:" + HEX * 2
    assert image_id_spellings(other) == (other,)
    assert image_id_spellings(f"rancher/x@{SHA}") == (f"rancher/x@{SHA}",)


def test_a_bare_image_id_is_no_reference() -> None:
    """distribution/reference reserves the identifier form: the bare ID is refused."""
    with pytest.raises(InvalidReference, match="image IDs"):
        parse_reference(HEX)
    assert image_id_of(HEX) == SHA


# --- lists ---------------------------------------------------------------------------------


def test_list_with_comments_blank_lines_crlf_and_bom() -> None:
    data = (
        "\ufeff# Harvester v1.4.1 images\r\n"
        "\r\n"
        "rancher/harvester:v1.4.1\r\n"
        "   longhornio/longhorn-engine:v1.7.2   \r\n"
        "docker.io/rancher/harvester-upgrade:v1.4.1  # the upgrade image\n"
        "\t\n"
        "rancher/harvester:v1.4.1\n"
    ).encode()
    assert parse_image_list(data, url=URL) == [
        "rancher/harvester:v1.4.1",
        "longhornio/longhorn-engine:v1.7.2",
        "docker.io/rancher/harvester-upgrade:v1.4.1",
        "rancher/harvester:v1.4.1",
    ]


@pytest.mark.parametrize(
    ("data", "line", "reason"),
    [
        (b"<!DOCTYPE html>\n<html><body>Sign in</body></html>\n", 1, "HTML/XML page"),
        (b"\n\n  <html>\n", 3, "HTML/XML page"),
        (b"rancher/a:1\n<html>\n", 2, "HTML/XML page"),
        (b'<?xml version="1.0"?>\n<Error/>\n', 1, "HTML/XML page"),
        (b"rancher/a:1\nrancher/b:\x00\x01\n", 2, "binary data (NUL byte at offset 22)"),
        (b"rancher/a:1\nrancher/b:\xff\n", 2, "not UTF-8 text (byte 0xff at offset 22)"),
        (b"", 0, "no image references (empty)"),
        (b"\n  \n\r\n", 0, "no image references (empty)"),
        (b"# nothing\n\n# here\n", 0, "only blank lines and comments"),
        (
            b"rancher/a:1\nrancher/b:1\nnot an image\n",
            3,
            "'not an image' is not an image reference: whitespace",
        ),
        (b"rancher/a:1\nRancher/B:1\n", 2, "'Rancher/B:1' is not an image reference"),
        (b"rancher/a:1\nfoo#bar\n", 2, "'foo#bar' is not an image reference"),
    ],
)
def test_invalid_lists_name_the_line(data: bytes, line: int, reason: str) -> None:
    with pytest.raises(ImageListError) as caught:
        parse_image_list(data, url=URL)
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert caught.value.url == URL
    where = f"line {line}" if line else "document"
    assert str(caught.value).startswith(f"invalid image list {URL} ({where}): ")


def test_size_limit() -> None:
    data = b"rancher/a:1\n" * 10
    assert len(parse_image_list(data, url=URL, max_bytes=len(data))) == 10
    with pytest.raises(ImageListError) as caught:
        parse_image_list(data, url=URL, max_bytes=len(data) - 1)
    assert caught.value.line == 0
    assert (
        caught.value.reason == f"{len(data)} bytes is more than the limit of {len(data) - 1} bytes"
    )
    assert DEFAULT_MAX_BYTES == 4 * 1024 * 1024


def test_long_offending_line_is_clipped_in_the_message() -> None:
    with pytest.raises(ImageListError) as caught:
        parse_image_list(b"x " * 200, url=URL)
    assert "..." in caught.value.reason and len(caught.value.reason) < 250


@given(
    refs=st.lists(references, min_size=1, max_size=20),
    noise=st.lists(
        st.sampled_from(["", "   ", "# comment", "#", "\t# indented comment"]), max_size=20
    ),
    crlf=st.booleans(),
    seed=st.randoms(use_true_random=False),
)
def test_valid_lists_round_trip(
    refs: list[str], noise: list[str], crlf: bool, seed: object
) -> None:
    lines = list(refs)
    for item in noise:
        lines.insert(seed.randrange(len(lines) + 1), item)  # type: ignore[attr-defined]
    eol = "\r\n" if crlf else "\n"
    data = eol.join(lines).encode()
    assert parse_image_list(data, url=URL) == refs


GARBAGE = [
    "two words",
    "rancher/UPPER:1",
    "bad//path",
    "trailing/",
    "tag:",
    "tag:.dot",
    "x@sha256:123",
    "a/b@c@d",
    "naïve",
    "semi;colon",
    "nul\x01char",
]


@given(
    refs=st.lists(references, min_size=1, max_size=15),
    garbage=st.sampled_from(GARBAGE),
    position=st.integers(0, 15),
)
def test_garbage_line_is_rejected_by_number(refs: list[str], garbage: str, position: int) -> None:
    position = min(position, len(refs))
    lines = [*refs[:position], garbage, *refs[position:]]
    with pytest.raises(ImageListError) as caught:
        parse_image_list("\n".join(lines).encode(), url=URL)
    assert caught.value.line == position + 1
    assert repr(garbage.strip()) in caught.value.reason

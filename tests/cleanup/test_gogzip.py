"""Go's gzip body decoding, fed whole and byte by byte (Go 1.23.9's answers, asked of
``http.Client`` with a throwaway server: decoded bytes, then the body's error)."""

from __future__ import annotations

import gzip

import pytest

from cleanup._gogzip import GZIP_PIECE, GoGzipDecoder, GzipError

LIST = gzip.compress(b"a\nb\n", mtime=0)

CASES = [
    ("good", LIST, b"a\nb\n", None),
    ("two-members", LIST + gzip.compress(b"c\n", mtime=0), b"a\nb\nc\n", None),
    ("empty", b"", b"", None),
    ("bad-checksum", LIST[:-8] + b"\0\0\0\0" + LIST[-4:], b"a\nb\n", "gzip: invalid checksum"),
    (
        "corrupt-deflate",
        LIST[:10] + b"\xff" * 4 + LIST[14:],
        b"",
        "flate: corrupt input before offset 1",
    ),
    ("short-garbage-after", LIST + b"xyz", b"a\nb\n", "unexpected EOF"),
    ("garbage-after", LIST + b"0123456789abc", b"a\nb\n", "gzip: invalid header"),
    ("not-gzip", b"notgzip!!!", b"", "gzip: invalid header"),
    ("cut-in-header", b"\x1f\x8b\x08\x00", b"", "unexpected EOF"),
]


def decode(body: bytes, step: int) -> tuple[bytes, str | None]:
    decoder = GoGzipDecoder()
    out = bytearray()
    try:
        for at in range(0, len(body), step):
            for piece in decoder.feed(body[at : at + step]):
                out += piece
        decoder.finish()
    except GzipError as exc:
        return bytes(out), str(exc)
    return bytes(out), None


@pytest.mark.parametrize(("name", "body", "data", "go"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("step", [1, 3, 1 << 20])
def test_decoder_matches_go(name: str, body: bytes, data: bytes, go: str | None, step: int) -> None:
    out, error = decode(body, step)
    assert error == go
    # what came out before the error is a prefix of Go's (Go may return a piece more)
    assert data.startswith(out) and (go is not None or out == data)


def test_a_bomb_comes_out_in_bounded_pieces() -> None:
    """A small body expanding to 8 MiB is yielded in pieces of at most GZIP_PIECE, so
    a reader with a size limit stops it early."""
    bomb = gzip.compress(b"\0" * (8 << 20))
    pieces = GoGzipDecoder().feed(bomb)
    first = next(pieces)
    assert 0 < len(first) <= GZIP_PIECE

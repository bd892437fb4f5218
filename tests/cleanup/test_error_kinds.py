"""The error-kind vocabulary (``cleanup.ErrorKind``, ``cleanup.StatusKind``) is exactly
what :func:`cleanup.error_kind` says: no label given outside the ``Literal``, no label in
it that no error is given (each would make the type lie to the report's readers)."""

from __future__ import annotations

import re
from typing import get_args

from cleanup import (
    CleanupError,
    ConnectError,
    ConnectReason,
    DNSError,
    ErrorKind,
    HTTPStatusError,
    ImageListError,
    ProtocolError,
    RemovalError,
    RequestTimeout,
    RetriesExhausted,
    StoreError,
    UnexpectedError,
    error_kind,
)

URL = "http://repo.test/v1/images"

#: one error of each shape error_kind tells apart
ERRORS: list[CleanupError] = [
    DNSError("h", "no such host", is_not_found=True),
    DNSError("h", "i/o timeout", is_timeout=True),
    DNSError("h", "server misbehaving", is_temporary=True),
    DNSError("h", "something else"),
    *(ConnectError(URL, "10.0.0.1:80", reason) for reason in get_args(ConnectReason)),
    RequestTimeout(URL, "headers", 30.0),
    ProtocolError(URL, "EOF"),
    ProtocolError(URL, "unexpected EOF", in_body=True),
    ProtocolError("/x", "stopped after 10 redirects"),
    ProtocolError(URL, "net/http: HTTP/1.x transport connection broken: malformed"),
    HTTPStatusError(URL, 404),
    HTTPStatusError(URL, 503),
    ImageListError(URL, 3, "bad"),
    UnexpectedError("RuntimeError: boom", URL),
    StoreError("ctr: not found"),
    RemovalError("docker.io/library/a:1", "in use"),
    RetriesExhausted(DNSError("h", "no such host", is_not_found=True), 3, 10.0),
    CleanupError("an error with no label of its own"),
]


def test_every_label_error_kind_gives_is_in_the_vocabulary() -> None:
    fixed = set(get_args(ErrorKind))
    for err in ERRORS:
        kind = error_kind(err)
        if isinstance(err, HTTPStatusError):
            assert kind == f"http status {err.status}"
            assert kind not in fixed
        else:
            assert kind in fixed, (err, kind)
            assert not re.fullmatch(r"http status \d+", kind)


def test_every_label_in_the_vocabulary_is_given() -> None:
    given = {error_kind(err) for err in ERRORS}
    assert set(get_args(ErrorKind)) <= given


def test_a_class_label_is_declared_on_the_class() -> None:
    # RetriesExhausted, StoreError, RemovalError name theirs; the base names none
    assert CleanupError.kind_label is None
    assert RetriesExhausted.kind_label == "gave up"
    assert RemovalError.kind_label == "removal failed"
    assert StoreError.kind_label == "store error"

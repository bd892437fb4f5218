"""Go's url.Parse verdicts, as Go 1.23.9 gave them (``url.Parse(s)``; None: accepted).

The transport uses the port to reject a redirect's Location as Go's Client.do does
(review finding 7); every row was asked of Go with a throwaway program.
"""

from __future__ import annotations

import pytest

from cleanup._gourl import go_url_error

GO_1_23_9 = [
    ("http://[::1", "parse \"http://[::1\": missing ']' in host"),
    ("%zz", 'parse "%zz": invalid URL escape "%zz"'),
    ("http://a b/", 'parse "http://a b/": invalid character " " in host name'),
    ("http://host:abc/", 'parse "http://host:abc/": invalid port ":abc" after host'),
    ("http://[::1]:x/", 'parse "http://[::1]:x/": invalid port ":x" after host'),
    ("ftp://127.0.0.2/x", None),
    ("a:b", None),
    (":foo", 'parse ":foo": missing protocol scheme'),
    ("1a:b/c", 'parse "1a:b/c": first path segment in URL cannot contain colon'),
    ("/path/%", 'parse "/path/%": invalid URL escape "%"'),
    ("/ok/path", None),
    ("//h:1/x", None),
    ("http://us er@h/", 'parse "http://us er@h/": net/url: invalid userinfo'),
    ("http://u%zz@h/", 'parse "http://u%zz@h/": invalid URL escape "%zz"'),
    ("http://h/#%zz", 'parse "http://h/#%zz": invalid URL escape "%zz"'),
    ("http://h/#ok", None),
    ("http://h%41/", 'parse "http://h%41/": invalid URL escape "%41"'),
    ("http://[fe80::1%25en0]/", None),
    ("http://[fe80::1%25%07]/", 'parse "http://[fe80::1%25%07]/": invalid URL escape "%07"'),
    ("http://h/?%zz", None),
    ("http://h/x y", None),
    ("other.txt", None),
    ("http://ex ample.com/", 'parse "http://ex ample.com/": invalid character " " in host name'),
    ("http://h/%e2%82", None),
    ("*", None),
    ("http://[::1]]/", None),
    ("http://a\tb/", 'parse "http://a\\tb/": net/url: invalid control character in URL'),
]


@pytest.mark.parametrize(("ref", "go"), GO_1_23_9)
def test_go_url_error_matches_go(ref: str, go: str | None) -> None:
    assert go_url_error(ref) == go

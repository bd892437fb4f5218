"""Go 1.23's ``time.ParseDuration``, restated: what a duration text means, or Go's error.

Source: Go 1.23 ``src/time/format.go`` (``ParseDuration``, ``leadingInt``,
``leadingFraction``, ``unitMap``, ``quote``).  The grammar is
``[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+`` read byte by byte over the UTF-8 text:

- an optional sign; then exactly ``"0"`` is zero (no unit needed); nothing at all is
  ``invalid duration``;
- each term is digits, optionally ``.`` and more digits (at least one digit on either
  side), then a unit, the longest run of bytes that are neither digits nor ``.``:
  ``ns``, ``us``, ``µs`` (U+00B5), ``μs`` (U+03BC), ``ms``, ``s``, ``m``, ``h``
  (no unit: ``missing unit in duration``; another: ``unknown unit "u" in duration``);
- the integer part is an unsigned 64-bit count that may not pass ``1<<63`` (else
  ``invalid duration``); the fraction's digits are accumulated while they fit
  (``leadingFraction``: digits past that are ignored, never an error) and added as
  ``uint64(float64(f) * (float64(unit) / scale))`` (float64 arithmetic, truncated);
- each term's value ``v*unit`` (+ fraction) and the running sum may not pass ``1<<63``;
  the sum is a ``uint64`` added before it is checked, so two terms of exactly ``1<<63``
  wrap to 0 and are accepted (``"9223372036854775808ns9223372036854775808ns"`` is 0);
  a positive total may not pass ``1<<63 - 1`` (so ``-9223372036854775808ns`` is
  accepted, ``9223372036854775808ns`` is not).

Errors are ``time: invalid duration "TEXT"``, ``time: missing unit in duration
"TEXT"`` and ``time: unknown unit "UNIT" in duration "TEXT"``, quoted by ``time.quote``:
``"`` and ``\\`` get a backslash, every byte of a rune below U+0020 or above U+007F is
written ``\\xhh`` (lower-case hex; U+FFFD counts as one byte unless three bytes of it
remain after it, another of Go's own shortcuts).

Checked against Go 1.23 itself on hundreds of generated texts
(``tests/fidelity/test_spec_go_duration.py``).
"""

from __future__ import annotations

__all__ = ["UNITS", "go_quote", "parse"]

#: ``time.unitMap``: nanoseconds per unit (keys as UTF-8 bytes, as Go compares them)
UNITS: dict[bytes, int] = {
    b"ns": 1,
    b"us": 1_000,
    "\u00b5s".encode(): 1_000,
    "\u03bcs".encode(): 1_000,
    b"ms": 1_000_000,
    b"s": 1_000_000_000,
    b"m": 60 * 1_000_000_000,
    b"h": 3_600 * 1_000_000_000,
}
_LIMIT = 1 << 63  # the uint64 bound every step is checked against
_DIGITS = b"0123456789"
_RUNE_ERROR = "\ufffd".encode()


def go_quote(text: str) -> str:
    """``time.quote``: Go's quoting of a duration text in its error messages."""
    raw = text.encode("utf-8", "surrogatepass")
    out = ['"']
    i = 0
    for char in text:
        width = len(char.encode("utf-8", "surrogatepass"))
        if char >= "\x80" or char < " ":
            shown = width
            if char == "\ufffd":
                shown = 3 if i + 2 < len(raw) and raw[i : i + 3] == _RUNE_ERROR else 1
            out.extend(f"\\x{byte:02x}" for byte in raw[i : i + shown])
        else:
            out.append("\\" + char if char in '"\\' else char)
        i += width
    out.append('"')
    return "".join(out)


def _invalid(orig: str) -> tuple[None, str]:
    return None, f"time: invalid duration {go_quote(orig)}"


def parse(text: str) -> tuple[int | None, str | None]:
    """``time.ParseDuration(text)`` as (nanoseconds, None) or (None, Go's error text)."""
    s = text.encode("utf-8", "surrogatepass")
    negative = False
    if s[:1] in (b"-", b"+"):
        negative = s[:1] == b"-"
        s = s[1:]
    if s == b"0":
        return 0, None
    if not s:
        return _invalid(text)
    total = 0
    while s:
        if not (s[0] == ord(".") or s[0] in _DIGITS):
            return _invalid(text)
        # leadingInt: [0-9]*, an error once it passes 1<<63
        whole, n = 0, 0
        while n < len(s) and s[n] in _DIGITS:
            if whole > _LIMIT // 10:
                return _invalid(text)
            whole = whole * 10 + s[n] - ord("0")
            if whole > _LIMIT:
                return _invalid(text)
            n += 1
        before = n > 0
        s = s[n:]
        fraction, scale, after = 0, 1.0, False
        if s[:1] == b".":
            # leadingFraction: stops accumulating (silently) when the next digit would
            # not fit; the remaining digits are still consumed
            s = s[1:]
            n = 0
            full = False
            while n < len(s) and s[n] in _DIGITS:
                if not full:
                    if fraction > (_LIMIT - 1) // 10:
                        full = True
                    else:
                        grown = fraction * 10 + s[n] - ord("0")
                        if grown > _LIMIT:
                            full = True
                        else:
                            fraction, scale = grown, scale * 10
                n += 1
            after = n > 0
            s = s[n:]
        if not before and not after:
            return _invalid(text)
        n = 0
        while n < len(s) and not (s[n] == ord(".") or s[n] in _DIGITS):
            n += 1
        if n == 0:
            return None, f"time: missing unit in duration {go_quote(text)}"
        name, s = s[:n], s[n:]
        unit = UNITS.get(name)
        if unit is None:
            shown = go_quote(name.decode("utf-8", "surrogatepass"))
            return None, f"time: unknown unit {shown} in duration {go_quote(text)}"
        if whole > _LIMIT // unit:
            return _invalid(text)
        value = whole * unit
        if fraction > 0:
            value += int(float(fraction) * (float(unit) / scale))
            if value > _LIMIT:
                return _invalid(text)
        # d is a uint64: 1<<63 + 1<<63 wraps to 0, which the check below lets through
        total = (total + value) % (1 << 64)
        if total > _LIMIT:
            return _invalid(text)
    if negative:
        return -total, None
    if total > _LIMIT - 1:
        return _invalid(text)
    return total, None

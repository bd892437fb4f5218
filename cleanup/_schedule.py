"""The backoff schedule: how long to sleep after each failed attempt.

Pure logic: no I/O, no real time; randomness comes from an injected
:class:`random.Random`.

Schedule ("client-go" mode) - Kubernetes ``k8s.io/apimachinery/pkg/util/wait``:

* ``Backoff.Step()``: if ``Steps < 1`` it returns ``Duration`` (jittered) and changes
  nothing.  Otherwise it decrements ``Steps``, remembers ``duration = Duration``, then
  if ``Factor != 0`` sets ``Duration = time.Duration(float64(Duration) * Factor)`` and,
  if ``Cap > 0 && Duration > Cap``, clamps ``Duration = Cap`` *and sets Steps = 0*.
  Finally, if ``Jitter > 0``: ``duration += time.Duration(rand.Float64() * Jitter *
  float64(duration))``.  Go durations are int64 nanoseconds and the float-to-Duration
  conversions truncate; we compute in integer nanoseconds the same way.
* ``ExponentialBackoff`` (what ``retry.OnError`` runs)::

      for backoff.Steps > 0 {
          if ok, err := condition(); err != nil || ok { return err }
          if backoff.Steps == 1 { break }
          time.Sleep(backoff.Step())
      }
      return ErrWaitTimeout       // OnError then returns the last retriable error

  So at most ``Steps`` attempts with ``Steps - 1`` sleeps between them - and, as the Go
  doc comment says, the loop also stops when "a sleep truncated by the cap on duration
  has been completed": the ``Step()`` that hits the cap zeroes ``Steps``, the loop
  sleeps and then ends *without another attempt*.  We reproduce that trailing sleep
  (events mark it ``trailing=True``); it is a real cost of setting a Cap in Go.

AWS modes (Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog),
with ``duration`` as ``base``, ``factor`` as the growth multiplier (the article's 2,
and its 3 in decorrelated), ``cap`` as ``cap`` (none = unbounded) and ``n`` the
0-based index of the sleep.  Each mode makes exactly ``steps`` attempts; the cap only
clamps, it never ends the loop.  ``jitter`` is not used by these three:

* ``full``:  ``U(0, min(cap, base * factor**n))``
* ``equal``: ``t/2 + U(0, t/2)`` with ``t = min(cap, base * factor**n)``
* ``decorrelated``: ``min(cap, U(base, max(base, prev * factor)))``, ``prev`` starting
  at ``base`` (the article's ``sleep = min(cap, random_between(base, sleep * 3))``)

One more mode so stamina's defaults are reproduced exactly rather than approximated:

* ``additive``: ``min(cap, base * factor**n + U(0, jitter))`` - tenacity's
  ``wait_exponential_jitter`` (``initial * exp_base**(attempt-1) + uniform(0, jitter)``
  capped at ``max``), which ``stamina.retry`` uses.  Here ``jitter`` is in *seconds*.

Every sleep is clamped to Go's largest ``time.Duration`` (2**63-1 ns, about 292 years)
instead of overflowing.

"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, get_args

from cleanup._errors import PolicyError

__all__ = [
    "MAX_DURATION",
    "MAX_DURATION_NS",
    "MAX_STEPS",
    "MODES",
    "Backoff",
    "Mode",
    "PolicyError",
    "Schedule",
    "float_to_ns",
    "grow",
    "parse_duration",
    "read_decimal",
    "read_integer",
    "shown",
    "to_ns",
]


#: How the sleeps grow: client-go's ``wait.Backoff`` or one of the AWS/tenacity modes.
Mode = Literal["client-go", "full", "equal", "decorrelated", "additive"]
#: Every :data:`Mode`, in order.
MODES: tuple[Mode, ...] = get_args(Mode)

#: Go's largest ``time.Duration`` in nanoseconds (``math.MaxInt64``, 2**63-1, Go's
#: ``time.maxDuration``): every duration the schedule computes is clamped to it instead
#: of overflowing.
MAX_DURATION_NS = 2**63 - 1

#: The longest duration a policy field may give (seconds): Go's largest ``time.Duration``
#: (2**63-1 ns, 2562047h47m16.854775807s, about 292 years).  Go cannot express more
#: (``time.ParseDuration`` reports "invalid duration"), so neither can a policy.
MAX_DURATION = MAX_DURATION_NS / 1e9

#: The most attempts a policy may give.  Go's ``Steps`` is an ``int``, but nothing
#: needs more than a million attempts (at Harvester's 10 s that is four months), and the
#: limit keeps everything that walks a schedule (the attempt count, the simulation's
#: bounds) bounded in time and memory.
MAX_STEPS = 1_000_000


# --- durations ---------------------------------------------------------------------------

#: Go's ``time.unitMap``: nanoseconds per unit (both micro signs, U+00B5 and U+03BC).
_GO_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_U63 = 1 << 63
#: Go's limit in seconds as an exact decimal, for bare numbers such as ``9e9``.
_MAX_DECIMAL_SECONDS = Decimal(MAX_DURATION_NS).scaleb(-9)


class _GoDurationError(ValueError):
    """``time.ParseDuration`` failed; the message is Go's, without the ``time: `` prefix."""


def _go_quote(text: str) -> str:
    """Go's ``time.quote`` (src/time/format.go), how its errors quote a duration text:
    ``"`` and ``\\`` escaped, each UTF-8 byte of a rune below U+0020 or above U+007F as
    ``\\xhh`` (U+FFFD: one byte, or three when three of it remain after it: Go's own
    shortcut)."""
    raw = text.encode("utf-8", "surrogatepass")
    out = ['"']
    at = 0
    for char in text:
        width = len(char.encode("utf-8", "surrogatepass"))
        if char < " " or char >= "\x80":
            shown = width
            if char == "\ufffd":
                shown = 3 if at + 2 < len(raw) and raw[at : at + 3] == b"\xef\xbf\xbd" else 1
            out.extend(f"\\x{byte:02x}" for byte in raw[at : at + shown])
        else:
            out.append("\\" + char if char in '"\\' else char)
        at += width
    out.append('"')
    return "".join(out)


def go_parse_duration(text: str) -> int:
    """Nanoseconds from Go duration syntax, exactly as Go 1.23's ``time.ParseDuration``.

    A line-by-line port of ``time.ParseDuration``/``leadingInt``/``leadingFraction``
    (src/time/format.go): the same accepted texts, the same overflow edges (at most
    ``2**63-1`` ns, "9223372036854775807ns" or "2562047h47m16.854775807s"; one
    nanosecond more is "invalid duration"), fractions truncated to the nanosecond through
    Go's float64 arithmetic ("15.9999999999999999999999999ns" is 16 ns, as in Go).
    Negative results are returned negative.  Raises ``ValueError`` with Go's message
    (without its ``time: `` prefix), quoted as Go quotes it (:func:`_go_quote`).
    """
    orig = text
    s = text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise _GoDurationError(f"invalid duration {_go_quote(orig)}")
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise _GoDurationError(f"invalid duration {_go_quote(orig)}")
        # leadingInt: an error as soon as the integer passes 1<<63
        i = 0
        v = 0
        while i < len(s) and "0" <= s[i] <= "9":
            if v > _U63 // 10:
                raise _GoDurationError(f"invalid duration {_go_quote(orig)}")
            v = v * 10 + ord(s[i]) - 48
            if v > _U63:
                raise _GoDurationError(f"invalid duration {_go_quote(orig)}")
            i += 1
        pre = i > 0
        s = s[i:]
        f, scale, post = 0, 1.0, False
        if s and s[0] == ".":
            # leadingFraction: digits past what fits are ignored, not an error
            s = s[1:]
            i = 0
            overflow = False
            while i < len(s) and "0" <= s[i] <= "9":
                if not overflow:
                    if f > (_U63 - 1) // 10:
                        overflow = True
                    else:
                        y = f * 10 + ord(s[i]) - 48
                        if y > _U63:
                            overflow = True
                        else:
                            f = y
                            scale *= 10
                i += 1
            post = i > 0
            s = s[i:]
        if not pre and not post:
            raise _GoDurationError(f"invalid duration {_go_quote(orig)}")
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise _GoDurationError(f"missing unit in duration {_go_quote(orig)}")
        unit_name, s = s[:i], s[i:]
        unit = _GO_UNITS.get(unit_name)
        if unit is None:
            raise _GoDurationError(
                f"unknown unit {_go_quote(unit_name)} in duration {_go_quote(orig)}"
            )
        if v > _U63 // unit:
            raise _GoDurationError(f"invalid duration {_go_quote(orig)}")
        v *= unit
        if f > 0:
            # Go: v += uint64(float64(f) * (float64(unit) / scale)), float64 throughout
            v += int(float(f) * (float(unit) / scale))
            if v > _U63:
                raise _GoDurationError(f"invalid duration {_go_quote(orig)}")
        # Go's d is a uint64: 1<<63 + 1<<63 wraps to 0 and passes the check below
        # ("9223372036854775808ns9223372036854775808ns" is 0 in Go 1.23)
        total = (total + v) % (1 << 64)
        if total > _U63:
            raise _GoDurationError(f"invalid duration {_go_quote(orig)}")
    if neg:
        return -total
    if total > MAX_DURATION_NS:
        raise _GoDurationError(f"invalid duration {_go_quote(orig)}")
    return total


# --- numbers as flags and policy files spell them ------------------------------------------

#: A whole number in a flag or a policy-file text: one optional sign, then ASCII digits.
#: Python's ``int()`` reads more (``"1_0"`` is 10, ``"\u0661"`` is 1): a typo or a
#: look-alike digit must be refused, not read as some other number.
INTEGER_SYNTAX = re.compile(r"[+-]?[0-9]+", re.ASCII)
#: A decimal number in a flag or a policy-file text: Python's ``float()`` syntax
#: (Python reference, "Floating-point literals" and ``float()``: digits with an
#: optional point and exponent, or ``inf``/``infinity``/``nan``, one optional sign),
#: ASCII only and without the underscores ``float()`` allows between digits.
DECIMAL_SYNTAX = re.compile(
    r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)",
    re.ASCII | re.IGNORECASE,
)
#: Python's limit on the digits ``int()`` reads from a text
#: (``sys.int_info.default_max_str_digits``, leading zeros counted).
INT_TEXT_DIGITS = 4300


def read_integer(text: str) -> int:
    """The whole number ``text`` spells (:data:`INTEGER_SYNTAX`, surrounding whitespace
    ignored as ``int()`` ignores it).

    Raises ``ValueError`` when the text is no such number, ``OverflowError`` when it
    has more than :data:`INT_TEXT_DIGITS` digits (Python reads no more; the caller says
    which bound it is beyond).  One rule for ``cleanup run``'s whole-number flags and a
    policy file's ``steps``.
    """
    stripped = text.strip()
    if not INTEGER_SYNTAX.fullmatch(stripped):
        raise ValueError(f"{shown(text)} is not a whole number")
    if len(stripped.lstrip("+-")) > INT_TEXT_DIGITS:
        raise OverflowError(f"{shown(text)} has more than {INT_TEXT_DIGITS} digits")
    return int(stripped)


def read_decimal(text: str) -> float:
    """The float ``text`` spells (:data:`DECIMAL_SYNTAX`, surrounding whitespace ignored
    as ``float()`` ignores it); ``inf`` and ``nan`` are read, for the caller's range
    check to refuse.  Raises ``ValueError`` when the text is no such number.  One rule
    for ``cleanup run``'s decimal flags, a policy file's ``factor``/``jitter`` texts and
    a duration given as a bare number of seconds (:func:`parse_duration`).
    """
    stripped = text.strip()
    if not DECIMAL_SYNTAX.fullmatch(stripped):
        raise ValueError(f"{shown(text)} is not a number")
    return float(stripped)


_TOO_LONG = "is longer than Go's largest time.Duration (2562047h47m16.854775807s)"


def parse_duration(text: str | float, *, field_name: str = "duration") -> float:
    """Seconds from ``12.5``, ``"12.5"``, ``"10s"``, ``"500ms"`` or ``"1m30s"`` (Go syntax).

    Flags and policy files speak Go's duration syntax because the values being tuned are
    copied from (and back into) Go code.  The bound is Go's, exact to the nanosecond
    where the input can say so: Go syntax is read by :func:`go_parse_duration` (so
    "2562047h47m16.854775807s" is accepted and one nanosecond more refused, as Go's
    ``time.ParseDuration`` does), a bare decimal string (:func:`read_decimal`'s syntax:
    ASCII, no underscores) or an integer of seconds is compared exactly (decimal
    arithmetic).  A ``float`` (a TOML float is an IEEE 754
    binary64 by the TOML spec) cannot tell nanoseconds apart near the limit (its spacing
    there is about 2 µs), so it is compared with :data:`MAX_DURATION`, the float nearest
    Go's limit.  Negative, infinite and NaN values are refused.

    Returns float seconds; raises :class:`PolicyError` naming ``field_name``.
    """
    if isinstance(text, bool) or not isinstance(text, int | float | str):
        raise PolicyError(f"{field_name}: expected a duration, got {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise PolicyError(
                f"{field_name}: must be a finite number of seconds >= 0, got {shown(text)}"
            )
        if text * 1_000_000_000 > MAX_DURATION_NS:
            raise PolicyError(f"{field_name}: {shown(text)} {_TOO_LONG}")
        return float(text)
    if isinstance(text, float):
        value = text
    else:
        raw = text.strip()
        if not raw:
            raise PolicyError(f"{field_name}: empty duration")
        try:
            value = read_decimal(raw)
        except ValueError:
            value = math.nan  # not a bare number: Go's syntax
        else:
            if math.isfinite(value) and value >= 0:
                # a bare number of seconds: exact against Go's limit, whatever its spelling
                if Decimal(raw) >= _MAX_DECIMAL_SECONDS + Decimal("1e-9"):
                    raise PolicyError(f"{field_name}: {shown(text)} {_TOO_LONG}")
                return value
        if math.isnan(value) and raw.lower().lstrip("+-") != "nan":
            try:
                ns = go_parse_duration(raw)
            except _GoDurationError as exc:
                why = str(exc)
                if why.startswith("invalid duration") and _looks_like_go_duration(raw):
                    raise PolicyError(f"{field_name}: {shown(text)} {_TOO_LONG}") from None
                raise PolicyError(
                    f"{field_name}: {shown(text)} is not a duration "
                    f"(seconds, or Go syntax like 10s, 500ms, 1m30s: {why})"
                ) from None
            if ns < 0:
                raise PolicyError(
                    f"{field_name}: must be a finite number of seconds >= 0, got {shown(text)}"
                )
            return ns / 1e9
    if not math.isfinite(value) or value < 0:
        raise PolicyError(
            f"{field_name}: must be a finite number of seconds >= 0, got {shown(text)}"
        )
    if value > MAX_DURATION:
        raise PolicyError(f"{field_name}: {shown(text)} {_TOO_LONG}")
    return value


def _looks_like_go_duration(raw: str) -> bool:
    """Whether Go's "invalid duration" for ``raw`` can only be an overflow."""
    return (
        # [0-9], not \d: "\uff11s" is Go's "invalid duration" for a non-digit, no overflow
        re.fullmatch(
            r"[+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+", raw
        )
        is not None
    )


def shown(value: object) -> str:
    """A value as every message of the API quotes it: its ``repr`` (an ``int`` of 200
    bits or more: ``a huge integer``), at most 60 characters (inputs may be huge)."""
    text = (
        repr(value)
        if not isinstance(value, int)
        else (str(value) if value.bit_length() < 200 else "a huge integer")
    )
    return text if len(text) <= 60 else text[:57] + "..."


def _finite(value: float) -> bool:
    """Whether a number is a finite float64: NaN, the infinities and an ``int`` too large
    for a float64 are not (``math.isfinite`` raises ``OverflowError`` on such an int;
    Go's ``Factor``/``Jitter`` are ``float64`` and its durations int64 nanoseconds)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _format_seconds(value: float) -> str:
    return f"{value:g}s"


# --- the schedule ------------------------------------------------------------------------


def to_ns(seconds: float) -> int:
    """A policy's ``seconds`` (float, >= 0) as the ``time.Duration`` Go would hold: int
    nanoseconds, rounded to the nearest, at most :data:`MAX_DURATION_NS`.

    Where a policy's float seconds become Go's integer durations: :class:`Backoff`'s
    ``duration`` and ``cap`` before ``wait.Backoff.Step`` works on them
    (k8s.io/apimachinery ``pkg/util/wait``, ``Backoff.Duration``/``Cap``).
    """
    return min(MAX_DURATION_NS, round(seconds * 1e9))


def float_to_ns(value: float) -> int:
    """Go's conversion ``time.Duration(f)`` for a float ``value`` >= 0 in nanoseconds:
    truncated toward zero (Go spec, "Conversions between numeric types"), clamped to
    :data:`MAX_DURATION_NS` (beyond it Go's result is implementation-dependent).

    ``wait.Backoff.Step`` converts twice: ``time.Duration(float64(Duration) * Factor)``
    when the duration grows, ``time.Duration(rand.Float64() * Jitter *
    float64(duration))`` for the jitter.  Returns int nanoseconds.
    """
    if value >= MAX_DURATION_NS:
        return MAX_DURATION_NS
    return int(value)


def grow(base: float, factor: float, n: int) -> float:
    """``base * factor**n`` in float seconds, at most :data:`MAX_DURATION` (also when the
    power overflows): the un-jittered sleep ``n`` (0-based) of the ``full``, ``equal``
    and ``additive`` modes before their cap (Brooker's ``base * 2**attempt``,
    tenacity's ``initial * exp_base**(attempt-1)``).  ``base`` in seconds, ``factor`` and
    ``n`` >= 0.
    """
    try:
        value = base * factor**n
    except OverflowError:
        return MAX_DURATION
    return min(value, MAX_DURATION)


@dataclass(frozen=True)
class Backoff:
    """A schedule, described by the fields of Kubernetes ``wait.Backoff`` plus a mode.

    ``duration``, ``cap``: seconds.  ``steps``: the most attempts (>= 1).  ``cap`` None
    means no cap (Go's ``Cap: 0``).  See the module docstring for each mode's formula.
    """

    duration: float
    factor: float = 1.0
    jitter: float = 0.0
    steps: int = 1
    cap: float | None = None
    mode: Mode = "client-go"

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            # Go's loop would make zero attempts and OnError would return nil: success
            # without running anything.  Never what a caller means.
            raise PolicyError(f"steps must be an integer >= 1, got {shown(self.steps)}")
        if self.steps > MAX_STEPS:
            raise PolicyError(f"steps must be at most {MAX_STEPS}, got {shown(self.steps)}")
        for name in ("duration", "factor", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PolicyError(f"{name} must be a number, got {value!r}")
            if not _finite(value) or value < 0:
                raise PolicyError(f"{name} must be finite and >= 0, got {shown(value)}")
        for name in ("duration", "cap"):
            value = getattr(self, name)
            if isinstance(value, int | float) and value > MAX_DURATION:
                raise PolicyError(
                    f"{name} must be at most Go's largest time.Duration "
                    f"(2562047h47m16.854775807s), got {shown(value)}"
                )
        if self.cap is not None and (
            isinstance(self.cap, bool)
            or not isinstance(self.cap, int | float)
            or not _finite(self.cap)
            or self.cap <= 0
        ):
            raise PolicyError(
                f"cap must be a number of seconds > 0 (or none), got {shown(self.cap)}"
            )
        if self.mode not in MODES:
            raise PolicyError(f"mode must be one of {', '.join(MODES)}; got {self.mode!r}")

    def start(self, rng: random.Random) -> Schedule:
        """A fresh mutable schedule, as Go copies ``wait.Backoff`` into the loop."""
        return Schedule(self, rng)

    def delays(self, rng: random.Random) -> Iterator[float]:
        """The sleeps the retry loop performs when every attempt fails.

        Normally ``steps - 1`` of them.  In client-go mode with a cap that is reached,
        the loop ends after the sleep whose ``Step()`` hit the cap, so there are as many
        sleeps as attempts (the last one is the "trailing" sleep).
        """
        schedule = self.start(rng)
        while schedule.steps > 0:
            if schedule.steps == 1:
                return
            yield schedule.step()

    @property
    def attempts(self) -> int:
        """Attempts made when every attempt fails (independent of the jitter draws).

        ``steps``, unless (client-go mode) a ``Step()`` reaches the cap first: that step
        zeroes ``Steps`` and the loop ends after its sleep.  Computed on the durations
        alone, in at most ``steps`` integer steps, stopping early once the duration can
        no longer change (factor <= 1 or a truncation fixed point).
        """
        if self.mode != "client-go" or self.cap is None or self.factor == 0:
            return self.steps
        duration, cap = to_ns(self.duration), to_ns(self.cap)
        for made in range(1, self.steps):  # attempt ``made`` is followed by Step() no. made
            grown = float_to_ns(float(duration) * self.factor)
            if grown > cap:
                return made
            if self.factor <= 1 or grown == duration:
                return self.steps  # the duration never grows past the cap any more
            duration = grown
        return self.steps

    def bounds(self) -> list[tuple[float, float]]:
        """For each sleep in :meth:`delays`, its (lowest, supremum) over all jitter draws."""
        low = list(self.delays(_Fixed(0.0)))
        high = list(self.delays(_Fixed(1.0)))
        return list(zip(low, high, strict=True))

    def describe(self) -> str:
        cap = "none" if self.cap is None else _format_seconds(self.cap)
        jitter = f"{self.jitter:g}s" if self.mode == "additive" else f"{self.jitter:g}"
        return (
            f"{self.mode} steps={self.steps} duration={_format_seconds(self.duration)} "
            f"factor={self.factor:g} jitter={jitter} cap={cap}"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "steps": self.steps,
            "duration": self.duration,
            "factor": self.factor,
            "jitter": self.jitter,
            "cap": self.cap,
        }


class _Fixed(random.Random):
    """A "random" source stuck at one value, to compute the schedule's bounds exactly."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self._value = value

    def random(self) -> float:
        return self._value

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self._value


class Schedule:
    """The mutable state the loop steps through: Go's copy of ``wait.Backoff``.

    ``steps`` is the remaining step budget with Go's meaning; the loop runs while it is
    above zero and stops before sleeping when it is one.
    """

    def __init__(self, backoff: Backoff, rng: random.Random) -> None:
        self.backoff = backoff
        self.steps = backoff.steps
        self._rng = rng
        self._duration_ns = to_ns(backoff.duration)
        self._cap_ns = to_ns(backoff.cap) if backoff.cap is not None else 0
        self._index = 0  # sleeps produced so far (AWS and additive modes)
        self._previous = backoff.duration  # decorrelated mode

    def step(self) -> float:
        """The next sleep in seconds, advancing the schedule (Go's ``Backoff.Step``)."""
        if self.backoff.mode == "client-go":
            return self._step_client_go() / 1e9
        return self._step_other()

    def _jittered(self, duration_ns: int) -> int:
        if self.backoff.jitter > 0:
            extra = float_to_ns(self._rng.random() * self.backoff.jitter * float(duration_ns))
            return min(MAX_DURATION_NS, duration_ns + extra)
        return duration_ns

    def _step_client_go(self) -> int:
        if self.steps < 1:
            return self._jittered(self._duration_ns)
        self.steps -= 1
        duration = self._duration_ns
        if self.backoff.factor != 0:
            self._duration_ns = float_to_ns(float(self._duration_ns) * self.backoff.factor)
            if self._cap_ns > 0 and self._duration_ns > self._cap_ns:
                self._duration_ns = self._cap_ns
                self.steps = 0
        return self._jittered(duration)

    def _step_other(self) -> float:
        b = self.backoff
        n = self._index
        self._index += 1
        if self.steps > 0:
            self.steps -= 1
        cap = MAX_DURATION if b.cap is None else min(b.cap, MAX_DURATION)
        if b.mode == "full":
            return self._rng.uniform(0.0, min(cap, grow(b.duration, b.factor, n)))
        if b.mode == "equal":
            half = min(cap, grow(b.duration, b.factor, n)) / 2
            return half + self._rng.uniform(0.0, half)
        if b.mode == "decorrelated":
            upper = min(MAX_DURATION, max(b.duration, self._previous * b.factor))
            sleep = min(cap, self._rng.uniform(b.duration, upper))
            self._previous = sleep
            return sleep
        # additive (tenacity's wait_exponential_jitter)
        return min(cap, grow(b.duration, b.factor, n) + self._rng.uniform(0.0, b.jitter))

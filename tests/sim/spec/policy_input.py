"""What a policy file and ``cleanup run``'s policy flags accept, and what each refusal says.

Sources: README "cleanup: retry policy" (the file format and the flags) and "cleanup:
running it" (exit 64, "a message naming the flag, file, key or line"); the docstrings
of ``cleanup._policy_file`` (``get_policy``, ``policy_to_toml``) and
``cleanup.parse_duration``; Harvester's ``wait.Backoff`` whose fields these are
(``Duration``/``Cap`` a ``time.Duration``, ``Factor``/``Jitter`` a ``float64``,
``Steps`` an ``int``).  Restated here, importing nothing from ``cleanup``.

A **duration** (``backoff.duration``, ``backoff.cap``, ``deadline``; ``--duration``,
``--cap``, ``--deadline``) is a number of seconds or a text: the text, stripped of
surrounding whitespace, is either a decimal number of seconds (a decimal text, below),
read to the nanosecond as Go truncates (so at most Go's largest
``time.Duration``, 2562047h47m16.854775807s, exact), or Go syntax read by
``time.ParseDuration`` (:mod:`.go_duration`; the message carries Go's error without
its ``time: `` prefix), a negative result refused.  A TOML float is a binary64 and is
compared with the float nearest Go's limit.  Negative, NaN and infinite values are
refused.  In a file ``0`` means none for ``cap`` and ``deadline``; a flag must be
longer than ``0s``.

A **number** (``factor``, ``jitter``) is a finite float64 >= 0, given as a number or a
decimal text.  **steps** is an integer (a TOML integer, an integral float, or an
integer text) from 1 to :data:`MAX_STEPS`.

Numbers as texts (policy-file values and the flags ``--steps --factor --jitter
--duration --cap --deadline``; README "cleanup: running it", "Numbers"), surrounding
whitespace ignored: an **integer text** is one optional sign and ASCII digits
(:data:`INTEGER_TEXT`); a **decimal text** is Python's float literal syntax in ASCII
without underscores: one optional sign, then digits with an optional point and
exponent, or ``inf``/``infinity``/``nan`` in any case (:data:`DECIMAL_TEXT`).  Python's
``int()``/``float()`` read more (``1_0`` as 10, ``\uff11`` or ``\u0661`` as a digit):
those are refused as no number.  An integer text of more than 4300 digits (Python's
``int`` limit) is beyond every bound on its sign's side.  **mode** is one of
:data:`MODES`, **predicate** one of :data:`PREDICATES`, **name** a non-empty text
(default: the file's stem).  Keys other than these are refused, naming them; the
``[backoff]`` table and its ``duration`` are required; the defaults are ``factor 1.0``,
``jitter 0.0``, ``steps 1``, no cap, ``mode "client-go"``, ``predicate "v1.5"``, no
deadline.  ``--policy`` names a preset (:data:`PRESET_NAMES`) or a file; anything
else is refused naming it.

Values are shown in messages as Python's ``repr`` of the value read (an integer in
digits unless it has 200 bits or more: "a huge integer"), cut to 60 characters: a
longer one is its first 57 characters and ``...``.

**Through the Python API** (``Backoff(duration, factor, jitter, steps, cap, mode)``,
``Policy(..., deadline=)``: README "cleanup: retry policy", the fields of
``wait.Backoff`` in seconds) nothing is read from text: a duration, ``factor`` and
``jitter`` are numbers (an ``int`` or ``float``, never a ``bool`` or a text), finite and
>= 0, a duration at most Go's largest ``time.Duration`` (as a float: the binary64
nearest it; an integer of any size is compared exactly); ``steps`` an ``int`` (not a
``bool``, not a float) from 1 to :data:`MAX_STEPS`; ``cap`` and ``deadline`` None or
such a duration > 0 (``0`` is not "none" here: that is the files' and overrides'
spelling); ``mode`` one of :data:`MODES`.  A refusal is a ``PolicyError`` whose message
starts with the name of a refused field (:func:`api_refusals` gives the fields whose
values are refused; which one the message names when several are is not specified).

The functions return the loaded values (:class:`Loaded`) or the exact message.  Each
judges one defect at a time in the order the reader meets them: the file's keys,
``[backoff]``, ``name``, ``predicate``, ``backoff.duration`` present, ``cap``,
``duration``, ``factor``, ``jitter``, ``steps``, ``mode``, the schedule's ranges
(``steps``, then ``mode``), ``deadline``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.sim.spec import go_duration

__all__ = [
    "API_DEFAULTS",
    "API_FIELDS",
    "DECIMAL_TEXT",
    "INTEGER_TEXT",
    "MAX_NS",
    "MAX_STEPS",
    "MODES",
    "PREDICATES",
    "PRESET_NAMES",
    "ApiBackoff",
    "Loaded",
    "api_backoff",
    "api_refusals",
    "deadline_refused",
    "duration",
    "flag",
    "override",
    "policy_field_refused",
    "policy_file",
    "shown",
    "unknown_policy",
    "with_flags",
]

MAX_NS = 2**63 - 1  # Go's largest time.Duration
MAX_STEPS = 1_000_000  # README "Limits": --steps at most 1,000,000
MODES = ("client-go", "full", "equal", "decorrelated", "additive")
PREDICATES = ("v1.4", "v1.5")
_TOO_LONG = "is longer than Go's largest time.Duration (2562047h47m16.854775807s)"
_NOT_GO = "is not a duration (seconds, or Go syntax like 10s, 500ms, 1m30s: {why})"
#: an integer text (the module docstring)
INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
#: a decimal text (the module docstring)
DECIMAL_TEXT = re.compile(
    r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])"
)
_INT_DIGITS = 4300  # sys.int_info.default_max_str_digits
_TOP_KEYS = ("name", "predicate", "deadline", "backoff")
_BACKOFF_KEYS = ("mode", "steps", "duration", "factor", "jitter", "cap")
#: a text of Go duration terms (ASCII digits, a unit each), unsigned or "+": Go's
#: "invalid duration" for it can only be an overflow
_GO_TERMS = re.compile(
    r"[+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+"
)


@dataclass(frozen=True)
class Loaded:
    """A policy as loaded: durations in seconds (None: none), the schedule's fields."""

    name: str
    predicate: str
    deadline: float | None
    duration: float
    factor: float
    jitter: float
    steps: int
    cap: float | None
    mode: str


class _Refused(Exception):
    pass


def shown(value: object) -> str:
    """A value as the messages quote it (see the module docstring)."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value) if value.bit_length() < 200 else "a huge integer"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def duration(value: object, field: str) -> float | str:
    """A duration as ``parse_duration(value, field_name=field)`` reads it (the module
    docstring): seconds, or the ``PolicyError`` message refusing it."""
    try:
        return _duration(value, field)
    except _Refused as exc:
        return str(exc)


def _duration(value: object, field: str) -> float:
    """Seconds, or raise with the message (``field`` "" for a flag: no prefix)."""
    where = f"{field}: " if field else ""
    negative = f"{where}must be a finite number of seconds >= 0, got {shown(value)}"
    too_long = f"{where}{shown(value)} {_TOO_LONG}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Refused(f"{where}expected a duration, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise _Refused(negative)
        if value * 1_000_000_000 > MAX_NS:
            raise _Refused(too_long)
        return float(value)
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise _Refused(negative)
        if value > MAX_NS / 1e9:  # the binary64 nearest Go's limit
            raise _Refused(too_long)
        return value
    text = value.strip()
    if not text:
        raise _Refused(f"{where}empty duration")
    if DECIMAL_TEXT.fullmatch(text):
        seconds = float(text)
        if not math.isfinite(seconds) or seconds < 0:
            raise _Refused(negative)
        try:
            exact = Decimal(text)
        except InvalidOperation:  # pragma: no cover - float() read it, so Decimal does
            raise _Refused(negative) from None
        if math.floor(exact.scaleb(9)) > MAX_NS:  # truncated to the nanosecond, as Go
            raise _Refused(too_long)
        return seconds
    ns, error = go_duration.parse(text)
    if error is not None:
        if error.startswith("time: invalid duration") and _GO_TERMS.fullmatch(text):
            raise _Refused(too_long)
        raise _Refused(f"{where}{shown(value)} " + _NOT_GO.format(why=error.removeprefix("time: ")))
    assert ns is not None
    if ns < 0:
        raise _Refused(negative)
    return ns / 1e9


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Refused(f"{field}: expected a number, got {value!r}")
    if isinstance(value, str) and not DECIMAL_TEXT.fullmatch(value.strip()):
        raise _Refused(f"{field}: expected a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float64
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise _Refused(f"{field}: must be finite and >= 0, got {shown(value)}")
    return number


def _steps(value: object, field: str) -> int:
    if isinstance(value, bool):
        raise _Refused(f"{field}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and INTEGER_TEXT.fullmatch(value.strip()):
        if len(value.strip().lstrip("+-")) > _INT_DIGITS:  # Python's int() reads no more
            raise _Refused(f"{field}: {shown(value)} is too large")
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Refused(f"{field}: expected an integer, got {shown(value)}")


def _check_schedule(steps: int, mode: str) -> None:
    if steps < 1:
        raise _Refused(f"steps must be an integer >= 1, got {shown(steps)}")
    if steps > MAX_STEPS:
        raise _Refused(f"steps must be at most {MAX_STEPS}, got {shown(steps)}")
    if mode not in MODES:
        raise _Refused(f"mode must be one of {', '.join(MODES)}; got {mode!r}")


def policy_file(path: str, stem: str, data: dict[str, Any]) -> Loaded | str:
    """A policy file at ``path`` (file name without suffix ``stem``) whose TOML reads as
    ``data``: the loaded policy, or the :class:`PolicyError` message (it starts with
    the path and names the field)."""
    try:
        return _policy_file(stem, data)
    except _Refused as exc:
        return f"{path}: {exc}"


def _policy_file(stem: str, data: dict[str, Any]) -> Loaded:
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise _Refused(f"unknown key(s) {', '.join(unknown)}")
    table = data.get("backoff")
    if not isinstance(table, dict):
        raise _Refused("missing [backoff] table")
    unknown = sorted(set(table) - set(_BACKOFF_KEYS))
    if unknown:
        raise _Refused(f"unknown key(s) in [backoff]: {', '.join(unknown)}")
    name = data.get("name", stem)
    if not isinstance(name, str) or not name:
        raise _Refused("name must be a non-empty string")
    predicate = data.get("predicate", "v1.5")
    if not isinstance(predicate, str) or predicate not in PREDICATES:
        raise _Refused(f"predicate: must be one of {', '.join(PREDICATES)}; got {predicate!r}")
    if "duration" not in table:
        raise _Refused("backoff.duration is required")
    cap = _duration(table["cap"], "backoff.cap") or None if "cap" in table else None
    duration = _duration(table["duration"], "backoff.duration")
    factor = _number(table.get("factor", 1.0), "backoff.factor")
    jitter = _number(table.get("jitter", 0.0), "backoff.jitter")
    steps = _steps(table.get("steps", 1), "backoff.steps")
    mode = table.get("mode", "client-go")
    if not isinstance(mode, str):
        raise _Refused(f"backoff.mode: must be one of {', '.join(MODES)}; got {shown(mode)}")
    _check_schedule(steps, mode)
    deadline = _duration(data["deadline"], "deadline") or None if "deadline" in data else None
    return Loaded(name, predicate, deadline, duration, factor, jitter, steps, cap, mode)


#: the presets by name, in the README's order ("cleanup: retry policy")
PRESET_NAMES = (
    "harvester-v1.4",
    "harvester-v1.5",
    "client-go-default-retry",
    "client-go-default-backoff",
    "stamina-default",
)


def unknown_policy(name: str) -> str:
    """The message for ``--policy NAME`` that is no preset and no file."""
    return f"unknown policy {name!r}: not a preset ({', '.join(PRESET_NAMES)}) and no such file"


def _shorten(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def flag(name: str, text: str) -> float | int | str:
    """What ``cleanup run`` makes of ``--NAME TEXT`` (steps, duration, factor, jitter,
    cap, deadline): the value, or the message after ``argument --NAME: ``."""
    try:
        return _flag(name, text)
    except _Refused as exc:
        return str(exc)


def _flag(name: str, text: str) -> float | int:
    if name == "steps":
        stripped = text.strip()
        if not INTEGER_TEXT.fullmatch(stripped):
            raise _Refused(f"{_shorten(text)} is not a whole number")
        if len(stripped.lstrip("+-")) > _INT_DIGITS:  # beyond the bound its sign faces
            steps = -MAX_STEPS if stripped.startswith("-") else MAX_STEPS + 1
        else:
            steps = int(stripped)
        if steps < 1:
            raise _Refused(f"{_shorten(text)} is less than 1")
        if steps > MAX_STEPS:
            raise _Refused(f"{_shorten(text)} is more than {MAX_STEPS}")
        return steps
    if name in ("factor", "jitter"):
        if not DECIMAL_TEXT.fullmatch(text.strip()):
            raise _Refused(f"{text!r} is not a number")
        number = float(text)
        if not math.isfinite(number) or number < 0:
            raise _Refused(f"{text!r} must be a number >= 0")
        return number
    seconds = _duration(text, "")
    if seconds <= 0:
        raise _Refused(f"{text!r} must be longer than 0s")
    return seconds


def override(field: str, value: object) -> float | str | None:
    """What ``Policy.with_overrides(FIELD=value)`` (and ``get_policy(NAME,
    FIELD=value)``) sets a duration field (``duration``, ``cap``, ``deadline``) to, in
    seconds, or the refusal's message (README "cleanup: retry policy": durations are
    numbers or Go syntax, ``cap=0``/``deadline=0`` mean none, as in a file: ``0``,
    ``"0"``, ``"0s"``, ``"0ms"``, ``"0h"`` alike; the flags' "longer than 0s" is the
    command line's rule, not the API's)."""
    try:
        seconds = _duration(value, field)
    except _Refused as exc:
        return str(exc)
    if field in ("cap", "deadline") and seconds == 0:
        return None
    return seconds


def with_flags(base: Loaded, flags: dict[str, float | int]) -> Loaded:
    """``base`` with the flags' values (already read by :func:`flag`) in place."""
    return replace(base, **flags)  # type: ignore[arg-type]


# --- the Python API -----------------------------------------------------------------------

#: ``Backoff``'s fields and their defaults (README "cleanup: retry policy": Factor 1, no
#: Jitter, one step, no Cap, ``client-go``)
API_DEFAULTS: dict[str, object] = {
    "factor": 1.0,
    "jitter": 0.0,
    "steps": 1,
    "cap": None,
    "mode": "client-go",
}


#: ``Backoff``'s fields, in its order
API_FIELDS = ("duration", "factor", "jitter", "steps", "cap", "mode")


@dataclass(frozen=True)
class ApiBackoff:
    """What ``Backoff(**fields)`` holds when it is built: the values as given, the
    others :data:`API_DEFAULTS` (``spec.backoff.Fields``)."""

    duration: float
    factor: float
    jitter: float
    steps: int
    cap: float | None
    mode: str


def api_backoff(fields: dict[str, object]) -> ApiBackoff:
    """The fields a built ``Backoff(**fields)`` holds (``fields`` taken by
    :func:`api_refusals`)."""
    return ApiBackoff(**(API_DEFAULTS | fields))  # type: ignore[arg-type]


def _api_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _api_float64(value: object) -> bool:
    """Whether ``value`` is a number that is a finite float64 >= 0 (Go's ``Factor`` and
    ``Jitter`` are ``float64``: an integer too large for one is not)."""
    if not _api_number(value):
        return False
    assert isinstance(value, int | float)
    try:
        number = float(value)
    except OverflowError:
        return False
    return math.isfinite(number) and number >= 0


def _api_duration(value: object, *, positive: bool) -> bool:
    """Whether ``value`` is a duration the API takes (seconds as a number)."""
    if not _api_number(value):
        return False
    assert isinstance(value, int | float)
    if isinstance(value, int):  # exact: an int of any size, no float conversion
        return (value > 0 if positive else value >= 0) and value * 1_000_000_000 <= MAX_NS
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        return False
    return value <= MAX_NS / 1e9  # the binary64 nearest Go's limit


def api_refusals(fields: dict[str, object]) -> frozenset[str]:
    """The fields of ``Backoff(**fields)`` whose values the API refuses (empty: it is
    built).  ``fields`` must hold ``duration``; the others default to
    :data:`API_DEFAULTS`."""
    given = API_DEFAULTS | fields
    refused = set()
    if not _api_duration(given["duration"], positive=False):
        refused.add("duration")
    refused.update(name for name in ("factor", "jitter") if not _api_float64(given[name]))
    steps = given["steps"]
    if not (isinstance(steps, int) and not isinstance(steps, bool) and 1 <= steps <= MAX_STEPS):
        refused.add("steps")
    if given["cap"] is not None and not _api_duration(given["cap"], positive=True):
        refused.add("cap")
    if not isinstance(given["mode"], str) or given["mode"] not in MODES:
        refused.add("mode")
    return frozenset(refused)


def policy_field_refused(field: str, value: object) -> bool:
    """Whether ``Policy(..., FIELD=value)`` is refused for ``name``, ``predicate`` (a
    non-empty text: a label), ``retriable`` (a function of the error) or ``backoff`` (a
    schedule: an object with ``Backoff``'s fields, :data:`API_FIELDS`)."""
    if field in ("name", "predicate"):
        return not (isinstance(value, str) and value)
    if field == "retriable":
        return not callable(value)
    if field == "backoff":
        return not all(hasattr(value, name) for name in API_FIELDS)
    raise ValueError(f"no rule for Policy.{field}")


def deadline_refused(value: object) -> bool:
    """Whether ``Policy(..., deadline=value)`` is refused (None is no deadline)."""
    return value is not None and not _api_duration(value, positive=True)

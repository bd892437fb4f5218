"""``sim tune``'s grid: a spec of ``key=v1,v2`` tokens to the policies it names.

The keys are Backoff's and Policy's fields (``mode steps duration factor jitter cap
deadline predicate``); values are parsed by the same rules as ``cleanup run``'s flags
(:func:`cleanup.parse_duration`, :data:`cleanup.MODES`).  Each policy's name says what it
is (:func:`grid_policy_name`), and :func:`short_name` abbreviates it for tables and plots.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from cleanup import MODES, PREDICATES, PRESETS, Backoff, Policy, PolicyError, parse_duration

__all__ = [
    "DEFAULT_GRID",
    "GRID_KEYS",
    "GridError",
    "backoff_settings",
    "grid_policy_name",
    "parse_grid",
    "seconds_text",
    "short_name",
]

DEFAULT_GRID = "steps=10,30,60 duration=1s,5s,10s factor=1,1.5,2 jitter=0.1,1 mode=client-go,full"
GRID_KEYS = ("mode", "steps", "duration", "factor", "jitter", "cap", "deadline", "predicate")
_JITTER_UNUSED = ("full", "equal", "decorrelated")  # AWS modes ignore jitter


class GridError(ValueError):
    """A grid spec is unusable; the message names the token."""


def _grid_value(key: str, text: str, token: str) -> object:
    try:
        if not text.isascii():  # int()/float() read other scripts' digits too
            raise PolicyError(f"{text!r} is not ASCII (a look-alike digit?)")
        if key == "steps":
            if not text.strip().isdigit() or int(text) < 1:
                raise PolicyError(f"expected a whole number >= 1, got {text!r}")
            return int(text)
        if key in ("duration", "cap", "deadline"):
            if key != "duration" and text.strip().lower() in ("none", "0"):
                return None
            return parse_duration(text, field_name=key)
        if key in ("factor", "jitter"):
            value = float(text)
            if not math.isfinite(value) or value < 0:
                raise PolicyError(f"expected a finite number >= 0, got {text!r}")
            return value
        if key == "mode":
            if text not in MODES:
                raise PolicyError(f"expected one of {', '.join(MODES)}, got {text!r}")
            return text
        if text not in ("v1.4", "v1.5"):
            raise PolicyError(f"expected v1.4 or v1.5, got {text!r}")
        return text
    except (PolicyError, ValueError) as exc:
        raise GridError(f"grid token {token!r}: {key}: {exc}") from None


def seconds_text(seconds: float) -> str:
    """Seconds as a duration token (``5s``, ``1.5s``), as the grid and the flags spell it."""
    return f"{seconds:g}s"


def backoff_settings(backoff: Backoff, deadline: float | None) -> list[tuple[str, str]]:
    """``(key, value)`` pairs that say a backoff and deadline, as grid tokens and
    ``cleanup run`` flags spell them: steps, duration, factor, jitter (unless the mode
    ignores it), cap and deadline (when set)."""
    pairs = [
        ("steps", str(backoff.steps)),
        ("duration", seconds_text(backoff.duration)),
        ("factor", f"{backoff.factor:g}"),
    ]
    if backoff.mode not in _JITTER_UNUSED:
        pairs.append(("jitter", f"{backoff.jitter:g}"))
    if backoff.cap is not None:
        pairs.append(("cap", seconds_text(backoff.cap)))
    if deadline is not None:
        pairs.append(("deadline", seconds_text(deadline)))
    return pairs


def grid_policy_name(backoff: Backoff, predicate: str, deadline: float | None) -> str:
    """A short, unique name that says what the policy is."""
    parts = [
        backoff.mode,
        *(f"{key}={value}" for key, value in backoff_settings(backoff, deadline)),
    ]
    if predicate != "v1.5":
        parts.append(f"predicate={predicate}")
    return " ".join(parts)


def parse_grid(spec: str, *, budget: float | None = None) -> list[Policy]:
    """Every combination of the grid's values, as policies (duplicates removed).

    ``spec``: space-separated ``key=v1,v2,...`` tokens; keys are
    ``mode steps duration factor jitter cap deadline predicate``.  Keys left out take
    ``harvester-v1.5``'s values; ``deadline`` defaults to ``budget``.  The AWS modes
    ignore ``jitter``, so their policies that differ only in it are one policy.
    """
    base = PRESETS["harvester-v1.5"]
    choices: dict[str, list[object]] = {}
    tokens = spec.split()
    if not tokens:
        raise GridError("grid: empty (expected tokens like steps=10,30 duration=1s,5s)")
    for token in tokens:
        key, sep, values = token.partition("=")
        if not sep:
            raise GridError(f"grid token {token!r}: expected key=value[,value...]")
        if key not in GRID_KEYS:
            raise GridError(
                f"grid token {token!r}: unknown key {key!r} (one of {', '.join(GRID_KEYS)})"
            )
        if key in choices:
            raise GridError(f"grid token {token!r}: {key} given twice")
        items = values.split(",")
        if any(not item.strip() for item in items):
            raise GridError(f"grid token {token!r}: empty value")
        choices[key] = [_grid_value(key, item.strip(), token) for item in items]
    b = base.backoff

    def axis(key: str, default: object) -> list[Any]:
        return list(choices.get(key, [default]))

    policies: list[Policy] = []
    seen: set[tuple[Backoff, str, float | None]] = set()
    for mode, steps, duration, factor, jitter, cap, deadline, predicate in itertools.product(
        axis("mode", b.mode),
        axis("steps", b.steps),
        axis("duration", b.duration),
        axis("factor", b.factor),
        axis("jitter", b.jitter),
        axis("cap", b.cap),
        axis("deadline", budget),
        axis("predicate", base.predicate),
    ):
        try:
            backoff = Backoff(
                duration=duration,
                factor=factor,
                jitter=0.0 if mode in _JITTER_UNUSED else jitter,
                steps=steps,
                cap=cap,
                mode=mode,
            )
        except PolicyError as exc:
            raise GridError(f"grid: {exc}") from None
        identity = (backoff, predicate, deadline)
        if identity in seen:
            continue
        seen.add(identity)
        policies.append(
            Policy(
                grid_policy_name(backoff, predicate, deadline),
                backoff,
                PREDICATES[predicate],
                predicate=predicate,
                deadline=deadline,
            )
        )
    return policies


def short_name(name: str) -> str:
    """A grid policy's name, abbreviated for the table (``cg s30 d10s f1 j0.1``)."""
    for long, short in (("client-go ", "cg "), ("steps=", "s"), ("duration=", "d"),
                        ("factor=", "f"), ("jitter=", "j"), ("cap=", "cap"),
                        ("deadline=", "dl"), ("predicate=", "")):  # fmt: skip
        name = name.replace(long, short)
    return name

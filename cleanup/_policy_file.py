"""Policy files: reading a TOML policy file into a :class:`~cleanup.Policy` (or taking a
preset by name: :func:`get_policy`), and writing one back (:func:`policy_to_toml`).

The I/O half of the policy: the rules a file's fields must meet are the same
:class:`~cleanup.Policy` and :class:`~cleanup.Backoff` checks as for any other input;
only the reading, the key checks and the error messages naming the file live here.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from cleanup._files import MAX_CONFIG_BYTES, read_regular_file, utf8_text
from cleanup._policy import PREDICATES, PRESETS, Policy, _integer, _mode, _number, _predicate_name
from cleanup._schedule import Backoff, PolicyError, parse_duration, shown

__all__ = ["get_policy", "policy_to_toml"]


def get_policy(name_or_file: str | os.PathLike[str], **overrides: object) -> Policy:
    """A preset by name, or a policy file (TOML, see :func:`policy_to_toml`), then overrides."""
    key = os.fspath(name_or_file)
    if key in PRESETS:
        policy = PRESETS[key]
    else:
        path = Path(key)
        if not path.exists():
            raise PolicyError(
                f"unknown policy {key!r}: not a preset ({', '.join(PRESETS)}) and no such file"
            )
        policy = _load_policy(path)
    return policy.with_overrides(**overrides)


_TOP_KEYS = {"name", "predicate", "deadline", "backoff"}
_BACKOFF_KEYS = {"mode", "steps", "duration", "factor", "jitter", "cap"}


def _load_policy(path: Path) -> Policy:
    try:
        raw = read_regular_file(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror or exc}") from exc
    try:
        text = utf8_text(raw, "TOML")
    except ValueError as exc:
        raise PolicyError(f"{path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from exc
    except RecursionError:
        raise PolicyError(f"{path}: not valid TOML: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise PolicyError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise PolicyError(f"{path}: unknown key(s) {', '.join(unknown)}")
    table = data.get("backoff")
    if not isinstance(table, dict):
        raise PolicyError(f"{path}: missing [backoff] table")
    unknown = sorted(set(table) - _BACKOFF_KEYS)
    if unknown:
        raise PolicyError(f"{path}: unknown key(s) in [backoff]: {', '.join(unknown)}")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{path}: name must be a non-empty string")
    predicate = _predicate_name(data.get("predicate", "v1.5"), f"{path}: predicate")
    try:
        if "duration" not in table:
            raise PolicyError("backoff.duration is required")
        cap = None
        if "cap" in table:
            cap = parse_duration(table["cap"], field_name="backoff.cap") or None
        backoff = Backoff(
            duration=parse_duration(table["duration"], field_name="backoff.duration"),
            factor=_number(table.get("factor", 1.0), "backoff.factor"),
            jitter=_number(table.get("jitter", 0.0), "backoff.jitter"),
            steps=_integer(table.get("steps", 1), "backoff.steps"),
            cap=cap,
            mode=_mode(table.get("mode", "client-go")),
        )
        deadline = None
        if "deadline" in data:
            deadline = parse_duration(data["deadline"], field_name="deadline") or None
        return Policy(name, backoff, PREDICATES[predicate], predicate=predicate, deadline=deadline)
    except PolicyError as exc:
        raise PolicyError(f"{path}: {exc}") from None


def _toml_string(text: str) -> str:
    # a TOML basic string: backslash and quote escaped, control characters (C0, DEL)
    # as \uXXXX; every other character, astral ones included, written as itself
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(ch if ch >= " " and ch != "\x7f" else f"\\u{ord(ch):04x}" for ch in escaped)
    return f'"{escaped}"'


def _toml_float(value: float) -> str:
    text = repr(float(value))
    return text if ("." in text or "e" in text) else f"{text}.0"


def _is_unicode_text(text: str) -> bool:
    # a Python str may hold lone surrogates (U+D800-U+DFFF); UTF-8 and TOML cannot
    return not any("\ud800" <= ch <= "\udfff" for ch in text)


def policy_to_toml(policy: Policy) -> str:
    """The policy as a file :func:`get_policy` reads back into an equal policy (the
    text, to be written as UTF-8).

    Raises :class:`PolicyError` for a policy whose predicate is not one of
    :data:`PREDICATES` (a function cannot be saved) or whose name holds a lone
    surrogate (not Unicode text: TOML 1.0 strings are Unicode scalar values).
    """
    if policy.predicate not in PREDICATES or PREDICATES[policy.predicate] is not policy.retriable:
        raise PolicyError(
            f"policy {policy.name!r} uses a predicate that is not one of "
            f"{', '.join(PREDICATES)}; it cannot be saved"
        )
    if not _is_unicode_text(policy.name):
        raise PolicyError(
            f"policy name {shown(policy.name)} holds a lone surrogate, which no UTF-8 file "
            "(and no TOML string) can hold; it cannot be saved"
        )
    b = policy.backoff
    lines = [
        "# retry policy for `cleanup run --policy FILE`; durations in seconds",
        f"name = {_toml_string(policy.name)}",
        f"predicate = {_toml_string(policy.predicate)}",
    ]
    if policy.deadline is not None:
        lines.append(f"deadline = {_toml_float(policy.deadline)}")
    lines += [
        "",
        "[backoff]",
        f"mode = {_toml_string(b.mode)}",
        f"steps = {b.steps}",
        f"duration = {_toml_float(b.duration)}",
        f"factor = {_toml_float(b.factor)}",
        f"jitter = {_toml_float(b.jitter)}",
    ]
    if b.cap is not None:
        lines.append(f"cap = {_toml_float(b.cap)}")
    return "\n".join(lines) + "\n"

"""A retry policy: a backoff schedule, a retriable-error predicate and a deadline;
the presets.

Pure logic: no I/O (policy files are read by :mod:`cleanup._policy_file`).

Predicates reproduce Harvester's ``util.IsRetriableNetworkError`` as we read the
reference (/work/shared/reference/harvester-image-cleanup.md: "connection refused,
reset, network down/unreachable, host unreachable, timed out (any timeout), and DNS
errors" with the flags below; "any timeout" read as Go's ``Timeout()`` through the
error chain, as ``os.IsTimeout`` looks for it; not a quote of Harvester's source)::

    os.IsTimeout(err) || errors.Is(err, ENETDOWN|ENETUNREACH|ECONNRESET|ETIMEDOUT|
                                        ECONNREFUSED|EHOSTUNREACH) ||
    errors.As(err, &dnsError) && (dnsError.IsTemporary                         // v1.4
                                  || dnsError.IsTimeout || dnsError.IsNotFound) // v1.5

``os.IsTimeout`` is checked first and sees through ``url.Error`` and ``net.OpError`` to
``DNSError.Timeout()``, so a DNS *timeout* was retried already in v1.4; what v1.5 added
that matters is ``IsNotFound`` ("no such host").  HTTP status errors and invalid lists
are never retried.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

from cleanup._errors import CleanupError, ConnectError, DNSError, RequestTimeout
from cleanup._schedule import (
    MAX_DURATION,
    MODES,
    Backoff,
    Mode,
    PolicyError,
    _finite,
    parse_duration,
    read_decimal,
    read_integer,
    shown,
)

__all__ = [
    "PREDICATES",
    "PRESETS",
    "Policy",
    "PredicateName",
    "retriable_v14",
    "retriable_v15",
]


#: Which Harvester release's ``IsRetriableNetworkError`` decides what is retried.
PredicateName = Literal["v1.4", "v1.5"]
_PREDICATE_NAMES: dict[str, PredicateName] = {name: name for name in get_args(PredicateName)}


# --- predicates ---------------------------------------------------------------------------

# Harvester's IsRetriableNetworkError: ECONNREFUSED, ECONNRESET, ENETUNREACH,
# EHOSTUNREACH, ENETDOWN, ETIMEDOUT (errors.Is through the chain).
_RETRIABLE_CONNECT = frozenset(
    {"refused", "reset", "network-unreachable", "host-unreachable", "network-down", "timed-out"}
)


def _network_retriable(err: CleanupError) -> bool:
    if isinstance(err, RequestTimeout):  # os.IsTimeout / ETIMEDOUT
        return True
    if isinstance(err, ConnectError):
        # errors.Is finds the six errnos; os.IsTimeout sees any other errno's Timeout()
        # (EAGAIN) through *url.Error and *net.OpError
        return err.reason in _RETRIABLE_CONNECT or err.is_timeout
    return False


def retriable_v14(err: CleanupError) -> bool:
    """Harvester v1.4.x: DNS errors only when temporary (or timed out, via os.IsTimeout)."""
    if isinstance(err, DNSError):
        return err.is_temporary or err.is_timeout
    return _network_retriable(err)


def retriable_v15(err: CleanupError) -> bool:
    """Harvester v1.5.0 (the fix): DNS errors when temporary, timed out or not found."""
    if isinstance(err, DNSError):
        return err.is_temporary or err.is_timeout or err.is_not_found
    return _network_retriable(err)


#: The retriable-error rules by :data:`PredicateName`.
PREDICATES: Mapping[str, Callable[[CleanupError], bool]] = MappingProxyType(
    {"v1.4": retriable_v14, "v1.5": retriable_v15}
)


# --- policies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """What to retry, how long to wait in between, and when to stop."""

    name: str
    backoff: Backoff
    retriable: Callable[[CleanupError], bool] = field(compare=False)
    #: a preset predicate's name (:data:`PredicateName`: what a policy file can name and
    #: the evaluator can model) or the label of a custom ``retriable``, shown in reports
    predicate: str = "v1.5"
    deadline: float | None = None

    def __post_init__(self) -> None:
        # a wrong type here would surface mid-run as an AttributeError or TypeError (a
        # traceback at the first failed attempt); refused up front, naming the field
        if not isinstance(self.name, str) or not self.name:
            raise PolicyError(f"name must be a non-empty string, got {shown(self.name)}")
        if not isinstance(self.backoff, Backoff):
            raise PolicyError(f"backoff must be a Backoff, got {shown(self.backoff)}")
        if not callable(self.retriable):
            raise PolicyError(
                "retriable must be a function of a CleanupError (e.g. retriable_v15), "
                f"got {shown(self.retriable)}"
            )
        if not isinstance(self.predicate, str) or not self.predicate:
            raise PolicyError(
                f"predicate must be a non-empty string (a label), got {shown(self.predicate)}"
            )
        if self.deadline is not None and (
            isinstance(self.deadline, bool)
            or not isinstance(self.deadline, int | float)
            or not _finite(self.deadline)
            or self.deadline <= 0
            or self.deadline > MAX_DURATION
        ):
            raise PolicyError(
                "deadline must be seconds > 0 and at most Go's largest time.Duration "
                f"(or none), got {shown(self.deadline)}"
            )

    def with_overrides(self, **overrides: object) -> Policy:
        """This policy with some fields replaced; ``None`` values are ignored.

        Keys: steps, duration, factor, jitter, cap, mode, deadline, predicate.  ``cap=0``
        means no cap (as ``Cap: 0`` in Go) and ``deadline=0`` no deadline (as stamina's
        ``timeout=None``).  Durations may be numbers or Go duration strings.
        """
        given = {key: value for key, value in overrides.items() if value is not None}
        unknown = sorted(set(given) - _OVERRIDABLE)
        if unknown:
            raise PolicyError(
                f"unknown policy field(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_OVERRIDABLE))}"
            )
        if not given:
            return self
        schedule: dict[str, Any] = {}
        for key in ("duration", "cap"):
            if key in given:
                seconds = parse_duration(given[key], field_name=key)  # type: ignore[arg-type]
                schedule[key] = None if key == "cap" and seconds == 0 else seconds
        for key in ("factor", "jitter"):
            if key in given:
                schedule[key] = _number(given[key], key)
        if "steps" in given:
            schedule["steps"] = _integer(given["steps"], "steps")
        if "mode" in given:
            schedule["mode"] = given["mode"]
        backoff = replace(self.backoff, **schedule)
        deadline = self.deadline
        if "deadline" in given:
            seconds = parse_duration(given["deadline"], field_name="deadline")  # type: ignore[arg-type]
            deadline = None if seconds == 0 else seconds
        predicate, retriable = self.predicate, self.retriable
        if "predicate" in given:
            predicate = _predicate_name(given["predicate"], "predicate")
            retriable = PREDICATES[predicate]
        changed = ", ".join(f"{key}={given[key]}" for key in sorted(given))
        return Policy(
            f"{self.name} ({changed})", backoff, retriable, predicate=predicate, deadline=deadline
        )

    def describe(self) -> str:
        deadline = "no deadline" if self.deadline is None else f"deadline {self.deadline:g}s"
        retries = _PREDICATE_TEXT.get(self.predicate, self.predicate)
        return f"{self.name}: {self.backoff.describe()}; retries {retries}; {deadline}"

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "predicate": self.predicate,
            "deadline": self.deadline,
            "backoff": self.backoff.to_dict(),
        }


_OVERRIDABLE = frozenset(
    {"steps", "duration", "factor", "jitter", "cap", "mode", "deadline", "predicate"}
)

_PREDICATE_TEXT = {
    "v1.4": "network errors and DNS temporary/timeout (v1.4)",
    "v1.5": "network errors and DNS temporary/timeout/not-found (v1.5)",
}


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PolicyError(f"{name}: expected a number, got {value!r}")
    try:
        number = read_decimal(value) if isinstance(value, str) else float(value)
    except ValueError:
        raise PolicyError(f"{name}: expected a number, got {value!r}") from None
    except OverflowError:  # an integer too large for a float64
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise PolicyError(f"{name}: must be finite and >= 0, got {shown(value)}")
    return number


def _mode(value: object) -> Mode:
    if not isinstance(value, str):
        raise PolicyError(f"backoff.mode: must be one of {', '.join(MODES)}; got {shown(value)}")
    return cast(Mode, value)  # Backoff refuses any other string, naming the field


def _integer(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise PolicyError(f"{name}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    # one optional sign, then ASCII digits ("+-5", "1_0" or "²" is no integer, not
    # "too large")
    if isinstance(value, str):
        try:
            return read_integer(value)
        except OverflowError:  # more digits than Python converts
            raise PolicyError(f"{name}: {shown(value)} is too large") from None
        except ValueError:
            pass
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise PolicyError(f"{name}: expected an integer, got {shown(value)}")


def _predicate_name(value: object, where: str) -> PredicateName:
    if not isinstance(value, str) or value not in PREDICATES:
        raise PolicyError(f"{where}: must be one of {', '.join(PREDICATES)}; got {value!r}")
    return _PREDICATE_NAMES[value]


def _harvester(name: str, predicate: PredicateName) -> Policy:
    # pkg/controller/master/upgrade/upgrade_repo.go getImagesDiffList
    backoff = Backoff(duration=10.0, factor=1.0, jitter=0.1, steps=30)
    return Policy(name, backoff, PREDICATES[predicate], predicate=predicate)


#: Named policies: Harvester v1.4 and v1.5, client-go's defaults, stamina's defaults.
PRESETS: Mapping[str, Policy] = MappingProxyType(
    {
        "harvester-v1.4": _harvester("harvester-v1.4", "v1.4"),
        "harvester-v1.5": _harvester("harvester-v1.5", "v1.5"),
        # k8s.io/client-go/util/retry: DefaultRetry {Steps 5, Duration 10ms, Factor 1.0,
        # Jitter 0.1} and DefaultBackoff {Steps 4, Duration 10ms, Factor 5.0, Jitter 0.1}.
        "client-go-default-retry": Policy(
            "client-go-default-retry",
            Backoff(duration=0.01, factor=1.0, jitter=0.1, steps=5),
            retriable_v15,
            predicate="v1.5",
        ),
        "client-go-default-backoff": Policy(
            "client-go-default-backoff",
            Backoff(duration=0.01, factor=5.0, jitter=0.1, steps=4),
            retriable_v15,
            predicate="v1.5",
        ),
        # stamina.retry defaults: attempts=10, timeout=45.0, wait_initial=0.1,
        # wait_max=5.0, wait_jitter=1.0, wait_exp_base=2.0 (tenacity
        # wait_exponential_jitter + stop_after_attempt | stop_after_delay).  One
        # approximation: tenacity's stop_after_delay(45) is checked after a failed
        # attempt, so stamina may still sleep across the 45 s mark and start one more
        # attempt; our deadline refuses a sleep that would cross it.  stamina retries
        # by exception type; we use the v1.5 predicate.
        "stamina-default": Policy(
            "stamina-default",
            Backoff(duration=0.1, factor=2.0, jitter=1.0, steps=10, cap=5.0, mode="additive"),
            retriable_v15,
            predicate="v1.5",
            deadline=45.0,
        ),
    }
)

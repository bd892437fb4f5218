"""What the retry loop reports as it runs: one event per step, in order.

For each attempt :class:`AttemptStarted` then :class:`Succeeded` or
:class:`AttemptFailed`; after a failure :class:`Sleeping` or :class:`Abandoned`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cleanup._errors import CleanupError, ErrorKind, StatusKind, StopReason

__all__ = ["Abandoned", "AttemptFailed", "AttemptStarted", "Event", "Sleeping", "Succeeded"]


# --- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptStarted:
    attempt: int
    of: int
    at: float


@dataclass(frozen=True)
class AttemptFailed:
    """``retry_in`` is the sleep before the next attempt; None when none will follow.

    ``kind`` is :func:`cleanup.error_kind` of ``error``: an :data:`cleanup.ErrorKind`, or
    a :data:`cleanup.StatusKind` (``http status N``).
    """

    attempt: int
    of: int
    at: float
    error: CleanupError
    kind: ErrorKind | StatusKind
    retriable: bool
    retry_in: float | None = None


@dataclass(frozen=True)
class Sleeping:
    """``attempt`` is the failed attempt the sleep follows.

    ``trailing``: client-go mode's capped last sleep after which no attempt is made.
    """

    attempt: int
    seconds: float
    at: float
    trailing: bool = False


@dataclass(frozen=True)
class Succeeded:
    attempt: int
    at: float
    elapsed: float = 0.0


@dataclass(frozen=True)
class Abandoned:
    """The loop ended without success; ``reason`` is not-retriable, schedule or deadline."""

    attempts: int
    at: float
    elapsed: float
    error: CleanupError
    reason: StopReason


#: Any event :func:`cleanup.retry` reports.
Event = AttemptStarted | AttemptFailed | Sleeping | Succeeded | Abandoned

"""What a cleanup reports while it runs: the events, in the order they happen.

The retry loop (:func:`cleanup.retry`) reports :class:`AttemptStarted`, then
:class:`Succeeded` or :class:`AttemptFailed`; after a failure :class:`Sleeping` or
:class:`Abandoned` (the loop ended without success; the exception it raises then is
:class:`cleanup.RetriesExhausted`, or the non-retriable error itself).
:func:`cleanup.run_cleanup` adds :class:`ImageRemoved` and :class:`ImageRemovalFailed`
per image; :class:`cleanup.StubResolver` reports each DNS exchange as a
:class:`QueryEvent` (over a :data:`DNSTransport`).  Events are frozen dataclasses;
times are the run's clock readings, in seconds.
"""

from cleanup._events import Abandoned, AttemptFailed, AttemptStarted, Event, Sleeping, Succeeded
from cleanup._resolver import DNSTransport, QueryEvent
from cleanup._run import ImageRemovalFailed, ImageRemoved

__all__ = [
    "Abandoned",
    "AttemptFailed",
    "AttemptStarted",
    "DNSTransport",
    "Event",
    "ImageRemovalFailed",
    "ImageRemoved",
    "QueryEvent",
    "Sleeping",
    "Succeeded",
]

"""Go's ``time.Duration`` arithmetic as cleanup does it, for those who model the schedule.

Go counts durations and deadlines in integer nanoseconds (``time.Duration`` is an
int64); cleanup's policies and clocks speak float seconds.  The retry schedule
(:class:`cleanup.Backoff`) and the HTTP deadline (:func:`cleanup.make_http_client`) cross
between the two with these rules, and the simulation's vectorised evaluator, which
recomputes every row's sleeps and deadlines bit for bit, uses the same ones, so both
follow one copy:

* :data:`MAX_DURATION_NS`: Go's largest ``time.Duration``; every duration is clamped to
  it (:data:`cleanup.MAX_DURATION` is the same limit in seconds);
* :func:`to_ns`: a policy's seconds as the ``time.Duration`` Go would hold (rounded);
* :func:`float_to_ns`: Go's ``time.Duration(f)`` conversion (truncated), which
  ``wait.Backoff.Step`` applies to the grown duration and to the jitter;
* :func:`grow`: ``base * factor**n`` seconds, clamped, the growth of the non-Go modes;
* :data:`HALF_NS`: the tolerance at which a float-seconds clock reaches a deadline, as
  Go's integer clock would.

The rules and their sources are written out in ``cleanup._schedule`` (the schedule) and
``cleanup._exchange`` (the deadline).
"""

from cleanup._exchange import HALF_NS
from cleanup._schedule import MAX_DURATION_NS, float_to_ns, grow, to_ns

__all__ = ["HALF_NS", "MAX_DURATION_NS", "float_to_ns", "grow", "to_ns"]

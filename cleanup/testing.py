"""Test helpers for cleanup: a clock whose sleeps return at once.

Kept apart from the production API, as trio keeps its mock clock in ``trio.testing``
and httpx its ``MockTransport`` apart.  Named apart from ``faultdns.testing.ManualClock``
(a clock that moves only when told to): :class:`FastForwardClock` moves itself forward
by every sleep.
"""

from cleanup._clock import FastForwardClock

__all__ = ["FastForwardClock"]

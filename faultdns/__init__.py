"""faultdns: a DNS server that answers from a zone and fails on command."""

from faultdns._clock import Clock, ManualClock, MonotonicClock

__all__ = ["Clock", "ManualClock", "MonotonicClock"]

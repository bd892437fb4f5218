"""faultdns: a DNS server that answers from a zone and fails on command."""

from faultdns._clock import Clock, ManualClock, MonotonicClock
from faultdns._faults import FaultRule, FaultSpecError, load_plan, parse_duration, parse_fault
from faultdns._server import FaultDNSServer, QueryRecord
from faultdns._zone import Zone, ZoneError

__all__ = [
    "Clock",
    "FaultDNSServer",
    "FaultRule",
    "FaultSpecError",
    "ManualClock",
    "MonotonicClock",
    "QueryRecord",
    "Zone",
    "ZoneError",
    "load_plan",
    "parse_duration",
    "parse_fault",
]

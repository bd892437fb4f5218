"""faultdns: a DNS server that answers from a zone and fails on command."""

import retrylab_entry  # noqa: F401  (first: Ctrl-C under python -m; see that module)
from faultdns._clock import Clock, ManualClock, MonotonicClock
from faultdns._faults import (
    ACTIONS,
    RCODE_NAMES,
    FaultRule,
    FaultSpecError,
    load_plan,
    parse_duration,
    parse_fault,
    parse_plan,
    parse_rcode,
)
from faultdns._server import FaultDNSServer, QueryRecord
from faultdns._unreachable import free_udp_port
from faultdns._zone import Zone, ZoneError

__all__ = [
    "ACTIONS",
    "RCODE_NAMES",
    "Clock",
    "FaultDNSServer",
    "FaultRule",
    "FaultSpecError",
    "ManualClock",
    "MonotonicClock",
    "QueryRecord",
    "Zone",
    "ZoneError",
    "free_udp_port",
    "load_plan",
    "parse_duration",
    "parse_fault",
    "parse_plan",
    "parse_rcode",
]

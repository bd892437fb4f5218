"""faultdns: a DNS server that answers from a zone and fails on command.

``ManualClock`` lives in :mod:`faultdns.testing` (test helpers, as ``trio.testing``);
``faultdns.ManualClock`` is the same class, kept because code written against the
older path still uses it.
"""

import retrylab_entry  # noqa: F401  (first: Ctrl-C under python -m; see that module)
from faultdns._clock import Clock, ClockListener, ListenerClock, MonotonicClock
from faultdns._faults import (
    ACTIONS,
    RCODE_NAMES,
    Action,
    FaultRule,
    FaultSpecError,
    parse_duration,
    parse_fault,
    parse_rcode,
)
from faultdns._patch import patch_getaddrinfo
from faultdns._plan import load_plan, parse_plan
from faultdns._querylog import QueryRecord
from faultdns._server import FaultDNSServer
from faultdns._unreachable import free_udp_port
from faultdns._zone import Resolution, Zone, ZoneError
from faultdns.testing import ManualClock

__all__ = [
    "ACTIONS",
    "RCODE_NAMES",
    "Action",
    "Clock",
    "ClockListener",
    "FaultDNSServer",
    "FaultRule",
    "FaultSpecError",
    "ListenerClock",
    "ManualClock",
    "MonotonicClock",
    "QueryRecord",
    "Resolution",
    "Zone",
    "ZoneError",
    "free_udp_port",
    "load_plan",
    "parse_duration",
    "parse_fault",
    "parse_plan",
    "parse_rcode",
    "patch_getaddrinfo",
]

"""cleanup: the image cleanup run at the end of an upgrade, with a DNS-aware retry policy."""

from cleanup._classify import error_kind, to_error
from cleanup._clock import Clock, ManualClock, SystemClock
from cleanup._errors import (
    CleanupError,
    ConnectError,
    DNSError,
    HTTPStatusError,
    ImageListError,
    RequestTimeout,
    UnexpectedError,
)
from cleanup._resolvconf import ResolvConf, ResolvConfError, parse_resolv_conf, read_resolv_conf
from cleanup._resolver import QueryEvent, Resolver, StubResolver, SystemResolver
from cleanup._transport import ClockNetworkBackend, make_http_client

__all__ = [
    "CleanupError",
    "Clock",
    "ClockNetworkBackend",
    "ConnectError",
    "DNSError",
    "HTTPStatusError",
    "ImageListError",
    "ManualClock",
    "QueryEvent",
    "RequestTimeout",
    "ResolvConf",
    "ResolvConfError",
    "Resolver",
    "StubResolver",
    "SystemClock",
    "SystemResolver",
    "UnexpectedError",
    "error_kind",
    "make_http_client",
    "parse_resolv_conf",
    "read_resolv_conf",
    "to_error",
]

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

__all__ = [
    "CleanupError",
    "Clock",
    "ConnectError",
    "DNSError",
    "HTTPStatusError",
    "ImageListError",
    "ManualClock",
    "RequestTimeout",
    "SystemClock",
    "UnexpectedError",
    "error_kind",
    "to_error",
]

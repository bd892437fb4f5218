"""cleanup: the image cleanup run at the end of an upgrade, with a DNS-aware retry policy."""

from cleanup._clock import Clock, ManualClock, SystemClock
from cleanup._errors import (
    CleanupError,
    ConnectError,
    DNSError,
    HTTPStatusError,
    ImageListError,
    RequestTimeout,
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
]

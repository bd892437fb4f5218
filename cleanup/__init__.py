"""cleanup: the image cleanup run at the end of an upgrade, with a DNS-aware retry policy.

The main API is here; what a run reports as it goes is in :mod:`cleanup.events`, and
test doubles (:class:`cleanup.testing.FastForwardClock`) in :mod:`cleanup.testing`,
Go's DNS lookup rules as pure functions (for models of the resolver) in
:mod:`cleanup.dnsrules`.
The exceptions and how they nest are drawn in :mod:`cleanup._errors`.
"""

import retrylab_entry  # noqa: F401  (first: Ctrl-C under python -m; see that module)
from cleanup._backend import DIAL_TIMEOUT, ClockNetworkBackend
from cleanup._classify import error_kind, to_error
from cleanup._clock import Clock, SystemClock
from cleanup._containerd import DEFAULT_CONTAINERD_SOCKET, ContainerdStore
from cleanup._crictl import CrictlStore
from cleanup._errors import (
    CleanupError,
    ConnectError,
    DialDNSError,
    DNSError,
    HTTPStatusError,
    ImageListError,
    InputError,
    InvalidReference,
    Limit,
    PolicyError,
    ProtocolError,
    RemovalError,
    RequestTimeout,
    ResolvConfError,
    RetriesExhausted,
    StopReason,
    StoreError,
    StoreSpecError,
    UnexpectedError,
)
from cleanup._hosts import HostsTable, parse_hosts, read_hosts
from cleanup._images import (
    ImageRef,
    normalize,
    parse_image_list,
    parse_reference,
    short_key,
)
from cleanup._memory_store import MemoryStore
from cleanup._plan import MATCH_MODES, RETAIN, MatchMode, Plan, PlanItem, plan
from cleanup._policy import PREDICATES, PRESETS, Policy, PredicateName, retriable_v14, retriable_v15
from cleanup._policy_file import get_policy, policy_to_toml
from cleanup._repo import DEFAULT_MAX_LIST_BYTES, LIST_PATH, RepoClient
from cleanup._resolvconf import ResolvConf, parse_resolv_conf, read_resolv_conf
from cleanup._resolver import Resolver, StubResolver, SystemResolver
from cleanup._retry import retry
from cleanup._run import EXIT_STATUS, AttemptRecord, CleanupReport, Outcome, Removal, run_cleanup
from cleanup._schedule import (
    MAX_DURATION,
    MAX_STEPS,
    MODES,
    Backoff,
    Mode,
    Schedule,
    parse_duration,
)
from cleanup._store import ImageStore
from cleanup._stores import open_store
from cleanup._transport import DeadlineClient, make_http_client

__all__ = [
    "DEFAULT_CONTAINERD_SOCKET",
    "DEFAULT_MAX_LIST_BYTES",
    "DIAL_TIMEOUT",
    "EXIT_STATUS",
    "LIST_PATH",
    "MATCH_MODES",
    "MAX_DURATION",
    "MAX_STEPS",
    "MODES",
    "PREDICATES",
    "PRESETS",
    "RETAIN",
    "AttemptRecord",
    "Backoff",
    "CleanupError",
    "CleanupReport",
    "Clock",
    "ClockNetworkBackend",
    "ConnectError",
    "ContainerdStore",
    "CrictlStore",
    "DNSError",
    "DeadlineClient",
    "DialDNSError",
    "HTTPStatusError",
    "HostsTable",
    "ImageListError",
    "ImageRef",
    "ImageStore",
    "InputError",
    "InvalidReference",
    "Limit",
    "MatchMode",
    "MemoryStore",
    "Mode",
    "Outcome",
    "Plan",
    "PlanItem",
    "Policy",
    "PolicyError",
    "PredicateName",
    "ProtocolError",
    "Removal",
    "RemovalError",
    "RepoClient",
    "RequestTimeout",
    "ResolvConf",
    "ResolvConfError",
    "Resolver",
    "RetriesExhausted",
    "Schedule",
    "StopReason",
    "StoreError",
    "StoreSpecError",
    "StubResolver",
    "SystemClock",
    "SystemResolver",
    "UnexpectedError",
    "error_kind",
    "get_policy",
    "make_http_client",
    "normalize",
    "open_store",
    "parse_duration",
    "parse_hosts",
    "parse_image_list",
    "parse_reference",
    "parse_resolv_conf",
    "plan",
    "policy_to_toml",
    "read_hosts",
    "read_resolv_conf",
    "retriable_v14",
    "retriable_v15",
    "retry",
    "run_cleanup",
    "short_key",
    "to_error",
]

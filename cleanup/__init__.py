"""cleanup: the image cleanup run at the end of an upgrade, with a DNS-aware retry policy.

The main API is here; what a run reports as it goes is in :mod:`cleanup.events`, and
test doubles (:class:`cleanup.testing.FastForwardClock`) in :mod:`cleanup.testing`,
Go's DNS lookup rules as pure functions (for models of the resolver) in
:mod:`cleanup.dnsrules`, and Go's ``time.Duration`` arithmetic the schedule and the
HTTP deadline do (for models of them) in :mod:`cleanup.durations`.
The exceptions and how they nest are drawn in :mod:`cleanup._errors`.

Plumbing stays in the private modules it belongs to: httpcore's network backend
(``cleanup._backend.ClockNetworkBackend``, built by :func:`make_http_client`), the hosts
file reader (``cleanup._hosts``: :class:`StubResolver` reads it), and the reference
spellings :func:`parse_reference` already gives (``ImageRef.full``/``.short``).
:func:`utf8_text` is the check that a TOML or JSON file's bytes are UTF-8 without a BOM
that policy and store files go through; it is public so that ``sim``'s scenario and
timeline files are held to the same rule and message.
"""

import retrylab_entry  # noqa: F401  (first: Ctrl-C under python -m; see that module)
from cleanup._backend import DIAL_TIMEOUT
from cleanup._classify import error_kind, to_error
from cleanup._clock import Clock, SystemClock
from cleanup._containerd import DEFAULT_CONTAINERD_SOCKET, ContainerdStore
from cleanup._crictl import CrictlStore
from cleanup._errors import (
    CleanupError,
    ConnectError,
    ConnectReason,
    DialDNSError,
    DNSError,
    ErrorKind,
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
    SocketOp,
    StatusKind,
    StopReason,
    StoreError,
    StoreSpecError,
    TimeoutPhase,
    UnexpectedError,
)
from cleanup._files import utf8_text
from cleanup._hosts import HostsTable
from cleanup._images import ImageRef, parse_image_list, parse_reference
from cleanup._memory_store import MemoryStore
from cleanup._plan import MATCH_MODES, RETAIN, MatchMode, Plan, PlanItem, plan
from cleanup._policy import PREDICATES, PRESETS, Policy, PredicateName, retriable_v14, retriable_v15
from cleanup._policy_file import get_policy, policy_to_toml
from cleanup._repo import DEFAULT_MAX_LIST_BYTES, LIST_PATH, RepoClient
from cleanup._resolvconf import ResolvConf, parse_resolv_conf, read_resolv_conf
from cleanup._resolver import Resolver, StubResolver
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
from cleanup._sysresolver import SystemResolver
from cleanup._transport import HTTP_CLIENT_TIMEOUT, DeadlineClient, make_http_client

__all__ = [  # noqa: RUF022  (grouped by section, not sorted)
    # a run: plan the deletions, run them, the report
    "run_cleanup",
    "plan",
    "Plan",
    "PlanItem",
    "MatchMode",
    "MATCH_MODES",
    "RETAIN",
    "CleanupReport",
    "AttemptRecord",
    "Removal",
    "Outcome",
    "EXIT_STATUS",
    # the retry policy: schedule, predicates, presets, policy files, the loop
    "Policy",
    "Backoff",
    "Schedule",
    "Mode",
    "MODES",
    "MAX_DURATION",
    "MAX_STEPS",
    "parse_duration",
    "PredicateName",
    "PREDICATES",
    "PRESETS",
    "retriable_v14",
    "retriable_v15",
    "get_policy",
    "policy_to_toml",
    "utf8_text",
    "retry",
    "error_kind",
    "ErrorKind",
    "StatusKind",
    "to_error",
    # name resolution: Go's stub resolver, resolv.conf, the hosts file
    "Resolver",
    "StubResolver",
    "SystemResolver",
    "ResolvConf",
    "parse_resolv_conf",
    "read_resolv_conf",
    "HostsTable",
    # HTTP: Go's http.Client over the resolver, and the repo
    "make_http_client",
    "DeadlineClient",
    "DIAL_TIMEOUT",
    "HTTP_CLIENT_TIMEOUT",
    "RepoClient",
    "LIST_PATH",
    "DEFAULT_MAX_LIST_BYTES",
    # image references and lists
    "ImageRef",
    "parse_reference",
    "parse_image_list",
    # image stores
    "ImageStore",
    "open_store",
    "MemoryStore",
    "ContainerdStore",
    "DEFAULT_CONTAINERD_SOCKET",
    "CrictlStore",
    # the time seam
    "Clock",
    "SystemClock",
    # exceptions (the tree is drawn in cleanup._errors)
    "CleanupError",
    "DNSError",
    "DialDNSError",
    "ConnectError",
    "ConnectReason",
    "SocketOp",
    "RequestTimeout",
    "TimeoutPhase",
    "ProtocolError",
    "HTTPStatusError",
    "ImageListError",
    "UnexpectedError",
    "RetriesExhausted",
    "StopReason",
    "Limit",
    "StoreError",
    "RemovalError",
    "InputError",
    "PolicyError",
    "ResolvConfError",
    "InvalidReference",
    "StoreSpecError",
]

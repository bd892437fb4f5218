"""What the world looked like over time, as plain data.

The world model (``_world``) produces a :class:`Timeline`; everything downstream reads
only this: the harness serves DNS and HTTP answers from it, the fast evaluator of the
tuner walks it, reports print it.  Keeping it plain data (intervals, no simpy objects)
is what lets a seed be replayed, a timeline be saved to JSON and shrunk by hypothesis,
and the harness and evaluator be checked against each other on the very same world.

Times are seconds since the node reboot began (t = 0).
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, NewType, get_args

from typing_extensions import TypeVar

from cleanup import LIST_PATH

__all__ = [
    "CLUSTER_SUFFIX",
    "DNS_STATES",
    "HTTP_STATES",
    "MEDIA_STATE",
    "OTHER_NAMES",
    "QTYPE_MARK",
    "SERVER_DOWN",
    "DNSState",
    "Event",
    "HTTPState",
    "Interval",
    "MediaState",
    "ServedState",
    "Timeline",
    "as_dns_state",
    "as_http_state",
    "intervals_from",
    "is_media_state",
    "list_path",
    "list_version",
    "media_state",
]

#: What a pod's query for a name gets:
#:
#: - ``conn-refused``: the cluster DNS Service has no ready backend; kube-proxy rejects the
#:   packet and the client's connected UDP socket reads ``ECONNREFUSED`` (ICMP port
#:   unreachable; Go: ``read udp L->S: read: connection refused``, a temporary error).
#:   It is a property of the server, not of a name: it holds for every name at once.
#: - ``timeout``: silence (the Service IP is not routed yet, or an upstream that never
#:   answers a forwarded name): the query waits its full timeout.
#: - ``nxdomain``: the name does not exist (rcode NXDOMAIN).
#: - ``servfail``: rcode SERVFAIL (CoreDNS's ``forward`` plugin when no upstream answers).
#: - ``lame``: a lame referral, NOERROR with AA and RA clear and no record at all (a
#:   server that is not authoritative for the name and does not recurse: CoreDNS before
#:   its ``kubernetes`` plugin has synced, or a stub pointed at the wrong server; faultdns
#:   ``lame``).  Go: ``errLameReferral``, "lame referral", no flag: next server, and no
#:   Harvester predicate retries it.
#: - ``refused``: rcode REFUSED (a server answering, but not for this client or zone;
#:   faultdns ``refused``).  Go: ``errServerMisbehaving``, "server misbehaving", no flag
#:   (not temporary, unlike SERVFAIL): next server, and no Harvester predicate retries
#:   it.  Not ``conn-refused``: the server answered.
#: - ``ok``: the repo name resolves; for any other name the zone's answer, NXDOMAIN.
DNSState = Literal["conn-refused", "timeout", "nxdomain", "servfail", "lame", "refused", "ok"]
DNS_STATES: tuple[DNSState, ...] = get_args(DNSState)
#: the DNS state that stands for the whole server, not for one name
SERVER_DOWN: DNSState = "conn-refused"
#: The repo's answers for a path (``Timeline.http``) that are fixed words; how the fake
#: repo plays each is ``sim._repo_server``'s module doc.  The world model's own are
#: ``refused`` (no Service endpoints: connection refused), ``missing`` (404) and ``ok``
#: (200 with the list); ``hang`` (read, never answered) and the rest (issue 11's less
#: kind answers, ``sim._repo_server.ODD_STATES``) come from hand-made and generated
#: worlds: a final status of each family but 1xx, a 1xx before the 200, redirects,
#: connections closed or reset early, 200s whose body is not all there.
ServedState = Literal[
    "refused",
    "missing",
    "ok",
    "hang",
    "status-201",
    "status-203",
    "status-204",
    "status-206",
    "status-300",
    "status-301",
    "status-304",
    "status-400",
    "status-403",
    "status-410",
    "status-500",
    "status-502",
    "status-503",
    "informational",
    "redirect",
    "redirect-other-host",
    "closed",
    "body-cut",
    "body-cl-small",
    "body-close",
    "body-gzip-cut",
    "body-unterminated",
    "closed-reset",
    "headers-only",
    "chunk-cut",
    "body-reset",
]
#: every :data:`ServedState`, in the order above
HTTP_STATES: tuple[ServedState, ...] = get_args(ServedState)
#: ``type:<value>``: a 200 with the whole list under ``Content-Type: <value>``, for any
#: ``<value>`` a header field may carry (RFC 9110 5.5; empty: no ``Content-Type`` at
#: all), a family no ``Literal`` can spell.  Made only by :func:`media_state` (or
#: :func:`as_http_state`), which check the value.
MediaState = NewType("MediaState", str)
#: the prefix of every :data:`MediaState`
MEDIA_STATE = "type:"
#: An HTTP state: a fixed word or a media state.  Closed: :func:`as_http_state` is the
#: door from text (a timeline file), and :class:`Timeline` refuses any other.
HTTPState = ServedState | MediaState

#: a DNS key ``name#AAAA`` holds the states of ``name``'s AAAA queries alone, where they
#: differ from its A queries' (``ok`` for the repo name's AAAA is "no data": the zone
#: has only its A record); without one, both types follow ``name``'s key.  Played by
#: the harness (``sim._dns``); the vectorised evaluator refuses such timelines.
QTYPE_MARK = "#"

#: key of the DNS intervals that apply to every name without intervals of its own: the
#: search-list candidates in the cluster domain that can never exist (and, where the
#: timeline does not list it, the name as given that CoreDNS forwards upstream)
OTHER_NAMES = "*"


#: what a Service's name gains to be fully qualified in the cluster domain
CLUSTER_SUFFIX = ".svc.cluster.local"
# the image-list URL path around its version: cleanup.LIST_PATH, the one template
_LIST_PREFIX, _LIST_SUFFIX = ("/" + LIST_PATH).split("{version}")


def list_path(version: str) -> str:
    """The URL path of ``version``'s image list, as the cleanup fetches it
    (``cleanup.LIST_PATH``; Harvester's ``pkg/controller/master/upgrade`` repo layout)."""
    return "/" + LIST_PATH.format(version=version)


def list_version(path: str) -> str | None:
    """The version an image-list path (:func:`list_path`) names, or None for any other path."""
    if not (path.startswith(_LIST_PREFIX) and path.endswith(_LIST_SUFFIX)):
        return None
    version = path[len(_LIST_PREFIX) : len(path) - len(_LIST_SUFFIX)]
    return version if version and "/" not in version else None


#: an interval's state: :data:`DNSState` in a DNS table, :data:`HTTPState` in an HTTP
#: table, ``str`` wherever unsaid (PEP 696 default)
_State = TypeVar("_State", bound=str, covariant=True, default=str)


@dataclass(frozen=True)
class Interval(Generic[_State]):
    """``state`` holds on ``[start, end)``; ``end`` may be ``inf``.

    One class serves both channels, typed by the table it sits in: ``Timeline.dns``
    holds ``Interval[DNSState]``, ``Timeline.http`` ``Interval[HTTPState]``.  Both are
    closed vocabularies, so mypy refuses a misspelt state, or one of the other channel
    (the two share only ``ok``: "the name resolves", "200 with the list"), in a world
    built in code; the DNS ``refused`` is the rcode REFUSED, the HTTP ``refused`` a
    refused connection.  The HTTP one has an open family, ``type:<value>`` for any header
    field value, typed as :data:`MediaState` and made only by :func:`media_state`.
    Worlds read from files are checked too: :meth:`Timeline.from_dict` reads HTTP
    states through :func:`as_http_state` (and :class:`Timeline` refuses any other HTTP
    state, naming the path and interval), while DNS states are checked where a world is
    played (``sim._harness.check_states``, naming the table, key and time).  A
    scenario's own vocabularies are ``Literal`` (``Scenario.dns_down``,
    ``Scenario.upstream``).
    """

    start: float
    end: float
    state: _State


@dataclass(frozen=True)
class Event:
    time: float
    what: str


S = TypeVar("S", bound=str)


def intervals_from(points: Sequence[tuple[float, S]]) -> tuple[Interval[S], ...]:
    """The intervals of a signal given by its change points ``(start, state)``, in time
    order from 0: each state holds until the next one starts, the last for ever."""
    ends = [float(t) for t, _ in points[1:]] + [math.inf]
    return tuple(
        Interval(float(t), end, state) for (t, state), end in zip(points, ends, strict=True)
    )


def as_dns_state(text: str) -> DNSState:
    """``text`` as the :data:`DNSState` it spells; ValueError for anything else (the
    door from a state kept as text, e.g. the world model's log, to the typed table)."""
    for state in DNS_STATES:
        if state == text:
            return state
    raise ValueError(f"unknown DNS state {text!r} (expected one of {', '.join(DNS_STATES)})")


# RFC 9110 5.5 field-value as h11 sends it: visible characters, spaces and tabs only
# between them (no leading or trailing whitespace, no control character)
_FIELD_VALUE = re.compile(r"(?:[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)?")
_SERVED: dict[str, ServedState] = {state: state for state in HTTP_STATES}


def media_state(value: str) -> MediaState:
    """The :data:`MediaState` ``type:<value>``; ValueError unless ``value`` is a header
    field value the repo server can send as a ``Content-Type`` (RFC 9110 5.5: visible
    characters with spaces and tabs only between them; empty: no header)."""
    if _FIELD_VALUE.fullmatch(value) is None:
        raise ValueError(
            f"{MEDIA_STATE}{value!r}: the value is not a header field value (visible "
            "characters, spaces and tabs only between them, or nothing)"
        )
    return MediaState(MEDIA_STATE + value)


def is_media_state(text: str) -> bool:
    """Whether ``text`` spells a :data:`MediaState` (:func:`media_state` would take its
    value), so worlds may carry every media type, not only the world model's."""
    return text.startswith(MEDIA_STATE) and (
        _FIELD_VALUE.fullmatch(text[len(MEDIA_STATE) :]) is not None
    )


def as_http_state(text: str) -> HTTPState:
    """``text`` as the :data:`HTTPState` it spells (a :data:`ServedState` word or
    ``type:<value>``); ValueError naming it and the allowed forms for anything else
    (the door from a state kept as text, e.g. a timeline file, to the typed table)."""
    served = _SERVED.get(text)
    if served is not None:
        return served
    if is_media_state(text):
        return media_state(text[len(MEDIA_STATE) :])
    raise ValueError(
        f"unknown HTTP state {text!r} (expected one of {', '.join(HTTP_STATES)}, or "
        f"{MEDIA_STATE}<a header field value>)"
    )


def _http_state_in(key: str, start: float, end: float, text: str) -> HTTPState:
    """:func:`as_http_state` for the interval ``[start, end)`` of ``http[key]``, its
    error naming the path and the interval."""
    try:
        return as_http_state(text)
    except ValueError as exc:
        raise ValueError(f"http[{key!r}]: interval [{start:g}, {end:g}): {exc}") from None


#: Times in a timeline (seconds) at most: a year of virtual time, far past any world
#: the generator makes; NaN, infinities and absurd values in a saved timeline are refused.
MAX_TIME = 365 * 86400.0


def _state_at(intervals: tuple[Interval[S], ...], starts: tuple[float, ...], t: float) -> S:
    i = bisect.bisect_right(starts, t) - 1
    if i < 0:
        raise ValueError(f"time {t} is before the timeline starts")
    return intervals[i].state


#: The keys of a saved timeline (:meth:`Timeline.to_dict`), in its order.
_TIMELINE_KEYS = ("scenario", "seed", "cleanup_start", "repo_host", "dns", "http", "events")
_KEYS = ", ".join(_TIMELINE_KEYS)


def _kind(value: object) -> str:
    """A value as an error shows it: JSON's name for its type, and the value if short."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "text",
             list: "a list", dict: "an object", type(None): "null"}  # fmt: skip
    name = names.get(type(value), type(value).__name__)
    try:
        shown = json.dumps(value, default=repr)  # as the file spells it: null, true
    except (ValueError, RecursionError):  # a cycle or nesting only code can build
        shown = ""
    return f"{name} {shown}" if shown and len(shown) <= 40 else name


def _number(where: str, value: object) -> float:
    """``value`` as seconds: a JSON number (not a boolean), else ValueError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: expected a number of seconds, got {_kind(value)}")
    try:
        return float(value)
    except OverflowError:  # an integer past a binary64 (JSON has no size limit)
        raise ValueError(f"{where}: an integer too large for a number of seconds") from None


def _text(where: str, value: object) -> str:
    """``value`` if it is text, else ValueError naming ``where``."""
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected text, got {_kind(value)}")
    return value


@dataclass(frozen=True)
class Timeline:
    """One world: DNS state per name and HTTP state per path, over time."""

    scenario: str
    seed: int
    cleanup_start: float
    repo_host: str
    dns: Mapping[str, tuple[Interval[DNSState], ...]]
    http: Mapping[str, tuple[Interval[HTTPState], ...]]
    events: tuple[Event, ...]
    _starts: dict[str, tuple[float, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not math.isfinite(self.cleanup_start) or not 0 <= self.cleanup_start <= MAX_TIME:
            raise ValueError(f"cleanup_start: expected 0..{MAX_TIME:g} s, got {self.cleanup_start}")
        for event in self.events:
            if not math.isfinite(event.time) or not 0 <= event.time <= MAX_TIME:
                raise ValueError(f"events: time expected 0..{MAX_TIME:g} s, got {event.time}")
        for kind, table in (("dns", self.dns), ("http", self.http)):
            for key, intervals in table.items():
                for iv in intervals:
                    if not (0 <= iv.start <= MAX_TIME) or not (
                        iv.end == math.inf or iv.start <= iv.end <= MAX_TIME
                    ):
                        raise ValueError(
                            f"{kind}[{key!r}]: interval [{iv.start}, {iv.end}) is not within "
                            f"0..{MAX_TIME:g} s"
                        )
                if not intervals or intervals[0].start != 0.0:
                    raise ValueError(f"{kind}[{key!r}]: intervals must start at 0")
                for a, b in itertools.pairwise(intervals):
                    if a.end != b.start:
                        raise ValueError(f"{kind}[{key!r}]: gap or overlap at {a.end}")
                if intervals[-1].end != math.inf:
                    raise ValueError(f"{kind}[{key!r}]: the last interval must be open-ended")
                self._starts[f"{kind}:{key}"] = tuple(iv.start for iv in intervals)
        for path, http in self.http.items():
            for iv in http:  # typed in code; text that reached here untyped is refused
                _http_state_in(path, iv.start, iv.end, iv.state)

    def dns_state(self, name: str, t: float) -> DNSState:
        """The answer a query for ``name`` gets at ``t`` (repo host or any other name)."""
        key = name.rstrip(".").lower()
        if key not in self.dns:
            key = OTHER_NAMES
        return _state_at(self.dns[key], self._starts[f"dns:{key}"], t)

    def http_state(self, path: str, t: float) -> HTTPState:
        """The answer a request for ``path`` gets at ``t`` (KeyError for a path the
        timeline does not list)."""
        return _state_at(self.http[path], self._starts[f"http:{path}"], t)

    def healthy_from(self) -> float:
        """The earliest time from which the repo name resolves and every path answers 200
        for good (``inf`` if never): the R of the liveness property."""
        start = 0.0
        for intervals in (self.dns[self.repo_host], *self.http.values()):
            last = intervals[-1]
            if last.state != "ok":
                return math.inf
            start = max(start, last.start)
        return start

    @property
    def repo_service(self) -> str:
        """The name the cleanup fetches from: ``repo_host`` without ``.svc.cluster.local``.

        ValueError if ``repo_host`` is not a Service name in ``cluster.local``.
        """
        host = self.repo_host.rstrip(".")
        if not host.endswith(CLUSTER_SUFFIX):
            raise ValueError(f"repo_host {self.repo_host!r} is not a Service name in cluster.local")
        return host[: -len(CLUSTER_SUFFIX)]

    @property
    def previous_version(self) -> str:
        """The version the cluster upgrades from, named by the ``http`` paths.

        ValueError unless the paths are exactly two image lists (:func:`list_path`):
        that version's and ``current``'s.
        """
        versions = []
        for path in self.http:
            version = list_version(path)
            if version is None:
                raise ValueError(f"http path {path!r} is not an image list path")
            versions.append(version)
        previous = [v for v in versions if v != "current"]
        if len(previous) != 1 or "current" not in versions:
            raise ValueError(
                f"timeline paths must be one previous list and 'current', got {versions}"
            )
        return previous[0]

    # -- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        def ivs(intervals: tuple[Interval, ...]) -> list[list[Any]]:
            return [
                [iv.start, None if iv.end == math.inf else iv.end, iv.state] for iv in intervals
            ]

        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "cleanup_start": self.cleanup_start,
            "repo_host": self.repo_host,
            "dns": {k: ivs(v) for k, v in self.dns.items()},
            "http": {k: ivs(v) for k, v in self.http.items()},
            "events": [[e.time, e.what] for e in self.events],
        }

    @classmethod
    def from_dict(cls, data: object) -> Timeline:
        """The timeline :meth:`to_dict` wrote (a saved world, e.g. ``sim run --timeline``).

        ``data``: a mapping with exactly the keys ``scenario`` (text), ``seed`` (an
        integer: ``1.5`` or ``true`` is refused, not truncated), ``cleanup_start`` (a
        number, seconds), ``repo_host`` (text), ``dns`` and ``http`` (tables: text key ->
        a list of ``[start, end or null, state]`` rows, numbers in seconds and a state as
        text) and ``events`` (a list of ``[time, what]`` rows).  Raises ``ValueError``
        naming the key, the table's key and the row's index (from 0) for any other shape
        or type, and for what :class:`Timeline` refuses (times, gaps, an unknown HTTP
        state); never another exception, whatever JSON document ``data`` is.
        """
        if not isinstance(data, Mapping):
            raise ValueError(
                f"a timeline is a JSON object with the keys {_KEYS}, not {_kind(data)}"
            )
        missing = [key for key in _TIMELINE_KEYS if key not in data]
        if missing:
            raise ValueError(f"missing key {missing[0]!r} (a timeline has the keys {_KEYS})")
        unknown = sorted(str(key) for key in data if key not in _TIMELINE_KEYS)
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} (a timeline has the keys {_KEYS})")
        seed = data["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"seed: expected an integer, got {_kind(seed)}")

        def rows(where: str, value: object, width: int) -> list[Sequence[object]]:
            if not isinstance(value, list):
                raise ValueError(f"{where}: expected a list of rows, got {_kind(value)}")
            for i, row in enumerate(value):
                if not isinstance(row, list) or len(row) != width:
                    shape = "[start, end or null, state]" if width == 3 else "[time, what]"
                    raise ValueError(f"{where} row {i}: expected {shape}, got {_kind(row)}")
            return value

        def intervals(kind: str, value: object) -> dict[str, list[tuple[float, float, str]]]:
            if not isinstance(value, Mapping):
                raise ValueError(
                    f"{kind}: expected an object of interval lists, got {_kind(value)}"
                )
            table: dict[str, list[tuple[float, float, str]]] = {}
            for key, listed in value.items():
                if not isinstance(key, str):
                    raise ValueError(f"{kind}: key {key!r} is not text")
                where = f"{kind}[{key!r}]"
                spans = []
                for i, (a, b, state) in enumerate(rows(where, listed, 3)):
                    start = _number(f"{where} row {i} start", a)
                    end = math.inf if b is None else _number(f"{where} row {i} end", b)
                    spans.append((start, end, _text(f"{where} row {i} state", state)))
                table[key] = spans
            return table

        dns = intervals("dns", data["dns"])
        http = intervals("http", data["http"])
        events = tuple(
            Event(_number(f"events row {i} time", t), _text(f"events row {i} what", w))
            for i, (t, w) in enumerate(rows("events", data["events"], 2))
        )
        return cls(
            scenario=_text("scenario", data["scenario"]),
            seed=seed,
            cleanup_start=_number("cleanup_start", data["cleanup_start"]),
            repo_host=_text("repo_host", data["repo_host"]),
            # DNS states are not checked here: a saved world is checked where it is
            # played (the harness's check_states names the table, key and time), so
            # they go in as text the type checker cannot vouch for (Any), not DNSState.
            dns={k: tuple(Interval[Any](a, b, st) for a, b, st in v) for k, v in dns.items()},
            http={
                k: tuple(Interval(a, b, _http_state_in(k, a, b, st)) for a, b, st in v)
                for k, v in http.items()
            },
            events=events,
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def render(self) -> list[str]:
        """Human-readable lines: events, then each name's and path's intervals."""
        lines = [f"{e.time:8.1f}s  {e.what}" for e in self.events]
        for kind, table in (("dns", self.dns), ("http", self.http)):
            for key, intervals in table.items():
                spans = ", ".join(
                    f"{iv.state} [{iv.start:.1f}, {'∞' if iv.end == math.inf else f'{iv.end:.1f}'})"
                    for iv in intervals
                )
                lines.append(f"{kind} {key}: {spans}")
        return lines

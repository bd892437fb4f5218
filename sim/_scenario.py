"""Scenario files: which world, and how its durations are spread.

A scenario is a TOML file (or one of the built-in ones in ``sim/scenarios``)::

    name = "single-node"
    [world]
    topology = "single-node"    # or "multi-node": DNS served from another node
    dns_down = "no-endpoints"    # cluster DNS before CoreDNS runs, as a pod sees it:
                                 #   no-endpoints: the DNS Service has no ready backend,
                                 #     kube-proxy rejects: ECONNREFUSED ("conn-refused")
                                 #   not-routed: the Service IP is not routed yet: silence
                                 #   not-ready-lame / not-ready-refused: a server answers
                                 #     but serves no zone yet: lame referrals ("lame")
                                 #     or REFUSED ("refused"), which no preset retries
    upstream = "nxdomain"        # what CoreDNS's forward plugin gets for names outside
                                 # cluster.local (the name as given, tried last):
                                 # nxdomain (connected) | servfail (upstream unreachable,
                                 # air-gapped) | timeout (silence)
    list_missing = false         # the previous version's list is not in the archive (404)
    vm_starts = true             # false: the repo VM never becomes ready
    [durations]                  # each a distribution (see _dist)
    node_boot = ...              # reboot -> node up
    coredns_start = ...          # node up -> CoreDNS answers
    service_sync = ...           # CoreDNS answers -> it knows the repo Service
    controller_start = ...       # node up -> controller sees UpgradeCompleted
    vm_boot = ...                # controller starts the VM -> repo serves HTTP
    endpoint_lag = ...           # repo serves -> Service endpoints point at it
    [flap]                       # the repo name goes NXDOMAIN again for a while
    probability = 0.0
    delay = ...                  # service sync -> flap
    length = ...
    [coredns]                    # CoreDNS's cache plugin (optional)
    negative_cache = ...         # how long the repo name's cached NXDOMAIN outlives the
                                 # Service sync (a distribution; default 0: no cache)
    [images]                     # what the harness serves and the node holds (optional)
    previous = [...]             # the previous version's list
    current = [...]              # the current list
    node = [...]                 # images on the node (default: previous + current)
    in_use = [...]               # used by containers
    pinned = [...]
    ids = { "docker.io/rancher/x:v1" = "sha256:<64 hex>", ... }
                                 # content identities (optional): names that are one
                                 # image in the store (its image ID or digest)
    [client]                     # how the controller's pod resolves and fetches (optional)
    search = [...]               # resolv.conf search list (Kubernetes pod default)
    ndots = 5
    dns_timeout = 5              # per try, whole seconds (resolv.conf timeout:N; Go default)
    dns_attempts = 2             # resolv.conf attempts:N
    http_timeout = 30            # per list fetch (the controller's http.Client.Timeout)

Every key is checked; an error names it (``durations.vm_boot.high: ...``).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from cleanup import InvalidReference, parse_reference, utf8_text
from sim._dist import Distribution, ScenarioError, parse_distribution
from sim._store import StoreFaults
from sim._timeline import CLUSTER_SUFFIX, DNSState, list_path

__all__ = [
    "BUILTIN_SCENARIOS",
    "CLUSTER_DNS",
    "DNS_DOWN_STATES",
    "REPO_LITERALS",
    "UPSTREAM_STATES",
    "ClientSettings",
    "DNSDown",
    "ImageSet",
    "Scenario",
    "Upstream",
    "load_scenario",
    "parse_scenario",
]

DURATION_KEYS = (
    "node_boot",
    "coredns_start",
    "service_sync",
    "controller_start",
    "vm_boot",
    "endpoint_lag",
)
BUILTIN_SCENARIOS = ("single-node", "single-node-airgapped", "multi-node")
#: ``world.dns_down``: why CoreDNS does not serve yet (the Service has no ready endpoint;
#: its IP is not routed yet; a server answers the Service IP but serves no zone yet, with
#: lame referrals or REFUSED: Go's "lame referral" / "server misbehaving", no flag)
DNSDown = Literal["no-endpoints", "not-routed", "not-ready-lame", "not-ready-refused"]
#: ``world.dns_down`` -> the DNS state a pod's query gets while CoreDNS is not serving
DNS_DOWN_STATES: dict[DNSDown, DNSState] = {
    "no-endpoints": "conn-refused",
    "not-routed": "timeout",
    "not-ready-lame": "lame",
    "not-ready-refused": "refused",
}
#: ``world.upstream``: the DNS state of a forwarded name once CoreDNS runs (NXDOMAIN from
#: a connected upstream, SERVFAIL from an unreachable one, or silence)
Upstream = Literal["nxdomain", "servfail", "timeout"]
#: ``world.upstream`` values (:data:`Upstream`)
UPSTREAM_STATES: tuple[Upstream, ...] = get_args(Upstream)
#: IP-literal repo URL hosts the harness can serve (:attr:`Scenario.repo_literal`):
#: IPv4, IPv6 loopback, and the IPv4-mapped IPv6 spelling of 127.0.0.1 (RFC 4291
#: 2.5.5.2: IPv4 to Go, so it reaches the IPv4 listener)
REPO_LITERALS = ("127.0.0.1", "[::1]", "[::ffff:127.0.0.1]")

# A v1.4.1 -> v1.5.0 upgrade in miniature: images dropped, kept by the retain list,
# shared by both versions, and one still used by a container.
DEFAULT_PREVIOUS = (
    "docker.io/rancher/harvester:v1.4.1",
    "docker.io/rancher/harvester-webhook:v1.4.1",
    "docker.io/rancher/harvester-upgrade:v1.4.1",
    "docker.io/longhornio/longhorn-engine:v1.7.2",
    "docker.io/longhornio/longhorn-manager:v1.7.2",
    "docker.io/rancher/kubectl:v1.30.5",
    "docker.io/rancher/mirrored-coredns-coredns:1.10.1",
)
DEFAULT_CURRENT = (
    "docker.io/rancher/harvester:v1.5.0",
    "docker.io/rancher/harvester-webhook:v1.5.0",
    "docker.io/rancher/harvester-upgrade:v1.5.0",
    "docker.io/longhornio/longhorn-engine:v1.8.1",
    "docker.io/longhornio/longhorn-manager:v1.8.1",
    "docker.io/rancher/kubectl:v1.30.5",
    "docker.io/rancher/mirrored-coredns-coredns:1.12.0",
)
DEFAULT_IN_USE = ("docker.io/longhornio/longhorn-manager:v1.7.2",)
DEFAULT_SEARCH = ("harvester-system.svc.cluster.local", "svc.cluster.local", "cluster.local")


@dataclass(frozen=True)
class ImageSet:
    """The two lists the repo serves and what the node's image store holds."""

    previous: tuple[str, ...] = DEFAULT_PREVIOUS
    current: tuple[str, ...] = DEFAULT_CURRENT
    node: tuple[str, ...] | None = None  # None: previous + current
    in_use: tuple[str, ...] = DEFAULT_IN_USE
    pinned: tuple[str, ...] = ()
    #: (node name, content identity) pairs: names that are the same image in the store
    #: (an image ID or target digest; ``cleanup.MemoryStore``'s ``ids``); a name not
    #: listed is its own identity
    ids: tuple[tuple[str, str], ...] = ()

    @property
    def node_images(self) -> tuple[str, ...]:
        if self.node is not None:
            return self.node
        return tuple(dict.fromkeys(self.previous + self.current))


#: the cluster DNS Service's IP kubelet writes into a pod's resolv.conf (RKE2's default,
#: the one Harvester runs; see the reference's ``10.53.0.10:53`` errors)
CLUSTER_DNS = "10.53.0.10"


@dataclass(frozen=True)
class ClientSettings:
    """The controller pod's resolver and HTTP client settings.

    ``dns_timeout`` is whole seconds: resolv.conf's ``timeout:N`` has no fraction.
    """

    search: tuple[str, ...] = DEFAULT_SEARCH
    ndots: int = 5
    dns_timeout: float = 5.0
    dns_attempts: int = 2
    http_timeout: float = 30.0

    def resolv_conf(self, nameserver: str = CLUSTER_DNS) -> str:
        """The pod's ``/etc/resolv.conf`` as kubelet writes it for ``dnsPolicy:
        ClusterFirst`` (``pkg/kubelet/network/dns``: ``nameserver``, ``search``,
        ``options ndots:5``), with the pod's ``dnsConfig`` options merged in:
        ``ndots`` always, ``timeout``/``attempts`` when they differ from Go's defaults
        (5 s, 2).  Raises ``ValueError`` for a timeout that is not whole seconds."""
        if not float(self.dns_timeout).is_integer():
            raise ValueError(
                "client.dns_timeout: resolv.conf's timeout is whole seconds,"
                f" got {self.dns_timeout}"
            )
        lines = [f"nameserver {nameserver}"]
        if self.search:
            lines.append("search " + " ".join(self.search))
        options = [f"ndots:{self.ndots}"]
        if self.dns_timeout != 5:
            options.append(f"timeout:{int(self.dns_timeout)}")
        if self.dns_attempts != 2:
            options.append(f"attempts:{self.dns_attempts}")
        lines.append("options " + " ".join(options))
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    topology: str
    #: why CoreDNS does not serve yet (:data:`DNSDown`); :attr:`dns_down_state` the state
    dns_down: DNSDown
    list_missing: bool
    vm_starts: bool
    upgrade_name: str
    previous_version: str
    durations: Mapping[str, Distribution]
    flap_probability: float
    flap_delay: Distribution
    flap_length: Distribution
    images: ImageSet = ImageSet()
    client: ClientSettings = ClientSettings()
    #: what the upstream answers for a forwarded name (:data:`Upstream`)
    upstream: Upstream = "nxdomain"
    #: how long the cache plugin keeps serving the repo name's NXDOMAIN after the sync
    negative_cache: Distribution | None = None
    #: the repo URL's host when it is an IP literal rather than the Service's name, as a
    #: URL writes it (:data:`REPO_LITERALS`: ``127.0.0.1``, ``[::1]``,
    #: ``[::ffff:127.0.0.1]``, the loopback addresses the harness's repo server answers
    #: on); None: the name.  Go dials a literal without DNS (``net.Dialer``:
    #: ``netip.ParseAddr``), so such a world's DNS states do not matter.  Set in code
    #: (``dataclasses.replace``), not in scenario files: the world model has no such
    #: world, and the vectorised evaluator never sees one.
    repo_literal: str | None = None
    #: how the node's image store fails or changes under the run (``sim._store``:
    #: unreadable, refused removals, a concurrent writer); the default: it does not.
    #: Set in code, not in scenario files, like :attr:`repo_literal`: the vectorised
    #: evaluator, which evaluates timelines, never sees one (it would report success
    #: where the harness's run ends ``store-error``).
    store_faults: StoreFaults = field(default_factory=StoreFaults)

    @property
    def dns_down_state(self) -> DNSState:
        """The timeline state of every name while CoreDNS does not serve."""
        return DNS_DOWN_STATES[self.dns_down]

    @property
    def repo_service(self) -> str:
        """The name the controller fetches from (one dot: the search list is tried first)."""
        return f"upgrade-repo-{self.upgrade_name}.harvester-system"

    @property
    def repo_host(self) -> str:
        """The fully qualified name CoreDNS knows the repo Service by."""
        return f"{self.repo_service}{CLUSTER_SUFFIX}"

    def list_path(self, version: str) -> str:
        """The URL path of ``version``'s image list (:func:`sim._timeline.list_path`)."""
        return list_path(version)


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{key}: expected a table")
    return value


_Choice = TypeVar("_Choice", bound=str)


def _choice(table: Mapping[str, Any], key: str, path: str, choices: tuple[_Choice, ...]) -> _Choice:
    """``table[key]`` (default: the first choice) as the member of ``choices`` it equals;
    ScenarioError naming ``path.key`` for any other value."""
    value = table.get(key, choices[0])
    for choice in choices:
        if value == choice:
            return choice
    raise ScenarioError(f"{path}.{key}: expected one of {', '.join(choices)}, got {value!r}")


def _flag(table: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ScenarioError(f"{path}.{key}: expected true or false, got {value!r}")
    return value


def _string(table: Mapping[str, Any], key: str, path: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{path}{key}: expected a non-empty string, got {value!r}")
    return value


def _check_keys(table: Mapping[str, Any], allowed: set[str], path: str) -> None:
    for key in table:
        if key not in allowed:
            raise ScenarioError(
                f"{path}{key}: unknown key (expected one of {', '.join(sorted(allowed))})"
            )


def _image_list(table: Mapping[str, Any], key: str, default: tuple[str, ...] | None) -> Any:
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, list):
        raise ScenarioError(f"images.{key}: expected a list of image references")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ScenarioError(f"images.{key}[{i}]: expected a string, got {item!r}")
        try:
            parse_reference(item)
        except InvalidReference as exc:
            raise ScenarioError(f"images.{key}[{i}]: {exc}") from None
    return tuple(value)


#: a content identity: an image ID (``sha256:<hex>``, or the bare hex ``crictl`` prints)
#: or a manifest digest (go-digest's registered algorithms, lower-case hex)
_IDENTITY = re.compile(r"(?:sha256:)?[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128}")
_IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{64}")


def _identities(table: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """``images.ids``: node image name (a reference, or an image ID a container names)
    -> its content identity in the store (:attr:`ImageSet.ids`)."""
    value = table.get("ids", {})
    if not isinstance(value, Mapping):
        raise ScenarioError(
            "images.ids: expected a table of image name = content identity "
            '(e.g. "docker.io/rancher/x:v1" = "sha256:<64 hex digits>")'
        )
    pairs = []
    for name, identity in value.items():
        where = f"images.ids.{json.dumps(name)}"
        if not _IMAGE_ID.fullmatch(name):
            try:
                parse_reference(name)
            except InvalidReference as exc:
                raise ScenarioError(f"{where}: the name is not an image reference: {exc}") from None
        if not isinstance(identity, str) or not _IDENTITY.fullmatch(identity):
            raise ScenarioError(
                f"{where}: expected a content identity (sha256:<64 lower-case hex digits>, "
                f"the bare 64 digits, or a sha384/sha512 digest), got {identity!r}"
            )
        pairs.append((name, identity))
    return tuple(pairs)


def _parse_images(data: Mapping[str, Any]) -> ImageSet:
    table = _table(data, "images")
    _check_keys(table, {"previous", "current", "node", "in_use", "pinned", "ids"}, "images.")
    images = ImageSet(
        previous=_image_list(table, "previous", DEFAULT_PREVIOUS),
        current=_image_list(table, "current", DEFAULT_CURRENT),
        node=_image_list(table, "node", None),
        in_use=_image_list(table, "in_use", DEFAULT_IN_USE),
        pinned=_image_list(table, "pinned", ()),
        ids=_identities(table),
    )
    for key in ("previous", "current"):
        if not getattr(images, key):
            raise ScenarioError(f"images.{key}: must not be empty (the repo serves it)")
    return images


#: ndots past 15 is 15, as Go's dnsReadConfig clamps it (net/dnsconfig_unix.go).  Go
#: does not cap attempts or timeout (glibc's 5 and 30 s are not Go's), so past these
#: limits a scenario is refused: a world where one lookup waits for days is a mistake.
_GO_CLAMPS = {"ndots": 15}
_LIMITS = {"dns_attempts": 100, "dns_timeout": 3600.0, "http_timeout": 86400.0}
#: settings the pod's resolv.conf holds as whole numbers of seconds
_WHOLE_SECONDS = {"dns_timeout": "timeout:N"}


def _positive(table: Mapping[str, Any], key: str, default: float, *, integer: bool) -> Any:
    value = table.get(key, default)
    kind = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "a whole number" if integer else "a number of seconds"
        raise ScenarioError(f"client.{key}: expected {what}, got {value!r}")
    if not (value >= (0 if key == "ndots" else 1 if integer else 1e-9)) or value == float("inf"):
        raise ScenarioError(f"client.{key}: out of range, got {value!r}")
    if key in _GO_CLAMPS:
        return min(value, _GO_CLAMPS[key])
    if key in _LIMITS and value > _LIMITS[key]:
        raise ScenarioError(f"client.{key}: at most {_LIMITS[key]:g}, got {value!r}")
    if key in _WHOLE_SECONDS and not float(value).is_integer():
        raise ScenarioError(
            f"client.{key}: whole seconds (resolv.conf's {_WHOLE_SECONDS[key]}), got {value!r}"
        )
    return value


def _parse_client(data: Mapping[str, Any]) -> ClientSettings:
    table = _table(data, "client")
    allowed = {"search", "ndots", "dns_timeout", "dns_attempts", "http_timeout"}
    _check_keys(table, allowed, "client.")
    search = table.get("search", list(DEFAULT_SEARCH))
    if not isinstance(search, list) or not all(isinstance(x, str) and x for x in search):
        raise ScenarioError(f"client.search: expected a list of domain names, got {search!r}")
    return ClientSettings(
        search=tuple(search),
        ndots=_positive(table, "ndots", 5, integer=True),
        dns_timeout=float(_positive(table, "dns_timeout", 5.0, integer=False)),
        dns_attempts=_positive(table, "dns_attempts", 2, integer=True),
        http_timeout=float(_positive(table, "http_timeout", 30.0, integer=False)),
    )


def parse_scenario(data: Mapping[str, Any], *, default_name: str = "custom") -> Scenario:
    """Build a scenario from parsed TOML; raise ScenarioError naming the bad key."""
    _check_keys(
        data,
        {"name", "description", "world", "durations", "flap", "coredns", "images", "client"},
        "",
    )
    world = _table(data, "world")
    _check_keys(
        world,
        {
            "topology",
            "dns_down",
            "upstream",
            "list_missing",
            "vm_starts",
            "upgrade_name",
            "previous_version",
        },
        "world.",
    )
    durations_table = _table(data, "durations")
    _check_keys(durations_table, set(DURATION_KEYS), "durations.")
    durations = {}
    for key in DURATION_KEYS:
        if key not in durations_table:
            raise ScenarioError(f"durations.{key}: missing")
        durations[key] = parse_distribution(durations_table[key], f"durations.{key}")
    flap = _table(data, "flap")
    _check_keys(flap, {"probability", "delay", "length"}, "flap.")
    probability = flap.get("probability", 0.0)
    if isinstance(probability, bool) or not isinstance(probability, int | float):
        raise ScenarioError(f"flap.probability: expected a number, got {probability!r}")
    if not 0.0 <= probability <= 1.0:
        raise ScenarioError(f"flap.probability: expected 0..1, got {probability!r}")
    if probability > 0 and not {"delay", "length"} <= set(flap):
        raise ScenarioError("flap.delay/flap.length: required when flap.probability > 0")
    coredns = _table(data, "coredns")
    _check_keys(coredns, {"negative_cache"}, "coredns.")
    negative_cache = (
        parse_distribution(coredns["negative_cache"], "coredns.negative_cache")
        if "negative_cache" in coredns
        else None
    )
    return Scenario(
        name=_string(data, "name", "", default_name),
        description=str(data.get("description", "")),
        topology=_choice(world, "topology", "world", ("single-node", "multi-node")),
        dns_down=_choice(world, "dns_down", "world", tuple(DNS_DOWN_STATES)),
        upstream=_choice(world, "upstream", "world", UPSTREAM_STATES),
        negative_cache=negative_cache,
        list_missing=_flag(world, "list_missing", "world", False),
        vm_starts=_flag(world, "vm_starts", "world", True),
        upgrade_name=_string(world, "upgrade_name", "world.", "hvst-upgrade-nv76q"),
        previous_version=_string(world, "previous_version", "world.", "v1.4.1"),
        durations=durations,
        flap_probability=float(probability),
        flap_delay=parse_distribution(flap.get("delay", 0), "flap.delay"),
        flap_length=parse_distribution(flap.get("length", 0), "flap.length"),
        images=_parse_images(data),
        client=_parse_client(data),
    )


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name, or a TOML file by path."""
    text: str
    source = str(name_or_path)
    if source in BUILTIN_SCENARIOS:
        text = resources.files("sim").joinpath(f"scenarios/{source}.toml").read_text("utf-8")
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ScenarioError(
                f"scenario {source!r}: no such file, and not a built-in "
                f"({', '.join(BUILTIN_SCENARIOS)})"
            )
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ScenarioError(f"scenario {source}: cannot read it: {exc}") from None
        try:  # a BOM or Latin-1 named as policy files name them (cleanup.utf8_text)
            text = utf8_text(raw, "TOML")
        except ValueError as exc:
            raise ScenarioError(f"scenario {source}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {source}: {exc}") from exc
    except RecursionError:
        raise ScenarioError(f"scenario {source}: not valid TOML: nested too deeply") from None
    except ValueError as exc:  # an integer with more digits than Python converts
        raise ScenarioError(f"scenario {source}: not valid TOML: {exc}") from None
    return parse_scenario(data, default_name=Path(source).stem)

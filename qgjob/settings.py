"""Server settings: defaults, overridden by `QGJOB_*` environment variables, overridden by
command-line options. One frozen object, passed to the app factory; no module globals.
Every value is checked when the object is made, alone and against the others (a heartbeat
shorter than the lease, a claim wait the API allows), so a bad one stops the server at start
with one line that names it."""

from __future__ import annotations

import ipaddress
import json
import math
import os
import tempfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_type_hints

from qgjob.protocol.limits import MAX_ATTEMPTS, MAX_CLAIM_WAIT_SECONDS

if TYPE_CHECKING:
    from qgjob.scheduler.protocol import Policy
    from qgjob.scheduler.views import FleetRules


def default_database_url() -> str:
    from platformdirs import user_data_dir

    return f"sqlite:///{Path(user_data_dir('qgjob')) / 'qgjob.db'}"


@dataclass(frozen=True)
class ServerSettings:
    database_url: str = ""
    """Empty means the default: a SQLite file under the user's data directory."""
    group_by_org: bool = False
    """Group jobs by (org, app build, target) instead of (app build, target)."""
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    claim_wait_seconds: float = 30.0
    """Longest a device's claim is held open when there is no work."""
    claim_poll_seconds: float = 2.0
    """A waiting claim looks again this often even without a wake-up (a safety net)."""
    maintenance_seconds: float = 1.0
    usage_count_seconds: float = 10.0
    """How often the maintenance pass counts every online device's seconds as busy,
    installing or idle. Counting writes every device row: each second, 10,000 devices would
    rewrite the devices table faster than PostgreSQL vacuums it, and heartbeats would wait."""
    max_batch: int = 4
    preemption: bool = False
    """Hard preemption: priority-5 work with no device may stop a running job of priority 2 or
    lower (requeued without spending an attempt)."""
    max_attempts: int = 3
    max_infra_failures: int = 5
    retry_base_seconds: float = 0.0
    """Backoff before a failed test's first retry (doubling, with jitter, for each later one,
    up to `retry_max_seconds`); 0 retries at once, preferably on another device."""
    retry_max_seconds: float = 300.0
    agent_offline_seconds: float = 30.0
    max_body_bytes: int = 64 * 1024
    rate_limit_per_second: float = 50.0
    """Requests per second each token (or client address, without a token) may make on
    average; 0 turns the limit off."""
    rate_limit_burst: float = 200.0
    agent_rate_limit_per_second: float = 500.0
    """The agent protocol's own budget per token: an agent with many devices claims,
    reports and streams output for each of them."""
    agent_rate_limit_burst: float = 2000.0
    job_rate_limit_per_second: float = 200.0
    """Jobs per second each token (or client address) may submit on average, whatever the
    number of requests: a batch spends one per job. 0 turns the limit off."""
    job_rate_limit_burst: float = 10_000.0
    max_queued_jobs_per_org: int = 100_000
    """Most jobs one org may have waiting in the queue; a submission that would pass it is
    refused whole (409 `queue_full`). 0: no cap."""
    trusted_proxies: str = ""
    """Addresses or networks of the reverse proxies in front of the server, comma-separated
    (e.g. "10.0.0.5,10.1.0.0/16"): only a request from one of them may name its client in
    X-Forwarded-For (for rate limits and logs). Empty: nobody, the peer is the client."""
    allowed_hosts: str = ""
    """Names the server answers to besides loopback ones while reading needs no token,
    comma-separated host names or addresses without a port (e.g. "devbox,devbox.lan"): a
    request that came in on a loopback address must name a loopback host (localhost, a name
    under it, 127.x.x.x, [::1]), the machine's own name or one of these, else any web page
    could reach the server by DNS rebinding. Reading needs no token while no token exists or
    `public_dashboard` is on; once every request needs one, every name is answered: a page
    holds no token."""
    max_connections: int = 10_000
    """Open connections the server keeps at most (lowered to fit the process's descriptor
    limit); one more is answered 503 and closed at once."""
    http_idle_seconds: float = 5.0
    """A connection with no request under way (before its first, or between two) is closed
    after this long."""
    http_header_seconds: float = 10.0
    """A request's headers must arrive within this long of its first byte (slowloris)."""
    http_body_seconds: float = 30.0
    """A request's body must not stall, no byte of it, for this long (a body that stops
    halfway); longer than the head's deadline, as a lossy link's retransmissions may pause an
    upload for several seconds."""
    public_dashboard: bool = False
    """Let anyone read `/` (the dashboard) and `/metrics`; otherwise, once tokens exist, they
    need an admin token. On a loopback address the server then answers only to the names
    `allowed_hosts` describes, as with no tokens."""
    open_without_tokens: bool = True
    """With no tokens configured, allow every request. `qgjob server` turns this off when it
    listens beyond loopback (`--insecure` keeps it on), so revoking the last token never
    opens a networked server."""
    token_cache_seconds: float = 2.0
    """How long a token lookup is cached: revocation takes effect within this time."""
    org_tiers: dict[str, str] = field(default_factory=dict)
    """Org id -> tier name, e.g. {"acme": "enterprise"}; unlisted orgs are "standard". A tier
    `tier_weights` does not weigh (other than "standard") is refused at start."""
    tier_weights: dict[str, float] = field(
        default_factory=lambda: {"standard": 1.0, "premium": 2.0, "enterprise": 4.0})
    """A tier's share of devices relative to "standard"."""
    org_caps: dict[str, int] = field(default_factory=dict)
    """Org id -> most devices it may use at once on one target (like BrowserStack's
    parallel limits)."""
    install_seconds: dict[str, float] = field(default_factory=dict)
    """Target -> seconds an install takes there, assumed until installs have been measured
    (the scheduler prices an install by it); unlisted targets assume 20 (emulator), 45
    (device) and 60 (BrowserStack). `qgjob up` sets its simulated install time."""
    flaky_threshold: float = 0.1
    """A test is flaky when it passed and failed on one build in at least this share of its
    recent builds (0 < x <= 1)."""
    retry_stop_on_repeat: str = "any-device"
    """Stop retrying a failure already seen on the same build: `any-device` (the same error
    on any device), `other-device` (only on another device: for fleets where a sick device
    fails tests the same way twice), or `never`. A known flaky test is always retried."""
    test_history_days: float = 90.0
    """Tests and builds not seen for this long leave the test-health history."""
    device_failure_limit: int = 3
    """A device that fails this many installs, or loses this many attempts, in a row leaves
    the rotation until `qgjob devices enable` (a successful install or a passed attempt
    resets the count); 0 never takes one out."""
    artifact_dir: str = ""
    """Where failure evidence (screenshots, videos, traces) is kept, DIR/<job>/<attempt>/;
    empty means `artifacts` under the user's data directory. Replicas share it over a common
    mount."""
    artifact_attempt_max_bytes: int = 50 * 1024 * 1024
    """Most evidence one attempt keeps; past it, screenshots are kept first, then traces,
    then videos, and what did not fit is listed as dropped. 0 keeps none."""
    artifact_retention_days: float = 14.0
    """Evidence older than this is removed by the maintenance pass."""
    policy: dict[str, float] = field(default_factory=dict)
    """The scheduling policy's constants, e.g. {"join_installs": 3} (README: How scheduling
    works); unlisted ones keep their defaults."""

    def __post_init__(self) -> None:
        _check(self)

    def scheduling_policy(self) -> Policy:
        """The qgjob policy with these settings' batch size, preemption and constants."""
        from qgjob.scheduler.registry import policy_named

        return policy_named("qgjob", **{"max_batch": self.max_batch,
                                        "preemption": self.preemption, **self.policy})

    def trusted_proxy_networks(self) -> list[str]:
        """`trusted_proxies` as a list of networks (an address is a network of one)."""
        networks = []
        for entry in filter(None, (part.strip() for part in self.trusted_proxies.split(","))):
            try:
                networks.append(str(ipaddress.ip_network(entry, strict=False)))
            except ValueError:
                raise ValueError(f"QGJOB_TRUSTED_PROXIES: {entry!r} is not an IP address or "
                                 "network") from None
        return networks

    def allowed_host_names(self) -> frozenset[str]:
        """`allowed_hosts` as `split_authority` spells hosts (lower case, no brackets)."""
        from qgjob.auth.network import normal_host

        names = set()
        for entry in filter(None, (part.strip() for part in self.allowed_hosts.split(","))):
            bracketed = entry.startswith("[") and entry.endswith("]")
            name = normal_host(entry[1:-1] if bracketed else entry, bracketed=bracketed)
            if name is None:
                raise ValueError(f"QGJOB_ALLOWED_HOSTS: {entry!r} is not a host name or "
                                 "address (no scheme, port or wildcard)")
            names.add(name)
        return frozenset(names)

    @property
    def standard_weight(self) -> float:
        """What an org in the "standard" tier, or in none, weighs."""
        return self.tier_weights.get("standard", 1.0)

    def org_weights(self) -> dict[str, float]:
        return {org: self.tier_weights.get(tier, self.standard_weight)
                for org, tier in self.org_tiers.items()}

    def fleet_rules(self) -> FleetRules:
        """Each org's weight and cap as the scheduler sees them; an org in no tier weighs
        what "standard" weighs."""
        from qgjob.scheduler.views import DEFAULT_INSTALL_SECONDS, FleetRules

        return FleetRules(org_weights=self.org_weights(), org_caps=dict(self.org_caps),
                          default_weight=self.standard_weight,
                          install_seconds={**DEFAULT_INSTALL_SECONDS, **self.install_seconds})

    @property
    def resolved_artifact_dir(self) -> Path:
        if self.artifact_dir:
            return Path(self.artifact_dir).expanduser()
        from platformdirs import user_data_dir

        return Path(user_data_dir("qgjob")) / "artifacts"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or default_database_url()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> ServerSettings:
        """Read `QGJOB_<FIELD>` variables (e.g. QGJOB_LEASE_SECONDS, QGJOB_DB for the
        database URL), then apply `overrides` that are not None."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        kinds = get_type_hints(cls)
        for setting in fields(cls):
            raw = env.get(variable(setting.name))
            if raw is not None and raw != "":
                values[setting.name] = _parse(setting.name, kinds[setting.name], raw)
        settings = cls(**values)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


def variable(name: str) -> str:
    """The environment variable of a setting."""
    return "QGJOB_DB" if name == "database_url" else f"QGJOB_{name.upper()}"


_POSITIVE = ("lease_seconds", "heartbeat_seconds", "claim_poll_seconds", "maintenance_seconds",
             "usage_count_seconds", "retry_max_seconds", "agent_offline_seconds", "max_batch",
             "max_attempts", "max_infra_failures", "max_body_bytes", "test_history_days",
             "max_connections", "http_idle_seconds", "http_header_seconds", "http_body_seconds",
             "artifact_retention_days")
_NOT_NEGATIVE = ("claim_wait_seconds", "retry_base_seconds", "rate_limit_per_second",
                 "rate_limit_burst", "agent_rate_limit_per_second", "agent_rate_limit_burst",
                 "token_cache_seconds",
                 "job_rate_limit_per_second", "job_rate_limit_burst", "max_queued_jobs_per_org",
                 "device_failure_limit", "artifact_attempt_max_bytes")


SHORTEST_PERIOD_SECONDS = 0.1
"""The shortest period of what repeats for as long as the server runs, busy or not (each
agent's heartbeat, a waiting claim's poll, the maintenance pass, the usage count): below it
the server spends itself on the repetition (a 1 ms heartbeat kept two thirds of a core busy
with no work queued)."""
_PERIODS = ("heartbeat_seconds", "claim_poll_seconds", "maintenance_seconds",
            "usage_count_seconds")

LONGEST_SECONDS = 1e9
"""The longest a `*_seconds` setting may be (about thirty years, under the longest timeout a
thread may wait, `threading.TIMEOUT_MAX`): past it, seconds added to
a clock held as a float lose the precision leases and deadlines need."""
LONGEST_DAYS = 36_500.0
"""The longest a `*_days` setting may be (a century): past it, the cut-off date of history
to prune is before any a database can store."""


def _check(settings: ServerSettings) -> None:
    """Each value alone, then against the others; a ValueError names the first bad one."""
    def value(name: str) -> str:
        return f"{variable(name)}={getattr(settings, name)!r}"

    for setting in fields(settings):
        longest = LONGEST_SECONDS if setting.name.endswith("_seconds") \
            else LONGEST_DAYS if setting.name.endswith("_days") else None
        number = getattr(settings, setting.name)
        if longest is not None and isinstance(number, int | float) and number > longest:
            raise ValueError(f"{value(setting.name)} is longer than the {longest:g} "
                             f"{setting.name.rsplit('_', 1)[1]} a setting may be")

    for name in _POSITIVE:
        if not getattr(settings, name) > 0:
            raise ValueError(f"{value(name)} must be greater than 0")
    for name in _NOT_NEGATIVE:
        if not getattr(settings, name) >= 0:
            raise ValueError(f"{value(name)} must not be negative")
    for name in _PERIODS:
        if getattr(settings, name) < SHORTEST_PERIOD_SECONDS:
            raise ValueError(f"{value(name)} must be at least {SHORTEST_PERIOD_SECONDS:g}: it "
                             "repeats for as long as the server runs")
    if settings.heartbeat_seconds >= settings.lease_seconds:
        raise ValueError(f"{value('heartbeat_seconds')} must be shorter than "
                         f"{value('lease_seconds')}: a lease would lapse between heartbeats")
    if settings.agent_offline_seconds <= settings.heartbeat_seconds:
        raise ValueError(f"{value('agent_offline_seconds')} must be longer than "
                         f"{value('heartbeat_seconds')}: every agent would look offline")
    if settings.claim_wait_seconds > MAX_CLAIM_WAIT_SECONDS:
        raise ValueError(f"{value('claim_wait_seconds')} is longer than the "
                         f"{MAX_CLAIM_WAIT_SECONDS:.0f} s the API lets a claim wait")
    if settings.max_attempts > MAX_ATTEMPTS:
        raise ValueError(f"{value('max_attempts')} must be at most {MAX_ATTEMPTS}, the most "
                         "a submit may ask for")
    if settings.retry_base_seconds > settings.retry_max_seconds:
        raise ValueError(f"{value('retry_base_seconds')} must not exceed "
                         f"{value('retry_max_seconds')}")
    if not 0 < settings.flaky_threshold <= 1:
        raise ValueError(f"{value('flaky_threshold')} must be more than 0 and at most 1")
    if settings.retry_stop_on_repeat not in ("other-device", "any-device", "never"):
        raise ValueError(f"{value('retry_stop_on_repeat')} must be other-device, any-device "
                         "or never")
    if settings.max_body_bytes < 1024:
        raise ValueError(f"{value('max_body_bytes')} must be at least 1024")
    if settings.artifact_dir:
        _check_artifact_dir(value('artifact_dir'), Path(settings.artifact_dir).expanduser())
    settings.trusted_proxy_networks()  # a bad entry is refused at start, not at a request
    settings.allowed_host_names()
    for org, tier in sorted(settings.org_tiers.items()):
        # A misspelt tier would otherwise weigh as "standard", silently.
        if tier != "standard" and tier not in settings.tier_weights:
            raise ValueError(f"QGJOB_ORG_TIERS: {org!r} is in tier {tier!r}, which "
                             f"QGJOB_TIER_WEIGHTS does not weigh (it has "
                             f"{', '.join(sorted(settings.tier_weights)) or 'none'})")
    from qgjob.domain.values import TARGETS

    installs = variable("install_seconds")
    unknown_targets = sorted(set(settings.install_seconds) - set(TARGETS))
    if unknown_targets:
        raise ValueError(f"{installs}: unknown target(s) {', '.join(unknown_targets)}; "
                         f"known: {', '.join(TARGETS)}")
    for target, seconds in sorted(settings.install_seconds.items()):
        if not 0 < seconds <= LONGEST_SECONDS:
            raise ValueError(f"{installs}: {target}={seconds!r} must be positive and at most "
                             f"{LONGEST_SECONDS:g}")
    from qgjob.scheduler.registry import KNOBS

    tunable = set(KNOBS) - {"max_batch", "preemption", "name"}
    unknown = sorted(set(settings.policy) - tunable)
    if unknown:
        raise ValueError(f"QGJOB_POLICY: unknown setting(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(tunable))}")
    _check_policy(settings.policy)


def _check_artifact_dir(named: str, folder: Path) -> None:
    """The evidence folder exists and takes new files, or its nearest existing parent takes
    new folders: found at start, not at the first upload. Each is tried with a folder made
    and removed at once (permission bits alone do not say that /proc/x cannot be made)."""
    if folder.is_file():
        raise ValueError(f"{named} is a file, not a directory")
    parent = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise ValueError(f"{named} can't be created: {parent} is not a directory")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".qgjob-check-", dir=parent))
    except OSError as refused:
        why = "isn't writable" if parent == folder else f"can't be created in {parent}"
        raise ValueError(f"{named} {why}: {refused.strerror or refused}") from None


PRIORITY_KNOBS = ("urgent_priority", "preemptible_priority")
"""Policy settings that name a priority (1-5)."""
CHANCE_KNOBS = ("batch_chance",)
"""Policy settings that are a chance, between 0 and 1 (both left out: 0 would make nothing
a batch, 1 everything)."""


def _check_policy(knobs: dict[str, float]) -> None:
    """QGJOB_POLICY's values: a count or a priority is a whole number (a priority 1-5), and
    none is too large to mean anything (JSON's 1e400 reads as infinity)."""
    from qgjob.domain.values import MAX_PRIORITY, MIN_PRIORITY
    from qgjob.scheduler.policy import FairAffinityPolicy

    whole = {f.name for f in fields(FairAffinityPolicy) if f.type in ("int", int)}
    for name, number in knobs.items():
        if number > LONGEST_SECONDS:
            raise ValueError(f"QGJOB_POLICY: {name}={number!r} is too large")
        if name in whole and number != int(number):
            raise ValueError(f"QGJOB_POLICY: {name}={number!r} must be a whole number")
        if name in CHANCE_KNOBS and not 0 < number < 1:
            raise ValueError(f"QGJOB_POLICY: {name}={number!r} must be a chance between 0 "
                             "and 1, both left out")
        if name in PRIORITY_KNOBS and not MIN_PRIORITY <= number <= MAX_PRIORITY:
            raise ValueError(f"QGJOB_POLICY: {name}={number!r} must be a priority "
                             f"{MIN_PRIORITY}-{MAX_PRIORITY}")


def _parse(name: str, kind: Any, raw: str) -> Any:
    if str(kind).startswith("dict"):
        return _parse_mapping(name, str(kind), raw)
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError(raw)
            return lowered in ("1", "true", "yes", "on")
        if kind is int:
            return int(raw)
        if kind is float:
            number = float(raw)
            if not math.isfinite(number):
                raise ValueError(raw)  # "inf" and "nan" parse; no setting can be either
            return number
    except ValueError:
        raise ValueError(f"{variable(name)}={raw!r} is not a valid {kind.__name__}") from None
    return raw


def _parse_mapping(name: str, kind: str, raw: str) -> dict[str, Any]:
    """JSON objects, e.g. QGJOB_ORG_CAPS='{"acme": 4}'."""
    env_name = variable(name)
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        raise ValueError(f"{env_name} must be a JSON object, e.g. '{{\"acme\": 4}}'") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{env_name} must be a JSON object with string keys")
    types: dict[str, type | tuple[type, ...]] = {
        "dict[str, str]": str, "dict[str, float]": (int, float), "dict[str, int]": int}
    expected = types[kind]
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, expected):
            raise ValueError(f"{env_name}: the value for {key!r} has the wrong type")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{env_name}: the value for {key!r} must be a finite number")
        if isinstance(item, int | float) and item <= 0:
            raise ValueError(f"{env_name}: the value for {key!r} must be positive")
    return value

"""MirrorMaker 2 connector configs <-> ksync task specs, for the Kafka Connect face.

`parse` turns a `MirrorSourceConnector` config (the keys an MM2 user already has) into a
`MirrorConfig`: the two clusters to register or reuse, and everything a `TaskSpec` needs.
It is pure (no store, no Kafka) and raises `ConfigError` naming the offending key, so the
face answers 400 before anything is registered. `config_of_spec` goes the other way for a
task created by another face, so every ksync task can be shown as a connector.

Rules, as MM2 behaves:

* `topics` and `topics.exclude` are comma lists of regexes (whole-name matches). An entry
  that is a plain topic name (only `[A-Za-z0-9._-]`) is taken literally into
  `source.topics` (a `.` in a name is meant as a dot, not "any character"); the other
  entries are joined with `|` into `source.topic_regex`. Missing `topics` means `.*`;
  missing `topics.exclude` means MM2's default (`.*[\\-\\.]internal`, `.*\\.replica`, `__.*`).
* `DefaultReplicationPolicy` names a remote topic `<source alias><separator><topic>` and
  never replicates a topic that came from the target alias (MM2's cycle check): that rule
  is added to the exclude regex. `IdentityReplicationPolicy` keeps the name.
* The producer and consumer settings that matter for a far cluster become the task's
  client tuning (`ksync.spec.ClientTuning`), spelled as Connect overrides them:
  `producer.override.compression.type` (or plain `compression.type`),
  `producer.override.linger.ms`, `producer.override.batch.size` (a cap: a batch also fits
  the target topics' max.message.bytes) and `consumer.override.fetch.max.bytes` (or MM2's
  `source.consumer.` / `consumer.` spelling, as for auto.offset.reset). Two spellings of
  one setting with different values are refused; a missing one means ksync's default.
* `ksync.topic.map` (ksync's own key; MM2 names remote topics by its policy only) names
  the target topic of individual source topics: comma-separated `source:target` pairs,
  `orders:orders-bak,payments:pay-bak` (`:` is not allowed in topic names). It becomes
  `target.topic_map`; the unlisted topics keep the replication policy's names.
* `MirrorCheckpointConnector` is a task that copies no records (`options.mode:
  metadata`: its topics are kept in step, as the source connector's) with consumer-group
  offset sync (`options.sync_group_offsets`) from MM2's keys: `groups` and
  `groups.exclude` (comma lists of regexes, as `topics`; defaults `.*` and MM2's
  `console-consumer-.*,connect-.*,__.*`), `sync.group.offsets.enabled` (default false, as
  MM2's) and `sync.group.offsets.interval.seconds` (default 60). MM2 writes a group's
  offsets from its latest checkpoint, emitted every `emit.checkpoints.interval.seconds`
  (default 60), so offsets are never fresher than that; ksync has no checkpoint topic
  and translates at each sync, so the two keys make one period: the longer of them, the
  rate at which MM2 could have written them. ksync also reads these keys on a
  `MirrorSourceConnector` (its own extension: one task then copies the records and the
  offsets). `sync.topic.acls.enabled` (MM2's default true is not ksync's: ACL sync is
  opt-in, so the key's default here is false) becomes `options.sync_topic_acls`.
* Keys ksync has no use for are kept in the stored config and listed as ignored, never
  dropped silently. Secret values (passwords, JAAS passwords, keys) are stored hidden as
  `[hidden]`: the secret itself lives only in the instance's security settings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr, ValidationError

from ksync.api.compat.connect.hiding import (
    HIDDEN,
    MAX_VALUE_CHARS,
    TooManyOptions,
    hide_secrets,
    jaas_options,
)
from ksync.domain.instance import InstanceView
from ksync.patterns import PatternError, compile_pattern
from ksync.replication.policy import ReplicationPolicy
from ksync.spec import (
    ClientTuning,
    Delivery,
    ErrorTolerance,
    GroupOffsetSync,
    SecuritySpec,
    StartPoint,
    SyncMode,
    TaskSpec,
    validate_bootstrap_servers,
)

MIRROR_PACKAGE = "org.apache.kafka.connect.mirror."
SOURCE_CONNECTOR = MIRROR_PACKAGE + "MirrorSourceConnector"
CHECKPOINT_CONNECTOR = MIRROR_PACKAGE + "MirrorCheckpointConnector"
CONNECTOR_CLASSES = (SOURCE_CONNECTOR, CHECKPOINT_CONNECTOR)
SOURCE_TASK = MIRROR_PACKAGE + "MirrorSourceTask"
DEFAULT_POLICY = MIRROR_PACKAGE + "DefaultReplicationPolicy"
IDENTITY_POLICY = MIRROR_PACKAGE + "IdentityReplicationPolicy"
BYTE_ARRAY_CONVERTER = "org.apache.kafka.connect.converters.ByteArrayConverter"

# MM2's defaults (MirrorSourceConfig / DefaultTopicFilter).
DEFAULT_TOPICS = ".*"
DEFAULT_EXCLUDE = (r".*[\-\.]internal", r".*\.replica", r"__.*")
DEFAULT_SEPARATOR = "."
MAX_TASKS = 64
# Connect's connector type of the one class ksync runs.
CONNECTOR_TYPE = "source"

_PLAIN_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
# A group id taken literally: the characters of a topic name (any other entry is a regex).
_PLAIN_GROUP = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,248}")
_NAME_CHARS = re.compile(r"[A-Za-z0-9._-]+")
# Connect config keys are dotted names; a longer one is not a setting.
MAX_KEY_CHARS = 256

_CLUSTER_KEYS = (
    "alias",
    "bootstrap.servers",
    "security.protocol",
    "sasl.mechanism",
    "sasl.jaas.config",
    "ssl.truststore.type",
    "ssl.truststore.certificates",
)

# ClientTuning field -> the config keys that set it, the one shown first.
TUNING_KEYS: dict[str, tuple[str, ...]] = {
    "compression": ("producer.override.compression.type", "compression.type"),
    "linger_ms": ("producer.override.linger.ms",),
    "batch_bytes": ("producer.override.batch.size",),
    "fetch_max_bytes": (
        "consumer.override.fetch.max.bytes",
        "source.consumer.fetch.max.bytes",
        "consumer.fetch.max.bytes",
    ),
}

# MM2's consumer-group keys (MirrorCheckpointConfig) and their defaults.
GROUPS = "groups"
GROUPS_EXCLUDE = "groups.exclude"
SYNC_GROUP_OFFSETS = "sync.group.offsets.enabled"
SYNC_GROUP_INTERVAL = "sync.group.offsets.interval.seconds"
EMIT_CHECKPOINTS_INTERVAL = "emit.checkpoints.interval.seconds"
GROUP_KEYS = (GROUPS, GROUPS_EXCLUDE, SYNC_GROUP_OFFSETS, SYNC_GROUP_INTERVAL, EMIT_CHECKPOINTS_INTERVAL)
DEFAULT_GROUPS = ".*"
DEFAULT_GROUPS_EXCLUDE = ("console-consumer-.*", "connect-.*", "__.*")
DEFAULT_GROUP_INTERVAL_S = 60
SYNC_TOPIC_ACLS = "sync.topic.acls.enabled"

# ksync's key for target.topic_map (see the module docstring).
TOPIC_MAP_KEY = "ksync.topic.map"
# Connect's error handling keys: tolerance none | all and the dead-letter topic (written
# on the target, as the connector's producer writes there).
ERRORS_TOLERANCE = "errors.tolerance"
ERRORS_DLQ = "errors.deadletterqueue.topic.name"
# Exactly-once (KIP-618): the connector's `exactly.once.support` (requested | required)
# and the worker's `exactly.once.source.support` (disabled | preparing | enabled), which
# MirrorMaker 2's dedicated mode reads from the same properties.
EOS_SUPPORT = "exactly.once.support"
EOS_SOURCE_SUPPORT = "exactly.once.source.support"

# Keys whose value ksync uses (or, for converters, whose only meaningful value is what
# ksync always does: copy the bytes).
HONOURED = frozenset(
    {
        "name",
        "connector.class",
        "topics",
        "topics.exclude",
        "topics.blacklist",
        "replication.policy.class",
        "replication.policy.separator",
        "tasks.max",
        "sync.topic.configs.enabled",
        "consumer.auto.offset.reset",
        "source.consumer.auto.offset.reset",
        TOPIC_MAP_KEY,
        ERRORS_TOLERANCE,
        ERRORS_DLQ,
        SYNC_TOPIC_ACLS,
        *GROUP_KEYS,
        EOS_SUPPORT,
        EOS_SOURCE_SUPPORT,
    }
    | {f"{side}.cluster.{key}" for side in ("source", "target") for key in _CLUSTER_KEYS}
    | {key for keys in TUNING_KEYS.values() for key in keys}
)
BYTE_CONVERTER_KEYS = ("key.converter", "value.converter", "header.converter")


class ConfigError(ValueError):
    """A connector config ksync cannot run; `key` is the config key at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True)
class ClusterRef:
    """One side of the connector: the alias and how to reach the cluster.

    `security` is None when the config sets no security key (reuse whatever the
    registered instance has). `password_hidden` says the config carried `[hidden]` in
    place of a secret, as a config read back from ksync does.
    """

    side: str  # "source" | "target"
    alias: str
    bootstrap_servers: str
    security: SecuritySpec | None
    password_hidden: bool = False

    def key(self, name: str) -> str:
        """The full config key of this side's cluster setting `name`."""
        return f"{self.side}.cluster.{name}"


@dataclass(frozen=True)
class MirrorConfig:
    """A parsed MirrorSourceConnector config, ready to become a TaskSpec."""

    name: str
    source: ClusterRef
    target: ClusterRef
    topics: list[str]
    topic_regex: str | None
    exclude_regex: str | None
    topic_prefix: str
    separator: str
    topic_map: dict[str, str]
    task_max: int
    sync_topic_configs: bool
    start: StartPoint | None  # None: keep the task's current start point (default earliest)
    tuning: ClientTuning
    config: dict[str, str]  # as stored and shown: `name` set, secrets hidden
    # As for the tuning, the config says all there is: no errors keys is tolerance none.
    errors: ErrorTolerance = field(default_factory=ErrorTolerance)
    delivery: Delivery = "at_least_once"
    ignored: list[str] = field(default_factory=list)
    connector_class: str = SOURCE_CONNECTOR
    group_offsets: GroupOffsetSync = field(default_factory=GroupOffsetSync)
    sync_topic_acls: bool = False

    @property
    def mode(self) -> SyncMode:
        """A checkpoint connector copies no records (its topics are kept in step)."""
        return "metadata" if self.connector_class == CHECKPOINT_CONNECTOR else "data"

    def task_spec(
        self, source_id: str, target_id: str, current: TaskSpec | None = None
    ) -> TaskSpec:
        """The TaskSpec. What MM2 keys cannot say (keep_partition, traffic limits, a start
        point given by another face) is kept from `current` when reconfiguring."""
        kept = current.model_dump(mode="json") if current is not None else {}
        source = {
            **kept.get("source", {}),
            "instance_id": source_id,
            "topics": self.topics,
            "topic_regex": self.topic_regex,
            "exclude_regex": self.exclude_regex,
        }
        if self.start is not None:
            source["start"] = self.start.model_dump(mode="json")
        try:
            return TaskSpec.model_validate(
                {
                    **kept,
                    "name": self.name,
                    "source": source,
                    "target": {
                        **kept.get("target", {}),
                        "instance_id": target_id,
                        "topic_prefix": self.topic_prefix,
                        "separator": self.separator,
                        "topic_map": self.topic_map,
                    },
                    "options": {
                        **kept.get("options", {}),
                        "sync_topic_configs": self.sync_topic_configs,
                        "task_max": self.task_max,
                        **self.tuning.model_dump(mode="json"),
                        "errors": self.errors.model_dump(mode="json"),
                        "mode": self.mode,
                        "sync_group_offsets": self.group_offsets.model_dump(mode="json"),
                        "sync_topic_acls": self.sync_topic_acls,
                        "delivery": self.delivery,
                    },
                }
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            raise ConfigError(_key_of(err.get("loc", ())), message) from None


def _key_of(loc: tuple[Any, ...]) -> str:
    """The config key behind a TaskSpec validation error location."""
    path = ".".join(str(p) for p in loc[:2])
    return {
        "name": "name",
        "source.topics": "topics",
        "source.topic_regex": "topics",
        "source.exclude_regex": "topics.exclude",
        "source": "topics",
        "target.topic_prefix": "source.cluster.alias",
        "target.separator": "replication.policy.separator",
        "target.topic_map": TOPIC_MAP_KEY,
        "options.task_max": "tasks.max",
        "options.sync_topic_configs": "sync.topic.configs.enabled",
        "options.sync_group_offsets": GROUPS,
        "options.mode": "connector.class",
    }.get(path, path or "config")


# ---- parsing ---------------------------------------------------------------------------


def normalise(raw: Mapping[str, Any]) -> dict[str, str]:
    """Connect configs are string maps; accept JSON scalars as their string form."""
    out: dict[str, str] = {}
    for key, value in raw.items():
        if len(key) > MAX_KEY_CHARS:
            raise ConfigError(key[:64] + "…", f"a config key has at most {MAX_KEY_CHARS} characters (got {len(key)})")
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            raise ConfigError(key, f"at most {MAX_VALUE_CHARS} characters (got {len(value)})")
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            out[key] = str(value)
        else:
            kind = "null" if value is None else type(value).__name__
            raise ConfigError(key, f"must be a string (got {kind})")
    return out


def check_name(name: str) -> None:
    """Connect's rules for a connector name, plus ksync's length limit."""
    if not name or not name.strip():
        raise ConfigError("name", "a connector name must not be empty")
    if name != name.strip():
        raise ConfigError("name", f"'{name}' must not start or end with whitespace")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        raise ConfigError("name", "a connector name must not contain control characters")
    if "/" in name:
        raise ConfigError("name", f"'{name}' must not contain '/': it is part of URLs")
    if len(name) > 128:
        raise ConfigError("name", f"at most 128 characters (got {len(name)})")


def parse(name: str, raw: Mapping[str, Any]) -> MirrorConfig:
    """Validate a MirrorSourceConnector config for connector `name`."""
    check_name(name)
    cfg = normalise(raw)
    if cfg.get("name", name) != name:
        raise ConfigError(
            "name",
            f"the config's name ({cfg['name']}) does not match the connector name ({name})",
        )
    cfg["name"] = name
    connector_class = _check_class(cfg.get("connector.class"))

    policy = _policy(cfg.get("replication.policy.class", DEFAULT_POLICY))
    separator = cfg.get("replication.policy.separator", DEFAULT_SEPARATOR)
    if separator and not _NAME_CHARS.fullmatch(separator):
        raise ConfigError(
            "replication.policy.separator",
            f"'{separator}' may only contain [A-Za-z0-9._-]: it becomes part of topic names",
        )
    source = _cluster(cfg, "source")
    target = _cluster(cfg, "target")
    if policy == DEFAULT_POLICY:
        if not _NAME_CHARS.fullmatch(source.alias):
            raise ConfigError(
                "source.cluster.alias",
                f"'{source.alias}' may only contain [A-Za-z0-9._-] with DefaultReplicationPolicy: "
                "it prefixes the remote topic names",
            )
        prefix = source.alias
    else:
        prefix = ""

    include = _regex_list("topics", cfg.get("topics", DEFAULT_TOPICS))
    names = [e for e in include if _PLAIN_TOPIC.fullmatch(e) and e not in (".", "..")]
    patterns = [e for e in include if e not in names]
    if not include:
        raise ConfigError("topics", "the topic selection is empty: list topic names or regexes")
    if "topics.exclude" in cfg:
        excludes = _regex_list("topics.exclude", cfg["topics.exclude"])
    elif "topics.blacklist" in cfg:  # MM2's deprecated name for topics.exclude
        excludes = _regex_list("topics.blacklist", cfg["topics.blacklist"])
    else:
        excludes = list(DEFAULT_EXCLUDE)
    if policy == DEFAULT_POLICY:
        # MM2's isCycle: a topic whose name says it came from the target cluster
        # (`<target alias><sep>…`, at any depth) goes back only as a loop.
        remote = ReplicationPolicy(target.alias, separator or DEFAULT_SEPARATOR)
        excludes.append(f"(?:.*{re.escape(remote.separator)})?{remote.target_pattern()}")

    return MirrorConfig(
        name=name,
        source=source,
        target=target,
        topics=names,
        topic_regex=_join(patterns),
        exclude_regex=_join(excludes),
        topic_prefix=prefix,
        separator=separator,
        topic_map=_topic_map(cfg.get(TOPIC_MAP_KEY, "")),
        task_max=_int("tasks.max", cfg.get("tasks.max", "1"), 1, MAX_TASKS),
        # MM2's checkpoint connector syncs no topic config: that stays the source
        # connector's choice unless the key says otherwise.
        sync_topic_configs=_bool(
            "sync.topic.configs.enabled",
            cfg.get(
                "sync.topic.configs.enabled",
                "true" if connector_class == SOURCE_CONNECTOR else "false",
            ),
        ),
        start=_start(cfg),
        tuning=_tuning(cfg),
        errors=_errors(cfg),
        delivery=_delivery(cfg),
        config=hide_secrets(cfg),
        ignored=ignored_keys(cfg),
        connector_class=connector_class,
        group_offsets=_group_offsets(cfg),
        sync_topic_acls=_bool(SYNC_TOPIC_ACLS, cfg.get(SYNC_TOPIC_ACLS, "false")),
    )


def _group_offsets(cfg: dict[str, str]) -> GroupOffsetSync:
    """MM2's group keys -> `options.sync_group_offsets` (see the module docstring): plain
    group names are taken literally, the other entries joined into one regex."""
    include = _regex_list(GROUPS, cfg.get(GROUPS, DEFAULT_GROUPS))
    if not include:
        raise ConfigError(GROUPS, "the group selection is empty: list group names or regexes")
    if GROUPS_EXCLUDE in cfg:
        excludes = _regex_list(GROUPS_EXCLUDE, cfg[GROUPS_EXCLUDE])
    else:
        excludes = list(DEFAULT_GROUPS_EXCLUDE)
    names = [e for e in include if _PLAIN_GROUP.fullmatch(e)]
    patterns = [e for e in include if e not in names]
    period = max(
        _int(key, cfg.get(key, str(DEFAULT_GROUP_INTERVAL_S)), 1, 86_400)
        for key in (SYNC_GROUP_INTERVAL, EMIT_CHECKPOINTS_INTERVAL)
    )
    try:
        return GroupOffsetSync(
            enabled=_bool(SYNC_GROUP_OFFSETS, cfg.get(SYNC_GROUP_OFFSETS, "false")),
            groups=names,
            groups_regex=_join(patterns),
            groups_exclude_regex=_join(excludes),
            interval_s=period,
        )
    except ValidationError as exc:
        message = str(exc.errors()[0].get("msg", "invalid")).removeprefix("Value error, ")
        raise ConfigError(GROUPS, message) from None


def _topic_map(value: str) -> dict[str, str]:
    """`source:target[,source:target...]` as a dict; the names are checked by TaskSpec."""
    out: dict[str, str] = {}
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        source, colon, target = (part.strip() for part in entry.partition(":"))
        if not colon or not source or not target or ":" in target:
            raise ConfigError(
                TOPIC_MAP_KEY,
                f"'{entry}' is not source:target; give comma-separated pairs of a source topic "
                "and its target topic, e.g. orders:orders-bak,payments:pay-bak",
            )
        if out.get(source, target) != target:
            raise ConfigError(
                TOPIC_MAP_KEY, f"source topic {source} is given two targets ({out[source]}, {target})"
            )
        out[source] = target
    return out


def _check_class(value: str | None) -> str:
    """The full class name of a connector ksync runs (`CONNECTOR_CLASSES`)."""
    if value is None:
        raise ConfigError(
            "connector.class",
            f"is required; ksync runs {SOURCE_CONNECTOR} and {CHECKPOINT_CONNECTOR} (MirrorMaker 2)",
        )
    full = MIRROR_PACKAGE + value.removeprefix(MIRROR_PACKAGE)
    if full in CONNECTOR_CLASSES:
        return full
    if full == MIRROR_PACKAGE + "MirrorHeartbeatConnector":
        raise ConfigError(
            "connector.class",
            f"{value} is not supported: ksync follows a task's health itself (its status and "
            f"lag); it runs {SOURCE_CONNECTOR} and {CHECKPOINT_CONNECTOR}",
        )
    raise ConfigError(
        "connector.class",
        f"{value} is not supported; ksync runs {SOURCE_CONNECTOR} and {CHECKPOINT_CONNECTOR} "
        "(or their simple names)",
    )


def _policy(value: str) -> str:
    full = value if "." in value else MIRROR_PACKAGE + value
    if full not in (DEFAULT_POLICY, IDENTITY_POLICY):
        raise ConfigError(
            "replication.policy.class",
            f"{value} is not supported; use {DEFAULT_POLICY} (remote topic = source alias + "
            f"separator + topic) or {IDENTITY_POLICY} (same name)",
        )
    return full


def _cluster(cfg: dict[str, str], side: str) -> ClusterRef:
    prefix = f"{side}.cluster."
    alias = cfg.get(prefix + "alias", side).strip()
    if not alias:
        raise ConfigError(prefix + "alias", "must not be empty")
    servers_key = prefix + "bootstrap.servers"
    if servers_key not in cfg:
        raise ConfigError(servers_key, "is required: the host:port list of the cluster")
    try:
        servers = validate_bootstrap_servers(cfg[servers_key])
    except ValueError as exc:
        raise ConfigError(servers_key, str(exc)) from None
    security, hidden = _security(cfg, prefix)
    return ClusterRef(side, alias, servers, security, hidden)


def _security(cfg: dict[str, str], prefix: str) -> tuple[SecuritySpec | None, bool]:
    """Map `<side>.cluster.security.protocol` / `sasl.*` / PEM trust onto SecuritySpec."""
    given = [k for k in _CLUSTER_KEYS[2:] if prefix + k in cfg]
    if not given:
        return None, False
    protocol = cfg.get(prefix + "security.protocol", "PLAINTEXT").upper()
    if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise ConfigError(
            prefix + "security.protocol",
            f"'{protocol}' is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL",
        )
    data: dict[str, Any] = {"protocol": protocol}
    hidden = False
    if protocol.startswith("SASL_"):
        # Kafka's default mechanism is GSSAPI, which ksync does not speak.
        mechanism = cfg.get(prefix + "sasl.mechanism", "GSSAPI").upper()
        if mechanism not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
            raise ConfigError(
                prefix + "sasl.mechanism",
                f"'{mechanism}' is not supported; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
            )
        jaas_key = prefix + "sasl.jaas.config"
        jaas = cfg.get(jaas_key)
        if jaas is None:
            raise ConfigError(jaas_key, f"is required with {protocol}: a PlainLoginModule or "
                              "ScramLoginModule line with username and password")
        if "PlainLoginModule" not in jaas and "ScramLoginModule" not in jaas:
            raise ConfigError(jaas_key, "only PlainLoginModule and ScramLoginModule are supported")
        try:
            options = {o.key: o.value for o in reversed(jaas_options(jaas)) if o.quoted}
        except TooManyOptions as exc:
            raise ConfigError(jaas_key, str(exc)) from None
        username, password = options.get("username"), options.get("password")
        if username is None or password is None:
            raise ConfigError(jaas_key, 'must set username="…" and password="…"')
        secret = _unquote(password[1:-1])
        hidden = secret == HIDDEN
        data.update(
            sasl_mechanism=mechanism,
            username=_unquote(username[1:-1]),
            password=SecretStr(secret),
        )
    if protocol.endswith("SSL") and prefix + "ssl.truststore.certificates" in cfg:
        store_type = cfg.get(prefix + "ssl.truststore.type", "JKS").upper()
        if store_type != "PEM":
            raise ConfigError(
                prefix + "ssl.truststore.type",
                "must be PEM when ssl.truststore.certificates is given (ksync reads PEM only)",
            )
        pem = cfg[prefix + "ssl.truststore.certificates"]
        if pem == HIDDEN:
            hidden = True
        else:
            data["ca_pem"] = SecretStr(pem)
    try:
        return SecuritySpec.model_validate(data), hidden
    except ValidationError as exc:
        message = str(exc.errors()[0].get("msg", "invalid")).removeprefix("Value error, ")
        raise ConfigError(prefix + "security.protocol", message) from None


def _unquote(value: str) -> str:
    """A JAAS quoted value without its backslash escapes."""
    return re.sub(r"\\(.)", r"\1", value)


def _regex_list(key: str, value: str) -> list[str]:
    entries = [e.strip() for e in value.split(",") if e.strip()]
    for entry in entries:
        shown = entry if len(entry) <= 80 else entry[:80] + "…"
        try:
            compile_pattern(f"'{shown}'", entry)
        except PatternError as exc:
            raise ConfigError(key, str(exc)) from None
    return list(dict.fromkeys(entries))


def _join(patterns: list[str]) -> str | None:
    if not patterns:
        return None
    if len(patterns) == 1:
        return patterns[0]
    return "|".join(f"(?:{p})" for p in patterns)


def _int(key: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigError(key, f"'{value}' is not an integer") from None
    if not low <= number <= high:
        raise ConfigError(key, f"{number} is out of range: ksync allows {low} to {high}")
    return number


def _bool(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise ConfigError(key, f"'{value}' is not a boolean: use true or false")
    return lowered == "true"


def _start(cfg: dict[str, str]) -> StartPoint | None:
    for key in ("source.consumer.auto.offset.reset", "consumer.auto.offset.reset"):
        if key in cfg:
            value = cfg[key].strip().lower()
            if value not in ("earliest", "latest"):
                raise ConfigError(key, f"'{cfg[key]}' is not supported: use earliest or latest")
            return StartPoint(type=value)  # type: ignore[arg-type]
    return None


def _errors(cfg: dict[str, str]) -> ErrorTolerance:
    """`errors.tolerance` (default none) and the dead-letter topic, as Connect reads them:
    a dead-letter topic means nothing with tolerance none (Connect ignores it; so does
    ksync)."""
    tolerance = cfg.get(ERRORS_TOLERANCE, "none").strip().lower()
    if tolerance not in ("none", "all"):
        raise ConfigError(
            ERRORS_TOLERANCE, f"'{cfg[ERRORS_TOLERANCE]}' is not allowed: use none or all"
        )
    topic = cfg.get(ERRORS_DLQ, "").strip() or None
    try:
        return ErrorTolerance(
            tolerance=tolerance,  # type: ignore[arg-type]
            dead_letter_topic=topic if tolerance == "all" else None,
        )
    except ValidationError as exc:
        message = str(exc.errors()[0].get("msg", "invalid")).removeprefix("Value error, ")
        raise ConfigError(ERRORS_DLQ, message) from None


def _delivery(cfg: dict[str, str]) -> Delivery:
    """`options.delivery` from Connect's exactly-once keys: exactly-once when the worker
    side says `enabled` or the connector `required`s it (ksync's connector supports it).
    Connect's `preparing` is a step of a rolling upgrade of Connect workers, which ksync
    has no use for; `required` with support `disabled` cannot be met."""
    support = cfg.get(EOS_SUPPORT, "requested").strip().lower()
    if support not in ("requested", "required"):
        raise ConfigError(
            EOS_SUPPORT,
            f"Invalid value {cfg[EOS_SUPPORT]} for configuration {EOS_SUPPORT}: "
            "String must be one of: requested, required",
        )
    source = cfg.get(EOS_SOURCE_SUPPORT, "disabled").strip().lower()
    if source not in ("disabled", "preparing", "enabled"):
        raise ConfigError(
            EOS_SOURCE_SUPPORT,
            f"Invalid value {cfg[EOS_SOURCE_SUPPORT]} for configuration {EOS_SOURCE_SUPPORT}: "
            "String must be one of: disabled, preparing, enabled",
        )
    if source == "preparing":
        raise ConfigError(
            EOS_SOURCE_SUPPORT,
            "preparing is a step of a rolling upgrade of Connect workers, which ksync does "
            "not have: use enabled (exactly-once) or disabled (at-least-once)",
        )
    if support == "required" and source == "disabled" and EOS_SOURCE_SUPPORT in cfg:
        raise ConfigError(
            EOS_SUPPORT,
            f"The connector requires exactly-once support, but {EOS_SOURCE_SUPPORT} is "
            "disabled: set it to enabled, or exactly.once.support to requested",
        )
    return "exactly_once" if support == "required" or source == "enabled" else "at_least_once"


def _tuning(cfg: dict[str, str]) -> ClientTuning:
    """The producer and consumer overrides of `cfg` (see TUNING_KEYS), validated by
    ClientTuning's rules; an error names the key that was given."""
    values: dict[str, Any] = {}
    used: dict[str, str] = {}
    for name, keys in TUNING_KEYS.items():
        given = [(key, cfg[key].strip()) for key in keys if key in cfg]
        if not given:
            continue
        key, value = given[0]
        for other, other_value in given[1:]:
            if other_value.lower() != value.lower():
                raise ConfigError(
                    other, f"'{other_value}' contradicts {key}={value}: give the setting once"
                )
        if name == "compression":
            values[name] = value.lower()
        else:
            try:
                values[name] = int(value)
            except ValueError:
                raise ConfigError(key, f"'{value}' is not an integer") from None
        used[name] = key
    try:
        return ClientTuning.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field_name = str(err["loc"][0])
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        raise ConfigError(used[field_name], f"'{values[field_name]}' is not allowed: {message}") from None


def ignored_keys(cfg: Mapping[str, str]) -> list[str]:
    """The keys of `cfg` ksync does not act on."""
    out = []
    for key, value in cfg.items():
        if key in HONOURED:
            continue
        if key in BYTE_CONVERTER_KEYS and value.strip() == BYTE_ARRAY_CONVERTER:
            continue
        out.append(key)
    return sorted(out)


# ---- the other way: a task shown as a connector ---------------------------------------------


def config_of_spec(
    name: str, spec: TaskSpec, source: InstanceView | None, target: InstanceView | None
) -> dict[str, str]:
    """An MM2 config that describes a task created by another face (no secrets)."""
    prefix = spec.target.topic_prefix
    topics = list(spec.source.topics)
    if spec.source.topic_regex:
        topics.append(spec.source.topic_regex)
    options = spec.options
    config = {
        "name": name,
        "connector.class": SOURCE_CONNECTOR if options.copies_records else CHECKPOINT_CONNECTOR,
        "source.cluster.alias": prefix or (source.name if source else "source"),
        "target.cluster.alias": target.name if target else "target",
        "replication.policy.class": DEFAULT_POLICY if prefix else IDENTITY_POLICY,
        "replication.policy.separator": spec.target.separator,
        "topics": ",".join(topics),
        "topics.exclude": spec.source.exclude_regex or "",
        "tasks.max": str(spec.options.task_max),
        "sync.topic.configs.enabled": "true" if spec.options.sync_topic_configs else "false",
    }
    for side, row in (("source", source), ("target", target)):
        if row is None:
            continue
        config[f"{side}.cluster.bootstrap.servers"] = row.bootstrap_servers
        protocol = row.security.protocol
        if protocol != "PLAINTEXT":
            config[f"{side}.cluster.security.protocol"] = protocol
        mechanism = row.security.sasl_mechanism
        if mechanism:
            module = "plain.PlainLoginModule" if mechanism == "PLAIN" else "scram.ScramLoginModule"
            username = str(row.security.username or "").replace("\\", "\\\\").replace('"', '\\"')
            config[f"{side}.cluster.sasl.mechanism"] = mechanism
            # The password stays in the instance: shown hidden, as for a config given here.
            config[f"{side}.cluster.sasl.jaas.config"] = (
                f"org.apache.kafka.common.security.{module} required "
                f'username="{username}" password="{HIDDEN}";'
            )
    if spec.target.topic_map:
        config[TOPIC_MAP_KEY] = ",".join(f"{s}:{t}" for s, t in spec.target.topic_map.items())
    if spec.source.start.type == "latest":
        config["consumer.auto.offset.reset"] = "latest"
    for setting, value in spec.options.tuning.model_dump(exclude_defaults=True).items():
        config[TUNING_KEYS[setting][0]] = str(value)
    if spec.options.delivery == "exactly_once":
        config[EOS_SOURCE_SUPPORT] = "enabled"
        config[EOS_SUPPORT] = "required"
    errors = spec.options.errors
    if errors.tolerance != "none":
        config[ERRORS_TOLERANCE] = errors.tolerance
        if errors.dead_letter_topic:
            config[ERRORS_DLQ] = errors.dead_letter_topic
    if options.sync_topic_acls:
        config[SYNC_TOPIC_ACLS] = "true"
    offsets = options.sync_group_offsets
    if offsets.enabled:
        config[SYNC_GROUP_OFFSETS] = "true"
        groups = [*offsets.groups, *([offsets.groups_regex] if offsets.groups_regex else [])]
        config[GROUPS] = ",".join(groups) or DEFAULT_GROUPS
        config[GROUPS_EXCLUDE] = offsets.groups_exclude_regex or ""
        # Both periods: the longer of them is the one ksync keeps.
        period = str(math.ceil(offsets.interval_s))  # Connect's key takes whole seconds
        config[SYNC_GROUP_INTERVAL] = config[EMIT_CHECKPOINTS_INTERVAL] = period
    return config

"""Validated, frozen descriptions of what a user asked for: instances and sync tasks.

These models are the edge: the API, the CLI and the compatible faces turn user input into
them, and everything inside ksync trusts them. A validation error always names the field
and what is allowed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ksync.patterns import check_pattern

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
StartType = Literal["earliest", "latest", "timestamp"]
Compression = Literal["none", "lz4", "zstd", "snappy", "gzip"]
Tolerance = Literal["none", "all"]
InstanceSide = Literal["source", "target"]
# `data`: copy records (and keep topics in step); `metadata`: keep topics in step only.
SyncMode = Literal["data", "metadata"]
Delivery = Literal["at_least_once", "exactly_once"]

_HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")
# Kafka's own rule for topic names (legal characters, at most 249).
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


def check_topic_name(name: str) -> str:
    """`name` if Kafka accepts it as a topic name; ValueError saying what is allowed."""
    if not _TOPIC_NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"'{name}' is not a valid topic name: use 1 to 249 of [A-Za-z0-9._-]")
    return name


def _printable(value: str) -> str:
    """Names are logged and shown: a control character (a newline, an escape, a
    direction override) would let a name forge log lines or hide what it says."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise ValueError(
                f"may not contain control or format characters (found U+{ord(ch):04X}): "
                "use printable characters only"
            )
    return value


# The name of an instance, task or alarm rule, as a user gives it.
Name = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_printable)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SecuritySpec(_Frozen):
    """How ksync authenticates to an instance. Secrets are `SecretStr`: never echoed."""

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_pem: SecretStr | None = None

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> SecuritySpec:
        if self.protocol.startswith("SASL_"):
            if self.sasl_mechanism is None:
                raise ValueError(
                    f"security.sasl_mechanism is required with protocol {self.protocol}; "
                    "allowed: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"
                )
            if not self.username or self.password is None:
                raise ValueError(
                    f"security.username and security.password are required with "
                    f"protocol {self.protocol}"
                )
        else:
            # Settings a protocol never uses are a mistake (a wrong protocol, most likely):
            # accepting them would store a secret that is never sent.
            unused = [
                name for name in ("sasl_mechanism", "username", "password") if getattr(self, name) is not None
            ]
            if unused:
                verb = "applies" if len(unused) == 1 else "apply"
                raise ValueError(
                    f"security.{', security.'.join(unused)} only {verb} to protocol "
                    f"SASL_PLAINTEXT or SASL_SSL, not {self.protocol}"
                )
        if self.ca_pem is not None and not self.protocol.endswith("SSL"):
            raise ValueError(
                f"security.ca_pem only applies to protocol SSL or SASL_SSL, not {self.protocol}"
            )
        return self


def validate_bootstrap_servers(value: str) -> str:
    """Normalise `host:port[,host:port…]`; raise ValueError naming what is wrong."""
    parts = [p.strip() for p in value.split(",")]
    if not value.strip() or any(not p for p in parts):
        raise ValueError("must be host:port[,host:port...] with no empty entries")
    for part in parts:
        m = _HOST_PORT.match(part)
        if m is None or not 0 < int(m.group(2)) < 65536:
            raise ValueError(f"'{part}' is not host:port with a port from 1 to 65535")
    return ",".join(parts)


class InstanceSpec(_Frozen):
    """A Kafka cluster ksync can reach, as the user registers it."""

    name: Name
    bootstrap_servers: str
    region: str | None = Field(default=None, max_length=64)
    zone: str | None = Field(default=None, max_length=64)
    security: SecuritySpec = SecuritySpec()
    # Cap on all sync traffic reading from or writing to this instance, MB/s; None = none.
    sync_quota_mb_s: float | None = Field(default=None, gt=0, le=100_000)

    _check_servers = field_validator("bootstrap_servers")(
        lambda cls, v: validate_bootstrap_servers(v)
    )


class StartPoint(_Frozen):
    """Where a partition with no committed progress starts."""

    type: StartType = "earliest"
    timestamp_ms: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _timestamp_needs_value(self) -> StartPoint:
        if self.type == "timestamp" and self.timestamp_ms is None:
            raise ValueError("start.timestamp_ms is required when start.type is 'timestamp'")
        if self.type != "timestamp" and self.timestamp_ms is not None:
            raise ValueError("start.timestamp_ms is only allowed when start.type is 'timestamp'")
        return self


# Validation context of a spec read back from the store: it was checked when it was
# saved, and a rule added since (a pattern RE2 cannot run) must not make the task
# unreadable; the controller reports it on the task when it evaluates the selection.
STORED = {"stored": True}


def _pattern(field: str, pattern: str | None, info: ValidationInfo) -> str | None:
    if info.context is not None and info.context.get("stored"):
        return pattern
    return check_pattern(field, pattern)


class SourceSpec(_Frozen):
    instance_id: str
    topics: list[str] = Field(default_factory=list)
    topic_regex: str | None = None
    exclude_regex: str | None = None
    start: StartPoint = StartPoint()

    @field_validator("topics")
    @classmethod
    def _topic_names(cls, topics: list[str]) -> list[str]:
        for name in topics:
            check_topic_name(name)
        return list(dict.fromkeys(topics))

    @field_validator("topic_regex")
    @classmethod
    def _regex(cls, v: str | None, info: ValidationInfo) -> str | None:
        return _pattern("topic_regex", v, info)

    @field_validator("exclude_regex")
    @classmethod
    def _exclude(cls, v: str | None, info: ValidationInfo) -> str | None:
        return _pattern("exclude_regex", v, info)

    @model_validator(mode="after")
    def _selection_not_empty(self) -> SourceSpec:
        if not self.topics and not self.topic_regex:
            raise ValueError(
                "the topic selection is empty: give source.topics (a list of names), "
                "source.topic_regex, or both"
            )
        return self


class TargetSpec(_Frozen):
    """Where and under which names the selected topics are written.

    `topic_map` names the target topic of individual source topics (`{"orders":
    "orders-bak"}`); the others get `topic_prefix + separator + name`. The naming rule
    itself, and which maps are allowed (several source topics onto one target topic only
    without keep_partition), belong to `ksync.replication.policy`.
    """

    instance_id: str
    topic_prefix: str = Field(default="", max_length=200)
    separator: str = Field(default=".", max_length=10)
    keep_partition: bool = True
    topic_map: dict[str, str] = Field(default_factory=dict, max_length=10_000)

    @field_validator("topic_prefix", "separator")
    @classmethod
    def _name_chars(cls, v: str) -> str:
        if v and not re.fullmatch(r"[A-Za-z0-9._-]+", v):
            raise ValueError(f"'{v}' may only contain [A-Za-z0-9._-]: it becomes part of topic names")
        return v

    @field_validator("topic_map")
    @classmethod
    def _map_names(cls, topic_map: dict[str, str]) -> dict[str, str]:
        for source, target in topic_map.items():
            try:
                check_topic_name(source)
                check_topic_name(target)
            except ValueError as exc:
                raise ValueError(
                    f"{source!r}: {target!r} is not allowed: {exc}; give source topic names as "
                    "keys and target topic names as values"
                ) from None
        return topic_map


class ClientTuning(_Frozen):
    """How a task's producer batches and compresses and its consumer fetches: the settings
    that matter when the target (or the source) is far away. The defaults are what every
    task did before they could be set.

    `batch_bytes` is a cap: a batch also stays within what every target topic accepts
    (its max.message.bytes), whichever is smaller. Compression changes only how batches
    travel and are stored; the records themselves (key, value, headers, timestamp,
    partition) arrive unchanged.
    """

    compression: Compression = "none"
    # Waiting longer fills larger batches: fewer round trips to a far target, more latency.
    linger_ms: int = Field(default=5, ge=0, le=10_000)
    # Below 1 KiB a batch holds about one record; above 16 MiB one batch would take a large
    # share of the producer's 64 MiB queue.
    batch_bytes: int = Field(default=1_000_000, ge=1_024, le=16_777_216)
    # At least librdkafka's message.max.bytes (1,000,000) and at most the 256 MiB the
    # consumer may hold queued.
    fetch_max_bytes: int = Field(default=52_428_800, ge=1_048_576, le=268_435_456)


class ErrorTolerance(_Frozen):
    """What a task does with a record the target refuses for its content (larger than
    the target topic accepts, say): `none` blocks the record's topic until the cause is
    fixed (the rest of the task goes on), `all` sends the record to `dead_letter_topic` on
    the `dead_letter_instance`, or skips it with a warning when no topic is given (as Kafka
    Connect's `errors.tolerance=all`), and goes on."""

    tolerance: Tolerance = "none"
    dead_letter_topic: str | None = None
    dead_letter_instance: InstanceSide = "target"

    @field_validator("dead_letter_topic")
    @classmethod
    def _topic_name(cls, name: str | None) -> str | None:
        if name is not None and (not _TOPIC_NAME.fullmatch(name) or name in (".", "..")):
            raise ValueError(f"'{name}' is not a valid topic name: use 1 to 249 of [A-Za-z0-9._-]")
        return name

    @model_validator(mode="after")
    def _topic_needs_all(self) -> ErrorTolerance:
        if self.dead_letter_topic is not None and self.tolerance != "all":
            raise ValueError(
                "options.errors.dead_letter_topic only applies with options.errors.tolerance "
                "'all' (with 'none' a refused record blocks its topic)"
            )
        return self


class GroupOffsetSync(_Frozen):
    """Consumer-group offset sync (`options.sync_group_offsets`): the committed offsets of
    the selected source groups, translated to the target topics' offsets, written to the
    same groups on the target, so their consumers can move there and miss nothing.

    A group is selected when it is listed in `groups` or matches `groups_regex` (a whole-name
    match, as topic patterns), and does not match `groups_exclude_regex`. Enabled with
    neither `groups` nor `groups_regex`, every group is selected (as MirrorMaker 2's
    `groups=.*`)."""

    enabled: bool = False
    groups: list[str] = Field(default_factory=list, max_length=10_000)
    groups_regex: str | None = None
    groups_exclude_regex: str | None = None
    interval_s: float = Field(default=10.0, ge=1.0, le=86_400.0)

    @field_validator("groups_regex")
    @classmethod
    def _groups(cls, v: str | None, info: ValidationInfo) -> str | None:
        return _pattern("options.sync_group_offsets.groups_regex", v, info)

    @field_validator("groups_exclude_regex")
    @classmethod
    def _exclude(cls, v: str | None, info: ValidationInfo) -> str | None:
        return _pattern("options.sync_group_offsets.groups_exclude_regex", v, info)


class TaskOptions(ClientTuning):
    """A task's options. The client tuning fields (`ClientTuning`) are options of their own
    (`options.compression`, ...), kept flat like the others; `tuning` is them as one value."""

    sync_topic_configs: bool = True
    task_max: int = Field(default=1, ge=1, le=64)
    # Traffic caps for the whole task, shared by its members; None = unlimited.
    throttle_mb_s: float | None = Field(default=None, gt=0, le=100_000)
    qps_limit: int | None = Field(default=None, gt=0, le=100_000_000)
    errors: ErrorTolerance = ErrorTolerance()
    # What the task keeps in step: records and topics (`data`), or topics only.
    mode: SyncMode = "data"
    sync_group_offsets: GroupOffsetSync = GroupOffsetSync()
    # Copy the topic ACLs that let principals read the source topics (READ only).
    sync_topic_acls: bool = False
    delivery: Delivery = "at_least_once"

    @property
    def copies_records(self) -> bool:
        """Members copy the task's records (`mode: data`); a `metadata` task runs none and
        only keeps its target topics in step."""
        return self.mode == "data"

    @model_validator(mode="after")
    def _offset_sync_is_at_least_once(self) -> TaskOptions:
        # Offset pairs come from delivery reports of marked records, whose soundness rests
        # on records that never time out; a transactional producer's records must time out
        # within its transaction. Not combined until translation reads the target group.
        if self.sync_group_offsets.enabled and self.delivery == "exactly_once":
            raise ValueError(
                "options.sync_group_offsets.enabled cannot be combined with options.delivery "
                "exactly_once yet: choose at_least_once for a task that syncs group offsets"
            )
        return self

    @property
    def tuning(self) -> ClientTuning:
        """The producer and consumer settings of this task, for its members."""
        return ClientTuning.model_validate(self.model_dump(include=set(ClientTuning.model_fields)))


class TaskSpec(_Frozen):
    """A sync task: source selection -> target naming, plus options."""

    name: Name
    source: SourceSpec
    target: TargetSpec
    options: TaskOptions = TaskOptions()

    @model_validator(mode="after")
    def _offset_sync_keeps_partitions(self) -> TaskSpec:
        # A translated offset is per partition: it means something on the target only
        # when source partition p is written to target partition p.
        if self.options.sync_group_offsets.enabled and not self.target.keep_partition:
            raise ValueError(
                "options.sync_group_offsets.enabled needs target.keep_partition true: "
                "offsets are translated per partition, so source partition p must be "
                "copied to target partition p"
            )
        return self


class Connection(_Frozen):
    """Everything a Kafka client needs to reach one instance, secrets included.

    Built from the store inside ksync and handed to the Kafka wrapper; never serialised
    into an API response.
    """

    instance_id: str
    bootstrap_servers: str
    security: SecuritySpec = SecuritySpec()
    name: str = ""  # the instance's name, for messages a user reads

    @property
    def label(self) -> str:
        """`instance ins-x (name)`: how messages name the instance."""
        named = f" ({self.name})" if self.name and self.name != self.instance_id else ""
        return f"instance {self.instance_id}{named}"

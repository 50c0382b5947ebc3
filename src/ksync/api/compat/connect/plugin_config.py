"""The config definitions of the one plugin ksync runs, as Connect describes a plugin's
ConfigDef (`GET /connector-plugins/{plugin}/config`, and each entry of a validation).

Only keys ksync acts on are defined (`config.HONOURED`): an MM2 key ksync ignores is kept
and listed as ignored, so describing it as a setting would mislead. A key honoured
without a line here is still listed, as a plain string without documentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ksync.api.compat.connect.config import (
    DEFAULT_EXCLUDE,
    DEFAULT_GROUP_INTERVAL_S,
    DEFAULT_GROUPS,
    DEFAULT_GROUPS_EXCLUDE,
    DEFAULT_POLICY,
    DEFAULT_SEPARATOR,
    DEFAULT_TOPICS,
    EMIT_CHECKPOINTS_INTERVAL,
    EOS_SOURCE_SUPPORT,
    EOS_SUPPORT,
    ERRORS_DLQ,
    ERRORS_TOLERANCE,
    GROUPS,
    GROUPS_EXCLUDE,
    HONOURED,
    MAX_TASKS,
    SYNC_GROUP_INTERVAL,
    SYNC_GROUP_OFFSETS,
    SYNC_TOPIC_ACLS,
    TOPIC_MAP_KEY,
    TUNING_KEYS,
)
from ksync.spec import ClientTuning

COMMON, SOURCE, TARGET, TUNING = "Common", "Source cluster", "Target cluster", "Client overrides"
OFFSETS = "Consumer group offsets"
CONFIG_GROUPS = (COMMON, OFFSETS, SOURCE, TARGET, TUNING)


@dataclass(frozen=True)
class KeyDef:
    """One ConfigKeyInfo: Connect's type (STRING, INT, BOOLEAN, LIST, CLASS, PASSWORD),
    default as a string (None: no default), importance, group and what it does in ksync."""

    type: str
    default: str | None
    importance: str
    group: str
    documentation: str
    required: bool = False


def _cluster_keys(side: str, group: str) -> dict[str, KeyDef]:
    p = f"{side}.cluster."
    return {
        p + "alias": KeyDef(
            "STRING", side, "HIGH", group,
            f"The {side} cluster's alias"
            + (" (DefaultReplicationPolicy prefixes remote topics with it)." if side == "source" else "."),
        ),
        p + "bootstrap.servers": KeyDef(
            "LIST", None, "HIGH", group,
            f"host:port list of the {side} cluster; ksync reuses the instance registered at "
            "these addresses, or registers one.",
            required=True,
        ),
        p + "security.protocol": KeyDef(
            "STRING", "PLAINTEXT", "MEDIUM", group,
            "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
        ),
        p + "sasl.mechanism": KeyDef(
            "STRING", "GSSAPI", "MEDIUM", group, "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."
        ),
        p + "sasl.jaas.config": KeyDef(
            "PASSWORD", None, "MEDIUM", group,
            "A PlainLoginModule or ScramLoginModule line with username and password.",
        ),
        p + "ssl.truststore.type": KeyDef(
            "STRING", "JKS", "LOW", group, "PEM with ssl.truststore.certificates."
        ),
        p + "ssl.truststore.certificates": KeyDef(
            "PASSWORD", None, "LOW", group, "The CA certificates (PEM) the cluster is trusted by."
        ),
    }


_TUNING_DOCS = {
    "compression": ("STRING", "How the target producer compresses: none, gzip, snappy, lz4, zstd."),
    "linger_ms": ("INT", "How long the target producer waits to fill a batch (ms)."),
    "batch_bytes": ("INT", "The target producer's batch cap (bytes); a batch also fits the target topic."),
    "fetch_max_bytes": ("INT", "The most the source consumer fetches in one request (bytes)."),
}
_TUNING_DEFAULTS = ClientTuning().model_dump(mode="json")

DEFINITIONS: dict[str, KeyDef] = {
    "name": KeyDef("STRING", None, "HIGH", COMMON, "The connector's name: the ksync task's name.", True),
    "connector.class": KeyDef(
        "CLASS", None, "HIGH", COMMON,
        "MirrorSourceConnector (copies records and keeps topics in step) or "
        "MirrorCheckpointConnector (copies no records; syncs consumer-group offsets).",
        True,
    ),
    "tasks.max": KeyDef(
        "INT", "1", "HIGH", COMMON,
        f"Members that copy the task's partitions in parallel (1 to {MAX_TASKS}).",
    ),
    "topics": KeyDef(
        "LIST", DEFAULT_TOPICS, "HIGH", COMMON,
        "Topic names or regexes to replicate (a plain name is taken literally).",
    ),
    "topics.exclude": KeyDef(
        "LIST", ",".join(DEFAULT_EXCLUDE), "MEDIUM", COMMON, "Regexes of topics not to replicate."
    ),
    "topics.blacklist": KeyDef("LIST", None, "LOW", COMMON, "Deprecated name of topics.exclude."),
    "replication.policy.class": KeyDef(
        "CLASS", DEFAULT_POLICY, "MEDIUM", COMMON,
        "DefaultReplicationPolicy (remote topics named <alias><separator><topic>) or "
        "IdentityReplicationPolicy (same names).",
    ),
    "replication.policy.separator": KeyDef(
        "STRING", DEFAULT_SEPARATOR, "LOW", COMMON, "Separator between the alias and the topic name."
    ),
    TOPIC_MAP_KEY: KeyDef(
        "LIST", "", "MEDIUM", COMMON,
        "ksync's own key: source:target pairs naming the target topic of individual source "
        "topics (orders:orders-bak); the others keep the replication policy's names.",
    ),
    ERRORS_TOLERANCE: KeyDef(
        "STRING", "none", "MEDIUM", COMMON,
        "none: a record the target refuses blocks its topic until the target accepts it; "
        "all: it goes to the dead-letter topic (or is skipped and counted without one).",
    ),
    ERRORS_DLQ: KeyDef(
        "STRING", "", "MEDIUM", COMMON,
        "The dead-letter topic on the target for refused records (errors.tolerance all).",
    ),
    EOS_SUPPORT: KeyDef(
        "STRING", "requested", "MEDIUM", COMMON,
        "required: copy exactly once (ksync's connector supports it); requested: as "
        f"{EOS_SOURCE_SUPPORT} says.",
    ),
    EOS_SOURCE_SUPPORT: KeyDef(
        "STRING", "disabled", "MEDIUM", COMMON,
        "enabled: records and source offsets commit in one target transaction, so "
        "read_committed consumers see each record once; disabled: at least once.",
    ),
    "sync.topic.configs.enabled": KeyDef(
        "BOOLEAN", "true", "MEDIUM", COMMON, "Whether source topic configs are copied to the target."
    ),
    SYNC_TOPIC_ACLS: KeyDef(
        "BOOLEAN", "false", "MEDIUM", COMMON,
        "Whether the source's READ ACLs on the synced topics are made on the target topics "
        "(ALL becomes READ; WRITE is never copied). Off unless set.",
    ),
    GROUPS: KeyDef(
        "LIST", DEFAULT_GROUPS, "MEDIUM", OFFSETS,
        "Consumer group ids or regexes whose offsets are synced (a plain id is taken literally).",
    ),
    GROUPS_EXCLUDE: KeyDef(
        "LIST", ",".join(DEFAULT_GROUPS_EXCLUDE), "MEDIUM", OFFSETS, "Regexes of groups not to sync."
    ),
    SYNC_GROUP_OFFSETS: KeyDef(
        "BOOLEAN", "false", "HIGH", OFFSETS,
        "Whether the selected groups' committed offsets, translated, are written to the same "
        "groups on the target while they have no active members there.",
    ),
    SYNC_GROUP_INTERVAL: KeyDef(
        "INT", str(DEFAULT_GROUP_INTERVAL_S), "LOW", OFFSETS,
        "Seconds between two offset syncs (the longer of this and "
        "emit.checkpoints.interval.seconds).",
    ),
    EMIT_CHECKPOINTS_INTERVAL: KeyDef(
        "INT", str(DEFAULT_GROUP_INTERVAL_S), "LOW", OFFSETS,
        "MM2's checkpoint period: ksync writes no checkpoint topic, and syncs offsets no more "
        "often than this, as MM2 could.",
    ),
    "consumer.auto.offset.reset": KeyDef(
        "STRING", "earliest", "MEDIUM", COMMON,
        "Where a partition without progress starts: earliest or latest.",
    ),
    "source.consumer.auto.offset.reset": KeyDef(
        "STRING", "earliest", "LOW", COMMON, "MM2's spelling of consumer.auto.offset.reset."
    ),
    **_cluster_keys("source", SOURCE),
    **_cluster_keys("target", TARGET),
    **{
        key: KeyDef(kind, str(_TUNING_DEFAULTS[field]), "LOW", TUNING, doc)
        for field, (kind, doc) in _TUNING_DOCS.items()
        for key in TUNING_KEYS.get(field, ())
    },
}


def key_info(key: str, order: int = -1) -> dict[str, Any]:
    """Connect's ConfigKeyInfo for `key` (a plain string entry for a key not defined)."""
    d = DEFINITIONS.get(key) or KeyDef("STRING", None, "LOW", COMMON, "")
    return {
        "name": key,
        "type": d.type,
        "required": d.required,
        "default_value": d.default,
        "importance": d.importance,
        "documentation": d.documentation,
        "group": d.group,
        "width": "NONE",
        "display_name": key,
        "dependents": [],
        "order": order,
    }


def plugin_config() -> list[dict[str, Any]]:
    """Every key ksync honours, defined ones in their order, then any other honoured key."""
    keys = [k for k in DEFINITIONS if k in HONOURED] + sorted(HONOURED - DEFINITIONS.keys())
    return [key_info(key, order) for order, key in enumerate(keys, start=1)]

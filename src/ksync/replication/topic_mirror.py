"""Topic mirroring: make the target topics match the selected source topics.

The control side of a task (MM2's MirrorSourceConnector): resolve the selection, create
missing target topics with the source's partition count, replication factor
`min(source RF, target brokers)` and explicitly set configs (minus the exclusion list),
and propagate config changes. Partition increases are propagated where the target broker
supports CreatePartitions. A target with fewer partitions than the source is a persistent
error under keep_partition: records of partition p would have nowhere to go.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ksync.kafka.admin import InstanceAdmin, NewTopicPlan, TopicInfo
from ksync.kafka.errors import KsyncKafkaError, PersistentKafkaError
from ksync.replication.policy import ReplicationPolicy
from ksync.replication.topic_filter import TopicFilter

log = logging.getLogger(__name__)

# Configs that describe the source cluster's operation, not the data: copying them would
# throttle, weaken or re-stamp the target (DESIGN.md "Topic attributes").
EXCLUDED_CONFIG_PREFIXES = ("message.timestamp.",)
EXCLUDED_CONFIGS = frozenset(
    {
        "leader.replication.throttled.replicas",
        "follower.replication.throttled.replicas",
        "min.insync.replicas",
        "unclean.leader.election.enable",
    }
)


def mirrored_configs(configs: dict[str, str]) -> dict[str, str]:
    """The source topic configs that are copied to the target."""
    return {
        k: v
        for k, v in configs.items()
        if k not in EXCLUDED_CONFIGS and not k.startswith(EXCLUDED_CONFIG_PREFIXES)
    }


@dataclass(frozen=True)
class TopicMapping:
    source: str
    target: str
    partitions: int

    def as_json(self) -> dict[str, object]:
        return {"source": self.source, "target": self.target, "partitions": self.partitions}


@dataclass
class MirrorResult:
    mappings: list[TopicMapping]
    created: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class TopicMirror:
    """Brings one task's target topics in line with its source selection."""

    source: InstanceAdmin
    target: InstanceAdmin
    policy: ReplicationPolicy
    topic_filter: TopicFilter
    keep_partition: bool
    sync_configs: bool
    target_broker_count: int
    same_cluster: bool = False

    def plan(self, source_topics: dict[str, TopicInfo]) -> list[TopicMapping]:
        """The mapping for the current selection (no Kafka calls).

        Within one cluster the task's own target topics are never sources: a regex that
        also matches `prefix.orders` would otherwise copy it to `prefix.prefix.orders`,
        and so on, one generation per refresh.
        """
        names = self.topic_filter.select(source_topics)
        if self.same_cluster and self.policy.prefix:
            own = self.policy.prefix + self.policy.separator
            names = [n for n in names if not n.startswith(own)]
        return [
            TopicMapping(name, self.policy.target_topic(name), source_topics[name].partitions)
            for name in names
        ]

    def reconcile(self) -> MirrorResult:
        """Resolve the selection and create/align target topics.

        Raises `PersistentKafkaError` for a state no retry fixes (a target topic with fewer
        partitions under keep_partition), and transient errors for the rest.
        """
        source_topics = self.source.list_topics()
        mappings = self.plan(source_topics)
        result = MirrorResult(mappings=mappings)
        if not mappings:
            return result
        target_topics = self.target.list_topics()
        configs = (
            self.source.topic_configs([m.source for m in mappings]) if self.sync_configs else {}
        )
        plans: list[NewTopicPlan] = []
        for m in mappings:
            src = source_topics[m.source]
            existing = target_topics.get(m.target)
            if existing is None:
                plans.append(
                    NewTopicPlan(
                        name=m.target,
                        partitions=src.partitions,
                        replication_factor=max(
                            1, min(src.replication_factor, self.target_broker_count)
                        ),
                        configs=mirrored_configs(configs.get(m.source, {})),
                    )
                )
                continue
            if existing.partitions < src.partitions:
                self._grow_or_fail(m, existing, result)
        result.created = self.target.create_topics(plans)
        for name in result.created:
            log.info("created topic %s on target %s", name, self.target.conn.instance_id)
        if self.sync_configs:
            self._sync_configs(mappings, configs, {p.name for p in plans}, result)
        return result

    def _grow_or_fail(self, m: TopicMapping, existing: TopicInfo, result: MirrorResult) -> None:
        message = (
            f"target topic {m.target} has {existing.partitions} partitions but source topic "
            f"{m.source} has {m.partitions}"
        )
        try:
            self.target.create_partitions(m.target, m.partitions)
            log.info("grew topic %s on target to %d partitions", m.target, m.partitions)
            return
        except KsyncKafkaError as exc:
            message = f"{message} and adding partitions failed ({exc})"
        if not self.keep_partition:
            result.warnings.append(f"{message}; records are spread by key over the target's")
            return
        raise PersistentKafkaError(
            f"{message}; with keep_partition the target needs at least as many: add partitions "
            f"to {m.target} (or delete it so ksync recreates it), then start the task"
        )

    def _sync_configs(
        self,
        mappings: list[TopicMapping],
        source_configs: dict[str, dict[str, str]],
        just_created: set[str],
        result: MirrorResult,
    ) -> None:
        existing = [m for m in mappings if m.target not in just_created]
        if not existing:
            return
        try:
            target_configs = self.target.topic_configs([m.target for m in existing])
        except KsyncKafkaError as exc:
            result.warnings.append(f"could not compare topic configs: {exc}")
            return
        for m in existing:
            wanted = mirrored_configs(source_configs.get(m.source, {}))
            have = target_configs.get(m.target, {})
            changed = {k: v for k, v in wanted.items() if have.get(k) != v}
            if changed:
                self.target.alter_topic_configs(m.target, changed)
                log.info("synced configs %s of topic %s on target", sorted(changed), m.target)

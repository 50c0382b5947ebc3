"""Topic mirroring: make the target topics match the selected source topics.

The control side of a task (MM2's MirrorSourceConnector): resolve the selection, create
missing target topics with the source's partition count, replication factor
`min(source RF, target brokers)` (with a warning when that is below the source's) and
explicitly set configs (minus the exclusion list), and propagate partition increases and
config changes, removed keys included, at every refresh.

A refusal is confined to its topic (docs/design.md "Topic attributes"), and the old
configuration keeps running: a target topic the target refuses to create (a config it
rejects, say), a target topic with fewer partitions than its source under keep_partition
(records of partition p would have nowhere to go), and a topic the source's ACLs hide are
kept in the mappings as `blocked`, with the sentence on the topic and as a warning, so no
member copies them while every other topic flows; a config change the target refuses
leaves that topic's configs as they were, with a warning naming the topic, the keys and the
broker's reason, while its records keep flowing. All are tried again at every refresh, and
a blocked topic resumes by itself, from its committed progress, once the cause is gone.
A source topic deleted and created again under its name (another topic id than the one
the task stored) is blocked too, until the task's progress is reset: its offsets start
over, and copying it on from the old topic's progress would skip or mix records.
Only a selection where nothing can be copied is a persistent error (the task fails).

With `sync_acls` (`options.sync_topic_acls`) the READ ACLs of the synced topics follow
the source's at every refresh (`replication.acl_sync` has the rule); a cluster that
refuses to show or take ACLs (no authorizer, no Describe or Alter on the cluster) gives a
warning, and the topics' records keep flowing.

Several source topics may be copied to one target topic (`target.topic_map`, only without
keep_partition): it is created once, with the most partitions among them, and its configs
follow the first of them by name (following each in turn would change them at every
refresh). A topic the selection finds later whose name the map already gives another
topic is blocked under keep_partition (the mapped topic keeps its target).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ksync.domain.topics import TopicMapping, deleted_topic, recreated_topic
from ksync.kafka.admin import InstanceAdmin, NewTopicPlan, TopicInfo, TopicRefused, no_authorizer
from ksync.kafka.errors import KsyncKafkaError, PersistentKafkaError, access_error
from ksync.replication import acl_sync
from ksync.replication.policy import MERGE_NEEDS_SPREAD, ReplicationPolicy
from ksync.replication.topic_filter import TopicFilter

log = logging.getLogger(__name__)

# Configs that describe the source cluster's operation, not the data: copying them would
# throttle, weaken or re-stamp the target (docs/design.md "Topic attributes").
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
    return {k: v for k, v in configs.items() if is_mirrored_config(k)}


def is_mirrored_config(key: str) -> bool:
    """True for a topic config ksync copies (and so may set or remove on a target)."""
    return key not in EXCLUDED_CONFIGS and not key.startswith(EXCLUDED_CONFIG_PREFIXES)


@dataclass(frozen=True)
class ConfigChanges:
    """What makes a target topic's configs match its source: keys to set, keys to remove."""

    set: dict[str, str] = field(default_factory=dict)
    delete: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.set or self.delete)

    def single_keys(self) -> list[ConfigChanges]:
        """One change per key, to find which keys a refused change was refused for."""
        return [ConfigChanges(set={k: v}) for k, v in self.set.items()] + [
            ConfigChanges(delete=(k,)) for k in self.delete
        ]


def config_changes(source: dict[str, str], target: dict[str, str]) -> ConfigChanges:
    """Changes that bring `target`'s explicitly set configs in line with `source`'s.

    Keys set on the source are set on the target; mirrored keys set on the target but no
    longer on the source are removed (back to the target's default). Excluded keys are
    never touched on the target: they may be set there on purpose.
    """
    wanted = mirrored_configs(source)
    return ConfigChanges(
        set={k: v for k, v in wanted.items() if target.get(k) != v},
        delete=tuple(sorted(k for k in target if k not in wanted and is_mirrored_config(k))),
    )


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
    group_id: str | None = None  # the task's consumer group on the source, for ACL advice
    sync_acls: bool = False  # options.sync_topic_acls
    # The task's stored mappings: the topic id of each source topic when the task first
    # saw it, and the topics it copied that the source no longer has.
    known: Sequence[TopicMapping] = ()

    def plan(self, source_topics: dict[str, TopicInfo]) -> list[TopicMapping]:
        """The mapping for the current selection (no Kafka calls).

        Within one cluster the task's own target topics are never sources: a regex that
        also matches `prefix.orders` would otherwise copy it to `prefix.prefix.orders`,
        and so on, one generation per refresh.
        """
        names = self.topic_filter.select(source_topics)
        if self.same_cluster:
            names = [n for n in names if not self.policy.is_target_topic(n)]
        mappings = [
            TopicMapping(name, self.policy.target_topic(name), source_topics[name].partitions)
            for name in names
        ]
        return self._one_source_per_target(mappings) if self.keep_partition else mappings

    def _one_source_per_target(self, mappings: list[TopicMapping]) -> list[TopicMapping]:
        """Under keep_partition a target topic takes one source topic: the one the map
        names (the task was saved with at most one); the others are blocked."""
        merged = self.policy.merges(m.source for m in mappings)
        out = []
        for m in mappings:
            sources = merged.get(m.target)
            if sources is None:
                out.append(m)
                continue
            keeper = (self.policy.mapped_sources(m.target) or sources)[0]
            if m.source == keeper:
                out.append(m)
                continue
            out.append(
                m.blocked(
                    f"target topic {m.target} already takes source topic {keeper} (through "
                    f"target.topic_map); {MERGE_NEEDS_SPREAD}; ksync tries again at every "
                    "topic refresh"
                )
            )
        return out

    def excluded(self, source_topics: dict[str, TopicInfo]) -> list[TopicMapping]:
        """Topics the user named that exist but the exclude regex (or, within one cluster,
        being one of the task's own target topics) leaves out: shown, never copied."""
        selected = set(self.topic_filter.select(source_topics))
        out = []
        for name in sorted(self.topic_filter.names & set(source_topics)):
            if name in selected and not (self.same_cluster and self.policy.is_target_topic(name)):
                continue
            out.append(
                TopicMapping(
                    name,
                    self.policy.target_topic(name),
                    source_topics[name].partitions,
                    state="excluded",
                    error="named in source.topics but left out by the selection rules",
                )
            )
        return out

    def reconcile(self) -> MirrorResult:
        """Resolve the selection and create/align target topics.

        Refusals that concern one topic block that topic (see the module docstring); raises
        `PersistentKafkaError` when every selected topic is blocked that way (nothing can
        be copied: the task fails with the reasons), transient errors for the rest.
        """
        result = self._reconcile()
        syncing = [m for m in result.mappings if m.syncing]
        blocked = [m for m in result.mappings if m.state == "blocked"]
        if blocked and not syncing:
            raise PersistentKafkaError("; ".join(dict.fromkeys(str(m.error) for m in blocked)))
        # What ksync granted on a target topic stays recorded whatever this refresh does.
        # (Only for the same target topic: what was made on an old name is no longer ours
        # to manage once target.topic_map renames it.)
        granted = {(m.source, m.target): m.acls_granted for m in self.known}
        result.mappings = [
            m.with_acls_granted(granted.get((m.source, m.target), ())) for m in result.mappings
        ]
        if self.sync_acls:
            self._sync_acls(result)
        result.mappings += self._deleted(result.mappings)
        return result

    def _sync_acls(self, result: MirrorResult) -> None:
        """Bring the READ ACLs of the copied topics' targets in line with the source's
        (`acl_sync.plan`), recording on each mapping what ksync made. A refusal is a
        warning: ACLs are never a reason to stop copying."""
        copied = [m for m in result.mappings if m.copied]
        if not copied:
            return
        try:
            source_acls = self.source.topic_acls()
            target_acls = self.target.topic_acls()
        except KsyncKafkaError as exc:
            result.warnings.append(self._acl_warning(exc))
            return
        plan = acl_sync.plan(copied, source_acls, target_acls)
        granted = plan.granted
        try:
            self.target.create_topic_acls(plan.create)
            self.target.delete_topic_acls(plan.delete)
        except KsyncKafkaError as exc:
            result.warnings.append(self._acl_warning(exc))
            try:
                granted = acl_sync.confirmed(plan, self.target.topic_acls())
            except KsyncKafkaError:
                return  # what ksync made stays as recorded; the next refresh looks again
        for acl in plan.create:
            log.info("created ACL on target topic %s: %s READ for %s", acl.name, acl.permission, acl.principal)
        for acl in plan.delete:
            log.info(
                "removed ACL on target topic %s: %s READ for %s (the source no longer has it)",
                acl.name,
                acl.permission,
                acl.principal,
            )
        result.mappings = [
            m.with_acls_granted(granted[m.target]) if m.copied and m.target in granted else m
            for m in result.mappings
        ]

    def _acl_warning(self, exc: KsyncKafkaError) -> str:
        why = str(exc)
        if no_authorizer(exc):
            why += (
                " (the cluster has no authorizer, so it keeps no ACLs: turn off "
                "options.sync_topic_acls, or enable an authorizer on it)"
            )
        return (
            f"topic ACLs not synced: {why}; the topics' records keep flowing, and ksync tries "
            "again at every topic refresh"
        )

    def _reconcile(self) -> MirrorResult:
        source_topics = self.source.list_topics()
        mappings = self.plan(source_topics)
        result = MirrorResult(mappings=mappings)
        refused = self._refused_topics(source_topics)
        hidden: list[TopicMapping] = []
        if refused is not None:
            error, names = refused
            result.warnings.append(str(error))
            hidden = [
                TopicMapping(n, self.policy.target_topic(n), 0).blocked(str(error)) for n in names
            ]
        excluded = self.excluded(source_topics)
        if not mappings:
            result.mappings = hidden + excluded
            return result
        recreated, mappings = self._check_topic_ids(mappings)
        target_topics = self.target.list_topics()
        configs = (
            self.source.topic_configs([m.source for m in mappings]) if self.sync_configs else {}
        )
        new_targets: dict[str, NewTopicPlan] = {}  # target topic -> how to create it
        creates: dict[str, str] = {}  # source topic -> the new target topic it goes to
        blocked = dict(recreated)  # source topic -> why it is not copied
        result.warnings += recreated.values()
        for m in mappings:
            if not m.syncing or m.source in recreated:
                continue
            src = source_topics[m.source]
            existing = target_topics.get(m.target)
            if existing is None:
                creates[m.source] = m.target
                planned = new_targets.get(m.target)
                if planned is not None:  # a merge: room for the largest of its sources
                    if src.partitions > planned.partitions:
                        new_targets[m.target] = replace(planned, partitions=src.partitions)
                    continue
                new_targets[m.target] = NewTopicPlan(
                    name=m.target,
                    partitions=src.partitions,
                    replication_factor=max(
                        1, min(src.replication_factor, self.target_broker_count)
                    ),
                    configs=mirrored_configs(configs.get(m.source, {})),
                )
                continue
            self._check_replication(m, src.replication_factor, existing.replication_factor, result)
            if existing.partitions < src.partitions:
                too_small = self._grow_or_block(m, existing, result)
                if too_small is not None:
                    blocked[m.source] = too_small
        plans = {source: new_targets[target] for source, target in creates.items()}
        blocked.update(self._create(plans, source_topics, result))
        result.mappings = [
            m.blocked(blocked[m.source]) if m.source in blocked else m for m in mappings
        ]
        result.mappings = [
            m if m.source in recreated else self._as_before(m, target_topics, result)
            for m in result.mappings
        ]
        if self.sync_configs:
            # One source per target topic sets its configs: the first by name.
            firsts: dict[str, TopicMapping] = {}
            for m in sorted(result.mappings, key=lambda m: m.source):
                if m.syncing:
                    firsts.setdefault(m.target, m)
            kept = self._sync_configs(list(firsts.values()), configs, set(result.created), result)
            result.mappings = [
                m.noted(kept[m.target]) if m.target in kept else m for m in result.mappings
            ]
        result.mappings += hidden + excluded
        return result

    def _as_before(
        self, m: TopicMapping, target_topics: dict[str, TopicInfo], result: MirrorResult
    ) -> TopicMapping:
        """`m`, or, when `m` is blocked but the task copied its topic before, the mapping
        it copied with (the old configuration keeps running, docs/design.md): into the
        same target topic when the source grew and the target cannot, with the partitions
        the target has (the new ones wait and start at their first record once it has
        them, see `partition_start`); into its old target topic when target.topic_map
        names one the target cannot take. Only while that target topic still takes every
        partition copied before; the block's sentence becomes the warning."""
        before = self._before.get(m.source)
        if m.state != "blocked" or before is None or not before.copied:
            return m
        existing = target_topics.get(before.target)
        if existing is None:
            return m
        partitions = min(m.partitions, existing.partitions) if self.keep_partition else m.partitions
        if partitions < min(before.partitions, m.partitions):
            return m
        if m.error in result.warnings:
            result.warnings.remove(str(m.error))
        if before.target == m.target:
            meanwhile = (
                f"until then ksync goes on copying the {partitions} partition(s) of {m.source} "
                f"that target topic {m.target} has, and partitions {partitions} to "
                f"{m.partitions - 1} wait (copied from their first record once it has them)"
            )
        else:
            meanwhile = (
                f"until then {m.source} keeps flowing into {before.target}, its target topic "
                "before the change"
            )
        warning = f"{m.error}. The old configuration keeps running: {meanwhile}"
        result.warnings.append(warning)
        log.warning("topic %s copied as before (into %s): %s", m.source, before.target, m.error)
        return replace(m.unblocked(), target=before.target, partitions=partitions).noted(warning)

    @property
    def _before(self) -> dict[str, TopicMapping]:
        return {m.source: m for m in self.known}

    def _check_topic_ids(
        self, mappings: list[TopicMapping]
    ) -> tuple[dict[str, str], list[TopicMapping]]:
        """Each mapping with its source topic's id, and the topics deleted and created
        again under their names since the task first saw them (source topic -> why it is
        blocked): such a topic keeps the id the task knew, so it stays blocked until the
        task's progress is reset (which forgets the ids)."""
        ids = self.source.topic_ids([m.source for m in mappings])
        known_ids = {m.source: m.topic_id for m in self.known if m.topic_id}
        recreated: dict[str, str] = {}
        out = []
        for m in mappings:
            known, now = known_ids.get(m.source), ids.get(m.source)
            if known is not None and now is not None and now != known:
                recreated[m.source] = recreated_topic(m.source, m.target, known, now)
                log.warning("source topic %s was recreated (id %s, was %s)", m.source, now, known)
            out.append(m.with_topic_id(known or now))
        return recreated, out

    def _deleted(self, mappings: list[TopicMapping]) -> list[TopicMapping]:
        """The topics the task copied (their id known) that the source no longer has,
        kept blocked with their id: a topic created again under the name is then known
        for the new topic it is (`_check_topic_ids`), however long it was gone."""
        listed = {m.source for m in mappings}
        out = []
        for m in self.known:
            if m.topic_id and m.source not in listed and self.topic_filter.should_replicate(m.source):
                gone = deleted_topic(m.source, m.target)
                out.append(m if m.error == gone else m.blocked(gone))
        return out

    def _create(
        self,
        plans: dict[str, NewTopicPlan],
        source_topics: dict[str, TopicInfo],
        result: MirrorResult,
    ) -> dict[str, str]:
        """Create the planned target topics (source topic -> plan), in one request; returns
        the source topics whose target the target refused, each with why (also a warning)."""
        outcome = self.target.create_topics_apart(list({p.name: p for p in plans.values()}.values()))
        result.created += outcome.created
        blocked: dict[str, str] = {}
        logged: set[str] = set()
        target_id = self.target.conn.instance_id
        for source, plan in plans.items():
            refusal = outcome.refused.get(plan.name)
            if refusal is not None:
                blocked[source] = (
                    f"{refusal}; source topic {source} is not synced until the target accepts "
                    "it (ksync tries again at every topic refresh)"
                )
                result.warnings.append(blocked[source])
                log.warning("target %s refused topic %s: %s", target_id, plan.name, refusal)
                continue
            if plan.name in outcome.created and plan.name not in logged:
                logged.add(plan.name)  # once for a topic several sources merge into
                log.info(
                    "created topic %s on target %s (%d partitions, replication factor %d)",
                    plan.name,
                    target_id,
                    plan.partitions,
                    plan.replication_factor,
                )
            mapping = TopicMapping(source, plan.name, plan.partitions)
            rf = source_topics[source].replication_factor
            self._check_replication(mapping, rf, plan.replication_factor, result)
        return blocked

    def _check_replication(
        self, m: TopicMapping, source_rf: int, target_rf: int, result: MirrorResult
    ) -> None:
        """Warn while a target topic keeps fewer replicas than its source topic."""
        if target_rf >= source_rf:
            return
        if self.target_broker_count < source_rf:
            why = (
                f"the target instance {self.target.conn.instance_id} has only "
                f"{self.target_broker_count} broker(s)"
            )
        else:
            why = (
                "it was created so on the target, and ksync does not change the replication "
                "of an existing topic"
            )
        result.warnings.append(
            f"target topic {m.target} has replication factor {target_rf}, below the {source_rf} "
            f"of source topic {m.source}: {why}"
        )

    def _refused_topics(
        self, source_topics: dict[str, TopicInfo]
    ) -> tuple[PersistentKafkaError, list[str]] | None:
        """The error for topics the user named that the source's ACLs hide, and those
        topics; None when there are none."""
        hidden = [
            t
            for t in sorted(self.topic_filter.names - set(source_topics))
            if self.topic_filter.should_replicate(t)
        ]
        refused = self.source.refused_topics(hidden)
        if not refused:
            return None
        names = ", ".join(sorted(refused))
        topics = f"topic{'s' if len(refused) > 1 else ''} {names}"
        rights = "Describe, Read and DescribeConfigs" if self.sync_configs else "Describe and Read"
        grant = f"{rights} on {topics}"
        if self.group_id:
            grant += f", and Read on consumer group {self.group_id}"
        err = next(iter(refused.values()))
        error = access_error(err, self.source.conn, f"cannot see {topics} on", grant, role="source")
        return None if error is None else (error, sorted(refused))

    def _grow_or_block(
        self, m: TopicMapping, existing: TopicInfo, result: MirrorResult
    ) -> str | None:
        """Give `m.target` the source's partition count; when that fails, why `m` cannot
        be copied under keep_partition (None: it can, spread by key, or it grew)."""
        message = (
            f"target topic {m.target} has {existing.partitions} partitions but source topic "
            f"{m.source} has {m.partitions}"
        )
        try:
            self.target.create_partitions(m.target, m.partitions)
            log.info("grew topic %s on target to %d partitions", m.target, m.partitions)
            return None
        except KsyncKafkaError as exc:
            message = f"{message} and adding partitions failed ({exc})"
        if not self.keep_partition:
            result.warnings.append(f"{message}; records are spread by key over the target's")
            return None
        blocked = (
            f"{message}; with keep_partition the target needs at least as many: add partitions "
            f"to {m.target} (or delete it so ksync recreates it); ksync tries again at every "
            "topic refresh and copies the topic from where it stopped"
        )
        result.warnings.append(blocked)
        return blocked

    def _sync_configs(
        self,
        mappings: list[TopicMapping],
        source_configs: dict[str, dict[str, str]],
        just_created: set[str],
        result: MirrorResult,
    ) -> dict[str, str]:
        """Bring existing target topics' configs in line; returns target topic -> the
        warning for those whose change the target refused."""
        existing = [m for m in mappings if m.target not in just_created]
        if not existing:
            return {}
        try:
            target_configs = self.target.topic_configs([m.target for m in existing])
        except KsyncKafkaError as exc:
            result.warnings.append(f"could not compare topic configs: {exc}")
            return {}
        refused: dict[str, str] = {}
        for m in existing:
            changes = config_changes(
                source_configs.get(m.source, {}), target_configs.get(m.target, {})
            )
            if changes:
                warning = self._apply_configs(m, changes, result)
                if warning is not None:
                    refused[m.target] = warning
        return refused

    def _apply_configs(
        self, m: TopicMapping, changes: ConfigChanges, result: MirrorResult
    ) -> str | None:
        """Apply `changes` to `m.target`; a refusal becomes a warning naming the refused keys.

        The broker checks one request as a whole, so after a refusal each key is tried on
        its own: those it accepts are applied, and the warning names only the others
        (returned; None when all was applied).
        """
        try:
            self.target.alter_topic_configs(m.target, changes.set, changes.delete)
            log.info(
                "synced configs of topic %s on target: set %s, removed %s",
                m.target,
                sorted(changes.set),
                list(changes.delete),
            )
            return None
        except TopicRefused as exc:
            refused: list[TopicRefused] = []
            for single in changes.single_keys():
                try:
                    self.target.alter_topic_configs(m.target, single.set, single.delete)
                except TopicRefused as key_exc:
                    refused.append(key_exc)
            # Accepted one by one but not together: name the whole change.
            reasons = "; ".join(str(e) for e in refused) if refused else str(exc)
        warning = (
            f"configs of target topic {m.target} not synced from source topic {m.source}: "
            f"{reasons}; its records keep flowing, and ksync tries again at every topic refresh"
        )
        result.warnings.append(warning)
        log.warning("target refused configs of topic %s: %s", m.target, reasons)
        return warning

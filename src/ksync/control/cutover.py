"""The guided cutover of one consumer group to a task's target (`ksync task cutover`).

Failing a group over by hand is a sequence that is easy to get wrong at night; a cutover
walks it and says at each step what it saw:

1. **Checks.** The task is Running; it syncs consumer-group offsets and selects the
   group; the group has committed offsets only on topics the task copies; it has no
   active member on the target (its offsets could not be written). The task's lag on the
   group's topics is reported; it is not a refusal, since the producers still run.
   A dry run stops here and writes nothing.
2. **Stop.** It says which producers to stop (every writer of the group's topics on the
   source) and that the group's consumers on the source stop too (their last commit is
   what moves), then waits until the source's end offsets stand still for one poll, the
   task's committed progress has reached them (every record is on the target), and the
   group has no active member on the source.
3. **Offsets.** With the producers stopped, the group's resume point can be exact rather
   than within the re-read bound: from ksync's last offset pair (s, t) at or below the
   group's committed offset g, the records s .. g-1 are read on the source and from t on
   the target; when the target's records are, one for one and at consecutive offsets,
   the same records (key, value, timestamp), the group resumes at t + their count. Where
   they are not (a foreign record between them, a record compacted away since), it
   resumes at the translation (`offset_translation.translate`), which re-reads at most
   the stated bound and never skips. The offsets are written to the target group (only
   forward, only while it has no active member) and read back.
4. **Point.** The target's bootstrap servers, the target topic names and, per partition,
   the offset the group resumes from.

Invariant: a cutover writes nothing before step 3, and in step 3 writes only offsets at
or below where the records after the group's source commit begin on the target, so a
consumer that starts there skips no record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ksync.domain.errors import DomainError, InvalidField
from ksync.domain.group_offsets import GroupOffsetView
from ksync.domain.groups import group_id, task_of_group
from ksync.domain.instance import InstanceView
from ksync.domain.status import TaskStatus
from ksync.domain.task import TaskView
from ksync.kafka.admin import InstanceAdmin
from ksync.kafka.errors import KsyncKafkaError, topic_list
from ksync.kafka.records import StoredRecord, read_records
from ksync.replication.group_sync import NO_PAIRS_WITHOUT_COPYING, GroupFilter
from ksync.replication.offset_translation import OffsetPair, chain, translate
from ksync.spec import Connection
from ksync.store.repo import Store, utcnow

log = logging.getLogger(__name__)

Partition = tuple[str, int]

# The most records read on each side to make one partition's resume point exact; past
# it the translation's bound applies (ksync's pairs lie about 100 offsets apart).
EXACT_READ_LIMIT = 5_000
# How many polls after writing the resume points a cutover looks whether a sync pass
# lowered them (see `_write_offsets`).
SETTLE_LOOKS = 3
# How often a wait says again what it waits for when nothing changed.
REPEAT_S = 10.0

Step = Literal["check", "stop", "wait", "offsets", "result"]
State = Literal[
    "ok", "failed", "pending", "todo", "waiting", "cut_over", "checked", "refused", "timed_out"
]


@dataclass(frozen=True)
class ResumePoint:
    """Where the group resumes on one target partition; `exact` when its consumers read
    no record again, else within the re-read bound."""

    topic: str
    target_topic: str
    partition: int
    source_offset: int
    offset: int
    exact: bool


@dataclass(frozen=True)
class Resume:
    """What to point the group's consumers at once it is cut over."""

    target_instance: str
    bootstrap_servers: str
    group: str
    topics: tuple[tuple[str, str], ...]  # (source topic, target topic)
    partitions: tuple[ResumePoint, ...]


@dataclass(frozen=True)
class CutoverEvent:
    """One step of a cutover, as it happens; the last one is a `result`."""

    step: Step
    state: State
    message: str
    resume: Resume | None = None


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str

    def event(self) -> CutoverEvent:
        return CutoverEvent("check", "ok" if self.ok else "failed", self.message)


# ---- pure parts ---------------------------------------------------------------------------


def task_checks(task: TaskView, group: str) -> list[Check]:
    """The checks that need only the task: Running, offset sync on, the group selected."""
    opts = task.spec.options.sync_group_offsets
    checks = [
        Check(
            "running",
            task.status == TaskStatus.RUNNING,
            f"task {task.id} is Running"
            if task.status == TaskStatus.RUNNING
            else f"task {task.id} is {task.status}, not Running: start it (ksync task start "
            f"{task.id}) and wait until it runs before cutting over",
        ),
        Check(
            "offset_sync",
            opts.enabled,
            "the task syncs consumer-group offsets"
            if opts.enabled
            else f"task {task.id} does not sync consumer-group offsets: set "
            "options.sync_group_offsets.enabled (with this group selected) first",
        ),
    ]
    if opts.enabled and not task.spec.options.copies_records:
        checks.append(Check("copies_records", False, f"task {task.id}: {NO_PAIRS_WITHOUT_COPYING}"))
    if opts.enabled:
        selected = GroupFilter.from_spec(opts).selects(group)
        checks.append(
            Check(
                "group_selected",
                selected,
                f"group {group} is in the task's offset sync selection"
                if selected
                else f"group {group} is not in the task's offset sync selection "
                "(options.sync_group_offsets groups/groups_regex/groups_exclude_regex): add it, "
                "then run the cutover again",
            )
        )
    return checks


def topics_check(task: TaskView, group: str, committed: Mapping[Partition, int]) -> Check:
    """Whether the group's committed offsets lie on topics the task copies, and some do."""
    copied = {t.source for t in task.topics if t.copied}
    topics = {t for t, _ in committed}
    outside = sorted(topics - copied)
    if not topics & copied:
        return Check(
            "topics",
            False,
            f"group {group} has no committed offset on the topics task {task.id} copies "
            f"({topic_list(sorted(copied))}): nothing to cut over",
        )
    if outside:
        return Check(
            "topics",
            False,
            f"group {group} also reads {topic_list(outside)}, which task {task.id} does not "
            "copy: its consumers would find no records there; add those topics to the task "
            "(or another task to the same target) first",
        )
    return Check("topics", True, f"group {group} reads {topic_list(sorted(topics))}, all copied")


def lags(
    ends: Mapping[Partition, int], progress: Mapping[Partition, int], earliest: Mapping[Partition, int]
) -> dict[Partition, int]:
    """Records not yet known to be on the target, per partition: the source's end minus
    the task's committed progress (minus the log start where it has none yet)."""
    return {
        key: max(0, end - progress.get(key, earliest.get(key, 0))) for key, end in ends.items()
    }


def lag_words(lag: Mapping[Partition, int]) -> str:
    behind = sorted((k, n) for k, n in lag.items() if n > 0)
    total = sum(n for _, n in behind)
    if not behind:
        return "lag 0: every record of the group's topics is on the target"
    shown = ", ".join(f"{t}[{p}] {n}" for (t, p), n in behind[:5])
    more = f" and {len(behind) - 5} more partitions" if len(behind) > 5 else ""
    return f"lag {total}: records still to copy ({shown}{more})"


def exact_offset(
    pair: OffsetPair,
    committed: int,
    source: Sequence[StoredRecord],
    target: Sequence[StoredRecord],
) -> int | None:
    """The target offset of the first record after the copies of the source's records
    `pair.source .. committed - 1`, when the target's records from `pair.target` are
    those records one for one (same key, value and timestamp) at consecutive offsets;
    None when they are not, or the source no longer holds the pair's record.

    `source` are the source's records from `pair.source` below `committed`, `target` the
    target's from `pair.target`, both in offset order.
    """
    if committed == pair.source:
        return pair.target
    if not source or source[0].offset != pair.source or len(target) < len(source):
        return None
    for i, (s, t) in enumerate(zip(source, target, strict=False)):
        if t.offset != pair.target + i or (s.key, s.value, s.timestamp) != (t.key, t.value, t.timestamp):
            return None
    return pair.target + len(source)


def pair_below(pairs: Sequence[OffsetPair], committed: int) -> OffsetPair | None:
    """The chain's pair with the largest source offset at or below `committed`."""
    found = None
    for p in pairs:
        if p.source > committed:
            break
        found = p
    return found


def resume_words(resume: Resume, source_name: str) -> str:
    """What to point the consumers at, in lines a terminal shows as they are."""
    lines = [
        (
            f"point the consumers of group {resume.group} at {resume.bootstrap_servers} "
            f"(instance {resume.target_instance}) instead of {source_name}"
        ),
        "topics: " + ", ".join(s if s == t else f"{s} -> {t}" for s, t in resume.topics),
    ]
    for r in resume.partitions:
        how = "exact" if r.exact else "may re-read a few records, skips none"
        lines.append(f"  {r.target_topic}[{r.partition}] resumes at offset {r.offset} ({how})")
    return "\n".join(lines)


# ---- the run ------------------------------------------------------------------------------


@dataclass
class _Clients:
    source: InstanceAdmin
    target: InstanceAdmin
    source_conn: Connection
    target_conn: Connection
    source_view: InstanceView
    target_view: InstanceView


@dataclass
class Cutover:
    """One cutover of `group` on `task_id`; iterate `events()` to run it (see the module).

    Made by `prepare`, which raises before anything runs for an unknown task or a bad
    group. `sleep` and `clock` are there for tests of the waits.
    """

    store: Store
    task_id: str
    group: str
    dry_run: bool
    timeout_s: float
    poll_s: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    _deadline: float = field(default=0.0, init=False)

    def events(self) -> Iterator[CutoverEvent]:
        """Run the cutover, yielding each step as it happens; the last event is the
        result. Kafka failures end it with a `refused` result saying what failed."""
        self._deadline = self.clock() + self.timeout_s
        try:
            yield from self._run()
        except KsyncKafkaError as exc:
            log.warning("cutover of group %s on task %s: %s", self.group, self.task_id, exc)
            yield CutoverEvent(
                "result", "refused", f"cutover stopped: {exc}; nothing more was written, run it again"
            )
        except DomainError as exc:  # the task was deleted meanwhile, for one
            yield CutoverEvent("result", "refused", f"cutover stopped: {exc}")

    def _run(self) -> Iterator[CutoverEvent]:
        task = self.store.tasks.get(self.task_id)
        checks = task_checks(task, self.group)
        yield from (c.event() for c in checks)
        # A dry run goes on to the checks on the clusters, to report every one at once.
        if not self.dry_run and not all(c.ok for c in checks):
            yield self._refused(checks)
            return
        clients = self._clients(task)
        committed = clients.source.group_offsets(self.group, None)
        topics = topics_check(task, self.group, committed)
        yield topics.event()
        members = clients.target.active_members([self.group]).get(self.group, 0)
        members_check = Check(
            "target_members",
            members == 0,
            f"group {self.group} has no active member on the target"
            if members == 0
            else f"group {self.group} has {members} active member(s) on the target "
            f"({clients.target_view.name}): its offsets can be written only while it has none; "
            "stop those consumers, then run the cutover again",
        )
        yield members_check.event()
        checks += [topics, members_check]
        if not self.dry_run and not all(c.ok for c in checks):
            yield self._refused(checks)
            return
        partitions = self._partitions(task, committed)
        lag = self._lag(task, clients, partitions)
        yield CutoverEvent("check", "ok" if not any(lag.values()) else "pending", lag_words(lag))
        on_source = clients.source.active_members([self.group]).get(self.group, 0)
        if on_source:
            yield CutoverEvent(
                "check",
                "pending",
                f"group {self.group} has {on_source} active member(s) on the source: they "
                "are to stop before its last offsets are taken",
            )
        if self.dry_run and not all(c.ok for c in checks):
            yield self._refused(checks)
            return
        if self.dry_run:
            yield CutoverEvent(
                "result",
                "checked",
                "dry run: every check passed and nothing was written; the cutover will ask "
                f"you to stop the producers to {topic_list(sorted({t for t, _ in partitions}))} "
                f"on {clients.source_view.name}, wait until their last records and the "
                f"group's offsets are on {clients.target_view.name}, and say where to resume",
            )
            return
        yield CutoverEvent(
            "stop",
            "todo",
            f"stop the producers to {topic_list(sorted({t for t, _ in partitions}))} on "
            f"{clients.source_view.name} ({clients.source_view.bootstrap_servers}), and the "
            f"consumers of group {self.group} there",
        )
        drained = yield from self._wait_drained(task, clients, partitions)
        if not drained:
            return
        yield from self._write_offsets(task, clients, partitions)

    # ---- steps ------------------------------------------------------------------------

    def _wait_drained(
        self, task: TaskView, clients: _Clients, partitions: list[Partition]
    ) -> Generator[CutoverEvent, None, bool]:
        """Wait until the source stands still, every record is on the target and the
        group's consumers left the source; False (after a result) when it cannot."""
        before: dict[Partition, int] | None = None
        said, said_at = "", 0.0
        while True:
            refusal = self._still_fine(clients)
            if refusal is not None:
                yield refusal
                return False
            ends = clients.source.end_offsets(partitions)
            lag = self._lag(task, clients, partitions, ends)
            on_source = clients.source.active_members([self.group]).get(self.group, 0)
            still = before == ends
            if not any(lag.values()) and still and on_source == 0:
                yield CutoverEvent(
                    "wait", "ok", "the source stands still and its last records are on the target"
                )
                return True
            why = [lag_words(lag)] if any(lag.values()) else []
            if before is not None and not still:
                moved = sum(ends[k] - before.get(k, ends[k]) for k in ends)
                why.append(f"{moved} new records on the source since the last look: are the producers stopped?")
            if on_source:
                why.append(f"group {self.group} still has {on_source} active member(s) on the source")
            message = "waiting: " + "; ".join(why or ["checking that the source stands still"])
            if message != said or self.clock() - said_at >= REPEAT_S:
                said, said_at = message, self.clock()
                yield CutoverEvent("wait", "waiting", message)
            if self.clock() >= self._deadline:
                yield self._timed_out(message.removeprefix("waiting: "))
                return False
            before = ends
            self.sleep(self.poll_s)

    def _write_offsets(
        self, task: TaskView, clients: _Clients, partitions: list[Partition]
    ) -> Iterator[CutoverEvent]:
        targets = {t.source: t.target for t in task.topics if t.copied}
        committed = clients.source.group_offsets(self.group, partitions)
        points: list[ResumePoint] = []
        said = ""
        while True:
            chains = {k: chain(v) for k, v in self.store.offsets.pairs(task.id).items()}
            missing = [
                (t, p)
                for (t, p), g in committed.items()
                if pair_below(chains.get((targets[t], p), []), g) is None
            ]
            if not missing:
                break
            message = (
                "waiting for ksync's offset pairs of "
                + ", ".join(f"{t}[{p}]" for t, p in missing[:5])
                + " (recorded as records are copied, written with the workers' heartbeats)"
            )
            if message != said:
                said = message
                yield CutoverEvent("wait", "waiting", message)
            if self.clock() >= self._deadline:
                yield self._timed_out(message.removeprefix("waiting for "))
                return
            self.sleep(self.poll_s)
        for (topic, p), g in sorted(committed.items()):
            target_topic = targets[topic]
            pairs = chains[(target_topic, p)]
            exact = self._exact(clients, topic, target_topic, p, g, pairs)
            # A pair at or below g exists (waited for above), so the translation is known.
            offset = exact if exact is not None else translate(pairs, g)
            if offset is None:
                raise RuntimeError(f"no translation of {topic}[{p}] at {g} despite its pair")
            points.append(ResumePoint(topic, target_topic, p, g, offset, exact is not None))
        refusal = self._still_fine(clients)
        if refusal is not None:
            yield refusal
            return
        keys = [(r.target_topic, r.partition) for r in points]
        have = clients.target.group_offsets(self.group, keys)
        ahead = [r for r in points if have.get((r.target_topic, r.partition), -1) > r.offset]
        if ahead:
            shown = ", ".join(
                f"{r.target_topic}[{r.partition}] at {have[(r.target_topic, r.partition)]} "
                f"(resume point {r.offset})"
                for r in ahead[:5]
            )
            yield CutoverEvent(
                "result",
                "refused",
                f"group {self.group} on the target is already past the resume point on "
                f"{shown}: something consumed there, and offsets are not moved back. Check "
                f"that nobody consumes as {self.group} on the target, ask for a reset "
                f"(ksync task group-offsets {task.id} --reset {self.group}), wait for its sync, "
                "and run the cutover again",
            )
            return
        wanted = {k: r.offset for k, r in zip(keys, points, strict=True)}
        clients.target.alter_group_offsets(self.group, wanted)
        back: dict[Partition, int] = {}
        # A sync pass that read the target group before this write can write the (lower)
        # translation after it: look again a few polls later and write the point again
        # over such a pass, never over an offset above it (a consumer's commit).
        for _ in range(SETTLE_LOOKS):
            self.sleep(self.poll_s)
            back = clients.target.group_offsets(self.group, keys)
            lowered = {k: o for k, o in wanted.items() if back.get(k, -1) < o}
            if not lowered or any(back.get(k, -1) > o for k, o in wanted.items()):
                break
            refusal = self._still_fine(clients)
            if refusal is not None:
                yield refusal
                return
            log.info("cutover of %s: a sync pass lowered %d partitions; written again", self.group, len(lowered))
            clients.target.alter_group_offsets(self.group, lowered)
            back = clients.target.group_offsets(self.group, keys)
        wrong = [r for r in points if back.get((r.target_topic, r.partition)) != r.offset]
        if wrong:
            yield CutoverEvent(
                "result",
                "refused",
                "the target did not keep the offsets written for "
                + ", ".join(f"{r.target_topic}[{r.partition}]" for r in wrong[:5])
                + f": a consumer of {self.group} may have committed meanwhile; stop it and run "
                "the cutover again",
            )
            return
        self._record(task, points)
        exact = sum(1 for r in points if r.exact)
        yield CutoverEvent(
            "offsets",
            "ok",
            f"group {self.group}'s offsets are on the target for {len(points)} "
            f"partition{'s' if len(points) != 1 else ''} "
            f"({exact} exact, {len(points) - exact} within the re-read bound)",
        )
        resume = Resume(
            target_instance=clients.target_view.id,
            bootstrap_servers=clients.target_view.bootstrap_servers,
            group=self.group,
            topics=tuple(sorted((t, targets[t]) for t in {t for t, _ in committed})),
            partitions=tuple(points),
        )
        yield CutoverEvent("result", "cut_over", resume_words(resume, clients.source_view.name), resume)

    # ---- helpers ----------------------------------------------------------------------

    def _clients(self, task: TaskView) -> _Clients:
        source_id, target_id = task.spec.source.instance_id, task.spec.target.instance_id
        source_conn = self.store.instances.connection(source_id)
        target_conn = self.store.instances.connection(target_id)
        return _Clients(
            source=InstanceAdmin.shared(source_conn),
            target=InstanceAdmin.shared(target_conn),
            source_conn=source_conn,
            target_conn=target_conn,
            source_view=self.store.instances.get(source_id),
            target_view=self.store.instances.get(target_id),
        )

    @staticmethod
    def _partitions(task: TaskView, committed: Mapping[Partition, int]) -> list[Partition]:
        """Every partition of the copied topics the group has committed on."""
        topics = {t for t, _ in committed}
        return sorted(
            (t.source, p) for t in task.topics if t.copied and t.source in topics for p in range(t.partitions)
        )

    @staticmethod
    def _lag(
        task: TaskView,
        clients: _Clients,
        partitions: list[Partition],
        ends: dict[Partition, int] | None = None,
    ) -> dict[Partition, int]:
        ends = ends if ends is not None else clients.source.end_offsets(partitions)
        progress = clients.source.group_offsets(group_id(task.id), partitions)
        missing = [k for k in partitions if k not in progress]
        earliest = clients.source.earliest_offsets(missing) if missing else {}
        return lags(ends, progress, earliest)

    def _still_fine(self, clients: _Clients) -> CutoverEvent | None:
        """A refusal when, while waiting, the task stopped running or the group got a
        member on the target."""
        task = self.store.tasks.get(self.task_id)
        if task.status != TaskStatus.RUNNING:
            return CutoverEvent(
                "result",
                "refused",
                f"task {task.id} is {task.status} now, not Running: nothing was written; "
                f"see its error (ksync task show {task.id}), start it, and run the cutover again",
            )
        members = clients.target.active_members([self.group]).get(self.group, 0)
        if members:
            return CutoverEvent(
                "result",
                "refused",
                f"group {self.group} now has {members} active member(s) on the target: "
                "consumers started there before the cutover ended; stop them and run it again",
            )
        return None

    def _exact(
        self,
        clients: _Clients,
        topic: str,
        target_topic: str,
        partition: int,
        committed: int,
        pairs: Sequence[OffsetPair],
    ) -> int | None:
        pair = pair_below(pairs, committed)
        if pair is None or committed - pair.source > EXACT_READ_LIMIT:
            return None
        if committed == pair.source:
            return pair.target
        source = read_records(clients.source_conn, topic, partition, pair.source, committed)
        target = read_records(
            clients.target_conn, target_topic, partition, pair.target, pair.target + len(source)
        )
        return exact_offset(pair, committed, source, target)

    def _record(self, task: TaskView, points: list[ResumePoint]) -> None:
        """Show the written offsets in the task's group offsets (the next sync pass
        looks again)."""
        now = utcnow()
        kept = [v for v in self.store.offsets.syncs(task.id) if v.group_id != self.group]
        mine = [
            GroupOffsetView(
                group_id=self.group,
                topic=r.topic,
                partition=r.partition,
                target_topic=r.target_topic,
                source_offset=r.source_offset,
                target_offset=r.offset,
                target_committed=r.offset,
                synced_at=now,
                checked_at=now,
            )
            for r in points
        ]
        self.store.offsets.record_syncs(task.id, kept + mine)

    def _refused(self, checks: list[Check]) -> CutoverEvent:
        failed = [c.message for c in checks if not c.ok]
        head = "dry run: a cutover would be refused" if self.dry_run else "cutover refused"
        return CutoverEvent("result", "refused", f"{head}: " + "; ".join(failed))

    def _timed_out(self, waiting: str) -> CutoverEvent:
        return CutoverEvent(
            "result",
            "timed_out",
            f"not cut over after {self.timeout_s:g} s, still waiting: {waiting}. Nothing "
            "was written; check that the producers stopped and the task runs (ksync task "
            f"show {self.task_id}), then run the cutover again, with a longer --timeout if "
            "the copy needs it",
        )


def prepare(
    store: Store, task_id: str, group: str, *, dry_run: bool, timeout_s: float
) -> Cutover:
    """A cutover ready to run; NotFound for no task, InvalidField for a group ksync never
    syncs. Nothing runs until its events are read."""
    store.tasks.get(task_id)
    if not group or len(group) > 255:
        raise InvalidField("group", "give a consumer group id of 1 to 255 characters")
    if task_of_group(group) is not None:
        raise InvalidField("group", f"{group} is a ksync task's own group, which is never synced")
    return Cutover(store, task_id, group, dry_run=dry_run, timeout_s=timeout_s)

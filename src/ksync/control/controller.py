"""The controller: the single active loop that turns desired state into assignments,
target topics and statuses.

Exactly one controller is active: each server runs one, and only the holder of the
`controller` lease (renewed every tick, expiring after `worker_timeout`) acts. Kafka work
(resolving topic selections, creating target topics, deleting consumer groups) runs as
jobs on a small thread pool, one at a time per task, so a slow or unreachable cluster
never stalls the loop that keeps every other task's status and assignments current.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ksync.control.assignment import assign_slots, no_room_warning
from ksync.control.status import derive_status
from ksync.domain.groups import group_id
from ksync.domain.instance import InstanceView
from ksync.domain.status import Desired, MemberState, TaskStatus
from ksync.domain.task import KEEP, NO_CHANGE, TaskChange, TaskView
from ksync.domain.topics import TopicMapping
from ksync.domain.workers import MemberView, in_the_way
from ksync.kafka.admin import InstanceAdmin
from ksync.kafka.errors import KsyncKafkaError, PersistentKafkaError
from ksync.monitoring.aggregate import Aggregator
from ksync.replication.group_sync import GroupSync
from ksync.replication.partition_start import carry_start_layout, restart_layout
from ksync.replication.policy import ReplicationPolicy
from ksync.replication.provenance import cycle_warnings
from ksync.replication.topic_filter import TopicFilter
from ksync.replication.topic_mirror import MirrorResult, TopicMirror
from ksync.store.repo import Store, utcnow

log = logging.getLogger(__name__)

LEASE = "controller"
JOB_THREADS = 4
# A failed offset sync pass is tried again after at most this long, whatever interval_s.
OFFSET_SYNC_RETRY_S = 10.0
HISTORY = timedelta(hours=24)


@dataclass(frozen=True)
class ControllerSettings:
    holder_id: str
    worker_timeout_s: float = 15.0
    tick_s: float = 1.0
    topic_refresh_interval_s: float = 10.0
    job_timeout_s: float = 60.0


@dataclass
class _TaskMemory:
    """What the active controller remembers about a task between ticks."""

    job: Future[Any] | None = None
    job_kind: str = ""
    job_started: float = 0.0
    job_generation: int = 0  # the task's generation when the job was launched
    next_refresh: float = 0.0
    # The target naming a refresh was last started for ahead of time (a new topic_map).
    renamed_for: Mapping[str, str] | None = None
    resolved: bool = False
    topic_warnings: list[str] = field(default_factory=list)
    delete_attempts: int = 0
    # Consumer-group offset sync (`group_sync`): its own job beside the one above, so a
    # topic refresh never waits for it.
    offsets_job: Future[Any] | None = None
    next_offsets: float = 0.0
    offset_warnings: list[str] = field(default_factory=list)


class Controller:
    """Run `run()` in a thread; `stop()` ends it and gives up the lease."""

    def __init__(self, store: Store, settings: ControllerSettings) -> None:
        self.store = store
        self.settings = settings
        self._stop = threading.Event()
        self._jobs = ThreadPoolExecutor(max_workers=JOB_THREADS, thread_name_prefix="controller-job")
        # Jobs launched and not finished yet (queued or running), for `_maybe_refresh_topics`.
        self._pending: set[Future[Any]] = set()
        self._tasks: dict[str, _TaskMemory] = defaultdict(_TaskMemory)
        self._admins: dict[str, tuple[Any, InstanceAdmin]] = {}
        self._wake = threading.Event()
        self._metrics = Aggregator()
        self._last_prune = 0.0
        self._expire_after = 0.0  # no worker expires before this (see _step)
        self.active = False
        # When this controller's lease runs out, on its own clock: from before it asked
        # for the lease, so it never counts on more of the lease than the store gave.
        self._lease_until = 0.0
        # Named jobs run after every tick while active (alarm evaluation…); each is guarded.
        self.periodic: list[tuple[str, Callable[[], None]]] = []
        # Called after slot assignments change, so an embedded worker reacts at once.
        self.on_slots_changed: Callable[[], None] | None = None

    def wake(self) -> None:
        """Run the next tick now (desired state changed or a job finished)."""
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._step()
            except Exception:
                log.exception("controller tick failed; retrying")
            # A wake runs the next tick at once, but only after a rest as long as this
            # tick took: with hundreds of tasks a tick costs a good part of a second, and
            # back-to-back ticks (one per API call or finished job) would hold the
            # interpreter lock that the API and the embedded worker's heartbeat need.
            rest = min(time.monotonic() - started, self.settings.tick_s)
            if self._stop.wait(rest):
                break
            self._wake.wait(self.settings.tick_s - rest)
            self._wake.clear()
        self._jobs.shutdown(wait=False, cancel_futures=True)
        if self.active:
            try:
                self.store.leases.release(LEASE, self.settings.holder_id)
            except Exception:
                log.exception("controller: could not release the lease; it will expire")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _step(self) -> None:
        # The lease lapses one tick before worker_timeout, so a standby (which checks every
        # tick) takes over within worker_timeout of the holder's last renewal.
        ttl_s = max(
            self.settings.worker_timeout_s - self.settings.tick_s,
            self.settings.worker_timeout_s / 2,
        )
        asked = time.monotonic()
        holding = self.store.leases.try_take(
            LEASE, self.settings.holder_id, timedelta(seconds=ttl_s)
        )
        if holding:
            self._lease_until = asked + ttl_s
        self._become(holding)
        if holding:
            self.tick()

    def _become(self, holding: bool, why: str = "") -> None:
        """Start or end a term; a no-op when the role does not change."""
        if holding != self.active:
            log.info(
                "controller %s %s%s",
                self.settings.holder_id,
                "is active" if holding else "stands by",
                why,
            )
            self.active = holding
            self._tasks.clear()  # a new term starts from the store, not from memory
            # Heartbeats written before this term are judged only after one full
            # worker_timeout of watching (as Kafka's group coordinator restarts every
            # session on failover): a worker restarted under the same id (same host and
            # port) has started members from its slots and refreshes its row within a
            # heartbeat; expiring its stale row now would stop and restart them all.
            self._expire_after = time.monotonic() + self.settings.worker_timeout_s

    def _still_holds(self) -> bool:
        """Whether the lease taken at this tick's start still runs. A tick that outlasts it
        (a slow store or Kafka, a starved machine) stops where it is: by then a standby may
        hold the lease and act, and two controllers must never act at once."""
        if time.monotonic() < self._lease_until:
            return True
        self._become(
            False,
            " (its lease ran out during a tick that took longer than the lease; "
            "it acts again once it renews the lease)",
        )
        return False

    def tick(self) -> None:
        """One pass over every task."""
        if time.monotonic() >= self._expire_after:
            for worker_id in self.store.workers.expire(
                timedelta(seconds=self.settings.worker_timeout_s)
            ):
                log.warning("worker %s missed its heartbeats; its members move", worker_id)
        workers = self.store.workers.all()
        live = [w.id for w in workers]
        capacity = {w.id: w.max_members for w in workers}
        tasks = self.store.tasks.all()
        instances = {i.id: i for i in self.store.instances.all()}
        slots: dict[str, dict[int, str | None]] = defaultdict(dict, self.store.workers.slot_map())
        members: dict[str, list[MemberView]] = defaultdict(list)
        for m in self.store.workers.members():
            members[m.task_id].append(m)
        load = Counter(w for task_slots in slots.values() for w in task_slots.values() if w)
        opposite = _opposite_tasks(tasks, instances)
        for task in tasks:
            if not self._still_holds():
                return
            try:
                self._reconcile(
                    task,
                    opposite(task),
                    instances,
                    slots[task.id],
                    members[task.id],
                    live,
                    load,
                    capacity,
                )
            except Exception:
                log.exception("controller: task %s could not be reconciled", task.id)
        for gone in set(self._tasks) - {t.id for t in tasks}:
            del self._tasks[gone]
        if not self._still_holds():
            return
        self._record_metrics(tasks, members)
        for name, job in self.periodic:
            if not self._still_holds():
                return
            try:
                job()
            except Exception:
                log.exception("controller job %s failed; it runs again next tick", name)

    def _record_metrics(self, tasks: list[TaskView], members: dict[str, list[MemberView]]) -> None:
        """Current metrics every few seconds and a history point every 10 s, per task."""
        now = time.time()
        at = datetime.fromtimestamp(now, UTC)
        currents: dict[str, dict[str, Any]] = {}
        points: dict[str, dict[str, Any]] = {}
        for task in tasks:
            # A metadata-only task copies nothing: no rate or lag to show (nor to alarm on).
            if task.deleted or not task.spec.options.copies_records:
                continue
            current, point = self._metrics.observe(task, members[task.id], now)
            if current is not None:
                currents[task.id] = current
            if point is not None:
                points[task.id] = point
        # One transaction for every task's metrics, not one per task.
        if currents or points:
            self.store.metrics.record(currents, at, points)
        self._metrics.forget({t.id for t in tasks})
        if now - self._last_prune > 600:
            self._last_prune = now
            dropped = self.store.metrics.prune(at - HISTORY, {t.id for t in tasks})
            if dropped:
                log.info("pruned %d metric points older than 24 h", dropped)

    # ---- one task -------------------------------------------------------------------

    def _reconcile(
        self,
        task: TaskView,
        opposite: list[TaskView],
        instances: dict[str, InstanceView],
        slots: dict[int, str | None],
        members: list[MemberView],
        live: list[str],
        load: Counter[str],
        capacity: dict[str, int | None],
    ) -> None:
        mem = self._tasks[task.id]
        task = self._collect_job(task, mem)
        if task.deleted:
            self._terminate(task, slots, members, live, mem, instances)
            return
        spec = task.spec
        runnable = task.desired == Desired.RUNNING and task.status != TaskStatus.FAILED
        if runnable and task.reset_start is not None:
            # Progress is dropped only once no member of the task runs any more.
            if not any(m.worker_id in live and m.state != MemberState.STOPPED for m in members):
                self._maybe_reset_progress(task, mem)
            runnable = False
        if runnable:
            self._maybe_refresh_topics(task, mem, instances)
        self._collect_offsets_job(task, mem)
        if runnable and task.topics:
            self._maybe_sync_offsets(task, mem, instances)
        # A new generation (restart, new settings, another task_max) gets its slots only
        # after every member of the old one stopped: their shares may overlap (the worker
        # checks again before it starts a member, see `in_the_way`).
        previous = [m for m in in_the_way(members, task.generation) if m.worker_id in live]
        # Members start once the selection is known, so they take their shares of it. A
        # metadata-only task gets no slots at all: no worker runs a member for it.
        copies = spec.options.copies_records
        if copies and runnable and not previous and (mem.resolved or task.topics):
            wanted = assign_slots(task.id, spec.options.task_max, slots, live, load, capacity)
        else:
            wanted = {}
        if wanted != slots:
            self.store.workers.set_slots(task.id, wanted)
            if self.on_slots_changed is not None:
                self.on_slots_changed()
        task = self._overlay_record_blocks(task, members, live)
        expected = None
        if mem.resolved or task.topics:
            expected = {(t.source, p) for t in task.topics if t.copied for p in range(t.partitions)}
        derived = derive_status(
            task.desired, task.status, task.generation, wanted, members, set(live), expected, copies
        )
        warnings = list(mem.topic_warnings) + mem.offset_warnings
        warnings += cycle_warnings(task, opposite, instances)
        full = no_room_warning(wanted, capacity, load)
        if full is not None:
            warnings.append(full)
        warnings += [t.error for t in task.topics if t.blocked_by == "record" and t.error]
        for m in members:
            if m.generation == task.generation and m.worker_id in live:
                warnings += [w for w in m.warnings if w not in warnings]
        change = TaskChange(status=derived.status, warnings=tuple(warnings))
        if derived.error is not None:
            change = replace(change, error=derived.error)
        if derived.status != task.status:
            log.info("task %s status %s -> %s", task.id, task.status, derived.status)
            if derived.status == TaskStatus.FAILED:
                log.error("task %s failed: %s", task.id, derived.error)
        if _changes(task, change):
            # Most ticks change nothing: a write transaction per task and tick would keep
            # the store's write lock busy for nothing (SQLite has one).
            self.store.tasks.observe(task.id, change, expect_generation=task.generation)

    def _overlay_record_blocks(
        self, task: TaskView, members: list[MemberView], live: list[str]
    ) -> TaskView:
        """Show on each topic whether a member of the current generation blocked it
        because the target refused a record (members report `blocked` in their metrics,
        and `blocked_at`, the refused record's partition and offset).

        A topic no member reports any more is syncing again only once a member has
        committed past that record: a member that restarts (a restart, a new task_max, a
        worker that died) reports nothing until it has read up to the record again, and
        the topic must not show syncing meanwhile. A block stored without its record's
        position (reported by an older member) goes when no member reports it."""
        reported: dict[str, str] = {}
        where: dict[str, tuple[int, int]] = {}
        committed: dict[tuple[str, int], int] = {}
        for m in members:
            if m.generation != task.generation or m.worker_id not in live:
                continue
            if m.metrics:
                reported.update(m.metrics.get("blocked") or {})
                for topic, (partition, offset) in (m.metrics.get("blocked_at") or {}).items():
                    where[topic] = (int(partition), int(offset))
            for p in m.progress:
                if p.get("committed_offset") is not None:
                    key = (p["topic"], p["partition"])
                    committed[key] = max(committed.get(key, 0), int(p["committed_offset"]))
        topics = []
        for t in task.topics:
            if t.source in reported and (t.syncing or t.blocked_by == "record"):
                t = t.blocked(reported[t.source], by="record", at=where.get(t.source, t.blocked_at))
            elif t.blocked_by == "record" and _copied_past(t.blocked_at, t.source, committed):
                t = t.unblocked()
            topics.append(t)
        new = tuple(topics)
        if new == task.topics:
            return task
        self.store.tasks.observe(task.id, TaskChange(topics=new), expect_generation=task.generation)
        return replace(task, topics=new)

    def _terminate(
        self,
        task: TaskView,
        slots: dict[int, str | None],
        members: list[MemberView],
        live: list[str],
        mem: _TaskMemory,
        instances: dict[str, InstanceView],
    ) -> None:
        if slots:
            self.store.workers.set_slots(task.id, {})
            if self.on_slots_changed is not None:
                self.on_slots_changed()
        if task.status != TaskStatus.TERMINATING:
            self.store.tasks.observe(task.id, TaskChange(status=TaskStatus.TERMINATING))
        running = [m for m in members if m.worker_id in live and m.state != MemberState.STOPPED]
        if running or mem.job is not None:
            return
        source_id = task.source_id
        if source_id in instances and mem.delete_attempts < 3:
            mem.delete_attempts += 1
            target_id = task.target_id if task.target_id in instances else None
            self._launch(
                task, mem, "delete-group", lambda: self._delete_group(task, source_id, target_id)
            )
            return
        self.store.tasks.remove(task.id)
        log.info("task %s deleted", task.id)

    def _delete_group(self, task: TaskView, source_id: str, target_id: str | None) -> str:
        """The task's progress: its group on the source and, where exactly-once keeps it
        (whatever the mode now: a later switch reads it), its group on the target."""
        self._admin(source_id).delete_consumer_group(group_id(task.id))
        if target_id is not None:
            self._admin(target_id).delete_consumer_group(group_id(task.id))
        return "deleted"

    def _maybe_reset_progress(self, task: TaskView, mem: _TaskMemory) -> None:
        if mem.job is not None:
            return
        self._launch(
            task, mem, "reset", lambda: self._delete_group(task, task.source_id, task.target_id)
        )

    # ---- topic selection ---------------------------------------------------------------

    def _maybe_refresh_topics(
        self, task: TaskView, mem: _TaskMemory, instances: dict[str, InstanceView]
    ) -> None:
        if mem.job is not None:
            return
        spec = task.spec
        # A new target.topic_map is taken up at once: until then members write the
        # renamed topics under their old names.
        policy = ReplicationPolicy.of(spec.target)
        renamed = mem.renamed_for != spec.target.topic_map and any(
            policy.target_topic(m.source) != m.target for m in task.topics
        )
        if time.monotonic() < mem.next_refresh and not renamed:
            return
        if task.topics and not renamed and len(self._pending) >= JOB_THREADS:
            # A periodic refresh waits while the job threads are busy: with hundreds of
            # tasks the refreshes alone filled the queue, and a new task, whose members
            # cannot start before its selection is first resolved, waited behind them
            # for minutes. It runs at a later tick, when a thread is free.
            return
        if renamed:
            mem.renamed_for = spec.target.topic_map  # once: a failing refresh keeps its pace
        src = instances.get(spec.source.instance_id)
        dst = instances.get(spec.target.instance_id)
        if src is None or dst is None:
            return
        source, target = self._admin(src.id, src), self._admin(dst.id, dst)

        def reconcile() -> MirrorResult:
            # The filter is built in the job: a stored pattern that cannot run is then
            # reported on the task like any other selection failure.
            mirror = TopicMirror(
                source=source,
                target=target,
                policy=policy,
                topic_filter=TopicFilter.from_spec(spec.source),
                keep_partition=spec.target.keep_partition,
                sync_configs=spec.options.sync_topic_configs,
                sync_acls=spec.options.sync_topic_acls,
                target_broker_count=dst.broker_count,
                same_cluster=src.cluster_id == dst.cluster_id,
                group_id=group_id(task.id) if spec.options.copies_records else None,
                known=task.topics,
            )
            return mirror.reconcile()

        self._launch(task, mem, "topics", reconcile)

    # ---- consumer-group offset sync ----------------------------------------------------

    def _maybe_sync_offsets(
        self, task: TaskView, mem: _TaskMemory, instances: dict[str, InstanceView]
    ) -> None:
        opts = task.spec.options.sync_group_offsets
        if not opts.enabled or mem.offsets_job is not None or time.monotonic() < mem.next_offsets:
            return
        src = instances.get(task.spec.source.instance_id)
        dst = instances.get(task.spec.target.instance_id)
        if src is None or dst is None:
            return
        mem.next_offsets = time.monotonic() + opts.interval_s
        sync = GroupSync(task, self._admin(src.id), self._admin(dst.id), self.store)
        mem.offsets_job = self._jobs.submit(sync.run)
        mem.offsets_job.add_done_callback(lambda _: self.wake())

    def _collect_offsets_job(self, task: TaskView, mem: _TaskMemory) -> None:
        """Take in a finished offset sync: its failure becomes the task's warning (the
        records keep flowing; the next pass tries again)."""
        job = mem.offsets_job
        if job is None or not job.done():
            return
        mem.offsets_job = None
        try:
            job.result()
        except KsyncKafkaError as exc:
            log.warning("task %s: consumer-group offset sync failed: %s", task.id, exc)
            mem.offset_warnings = [f"consumer-group offset sync failed, retrying: {exc}"]
        except Exception as exc:
            log.exception("task %s: offset sync job crashed", task.id)
            mem.offset_warnings = [f"consumer-group offset sync failed, retrying: {exc!r}"]
        else:
            mem.offset_warnings = []
            return
        # The warning says it retries: with a long interval_s (an hour, a day) the next
        # pass would otherwise be that far off (seen: a target whose group coordinator was
        # not up yet when the first pass ran).
        mem.next_offsets = min(mem.next_offsets, time.monotonic() + OFFSET_SYNC_RETRY_S)

    def _launch(self, task: TaskView, mem: _TaskMemory, kind: str, fn: Callable[[], Any]) -> None:
        mem.job = job = self._jobs.submit(fn)
        self._pending.add(job)

        def done(_: Future[Any]) -> None:
            self._pending.discard(job)
            self.wake()

        job.add_done_callback(done)
        mem.job_kind = kind
        mem.job_started = time.monotonic()
        mem.job_generation = task.generation

    def _collect_job(self, task: TaskView, mem: _TaskMemory) -> TaskView:
        """Take in a finished job's result; returns the task as that leaves it."""
        job = mem.job
        if job is None:
            return task
        if not job.done():
            if time.monotonic() - mem.job_started > self.settings.job_timeout_s:
                log.warning(
                    "task %s: %s job still running after %.0fs",
                    task.id,
                    mem.job_kind,
                    self.settings.job_timeout_s,
                )
            return task
        mem.job = None
        kind = mem.job_kind
        mem.next_refresh = time.monotonic() + self.settings.topic_refresh_interval_s
        try:
            result = job.result()
        except KsyncKafkaError as exc:
            return self._job_failed(task, mem, kind, exc)
        except Exception as exc:
            log.exception("task %s: %s job crashed", task.id, kind)
            return self._job_failed(task, mem, kind, exc)
        if kind == "topics":
            assert isinstance(result, MirrorResult)
            mem.resolved = True
            mem.topic_warnings = list(result.warnings)
            task = self._store_topics(task, result.mappings)
            if not result.mappings:
                mem.topic_warnings.append("the topic selection matches no topic on the source yet")
        elif kind == "reset":
            log.info("task %s: progress reset; members start from %s", task.id, task.reset_start)
            # The start point applies again to every partition there is now.
            topics = tuple(restart_layout(task.topics))
            self.store.tasks.observe(
                task.id,
                TaskChange(reset_start=None, topics=topics),
                expect_generation=task.generation,
            )
            task = replace(task, reset_start=None, topics=topics)
        elif kind == "delete-group":
            log.info(
                "task %s: consumer group %s removed from the source", task.id, group_id(task.id)
            )
            mem.delete_attempts = 99
        return task

    def _store_topics(self, task: TaskView, mappings: list[TopicMapping]) -> TaskView:
        """Record a fresh resolution of the selection, deciding for each topic which of its
        partitions existed when the task started (see `partition_start`)."""
        started = task.topics_resolved_at is not None or bool(task.topics)
        # A topic a member blocked stays so until the member reports it unblocked.
        by_record = {t.source: t for t in task.topics if t.blocked_by == "record"}
        mappings = [
            m.blocked(
                str(by_record[m.source].error), by="record", at=by_record[m.source].blocked_at
            )
            if m.syncing and m.source in by_record
            else m
            for m in mappings
        ]
        topics = tuple(carry_start_layout(task.topics, mappings, started))
        change = TaskChange()
        if topics != task.topics:
            log.info(
                "task %s topics now %s",
                task.id,
                [f"{t.source}({t.partitions})" for t in topics],
            )
            change = replace(change, topics=topics)
        if task.topics_resolved_at is None:
            change = replace(change, topics_resolved_at=utcnow())
        if change == NO_CHANGE:
            return task
        self.store.tasks.observe(task.id, change)
        if change.topics != KEEP:
            task = replace(task, topics=topics)
        if change.topics_resolved_at != KEEP:
            task = replace(task, topics_resolved_at=change.topics_resolved_at)
        return task

    def _job_failed(
        self, task: TaskView, mem: _TaskMemory, kind: str, exc: BaseException
    ) -> TaskView:
        if kind in ("delete-group", "reset"):
            log.warning("task %s: could not remove its consumer group: %s", task.id, exc)
            if kind == "reset":
                mem.topic_warnings = [f"waiting to reset the task's progress: {exc}"]
            return task
        # A PersistentKafkaError raised by ksync itself (e.g. a target topic with fewer
        # partitions) carries no Kafka error code, so its class decides, not the code.
        persistent = isinstance(exc, PersistentKafkaError) or (
            isinstance(exc, KsyncKafkaError) and exc.persistent
        )
        if persistent and task.generation != mem.job_generation:
            # Launched before a start or restart (after the user fixed the instance, say):
            # what it met is the old generation's, and the fix is judged by a fresh look.
            log.info("task %s: %s job of an earlier generation failed: %s", task.id, kind, exc)
            mem.next_refresh = 0.0
            return task
        if persistent and task.desired == Desired.RUNNING:
            log.error("task %s failed: %s", task.id, exc)
            self.store.tasks.observe(
                task.id,
                TaskChange(status=TaskStatus.FAILED, error=str(exc)),
                expect_generation=mem.job_generation,
            )
            return replace(task, status=TaskStatus.FAILED, error=str(exc))
        if task.topics:
            mem.topic_warnings = [
                (
                    f"could not re-evaluate the topic selection ({exc}); still syncing the "
                    "previous selection"
                )
            ]
        else:
            mem.topic_warnings = [f"could not resolve the topic selection yet: {exc}"]
        return task

    def _admin(self, instance_id: str, known: InstanceView | None = None) -> InstanceAdmin:
        """A cached admin client, rebuilt when the instance's settings change; `known`
        is the instance as this tick read it (else it is read again)."""
        row = known if known is not None else self.store.instances.get(instance_id)
        cached = self._admins.get(instance_id)
        if cached is not None and cached[0] == row.updated_at:
            return cached[1]
        admin = InstanceAdmin(self.store.instances.connection(instance_id))
        self._admins[instance_id] = (row.updated_at, admin)
        return admin


def _copied_past(
    at: tuple[int, int] | None, topic: str, committed: Mapping[tuple[str, int], int]
) -> bool:
    """Whether a member has committed past the refused record `at` (partition, offset)
    of `topic`: the target took it (or it went to the dead-letter topic, or retention
    deleted it). A block whose record is not known ends as soon as no member reports it."""
    if at is None:
        return True
    partition, offset = at
    return committed.get((topic, partition), -1) > offset


def _opposite_tasks(
    tasks: list[TaskView], instances: Mapping[str, InstanceView]
) -> Callable[[TaskView], list[TaskView]]:
    """For each task, the tasks that sync between the same two clusters the other way:
    the only ones `cycle_warnings` can warn about, found once per tick instead of
    comparing every pair of tasks (hundreds of tasks made that the tick's main cost)."""

    def clusters(t: TaskView) -> tuple[str | None, str | None]:
        src, dst = instances.get(t.source_id), instances.get(t.target_id)
        return (src.cluster_id if src else None, dst.cluster_id if dst else None)

    by_direction: dict[tuple[str | None, str | None], list[TaskView]] = defaultdict(list)
    for t in tasks:
        by_direction[clusters(t)].append(t)

    def opposite(task: TaskView) -> list[TaskView]:
        src, dst = clusters(task)
        return by_direction.get((dst, src), [])

    return opposite


def _changes(task: TaskView, change: TaskChange) -> bool:
    """Whether writing `change` would change what `task` shows (as read this tick)."""
    return (
        (change.status is not KEEP and change.status != task.status)
        or (change.warnings is not KEEP and tuple(change.warnings) != task.warnings)
        or (change.error is not KEEP and change.error != task.error)
    )

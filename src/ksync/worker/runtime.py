"""A worker: runs the members the controller assigned to it and reports how they do.

Every `heartbeat_interval_s` the worker reads its assignments, starts and stops members
to match them (a changed generation means stop-and-start), and writes one heartbeat that
carries every member's observed state.

Invariant: no partition is copied by two members at once. A member holds a fixed share of
its task's partitions (`ksync.replication.shares`), in no consumer group, so nothing but
this worker keeps two members off one partition: it starts a member only when no member
that could hold part of its share is still active (`in_the_way`): none of another
generation, none of the same slot, here (still stopping) or on another live worker (as
its last heartbeat reported it). A member reports itself stopped only after it committed
and closed its clients. A member that fails with a transient error is
started again with exponential backoff; one that fails with a persistent error stays
failed (the controller turns that into the task's `Failed` status) until its assignment
or generation changes.

Members run where the worker's host puts them (`ksync.worker.pool`: member processes,
by default one per core; `ksync.worker.hosting.ThreadHost`: threads of this process). They
never wait on the database, and the reconcile loop never waits on Kafka: stopping a
member happens in its own thread or process.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

from ksync.domain.instance import InstanceView
from ksync.domain.status import Desired, MemberState, TaskStatus
from ksync.domain.task import TaskView
from ksync.domain.workers import MemberReport, blocks, in_the_way
from ksync.replication.commit import lost_entry
from ksync.replication.member import MemberConfig, MemberSnapshot
from ksync.replication.throttle import member_limits
from ksync.spec import ClientTuning, Connection, ErrorTolerance, StartPoint
from ksync.store.repo import Store
from ksync.worker.hosting import MemberHandle, MemberHost, SlotKey, ThreadHost

log = logging.getLogger(__name__)

# A member that has run this long since its last (re)start counts as healthy again: its
# next failure starts the backoff from the shortest wait, and the warning about the last
# restart goes. Without it, every outage a task ever lived through would lengthen the
# wait after the next one, up to max_backoff_s.
HEALTHY_AFTER_S = 60.0


@dataclass(frozen=True)
class WorkerSettings:
    worker_id: str
    heartbeat_interval_s: float = 1.0
    max_backoff_s: float = 30.0
    measure: bool = True
    commit_interval_s: float = 1.0
    # Members this worker hosts at most (`--max-members`), reported with every heartbeat
    # for the controller's slot assignment to respect; None = no cap.
    max_members: int | None = None
    # How long a shutdown waits for members to commit and stop.
    stop_timeout_s: float = 60.0


@dataclass(frozen=True)
class _TaskTopics:
    """A task's stored topics as its members need them."""

    targets: dict[str, str]  # source topic -> target topic
    partitions: dict[str, int]
    partitions_at_start: dict[str, int]

    @classmethod
    def of(cls, task: TaskView) -> _TaskTopics:
        # A topic the controller blocked is not the members' (its target cannot take it).
        mappings = [m for m in task.topics if m.copied]
        return cls(
            targets={m.source: m.target for m in mappings},
            partitions={m.source: m.partitions for m in mappings},
            partitions_at_start={
                m.source: m.partitions_at_start
                for m in mappings
                if m.partitions_at_start is not None
            },
        )


@dataclass
class _Running:
    member: MemberHandle
    generation: int
    topics: _TaskTopics
    # The client settings it was started with: librdkafka cannot change them on a running
    # client, so a change restarts the member (it commits first).
    tuning: ClientTuning
    # What it does with a record the target refuses; a change restarts it too.
    errors: ErrorTolerance
    # Whether it records offset pairs (offset sync); a change restarts it too.
    offset_pairs: bool = False
    # The sequence number of the last offset pair written to the store.
    pairs_sent: int = 0
    # Tells the aggregator that counters restarted from zero.
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    failures: int = 0
    started: float = field(default_factory=time.monotonic)
    persistent_error: str | None = None
    retry_at: float = 0.0
    last_error: str | None = None
    warnings: list[str] = field(default_factory=list)


class Worker:
    """Owns the members of one worker id; `run()` until `stop()`.

    `host` decides where members run (threads of this process by default); the worker
    closes it when it stops.
    """

    def __init__(self, store: Store, settings: WorkerSettings, host: MemberHost | None = None) -> None:
        self.store = store
        self.settings = settings
        self._host: MemberHost = host or ThreadHost()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._members: dict[SlotKey, _Running] = {}
        # Members asked to stop whose threads still run: they may still copy records, so
        # they are reported ("stopping") until they exit. Only the worker loop touches it.
        self._stopping: dict[SlotKey, list[_Running]] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        # Instances read during the current reconcile pass (`_instance`).
        self._instances: dict[str, tuple[InstanceView, Connection]] = {}

    def wake(self) -> None:
        """Reconcile now instead of at the next heartbeat (assignments changed)."""
        self._wake.set()

    @property
    def worker_id(self) -> str:
        return self.settings.worker_id

    def running_members(self) -> list[tuple[str, dict[str, str], MemberSnapshot]]:
        """(task id, source->target topics, snapshot) of each member; safe from any thread."""
        return [
            (task_id, run.topics.targets, run.member.snapshot())
            for (task_id, _slot), run in list(self._members.items())
        ]

    def run(self) -> None:
        """Reconcile and heartbeat until `stop()`; then stop every member cleanly."""
        log.info("worker %s started", self.worker_id)
        try:
            # Alive before acting: a worker restarted under the same id must not start
            # members from its old slots while its row still looks dead to the controller,
            # which would stop them again mid-join.
            self.store.workers.heartbeat(
                self.worker_id, self.host, self.pid, [], self.settings.max_members
            )
        except Exception:
            log.exception("worker %s: first heartbeat failed; retrying in the loop", self.worker_id)
        interval = self.settings.heartbeat_interval_s
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.reconcile()
            except Exception:
                # The store may be briefly unreachable; members keep copying meanwhile.
                log.exception("worker %s: reconcile failed; retrying", self.worker_id)
            # As the controller's loop: a wake is served after a rest as long as the pass
            # took, up to a tenth of the heartbeat interval (heartbeats stay on time), so
            # a stream of wakes leaves the process time for its other work.
            rest = min(time.monotonic() - started, interval / 10)
            if self._stop.wait(rest):
                break
            self._wake.wait(interval - rest)
            self._wake.clear()
        self._shutdown()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def reconcile(self) -> None:
        """One pass: match running members to assignments, then heartbeat."""
        wanted: dict[SlotKey, TaskView] = {}
        for task, slot in self.store.workers.assignments_for(self.worker_id):
            if task.desired == Desired.RUNNING and task.status != TaskStatus.FAILED:
                wanted[(task.id, slot)] = task
        for key in list(self._members):
            wanted_task = wanted.get(key)
            current = self._members[key]
            if wanted_task is None or wanted_task.generation != current.generation:
                self._stop_member(key, "unassigned" if wanted_task is None else "new generation")
            elif (
                wanted_task.spec.options.tuning,
                wanted_task.spec.options.errors,
                _records_pairs(wanted_task),
            ) != (current.tuning, current.errors, current.offset_pairs):
                # Applied live: the next reconcile starts it again with the new settings,
                # once this one has committed and stopped.
                self._stop_member(key, "client settings changed")
        self._prune_stopped()
        # Starting hundreds of members (after a restart, or a start-all) takes longer than
        # a heartbeat interval: past it this pass starts no more, heartbeats, and the next
        # pass follows at once, so the controller never sees this worker's heartbeats stop
        # (and move its members away) while it is busy starting them.
        start_until = time.monotonic() + self.settings.heartbeat_interval_s
        self._instances = {}
        for key, task in wanted.items():
            run = self._members.get(key)
            topics = _TaskTopics.of(task)
            if run is None:
                if time.monotonic() > start_until:
                    self._wake.set()
                elif self._may_start(key, task):
                    self._start_member(key, task, topics)
            elif not run.member.alive():
                self._maybe_restart(key, task, topics, run)
            else:
                if topics != run.topics:
                    # New topics, or partitions added: the member takes up its share of them.
                    run.topics = topics
                    run.member.update_topics(
                        topics.targets, topics.partitions, topics.partitions_at_start
                    )
                if run.failures and time.monotonic() - run.started > HEALTHY_AFTER_S:
                    run.failures, run.last_error = 0, None
        if wanted:  # after starting members: a new one must not run unthrottled
            self._apply_limits(wanted)
        self._prune_stopped()
        self.store.workers.heartbeat(
            self.worker_id, self.host, self.pid, self._reports(), self.settings.max_members
        )

    def _apply_limits(self, wanted: dict[SlotKey, TaskView]) -> None:
        """Give each running member its share of task limits and instance quotas."""
        quotas = {i.id: i.sync_quota_mb_s for i in self.store.instances.all() if i.sync_quota_mb_s}
        users: dict[str, int] = {}  # instance id -> partitions of running tasks using it
        # Every task is read only to share an instance's quota (with hundreds of tasks,
        # a good part of each pass).
        tasks = [t for t in self.store.tasks.all() if t.desired == Desired.RUNNING] if quotas else []
        for t in tasks:
            for iid in t.instance_ids:
                users[iid] = users.get(iid, 0) + t.partition_count
        for key, task in wanted.items():
            run = self._members.get(key)
            if run is None:
                continue
            spec = task.spec
            instances = task.instance_ids
            owned = run.member.snapshot().partitions
            run.member.set_limits(
                member_limits(
                    member_partitions=len(owned) if owned else None,
                    task_partitions=task.partition_count,
                    task_max=spec.options.task_max,
                    throttle_mb_s=spec.options.throttle_mb_s,
                    qps_limit=spec.options.qps_limit,
                    instance_quotas=[(quotas[i], users.get(i, 0)) for i in instances if i in quotas],
                )
            )

    def _may_start(self, key: SlotKey, task: TaskView) -> bool:
        """Whether a member for `key` may start now: none of this task's members that could
        hold a partition of its share is still active (see the module's docstring)."""
        task_id, slot = key
        for (other_task, other_slot), runs in self._stopping.items():
            if other_task == task_id and any(
                blocks(r.generation, other_slot, task.generation, slot) for r in runs
            ):
                return False
        elsewhere = [
            m
            for m in in_the_way(self.store.workers.members(task_id), task.generation, slot)
            if m.worker_id != self.worker_id  # this worker's own are known first-hand above
        ]
        if elsewhere:
            log.info(
                "task %s: member %d waits for %s to stop",
                task_id,
                slot,
                ", ".join(f"member {m.slot} on worker {m.worker_id}" for m in elsewhere),
            )
        return not elsewhere

    def _instance(self, instance_id: str) -> tuple[InstanceView, Connection]:
        """An instance and its connection, read once per reconcile pass."""
        found = self._instances.get(instance_id)
        if found is None:
            found = (
                self.store.instances.get(instance_id),
                self.store.instances.connection(instance_id),
            )
            self._instances[instance_id] = found
        return found

    def _member_config(self, task: TaskView, slot: int, topics: _TaskTopics) -> MemberConfig:
        spec = task.spec
        src, src_conn = self._instance(spec.source.instance_id)
        dst, dst_conn = self._instance(spec.target.instance_id)
        start: StartPoint = spec.source.start
        return MemberConfig(
            task_id=task.id,
            slot=slot,
            source=src_conn,
            target=dst_conn,
            source_cluster_id=src.cluster_id,
            target_cluster_id=dst.cluster_id,
            topics=dict(topics.targets),
            keep_partition=spec.target.keep_partition,
            start=start,
            partitions_at_start=dict(topics.partitions_at_start),
            partitions=dict(topics.partitions),
            task_max=spec.options.task_max,
            measure=self.settings.measure,
            commit_interval_s=self.settings.commit_interval_s,
            tuning=spec.options.tuning,
            errors=spec.options.errors,
            delivery=spec.options.delivery,
            offset_pairs=_records_pairs(task),
        )

    def _start_member(
        self, key: SlotKey, task: TaskView, topics: _TaskTopics, failures: int = 0
    ) -> None:
        member = self._host.start(key, self._member_config(task, key[1], topics))
        options = task.spec.options
        self._members[key] = _Running(
            member,
            task.generation,
            topics,
            options.tuning,
            options.errors,
            offset_pairs=_records_pairs(task),
            failures=failures,
        )
        log.info("task %s: member %d started on worker %s", key[0], key[1], self.worker_id)

    def _maybe_restart(
        self, key: SlotKey, task: TaskView, topics: _TaskTopics, run: _Running
    ) -> None:
        snap = run.member.snapshot()
        if snap.state == MemberState.STOPPED:  # exited cleanly on its own: start again
            self._start_member(key, task, topics, run.failures)
            return
        if run.persistent_error is not None:
            return
        now = time.monotonic()
        if run.retry_at == 0.0:
            run.failures += 1
            run.last_error = snap.error
            if run.member.failed_persistently():
                run.persistent_error = snap.error
                return
            backoff = min(self.settings.max_backoff_s, 0.5 * 2 ** (run.failures - 1))
            run.retry_at = now + backoff
            log.warning(
                "task %s: member %d failed (%s); restarting in %.1fs",
                key[0], key[1], snap.error, backoff,
            )
            return
        if now >= run.retry_at:
            self._start_member(key, task, topics, run.failures)
            self._members[key].last_error = run.last_error

    def _stop_member(self, key: SlotKey, why: str) -> None:
        """Ask a member to stop; it commits and exits on its own."""
        run = self._members.pop(key)
        run.member.stop()
        self._stopping.setdefault(key, []).append(run)
        log.info("task %s: stopping member %d on worker %s (%s)", key[0], key[1], self.worker_id, why)

    def _prune_stopped(self) -> None:
        for key in list(self._stopping):
            alive = [r for r in self._stopping[key] if r.member.alive()]
            if len(alive) < len(self._stopping[key]):
                log.info("task %s: member %d stopped on worker %s", key[0], key[1], self.worker_id)
            if alive:
                self._stopping[key] = alive
            else:
                del self._stopping[key]

    def _reports(self) -> list[MemberReport]:
        reports = []
        runs = {key: (runs[-1], True) for key, runs in self._stopping.items()}
        runs.update({key: (run, False) for key, run in self._members.items()})
        for (task_id, slot), (run, stopping) in runs.items():
            snap = run.member.snapshot()
            pairs = [p for p in snap.offset_pairs if p[0] > run.pairs_sent]
            if pairs:
                run.pairs_sent = pairs[-1][0]
            state = MemberState.STOPPING if stopping else MemberState(snap.state)
            error = run.persistent_error
            warnings = list(snap.warnings)
            if state == MemberState.FAILED and error is None:
                # Transient: it will be retried; show why as a warning, not a failure.
                state = MemberState.RESTARTING
                warnings.append(f"member {slot} restarting after: {snap.error}")
            elif (
                run.last_error
                and state in (MemberState.STARTING, MemberState.RUNNING)
                and run.failures
            ):
                warnings.append(f"member {slot} restarted after: {run.last_error}")
            reports.append(
                MemberReport(
                    task_id=task_id,
                    slot=slot,
                    generation=run.generation,
                    state=state,
                    partitions=list(snap.partitions),
                    progress=[
                        {
                            "topic": t,
                            "partition": p,
                            "committed_offset": off,
                            "end_offset": snap.end_offsets.get((t, p)),
                            **lost_entry(snap.lost.get((t, p))),
                        }
                        for (t, p), off in sorted(snap.committed.items())
                    ],
                    error=error,
                    warnings=warnings,
                    records_total=snap.records_total,
                    metrics={
                        "run_id": run.run_id,
                        "bytes_total": snap.bytes_total,
                        "records_total": snap.records_total,
                        "partition_records": [[t, p, n] for (t, p), n in snap.partition_records.items()],
                        "latency": snap.latency.to_json(),
                        "latency_max_ms": snap.latency_max_ms,
                        "throttled_s": snap.throttled_s,
                        "lost_total": snap.lost_total,
                        # Topics the member stopped copying because the target refuses
                        # one of their records (the controller shows them on the task).
                        "blocked": dict(snap.blocked),
                        # Where: the refused record's partition and offset, per topic.
                        "blocked_at": {t: list(at) for t, at in snap.blocked_at.items()},
                        "dead_lettered_total": snap.dead_lettered_total,
                        "skipped_refused_total": snap.skipped_refused_total,
                    },
                    offset_pairs=[
                        (t, run.topics.targets[t], p, s, o)
                        for _, t, p, s, o in pairs
                        if t in run.topics.targets
                    ],
                )
            )
        return reports

    def _shutdown(self) -> None:
        """Stop every member (each commits its progress), then leave the worker table."""
        for key in list(self._members):
            self._stop_member(key, "shutdown")
        deadline = time.monotonic() + self.settings.stop_timeout_s
        for runs in self._stopping.values():
            for run in runs:
                run.member.join(max(0.0, deadline - time.monotonic()))
        self._prune_stopped()
        self._host.close(max(5.0, deadline - time.monotonic()))
        try:
            self.store.workers.remove(self.worker_id)
        except Exception:
            log.exception("worker %s: could not deregister; it will time out", self.worker_id)
        log.info("worker %s stopped", self.worker_id)


def _records_pairs(task: TaskView) -> bool:
    """Whether the task's members record offset pairs: offset sync is on (its spec
    requires keep_partition)."""
    return task.spec.options.sync_group_offsets.enabled

"""Member processes on the shared Kafka clusters: placement, reports, a process killed,
and no process outliving its worker."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from helpers import create_topic, member_processes, producer, read_all, wait_until
from replication.support import member_config

from ksync.devkafka import KafkaCluster
from ksync.domain.status import MemberState
from ksync.replication.member import MemberSnapshot
from ksync.worker.pool import ProcessHandle, ProcessPool


class _Pool(ProcessPool):
    """A pool of two that remembers its members, so teardown can stop them all."""

    def __init__(self) -> None:
        super().__init__(2)
        self.started: list[ProcessHandle] = []

    def start(self, key, cfg, limits=None):  # type: ignore[no-untyped-def]
        handle = super().start(key, cfg, limits)
        self.started.append(handle)
        return handle


@pytest.fixture
def pool() -> Iterator[_Pool]:
    pool = _Pool()
    yield pool
    for handle in pool.started:
        handle.stop()
    for handle in pool.started:
        assert handle.join(60), f"member {handle.key} did not stop"
    pids = pool.pids()
    pool.close(30)
    for pid in pids:
        assert not _running(pid), f"member process {pid} outlived close()"


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def _fill(broker: KafkaCluster, topic: str, partitions: int, per_partition: int) -> None:
    p = producer(broker)
    for part in range(partitions):
        for i in range(per_partition):
            p.produce(topic, value=b"v%d" % i, key=b"k%d" % i, partition=part)
    p.flush(30)


def test_two_members_of_a_task_run_in_two_processes_and_each_copies_its_share(
    pool: _Pool, brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    source, target = brokers
    topic = f"pool-{unique}"
    create_topic(source, topic, 4)
    create_topic(target, topic, 4)
    task = f"task-pool-{unique}"
    cfg = dataclasses.replace(member_config(source, target, task, {topic: topic}), task_max=2)
    first = pool.start((task, 0), cfg)
    second = pool.start((task, 1), dataclasses.replace(cfg, slot=1))
    assert first.pid != second.pid, "a task's second member must get a process of its own"
    wait_until(
        lambda: len(first.snapshot().partitions) == len(second.snapshot().partitions) == 2,
        what="each member to take its share of two partitions, as its process reports",
    )

    _fill(source, topic, 4, 250)
    read_all(target, topic, 4, 1000)
    # Each process reports its own member: both own partitions and both copied records.
    def shares() -> tuple[MemberSnapshot, MemberSnapshot] | None:
        a, b = first.snapshot(), second.snapshot()
        done = a.partitions and b.partitions and a.records_total + b.records_total == 1000
        return (a, b) if done else None

    snaps = wait_until(shares, what="both members to report their share of the 1000 records")
    assert {len(s.partitions) for s in snaps} == {2}
    assert all(s.records_total > 0 for s in snaps)
    assert all(s.state == MemberState.RUNNING for s in snaps)


def test_a_killed_member_process_fails_its_member_with_the_signal_and_a_new_one_takes_over(
    pool: _Pool, brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    source, target = brokers
    topic = f"poolkill-{unique}"
    create_topic(source, topic, 2)
    create_topic(target, topic, 2)
    task = f"task-poolkill-{unique}"
    handle = pool.start((task, 0), member_config(source, target, task, {topic: topic}))
    wait_until(lambda: len(handle.snapshot().partitions) == 2, what="the member to own both partitions")
    pid = handle.pid
    assert pid in pool.pids()
    os.kill(pid, signal.SIGKILL)

    assert handle.join(30), "the member of a killed process must be reported finished"
    snap = handle.snapshot()
    assert snap.state == MemberState.FAILED
    assert snap.error is not None and "SIGKILL" in snap.error and str(pid) in snap.error
    assert not handle.failed_persistently(), "a killed process is a transient failure"

    # The next member of the slot runs in a new process and copies what was produced since.
    again = pool.start((task, 0), member_config(source, target, task, {topic: topic}))
    assert again.pid != pid and pid not in pool.pids()
    _fill(source, topic, 2, 50)
    read_all(target, topic, 2, 100)
    wait_until(lambda: again.snapshot().records_total >= 100, what="the new member to copy")


def test_member_processes_stop_when_their_worker_is_killed(tmp_path, kafka_pair) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL a `ksync server` running a task: its member process exits by itself."""
    from helpers import KsyncServer, add_instance, task_body, wait_status

    source, target = kafka_pair
    topic = f"poolorphan-{os.urandom(4).hex()}"
    create_topic(source, topic, 1)
    srv = KsyncServer(str(tmp_path), "--member-processes", "1").start()
    try:
        with srv.client() as client:
            src, dst = add_instance(client, source), add_instance(client, target)
            task = client.post("/api/v1/tasks", json=task_body(src, dst, topics=[topic])).json()
            wait_status(client, task["id"], "Running")
        children = member_processes(srv.process.pid)
        assert len(children) == 1, f"one member process expected, found {children}"
        srv.kill()
        wait_until(lambda: not _running(children[0]), timeout_s=40,
                   what=f"member process {children[0]} to exit after its server was killed")
    finally:
        srv.kill()


def test_sigint_to_the_process_group_does_not_interrupt_members() -> None:
    """A member process ignores SIGINT (Ctrl-C reaches a whole process group): only its
    worker's shutdown, or SIGTERM, stops it."""
    import socket
    from multiprocessing.connection import Connection

    from ksync.worker.messages import Reports, Shutdown

    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ksync.worker.child", "--fd", str(theirs.fileno()),
         "--parent", str(os.getpid())],
        pass_fds=(theirs.fileno(),),
    )
    theirs.close()
    conn = Connection(ours.detach())
    try:
        assert isinstance(conn.recv(), Reports)  # up and serving
        proc.send_signal(signal.SIGINT)
        assert isinstance(conn.recv(), Reports)  # still reporting after SIGINT
        assert proc.poll() is None
        conn.send(Shutdown())
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        conn.close()

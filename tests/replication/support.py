"""Support for engine tests: member configs for the test brokers, members run in threads."""

from __future__ import annotations

import threading
from typing import Any

from helpers import TEST_SESSION_TIMEOUT_MS, wait_until

from ksync.devkafka import KafkaCluster
from ksync.replication.member import Member, MemberConfig, MemberState
from ksync.spec import Connection


def connection(broker: KafkaCluster) -> Connection:
    return Connection(instance_id=broker.cluster_id, bootstrap_servers=broker.bootstrap)


def member_config(
    source: KafkaCluster, target: KafkaCluster, task_id: str, topics: dict[str, str], **kw: Any
) -> MemberConfig:
    """A config for a member copying `topics` (source -> target name) from `source` to `target`.

    The cluster ids are the brokers' `--cluster-id`, which is what tansu reports.
    """
    kw.setdefault("session_timeout_ms", TEST_SESSION_TIMEOUT_MS)
    kw.setdefault("commit_interval_s", 0.5)
    return MemberConfig(
        task_id=task_id,
        slot=0,
        source=connection(source),
        target=connection(target),
        source_cluster_id=source.cluster_id,
        target_cluster_id=target.cluster_id,
        topics=topics,
        **kw,
    )


class RunningMember:
    """A `Member` whose `run()` executes in a daemon thread."""

    def __init__(self, member: Member) -> None:
        self.member = member
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name=f"member-{member.cfg.task_id}")
        self._thread.daemon = True
        self._thread.start()

    def _run(self) -> None:
        try:
            self.member.run()
        except Exception as exc:  # noqa: BLE001 - reported by stop() in the test thread
            self.error = exc

    def snapshot(self) -> MemberState:
        if self.error is not None:
            raise AssertionError(f"member {self.member.cfg.task_id} failed: {self.error!r}")
        return self.member.snapshot()

    def wait_assigned(self, partitions: int, timeout_s: float = 30.0) -> MemberState:
        """Wait until the member owns `partitions` partitions (the group join is done)."""
        return wait_until(
            lambda: (s := self.snapshot()) and len(s.partitions) == partitions and s,
            timeout_s=timeout_s,
            what=f"member {self.member.cfg.task_id} to own {partitions} partitions",
        )

    def stop(self, timeout_s: float = 60.0) -> MemberState:
        """Stop, join, and re-raise whatever the member raised."""
        self.member.stop()
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"member {self.member.cfg.task_id} did not stop"
        if self.error is not None:
            raise AssertionError(f"member {self.member.cfg.task_id} failed: {self.error!r}")
        return self.member.snapshot()

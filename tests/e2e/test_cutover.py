"""The guided cutover end to end (`POST /api/v1/tasks/{id}/cutover`, `ksync task cutover`):
a dry run while the copy lags reports it and writes nothing; a cutover asks for the
producers to stop, waits for the last records, and leaves the group on the target where
its consumers read exactly the records after its source commit, not one again; a group
with a consumer on the target is refused."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

import httpx
from confluent_kafka import TopicPartition
from helpers import create_topic, producer, wait_until
from typer.testing import CliRunner

from ksync.cli import app as cli
from ksync.devkafka import KafkaCluster

from .offsets_support import (
    PARTITIONS,
    consumer,
    end_offset,
    fail_over,
    produce,
    read_some,
    read_values,
)


def _cutover(
    client: httpx.Client,
    task_id: str,
    group: str,
    dry_run: bool = False,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run a cutover through the API; the steps as they streamed, `on_step` called on each."""
    body = {"group": group, "dry_run": dry_run, "timeout_s": 240}
    steps: list[dict[str, Any]] = []
    timeout = httpx.Timeout(30.0, read=240.0)
    with client.stream("POST", f"/api/v1/tasks/{task_id}/cutover", json=body, timeout=timeout) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("application/x-ndjson")
        for line in r.iter_lines():
            if line.strip():
                steps.append(json.loads(line))
                if on_step is not None:
                    on_step(steps[-1])
    assert steps and steps[-1]["step"] == "result", steps
    return steps


def _cli(url: str, *args: str) -> Any:
    """`ksync ARGS --api-url url` in process, with no other KSYNC_ variable."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("KSYNC_")}
    return CliRunner().invoke(cli, [*args, "--api-url", url], env=env)


def _committed_on(broker: KafkaCluster, topic: str, group: str) -> dict[int, int]:
    c = consumer(broker, group)
    try:
        found = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return {tp.partition: tp.offset for tp in found if tp.offset >= 0}
    finally:
        c.close()


def _listed(client: httpx.Client, task_id: str, group: str) -> bool:
    rows = client.get(f"/api/v1/tasks/{task_id}/group-offsets").json()["offsets"]
    return any(r["group"] == group for r in rows)


def test_dry_run_reports_the_lag_and_writes_nothing(brokers, folder_server, sync_task, unique):
    source, target = brokers
    topic, group, marker = f"dry.{unique}", f"app-{unique}", f"mark-{unique}"
    create_topic(source, topic, PARTITIONS)
    produce(source, topic, "r", 10_000)
    read_some(source, topic, marker, 10)
    # Throttled, the copy lags for minutes; one sync pass a day: the first (seen by the
    # marker group) ran, so no later pass writes the group's offsets behind the test's back.
    task_id = sync_task(source, target, topic, sync={"interval_s": 86_400}, options={"qps_limit": 50})
    client = folder_server.client()
    wait_until(lambda: _listed(client, task_id, marker), timeout_s=90, what="the first sync pass")
    read_some(source, topic, group, 300)

    result = _cli(folder_server.url, "task", "cutover", task_id, "--group", group, "--dry-run")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "[ok]   task " in result.stdout and "is Running" in result.stdout, result.stdout
    steps = _cutover(client, task_id, group, dry_run=True)
    lag = [s for s in steps if s["step"] == "check" and s["message"].startswith("lag ")]
    assert len(lag) == 1 and lag[0]["state"] == "pending", steps
    assert int(lag[0]["message"].split()[1].rstrip(":")) > 0, lag
    assert steps[-1]["state"] == "checked", steps
    assert not [s for s in steps if s["step"] in ("stop", "wait", "offsets")], steps
    # Nothing written: the target group has no offsets, the task shows no sync of it.
    assert _committed_on(target, topic, group) == {}
    assert not _listed(client, task_id, group)
    # Refused before anything runs: an unknown task (exit 4), ksync's own group (422).
    assert _cli(folder_server.url, "task", "cutover", "task-zzzzzzzz", "-g", group).exit_code == 4
    own = _cli(folder_server.url, "task", "cutover", task_id, "-g", f"ksync-{task_id}")
    assert own.exit_code == 1 and "group: " in own.stderr and "never synced" in own.stderr, own.stderr


def test_cutover_resumes_exactly_after_the_source_commit(brokers, folder_server, sync_task, unique):
    """Producers write until the cutover says to stop them; the target partitions held
    other records first, so target offsets differ from the source's."""
    source, target = brokers
    topic, group = f"cut.{unique}", f"app-{unique}"
    create_topic(source, topic, PARTITIONS)
    create_topic(target, topic, PARTITIONS)
    produce(target, topic, "foreign", 155)
    produce(source, topic, "r", 3000)
    committed = read_some(source, topic, group, 900)
    task_id = sync_task(source, target, topic)
    client = folder_server.client()

    stop = threading.Event()

    def write() -> None:
        p = producer(source)
        i = 0
        while not stop.is_set():
            p.produce(topic, f"live-{i}".encode(), f"k{i}".encode(), partition=i % PARTITIONS)
            i += 1
            if i % 50 == 0:
                p.flush(30)
        assert p.flush(30) == 0

    writer = threading.Thread(target=write, name="test-producer")
    writer.start()
    told: list[str] = []

    def on_step(step: dict[str, Any]) -> None:
        if step["step"] == "stop":
            told.append(step["message"])
            stop.set()
            writer.join(60)

    try:
        steps = _cutover(client, task_id, group, on_step=on_step)
    finally:
        stop.set()
        writer.join(60)
    assert told and topic in told[0] and group in told[0], steps
    result = steps[-1]
    assert result["state"] == "cut_over", steps
    resume = result["resume"]
    assert resume["bootstrap_servers"] == target.bootstrap and resume["group"] == group
    assert resume["topics"] == [{"source": topic, "target": topic}]
    points = {r["partition"]: r for r in resume["partitions"]}
    assert sorted(points) == list(range(PARTITIONS))
    assert all(r["exact"] for r in points.values()), points
    assert {p: r["source_offset"] for p, r in points.items()} == committed
    assert _committed_on(target, topic, group) == {p: r["offset"] for p, r in points.items()}
    assert all(r["offset"] != r["source_offset"] for r in points.values()), "offsets differ"

    # The sync passes after it keep the exact point as the group's translation (and do
    # not call it a group ahead that needs a reset).
    def rows() -> list[dict[str, Any]]:
        found = client.get(f"/api/v1/tasks/{task_id}/group-offsets").json()["offsets"]
        return [r for r in found if r["group"] == group]

    recorded = max(r["checked_at"] for r in rows())

    def kept() -> bool:
        now = rows()
        return len(now) == PARTITIONS and all(r["checked_at"] > recorded for r in now) and all(
            r["note"] is None and r["target_offset"] == r["target_committed"] == points[r["partition"]]["offset"]
            for r in now
        )

    wait_until(kept, timeout_s=30, what=f"a later sync pass to keep the cutover's offsets: {rows()}")
    got = fail_over(target, topic, group)
    for p in range(PARTITIONS):
        before = read_values(source, topic, p, committed[p])
        after = read_values(source, topic, p, end_offset(source, topic, p))[len(before) :]
        assert any(v.startswith(b"live-") for v in after), "records written during the cutover"
        assert got[p] == after, f"partition {p}: read {len(got[p])}, expected {len(after)} exactly"


def test_a_group_with_a_member_on_the_target_is_refused(brokers, folder_server, sync_task, unique):
    source, target = brokers
    topic, group = f"cutbusy.{unique}", f"app-{unique}"
    create_topic(source, topic, PARTITIONS)
    create_topic(target, topic, PARTITIONS)
    produce(source, topic, "r", 500)
    read_some(source, topic, group, 100)
    task_id = sync_task(source, target, topic)
    client = folder_server.client()
    member = consumer(target, group)
    try:
        member.subscribe([topic])
        wait_until(lambda: member.consume(1, 0.2) is not None and member.assignment(), what="joined")
        steps = _cutover(client, task_id, group)
        failed = [s for s in steps if s["step"] == "check" and s["state"] == "failed"]
        assert len(failed) == 1 and "active member" in failed[0]["message"], steps
        assert steps[-1]["state"] == "refused" and "stop those consumers" in steps[-1]["message"]
        assert not [s for s in steps if s["step"] in ("stop", "wait", "offsets")], steps
        as_json = _cli(folder_server.url, "task", "cutover", task_id, "-g", group, "-o", "json")
        assert as_json.exit_code == 1, as_json.stdout + as_json.stderr
        lines = [json.loads(line) for line in as_json.stdout.splitlines()]
        assert lines[-1]["step"] == "result" and lines[-1]["state"] == "refused", lines
        dry = _cutover(client, task_id, group, dry_run=True)
        assert [s["state"] for s in dry if s["step"] == "check" and "active member" in s["message"]] == ["failed"]
        assert dry[-1]["state"] == "refused" and dry[-1]["message"].startswith("dry run: a cutover would be refused")
        assert _committed_on(target, topic, group) == {}
    finally:
        member.close()

"""A record the target refuses, through a running server on real Kafka: a task over two
topics where the target topic of one accepts less (`max.message.bytes`) than a record of
it holds.

* tolerance none (the default): that topic is blocked with a sentence naming the
  partition, offset, size and limit, nothing past the record is copied or committed, the
  other topic keeps flowing and the task stays Running; a restart of the task leaves the
  topic blocked throughout (the new members find the record again); raising the target's
  limit resumes the topic from the record, and the target then holds every record, in
  order, once.
* tolerance all with a dead-letter topic: the record is in the dead-letter topic with its
  key, value and the `ksync.errors.*` headers, every other record of both topics is on the
  target, and the Task JSON and Prometheus count it; without one, the record is skipped
  with a warning and counted.

Config sync is off: it would copy the source's (default) limit onto the target topic,
which is exactly what a user with a stricter target did not do.
"""

from __future__ import annotations

import re
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import ConfigResource
from helpers import wait_until
from prometheus_client.parser import text_string_to_metric_families

from .topics_support import (
    alter_configs,
    committed,
    create_topic,
    get_task,
    produce,
    start_task,
    tagged,
    values_now,
    wait_values,
)

LIMIT = 20_000
BIG = b"B" * 50_000  # larger than LIMIT on the target, well within the source's default


def _topic(client: Any, task_id: str, source: str) -> dict[str, Any]:
    return next(t for t in get_task(client, task_id)["topics"] if t["source"] == source)


def _setup(source: Any, target: Any, unique: str) -> tuple[str, str, dict[int, list[bytes]]]:
    """Topic `flows` and topic `strict` (2 partitions each) on the source; `strict`'s target
    topic exists already with a small max.message.bytes. Returns both names and the records
    of `strict`: partition 0 has the big record at offset 5."""
    flows, strict = f"rr-flow-{unique}", f"rr-strict-{unique}"
    create_topic(source, flows, 2)
    create_topic(source, strict, 2)
    create_topic(target, strict, 2, configs={"max.message.bytes": str(LIMIT)})
    produce(source, flows, tagged("f", range(2), 20))
    records = tagged("s", range(2), 10)
    records[0] = records[0][:5] + [BIG] + records[0][5:]
    produce(source, strict, records)
    return flows, strict, records


def test_a_refused_record_blocks_only_its_topic_until_the_target_accepts_it(
    brokers, server, unique
):
    source, target = brokers
    flows, strict, records = _setup(source, target, unique)
    client = server.client()
    task_id = start_task(
        client, source, target, topics=[flows, strict], options={"sync_topic_configs": False}
    )
    wait_values(target, flows, tagged("f", range(2), 20))

    def blocked() -> dict[str, Any] | None:
        topic = _topic(client, task_id, strict)
        return topic if topic["state"] == "blocked" else None

    topic = wait_until(blocked, timeout_s=90, what=f"{strict} to show blocked")
    assert topic["blocked_by"] == "record"
    for words in (f"offset 5 of {strict}[0]", f"{LIMIT} bytes", "max.message.bytes"):
        assert words in topic["error"], (words, topic["error"])
    # Its size as the broker counts it: the value and a few dozen bytes of framing.
    size = re.search(r"the record is (\d+) bytes", topic["error"])
    assert size is not None and len(BIG) < int(size.group(1)) < len(BIG) + 200, topic["error"]
    assert any(topic["error"] in w for w in get_task(client, task_id)["warnings"])
    # Partition 0 stops right before the record: committed at it, nothing after it copied.
    wait_until(
        lambda: committed(client, task_id).get((strict, 0)) == 5,
        timeout_s=60,
        what=f"{strict}[0] committed up to the refused record",
    )
    assert values_now(target, strict, 1)[0] == records[0][:5]

    # The other topic keeps flowing, and the task is not failed for one topic.
    produce(source, flows, tagged("g", range(2), 5))
    wait_values(
        target, flows, {p: tagged("f", range(2), 20)[p] + tagged("g", range(2), 5)[p] for p in range(2)}
    )
    task = get_task(client, task_id)
    assert task["status"] == "Running", task
    assert committed(client, task_id).get((strict, 0)) == 5
    assert values_now(target, strict, 1)[0] == records[0][:5]

    # A restart stops every member and starts new ones, which know nothing of the block
    # until they read the record again: the topic stays blocked throughout, watched from
    # the restart until the new members run and copy what the other topic got since.
    restarted = client.post(f"/api/v1/tasks/{task_id}/restart")
    assert restarted.status_code == 202, restarted.text
    seen: list[tuple[str, str]] = []
    more = tagged("h", range(2), 3)
    produce(source, flows, more)
    flowed = {p: tagged("f", range(2), 20)[p] + tagged("g", range(2), 5)[p] + more[p] for p in range(2)}

    def settled() -> bool:
        task = get_task(client, task_id)
        topic = next(t for t in task["topics"] if t["source"] == strict)
        seen.append((task["status"], topic["state"]))
        # Reading the target is slow: only once the task runs again.
        return task["status"] == "Running" and values_now(target, flows, 2) == flowed

    wait_until(settled, timeout_s=120, interval_s=0.1, what="the restarted task to run and copy")
    assert any(status != "Running" for status, _ in seen), seen  # the restart was watched
    assert {state for _, state in seen} == {"blocked"}, seen
    assert _topic(client, task_id, strict)["error"] == topic["error"]
    assert values_now(target, strict, 1)[0] == records[0][:5]

    # The user raises the target's limit: the topic resumes from the record, skipping nothing.
    alter_configs(target, ConfigResource.Type.TOPIC, strict, {"max.message.bytes": "1000000"})
    wait_values(target, strict, records, timeout_s=120)
    wait_until(
        lambda: _topic(client, task_id, strict)["state"] == "syncing",
        timeout_s=60,
        what=f"{strict} to sync again",
    )
    assert _topic(client, task_id, strict)["error"] is None
    wait_until(
        lambda: committed(client, task_id).get((strict, 0)) == 11,
        timeout_s=60,
        what=f"{strict}[0] committed past the record",
    )


def _tolerated(client: Any, brokers: Any, unique: str, errors: dict[str, Any]) -> tuple[str, str]:
    """A task over both topics with `errors` (tolerance all), once every record but the
    refused one is on the target; returns the task id and the strict topic."""
    source, target = brokers
    flows, strict, records = _setup(source, target, unique)
    task_id = start_task(
        client,
        source,
        target,
        topics=[flows, strict],
        options={"sync_topic_configs": False, "errors": errors},
    )
    wait_values(target, flows, tagged("f", range(2), 20))
    wait_values(target, strict, {0: [r for r in records[0] if r != BIG], 1: records[1]})
    return task_id, strict


def _dead_letters(broker: Any, topic: str, expected: int) -> list[Any]:
    consumer = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": f"dlq-reader-{topic}", "log_level": 3}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    got: list[Any] = []
    try:
        wait_until(
            lambda: got.extend(m for m in consumer.consume(100, 0.5) if m.error() is None)
            or len(got) >= expected,
            timeout_s=90,
            what=f"{expected} records in dead-letter topic {topic}",
        )
        got.extend(m for m in consumer.consume(100, 1.0) if m.error() is None)
    finally:
        consumer.close()
    return got


def test_with_tolerance_all_the_record_goes_to_the_dead_letter_topic_and_the_rest_flows(
    brokers, server, unique
):
    _, target = brokers
    dlq = f"rr-dlq-{unique}"
    client = server.client()
    task_id, strict = _tolerated(client, brokers, unique, {"tolerance": "all", "dead_letter_topic": dlq})
    (letter,) = _dead_letters(target, dlq, 1)
    assert letter.value() == BIG
    headers = dict(letter.headers())
    assert headers["ksync.errors.topic"] == strict.encode()
    assert headers["ksync.errors.partition"] == b"0"
    assert headers["ksync.errors.offset"] == b"5"
    assert str(LIMIT).encode() in headers["ksync.errors.exception.message"]
    assert b"max.message.bytes" in headers["ksync.errors.exception.message"]

    task = wait_until(
        lambda: (t := get_task(client, task_id))["metrics"]
        and t["metrics"]["dead_lettered_total"] == 1
        and t,
        timeout_s=60,
        what="the task's metrics to count the dead letter",
    )
    assert task["status"] == "Running", task
    assert _topic(client, task_id, strict)["state"] == "syncing"
    # Past the record: partition 0's progress covers all 11 source records.
    wait_until(
        lambda: committed(client, task_id).get((strict, 0)) == 11,
        timeout_s=60,
        what=f"{strict}[0] committed past the dead-lettered record",
    )

    def scraped() -> bool:
        families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
        samples = families["ksync_refused_records"].samples
        return any(
            s.labels == {"task": task_id, "outcome": "dead_lettered"} and s.value == 1
            for s in samples
            if s.name == "ksync_refused_records_total"
        )

    wait_until(scraped, timeout_s=30, what="ksync_refused_records_total to count the dead letter")


def test_with_tolerance_all_and_no_dead_letter_topic_the_record_is_skipped_and_counted(
    brokers, server, unique
):
    client = server.client()
    task_id, strict = _tolerated(client, brokers, unique, {"tolerance": "all"})
    warned: list[str] = []  # the warning lasts a minute: collected from every look

    def counted() -> dict[str, Any] | None:
        task = get_task(client, task_id)
        warned.extend(w for w in task["warnings"] if strict in w and "skipped" in w)
        metrics = task["metrics"]
        return task if metrics and metrics["skipped_refused_total"] == 1 and warned else None

    task = wait_until(counted, timeout_s=60, what="the skipped record counted and warned of")
    assert task["metrics"]["dead_lettered_total"] == 0
    assert _topic(client, task_id, strict)["state"] == "syncing"

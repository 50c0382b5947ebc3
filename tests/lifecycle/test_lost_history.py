"""Retention overtaking a paused task's position, end to end (issue 20, point 6).

A task copies, is paused, and while it is paused the source's retention deletes records
it has not copied yet (DeleteRecords, at an offset the test chooses, is what a retention
check does to the log's start). Started again within the pause retention, the task says
so on the topic, naming the partition and the exact count, counts it in its metrics and
in Prometheus, and copies every record after the new earliest.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient
from helpers import add_instance, create_topic, delete_topic, task_body, wait_status, wait_until
from prometheus_client.parser import text_string_to_metric_families

from ksync.domain.topics import lost_to_retention

from .support import Follow, create_task, produce_now

BEFORE, DURING, DELETED = 100, 100, 60  # per partition; DELETED of DURING, on partition 0


def test_retention_overtaking_a_paused_tasks_position_is_reported_counted_and_skipped(
    brokers, folder_server, unique
):
    source, target = brokers
    topic, partitions = f"lost.{unique}", 2
    create_topic(source, topic, partitions)
    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    task_id = create_task(client, task_body(src, dst, topics=[topic]))
    url = f"/api/v1/tasks/{task_id}"
    wait_status(client, task_id, "Running")
    before = produce_now(source, topic, partitions, "before", BEFORE)
    with Follow(target, topic, partitions) as follow:
        follow.wait_for(before)
        wait_until(
            lambda: all(
                p["committed_offset"] == BEFORE for p in client.get(url).json()["progress"]
            ),
            timeout_s=30,
            what="the task's progress to reach the records copied",
        )
        assert client.post(f"{url}/pause").status_code == 202
        wait_status(client, task_id, "Paused", timeout_s=30)

        during = produce_now(source, topic, partitions, "during", DURING)
        earliest = BEFORE + DELETED
        admin = AdminClient({"bootstrap.servers": source.bootstrap, "log_level": 3})
        for done in admin.delete_records([TopicPartition(topic, 0, earliest)]).values():
            assert done.result(timeout=30).low_watermark == earliest

        assert client.post(f"{url}/start").status_code == 202
        wait_status(client, task_id, "Running", timeout_s=60)
        expected = {0: during[0][DELETED:], 1: during[1]}
        follow.wait_for(expected)
        follow.poll(1.0)
        # Every record after the new earliest, once; nothing of the gap (it is gone).
        assert follow.values[0] == before[0] + during[0][DELETED:]
        assert follow.values[1] == before[1] + during[1]

    warning = lost_to_retention(topic, 0, DELETED, BEFORE, earliest)

    def reported() -> Any:
        task = client.get(url).json()
        metrics = task["metrics"] or {}
        return metrics.get("lost_records_total") == DELETED and task

    task = wait_until(reported, timeout_s=30, what=f"lost_records_total to reach {DELETED}")
    (shown,) = task["topics"]
    assert shown["warnings"] == [warning]
    lost = {p["partition"]: p["lost_records"] for p in task["progress"]}
    assert lost == {0: DELETED, 1: None}

    fams = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    samples = {
        s.labels["partition"]: s.value
        for s in fams["ksync_records_lost"].samples
        if s.name == "ksync_records_lost_total" and s.labels["task"] == task_id
    }
    assert samples == {"0": DELETED}
    assert client.delete(url).status_code == 202


def test_a_source_topic_deleted_and_created_again_is_blocked_on_the_task_while_the_rest_flows(
    brokers, folder_server, unique
):
    source, target = brokers
    again, steady = f"again.{unique}", f"steady.{unique}"
    create_topic(source, again, 1)
    create_topic(source, steady, 1)
    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    task_id = create_task(client, task_body(src, dst, topics=[again, steady]))
    url = f"/api/v1/tasks/{task_id}"
    wait_status(client, task_id, "Running")
    old = produce_now(source, again, 1, "old", 20)
    with Follow(target, again, 1) as follow:
        follow.wait_for(old)

    delete_topic(source, again)

    def topic_state(name: str) -> Any:
        return {t["source"]: t for t in client.get(url).json()["topics"]}.get(name)

    wait_until(
        lambda: (t := topic_state(again)) and t["state"] == "blocked" and "no longer exists" in t["error"],
        timeout_s=30,
        what=f"{again} to show as deleted",
    )

    def held() -> int:
        workers = client.get("/api/v1/workers").json()["workers"]
        return sum(m["partitions"] for w in workers for m in w["members"] if m["task_id"] == task_id)

    # The member has let go of the deleted topic: the new one's records could reach it no
    # other way than through a check that failed.
    wait_until(lambda: held() == 1, timeout_s=30, what="the member to hold only the steady topic")
    create_topic(source, again, 1)
    new = produce_now(source, again, 1, "new", 5)
    shown = wait_until(
        lambda: (t := topic_state(again)) and "deleted and created again" in (t["error"] or "") and t,
        timeout_s=30,
        what=f"{again} to show as recreated",
    )
    assert shown["state"] == "blocked"
    assert "reset its progress (POST /api/v1/tasks/<id>/reset" in shown["error"]
    assert topic_state(steady)["state"] == "syncing"
    with Follow(target, steady, 1) as follow:
        follow.wait_for(produce_now(source, steady, 1, "still", 10))
    with Follow(target, again, 1) as follow:
        follow.poll(2.0)
        # Nothing of the new topic was copied on top of the old one's records.
        assert follow.values[0] == old[0]

    # What the sentence says to do: pause, reset the progress, start. The new topic is
    # then copied from its first record, behind the old one's records.
    assert client.post(f"{url}/reset").status_code == 409  # only a paused task
    assert client.post(f"{url}/pause").status_code == 202
    wait_status(client, task_id, "Paused")
    bad = client.post(f"{url}/reset", json={"start": {"type": "timestamp"}})
    assert bad.status_code == 422 and "timestamp_ms" in bad.text, bad.text
    reset = client.post(f"{url}/reset", json={"start": {"type": "earliest"}})
    assert reset.status_code == 202, reset.text
    assert reset.json()["reset_start"] == {"type": "earliest", "timestamp_ms": None}
    assert client.post(f"{url}/start").status_code == 202
    wait_status(client, task_id, "Running")
    wait_until(lambda: topic_state(again)["state"] == "syncing", timeout_s=60, what=f"{again} to sync")
    assert client.get(url).json()["reset_start"] is None
    events = [e["message"] for e in client.get(f"{url}/events").json()["events"]]
    assert "start requested after a progress reset: copying from the earliest offsets" in events, events
    with Follow(target, again, 1) as follow:
        follow.wait_for({0: old[0] + new[0]})
        assert follow.values[0] == old[0] + new[0]
    assert client.delete(url).status_code == 202

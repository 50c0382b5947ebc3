"""Restart and delete end to end (issue 3, points 1 and 5).

* Restart stops and starts every member while records flow: the status goes through
  Unassigned back to Running, and nothing is lost (repeats at most an in-flight batch).
* Delete stops the sync only: the copied data, both topics and both instances stay; the
  task then answers 404 and its consumer group `ksync-<task id>` is gone from the source.
"""

from __future__ import annotations

import time

from confluent_kafka.admin import AdminClient
from helpers import add_instance, create_topic, read_all, task_body, wait_status, wait_until

from .support import (
    IN_FLIGHT_BATCH,
    Follow,
    StatusWatch,
    SteadyProducer,
    check_order_and_dups,
    consumer_groups,
    create_task,
    produce_now,
)


def test_restart_stops_and_starts_every_member_and_loses_nothing(brokers, folder_server, unique):
    source, target = brokers
    topic, partitions = f"restart.flow.{unique}", 3
    create_topic(source, topic, partitions)
    server = folder_server
    client = server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    task_id = create_task(client, task_body(src, dst, topics=[topic], options={"task_max": 2}))
    wait_status(client, task_id, "Running")
    url = f"/api/v1/tasks/{task_id}"
    started_before = server.log().count(f"task {task_id}: member")

    load = SteadyProducer(source, topic, partitions, rate=1_000)
    load.start()
    with Follow(target, topic, partitions) as follow, StatusWatch(server.url, task_id) as watch:
        wait_until(lambda: follow.poll(0.2) >= 500, what="records flowing to the target")
        restarted_at = time.monotonic()
        response = client.post(f"{url}/restart")
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "Unassigned"
        wait_until(
            lambda: [s for _, s in watch.seen_after(restarted_at)][-1:] == ["Running"],
            timeout_s=60,
            what="Running again after the restart",
        )
        path = [s for _, s in watch.seen_after(restarted_at)]
        print(f"\nstatuses after the restart: {path}")
        assert path[0] == "Unassigned" and "Failed" not in path

        copied = follow.poll(0.2)
        wait_until(lambda: follow.poll(0.2) >= copied + 1_000, what="records flowing after the restart")
        sent = load.finish()
        follow.wait_for(sent)
        follow.poll(1.0)
        check_order_and_dups(follow.values, sent, bound=2 * IN_FLIGHT_BATCH)

    log = server.log()
    for slot in (0, 1):
        assert f"task {task_id}: stopping member {slot} on worker" in log, log[-3000:]
        assert log.count(f"task {task_id}: member {slot} started") == 2, log[-3000:]
    assert log.count(f"task {task_id}: member") > started_before
    events = [e["message"] for e in client.get(f"{url}/events").json()["events"]]
    assert any("restart" in m for m in events), events
    task = client.get(url).json()
    assert task["status"] == "Running" and task["error"] is None


def test_delete_stops_the_sync_and_leaves_data_topics_and_instances(brokers, folder_server, unique):
    source, target = brokers
    topic, partitions = f"delete.data.{unique}", 2
    create_topic(source, topic, partitions)
    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    task_id = create_task(client, task_body(src, dst, topics=[topic]))
    copied = produce_now(source, topic, partitions, "copied", 300)
    wait_status(client, task_id, "Running")
    with Follow(target, topic, partitions) as follow:
        follow.wait_for(copied)
    group = f"ksync-{task_id}"
    assert group in consumer_groups(source), "the task's consumer group is not on the source"

    deleted = client.delete(f"/api/v1/tasks/{task_id}")
    assert deleted.status_code == 202, deleted.text
    assert deleted.json()["status"] == "Terminating"
    wait_until(
        lambda: client.get(f"/api/v1/tasks/{task_id}").status_code == 404,
        timeout_s=30,
        what="the deleted task to answer 404",
    )
    assert client.get(f"/api/v1/tasks/{task_id}/events").status_code == 404
    assert task_id not in {t["id"] for t in client.get("/api/v1/tasks").json()["tasks"]}
    # A member still running would hold the group: gone means no consumer of the task is
    # left, so a record produced now stays on the source.
    assert group not in consumer_groups(source), f"{group} is still on the source"
    produce_now(source, topic, partitions, "after-delete", 5)
    got = read_all(target, topic, partitions, sum(map(len, copied.values())))
    assert {p: [m.value() for m in msgs] for p, msgs in got.items()} == copied

    for instance_id in (src, dst):
        assert client.get(f"/api/v1/instances/{instance_id}").status_code == 200
    for broker in (source, target):
        topics = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 3}).list_topics(timeout=10).topics
        assert len(topics[topic].partitions) == partitions

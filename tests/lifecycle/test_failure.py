"""Failure end to end (issue 3, points 3 and 5): persistent causes set Failed with an error
a user can act on, and the task runs again once the cause is fixed and it is started;
a transient outage never fails a task and loses nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import UTC, datetime

from confluent_kafka.admin import AdminClient
from helpers import add_instance, create_topic, read_all, task_body, wait_status, wait_until

from .support import (
    IN_FLIGHT_BATCH,
    Follow,
    StatusWatch,
    SteadyProducer,
    assert_conflict,
    check_order_and_dups,
    create_task,
    merge,
    produce_now,
)

SASL = {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "username": "u", "password": "p", "ca_pem": None}


def _credentials_refused(data_dir: str, instance_id: str) -> None:
    """Make ksync meet "the cluster refuses our credentials" on `instance_id`.

    The test broker has no SASL, and cannot start refusing credentials at runtime; an
    instance registered with SASL against it is rightly refused at creation (422). So the
    store is changed underneath the running server: the instance's security becomes
    SASL_PLAINTEXT (the broker then answers every connection "Unsupported SASL mechanism",
    a persistent authentication error), `updated_at` changes so cached admin clients are
    rebuilt, and the generation of every task using the instance goes up so its members
    restart with the new settings -- what happens when a cluster's credentials are revoked
    and ksync's clients reconnect.
    """
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    db = sqlite3.connect(f"{data_dir}/ksync.db", timeout=30)
    try:
        with db:
            db.execute(
                "UPDATE instances SET security = ?, updated_at = ? WHERE id = ?",
                (json.dumps(SASL), now, instance_id),
            )
            changed = db.execute(
                "UPDATE tasks SET generation = generation + 1 "
                "WHERE json_extract(spec, '$.source.instance_id') = ? "
                "OR json_extract(spec, '$.target.instance_id') = ?",
                (instance_id, instance_id),
            ).rowcount
        assert changed == 1
    finally:
        db.close()


def test_refused_credentials_fail_the_task_until_the_instance_is_fixed(brokers, server):
    source, target = brokers
    topic, partitions = "fail.auth", 2
    create_topic(source, topic, partitions)
    client = server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    task_id = create_task(client, task_body(src, dst, topics=[topic]))
    url = f"/api/v1/tasks/{task_id}"
    before = produce_now(source, topic, partitions, "before", 100)
    wait_status(client, task_id, "Running")
    with Follow(target, topic, partitions) as follow:
        follow.wait_for(before)

    _credentials_refused(server.data_dir, src)
    failed = wait_status(client, task_id, "Failed", timeout_s=60)
    print(f"\nerror: {failed['error']}")
    assert re.search(r"SASL|authenticat", failed["error"], re.IGNORECASE), failed["error"]
    assert_conflict(client.post(f"{url}/pause"), task_id)
    during = produce_now(source, topic, partitions, "during", 100)

    fixed = client.patch(f"/api/v1/instances/{src}", json={"security": {"protocol": "PLAINTEXT"}})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["security"]["protocol"] == "PLAINTEXT"
    started = client.post(f"{url}/start")
    assert started.status_code == 202, started.text
    running = wait_status(client, task_id, "Running", timeout_s=60)
    assert running["error"] is None

    after = produce_now(source, topic, partitions, "after", 100)
    sent = merge(before, during, after)
    with Follow(target, topic, partitions) as follow:
        follow.wait_for(sent)
        follow.poll(1.0)
        check_order_and_dups(follow.values, sent, bound=IN_FLIGHT_BATCH)


def test_target_topic_with_fewer_partitions_fails_until_recreated(brokers, server):
    source, target = brokers
    topic, partitions = "fail.partitions", 4
    create_topic(source, topic, partitions)
    create_topic(target, topic, 2)
    sent = produce_now(source, topic, partitions, "rec", 100)
    client = server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    task_id = create_task(client, task_body(src, dst, topics=[topic]))

    failed = wait_status(client, task_id, "Failed", timeout_s=60)
    print(f"\nerror: {failed['error']}")
    assert topic in failed["error"] and "partitions" in failed["error"], failed["error"]

    admin = AdminClient({"bootstrap.servers": target.bootstrap, "log_level": 3})
    for future in admin.delete_topics([topic], operation_timeout=10).values():
        future.result(timeout=10)
    wait_until(lambda: topic not in admin.list_topics(timeout=10).topics, what=f"{topic} deleted on the target")
    create_topic(target, topic, partitions)

    assert client.post(f"/api/v1/tasks/{task_id}/start").status_code == 202
    running = wait_status(client, task_id, "Running", timeout_s=60)
    assert running["error"] is None
    got = read_all(target, topic, partitions, sum(map(len, sent.values())))
    check_order_and_dups({p: [m.value() for m in msgs] for p, msgs in got.items()}, sent, bound=0)


def test_transient_target_outage_never_fails_the_task(brokers, server):
    source, target = brokers
    topic, partitions = "fail.outage", 2
    create_topic(source, topic, partitions)
    client = server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    task_id = create_task(client, task_body(src, dst, topics=[topic]))
    wait_status(client, task_id, "Running")

    load = SteadyProducer(source, topic, partitions, rate=500)
    load.start()
    with Follow(target, topic, partitions) as follow, StatusWatch(server.url, task_id) as watch:
        wait_until(lambda: follow.poll(0.2) >= 200, what="records flowing to the target")
        target.pause()  # SIGSTOP: unreachable, its data kept
        try:
            time.sleep(5)  # the outage: the task must not fail during it
        finally:
            target.resume()
        copied = follow.poll(0.5)
        wait_until(lambda: follow.poll(0.2) >= copied + 500, timeout_s=60, what="records flowing after the outage")
        sent = load.finish()
        follow.wait_for(sent)
        follow.poll(1.0)
        check_order_and_dups(follow.values, sent, bound=IN_FLIGHT_BATCH)
        statuses = watch.finish()
    print(f"statuses: {statuses}; warnings seen: {watch.warnings}")
    assert "Failed" not in statuses, watch.errors
    task = client.get(f"/api/v1/tasks/{task_id}").json()
    assert task["status"] == "Running" and task["error"] is None

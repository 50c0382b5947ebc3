"""Partitions and topics that appear while a task runs, end to end.

A task started at `latest` skips the history that existed when it started, but what
appears later has no history to skip: partitions added to a synced topic (CreatePartitions)
and topics newly matched by the regex are copied from their first record, including the
records written before ksync noticed them. The target grows with the source; while it
cannot (ksync may not add partitions), the partitions it has keep flowing.

The waits allow 90 s, well under librdkafka's own metadata refresh (5 minutes): a member
that noticed new partitions only then would fail these tests.
"""

from __future__ import annotations

from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType
from helpers import add_instance, task_body, wait_status, wait_until
from replication.support import grant
from scram_users import scram_user

from .topics_support import (
    add_partitions,
    committed,
    create_topic,
    get_task,
    produce,
    start_task,
    tagged,
    topic_layout,
    wait_values,
    warning_about,
)


def test_partitions_added_to_a_synced_topic_are_copied_from_their_first_record(
    brokers, server, unique
):
    source, target = brokers
    topic = f"grow-{unique}"
    create_topic(source, topic, 2)
    produce(source, topic, tagged("old", range(2), 50))

    client = server.client()
    task_id = start_task(
        client, source, target, topics=[topic], start={"type": "latest"}, options={"task_max": 2}
    )
    wait_status(client, task_id, "Running", timeout_s=90)
    # `latest`: each partition's start is its end. Waited for, not read once: the second
    # member's join may be moving a partition right after the task first shows Running.
    wait_until(
        lambda: committed(client, task_id) == {(topic, 0): 50, (topic, 1): 50},
        what="both partitions started at their end",
    )

    add_partitions(source, topic, 4)
    # Written at once, before ksync can have noticed the new partitions.
    first = tagged("first", [2, 3], 20)
    produce(source, topic, first)
    new = tagged("new", range(2), 10)
    produce(source, topic, new)

    wait_until(
        lambda: topic_layout(target, topic) == (4, 1),
        timeout_s=90,
        what=f"{topic} with 4 partitions on the target",
    )
    wait_values(target, topic, {**new, **first})
    task = wait_status(client, task_id, "Running", timeout_s=90)
    assert [(t["source"], t["partitions"]) for t in task["topics"]] == [(topic, 4)]
    wait_until(
        lambda: (
            committed(client, task_id)
            == {(topic, 0): 60, (topic, 1): 60, (topic, 2): 20, (topic, 3): 20}
        ),
        what="progress on all four partitions",
    )

    # A restart changes nothing: every partition resumes from its commit.
    assert client.post(f"/api/v1/tasks/{task_id}/restart").status_code == 202
    wait_status(client, task_id, "Running", timeout_s=90)
    more = tagged("more", range(4), 5)
    produce(source, topic, more)
    wait_values(target, topic, {p: [*({**new, **first}[p]), *more[p]] for p in range(4)})


def test_a_topic_newly_matched_by_the_regex_is_copied_from_its_first_record(
    brokers, server, unique
):
    source, target = brokers
    early, late = f"rx-{unique}-early", f"rx-{unique}-late"
    create_topic(source, early, 2)
    produce(source, early, tagged("old", range(2), 30))

    client = server.client()
    task_id = start_task(
        client, source, target, topic_regex=f"rx-{unique}-.*", start={"type": "latest"}
    )
    wait_status(client, task_id, "Running", timeout_s=90)

    create_topic(source, late, 3)
    first = tagged("first", range(3), 15)
    produce(source, late, first)
    new = tagged("new", range(2), 10)
    produce(source, early, new)

    wait_values(target, late, first)
    wait_values(target, early, new)
    task = wait_status(client, task_id, "Running", timeout_s=90)
    assert sorted((t["source"], t["partitions"]) for t in task["topics"]) == [(early, 2), (late, 3)]


def test_a_task_whose_selection_matched_nothing_at_its_start_copies_a_new_topic_from_its_first_record(
    brokers, server, unique
):
    source, target = brokers
    topic = f"void-{unique}-first"

    client = server.client()
    task_id = start_task(
        client, source, target, topic_regex=f"void-{unique}-.*", start={"type": "latest"}
    )
    wait_until(
        lambda: warning_about(client, task_id, "matches no topic"),
        timeout_s=60,
        what="the selection resolved (to nothing)",
    )

    create_topic(source, topic, 2)
    first = tagged("first", range(2), 25)
    produce(source, topic, first)

    wait_values(target, topic, first)
    task = wait_status(client, task_id, "Running", timeout_s=90)
    assert [(t["source"], t["partitions"]) for t in task["topics"]] == [(topic, 2)]
    assert get_task(client, task_id)["error"] is None


def test_a_copied_topic_grown_past_what_the_target_may_take_keeps_copying_its_old_partitions(
    brokers, server, unique
):
    """The old configuration keeps running: ksync's user on the target may not add
    partitions (no Alter right), so when the source topic grows from 2 to 4 partitions
    under keep_partition its first two keep flowing, with a warning on the task and on
    the topic, and the task stays Running; once the user gets the right, the target grows
    at the next refresh and the two new partitions are copied from their first record."""
    source, target = brokers
    topic = f"held-{unique}"
    create_topic(source, topic, 2)
    client = server.client()
    with scram_user([target], "grow") as user:
        prefix = f"bk.held-{unique}"
        rights = [AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS, AclOperation.CREATE,
                  AclOperation.READ, AclOperation.WRITE]
        grant(target, user.name, ResourceType.TOPIC, prefix, rights, ResourcePatternType.PREFIXED)
        src = add_instance(client, source)
        r = client.post(
            "/api/v1/instances",
            json={"name": f"grow-{unique}", "bootstrap_servers": target.sasl_bootstrap, "security": user.security()},
        )
        assert r.status_code == 201, r.text
        body = task_body(src, r.json()["id"], topics=[topic], target={"topic_prefix": "bk"},
                         options={"sync_topic_configs": False})
        r = client.post("/api/v1/tasks", json=body)
        assert r.status_code == 202, r.text
        task_id = r.json()["id"]
        wait_status(client, task_id, "Running", timeout_s=90)
        first = tagged("first", range(2), 10)
        produce(source, topic, first)
        wait_values(target, f"bk.{topic}", first)

        add_partitions(source, topic, 4)
        warning = wait_until(
            lambda: warning_about(client, task_id, "partitions 2 to 3 wait"),
            timeout_s=90,
            what="a warning that the new partitions wait",
        )
        assert f"target topic bk.{topic} has 2 partitions but source topic {topic} has 4" in warning
        assert "The old configuration keeps running" in warning, warning
        (shown,) = get_task(client, task_id)["topics"]
        assert (shown["state"], shown["partitions"], shown["warnings"]) == ("syncing", 2, [warning])
        later = tagged("later", range(4), 5)
        produce(source, topic, later)
        wait_values(target, f"bk.{topic}", {p: first[p] + later[p] for p in range(2)})
        task = get_task(client, task_id)
        assert task["status"] == "Running" and task["error"] is None, task
        assert topic_layout(target, f"bk.{topic}") == (2, 1)

        # The fix: the user may add partitions; the next refresh grows the target topic.
        grant(target, user.name, ResourceType.TOPIC, prefix, [AclOperation.ALTER], ResourcePatternType.PREFIXED)
        wait_until(
            lambda: topic_layout(target, f"bk.{topic}") == (4, 1),
            timeout_s=120,
            what=f"bk.{topic} grown to 4 partitions",
        )
        wait_values(
            target, f"bk.{topic}", {p: (first[p] if p < 2 else []) + later[p] for p in range(4)}, timeout_s=120
        )
        wait_until(
            lambda: warning_about(client, task_id, "wait") is None, timeout_s=60, what="the warning gone"
        )
        (shown,) = wait_status(client, task_id, "Running", timeout_s=90)["topics"]
        assert (shown["state"], shown["partitions"], shown["warnings"]) == ("syncing", 4, [])
        assert client.delete(f"/api/v1/tasks/{task_id}").status_code == 202
        wait_until(lambda: client.get(f"/api/v1/tasks/{task_id}").status_code == 404, timeout_s=60,
                   what="the task to go")

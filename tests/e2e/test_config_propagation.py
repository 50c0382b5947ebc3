"""Topic configs through a running server: changed, added and removed keys reach the target
within the refresh interval (1 s here), excluded keys are left alone, and a config the
target refuses is confined to its topic, with a warning naming the topic, the key and the
broker's reason, while every topic's records keep flowing.

The refusal is a real one: the target's brokers bound `max.compaction.lag.ms` (one day)
below a source topic's `min.compaction.lag.ms` (two days), which Kafka rejects as a
conflict. The bound is a per-broker setting on the shared target cluster, set only for the
duration of a test (`broker_setting`) and harmless to other topics meanwhile.
"""

from __future__ import annotations

from confluent_kafka.admin import ConfigResource
from helpers import wait_status, wait_until

from .topics_support import (
    MAX_LAG,
    ONE_DAY,
    TWO_DAYS,
    alter_configs,
    broker_setting,
    create_topic,
    explicit_configs,
    get_task,
    produce,
    start_task,
    tagged,
    topic_layout,
    wait_values,
    warning_about,
)

TOPIC = ConfigResource.Type.TOPIC


def test_changed_added_and_removed_configs_reach_the_target_and_excluded_keys_stay_alone(
    brokers, server, unique
):
    source, target = brokers
    topic = f"cfg-{unique}"
    create_topic(
        source,
        topic,
        2,
        configs={
            "retention.ms": "3600000",
            "max.message.bytes": "2000000",
            "min.insync.replicas": "1",
        },
    )
    client = server.client()
    task_id = start_task(client, source, target, topics=[topic])
    wait_status(client, task_id, "Running", timeout_s=90)
    assert explicit_configs(target, topic) == {
        "retention.ms": "3600000",
        "max.message.bytes": "2000000",
    }
    # Set on the target by its operator, and on the exclusion list: ksync must keep it.
    alter_configs(target, TOPIC, topic, {"unclean.leader.election.enable": "true"})

    alter_configs(
        source,
        TOPIC,
        topic,
        {"retention.ms": "7200000", "segment.ms": "600000", "min.insync.replicas": "1"},
        delete=("max.message.bytes",),
    )
    wanted = {
        "retention.ms": "7200000",
        "segment.ms": "600000",
        "unclean.leader.election.enable": "true",
    }
    wait_until(
        lambda: explicit_configs(target, topic) == wanted,
        timeout_s=60,
        what=f"{topic}'s configs on the target",
    )

    records = tagged("r", range(2), 10)
    produce(source, topic, records)
    wait_values(target, topic, records)
    task = get_task(client, task_id)
    assert task["status"] == "Running"
    assert not [w for w in task["warnings"] if topic in w], task["warnings"]


def test_a_config_the_target_refuses_leaves_that_topic_with_a_warning_and_the_others_flowing(
    brokers, server, unique
):
    source, target = brokers
    good, bad = f"cfg-ok-{unique}", f"cfg-refused-{unique}"
    for topic in (good, bad):
        create_topic(source, topic, 1)
    client = server.client()
    task_id = start_task(client, source, target, topics=[good, bad])
    wait_status(client, task_id, "Running", timeout_s=90)

    with broker_setting(target, MAX_LAG, ONE_DAY):
        alter_configs(
            source, TOPIC, bad, {"min.compaction.lag.ms": TWO_DAYS, "retention.ms": "7200000"}
        )
        alter_configs(source, TOPIC, good, {"retention.ms": "7200000"})
        warning = wait_until(
            lambda: warning_about(client, task_id, bad, "min.compaction.lag.ms", "conflict"),
            timeout_s=60,
            what="a warning naming the refused topic, key and reason",
        )
        assert "max.compaction.lag.ms" in warning, warning  # the broker's own reason
        # On the topic too, which keeps syncing.
        topics = {t["source"]: t for t in get_task(client, task_id)["topics"]}
        assert topics[bad]["state"] == "syncing" and warning in topics[bad]["warnings"], topics
        assert topics[good]["warnings"] == [], topics
        wait_until(
            lambda: explicit_configs(target, good) == {"retention.ms": "7200000"},
            timeout_s=60,
            what=f"{good}'s config on the target",
        )
        # The refused key alone is held back: the other change to that topic went through.
        wait_until(
            lambda: explicit_configs(target, bad) == {"retention.ms": "7200000"},
            timeout_s=60,
            what=f"{bad}'s accepted config on the target",
        )
        first = {0: [b"ok-1", b"ok-2"]}
        produce(source, good, first)
        produce(source, bad, {0: [b"refused-1", b"refused-2"]})
        wait_values(target, good, first)
        wait_values(target, bad, {0: [b"refused-1", b"refused-2"]})
        task = get_task(client, task_id)
        assert task["status"] == "Running" and task["error"] is None, task
        assert [w for w in task["warnings"] if good in w] == [], task["warnings"]

    # The target accepts it now: synced at the next refresh, and the warning goes.
    wait_until(
        lambda: (
            explicit_configs(target, bad)
            == {"retention.ms": "7200000", "min.compaction.lag.ms": TWO_DAYS}
        ),
        timeout_s=60,
        what=f"{bad}'s config once the target accepts it",
    )
    wait_until(
        lambda: warning_about(client, task_id, bad) is None,
        timeout_s=60,
        what="the warning cleared",
    )
    wait_until(
        lambda: all(t["warnings"] == [] for t in get_task(client, task_id)["topics"]),
        timeout_s=60,
        what="the warning cleared from the topic",
    )


def test_a_topic_the_target_refuses_to_create_is_left_out_alone_until_it_can_be_created(
    brokers, server, unique
):
    source, target = brokers
    good, bad = f"cr-{unique}-ok", f"cr-{unique}-refused"
    create_topic(source, good, 1)
    create_topic(source, bad, 2, configs={"min.compaction.lag.ms": TWO_DAYS})
    good_records = {0: [b"g-%d" % i for i in range(5)]}
    bad_records = tagged("b", range(2), 5)
    produce(source, good, good_records)
    produce(source, bad, bad_records)

    client = server.client()
    with broker_setting(target, MAX_LAG, ONE_DAY):
        task_id = start_task(
            client, source, target, topic_regex=f"cr-{unique}-.*", start={"type": "earliest"}
        )
        warning = wait_until(
            lambda: warning_about(client, task_id, f"cannot create topic {bad}"),
            timeout_s=60,
            what="a warning naming the topic the target refuses",
        )
        assert "min.compaction.lag.ms" in warning and "max.compaction.lag.ms" in warning, warning
        wait_values(target, good, good_records)
        task = wait_status(client, task_id, "Running", timeout_s=90)
        states = {t["source"]: (t["state"], t["error"]) for t in task["topics"]}
        assert states[good] == ("syncing", None), states
        assert states[bad][0] == "blocked" and f"cannot create topic {bad}" in states[bad][1]
        assert topic_layout(target, bad) is None

    wait_values(target, bad, bad_records)
    assert explicit_configs(target, bad) == {"min.compaction.lag.ms": TWO_DAYS}
    wait_until(
        lambda: warning_about(client, task_id, bad) is None,
        timeout_s=60,
        what="the warning cleared",
    )
    task = wait_status(client, task_id, "Running", timeout_s=90)
    assert sorted(t["source"] for t in task["topics"]) == sorted([good, bad])
    assert {t["state"] for t in task["topics"]} == {"syncing"}, task["topics"]

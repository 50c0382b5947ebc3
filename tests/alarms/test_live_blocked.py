"""A blocked topic end to end: a live `ksync server` on the real brokers, a regex task
over two topics, and a `blocked_topics` rule whose webhook receiver runs on 127.0.0.1.

The target copy of one topic has 1 partition against the source's 4, and ksync's user on
the target may not add partitions (no Alter right), so under keep_partition that topic is
blocked while the other flows. The rule fires naming the topic and why, Prometheus says
which topic is blocked; once the user gets the right, ksync grows the topic at its next
refresh, the topic copies from where it stopped (nothing lost) and the alarm resolves.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType
from helpers import create_topic, producer, read_all, task_body, wait_until
from prometheus_client.parser import text_string_to_metric_families
from replication.support import grant
from scram_users import scram_user

from .support import Receiver


def test_a_blocked_topic_fires_its_rule_while_the_other_flows_then_resolves(brokers, folder_server, unique):
    source, target = brokers
    flowing, few = f"al.bt.{unique}.a", f"al.bt.{unique}.c"
    create_topic(source, flowing, 1)
    create_topic(source, few, 4)
    create_topic(target, f"bk.{few}", 1)
    p = producer(source)
    for i in range(10):
        p.produce(flowing, f"a{i}".encode())
        p.produce(few, f"c{i}".encode(), partition=i % 4)
    assert p.flush(30) == 0

    client = folder_server.client()
    with scram_user([target], "bt") as user, Receiver("ok") as hook:
        prefix = f"bk.al.bt.{unique}."
        rights = [AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS, AclOperation.CREATE,
                  AclOperation.READ, AclOperation.WRITE]
        grant(target, user.name, ResourceType.TOPIC, prefix, rights, ResourcePatternType.PREFIXED)
        r = client.post("/api/v1/instances", json={"name": f"src-{unique}", "bootstrap_servers": source.bootstrap})
        assert r.status_code == 201, r.text
        src = r.json()["id"]
        r = client.post(
            "/api/v1/instances",
            json={"name": f"bt-{unique}", "bootstrap_servers": target.sasl_bootstrap, "security": user.security()},
        )
        assert r.status_code == 201, r.text
        dst = r.json()["id"]
        body = task_body(
            src, dst, topic_regex=rf"al\.bt\.{unique}\..*", target={"topic_prefix": "bk"},
            options={"sync_topic_configs": False},
        )
        r = client.post("/api/v1/tasks", json=body)
        assert r.status_code == 202, r.text
        task_id = r.json()["id"]
        r = client.post(
            "/api/v1/alarms",
            json={"name": "blocked", "task_id": task_id, "metric": "blocked_topics", "webhooks": [hook.url]},
        )
        assert r.status_code == 201, r.text
        rule = r.json()

        def topics() -> dict[str, dict[str, Any]]:
            return {t["source"]: t for t in client.get(f"/api/v1/tasks/{task_id}").json()["topics"]}

        def state_of(topic: str, state: str) -> dict[str, dict[str, Any]] | None:
            t = topics()
            return t if t.get(topic, {}).get("state") == state else None

        states = wait_until(lambda: state_of(few, "blocked"), timeout_s=90, what=f"{few} to be blocked")
        assert states[flowing]["state"] == "syncing"
        why = states[few]["error"]
        assert f"target topic bk.{few} has 1 partitions but source topic {few} has 4" in why
        copied = read_all(target, f"bk.{flowing}", 1, 10, timeout_s=90)
        assert [m.value() for m in copied[0]] == [f"a{i}".encode() for i in range(10)]

        fired = hook.wait_for(lambda b: len(b) >= 1, timeout_s=30, what="the firing event")[0]
        assert fired["event"] == "firing" and fired["value"] == 1
        assert fired["message"].startswith(f"Task {body['name']} ({task_id}): 1 blocked topic ({few}: ")

        metrics = client.get("/metrics")
        assert metrics.status_code == 200, metrics.text
        families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
        blocked = {
            s.labels["topic"]: s.value
            for s in families["ksync_task_topic_blocked"].samples
            if s.labels["task"] == task_id
        }
        assert blocked == {flowing: 0.0, few: 1.0}

        # The fix: ksync's user may now add partitions; the next refresh grows the topic.
        grant(target, user.name, ResourceType.TOPIC, prefix, [AclOperation.ALTER], ResourcePatternType.PREFIXED)
        wait_until(lambda: state_of(few, "syncing"), timeout_s=120, what=f"{few} to sync again")
        copied = read_all(target, f"bk.{few}", 4, 10, timeout_s=90)
        assert {p: [m.value() for m in ms] for p, ms in copied.items()} == {
            p: [f"c{i}".encode() for i in range(10) if i % 4 == p] for p in range(4)
        }
        bodies = hook.wait_for(lambda b: len(b) >= 2, timeout_s=30, what="the resolved event")
        assert [b["event"] for b in bodies] == ["firing", "resolved"]
        assert "resolved, 0 blocked topics" in bodies[1]["message"]

        assert client.delete(f"/api/v1/alarms/{rule['id']}").status_code == 204
        assert client.delete(f"/api/v1/tasks/{task_id}").status_code == 202
        wait_until(lambda: client.get(f"/api/v1/tasks/{task_id}").status_code == 404, timeout_s=60, what="the task to go")
    client.close()

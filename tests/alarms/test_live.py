"""Alarms end to end: a live `ksync server`, real brokers, and webhook receivers this test
runs on 127.0.0.1 -- one that answers 200, one that answers 500, one that hangs.

A task is made Failed the way a user meets it (its only topic blocked: the target copy is
too small and ksync may not grow it), fixed (the right granted, the task started again), and the
`status == Failed` rule fires once and resolves once. The tests share a server, so each
names its tasks and topics with its own suffix.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType
from helpers import add_instance, create_topic, producer, task_body, wait_status, wait_until
from lifecycle.support import SteadyProducer
from replication.support import grant
from scram_users import scram_user

from ksync.monitoring.alarms.webhooks import NOT_REACHED

from .support import Receiver


def events(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/alarms/events", params=params)
    assert r.status_code == 200, r.text
    return r.json()["events"]  # type: ignore[no-any-return]


def kinds(bodies: list[dict[str, Any]]) -> list[str]:
    return [b["event"] for b in bodies]


def timed_get(client: httpx.Client, url: str) -> float:
    began = time.monotonic()
    r = client.get(url, timeout=5)
    assert r.status_code == 200, r.text
    return time.monotonic() - began


def test_a_failed_task_fires_and_resolves_and_bad_receivers_delay_no_one(brokers, folder_server, unique):
    source, target = brokers
    topic, name = f"al.failed.{unique}", f"orders-to-sh-{unique}"
    # The target copy has 1 partition against the source's 2, and ksync's user there may
    # not add partitions: under keep_partition the task's only topic is blocked, so the
    # task has nothing it can copy and is Failed.
    create_topic(source, topic, 2)
    create_topic(target, topic, 1)
    client = folder_server.client()
    with scram_user([target], "fl") as user:
        rights = [AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS, AclOperation.CREATE,
                  AclOperation.READ, AclOperation.WRITE]
        grant(target, user.name, ResourceType.TOPIC, topic, rights, ResourcePatternType.LITERAL)
        src = add_instance(client, source)
        r = client.post(
            "/api/v1/instances",
            json={"name": f"fl-{unique}", "bootstrap_servers": target.sasl_bootstrap, "security": user.security()},
        )
        assert r.status_code == 201, r.text
        dst = r.json()["id"]
        body = task_body(src, dst, name=name, topics=[topic], options={"sync_topic_configs": False})
        r = client.post("/api/v1/tasks", json=body)
        assert r.status_code == 202, r.text
        task_id = r.json()["id"]

        with Receiver("ok") as ok, Receiver("fail") as bad, Receiver("hang") as hang:
            r = client.post(
                "/api/v1/alarms",
                json={
                    "name": "sync failed",
                    "task_id": task_id,
                    "metric": "status",
                    "status": "Failed",
                    "webhooks": [hang.url, bad.url, ok.url],
                },
            )
            assert r.status_code == 201, r.text
            rule = r.json()

            failed = wait_status(client, task_id, "Failed", timeout_s=60)
            seen_failed = time.monotonic()
            fired = ok.wait_for(lambda b: len(b) >= 1, timeout_s=15, what="the firing event")[0]
            took = ok.arrivals()[0] - seen_failed
            print(f"\nfiring event {took:.2f} s after the API showed Failed: {fired['message']}")
            assert took < 6  # evaluated every 2 s; sent at once
            # The hanging and the failing receivers were sent the same event at the same time,
            # and did not hold up the good one.
            hang.wait_for(lambda b: len(b) >= 1, timeout_s=5, what="the hanging receiver's first attempt")
            bad.wait_for(lambda b: len(b) >= 1, timeout_s=5, what="the failing receiver's first attempt")
            assert abs(ok.arrivals()[0] - hang.arrivals()[0]) < 1.0
            assert abs(ok.arrivals()[0] - bad.arrivals()[0]) < 1.0
            assert fired["event"] == "firing"
            assert fired["rule"] == {
                "id": rule["id"], "name": "sync failed", "metric": "status", "comparison": "==",
                "threshold": "Failed", "duration_s": 0.0,
            }
            assert fired["task"]["id"] == task_id and fired["task"]["name"] == name
            assert fired["task"]["status"] == "Failed"
            assert fired["value"] == "Failed" and fired["threshold"] == "Failed"
            assert fired["message"] == f"Task {name} ({task_id}): status is Failed: {failed['error']}"
            assert "has 1 partitions but source topic" in fired["message"], fired["message"]

            # While the hanging receiver holds its delivery, the API answers at once, and the
            # rule shows the alert firing.
            assert len(hang.requests) < 3
            assert timed_get(client, "/healthz") < 1.0
            assert timed_get(client, f"/api/v1/tasks/{task_id}") < 1.0
            shown = client.get(f"/api/v1/alarms/{rule['id']}").json()
            assert [(a["task_id"], a["state"], a["value"]) for a in shown["alerts"]] == [(task_id, "firing", "Failed")]

            # The user fixes the cause: ksync's user may now add partitions.
            grant(target, user.name, ResourceType.TOPIC, topic, [AclOperation.ALTER], ResourcePatternType.LITERAL)
            assert client.post(f"/api/v1/tasks/{task_id}/start").status_code == 202
            wait_status(client, task_id, "Running", timeout_s=60)
            bodies = ok.wait_for(lambda b: len(b) >= 2, timeout_s=15, what="the resolved event")
            assert kinds(bodies) == ["firing", "resolved"]
            resolved = bodies[1]
            assert resolved["since"] == fired["since"] and resolved["at"] >= fired["at"]
            # Started again, the task leaves Failed at once (Unassigned, then Running).
            assert resolved["value"] in ("Unassigned", "Running")
            assert resolved["message"] == (
                f"Task {name} ({task_id}): resolved, status is {resolved['value']} "
                "(rule: status == Failed)"
            )

            # The 500 receiver got exactly 3 attempts per event, the hanging one timed out 3
            # times; each outcome is in the event's delivery record.
            def firing_delivered() -> dict[str, Any] | None:
                firing = [e for e in events(client, rule_id=rule["id"]) if e["kind"] == "firing"]
                assert len(firing) == 1
                delivery = firing[0]["delivery"]
                return delivery if not any(d["pending"] for d in delivery.values()) else None

            delivery = wait_until(firing_delivered, timeout_s=60, what="every delivery of the firing event")
            assert delivery == {
                ok.url: {"status": 200, "attempts": 1, "error": None, "pending": False},
                bad.url: {"status": 500, "attempts": 3, "error": "HTTP 500", "pending": False},
                hang.url: {"status": None, "attempts": 3, "error": NOT_REACHED.format(timeout=5), "pending": False},
            }
            assert kinds(bad.bodies).count("firing") == 3
            assert kinds(hang.bodies).count("firing") == 3
            history = events(client, task_id=task_id)
            assert [e["kind"] for e in history] == ["resolved", "firing"]
            assert history[0]["payload"]["id"] == history[0]["id"]

            # A test event goes out now, to every webhook of the rule.
            r = client.post(f"/api/v1/alarms/{rule['id']}/test")
            assert r.status_code == 202, r.text
            assert r.json()["kind"] == "test"
            test = ok.wait_for(lambda b: len(b) >= 3, timeout_s=10, what="the test event")[2]
            assert test["event"] == "test" and test["id"] == r.json()["id"]
            assert test["task"]["status"] == "Running"
            assert kinds(ok.bodies) == ["firing", "resolved", "test"]


def test_a_lag_rule_fires_and_resolves_on_real_traffic(brokers, folder_server, unique):
    """A task capped at 300 records/s meets a burst of 4,000 records: its lag stays above
    1,000 for about 10 s (fires), then drains (resolves). The rule covers every task: the
    other tests' tasks have no lag, and the rule goes when the test ends."""
    source, target = brokers
    topic, name = f"al.lag.{unique}", f"lagging-{unique}"
    create_topic(source, topic, 1)
    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    body = task_body(src, dst, name=name, topics=[topic], options={"qps_limit": 300})
    r = client.post("/api/v1/tasks", json=body)
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]
    wait_status(client, task_id, "Running", timeout_s=60)
    wait_until(
        lambda: client.get(f"/api/v1/tasks/{task_id}").json().get("metrics"), what="task metrics"
    )

    with Receiver("ok") as ok:
        r = client.post(
            "/api/v1/alarms",
            json={"name": "lag", "metric": "lag", "comparison": ">", "threshold": 1000,
                  "duration_s": 2, "webhooks": [ok.url]},
        )
        assert r.status_code == 201, r.text
        rule_id = r.json()["id"]
        p = producer(source)
        for i in range(4000):
            p.produce(topic, b"v%d" % i, partition=0)
        assert p.flush(30) == 0

        bodies = ok.wait_for(lambda b: len(b) >= 1, timeout_s=30, what="the lag alarm")
        fired = bodies[0]
        print(f"\n{fired['message']}")
        assert fired["event"] == "firing" and fired["task"]["id"] == task_id
        assert fired["value"] > 1000
        assert fired["message"].startswith(f"Task {name} ({task_id}): lag ")
        assert fired["message"].endswith(" records > 1,000 for 2 s")
        bodies = ok.wait_for(lambda b: len(b) >= 2, timeout_s=60, what="the lag alarm to resolve")
        assert kinds(bodies) == ["firing", "resolved"]
        assert bodies[1]["value"] <= 1000
        assert client.delete(f"/api/v1/alarms/{rule_id}").status_code == 204


def test_a_stalled_rule_fires_while_the_target_is_unreachable(brokers, folder_server, unique):
    """The target stops answering (SIGSTOP) while the source keeps getting records: the
    task copies nothing while its source has traffic -- stalled -- until it comes back.
    Members waiting on the target keep reporting the source's end offsets, which is what
    makes the source's traffic visible during the stall."""
    source, target = brokers
    topic, name = f"al.stall.{unique}", f"stalling-{unique}"
    create_topic(source, topic, 1)
    client = folder_server.client()
    src, dst = add_instance(client, source), add_instance(client, target)
    r = client.post("/api/v1/tasks", json=task_body(src, dst, name=name, topics=[topic]))
    assert r.status_code == 202, r.text
    task_id = r.json()["id"]
    wait_status(client, task_id, "Running", timeout_s=60)

    load = SteadyProducer(source, topic, 1, rate=200)
    load.start()
    try:
        with Receiver("ok") as ok:
            r = client.post(
                "/api/v1/alarms",
                json={"name": "stalled", "task_id": task_id, "metric": "stalled", "duration_s": 4,
                      "webhooks": [ok.url]},
            )
            assert r.status_code == 201, r.text
            wait_until(
                lambda: (client.get(f"/api/v1/tasks/{task_id}").json().get("metrics") or {}).get("records_per_s"),
                timeout_s=30, what="records flowing",
            )
            target.pause()
            paused = time.monotonic()
            try:
                fired = ok.wait_for(lambda b: len(b) >= 1, timeout_s=90, what="the stalled alarm")[0]
            finally:
                target.resume()
            resumed = time.monotonic()
            print(f"\nfired {ok.arrivals()[0] - paused:.1f} s after the target stopped: {fired['message']}")
            assert fired["event"] == "firing" and fired["value"] == 1
            assert "copies no records while its source has traffic" in fired["message"]
            bodies = ok.wait_for(lambda b: len(b) >= 2, timeout_s=60, what="the stalled alarm to resolve")
            assert kinds(bodies) == ["firing", "resolved"]
            assert bodies[1]["message"] == (
                f"Task {name} ({task_id}): resolved, not stalled (rule: stalled for 4 s)"
            )
            print(f"resolved {ok.arrivals()[1] - resumed:.1f} s after the target came back")
    finally:
        load.finish()

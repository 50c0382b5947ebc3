"""The caps against a real `ksync server` and the shared Kafka clusters (issue 19, point 5):

* `--max-tasks 1`: the second task is refused by REST (409 `limit_exceeded`), by Kafka
  Connect (409 in its shape) and by the official Tencent SDK (`LimitExceeded`); one task
  remains;
* `--max-test-events-per-minute 1`: a rule's second test call within the minute is a 429
  with Retry-After;
* `--max-members 1`: a `task_max: 2` task keeps one slot Unassigned, with a warning naming
  the full worker and the option; the same server restarted with `--max-members 2` runs it.

What each face answers in detail (and that nothing is written) is in
tests/security/test_caps.py, without brokers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from compat.tencent_sdk import call, kafka, sdk
from helpers import (
    KsyncServer,
    add_instance,
    create_topic,
    running_server,
    task_body,
    wait_status,
    wait_until,
)
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from ksync.devkafka import KafkaCluster


def test_one_task_past_max_tasks_is_refused_on_every_face(
    tmp_path: Path, brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    source, target = brokers
    with running_server(str(tmp_path), "--max-tasks", "1") as srv, srv.client() as client:
        src, dst = add_instance(client, source, f"src-{unique}"), add_instance(client, target, f"dst-{unique}")
        first = client.post("/api/v1/tasks", json=task_body(src, dst, f"one-{unique}", topics=[f"t-{unique}"]))
        assert first.status_code == 202, first.text

        r = client.post("/api/v1/tasks", json=task_body(src, dst, f"two-{unique}", topics=[f"t-{unique}"]))
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "limit_exceeded"
        assert "--max-tasks" in r.json()["error"]["message"]

        config = {
            "connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
            "source.cluster.alias": "a",
            "target.cluster.alias": "b",
            "source.cluster.bootstrap.servers": source.bootstrap,
            "target.cluster.bootstrap.servers": target.bootstrap,
            "topics": f"t-{unique}",
        }
        r = client.post("/connectors", json={"name": f"three-{unique}", "config": config})
        assert (r.status_code, r.json()["error_code"]) == (409, 409), r.text
        assert "--max-tasks" in r.json()["message"]

        with pytest.raises(TencentCloudSDKException) as refused:
            call(
                sdk(f"127.0.0.1:{srv.port}"),
                "CreateDatahubTask",
                TaskName=f"four-{unique}",
                TaskType="SOURCE",
                SourceResource=kafka(src, Topic=f"t-{unique}"),
                TargetResource=kafka(dst),
            )
        assert refused.value.code == "LimitExceeded", refused.value
        assert "--max-tasks" in refused.value.get_message()

        assert [t["name"] for t in client.get("/api/v1/tasks").json()["tasks"]] == [f"one-{unique}"]


def test_test_events_past_the_cap_get_429(tmp_path: Path, brokers: tuple[KafkaCluster, KafkaCluster]) -> None:
    args = ("--max-test-events-per-minute", "1", "--webhook-allow", "127.0.0.0/8")
    with running_server(str(tmp_path), *args) as srv, srv.client() as client:
        rule = {"name": "lag", "metric": "lag", "comparison": ">", "threshold": 1, "webhooks": ["http://127.0.0.1:9/h"]}
        r = client.post("/api/v1/alarms", json=rule)
        assert r.status_code == 201, r.text
        rule_id = r.json()["id"]
        assert client.post(f"/api/v1/alarms/{rule_id}/test").status_code == 202
        r = client.post(f"/api/v1/alarms/{rule_id}/test")
        assert r.status_code == 429, r.text
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert "--max-test-events-per-minute" in r.json()["error"]["message"]
        events = client.get("/api/v1/alarms/events", params={"rule_id": rule_id}).json()["events"]
        assert [e["kind"] for e in events] == ["test"]


def _full_warning(client: Any, task_id: str) -> Any:
    task = client.get(f"/api/v1/tasks/{task_id}").json()
    full = [w for w in task["warnings"] if "--max-members" in w]
    return task if full and task["status"] == "Unassigned" else None


def test_a_slot_past_max_members_waits_until_the_worker_has_room(
    tmp_path: Path, brokers: tuple[KafkaCluster, KafkaCluster], unique: str
) -> None:
    source, target = brokers
    topic = f"caps-{unique}"
    create_topic(source, topic, 2)
    srv = KsyncServer(str(tmp_path), "--max-members", "1").start()
    try:
        with srv.client() as client:
            src, dst = add_instance(client, source, f"src-{unique}"), add_instance(client, target, f"dst-{unique}")
            body = task_body(src, dst, topics=[topic], target={"topic_prefix": "cap"}, options={"task_max": 2})
            r = client.post("/api/v1/tasks", json=body)
            assert r.status_code == 202, r.text
            task_id = r.json()["id"]
            task = wait_until(lambda: _full_warning(client, task_id), timeout_s=90, what="the full-worker warning")
            warning = next(w for w in task["warnings"] if "--max-members" in w)
            assert "slot 1 not assigned" in warning and "1 of 1" in warning, warning
            # The controller assigned slot 0 when it wrote the warning; the worker reports the
            # member it started at its next heartbeat.
            def one_member() -> Any:
                (worker,) = client.get("/api/v1/workers").json()["workers"]
                return worker if worker["members"] else None

            worker = wait_until(one_member, timeout_s=60, what="the worker's one member")
            assert worker["max_members"] == 1
            assert [m["task_id"] for m in worker["members"]] == [task_id]
        srv.stop()
        # The same worker (same id: same host and port) back with room for both members.
        srv = KsyncServer(str(tmp_path), "--max-members", "2", port=srv.port).start()
        with srv.client() as client:
            task = wait_status(client, task_id, "Running", timeout_s=120)
            assert not [w for w in task["warnings"] if "--max-members" in w], task["warnings"]
            (worker,) = client.get("/api/v1/workers").json()["workers"]
            assert worker["max_members"] == 2
            assert sorted(m["slot"] for m in worker["members"] if m["task_id"] == task_id) == [0, 1]
    finally:
        srv.stop()

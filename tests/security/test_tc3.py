"""Finding 3: a TC3 signature is tied to its request and used once.

A captured signed `DescribeDatahubTask` replayed with `X-TC-Action: PauseDatahubTask`
paused the task (the SDK signs only content-type and host, so the action is not covered);
`X-TC-Content-SHA256: UNSIGNED-PAYLOAD` let a body be swapped; a signature could be used
again for its whole 5 minutes; the signed Host was not checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ksync.api.auth import ApiKey, KeyRing
from ksync.api.compat.tencent import signature
from ksync.spec import TaskSpec
from ksync.store.repo import Store

from .conftest import KEY_ID, KEYS, SECRET, AppFactory, add_instance
from .support import tc3_headers

HOST = "testserver"


def add_task(store: Store) -> str:
    src, dst = add_instance(store, "src"), add_instance(store, "dst")
    spec = TaskSpec.model_validate(
        {"name": "tc3-task", "source": {"instance_id": src, "topics": ["t"]}, "target": {"instance_id": dst}}
    )
    return store.tasks.add(spec, []).id


def send(client: Any, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    r = client.post("/", content=body, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["Response"]  # type: ignore[no-any-return]


def error_code(response: dict[str, Any]) -> str | None:
    error = response.get("Error")
    return None if error is None else str(error["Code"])


@pytest.fixture
def task_id(store: Store) -> str:
    return add_task(store)


def test_a_signature_captured_for_a_read_cannot_pause_the_task_later(
    make_client: AppFactory, store: Store, task_id: str
) -> None:
    client = make_client(keys=KEYS)
    body = json.dumps({"TaskId": task_id}).encode()
    headers = tc3_headers("DescribeDatahubTask", body, HOST, KEY_ID, SECRET)
    assert error_code(send(client, headers, body)) is None
    # The same capture, at the server's seam with its clock moved on (still inside the
    # 5-minute timestamp window), sent as a pause.
    from ksync.api.hosts import HostNames

    keys, hosts, cache = KeyRing([ApiKey(KEY_ID, SECRET)]), HostNames((HOST,)), signature.ReplayCache()
    ts = int(headers["x-tc-timestamp"])
    signature.verify(keys, "POST", "/", "", headers, body, replay=cache, hosts=hosts, now=ts)
    replayed = {**headers, "x-tc-action": "PauseDatahubTask"}
    with pytest.raises(signature.TencentError) as refused:
        signature.verify(keys, "POST", "/", "", replayed, body, replay=cache, hosts=hosts, now=ts + 30)
    assert refused.value.code == "AuthFailure.SignatureFailure"
    assert "first used 30 s ago (for DescribeDatahubTask)" in refused.value.message
    assert store.tasks.get(task_id).desired == "running"


def test_a_signature_cannot_be_used_again_later(make_client: AppFactory, store: Store, task_id: str) -> None:
    client = make_client(keys=KEYS)
    body = json.dumps({"TaskId": task_id}).encode()
    headers = tc3_headers("PauseDatahubTask", body, HOST, KEY_ID, SECRET)
    assert error_code(send(client, headers, body)) is None
    assert store.tasks.get(task_id).desired == "paused"
    # At the server's seam, with its clock moved on: the task was resumed meanwhile, and
    # the captured pause must not pause it again.
    from ksync.api.hosts import HostNames

    keys, hosts = KeyRing([ApiKey(KEY_ID, SECRET)]), HostNames((HOST,))
    cache = signature.ReplayCache()
    ts = int(headers["x-tc-timestamp"])
    assert signature.verify(keys, "POST", "/", "", headers, body, replay=cache, hosts=hosts, now=ts).id == KEY_ID
    with pytest.raises(signature.TencentError) as refused:
        signature.verify(keys, "POST", "/", "", headers, body, replay=cache, hosts=hosts, now=ts + 10)
    assert refused.value.code == "AuthFailure.SignatureFailure"
    assert "first used 10 s ago" in refused.value.message


def test_calls_in_one_second_may_share_a_signature(make_client: AppFactory, store: Store, task_id: str) -> None:
    # The SDK signs whole seconds and not the action: pause, then describe and poll the
    # same task within a second, all with one signature.
    client = make_client(keys=KEYS)
    body = json.dumps({"TaskId": task_id}).encode()
    headers = tc3_headers("PauseDatahubTask", body, HOST, KEY_ID, SECRET)
    assert error_code(send(client, headers, body)) is None
    for _ in range(3):
        assert error_code(send(client, {**headers, "x-tc-action": "DescribeDatahubTask"}, body)) is None
    assert store.tasks.get(task_id).desired == "paused"


def test_unsigned_payload_is_refused(make_client: AppFactory, store: Store, task_id: str) -> None:
    client = make_client(keys=KEYS)
    innocent = json.dumps({"TaskId": "task-nothing"}).encode()
    headers = tc3_headers("PauseDatahubTask", innocent, HOST, KEY_ID, SECRET, unsigned_payload=True)
    swapped = json.dumps({"TaskId": task_id}).encode()
    response = send(client, headers, swapped)
    assert error_code(response) == "AuthFailure.InvalidAuthorization", response
    assert "UNSIGNED-PAYLOAD" in response["Error"]["Message"]
    assert store.tasks.get(task_id).desired == "running"


def test_a_signed_action_must_be_the_action_sent(make_client: AppFactory, store: Store, task_id: str) -> None:
    client = make_client(keys=KEYS)
    body = json.dumps({"TaskId": task_id}).encode()
    signed = ("content-type", "host", "x-tc-action")
    headers = tc3_headers("DescribeDatahubTask", body, HOST, KEY_ID, SECRET, signed=signed)
    # Signed for a read, sent as a pause: refused, and the task keeps running.
    response = send(client, {**headers, "x-tc-action": "PauseDatahubTask"}, body)
    assert error_code(response) == "AuthFailure.SignatureFailure", response
    assert store.tasks.get(task_id).desired == "running"
    # Signed for a pause, sent as a pause: done.
    headers = tc3_headers("PauseDatahubTask", body, HOST, KEY_ID, SECRET, signed=signed)
    assert error_code(send(client, headers, body)) is None
    assert store.tasks.get(task_id).desired == "paused"


def test_the_signed_host_must_be_one_of_the_servers_names() -> None:
    from ksync.api.hosts import HostNames

    body = b"{}"
    keys = KeyRing([ApiKey(KEY_ID, SECRET)])
    headers = tc3_headers("DescribeDatahubTasks", body, "ckafka.tencentcloudapi.com", KEY_ID, SECRET)
    with pytest.raises(signature.TencentError) as refused:
        signature.verify(
            keys, "POST", "/", "", headers, body,
            hosts=HostNames(("ksync.example",)), replay=signature.ReplayCache(),
        )
    assert refused.value.code == "AuthFailure.InvalidAuthorization"
    assert "ckafka.tencentcloudapi.com" in refused.value.message
    headers = tc3_headers("DescribeDatahubTasks", body, "ksync.example:8080", KEY_ID, SECRET)
    key = signature.verify(
        keys, "POST", "/", "", headers, body,
        hosts=HostNames(("ksync.example",)), replay=signature.ReplayCache(),
    )
    assert key.id == KEY_ID


def test_the_replay_cache_is_bounded() -> None:
    cache = signature.ReplayCache(max_entries=3)
    for i in range(10):
        assert cache.use(f"sig-{i}", "PauseDatahubTask", expires_at=2e9, now=1e9) is None
    assert len(cache) == 3
    # Another action within a second: accepted (and reported as a reuse).
    assert isinstance(cache.use("sig-9", "DescribeDatahubTask", expires_at=2e9, now=1e9 + 1), signature.Reuse)
    assert cache.use("sig-9", "PauseDatahubTask", expires_at=2e9, now=1e9 + 5) is not None
    # An expired entry is forgotten (its timestamp is refused before the cache is asked).
    assert cache.use("sig-late", "PauseDatahubTask", expires_at=1e9 + 1, now=1e9) is None
    assert cache.use("sig-late", "PauseDatahubTask", expires_at=1e9 + 10, now=1e9 + 5) is None


# ---- the official SDK keeps working ------------------------------------------------------


def test_the_official_sdk_keeps_working(serve: Callable[..., str], store: Store, task_id: str) -> None:
    live_server = serve(keys=KEYS)
    from tencentcloud.ckafka.v20190819 import ckafka_client, models
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    http = HttpProfile(endpoint=live_server, protocol="http")
    client = ckafka_client.CkafkaClient(
        credential.Credential(KEY_ID, SECRET), "ap-guangzhou", ClientProfile(httpProfile=http)
    )
    describe = models.DescribeDatahubTaskRequest()
    describe.TaskId = task_id
    for _ in range(3):  # a poll loop: several identical reads within a second or two
        assert client.DescribeDatahubTask(describe).Result.TaskId == task_id
    listed = client.DescribeDatahubTasks(models.DescribeDatahubTasksRequest())
    assert listed.Result.TotalCount == 1
    pause = models.PauseDatahubTaskRequest()
    pause.TaskId = task_id
    client.PauseDatahubTask(pause)  # likely the same second and parameters as the reads
    assert store.tasks.get(task_id).desired == "paused"
    assert client.DescribeDatahubTask(describe).Result.Status is not None

"""The official Tencent Cloud SDK against a real `ksync server` in default mode and with
`--tc3-strict` (issue 19, point 3): what the SDK's own calls get in each mode.

The SDK signs only `content-type;host` and whole seconds, so a Describe and then a Delete
of the same task within one second carry the same signature; the test holds the SDK's
clock on one second (`one_second`) so that this happens every run, and reads the
server's reuse counter to see it did.

* Default mode: every SDK call works, that Describe-then-Delete included (a reuse for
  another action within 1 s is accepted), and a create then describe.
* Strict mode: the SDK's reads work (a poll loop of identical Describes within a second
  too); its writes are refused with `AuthFailure.InvalidAuthorization` and a sentence
  saying to sign `x-tc-action`, and change nothing. The same SDK with one change, signing
  `x-tc-action` as strict mode asks, runs the Describe-then-Delete and the create.

The task and instances are set up through the REST API (in strict mode the SDK cannot
write); topics are the test's own on the shared clusters.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from helpers import KsyncServer, add_instance, running_server, task_body, wait_until
from security.support import tc3_headers
from tencentcloud.ckafka.v20190819 import ckafka_client
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from ksync.devkafka import KafkaCluster

from .tencent_sdk import KEY_ID, KEY_SECRET, REGION, call, describe, kafka, refused, sdk, wait_gone

pytestmark = pytest.mark.filterwarnings("error:.*fileds are useless")

BEARER = {"authorization": f"Bearer {KEY_SECRET}"}


class ActionSigningClient(ckafka_client.CkafkaClient):
    """The official SDK with one change: `x-tc-action` is among the signed headers, as
    `--tc3-strict` requires of writes. Requests and answers still go through the SDK."""

    def _build_req_with_tc3_signature(self, action: str, params: Any, req: Any, options: Any = None) -> None:
        super()._build_req_with_tc3_signature(action, params, req, options)
        headers = tc3_headers(
            req.header["X-TC-Action"],
            req.data.encode(),
            req.header["Host"],
            KEY_ID,
            KEY_SECRET,
            signed=("content-type", "host", "x-tc-action"),
            timestamp=int(req.header["X-TC-Timestamp"]),
        )
        req.header["Authorization"] = headers["authorization"]


def action_signing(endpoint: str) -> ActionSigningClient:
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=endpoint, protocol="http"))
    return ActionSigningClient(credential.Credential(KEY_ID, KEY_SECRET), REGION, profile)


@pytest.fixture(scope="module", params=["default", "strict"])
def mode_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    brokers: tuple[KafkaCluster, KafkaCluster],
) -> Iterator[tuple[str, KsyncServer]]:
    """A server requiring keys, in default or strict mode: (mode, server)."""
    data_dir = tmp_path_factory.mktemp(f"ksync-tc3-{request.param}")
    keys = Path(data_dir) / "keys.json"
    keys.write_text(json.dumps([{"id": KEY_ID, "secret": KEY_SECRET}]))
    strict = ["--tc3-strict"] if request.param == "strict" else []
    with running_server(str(data_dir), "--api-keys-file", str(keys), *strict) as srv:
        yield request.param, srv


@pytest.fixture(scope="module")
def rest(mode_server: tuple[str, KsyncServer]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mode_server[1].url, headers=BEARER, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def instances(rest: httpx.Client, brokers: tuple[KafkaCluster, KafkaCluster]) -> tuple[str, str]:
    source, target = brokers
    return add_instance(rest, source, "tc3-src"), add_instance(rest, target, "tc3-dst")


def new_task(rest: httpx.Client, instances: tuple[str, str], unique: str) -> str:
    body = task_body(*instances, f"tc3-{unique}", topics=[f"tc3.{unique}"], target={"topic_prefix": "tc3"})
    r = rest.post("/api/v1/tasks", json=body)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def test_the_sdks_reads_work_in_both_modes(
    mode_server: tuple[str, KsyncServer], rest: httpx.Client, instances: tuple[str, str], unique: str
) -> None:
    _, srv = mode_server
    task_id = new_task(rest, instances, unique)
    tc = sdk(f"127.0.0.1:{srv.port}")
    for _ in range(3):  # a poll loop: identical reads, likely one signature
        assert describe(tc, task_id).TaskId == task_id
    listed = call(tc, "DescribeDatahubTasks", SearchWord=f"tc3-{unique}")
    assert [t.TaskId for t in listed.Result.TaskList] == [task_id]
    resources = call(tc, "DescribeConnectResources").Result.ConnectResourceList
    assert set(instances) <= {r.ResourceId for r in resources}
    assert rest.delete(f"/api/v1/tasks/{task_id}").status_code == 202


@contextlib.contextmanager
def one_second() -> Iterator[None]:
    """The SDK's clock held on one second, so calls with the same parameters carry one
    signature, as they do when made within a second, however slow the machine is."""
    from tencentcloud.common import abstract_client

    frozen = int(time.time())
    real = abstract_client.time
    abstract_client.time = SimpleNamespace(time=lambda: frozen)  # type: ignore[assignment]
    try:
        yield
    finally:
        abstract_client.time = real


def reuses(rest: httpx.Client) -> float:
    """`ksync_security_tc3_action_reuse_total` of the server."""
    text = rest.get("/metrics").text
    line = next(x for x in text.splitlines() if x.startswith("ksync_security_tc3_action_reuse_total "))
    return float(line.split()[1])


def gone(rest: httpx.Client, task_id: str) -> None:
    wait_until(lambda: rest.get(f"/api/v1/tasks/{task_id}").status_code == 404, timeout_s=60, what="task gone")


def test_describe_then_delete_within_a_second(
    mode_server: tuple[str, KsyncServer], rest: httpx.Client, instances: tuple[str, str], unique: str
) -> None:
    mode, srv = mode_server
    endpoint = f"127.0.0.1:{srv.port}"
    task_id = new_task(rest, instances, unique)
    tc = sdk(endpoint)
    before = reuses(rest)
    if mode == "default":
        with one_second():
            assert describe(tc, task_id).TaskId == task_id
            call(tc, "DeleteDatahubTask", TaskId=task_id)
        assert reuses(rest) == before + 1  # one signature, accepted for the second action
        gone(rest, task_id)
        return
    with one_second():
        assert describe(tc, task_id).TaskId == task_id
        exc = refused(tc, "DeleteDatahubTask", TaskId=task_id)
    assert exc.code == "AuthFailure.InvalidAuthorization", exc
    assert "strict mode" in exc.get_message() and "x-tc-action" in exc.get_message()
    assert rest.get(f"/api/v1/tasks/{task_id}").json()["status"] != "Terminating"  # nothing changed
    signing = action_signing(endpoint)
    with one_second():
        assert describe(signing, task_id).TaskId == task_id
        call(signing, "DeleteDatahubTask", TaskId=task_id)
    assert reuses(rest) == before  # signing the action: two signatures
    gone(rest, task_id)


def test_create_then_describe(
    mode_server: tuple[str, KsyncServer], rest: httpx.Client, instances: tuple[str, str], unique: str
) -> None:
    mode, srv = mode_server
    endpoint = f"127.0.0.1:{srv.port}"
    src, dst = instances
    params: dict[str, Any] = {
        "TaskName": f"tc3-new-{unique}",
        "TaskType": "SOURCE",
        "SourceResource": kafka(src, Topic=f"tc3.{unique}"),
        "TargetResource": kafka(dst, Prefix="tc3", Separator="."),
    }
    tc = sdk(endpoint)
    if mode == "strict":
        exc = refused(tc, "CreateDatahubTask", **params)
        assert exc.code == "AuthFailure.InvalidAuthorization", exc
        assert "x-tc-action" in exc.get_message()
        names = [t["name"] for t in rest.get("/api/v1/tasks").json()["tasks"]]
        assert params["TaskName"] not in names
        tc = action_signing(endpoint)
    task_id = call(tc, "CreateDatahubTask", **params).Result.TaskId
    task = describe(tc, task_id)
    assert (task.TaskId, task.TaskName) == (task_id, params["TaskName"])
    assert task.SourceResource.KafkaParam.Resource == src
    call(tc, "DeleteDatahubTask", TaskId=task_id)
    wait_gone(tc, task_id)

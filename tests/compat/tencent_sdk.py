"""The official Tencent Cloud SDK pointed at a ksync server, for the CKafka face's tests.

Every request and response goes through the SDK's own models (`from_json_string`, the
client's `_deserialize`); a response field the SDK does not know makes it warn "fileds are
useless", which the tests turn into an error (`pytestmark` there), so the shapes are the
SDK's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import wait_until
from tencentcloud.ckafka.v20190819 import ckafka_client, models
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

KEY_ID, KEY_SECRET = "AKIDksyncTencentFace01", "tencent-face-secret-0001"
REGION = "ap-guangzhou"


def sdk(endpoint: str, secret_id: str = KEY_ID, secret_key: str = KEY_SECRET) -> ckafka_client.CkafkaClient:
    """A CkafkaClient whose only change from Tencent Cloud is the endpoint (host:port)."""
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=endpoint, protocol="http"))
    return ckafka_client.CkafkaClient(credential.Credential(secret_id, secret_key), REGION, profile)


def call(client: ckafka_client.CkafkaClient, action: str, **params: Any) -> Any:
    """Run `action` through the SDK's request and response models."""
    request = getattr(models, f"{action}Request")()
    request.from_json_string(json.dumps(params))
    return getattr(client, action)(request)


def refused(client: ckafka_client.CkafkaClient, action: str, **params: Any) -> TencentCloudSDKException:
    with pytest.raises(TencentCloudSDKException) as info:
        call(client, action, **params)
    exc = info.value
    assert exc.get_message() and exc.get_request_id(), exc
    assert KEY_SECRET not in exc.get_message()
    return exc


def kafka(resource_id: str, **param: Any) -> dict[str, Any]:
    return {"Type": "KAFKA", "KafkaParam": {"Resource": resource_id, **param}}


def describe(client: ckafka_client.CkafkaClient, task_id: str) -> Any:
    return call(client, "DescribeDatahubTask", TaskId=task_id).Result


def wait_task(client: ckafka_client.CkafkaClient, task_id: str, status: int, timeout_s: float = 60) -> Any:
    def check() -> Any:
        result = describe(client, task_id)
        return result if result.Status == status else None

    return wait_until(check, timeout_s=timeout_s, what=f"task {task_id} status {status}")


def wait_gone(client: ckafka_client.CkafkaClient, task_id: str) -> None:
    def gone() -> bool:
        try:
            result = describe(client, task_id)
        except TencentCloudSDKException as exc:
            assert exc.code == "ResourceNotFound", exc
            return True
        assert result.Status == 2, result  # deleting
        return False

    wait_until(gone, timeout_s=60, what=f"task {task_id} to be gone")

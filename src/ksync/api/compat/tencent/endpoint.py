"""The HTTP endpoint: `POST /` and `POST /ckafka`, one action per call.

A call is checked in the order Tencent Cloud checks it: the TC3 signature (when the
server has API keys), the API version, the action, then the action's parameters. Every
answer is HTTP 200 with `{"Response": {…, "RequestId"}}`; a failure carries
`Response.Error` {Code, Message} instead of the result (the SDK raises it as
`TencentCloudSDKException`).

Without an API keys file the server listens on loopback only, and any request, signed or
not, is accepted.

A read-only key (`"read_only": true` in the keys file) may call the `Describe*` actions
only: every action here is a POST, so the method cannot tell a read from a write, and the
action name does (the same rule as `signature.is_write`). Any other action is answered
`UnauthorizedOperation` before its parameters are read.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ksync.api.auth import KeyRing
from ksync.api.compat.tencent import datahub, flows, meta_sync, resources, signature
from ksync.api.compat.tencent.context import Context
from ksync.api.compat.tencent.errors import (
    FAILED_OPERATION,
    INTERNAL_ERROR,
    INVALID_ACTION,
    INVALID_PARAMETER,
    NO_SUCH_VERSION,
    RESOURCE_NOT_FOUND,
    UNAUTHORIZED_OPERATION,
    TencentError,
    missing,
)
from ksync.api.compat.tencent.params import Params
from ksync.api.counters import SecurityCounters
from ksync.api.hosts import HostNames
from ksync.domain.errors import Conflict, NotFound

log = logging.getLogger(__name__)

VERSION = "2019-08-19"

Action = Callable[[Context, Params], dict[str, Any]]

ACTIONS: dict[str, Action] = {
    "CreateConnectResource": resources.create,
    "DescribeConnectResources": resources.describe_list,
    "DescribeConnectResource": resources.describe,
    "ModifyConnectResource": resources.modify,
    "DeleteConnectResource": resources.delete,
    "CreateDatahubTask": datahub.create,
    "CreateMetaSyncDatahubTask": meta_sync.create_meta,
    "CreateMetaAndDataSyncDatahubTask": meta_sync.create_meta_and_data,
    "CreateMetaDataAndOffsetSyncDatahubTask": meta_sync.create_meta_data_and_offsets,
    "DescribeDatahubTask": datahub.describe,
    "DescribeDatahubTasks": datahub.describe_list,
    "PauseDatahubTask": datahub.pause,
    "ResumeDatahubTask": datahub.resume,
    "RestartDatahubTask": datahub.restart,
    "DeleteDatahubTask": datahub.delete,
    "ModifyDatahubTask": datahub.modify,
    "DescribeDatahubGroupOffsets": datahub.group_offsets,
    "DescribeTaskStatus": flows.task_status,
}

router = APIRouter(tags=["tencent-cloud"])

_DESCRIPTION = (
    "Tencent Cloud CKafka API, version 2019-08-19: the action in the `X-TC-Action` header, "
    "its parameters as a JSON body, signed with TC3-HMAC-SHA256 (`Authorization`, "
    "`X-TC-Timestamp`). Actions: " + ", ".join(ACTIONS) + ". Always HTTP 200: "
    '`{"Response": {..., "RequestId"}}` or `{"Response": {"Error": {"Code", "Message"}, '
    '"RequestId"}}`.'
)


@dataclass(frozen=True)
class Auth:
    """What checking a signature needs: the keys, the server's names, the replay cache
    (which knows the strict mode), and where reuses for another action are counted."""

    keys: KeyRing
    hosts: HostNames
    replay: signature.ReplayCache
    counters: SecurityCounters | None = None


def handle(
    ctx: Context,
    auth: Auth | None,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    caller: str = "unknown",
) -> dict[str, Any]:
    """Authenticate, dispatch and run one call; its `Response` without RequestId.
    `caller` is the client's address, for the log."""
    key = None
    if auth is not None:
        counters = auth.counters
        key = signature.verify(
            auth.keys, method, path, query, headers, body, hosts=auth.hosts, replay=auth.replay,
            caller=caller,
            on_reuse=None if counters is None else lambda _: counters.add("tc3_action_reuse"),
        )
    version = headers.get("x-tc-version")
    if not version:
        raise missing("X-TC-Version")
    if version != VERSION:
        raise TencentError(
            NO_SUCH_VERSION, f"version {version} does not exist here; ksync speaks {VERSION}"
        )
    name = headers.get("x-tc-action")
    if not name:
        raise missing("X-TC-Action")
    action = ACTIONS.get(name)
    if action is None:
        raise TencentError(
            INVALID_ACTION,
            f"the action {name} does not exist (or is not provided by ksync); actions: "
            + ", ".join(ACTIONS),
        )
    if key is not None and key.read_only and signature.is_write(name):
        raise TencentError(
            UNAUTHORIZED_OPERATION,
            f"the API key {key.id} is read-only: it may call the Describe* actions only, and "
            f"{name} needs a key without \"read_only\"",
        )
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise TencentError(
            INVALID_PARAMETER,
            "send the parameters as a JSON body with Content-Type: application/json",
        )
    try:
        data = json.loads(body) if body.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TencentError(INVALID_PARAMETER, f"the body is not JSON: {exc}") from None
    try:
        return action(ctx, Params(data))
    except NotFound as exc:
        raise TencentError(RESOURCE_NOT_FOUND, str(exc)) from None
    except Conflict as exc:
        raise TencentError(FAILED_OPERATION, str(exc)) from None


def _answer(request_id: str, response: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"Response": {**response, "RequestId": request_id}})


@router.post("/", summary="Tencent Cloud CKafka API (TC3-signed)", description=_DESCRIPTION)
@router.post("/ckafka", summary="Tencent Cloud CKafka API (TC3-signed)", description=_DESCRIPTION)
async def call(request: Request) -> JSONResponse:
    request_id = str(uuid.uuid4())
    body = await request.body()
    ctx = Context(store=request.app.state.store, settings=request.app.state.settings)
    auth: Auth | None = getattr(request.app.state, "tencent_auth", None)
    try:
        result = await run_in_threadpool(
            handle,
            ctx,
            auth,
            request.method,
            request.url.path,
            request.url.query,
            request.headers,
            body,
            request.client.host if request.client else "unknown",
        )
    except TencentError as exc:
        log.info(
            "tencent %s refused (%s): %s",
            request.headers.get("x-tc-action", "?"),
            exc.code,
            exc.message,
        )
        return _answer(request_id, {"Error": {"Code": exc.code, "Message": exc.message}})
    except Exception:
        log.exception(
            "tencent %s failed (RequestId %s)", request.headers.get("x-tc-action"), request_id
        )
        return _answer(
            request_id,
            {
                "Error": {
                    "Code": INTERNAL_ERROR,
                    "Message": "ksync failed unexpectedly; its log has the details under "
                    f"RequestId {request_id}",
                }
            },
        )
    on_change = getattr(request.app.state, "on_change", None)
    if on_change is not None and signature.is_write(request.headers.get("x-tc-action", "")):
        on_change()
    return _answer(request_id, result)

"""TC3-HMAC-SHA256 verification without a server: what the official SDK signs verifies,
and every way a request can be wrong is refused with Tencent's Error.Code."""

from __future__ import annotations

import json
import time

import pytest
from starlette.datastructures import Headers
from tencentcloud.ckafka.v20190819 import ckafka_client
from tencentcloud.common import credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from ksync.api.auth import ApiKey, KeyRing
from ksync.api.compat.tencent.errors import TencentError
from ksync.api.compat.tencent.signature import ReplayCache, sign
from ksync.api.compat.tencent.signature import verify as verify_with

from .tencent_tc3 import signed_headers

KEY = ApiKey("AKIDunit0000000001", "unit-test-secret-0001")
KEYS = KeyRing([KEY, ApiKey("AKIDother000000002", "another-secret-0002")])
HOST = "127.0.0.1:8080"


def verify(*args: object, **kwargs: object) -> ApiKey:
    """The server's check, each call with a replay cache of its own."""
    return verify_with(*args, replay=ReplayCache(), **kwargs)  # type: ignore[arg-type]


def sdk_request(
    secret_id: str = KEY.id, secret_key: str = KEY.secret, **params: object
) -> tuple[Headers, bytes]:
    """The headers and body the official SDK would send (built by its own signer)."""
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=HOST, protocol="http"))
    client = ckafka_client.CkafkaClient(
        credential.Credential(secret_id, secret_key), "ap-guangzhou", profile
    )
    req = RequestInternal(HOST, "POST", "/", header={})
    client._build_req_with_tc3_signature("DescribeDatahubTasks", params, req)
    return Headers(headers=req.header), req.data.encode()


def code_of(headers: Headers, body: bytes, path: str = "/", now: float | None = None) -> str:
    with pytest.raises(TencentError) as info:
        verify(KEYS, "POST", path, "", headers, body, now=now)
    assert info.value.message
    assert KEY.secret not in info.value.message
    return info.value.code


def test_the_sdk_signature_verifies() -> None:
    headers, body = sdk_request(Limit=5, SearchWord="x")
    assert verify(KEYS, "POST", "/", "", headers, body) == KEY
    # The same request routed to /ckafka was still signed over "/".
    assert verify(KEYS, "POST", "/ckafka", "", headers, body) == KEY


def test_the_independent_signer_agrees_with_the_server() -> None:
    body = json.dumps({"Limit": 1}).encode()
    headers = Headers(
        headers=signed_headers("DescribeDatahubTasks", body, HOST, KEY.id, KEY.secret)
    )
    assert verify(KEYS, "POST", "/", "", headers, body) == KEY
    server_side = sign(KEY.id, KEY.secret, HOST, body, timestamp=int(headers["x-tc-timestamp"]))
    assert server_side["Authorization"] == headers["authorization"]


def test_wrong_secret_tampered_body_or_host_fail_the_signature() -> None:
    headers, body = sdk_request(secret_key="not-the-right-secret")
    assert code_of(headers, body) == "AuthFailure.SignatureFailure"
    headers, body = sdk_request(Limit=1)
    assert code_of(headers, body.replace(b"1", b"2")) == "AuthFailure.SignatureFailure"
    moved = Headers(headers={**dict(headers), "host": "10.0.0.1:8080"})
    assert code_of(moved, body) == "AuthFailure.SignatureFailure"


def test_unknown_secret_id_is_answered_like_a_bad_signature() -> None:
    headers, body = sdk_request(secret_id="AKIDnobody")
    assert code_of(headers, body) == "AuthFailure.SignatureFailure"


@pytest.mark.parametrize("offset_s", [-600, 600, 301])
def test_a_timestamp_more_than_five_minutes_off_expires(offset_s: int) -> None:
    body = b"{}"
    ts = int(time.time()) + offset_s
    headers = Headers(
        headers=signed_headers("DescribeDatahubTasks", body, HOST, KEY.id, KEY.secret, timestamp=ts)
    )
    assert code_of(headers, body) == "AuthFailure.SignatureExpire"


def test_a_timestamp_within_five_minutes_is_accepted() -> None:
    body = b"{}"
    ts = int(time.time()) - 240
    headers = Headers(
        headers=signed_headers("DescribeDatahubTasks", body, HOST, KEY.id, KEY.secret, timestamp=ts)
    )
    assert verify(KEYS, "POST", "/", "", headers, body) == KEY


def test_credential_date_and_service_must_match() -> None:
    body = b"{}"
    headers = signed_headers("DescribeDatahubTasks", body, HOST, KEY.id, KEY.secret, service="cvm")
    assert code_of(Headers(headers=headers), body) == "AuthFailure.SignatureFailure"
    # A credential dated another day than its timestamp.
    good = signed_headers("DescribeDatahubTasks", body, HOST, KEY.id, KEY.secret)
    day = time.strftime("%Y-%m-%d", time.gmtime(int(good["X-TC-Timestamp"])))
    wrong = good["Authorization"].replace(f"/{day}/", "/2001-01-01/")
    assert (
        code_of(Headers(headers={**good, "Authorization": wrong}), body)
        == "AuthFailure.SignatureFailure"
    )


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer some-secret",
        "TC3-HMAC-SHA256 Credential=AKIDunit0000000001/2024-01-01/ckafka/tc3_request",
        "TC3-HMAC-SHA256 Credential=AKIDunit0000000001/2024-01-01/ckafka/tc3_request, "
        "SignedHeaders=host, Signature=" + "0" * 64,
        "HMAC-SHA1 Credential=x",
    ],
)
def test_missing_or_malformed_authorization(authorization: str | None) -> None:
    body = b"{}"
    headers = signed_headers("DescribeDatahubTasks", body, HOST, KEY.id, KEY.secret)
    del headers["Authorization"]
    if authorization is not None:
        headers["Authorization"] = authorization
    assert code_of(Headers(headers=headers), body) == "AuthFailure.InvalidAuthorization"


def test_missing_timestamp_and_session_tokens_are_refused() -> None:
    headers, body = sdk_request()
    no_ts = {k: v for k, v in headers.items() if k != "x-tc-timestamp"}
    assert code_of(Headers(headers=no_ts), body) == "MissingParameter"
    with_token = {**dict(headers), "x-tc-token": "temporary"}
    assert code_of(Headers(headers=with_token), body) == "AuthFailure.TokenFailure"


def test_unsigned_payload_is_refused_so_the_body_cannot_be_swapped() -> None:
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=HOST, protocol="http"))
    profile.unsignedPayload = True
    client = ckafka_client.CkafkaClient(
        credential.Credential(KEY.id, KEY.secret), "ap-guangzhou", profile
    )
    req = RequestInternal(HOST, "POST", "/", header={})
    client._build_req_with_tc3_signature("DescribeDatahubTasks", {"Limit": 1}, req)
    assert code_of(Headers(headers=req.header), req.data.encode()) == "AuthFailure.InvalidAuthorization"

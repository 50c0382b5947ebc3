"""A TC3-HMAC-SHA256 signer written from Tencent Cloud's description, independent of the
server's code, for requests the official SDK will not make (a skewed clock, a tampered
body, no signature at all)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx

VERSION = "2019-08-19"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signed_headers(
    action: str,
    body: bytes,
    host: str,
    secret_id: str,
    secret_key: str,
    timestamp: int | None = None,
    service: str = "ckafka",
    sign_action: bool = False,
) -> dict[str, str]:
    """`sign_action`: sign `x-tc-action` too (the official SDK does not), so that the
    signature holds for this action only."""
    ts = int(time.time()) if timestamp is None else timestamp
    date = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
    canonical_headers = f"content-type:application/json\nhost:{host}\n"
    signed = "content-type;host"
    if sign_action:
        canonical_headers += f"x-tc-action:{action.lower()}\n"
        signed += ";x-tc-action"
    canonical = "\n".join(
        ["POST", "/", "", canonical_headers, signed, hashlib.sha256(body).hexdigest()]
    )
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{ts}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Version": VERSION,
        "X-TC-Region": "ap-guangzhou",
        "X-TC-Timestamp": str(ts),
        "Authorization": f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders={signed}, Signature={sig}",
    }


def post(url: str, headers: dict[str, str], body: bytes, path: str = "/") -> dict[str, Any]:
    """POST and return `Response` (asserting Tencent's envelope and HTTP 200)."""
    r = httpx.post(url + path, headers=headers, content=body, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    response = json.loads(r.content)["Response"]
    assert isinstance(response["RequestId"], str) and response["RequestId"]
    return response  # type: ignore[no-any-return]


def error_code(response: dict[str, Any]) -> str | None:
    error = response.get("Error")
    if error is None:
        return None
    assert set(error) == {"Code", "Message"} and error["Message"], error
    return str(error["Code"])

"""Assertions shared by the REST API tests."""

from __future__ import annotations

from typing import Any

import httpx
from helpers import wait_until


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """Assert the one error shape `{"error": {"code", "message"}}` and `status`; the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


def delete_task_and_wait(
    client: httpx.Client, task_id: str, timeout_s: float = 60.0
) -> dict[str, Any]:
    """DELETE a task (202 Terminating) and wait until it is gone (404); the 202 body."""
    r = client.delete(f"/api/v1/tasks/{task_id}")
    assert r.status_code == 202, r.text
    wait_until(
        lambda: client.get(f"/api/v1/tasks/{task_id}").status_code == 404,
        timeout_s=timeout_s,
        what=f"task {task_id} to be gone",
    )
    return r.json()  # type: ignore[no-any-return]

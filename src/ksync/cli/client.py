"""A small typed client of the ksync REST API (`/api/v1`), used by the CLI.

Every failure is a `ClientError`: `Unreachable` when no server answers at the URL,
`ApiError` (and its `NotFoundError` and `Unauthorized` kinds) when the server answered
with the API's error shape `{"error": {"code", "message"}}`. The API key is sent as
`Authorization: Bearer <key>` and never appears in an error message.

An https URL is always verified: against the system's trusted CAs, or against `ca_cert`
(a PEM file) for a server whose certificate a private CA signed. There is no way to turn
verification off: the API key would go to whoever answers.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlencode

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"

Json = dict[str, Any]


class ClientError(Exception):
    """Anything that kept a call from succeeding."""


class Unreachable(ClientError):
    """No ksync server answered at `url` (refused, unknown host, timeout)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the ksync server at {url}: {reason}")
        self.url = url
        self.reason = reason


class ApiError(ClientError):
    """The server refused the call; `code` and `message` are the API's own."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class NotFoundError(ApiError):
    """404: the instance or task does not exist."""


class Unauthorized(ApiError):
    """401: the server needs an API key and got none, or a wrong one."""


def _error_of(response: httpx.Response) -> ApiError:
    """The typed error of a non-2xx response; tolerates bodies without the error shape."""
    code, message = "http_error", response.text.strip() or response.reason_phrase
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code") or code)
        message = str(body["error"].get("message") or message)
    elif isinstance(body, dict) and isinstance(body.get("message"), str):
        message = body["message"]  # the Connect face's shape, should a proxy route us there
    kind = {404: NotFoundError, 401: Unauthorized}.get(response.status_code, ApiError)
    return kind(response.status_code, code, message)


class KsyncClient:
    """Calls of the native API; each returns the decoded JSON body."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        ca_cert: Path | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        verify: ssl.SSLContext | bool = True
        if ca_cert is not None:
            try:
                verify = ssl.create_default_context(cafile=str(ca_cert))
            except (OSError, ssl.SSLError) as exc:
                raise ClientError(f"--ca-cert {ca_cert}: not a readable PEM CA certificate ({exc})") from None
        headers = {"accept": "application/json"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        # Instance registration waits up to 10 s for the cluster: keep the timeout above it.
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_s, transport=transport, verify=verify
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        try:
            yield
        except httpx.ConnectError as exc:
            raise Unreachable(self.base_url, _reason(exc)) from None
        except httpx.TimeoutException:
            raise Unreachable(self.base_url, "no answer before the timeout") from None
        except httpx.TransportError as exc:
            raise Unreachable(self.base_url, _reason(exc)) from None

    def _call(self, method: str, path: str, body: Any = None) -> Json:
        with self._reaching():
            if body is None:
                response = self._http.request(method, path)
            else:
                response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise _error_of(response)
        if response.status_code == 204 or not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            raise ApiError(
                response.status_code, "bad_response", f"the server at {self.base_url} did not answer JSON"
            ) from None
        if not isinstance(data, dict):
            raise ApiError(response.status_code, "bad_response", "the server answered an unexpected body")
        return data

    # Instances

    def list_instances(self) -> list[Json]:
        return list(self._call("GET", "/api/v1/instances")["instances"])

    def get_instance(self, instance_id: str) -> Json:
        return self._call("GET", f"/api/v1/instances/{_seg(instance_id)}")

    def add_instance(self, spec: Json) -> Json:
        """Register an instance; the server connects to it first (up to 10 s)."""
        return self._call("POST", "/api/v1/instances", spec)

    def update_instance(self, instance_id: str, patch: Json) -> Json:
        return self._call("PATCH", f"/api/v1/instances/{_seg(instance_id)}", patch)

    def delete_instance(self, instance_id: str) -> None:
        self._call("DELETE", f"/api/v1/instances/{_seg(instance_id)}")

    def instance_topics(self, instance_id: str) -> list[Json]:
        return list(self._call("GET", f"/api/v1/instances/{_seg(instance_id)}/topics")["topics"])

    # Tasks

    def list_tasks(self) -> list[Json]:
        return list(self._call("GET", "/api/v1/tasks")["tasks"])

    def get_task(self, task_id: str) -> Json:
        return self._call("GET", f"/api/v1/tasks/{_seg(task_id)}")

    def create_task(self, spec: Json) -> Json:
        return self._call("POST", "/api/v1/tasks", spec)

    def update_task(self, task_id: str, patch: Json) -> Json:
        return self._call("PATCH", f"/api/v1/tasks/{_seg(task_id)}", patch)

    def delete_task(self, task_id: str) -> Json:
        return self._call("DELETE", f"/api/v1/tasks/{_seg(task_id)}")

    def pause_task(self, task_id: str) -> Json:
        return self._call("POST", f"/api/v1/tasks/{_seg(task_id)}/pause")

    def start_task(self, task_id: str, start: Json | None = None) -> Json:
        """Resume; `start` ({"type", "timestamp_ms"}) applies when the pause retention expired."""
        body = {"start": start} if start is not None else None
        return self._call("POST", f"/api/v1/tasks/{_seg(task_id)}/start", body)

    def reset_task(self, task_id: str, start: Json | None = None) -> Json:
        """Forget a paused task's progress; the next start copies from `start` (default:
        the task's start point)."""
        body = {"start": start} if start is not None else None
        return self._call("POST", f"/api/v1/tasks/{_seg(task_id)}/reset", body)

    def restart_task(self, task_id: str) -> Json:
        return self._call("POST", f"/api/v1/tasks/{_seg(task_id)}/restart")

    def task_events(self, task_id: str) -> list[Json]:
        return list(self._call("GET", f"/api/v1/tasks/{_seg(task_id)}/events")["events"])

    def group_offsets(self, task_id: str) -> Json:
        return self._call("GET", f"/api/v1/tasks/{_seg(task_id)}/group-offsets")

    def cutover(
        self, task_id: str, group: str, dry_run: bool, timeout_s: float
    ) -> Iterator[Json]:
        """Run a cutover; yields each step as the server streams it (the last is the
        result). The read timeout covers one step, not the whole wait: the server says
        what it waits for at least every few seconds."""
        body = {"group": group, "dry_run": dry_run, "timeout_s": timeout_s}
        path = f"/api/v1/tasks/{_seg(task_id)}/cutover"
        # Reading the records after the last offset pairs of many partitions is one step.
        timeout = httpx.Timeout(30.0, read=180.0)
        with self._reaching(), self._http.stream("POST", path, json=body, timeout=timeout) as response:
            if response.status_code >= 400:
                response.read()
                raise _error_of(response)
            for line in response.iter_lines():
                if not line.strip():
                    continue
                try:
                    step = json.loads(line)
                except ValueError:
                    raise ApiError(
                        response.status_code, "bad_response", "the server streamed a line that is not JSON"
                    ) from None
                if not isinstance(step, dict):
                    raise ApiError(response.status_code, "bad_response", "the server streamed an unexpected line")
                yield step

    def reset_group_offsets(self, task_id: str, group: str) -> Json:
        return self._call("POST", f"/api/v1/tasks/{_seg(task_id)}/group-offsets/reset", {"group": group})

    # Alarms

    def list_alarms(self) -> list[Json]:
        return list(self._call("GET", "/api/v1/alarms")["alarms"])

    def get_alarm(self, rule_id: str) -> Json:
        return self._call("GET", f"/api/v1/alarms/{_seg(rule_id)}")

    def create_alarm(self, spec: Json) -> Json:
        return self._call("POST", "/api/v1/alarms", spec)

    def update_alarm(self, rule_id: str, patch: Json) -> Json:
        return self._call("PATCH", f"/api/v1/alarms/{_seg(rule_id)}", patch)

    def delete_alarm(self, rule_id: str) -> None:
        self._call("DELETE", f"/api/v1/alarms/{_seg(rule_id)}")

    def alarm_events(
        self, rule_id: str | None = None, task_id: str | None = None, limit: int = 100
    ) -> list[Json]:
        """Firing, resolved and test events, newest first."""
        params: dict[str, str | int] = {"limit": limit}
        if rule_id is not None:
            params["rule_id"] = rule_id
        if task_id is not None:
            params["task_id"] = task_id
        return list(self._call("GET", "/api/v1/alarms/events?" + urlencode(params))["events"])

    # Workers

    def list_workers(self) -> list[Json]:
        return list(self._call("GET", "/api/v1/workers")["workers"])


def _seg(value: str) -> str:
    """One path segment: an id with '/' or '?' in it must not change the route."""
    from urllib.parse import quote

    return quote(value, safe="")


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    if "refused" in text.lower():
        return "connection refused"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        detail = text.partition("certificate verify failed:")[2].split("(_ssl")[0].strip()
        return (
            f"its TLS certificate is not trusted ({detail or 'verification failed'}): give the CA "
            "certificate that signed it with --ca-cert or KSYNC_CA_CERT"
        )
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        return "it does not answer TLS: if the server runs without --tls-cert, use an http:// URL"
    return text or type(exc).__name__

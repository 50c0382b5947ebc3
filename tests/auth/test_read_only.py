"""Read-only API keys (`"read_only": true` in the keys file): on every face such a key
reads and changes nothing. Native API and Kafka Connect face: GET and HEAD pass, every
other method is 403 with a sentence saying the key is read-only, in the face's error
shape, and nothing is written. Tencent face (every action a POST): the Describe* actions
pass, the others are `UnauthorizedOperation`. A full key is not limited. Also the keys
file's `read_only` field and `ksync key new --read-only`, which makes such a key.

In process (tests/inprocess.py): who may call what is the API's own decision.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from compat.tencent_tc3 import signed_headers
from fastapi.testclient import TestClient
from inprocess import add_instance_row, api_client, store_of
from typer.testing import CliRunner

from ksync.api.auth import KeyRing
from ksync.api.compat.tencent.endpoint import ACTIONS
from ksync.cli import app as cli
from ksync.server import load_keys
from ksync.settings import Settings

FULL = {"id": "AKIDfull", "secret": "full-access-secret-0001"}
READER = {"id": "AKIDreader", "secret": "read-only-secret-0002", "read_only": True}
WRITES = ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"authorization": f"Bearer {key['secret']}"}


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("read-only")
    path = folder / "keys.json"
    path.write_text(json.dumps([FULL, READER]))
    keys = load_keys(Settings(api_keys_file=path))
    with api_client(folder, keys) as c:
        yield c


@pytest.fixture(scope="module")
def ids(http: TestClient) -> dict[str, str]:
    """Two instance rows and a task between them, made with the full key."""
    store = store_of(http)
    src, dst = add_instance_row(store, "ro-src"), add_instance_row(store, "ro-dst")
    r = http.post("/api/v1/tasks", headers=bearer(FULL), json={
        "name": "ro-task", "source": {"instance_id": src, "topics": ["ro-topic"]}, "target": {"instance_id": dst},
    })
    assert r.status_code == 202, r.text
    return {"instance_id": src, "task_id": r.json()["id"], "rule_id": "rule-zzzzzzzz"}


def native_operations(http: TestClient, ids: dict[str, str]) -> list[tuple[str, str]]:
    spec = http.get("/openapi.json", headers=bearer(READER)).json()
    ops = []
    for path, methods in spec["paths"].items():
        if path.startswith("/api/"):
            for method in methods:
                filled = path
                for name, value in ids.items():
                    filled = filled.replace("{" + name + "}", value)
                ops.append((method.upper(), filled))
    return ops


def assert_read_only(r: httpx.Response, method: str) -> str:
    assert r.status_code == 403, (method, r.request.url, r.status_code, r.text)
    message: str = r.json()["error"]["message"]
    assert r.json()["error"]["code"] == "read_only_key"
    assert "AKIDreader is read-only" in message and f"a {method} needs a key" in message, message
    assert READER["secret"] not in r.text
    return message


def test_a_read_only_key_reads_everything_on_the_native_api(http: TestClient, ids: dict[str, str]) -> None:
    ops = native_operations(http, ids)
    reads = [path for method, path in ops if method == "GET"]
    assert f"/api/v1/tasks/{ids['task_id']}" in reads and "/api/v1/instances" in reads, reads
    for path in reads:
        # Not refused for its access (404: the unknown rule; 502: a topic list of a row
        # that names no broker).
        r = http.get(path, headers=bearer(READER))
        assert r.status_code in (200, 404, 502), (path, r.status_code, r.text)
        assert r.status_code == 200 or r.json()["error"]["code"] != "read_only_key", r.text
        assert http.head(path, headers=bearer(READER)).status_code not in (401, 403), path
    task = http.get(f"/api/v1/tasks/{ids['task_id']}", headers=bearer(READER))
    assert task.status_code == 200 and task.json()["name"] == "ro-task"
    # The description of the API is a read too.
    assert http.get("/openapi.json", headers=bearer(READER)).status_code == 200


def test_a_read_only_key_changes_nothing_on_the_native_api(http: TestClient, ids: dict[str, str]) -> None:
    before = {p: http.get(p, headers=bearer(FULL)).json() for p in ("/api/v1/tasks", "/api/v1/instances", "/api/v1/alarms")}
    writes = [(m, p) for m, p in native_operations(http, ids) if m != "GET"]
    assert ("POST", f"/api/v1/tasks/{ids['task_id']}/pause") in writes and ("DELETE", f"/api/v1/instances/{ids['instance_id']}") in writes
    for method, path in writes:
        # A body the route would accept, so only the key's access refuses it.
        body = {"name": "ro-new", "source": {"instance_id": ids["instance_id"], "topics": ["t"]},
                "target": {"instance_id": ids["instance_id"]}} if method in ("POST", "PATCH") else None
        assert_read_only(http.request(method, path, headers=bearer(READER), json=body), method)
    # Methods no route has are refused the same way, before routing.
    for method in ("PUT", "OPTIONS"):
        assert_read_only(http.request(method, "/api/v1/tasks", headers=bearer(READER)), method)
    after = {p: http.get(p, headers=bearer(FULL)).json() for p in before}
    assert after == before


def test_a_full_key_is_not_limited(http: TestClient, ids: dict[str, str]) -> None:
    r = http.post(f"/api/v1/tasks/{ids['task_id']}/pause", headers=bearer(FULL))
    assert r.status_code in (202, 409), r.text
    r = http.post(f"/api/v1/tasks/{ids['task_id']}/start", headers=bearer(FULL))
    assert r.status_code in (202, 409), r.text
    r = http.patch(f"/api/v1/tasks/{ids['task_id']}", headers=bearer(FULL), json={"options": {"task_max": 2}})
    assert r.status_code == 200, r.text


def test_a_read_only_key_on_the_connect_face(http: TestClient, ids: dict[str, str]) -> None:
    for path in ("/connectors", "/connectors?expand=status", "/connector-plugins", "/connectors/ro-task",
                 "/connectors/ro-task/status", "/connectors/ro-task/config"):
        r = http.get(path, headers=bearer(READER))
        assert r.status_code == 200, (path, r.text)
    assert "ro-task" in http.get("/connectors", headers=bearer(READER)).json()
    config = http.get("/connectors/ro-task/config", headers=bearer(READER)).json()
    calls = [
        ("POST", "/connectors", {"name": "ro-new", "config": config}),
        ("PUT", "/connectors/ro-new/config", config),
        ("PATCH", "/connectors/ro-task/config", {"tasks.max": "2"}),
        ("PUT", "/connectors/ro-task/pause", None),
        ("PUT", "/connectors/ro-task/resume", None),
        ("PUT", "/connectors/ro-task/stop", None),
        ("POST", "/connectors/ro-task/restart", None),
        ("POST", "/connectors/ro-task/tasks/0/restart", None),
        ("DELETE", "/connectors/ro-task/offsets", None),
        ("DELETE", "/connectors/ro-task", None),
        ("PUT", "/connector-plugins/org.apache.kafka.connect.mirror.MirrorSourceConnector/config/validate", config),
    ]
    for method, path, body in calls:
        r = http.request(method, path, headers=bearer(READER), json=body)
        assert r.status_code == 403, (method, path, r.text)
        assert set(r.json()) == {"error_code", "message"} and r.json()["error_code"] == 403, r.text
        assert "AKIDreader is read-only" in r.json()["message"]
    assert http.get("/connectors/ro-new", headers=bearer(FULL)).status_code == 404
    assert "ro-task" in http.get("/connectors", headers=bearer(FULL)).json()


def tencent(http: TestClient, key: dict[str, Any], action: str, params: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(params).encode()
    headers = signed_headers(action, body, "127.0.0.1", key["id"], key["secret"])
    r = http.post("/", headers=headers, content=body)
    assert r.status_code == 200, r.text
    return r.json()["Response"]  # type: ignore[no-any-return]


def test_a_read_only_key_on_the_tencent_face_may_describe_only(http: TestClient, ids: dict[str, str]) -> None:
    listed = tencent(http, READER, "DescribeDatahubTasks", {})
    assert "Error" not in listed, listed
    assert ids["task_id"] in [t["TaskId"] for t in listed["Result"]["TaskList"]]
    for action in ("DescribeDatahubTask", "DescribeTaskStatus", "DescribeDatahubGroupOffsets"):
        answer = tencent(http, READER, action, {"TaskId": ids["task_id"]})
        assert answer.get("Error", {}).get("Code") != "UnauthorizedOperation", (action, answer)
    assert "Error" not in tencent(http, READER, "DescribeConnectResources", {})
    writes = [a for a in ACTIONS if not a.startswith("Describe")]
    assert {"CreateDatahubTask", "DeleteDatahubTask", "PauseDatahubTask", "CreateConnectResource"} <= set(writes)
    for action in writes:
        answer = tencent(http, READER, action, {"TaskId": ids["task_id"], "ResourceId": ids["instance_id"]})
        error = answer.get("Error")
        assert error is not None and error["Code"] == "UnauthorizedOperation", (action, answer)
        assert "AKIDreader is read-only" in error["Message"] and "Describe*" in error["Message"], error
    # Nothing happened to the task; the full key may act on it.
    task = tencent(http, FULL, "DescribeDatahubTask", {"TaskId": ids["task_id"]})
    assert "Error" not in task, task
    renamed = tencent(http, FULL, "ModifyDatahubTask", {"TaskId": ids["task_id"], "TaskName": "ro-task-2"})
    assert "Error" not in renamed, renamed
    tencent(http, FULL, "ModifyDatahubTask", {"TaskId": ids["task_id"], "TaskName": "ro-task"})


def test_the_console_shell_says_the_key_is_read_only(http: TestClient) -> None:
    html = {"accept": "text/html"}
    for key, access in ((READER, "read-only"), (FULL, "full")):
        r = http.post("/login", data={"secret": key["secret"]}, headers=html, follow_redirects=False)
        assert r.status_code == 303, r.text
        page = http.get("/", headers=html)
        assert f'data-access="{access}"' in page.text
        # Logging out is open to a read-only key (it changes nothing of the service).
        assert http.post("/logout", follow_redirects=False).status_code in (303, 200)
        http.cookies.clear()


@pytest.mark.parametrize(
    ("entry", "problem"),
    [({"id": "a", "secret": "12345678", "read_only": "yes"}, "read_only"),
     ({"id": "a", "secret": "12345678", "readonly": True}, "nothing else")],
)
def test_the_keys_file_refuses_a_bad_read_only_field(tmp_path: Path, entry: dict[str, Any], problem: str) -> None:
    # A misspelt field would otherwise give a full key to someone meant to read only.
    path = tmp_path / "keys.json"
    path.write_text(json.dumps([entry]))
    with pytest.raises(ValueError, match="entry 0 must be") as info:
        KeyRing.load(path)
    assert problem in str(info.value)


def test_ksync_key_new_makes_a_read_only_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    runner = CliRunner()
    made = runner.invoke(cli, ["key", "new", "--file", str(path), "--read-only", "--id", "AKIDdash"])
    assert made.exit_code == 0, made.output
    secret = made.stdout.split("secret:")[1].split()[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    full = runner.invoke(cli, ["key", "new", "--file", str(path)])
    assert full.exit_code == 0, full.output
    ring = KeyRing.load(path)
    key = ring.by_secret(secret)
    assert key is not None and key.id == "AKIDdash" and key.read_only
    other = ring.by_secret(full.stdout.split("secret:")[1].split()[0])
    assert other is not None and not other.read_only and other.id.startswith("AKID")
    listed = runner.invoke(cli, ["key", "list", "--file", str(path)])
    assert listed.exit_code == 0 and "AKIDdash\tread-only" in listed.stdout and f"{other.id}\tfull" in listed.stdout
    assert secret not in listed.stdout
    again = runner.invoke(cli, ["key", "new", "--file", str(path), "--id", "AKIDdash"])
    assert again.exit_code == 2 and "already has a key with this id" in again.output
    assert len(json.loads(path.read_text())) == 2

"""`ksync.cli.client` without a server (httpx.MockTransport): what it sends and how it turns
answers into typed errors; and the CLI's plain tables."""

from __future__ import annotations

import httpx
import pytest

from ksync.cli.client import ApiError, KsyncClient, NotFoundError, Unauthorized, Unreachable
from ksync.cli.output import table
from ksync.devkafka import free_port


def client(handler: object, key: str | None = None) -> KsyncClient:
    return KsyncClient("http://ksync.test/", api_key=key, transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_sends_the_key_as_bearer_and_quotes_ids() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"id": "task-1", "status": "Paused"})

    with client(handler, key="k3y-secret") as c:
        assert c.pause_task("task/../x?y") == {"id": "task-1", "status": "Paused"}
        c.start_task("task-1", {"type": "earliest"})
    assert seen[0].headers["authorization"] == "Bearer k3y-secret"
    assert seen[0].url.raw_path == b"/api/v1/tasks/task%2F..%2Fx%3Fy/pause"
    assert seen[1].content == b'{"start":{"type":"earliest"}}'
    with client(handler) as c:
        c.restart_task("t")
    assert "authorization" not in seen[2].headers  # no key: no header


@pytest.mark.parametrize(
    ("status", "body", "kind", "code", "message"),
    [
        (404, {"error": {"code": "not_found", "message": "task t does not exist"}}, NotFoundError, "not_found",
         "task t does not exist"),
        (401, {"error": {"code": "unauthorized", "message": "a valid API key is required"}}, Unauthorized,
         "unauthorized", "a valid API key is required"),
        (422, {"error": {"code": "invalid_request", "message": "name: is required"}}, ApiError, "invalid_request",
         "name: is required"),
        (409, {"error": {"code": "conflict", "message": "in use"}}, ApiError, "conflict", "in use"),
        (502, "<html>Bad Gateway</html>", ApiError, "http_error", "<html>Bad Gateway</html>"),
        (500, {"detail": "boom"}, ApiError, "http_error", '{"detail":"boom"}'),
    ],
)
def test_errors_are_typed_and_keep_the_apis_words(
    status: int, body: object, kind: type[ApiError], code: str, message: str
) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    with client(handler) as c, pytest.raises(kind) as err:
        c.get_task("t")
    assert type(err.value) is kind
    assert (err.value.status, err.value.code, err.value.message) == (status, code, message)


def test_a_204_is_an_empty_answer() -> None:
    with client(lambda _: httpx.Response(204)) as c:
        assert c.delete_instance("ins-1") is None


def test_unreachable_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with KsyncClient(url) as c, pytest.raises(Unreachable) as err:
        c.list_instances()
    assert str(err.value) == f"cannot reach the ksync server at {url}: connection refused"


def test_table_pads_columns_and_never_truncates() -> None:
    long = "x" * 150
    assert table(["ID", "NAME", "LAG"], [["a", long, None], ["bbb", "n", 3], ["c", True, 0]]).splitlines() == [
        "ID   NAME" + " " * 146 + "  LAG",
        "a    " + long + "  -",
        "bbb  n" + " " * 149 + "  3",
        "c    yes" + " " * 147 + "  0",
    ]

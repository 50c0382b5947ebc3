"""Liveness, the OpenAPI document, and the error shape of requests no route answers: all
the API's own answers, so in process."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .support import assert_error

CONTRACT_PATHS = {
    "/api/v1/instances": {"get", "post"},
    "/api/v1/instances/{instance_id}": {"get", "delete"},
    "/api/v1/instances/{instance_id}/topics": {"get"},
    "/api/v1/tasks": {"get", "post"},
    "/api/v1/tasks/{task_id}": {"get", "delete"},
    "/api/v1/tasks/{task_id}/reset": {"post"},
}


def test_healthz_answers_ok(api: TestClient) -> None:
    r = api.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_openapi_lists_every_v1_path_of_the_contract(api: TestClient) -> None:
    r = api.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path, methods in CONTRACT_PATHS.items():
        assert path in paths, sorted(paths)
        assert methods <= set(paths[path]), (path, sorted(paths[path]))


def test_openapi_shows_the_task_statuses_as_an_enum(api: TestClient) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    status = schemas["Task"]["properties"]["status"]
    enum = schemas[status["$ref"].rsplit("/", 1)[-1]] if "$ref" in status else status
    assert enum["enum"] == ["Unassigned", "Running", "Paused", "Failed", "Terminating"]


def test_unknown_route_and_method_get_the_error_shape(api: TestClient) -> None:
    assert_error(api.get("/api/v1/nothing-here"), 404, "not_found")
    r = api.put("/api/v1/tasks")
    assert_error(r, 405, "method_not_allowed")
    assert set(r.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert "PUT" not in r.headers["allow"]
    assert "GET" in r.json()["error"]["message"]


def test_openapi_documents_error_answers_with_the_one_error_shape(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    expected = {
        ("/api/v1/tasks", "post"): {"409", "422"},
        ("/api/v1/tasks/{task_id}", "get"): {"404"},
        ("/api/v1/tasks/{task_id}/pause", "post"): {"404", "409"},
        ("/api/v1/instances/{instance_id}", "delete"): {"404", "409"},
        ("/api/v1/instances/{instance_id}/topics", "get"): {"404", "502"},
    }
    for (path, method), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (path, method, sorted(responses))
        for status in statuses:
            ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorBody"), (path, method, status, ref)
    # FastAPI's own 422 shape ({"detail": [...]}) is not what ksync answers.
    assert "HTTPValidationError" not in str(paths["/api/v1/tasks"]["post"]["responses"])
    error = spec["components"]["schemas"]["ErrorDetail"]
    assert set(error["required"]) == {"code", "message"}

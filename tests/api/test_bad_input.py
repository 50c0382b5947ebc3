"""Bad input: every rule answered with its 4xx, the one error shape, a message that names
the field (and what is allowed), and nothing written — the task and instance lists are
the same after the request as before it.

All in process: the API refuses bad input before it connects to anything, and the
instances a task names are rows in the store (tests/inprocess.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import task_body
from inprocess import add_instance_row, store_of

from .support import assert_error

UNKNOWN_ID = "ins-zzzzzzzz"


@dataclass(frozen=True)
class Ids:
    a: str  # the source instance
    b: str  # the target instance
    a2: str  # a second record of the source's cluster, through another address


@pytest.fixture(scope="module")
def ids(api: TestClient) -> Ids:
    store = store_of(api)
    a = add_instance_row(store, "src", cluster_id="cluster-src", bootstrap_servers="127.0.0.1:9")
    b = add_instance_row(store, "dst", cluster_id="cluster-dst")
    a2 = add_instance_row(store, "src-again", cluster_id="cluster-src", bootstrap_servers="localhost:9")
    return Ids(a, b, a2)


@pytest.fixture(scope="module")
def existing_task(api: TestClient, ids: Ids) -> dict[str, Any]:
    """One valid task, so that a duplicate name has something to collide with."""
    r = api.post(
        "/api/v1/tasks", json=task_body(ids.a, ids.b, name="taken-name", topics=["bi-taken"])
    )
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def _state(client: TestClient) -> tuple[list[Any], list[Any]]:
    """Everything a bad request must not change: the tasks and the instances."""
    tasks = client.get("/api/v1/tasks")
    instances = client.get("/api/v1/instances")
    assert tasks.status_code == instances.status_code == 200
    return (
        sorted(
            (t["id"], t["name"], t["source"], t["target"], t["options"])
            for t in tasks.json()["tasks"]
        ),
        sorted(instances.json()["instances"], key=lambda i: i["id"]),
    )


def _task(ids: Ids, **source: Any) -> dict[str, Any]:
    source.setdefault("topics", ["bi-orders"])
    return task_body(ids.a, ids.b, name="bad-input", **source)


DROP = object()  # a `_with` / `_instance` value that removes the key


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with the dotted `path` set to `value` (removed when value is DROP)."""
    out = dict(body)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node[key] = dict(node[key])
        node = node[key]
    if value is DROP:
        node.pop(last, None)
    else:
        node[last] = value
    return out


# (case id, body maker, status, fragments the message must contain)
TASK_CASES: list[tuple[str, Callable[[Ids], Any], int, list[str]]] = [
    (
        "unknown source instance",
        lambda i: task_body(UNKNOWN_ID, i.b, topics=["bi-orders"]),
        422,
        ["source.instance_id", UNKNOWN_ID],
    ),
    (
        "unknown target instance",
        lambda i: task_body(i.a, UNKNOWN_ID, topics=["bi-orders"]),
        422,
        ["target.instance_id", UNKNOWN_ID],
    ),
    (
        "empty selection: no topics, no regex",
        lambda i: _task(i, topics=[]),
        422,
        ["source.topics", "source.topic_regex"],
    ),
    (
        "empty selection: nothing given",
        lambda i: _with(_task(i), "source.topics", DROP),
        422,
        ["source.topics", "source.topic_regex"],
    ),
    (
        "invalid topic_regex",
        lambda i: _task(i, topic_regex="orders-[0-9"),
        422,
        ["topic_regex", "regular expression"],
    ),
    (
        "invalid exclude_regex",
        lambda i: _task(i, exclude_regex="(unclosed"),
        422,
        ["exclude_regex", "regular expression"],
    ),
    (
        "timestamp start without timestamp_ms",
        lambda i: _task(i, start={"type": "timestamp"}),
        422,
        ["start.timestamp_ms", "timestamp"],
    ),
    (
        "unknown compression",
        lambda i: _task(i, options={"compression": "brotli"}),
        422,
        ["options.compression", "'none', 'lz4', 'zstd', 'snappy' or 'gzip'"],
    ),
    (
        "unknown error tolerance",
        lambda i: _task(i, options={"errors": {"tolerance": "some"}}),
        422,
        ["options.errors.tolerance", "'none' or 'all'"],
    ),
    (
        "dead-letter topic without tolerance all",
        lambda i: _task(i, options={"errors": {"dead_letter_topic": "dlq"}}),
        422,
        ["options.errors.dead_letter_topic", "tolerance 'all'"],
    ),
    (
        "dead-letter topic that is no topic name",
        lambda i: _task(i, options={"errors": {"tolerance": "all", "dead_letter_topic": "d l q"}}),
        422,
        ["options.errors.dead_letter_topic", "A-Za-z0-9._-"],
    ),
    (
        "dead-letter instance neither source nor target",
        lambda i: _task(
            i,
            options={"errors": {"tolerance": "all", "dead_letter_topic": "dlq", "dead_letter_instance": "other"}},
        ),
        422,
        ["options.errors.dead_letter_instance", "'source' or 'target'"],
    ),
    (
        "linger_ms too long",
        lambda i: _task(i, options={"linger_ms": 10_001}),
        422,
        ["options.linger_ms", "10000"],
    ),
    (
        "batch_bytes too small",
        lambda i: _task(i, options={"batch_bytes": 100}),
        422,
        ["options.batch_bytes", "1024"],
    ),
    (
        "fetch_max_bytes too large",
        lambda i: _task(i, options={"fetch_max_bytes": 1 << 30}),
        422,
        ["options.fetch_max_bytes", "268435456"],
    ),
    (
        "negative timestamp_ms",
        lambda i: _task(i, start={"type": "timestamp", "timestamp_ms": -1}),
        422,
        ["source.start.timestamp_ms", "0"],
    ),
    (
        "timestamp_ms without timestamp start",
        lambda i: _task(i, start={"type": "earliest", "timestamp_ms": 5}),
        422,
        ["timestamp_ms"],
    ),
    (
        "unknown start type",
        lambda i: _task(i, start={"type": "now"}),
        422,
        ["source.start.type", "earliest", "latest", "timestamp"],
    ),
    (
        "same instance, empty prefix",
        lambda i: task_body(i.a, i.a, topics=["bi-orders"]),
        422,
        ["target.topic_prefix", "same Kafka cluster"],
    ),
    (
        "same cluster through two instance records, empty prefix",
        lambda i: task_body(i.a, i.a2, topics=["bi-orders"]),
        422,
        ["target.topic_prefix", "same Kafka cluster"],
    ),
    (
        "prefix with characters a topic name cannot have",
        lambda i: _task(i, target={"topic_prefix": "gz/sh"}),
        422,
        ["target.topic_prefix", "A-Za-z0-9._-"],
    ),
    ("missing name", lambda i: _with(_task(i), "name", DROP), 422, ["name", "required"]),
    ("empty name", lambda i: _with(_task(i), "name", ""), 422, ["name"]),
    ("missing source", lambda i: _with(_task(i), "source", DROP), 422, ["source", "required"]),
    (
        "missing target instance id",
        lambda i: _with(_task(i), "target.instance_id", DROP),
        422,
        ["target.instance_id", "required"],
    ),
    (
        "unknown top-level field",
        lambda i: _with(_task(i), "colour", "blue"),
        422,
        ["colour", "not a known field"],
    ),
    (
        "unknown nested field",
        lambda i: _with(_task(i), "source.topix", ["x"]),
        422,
        ["source.topix", "not a known field"],
    ),
    ("task_max 0", lambda i: _task(i, options={"task_max": 0}), 422, ["options.task_max", "1"]),
    (
        "task_max above the limit",
        lambda i: _task(i, options={"task_max": 65}),
        422,
        ["options.task_max", "64"],
    ),
    (
        "invalid topic name",
        lambda i: _task(i, topics=["orders", "bad topic!"]),
        422,
        ["source.topics", "bad topic!", "A-Za-z0-9._-"],
    ),
    ("topic name '..'", lambda i: _task(i, topics=[".."]), 422, ["source.topics"]),
    (
        "topic name longer than 249",
        lambda i: _task(i, topics=["t" * 250]),
        422,
        ["source.topics", "249"],
    ),
    (
        "wrong type: topics a string",
        lambda i: _task(i, topics="bi-orders"),
        422,
        ["source.topics", "list"],
    ),
    ("wrong type: name a number", lambda i: _with(_task(i), "name", 42), 422, ["name", "string"]),
    (
        "wrong type: keep_partition not a bool",
        lambda i: _task(i, target={"keep_partition": "maybe"}),
        422,
        ["target.keep_partition", "bool"],
    ),
    (
        "wrong type: task_max a word",
        lambda i: _task(i, options={"task_max": "two"}),
        422,
        ["options.task_max", "integer"],
    ),
    ("wrong type: source a string", lambda i: _with(_task(i), "source", i.a), 422, ["source"]),
    ("wrong type: body a list", lambda i: [_task(i)], 422, ["body"]),
    (
        "duplicate task name",
        lambda i: _with(_task(i), "name", "taken-name"),
        409,
        ["name", "taken-name"],
    ),
]


@pytest.mark.parametrize(
    ("make", "status", "fragments"),
    [
        pytest.param(make, status, fragments, id=case)
        for case, make, status, fragments in TASK_CASES
    ],
)
def test_bad_task_is_refused_and_writes_nothing(
    api: TestClient,
    ids: Ids,
    existing_task: dict[str, Any],
    make: Callable[[Ids], Any],
    status: int,
    fragments: list[str],
) -> None:
    before = _state(api)
    r = api.post("/api/v1/tasks", json=make(ids))
    message = assert_error(r, status, "conflict" if status == 409 else "invalid_request")
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert _state(api) == before


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        pytest.param(b'{"name": "x",', ["body", "JSON"], id="truncated JSON"),
        pytest.param(b"{name: 'x'}", ["body", "JSON"], id="not JSON"),
        pytest.param(b"", ["body", "required"], id="empty body"),
    ],
)
def test_malformed_body_is_refused_and_writes_nothing(
    api: TestClient, ids: Ids, content: bytes, fragments: list[str]
) -> None:
    before = _state(api)
    for path in ("/api/v1/tasks", "/api/v1/instances"):
        r = api.post(path, content=content, headers={"content-type": "application/json"})
        message = assert_error(r, 422, "invalid_request")
        for fragment in fragments:
            assert fragment in message, f"{path}: {fragment!r} not in {message!r}"
    assert _state(api) == before


def test_same_cluster_with_a_prefix_is_accepted(api: TestClient, ids: Ids) -> None:
    """The control case of the same-cluster rule: with a prefix, nothing syncs onto itself."""
    r = api.post(
        "/api/v1/tasks",
        json=task_body(ids.a, ids.a2, topics=["bi-orders"], target={"topic_prefix": "copy"}),
    )
    assert r.status_code == 202, r.text
    assert r.json()["target"]["instance_id"] == ids.a2


def _instance(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "bad-instance", "bootstrap_servers": "127.0.0.1:9092"}
    for key, value in changes.items():
        if value is DROP:
            body.pop(key)
        else:
            body[key] = value
    return body


BAD_BOOTSTRAP = [
    "",
    "   ",
    "localhost",
    "localhost:",
    ":9092",
    "host:0",
    "host:65536",
    "host:123456",
    "a:1,,b:2",
    "a:1,",
    "PLAINTEXT://a:9092",
    "a b:1",
    "host:port",
]

INSTANCE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    *[
        (
            f"bootstrap_servers {v!r}",
            _instance(bootstrap_servers=v),
            ["bootstrap_servers", "host:port"],
        )
        for v in BAD_BOOTSTRAP
    ],
    (
        "bootstrap_servers missing",
        _instance(bootstrap_servers=DROP),
        ["bootstrap_servers", "required"],
    ),
    (
        "bootstrap_servers a number",
        _instance(bootstrap_servers=9092),
        ["bootstrap_servers", "string"],
    ),
    ("name missing", _instance(name=DROP), ["name", "required"]),
    ("name empty", _instance(name=""), ["name"]),
    ("region too long", _instance(region="r" * 65), ["region", "64"]),
    ("unknown field", _instance(colour="blue"), ["colour", "not a known field"]),
    (
        "unknown protocol",
        _instance(security={"protocol": "KERBEROS"}),
        ["security.protocol", "PLAINTEXT", "SASL_SSL"],
    ),
    (
        "unknown SASL mechanism",
        _instance(
            security={
                "protocol": "SASL_SSL",
                "sasl_mechanism": "GSSAPI",
                "username": "u",
                "password": "p",
            }
        ),
        ["security.sasl_mechanism", "SCRAM-SHA-512"],
    ),
    (
        "SASL without a mechanism",
        _instance(security={"protocol": "SASL_PLAINTEXT", "username": "u", "password": "p"}),
        ["security.sasl_mechanism", "PLAIN"],
    ),
    (
        "SASL without a password",
        _instance(
            security={"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "username": "u"}
        ),
        ["security.password"],
    ),
    (
        "a SASL mechanism without SASL",
        _instance(security={"protocol": "PLAINTEXT", "sasl_mechanism": "PLAIN"}),
        ["security.sasl_mechanism", "SASL_PLAINTEXT"],
    ),
]


@pytest.mark.parametrize(
    ("body", "fragments"),
    [pytest.param(body, fragments, id=case) for case, body, fragments in INSTANCE_CASES],
)
def test_bad_instance_is_refused_and_writes_nothing(
    api: TestClient, ids: Ids, body: dict[str, Any], fragments: list[str]
) -> None:
    before = _state(api)
    r = api.post("/api/v1/instances", json=body)
    message = assert_error(r, 422, "invalid_request")
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert _state(api) == before

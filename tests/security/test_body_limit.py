"""Finding 4: request bodies are capped before they are read, on every route, before
authentication (default 1 MB, `--max-body-bytes`): 413 with the error shape.

One unauthenticated 400 MB `POST /` used to be read whole into memory (108 -> 891 MB).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from .conftest import KEYS, AppFactory

MB = 1 << 20
BIG = b"x" * (MB + 1)


def assert_too_large(response, connect: bool = False) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 413, response.text[:500]
    body = response.json()
    if connect:
        assert body["error_code"] == 413 and "1048576 bytes" in body["message"], body
    else:
        assert body["error"]["code"] == "body_too_large", body
        assert "1048576 bytes" in body["error"]["message"], body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/"),  # Tencent face, unauthenticated
        ("POST", "/login"),
        ("POST", "/api/v1/tasks"),
        ("PATCH", "/api/v1/instances/ins-none"),
        ("POST", "/api/v1/alarms"),
        ("POST", "/no/such/route"),
    ],
)
def test_a_body_over_the_limit_is_refused_before_authentication(
    make_client: AppFactory, method: str, path: str
) -> None:
    client = make_client(keys=KEYS)  # no credentials sent: the size is checked first
    response = client.request(method, path, content=BIG, headers={"content-type": "application/json"})
    assert_too_large(response)


def test_the_connect_face_answers_in_its_own_shape(make_client: AppFactory) -> None:
    client = make_client()
    response = client.post("/connectors", content=BIG, headers={"content-type": "application/json"})
    assert_too_large(response, connect=True)


def test_a_streamed_body_is_counted_as_it_arrives(make_client: AppFactory) -> None:
    # No Content-Length: the body is sent chunked, so only counting the bytes catches it.
    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b" " * (MB // 2)

    client = make_client()
    response = client.post("/api/v1/tasks", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_too_large(response)


def test_the_limit_is_configurable_and_smaller_bodies_pass(make_client: AppFactory) -> None:
    client = make_client(max_body_bytes=2048)
    body = {"name": "n", "source": {"instance_id": "ins-x", "topics": ["t"]}, "target": {"instance_id": "ins-y"}}
    small = client.post("/api/v1/tasks", json=body)
    assert small.status_code == 422, small.text  # read and validated: unknown instance
    body["name"] = "n" * 3000
    big = client.post("/api/v1/tasks", json=body)
    assert big.status_code == 413 and "2048 bytes" in big.json()["error"]["message"], big.text


def test_the_server_stops_reading_a_huge_chunked_body(serve: Callable[..., str]) -> None:
    """Over real HTTP: the server answers 413 once the limit is passed, without reading
    the rest; a server that read everything would take all 64 MB before answering."""
    host, port = serve(keys=KEYS).split(":")
    sent = 0
    chunk = b"x" * (256 << 10)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sock.settimeout(0.05)
        answer = b""
        deadline = time.monotonic() + 120
        while sent < 64 * MB and time.monotonic() < deadline:
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                pass
            if answer:
                break
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:
                break  # the server closed the connection: the answer is in the buffer
            sent += len(chunk)
        sock.settimeout(30)
        while b"\r\n\r\n" not in answer and (data := sock.recv(65536)):
            answer += data
        head, _, body = answer.partition(b"\r\n\r\n")
        length = int(next(
            line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        ))
        while len(body) < length and (data := sock.recv(65536)):
            body += data
    assert head.startswith(b"HTTP/1.1 413"), head
    assert sent < 64 * MB, "the server read the whole body before answering"
    assert json.loads(body)["error"]["code"] == "body_too_large", body

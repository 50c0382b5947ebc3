"""Schema-based fuzz of the native REST API: `schemathesis run` reads the live server's
`/openapi.json` and sends generated requests, valid and invalid, to every operation in all
its phases (examples, coverage, fuzzing, stateful); no answer may be a 5xx
(`not_a_server_error`).

Scope: `/api/v1/*` and `/healthz`, the native API. The Kafka Connect and Tencent Cloud
faces are left out on purpose: their request shapes follow external APIs and they have
their own tests; and a Connect config names bootstrap servers that the server would
connect to, which no fuzzer may choose.

Safety: the hooks in ksync_fuzz_hooks.py rewrite, right before every request, any
`bootstrap_servers` the API would accept to a test broker on 127.0.0.1 (see there). This
test checks that the hooks were loaded and used, and afterwards that every registered
instance points at a test broker.

Why the CLI rather than the pytest plugin: the plugin's lazy loader (needed for a schema
read from a server that a fixture starts) fails on this pytest ("'Function' object has no
attribute '_nodeid'", schemathesis 4.32 with pytest 9.2); the CLI also runs the coverage
and stateful phases and prints a reproducible curl command for each failure.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import KsyncServer, create_topic
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from ksync.devkafka import KafkaCluster

HERE = Path(__file__).parent
MAX_EXAMPLES = 25  # per operation and phase: the whole run stays well under 2 minutes


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory, brokers: tuple[KafkaCluster, KafkaCluster]
) -> Iterator[KsyncServer]:
    # Depends on `brokers` so that it stops before them (see tests/api/conftest.py).
    srv = KsyncServer(str(tmp_path_factory.mktemp("ksync-fuzz"))).start()
    try:
        yield srv
    finally:
        srv.stop()
        gc.collect()


def test_native_api_answers_no_5xx(
    fuzz_server: KsyncServer, brokers: tuple[KafkaCluster, KafkaCluster], tmp_path: Path
) -> None:
    src, dst = brokers
    create_topic(src, "fuzz-a", 2)
    with fuzz_server.client() as c:
        ids = []
        for b in brokers:
            r = c.post("/api/v1/instances", json={"name": b.cluster_id, "bootstrap_servers": b.bootstrap})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        r = c.post("/api/v1/tasks", json={
            "name": "fuzz-known", "source": {"instance_id": ids[0], "topics": ["fuzz-a"]},
            "target": {"instance_id": ids[1]},
        })
        assert r.status_code == 202, r.text
        task_id = r.json()["id"]

    hook_log = tmp_path / "hooks.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "SCHEMATHESIS_HOOKS": "ksync_fuzz_hooks",
        "KSYNC_FUZZ_BROKERS": f"{src.bootstrap},{dst.bootstrap}",
        "KSYNC_FUZZ_INSTANCES": ",".join(ids),
        "KSYNC_FUZZ_TASK": task_id,
        "KSYNC_FUZZ_LOG": str(hook_log),
    }
    result = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "run", f"{fuzz_server.url}/openapi.json",
            "--checks", "not_a_server_error",
            "--include-path-regex", r"^/(api/v1/.*|healthz)$",
            "--max-examples", str(MAX_EXAMPLES),
            "--workers", "1",
            "--request-timeout", "60",
            "--suppress-health-check", "all",
            "--generation-database", "none",
            "--no-color",
        ],
        check=False,
        cwd=tmp_path,  # any report or cache stays out of the work tree
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    print(report[-3000:])

    events = [json.loads(line) for line in hook_log.read_text().splitlines()]
    assert events and events[0] == {"loaded": True}, "the safety hooks were not loaded"
    assert any("rewrote" in e for e in events), "no instance body was generated (or rewritten)"

    with fuzz_server.client() as c:
        assert c.get("/healthz").status_code == 200
        instances = c.get("/api/v1/instances").json()["instances"]
    assert {i["bootstrap_servers"] for i in instances} <= {src.bootstrap, dst.bootstrap}, instances
    log = fuzz_server.log()
    assert "Exception in ASGI application" not in log and "Traceback" not in log, log[-5000:]


def test_fuzz_hooks_keep_bootstrap_servers_on_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The rewrite itself: acceptable values go to a test broker, rejected ones stay."""
    monkeypatch.setenv("KSYNC_FUZZ_BROKERS", "127.0.0.1:1111,127.0.0.1:2222")
    monkeypatch.setenv("KSYNC_FUZZ_INSTANCES", "ins-a,ins-b")
    monkeypatch.setenv("KSYNC_FUZZ_TASK", "task-a")
    monkeypatch.setenv("KSYNC_FUZZ_LOG", str(tmp_path / "log"))
    monkeypatch.syspath_prepend(str(HERE))
    sys.modules.pop("ksync_fuzz_hooks", None)
    import ksync_fuzz_hooks as hooks  # after the environment is set

    try:
        for value in ("example.com:9092", "10.0.0.1:9092,evil.test:1", "[::1]:9092", "a:1"):
            body = {"name": "x", "bootstrap_servers": value}
            hooks.keep_on_loopback("POST", "/api/v1/instances", body)
            assert body["bootstrap_servers"] in ("127.0.0.1:1111", "127.0.0.1:2222"), value
            patch = {"bootstrap_servers": value}
            hooks.keep_on_loopback("patch", "/api/v1/instances/{instance_id}", patch)
            assert patch["bootstrap_servers"] in ("127.0.0.1:1111", "127.0.0.1:2222"), value
        for value in ("no-port", "host:0", "a:1,", "", 12):
            body = {"bootstrap_servers": value}
            hooks.keep_on_loopback("POST", "/api/v1/instances", body)
            assert body["bootstrap_servers"] == value
        # Alarm rules can fire on the real task while fuzzing: their webhooks stay local.
        for method, path in (("POST", "/api/v1/alarms"), ("PATCH", "/api/v1/alarms/{rule_id}")):
            rule = {"webhooks": ["https://example.com/x", "http://10.1.2.3/y", 5]}
            hooks.keep_on_loopback(method, path, rule)
            assert rule["webhooks"][:2] == ["http://127.0.0.1:9/fuzz-0", "http://127.0.0.1:9/fuzz-1"]
            assert rule["webhooks"][2] == 5  # not a URL: the API refuses it, nothing is sent
    finally:
        # Importing the module registered global hooks in this process: drop them again.
        for name, func in vars(hooks).items():
            if name in ("before_call", "before_generate_path_parameters", "before_generate_body"):
                GLOBAL_HOOK_DISPATCHER.unregister(func)
        sys.modules.pop("ksync_fuzz_hooks", None)

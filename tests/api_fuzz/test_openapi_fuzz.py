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

The brokers are the run's shared clusters, which other tests use at the same time, so the
fuzz reaches them only through their SASL listeners as a user of its own that may describe
the fuzz's topics and nothing else: fuzzed tasks then fail on authorization (which the fuzz
is welcome to exercise) and can never write into, or read from, another test's topics.
Every other identity a fuzzed request could give is refused by the brokers.

Why the CLI rather than the pytest plugin: the plugin's lazy loader (needed for a schema
read from a server that a fixture starts) fails on this pytest ("'Function' object has no
attribute '_nodeid'", schemathesis 4.32 with pytest 9.2); the CLI also runs the coverage
and stateful phases and prints a reproducible curl command for each failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka.admin import AclOperation
from helpers import KsyncServer, create_topic, running_server
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
from scram_users import ScramUser, scram_user

from ksync.devkafka import KafkaCluster

HERE = Path(__file__).parent
MAX_EXAMPLES = 12  # per operation and phase: about a thousand requests in all


@pytest.fixture(scope="module")
def fuzz_user(brokers: tuple[KafkaCluster, KafkaCluster]) -> Iterator[ScramUser]:
    """The fuzz's identity: it may describe topics named after it, and nothing else."""
    with scram_user(brokers, "fuzz", AclOperation.DESCRIBE) as user:
        yield user


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory, brokers: tuple[KafkaCluster, KafkaCluster]) -> Iterator[KsyncServer]:
    with running_server(str(tmp_path_factory.mktemp("ksync-fuzz"))) as srv:
        yield srv


def register(client: httpx.Client, broker: KafkaCluster, user: ScramUser) -> str:
    """Register `broker` through its SASL listener as `user`; returns the instance id."""
    body = {"name": f"{user.name}-{broker.name}", "bootstrap_servers": broker.sasl_bootstrap,
            "security": user.security()}
    r = client.post("/api/v1/instances", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_native_api_answers_no_5xx(
    fuzz_server: KsyncServer, brokers: tuple[KafkaCluster, KafkaCluster], fuzz_user: ScramUser,
    tmp_path: Path,
) -> None:
    src, dst = brokers
    topic = f"{fuzz_user.name}-a"
    create_topic(src, topic, 2)
    with fuzz_server.client() as c:
        ids = [register(c, b, fuzz_user) for b in brokers]
        # The user sees its own topic, and no other test's.
        listed = c.get(f"/api/v1/instances/{ids[0]}/topics").json()["topics"]
        assert [t["name"] for t in listed] == [topic], listed
        r = c.post("/api/v1/tasks", json={
            "name": "fuzz-known", "source": {"instance_id": ids[0], "topics": [topic]},
            "target": {"instance_id": ids[1]},
        })
        assert r.status_code == 202, r.text
        task_id = r.json()["id"]

    hook_log = tmp_path / "hooks.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "SCHEMATHESIS_HOOKS": "ksync_fuzz_hooks",
        "KSYNC_FUZZ_BROKERS": f"{src.sasl_bootstrap},{dst.sasl_bootstrap}",
        "KSYNC_FUZZ_SECURITY": json.dumps(fuzz_user.security()),
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
    assert any("rewrote_security" in e for e in events), "no security block was rewritten"

    with fuzz_server.client() as c:
        assert c.get("/healthz").status_code == 200
        instances = c.get("/api/v1/instances").json()["instances"]
    # (The fuzz may have deleted every instance, the known ones included.)
    assert {i["bootstrap_servers"] for i in instances} <= {src.sasl_bootstrap, dst.sasl_bootstrap}, instances
    assert {i["security"]["username"] for i in instances} <= {fuzz_user.name}, instances
    log = fuzz_server.log()
    assert "Exception in ASGI application" not in log and "Traceback" not in log, log[-5000:]


def test_fuzz_hooks_keep_bootstrap_servers_on_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The rewrite itself: acceptable values go to a test broker, rejected ones stay."""
    monkeypatch.setenv("KSYNC_FUZZ_BROKERS", "127.0.0.1:1111,127.0.0.1:2222")
    fuzz = {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "username": "fz", "password": "pw"}
    monkeypatch.setenv("KSYNC_FUZZ_SECURITY", json.dumps(fuzz))
    monkeypatch.setenv("KSYNC_FUZZ_INSTANCES", "ins-a,ins-b")
    monkeypatch.setenv("KSYNC_FUZZ_TASK", "task-a")
    monkeypatch.setenv("KSYNC_FUZZ_LOG", str(tmp_path / "log"))
    monkeypatch.syspath_prepend(str(HERE))
    sys.modules.pop("ksync_fuzz_hooks", None)
    import ksync_fuzz_hooks as hooks  # after the environment is set

    try:
        body: dict[str, Any]
        for value in ("example.com:9092", "10.0.0.1:9092,evil.test:1", "[::1]:9092", "a:1"):
            body = {"name": "x", "bootstrap_servers": value}
            hooks.keep_on_loopback("POST", "/api/v1/instances", body)
            assert body["bootstrap_servers"] in ("127.0.0.1:1111", "127.0.0.1:2222"), value
            patch = {"bootstrap_servers": value}
            hooks.keep_on_loopback("patch", "/api/v1/instances/{instance_id}", patch)
            assert patch["bootstrap_servers"] in ("127.0.0.1:1111", "127.0.0.1:2222"), value
        refused: tuple[Any, ...] = ("no-port", "host:0", "a:1,", "", 12)
        for value in refused:
            body = {"bootstrap_servers": value}
            hooks.keep_on_loopback("POST", "/api/v1/instances", body)
            assert body["bootstrap_servers"] == value
        # Any identity the API would accept becomes the fuzz's user; a register without one
        # gets it; a refused block stays as it is (the API answers 422 before connecting).
        for security in ({"protocol": "PLAINTEXT"}, {"protocol": "SSL", "ca_pem": "x"},
                         {"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "username": "u", "password": "p"}):
            for method, path in (("POST", "/api/v1/instances"), ("PATCH", "/api/v1/instances/{instance_id}")):
                body = {"security": dict(security)}
                hooks.keep_on_loopback(method, path, body)
                assert body["security"] == fuzz, (method, security)
        body = {"name": "x"}
        hooks.keep_on_loopback("POST", "/api/v1/instances", body)
        assert body["security"] == fuzz
        patch = {"name": "x"}
        hooks.keep_on_loopback("PATCH", "/api/v1/instances/{instance_id}", patch)
        assert "security" not in patch  # the stored block stays: it is already the fuzz's
        for bad in ({"protocol": "KERBEROS"}, {"protocol": "SASL_PLAINTEXT"}, "PLAINTEXT", None):
            body = {"security": bad}
            hooks.keep_on_loopback("POST", "/api/v1/instances", body)
            assert body["security"] == bad
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

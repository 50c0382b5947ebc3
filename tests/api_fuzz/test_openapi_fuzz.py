"""Schema-based fuzz of every face: `schemathesis run` sends generated requests, valid and
invalid, to every operation in all its phases (examples, coverage, fuzzing, stateful); no
answer may be a 5xx (`not_a_server_error`), and no Tencent answer an `InternalError` (that
face answers HTTP 200 to everything: `tencent_answers_in_its_shape`). The count of cases
tried per face is printed.

* Native API (`/api/v1/*`, `/healthz`), from the server's own `/openapi.json`.
* Kafka Connect face (`/connectors…`, `/connector-plugins…`, `/health`), from the same
  document, and the Tencent face, from tencent_openapi.py (one operation per action, sent
  to the dispatcher with TC3 signatures by the hooks), in one run against a second server
  with an API key. Both faces register clusters named in a request, so that server refuses
  every new bootstrap address (`--bootstrap-refuse` 0.0.0.0/0 and ::/0) and its instances
  are rows written before it starts.

The two runs go at once, on their own servers, so the fuzz takes as long as the longer.

Safety: the hooks in ksync_fuzz_hooks.py rewrite, right before every request, any
`bootstrap_servers` (Connect: `*.cluster.bootstrap.servers`; Tencent: `BrokerAddress`)
the API would accept to a test broker on 127.0.0.1 (see there). This test checks that the
hooks were loaded and used, and afterwards that every registered instance points at a
test broker, and that the second server registered none.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka.admin import AclOperation
from helpers import KsyncServer, create_topic, running_server
from inprocess import add_instance_row
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER
from scram_users import ScramUser, scram_user

from api_fuzz import tencent_openapi
from ksync.api.compat.tencent.endpoint import ACTIONS
from ksync.api.compat.tencent.flows import flow_id
from ksync.devkafka import KafkaCluster
from ksync.server import open_store
from ksync.settings import Settings
from ksync.spec import SecuritySpec

HERE = Path(__file__).parent
# Per operation and phase. Together about 1,500 requests; the whole module takes about a
# minute on a loaded 2-core machine (it is part of `make test`).
NATIVE_EXAMPLES = 4
COMPAT_EXAMPLES = 3
# Fewer calls than this for a face means the run skipped operations (or the hooks were
# not used).
MIN_CASES = 150
# The coverage phase also sends each method an operation does not have: on the Tencent
# operations those are not Tencent calls at all (other methods on / are Connect's), and
# on Connect's they are FastAPI's 405s, which the native run tries already.
COMPAT_CONFIG = "[phases.coverage]\nunexpected-methods = []\n"


@pytest.fixture(scope="module")
def fuzz_user(brokers: tuple[KafkaCluster, KafkaCluster]) -> Iterator[ScramUser]:
    """The fuzz's identity: it may describe topics named after it, and nothing else."""
    with scram_user(brokers, "fuzz", AclOperation.DESCRIBE) as user:
        yield user


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory, brokers: tuple[KafkaCluster, KafkaCluster]) -> Iterator[KsyncServer]:
    with running_server(str(tmp_path_factory.mktemp("ksync-fuzz"))) as srv:
        yield srv


def fuzz_env(
    brokers: tuple[KafkaCluster, KafkaCluster], user: ScramUser, ids: list[str], task_id: str, hook_log: Path,
    **extra: str,
) -> dict[str, str]:
    """The environment of a `schemathesis run` with the hooks of ksync_fuzz_hooks.py."""
    path = [str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(path).rstrip(os.pathsep),
        "SCHEMATHESIS_HOOKS": "ksync_fuzz_hooks",
        "KSYNC_FUZZ_BROKERS": ",".join(b.sasl_bootstrap for b in brokers),
        "KSYNC_FUZZ_SECURITY": json.dumps(user.security()),
        "KSYNC_FUZZ_INSTANCES": ",".join(ids),
        "KSYNC_FUZZ_TASK": task_id,
        "KSYNC_FUZZ_LOG": str(hook_log),
        **extra,
    }


@dataclass
class FuzzRun:
    """One `schemathesis run` process (with the hooks of ksync_fuzz_hooks.py)."""

    args: list[str]
    env: dict[str, str]
    cwd: Path
    examples: int
    checks: str = "not_a_server_error"
    config: str | None = None  # schemathesis.toml
    process: subprocess.Popen[str] | None = None

    @property
    def hook_log(self) -> Path:
        return Path(self.env["KSYNC_FUZZ_LOG"])

    def start(self) -> FuzzRun:
        options = []
        if self.config is not None:
            path = self.cwd / "schemathesis.toml"
            path.write_text(self.config)
            options = ["--config-file", str(path)]
        command = [
            sys.executable, "-m", "schemathesis.cli", *options, "run", *self.args,
            "--checks", self.checks,
            "--max-examples", str(self.examples),
            "--workers", "1",
            "--request-timeout", "60",
            "--suppress-health-check", "all",
            "--generation-database", "none",
            "--no-color",
        ]
        # cwd: any report or cache stays out of the work tree.
        self.process = subprocess.Popen(
            command, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        return self

    def finish(self) -> str:
        """Its report, once it exited (asserting it passed)."""
        assert self.process is not None
        try:
            report, _ = self.process.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            self.process.kill()
            report, _ = self.process.communicate()
            raise AssertionError(f"schemathesis did not finish in time:\n{report[-5000:]}") from None
        assert self.process.returncode == 0, report
        return report


def calls_per_face(hook_log: Path) -> dict[str, int]:
    """How many requests the hooks saw per face (every phase's calls go through them)."""
    counts: dict[str, int] = {}
    for line in hook_log.read_text().splitlines():
        event = json.loads(line)
        if "call" in event:
            counts[event["call"]] = counts.get(event["call"], 0) + 1
    return counts


def register(client: httpx.Client, broker: KafkaCluster, user: ScramUser) -> str:
    """Register `broker` through its SASL listener as `user`; returns the instance id."""
    body = {"name": f"{user.name}-{broker.name}", "bootstrap_servers": broker.sasl_bootstrap,
            "security": user.security()}
    r = client.post("/api/v1/instances", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


FUZZ_KEY = {"id": "AKIDfuzzCompat", "secret": "fuzz-compat-secret-0001"}
PLUGIN = "org.apache.kafka.connect.mirror.MirrorSourceConnector"


@pytest.fixture(scope="module")
def compat_server(
    tmp_path_factory: pytest.TempPathFactory, brokers: tuple[KafkaCluster, KafkaCluster], fuzz_user: ScramUser,
) -> Iterator[tuple[KsyncServer, list[str]]]:
    """The server the Connect and Tencent faces are fuzzed on, and its two instances.

    With an API key (the Tencent face checks signatures only then), and refusing every
    bootstrap address (`--bootstrap-refuse` 0.0.0.0/0 and ::/0): both faces register
    clusters themselves, and no fuzzed request may make ksync connect to a new one. The
    instances are rows written into its store before it starts, at the test brokers'
    SASL listeners as the fuzz's user, and found by their addresses from then on."""
    data = tmp_path_factory.mktemp("ksync-fuzz-compat")
    store = open_store(Settings(data_dir=data))
    try:
        ids = [
            add_instance_row(store, f"{fuzz_user.name}-{b.name}", cluster_id=b.cluster_id,
                             bootstrap_servers=b.sasl_bootstrap,
                             security=SecuritySpec.model_validate(fuzz_user.security()))
            for b in brokers
        ]
    finally:
        store.engine.dispose()
    keys = data / "keys.json"
    keys.write_text(json.dumps([FUZZ_KEY]))
    refuse_all = ("--bootstrap-refuse", "0.0.0.0/0", "--bootstrap-refuse", "::/0")
    with running_server(str(data), "--api-keys-file", str(keys), *refuse_all) as srv:
        yield srv, ids


def native_run(
    server: KsyncServer, brokers: tuple[KafkaCluster, KafkaCluster], user: ScramUser, folder: Path,
) -> FuzzRun:
    """The native API's run, starting with two instances registered through the API at
    the test brokers' SASL listeners, and a task between them."""
    src, _ = brokers
    topic = f"{user.name}-a"
    create_topic(src, topic, 2)
    with server.client() as c:
        ids = [register(c, b, user) for b in brokers]
        # The user sees its own topic, and no other test's.
        listed = c.get(f"/api/v1/instances/{ids[0]}/topics").json()["topics"]
        assert [t["name"] for t in listed] == [topic], listed
        r = c.post("/api/v1/tasks", json={
            "name": "fuzz-known", "source": {"instance_id": ids[0], "topics": [topic]},
            "target": {"instance_id": ids[1]},
        })
        assert r.status_code == 202, r.text
        task_id = r.json()["id"]
        # Read here, with a generous timeout: schemathesis gives a schema URL 10 s.
        spec = c.get("/openapi.json").json()
    # The examples phase sends this every run: a registration the hooks point at a test
    # broker with the fuzz's user (generated bodies reached Kafka only by chance).
    register_body = spec["paths"]["/api/v1/instances"]["post"]["requestBody"]["content"]["application/json"]
    register_body["example"] = {"name": "fuzz-example", "bootstrap_servers": "127.0.0.1:9092"}
    folder.mkdir()
    schema_file = folder / "native.json"
    schema_file.write_text(json.dumps(spec))
    env = fuzz_env(brokers, user, ids, task_id, folder / "hooks.log")
    args = [str(schema_file), "--url", server.url, "--include-path-regex", r"^/(api/v1/.*|healthz)$"]
    return FuzzRun(args, env, folder, NATIVE_EXAMPLES)


def compat_run(
    server: KsyncServer, ids: list[str], brokers: tuple[KafkaCluster, KafkaCluster], user: ScramUser,
    folder: Path,
) -> FuzzRun:
    """The run of the Connect and Tencent faces: one schema holding the server's own
    Connect operations and the Tencent actions as tencent_openapi.py describes them, with
    a connector made through the Connect face to reach."""
    src, dst = brokers
    topic = f"{user.name}-c"
    create_topic(src, topic, 2)
    bearer = {"authorization": f"Bearer {FUZZ_KEY['secret']}"}
    config = {
        "connector.class": PLUGIN, "source.cluster.alias": "src", "target.cluster.alias": "dst",
        "source.cluster.bootstrap.servers": src.sasl_bootstrap,
        "target.cluster.bootstrap.servers": dst.sasl_bootstrap, "topics": topic, "tasks.max": "1",
    }
    with server.client() as c:
        r = c.post("/connectors", json={"name": "fuzz-connector", "config": config}, headers=bearer)
        assert r.status_code == 201, r.text
        tasks = c.get("/api/v1/tasks", headers=bearer).json()["tasks"]
        task_id = next(t["id"] for t in tasks if t["name"] == "fuzz-connector")
        known = c.get("/connectors/fuzz-connector/config", headers=bearer).json()
        spec = c.get("/openapi.json", headers=bearer).json()
    connect_paths = {
        path: item for path, item in spec["paths"].items()
        if path.startswith(("/connectors", "/connector-plugins")) or path == "/health"
    }
    assert "/connectors/{name}/config" in connect_paths, sorted(spec["paths"])
    folder.mkdir()
    schema_file = folder / "connect-and-tencent.json"
    # The examples phase sends this every run: a connector whose cluster addresses the
    # hooks point at the test brokers (generated configs reached them only by chance).
    example = {"name": "fuzz-example", "config": {
        **config, "source.cluster.bootstrap.servers": "127.0.0.1:9092",
        "target.cluster.bootstrap.servers": "127.0.0.1:9093",
    }}
    connect_paths["/connectors"]["post"]["requestBody"]["content"]["application/json"]["example"] = example
    schema = {**spec, "paths": {**connect_paths, **tencent_openapi.document(list(ACTIONS))["paths"]}}
    schema_file.write_text(json.dumps(schema))
    env = fuzz_env(
        brokers, user, ids, task_id, folder / "hooks.log",
        KSYNC_FUZZ_CONNECTOR="fuzz-connector", KSYNC_FUZZ_CONNECT_CONFIG=json.dumps(known),
        KSYNC_FUZZ_FLOW=str(flow_id(task_id)), KSYNC_FUZZ_TC_URL=server.url,
        KSYNC_FUZZ_TC_KEY=f"{FUZZ_KEY['id']}:{FUZZ_KEY['secret']}",
    )
    return FuzzRun([str(schema_file), "--url", server.url], env, folder, COMPAT_EXAMPLES,
                   checks="not_a_server_error,tencent_answers_in_its_shape", config=COMPAT_CONFIG)


def test_no_face_answers_a_5xx(
    fuzz_server: KsyncServer, compat_server: tuple[KsyncServer, list[str]],
    brokers: tuple[KafkaCluster, KafkaCluster], fuzz_user: ScramUser, tmp_path: Path,
) -> None:
    src, dst = brokers
    native = native_run(fuzz_server, brokers, fuzz_user, tmp_path / "native")
    compat_srv, compat_ids = compat_server
    compat = compat_run(compat_srv, compat_ids, brokers, fuzz_user, tmp_path / "compat")
    # Both at once, on their own servers: the run takes as long as the longer one.
    native.start()
    compat.start()
    reports = {"native": native.finish(), "connect and tencent": compat.finish()}
    counts = {**calls_per_face(native.hook_log), **calls_per_face(compat.hook_log)}
    print("fuzz cases tried per face: " + ", ".join(f"{f} {counts.get(f, 0)}" for f in ("native", "connect", "tencent")))
    for name, report in reports.items():
        print(f"--- {name}:\n{report[-1500:]}")
    assert all(counts.get(f, 0) >= MIN_CASES for f in ("native", "connect", "tencent")), counts

    events = [json.loads(line) for line in native.hook_log.read_text().splitlines()]
    assert events and events[0] == {"loaded": True}, "the safety hooks were not loaded"
    assert any("rewrote" in e for e in events), "no instance body was generated (or rewritten)"
    assert any("rewrote_security" in e for e in events), "no security block was rewritten"
    events = [json.loads(line) for line in compat.hook_log.read_text().splitlines()]
    assert any("rewrote_connect" in e for e in events), "no connector config was rewritten"
    assert any("rewrote_tencent" in e for e in events), "no BrokerAddress was rewritten"

    with fuzz_server.client() as c:
        assert c.get("/healthz").status_code == 200
        instances = c.get("/api/v1/instances").json()["instances"]
    # (The fuzz may have deleted every instance, the known ones included.)
    assert {i["bootstrap_servers"] for i in instances} <= {src.sasl_bootstrap, dst.sasl_bootstrap}, instances
    assert {i["security"]["username"] for i in instances} <= {fuzz_user.name}, instances
    with compat_srv.client() as c:
        assert c.get("/healthz").status_code == 200
        compat_instances = c.get("/api/v1/instances", headers={"authorization": f"Bearer {FUZZ_KEY['secret']}"})
    # No instance was added there (the fuzz may have deleted one of the two).
    assert {i["id"] for i in compat_instances.json()["instances"]} <= set(compat_ids), compat_instances.text
    for server in (fuzz_server, compat_srv):
        log = server.log()
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
    sys.modules.pop("tencent_openapi", None)
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
        # Connect configs: an acceptable cluster address becomes a test broker, a refused one
        # stays, and tasks.max is capped; on every operation that takes a config.
        for method, path, wrapped in (("POST", "/connectors", True), ("PUT", "/connectors/{name}/config", False),
                                      ("PATCH", "/connectors/{name}/config", False),
                                      ("PUT", "/connector-plugins/{plugin}/config/validate", False)):
            config = {"source.cluster.bootstrap.servers": "kafka.example.com:9092",
                      "target.cluster.bootstrap.servers": "no port", "tasks.max": "500"}
            hooks.keep_connect_on_loopback(method, path, {"name": "c", "config": config} if wrapped else config)
            assert config["source.cluster.bootstrap.servers"] in ("127.0.0.1:1111", "127.0.0.1:2222"), path
            assert config["target.cluster.bootstrap.servers"] == "no port"
            assert config["tasks.max"] == "2"
        # Tencent actions: BrokerAddress the same way, TaskMax capped.
        for action in ("CreateConnectResource", "ModifyConnectResource"):
            param = {"BrokerAddress": "10.1.2.3:9092"}
            hooks.keep_tencent_on_loopback(action, {"KafkaConnectParam": param})
            assert param["BrokerAddress"] in ("127.0.0.1:1111", "127.0.0.1:2222"), action
        task = {"TaskMax": 100}
        hooks.keep_tencent_on_loopback("CreateDatahubTask", task)
        assert task == {"TaskMax": 2}
    finally:
        # Importing the module registered global hooks in this process: drop them again.
        for name, func in vars(hooks).items():
            if name in ("before_call", "before_generate_path_parameters", "before_generate_body"):
                GLOBAL_HOOK_DISPATCHER.unregister(func)
        sys.modules.pop("ksync_fuzz_hooks", None)
        sys.modules.pop("tencent_openapi", None)


def test_the_tencent_description_covers_every_action() -> None:
    """A new action of the face is fuzzed only once tencent_openapi.py describes it."""
    paths = tencent_openapi.document(list(ACTIONS))["paths"]
    assert sorted(paths) == sorted(tencent_openapi.PREFIX + a for a in ACTIONS)
    with pytest.raises(AssertionError, match="NewAction"):
        tencent_openapi.document([*ACTIONS, "NewAction"])

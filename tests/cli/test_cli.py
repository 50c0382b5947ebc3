"""The `ksync instance …` and `ksync task …` commands against a live API: every command,
both output formats, and the exit codes scripts rely on (0 ok, 1 API error, 2 usage,
3 unreachable, 4 not found).

The commands run in process (`CliRunner` over the real `ksync` app: same parsing, same
HTTP client, same exit codes), which spares a Python start-up per command; one test runs
the real `python -m ksync` to prove the entry point. What needs Kafka (registering
instances, topic lists, a task that copies) talks to a `ksync server` on the shared
clusters; the rest to the API served in process over a store whose instances are rows.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import KsyncServer, create_topic, producer, read_all, running_server, wait_until
from inprocess import add_instance_row, app_on_store, serving
from typer.testing import CliRunner

from ksync.api.auth import ApiKey, KeyRing
from ksync.cli import app as cli
from ksync.devkafka import KafkaCluster, free_port
from ksync.store.repo import Store

UNKNOWN_TASK = "task-zzzzzzzz"
UNKNOWN_INSTANCE = "ins-zzzzzzzz"


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


def ksync(url: str, *args: str, key: str | None = None, stdin: str | None = None) -> Run:
    """`ksync ARGS` in process with KSYNC_API_URL=url (and KSYNC_API_KEY=key if given) and
    no other KSYNC_ variable; a crash is raised, never taken for an exit code."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("KSYNC_")}
    env["KSYNC_API_URL"] = url
    if key is not None:
        env["KSYNC_API_KEY"] = key
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin or "")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


def ok(result: Run) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    return result.stdout


def fails(result: Run, code: int) -> str:
    """Assert exit `code`, nothing on stdout; the stderr text."""
    assert result.returncode == code, f"exit {result.returncode}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    assert result.stdout == "", result.stdout
    return result.stderr


def as_json(result: Run) -> Any:
    return json.loads(ok(result))


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


# ---- against Kafka -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, kafka_pair: tuple[KafkaCluster, KafkaCluster]) -> Iterator[KsyncServer]:
    with running_server(str(tmp_path_factory.mktemp("ksync-cli"))) as srv:
        yield srv


@pytest.fixture(scope="module")
def url(server: KsyncServer) -> str:
    return server.url


@pytest.fixture(scope="module")
def ids(url: str, brokers: tuple[KafkaCluster, KafkaCluster]) -> tuple[str, str]:
    """The source and target clusters registered with `instance add -o json`."""
    src, dst = brokers
    a = as_json(ksync(url, "instance", "add", "cli-src", "--bootstrap-servers", src.bootstrap,
                      "--region", "ap-guangzhou", "--zone", "gz-3", "-o", "json"))
    b = as_json(ksync(url, "instance", "add", "cli-dst", "-b", dst.bootstrap, "--output", "json"))
    assert (a["name"], a["cluster_id"], a["region"], a["zone"]) == ("cli-src", src.cluster_id, "ap-guangzhou", "gz-3")
    assert (b["name"], b["cluster_id"]) == ("cli-dst", dst.cluster_id)
    return a["id"], b["id"]


def task_json(url: str, task_id: str) -> dict[str, Any]:
    return as_json(ksync(url, "task", "show", task_id, "-o", "json"))  # type: ignore[no-any-return]


def wait_task(url: str, task_id: str, status: str, timeout_s: float = 60) -> dict[str, Any]:
    return wait_until(  # type: ignore[no-any-return]
        lambda: (t := task_json(url, task_id))["status"] == status and t,
        timeout_s=timeout_s, interval_s=0.3, what=f"{task_id} to be {status}",
    )


def wait_gone(url: str, task_id: str) -> None:
    wait_until(lambda: ksync(url, "task", "show", task_id).returncode == 4,
               timeout_s=60, interval_s=0.3, what=f"{task_id} to be gone")


def test_instance_add_list_show_rm(url: str, ids: tuple[str, str], brokers: tuple[KafkaCluster, KafkaCluster]) -> None:
    src, _ = brokers
    out = ok(ksync(url, "instance", "add", "cli-extra", "-b", src.bootstrap))
    m = re.fullmatch(rf"added (ins-[a-z0-9]{{8}}) \(cli-extra\): Kafka cluster {src.cluster_id}, 1 broker\(s\)\n", out)
    assert m, out
    extra = m.group(1)

    table = ok(ksync(url, "instance", "list"))
    header, *rows = table.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "BOOTSTRAP"]
    for iid, name in ((ids[0], "cli-src"), (ids[1], "cli-dst"), (extra, "cli-extra")):
        assert any(r.split()[:2] == [iid, name] for r in rows), table

    listed = {i["id"]: i for i in as_json(ksync(url, "instance", "list", "-o", "json"))["instances"]}
    shown = as_json(ksync(url, "instance", "show", ids[0], "--output", "json"))
    assert shown == listed[ids[0]]
    assert shown["bootstrap_servers"] == src.bootstrap

    human = ok(ksync(url, "instance", "show", ids[0]))
    assert f"bootstrap servers:  {src.bootstrap}" in human
    assert "region:" in human and "ap-guangzhou" in human

    assert ok(ksync(url, "instance", "rm", extra)) == f"removed {extra}\n"
    assert extra in fails(ksync(url, "instance", "show", extra), 4)
    assert extra not in ok(ksync(url, "instance", "list"))


def test_instance_topics(url: str, ids: tuple[str, str], brokers: tuple[KafkaCluster, KafkaCluster]) -> None:
    src, _ = brokers
    topic = _name("cli-topics")
    create_topic(src, topic, 3)
    table = ok(ksync(url, "instance", "topics", ids[0]))
    assert table.splitlines()[0].split() == ["TOPIC", "PARTITIONS", "REPLICATION"]
    assert any(r.split() == [topic, "3", "1"] for r in table.splitlines()[1:]), table
    topics = as_json(ksync(url, "instance", "topics", ids[0], "-o", "json"))["topics"]
    assert {"name": topic, "partitions": 3, "replication_factor": 1} in topics


def test_task_lifecycle(url: str, ids: tuple[str, str], brokers: tuple[KafkaCluster, KafkaCluster]) -> None:
    src, dst = brokers
    topic, name = _name("cli-orders"), _name("cli-copy")
    create_topic(src, topic, 2)
    p = producer(src)
    for i in range(100):
        p.produce(topic, key=str(i).encode(), value=b"v", partition=i % 2)
    assert p.flush(30) == 0

    created = as_json(ksync(url, "task", "create", "--name", name, "--source", ids[0], "--topic", topic,
                            "--target", ids[1], "--start", "earliest", "--task-max", "1", "-o", "json"))
    tid = created["id"]
    assert created["status"] == "Unassigned"
    assert created["source"]["topics"] == [topic]
    assert created["target"]["instance_id"] == ids[1]

    rows = ok(ksync(url, "task", "list")).splitlines()
    assert rows[0].split()[:3] == ["ID", "NAME", "STATUS"]
    assert any(r.split()[:2] == [tid, name] for r in rows[1:]), rows
    assert tid in {t["id"] for t in as_json(ksync(url, "task", "list", "-o", "json"))["tasks"]}

    wait_task(url, tid, "Running")
    read_all(dst, topic, 2, 100)
    # Progress reaches the end of both partitions: lag 0.
    wait_until(lambda: (t := task_json(url, tid))["progress"] and all(p["lag"] == 0 for p in t["progress"])
               and len(t["progress"]) == 2, timeout_s=60, interval_s=0.5, what="lag 0")

    human = ok(ksync(url, "task", "show", tid))
    assert re.search(r"^status: +Running$", human, re.MULTILINE), human
    assert "progress:" in human and topic in human
    assert re.search(r"^lag: +0$", human, re.MULTILINE), human

    watched = ok(ksync(url, "task", "watch", tid, "--count", "2", "--interval", "0.5"))
    assert watched.count(f"{tid}  {name}  Running") == 2, watched
    assert "lag: 0" in watched and "RECORDS/S" in watched
    lines = ok(ksync(url, "task", "watch", tid, "--count", "2", "--interval", "0.2", "-o", "json")).splitlines()
    assert [json.loads(line)["id"] for line in lines] == [tid, tid]

    assert ok(ksync(url, "task", "pause", tid)).startswith(f"{tid}: pause requested; status now ")
    paused = wait_task(url, tid, "Paused")
    assert paused["paused_at"] is not None

    assert ok(ksync(url, "task", "start", tid, "--from", "earliest")).startswith(f"{tid}: start requested")
    wait_task(url, tid, "Running")

    restarted = as_json(ksync(url, "task", "restart", tid, "-o", "json"))
    assert restarted["id"] == tid
    wait_task(url, tid, "Running")

    assert ok(ksync(url, "task", "rm", tid)) == f"{tid}: delete requested; status now Terminating\n"
    wait_gone(url, tid)
    assert tid in fails(ksync(url, "task", "show", tid), 4)
    # Deleting the task left the data: every record is still on the target.
    read_all(dst, topic, 2, 100)


# ---- against the API in process --------------------------------------------------------------


@dataclass(frozen=True)
class LocalApi:
    url: str
    store: Store
    src: str  # instance ids (rows: never connected to)
    dst: str


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApi]:
    with app_on_store(tmp_path_factory.mktemp("cli-inprocess")) as app, serving(app) as base:
        store: Store = app.state.store
        yield LocalApi(base, store, add_instance_row(store, "cli-src"), add_instance_row(store, "cli-dst"))


def test_task_create_from_file_and_conflicts(local: LocalApi, tmp_path: Path) -> None:
    url = local.url
    spec = {
        "name": "cli-file",
        "source": {"instance_id": local.src, "topic_regex": "^cli-file-.*"},
        "target": {"instance_id": local.dst, "topic_prefix": "copy"},
        "options": {"task_max": 2},
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    a = as_json(ksync(url, "task", "create", "--file", str(path), "-o", "json"))
    assert (a["name"], a["source"]["topic_regex"], a["target"]["topic_prefix"], a["options"]["task_max"]) == (
        "cli-file", "^cli-file-.*", "copy", 2
    )
    # From stdin, with flags overriding the file.
    tuned = {**spec, "options": {"task_max": 2, "compression": "gzip", "batch_bytes": 200_000}}
    b = as_json(ksync(url, "task", "create", "-f", "-", "--name", "cli-file-2", "--task-max", "1",
                      "--no-keep-partition", "--no-sync-configs", "--compression", "zstd", "--linger-ms", "40",
                      "--fetch-max-bytes", "8388608", "-o", "json", stdin=json.dumps(tuned)))
    assert (b["name"], b["options"]["task_max"], b["options"]["sync_topic_configs"], b["target"]["keep_partition"]) == (
        "cli-file-2", 1, False, False
    )
    # Client tuning from flags over the file's, and the file's where no flag is given.
    assert {k: b["options"][k] for k in ("compression", "linger_ms", "batch_bytes", "fetch_max_bytes")} == {
        "compression": "zstd", "linger_ms": 40, "batch_bytes": 200_000, "fetch_max_bytes": 8_388_608
    }

    # The name is taken: 409, exit 1, the API's message.
    err = fails(ksync(url, "task", "create", "--file", str(path)), 1)
    assert "409 conflict" in err and "cli-file" in err, err
    # An instance that a task uses cannot be removed.
    err = fails(ksync(url, "instance", "rm", local.src), 1)
    assert "409" in err and a["id"] in err, err

    for task in (a, b):
        assert ok(ksync(url, "task", "rm", task["id"])) == f"{task['id']}: delete requested; status now Terminating\n"


def test_not_found_exits_4(local: LocalApi) -> None:
    cases = [
        ("task", "show", UNKNOWN_TASK),
        ("task", "pause", UNKNOWN_TASK),
        ("task", "start", UNKNOWN_TASK),
        ("task", "restart", UNKNOWN_TASK),
        ("task", "rm", UNKNOWN_TASK),
        ("task", "watch", UNKNOWN_TASK, "--count", "1"),
        ("instance", "show", UNKNOWN_INSTANCE),
        ("instance", "topics", UNKNOWN_INSTANCE),
        ("instance", "rm", UNKNOWN_INSTANCE),
    ]
    for args in cases:
        err = fails(ksync(local.url, *args), 4)
        assert err.startswith("error: ") and args[2] in err, (args, err)


def test_bad_input_exits_1_naming_the_field(local: LocalApi) -> None:
    base = ("task", "create", "--name", "cli-bad", "--source", local.src, "--target", local.dst)
    cases = [
        ((*base, "--topic", "bad name!"), "source.topics"),
        ((*base, "--topic", "t", "--task-max", "100"), "options.task_max"),
        ((*base, "--topic", "t", "--linger-ms", "60000"), "options.linger_ms"),
        ((*base, "--topic", "t", "--batch-bytes", "10"), "options.batch_bytes"),
        ((*base, "--topic-regex", "(unclosed"), "topic_regex"),
        ((*base, "--topic", "t", "--prefix", "no spaces"), "target.topic_prefix"),
        (base, "source"),  # empty selection
        (("task", "create", "--name", "cli-bad", "--source", UNKNOWN_INSTANCE, "--target", local.dst, "--topic", "t"),
         "source.instance_id"),
        (("instance", "add", "x", "-b", "no-port-here"), "bootstrap_servers"),
        (("instance", "add", "x", "-b", "127.0.0.1:9092", "--security-protocol", "SASL_PLAINTEXT"),
         "sasl_mechanism"),
    ]
    for args, field in cases:
        err = fails(ksync(local.url, *args), 1)
        assert err.startswith("error: 422 invalid_request: ") and field in err, (args, err)
    assert "cli-bad" not in ok(ksync(local.url, "task", "list"))


def test_usage_errors_exit_2(local: LocalApi) -> None:
    cases = [
        ("task", "create", "--topic", "t"),  # no --name, --source, --target
        ("task", "create", "--name", "n", "--source", local.src, "--target", local.dst, "--topic", "t",
         "--start", "yesterday"),
        ("task", "create", "--name", "n", "--source", local.src, "--target", local.dst, "--topic", "t",
         "--start", "timestamp"),  # without --timestamp-ms
        ("task", "create", "--file", "/nonexistent/spec.json"),
        ("task", "list", "--output", "xml"),
        ("task", "watch", "task-x", "--interval", "0"),
        ("task", "show"),
        ("task", "frobnicate"),
        ("instance", "add", "x"),  # no --bootstrap-servers
        ("instance", "list", "--api-url", "localhost:8080"),
    ]
    for args in cases:
        result = ksync(local.url, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert "n" not in {t["name"] for t in as_json(ksync(local.url, "task", "list", "-o", "json"))["tasks"]}
    # The codes are documented in the help.
    for group in ("instance", "task"):
        assert "Exit codes" in ok(ksync(local.url, group, "--help"))


def test_unreachable_server_exits_3() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for args in (("instance", "list"), ("task", "show", "task-x"), ("task", "watch", "task-x", "--count", "1")):
        err = fails(ksync(dead, *args), 3)
        assert f"cannot reach the ksync server at {dead}: connection refused" in err, err
    # --api-url wins over the environment.
    err = fails(ksync("http://127.0.0.1:1", "task", "list", "--api-url", dead), 3)
    assert dead in err


def test_the_ksync_command_runs_as_a_process() -> None:
    """The entry point itself: `python -m ksync`, its environment and its exit code."""
    dead = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KSYNC_")}
    env["KSYNC_API_URL"] = dead
    result = subprocess.run(
        [sys.executable, "-m", "ksync", "task", "list"],
        check=False, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout == ""
    assert f"cannot reach the ksync server at {dead}: connection refused" in result.stderr


def test_api_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "cli-test-secret-0123456789"
    keys = KeyRing([ApiKey("AKIDcli", secret)])
    caplog.set_level(logging.DEBUG)
    with app_on_store(tmp_path, keys) as app, serving(app) as url:
        for result in (ksync(url, "instance", "list"), ksync(url, "task", "list", key="wrong-key-123")):
            err = fails(result, 1)
            assert "401 unauthorized" in err and "API key" in err, err
            assert secret not in err
        assert "give --api-key or set KSYNC_API_KEY" in fails(ksync(url, "task", "list"), 1)
        assert ok(ksync(url, "instance", "list", "--api-key", secret)) == "no instances\n"
        assert ok(ksync(url, "task", "list", key=secret)) == "no tasks\n"
        assert as_json(ksync(url, "task", "list", "-o", "json", key=secret)) == {"tasks": []}
        # A wrong key on the command line wins over a right one in the environment.
        fails(ksync(url, "task", "list", "--api-key", "wrong-key-123", key=secret), 1)
    assert caplog.records and secret not in caplog.text


def test_task_create_with_topic_map(local: LocalApi) -> None:
    base = ("task", "create", "--source", local.src, "--target", local.dst,
            "--topic", "cli-orders", "--topic", "cli-eu", "--topic", "cli-us")
    maps = ("--map", "cli-orders=cli-orders-bak", "--map", "cli-eu=cli-all", "--map", "cli-us = cli-all")
    # A merge under keep_partition: the API's 422 names the field and says why.
    err = fails(ksync(local.url, *base, "--name", "cli-map-bad", *maps), 1)
    assert err.startswith("error: 422 invalid_request: target.topic_map: ") and "cannot keep their numbers" in err, err
    task = as_json(ksync(local.url, *base, "--name", "cli-map", *maps, "--no-keep-partition", "-o", "json"))
    assert task["target"]["topic_map"] == {"cli-orders": "cli-orders-bak", "cli-eu": "cli-all", "cli-us": "cli-all"}
    shown = ok(ksync(local.url, "task", "show", task["id"]))
    assert "topic map:" in shown and "cli-orders -> cli-orders-bak, cli-eu -> cli-all, cli-us -> cli-all" in shown, shown
    usage = fails(ksync(local.url, *base, "--name", "cli-map-usage", "--map", "cli-orders"), 2)
    assert "'cli-orders' is not SOURCE=TARGET" in usage, usage
    assert ok(ksync(local.url, "task", "rm", task["id"])).startswith(f"{task['id']}: delete requested")


def test_task_create_sets_the_mode_and_acl_sync_and_show_says_what_is_copied(local: LocalApi) -> None:
    base = ("task", "create", "--source", local.src, "--target", local.dst, "--topic", "cli-meta")
    task = as_json(ksync(local.url, *base, "--name", "cli-meta", "--mode", "metadata", "--sync-acls", "-o", "json"))
    assert task["options"]["mode"] == "metadata" and task["options"]["sync_topic_acls"] is True
    assert task["copies_records"] is False
    shown = ok(ksync(local.url, "task", "show", task["id"]))
    assert "topics only (mode metadata: no record is copied)" in shown, shown
    assert "mode metadata" in shown and "sync topic acls yes" in shown, shown
    plain = as_json(ksync(local.url, *base, "--name", "cli-data", "-o", "json"))
    assert (plain["options"]["mode"], plain["options"]["sync_topic_acls"]) == ("data", False)
    assert "records and topics" in ok(ksync(local.url, "task", "show", plain["id"]))
    usage = fails(ksync(local.url, *base, "--name", "cli-mode-bad", "--mode", "everything"), 2)
    assert "everything" in usage and "metadata" in usage, usage
    for t in (task, plain):
        assert ok(ksync(local.url, "task", "rm", t["id"])).startswith(f"{t['id']}: delete requested")
